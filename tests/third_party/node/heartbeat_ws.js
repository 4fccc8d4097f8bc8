// Node's `ws` (8.x) with the heartbeat its README shows under "How to detect
// and close broken connections": every INTERVAL_MS each client that has
// not answered the previous ping is terminated (TCP destroyed, no close
// frame: the client sees 1006), and the others are pinged again. Echoes
// messages.
//
// Listens on 127.0.0.1:0 and prints one line once listening:
//   READY ws://127.0.0.1:PORT pid=PID
//
// Usage: node heartbeat_ws.js INTERVAL_MS     (stop it with SIGKILL)
'use strict';
const { WebSocketServer } = require('ws');

const interval = Number(process.argv[2] || 30000);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });

wss.on('connection', (ws) => {
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const beat = setInterval(() => {
  for (const ws of wss.clients) {
    if (ws.isAlive === false) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, interval);
wss.on('close', () => clearInterval(beat));

wss.on('listening', () => {
  console.log(`READY ws://127.0.0.1:${wss.address().port} pid=${process.pid}`);
});
