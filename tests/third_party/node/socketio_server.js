// A Socket.IO server on Node's socket.io (4.x), with short Engine.IO
// heartbeats: pingInterval 1000 ms, pingTimeout 1000 ms. A client that does
// not answer the server's `2` with `3` is dropped about 2 s after the open
// packet (socket.io ends the WebSocket with a Close frame without a code:
// the client sees 1005).
//
//   path /socket.io/?EIO=4&transport=websocket (the default)
//   connect with auth {"token":"reject"}  -> refused: 44{"message":"unauthorized"}
//   event "echo"       -> the same payload back as "echo" (and as the ack)
//   event "broadcast"  -> "message" to every connected client
//
// Listens on 127.0.0.1:0 and prints one line once listening:
//   READY ws://127.0.0.1:PORT pid=PID
// Truth side channel: with FANOUT_TRUTH=/path, one JSON line per event:
// {"pid","event":"connect"|"refused"|"disconnect","sid",("reason")}.
//
// Usage: node socketio_server.js [PING_INTERVAL_MS PING_TIMEOUT_MS]
'use strict';
const fs = require('fs');
const http = require('http');
const { Server } = require('socket.io');

const [pingInterval = 1000, pingTimeout = 1000] = process.argv.slice(2).map(Number);
const truthFd = process.env.FANOUT_TRUTH ? fs.openSync(process.env.FANOUT_TRUTH, 'a') : null;
function truth(event, fields) {
  if (truthFd !== null) fs.writeSync(truthFd, JSON.stringify({ pid: process.pid, event, ...fields }) + '\n');
}

const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval, pingTimeout, cors: { origin: '*' } });

io.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === 'reject') {
    truth('refused', { sid: socket.id });
    return next(new Error('unauthorized'));
  }
  next();
});

io.on('connection', (socket) => {
  truth('connect', { sid: socket.id });
  socket.on('echo', (data, ack) => {
    socket.emit('echo', data);
    if (typeof ack === 'function') ack(data);
  });
  socket.on('broadcast', (data) => io.emit('message', data));
  socket.on('disconnect', (reason) => truth('disconnect', { sid: socket.id, reason }));
});

httpServer.listen(0, '127.0.0.1', () => {
  console.log(`READY ws://127.0.0.1:${httpServer.address().port} pid=${process.pid}`);
});

process.on('SIGTERM', () => process.exit(0));
