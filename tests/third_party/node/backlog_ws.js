// An echo server on Node's `ws` (8.x) listening with a small accept
// backlog (`server.listen(port, host, backlog)`), so a herd of connects
// overflows the kernel's listen queue: SYNs are dropped and clients
// retransmit them after 1 s and 3 s.
//
// Prints one line once listening:
//   READY ws://127.0.0.1:PORT pid=PID
//
// Usage: node backlog_ws.js BACKLOG     (stop it with SIGTERM or SIGKILL)
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const backlog = Number(process.argv[2] || '511');
const server = http.createServer();
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.listen(0, '127.0.0.1', backlog, () => {
  console.log(`READY ws://127.0.0.1:${server.address().port} pid=${process.pid}`);
});
