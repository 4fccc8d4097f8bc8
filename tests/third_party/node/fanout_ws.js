// A broadcast hub on Node's `ws` (8.x), written the way its README shows:
// every text message {"type":"broadcast","data":X} goes to every client in
// wss.clients, the sender included; {"type":"send","to":ID,"data":X} goes
// to the client whose ?device= is ID. Delivered as
// {"type":"message","from":SENDER,"data":X}.
//
// Listens on 127.0.0.1:0 and prints one line once listening:
//   READY ws://127.0.0.1:PORT pid=PID
// Truth side channel: with FANOUT_TRUTH=/path, one JSON line per event
// ({"pid","event":"open"|"close"|"send"|"broadcast","device",...}), as
// tests/third_party/fanout_router.py writes them.
//
// Usage: node fanout_ws.js     (stop it with SIGTERM or SIGKILL)
'use strict';
const fs = require('fs');
const { WebSocketServer, WebSocket } = require('ws');

const truthFd = process.env.FANOUT_TRUTH ? fs.openSync(process.env.FANOUT_TRUTH, 'a') : null;
function truth(event, fields) {
  if (truthFd === null) return;
  fs.writeSync(truthFd, JSON.stringify({ pid: process.pid, event, ...fields }) + '\n');
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });

wss.on('connection', (ws, req) => {
  const device = new URL(req.url, 'http://localhost').searchParams.get('device') || '';
  ws.device = device;
  truth('open', { device });
  ws.on('message', (raw, isBinary) => {
    if (isBinary) return;
    let msg;
    try {
      msg = JSON.parse(raw.toString());
    } catch {
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    const out = JSON.stringify({ type: 'message', from: device, data: msg.data });
    const reached = [];
    for (const client of wss.clients) {
      if (client.readyState !== WebSocket.OPEN) continue;
      if (msg.type === 'broadcast' || (msg.type === 'send' && client.device === String(msg.to))) {
        client.send(out);
        reached.push(client.device);
      }
    }
    if (msg.type === 'broadcast') truth('broadcast', { device, recipients: reached });
    if (msg.type === 'send') truth('send', { device, to: String(msg.to), recipients: reached });
  });
  ws.on('close', () => truth('close', { device }));
});

wss.on('listening', () => {
  console.log(`READY ws://127.0.0.1:${wss.address().port} pid=${process.pid}`);
});

process.on('SIGTERM', () => process.exit(0));
