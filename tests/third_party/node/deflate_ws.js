// An echo server with permessage-deflate on, that is not wsprobe's: Node
// `ws` configured to compress every message (threshold 0), reset its
// window per message (server_no_context_takeover), ask the client to do
// the same (client_no_context_takeover) and use a 2^10 window
// (server_max_window_bits=10). Prints `READY ws://127.0.0.1:PORT pid=PID`
// once it listens, then echoes until killed.
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: {
    threshold: 0,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 10,
  },
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

wss.on('listening', () => {
  console.log(`READY ws://127.0.0.1:${wss.address().port} pid=${process.pid}`);
});
