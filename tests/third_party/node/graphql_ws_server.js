// A GraphQL over WebSocket server (graphql-transport-ws) on Node's
// graphql-ws (6.x) with `ws`, all defaults: a client that sends no
// `connection_init` within 3 s is closed with 4408 "Connection
// initialisation timeout"; it answers `ping` with `pong`.
//
//   path /graphql, subprotocol graphql-transport-ws
//   connection_init payload {"token":"reject"}  -> closed 4403 "Forbidden"
//   query { hello }                             -> {"data":{"hello":"world"}}
//   subscription { ticks(n: N) }                -> N "next" messages (1..N), then "complete"
//
// Listens on 127.0.0.1:0 and prints one line once listening:
//   READY ws://127.0.0.1:PORT/graphql pid=PID
// Truth side channel: with FANOUT_TRUTH=/path, one JSON line per event:
// {"pid","event":"connect"|"refused"|"disconnect","code","reason"}.
//
// Usage: node graphql_ws_server.js
'use strict';
const fs = require('fs');
const { WebSocketServer } = require('ws');
const { useServer } = require('graphql-ws/use/ws');
const { buildSchema } = require('graphql');

const truthFd = process.env.FANOUT_TRUTH ? fs.openSync(process.env.FANOUT_TRUTH, 'a') : null;
function truth(event, fields) {
  if (truthFd !== null) fs.writeSync(truthFd, JSON.stringify({ pid: process.pid, event, ...fields }) + '\n');
}

const schema = buildSchema(`
  type Query { hello: String }
  type Subscription { ticks(n: Int!): Int }
`);

const roots = {
  query: { hello: () => 'world' },
  subscription: {
    ticks: async function* ticks({ n }) {
      for (let i = 1; i <= n; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        yield { ticks: i };
      }
    },
  },
};

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/graphql' });

useServer(
  {
    schema,
    roots,
    onConnect: (ctx) => {
      if (ctx.connectionParams && ctx.connectionParams.token === 'reject') {
        truth('refused', {});
        return false;
      }
      truth('connect', {});
      return true;
    },
    onClose: (_ctx, code, reason) => truth('disconnect', { code, reason: String(reason) }),
  },
  wss,
);

wss.on('listening', () => {
  console.log(`READY ws://127.0.0.1:${wss.address().port}/graphql pid=${process.pid}`);
});

process.on('SIGTERM', () => process.exit(0));
