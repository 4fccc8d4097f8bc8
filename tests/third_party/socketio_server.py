"""A Socket.IO server on python-socketio (ASGI) under uvicorn, with short
Engine.IO heartbeats: pingInterval 1 s, pingTimeout 1 s. A client that
does not answer the server's `2` with `3` is dropped about 2 s after the
open packet (python-socketio closes the WebSocket with code 1000).

    path /socket.io/?EIO=4&transport=websocket (the default)
    connect with auth {"token":"reject"}  -> refused: 44{"message":"unauthorized"}
    event "echo"       -> the same payload back as "echo" (and as the ack)
    event "broadcast"  -> "message" to every connected client

Binds 127.0.0.1:0 itself and prints, once uvicorn serves:

    READY ws://127.0.0.1:PORT pid=PID

Truth side channel: with FANOUT_TRUTH=/path, one JSON line per event:
{"pid","event":"connect"|"refused"|"disconnect","sid",("reason")}.

Usage: python3 socketio_server.py [--ping-interval S] [--ping-timeout S]
"""
import argparse
import json
import os
import socket

import socketio
import uvicorn

TRUTH = os.environ.get("FANOUT_TRUTH")


def truth(event: str, **fields) -> None:
    if TRUTH:
        with open(TRUTH, "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "event": event, **fields}) + "\n")


def build(ping_interval: float, ping_timeout: float) -> socketio.ASGIApp:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        cors_allowed_origins="*",
    )

    @sio.event
    async def connect(sid, environ, auth):
        if isinstance(auth, dict) and auth.get("token") == "reject":
            truth("refused", sid=sid)
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        truth("connect", sid=sid)

    @sio.event
    async def disconnect(sid, reason=None):
        truth("disconnect", sid=sid, reason=str(reason))

    @sio.event
    async def echo(sid, data):
        await sio.emit("echo", data, to=sid)
        return data

    @sio.event
    async def broadcast(sid, data):
        await sio.emit("message", data)

    return socketio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ping-interval", type=float, default=1.0)
    parser.add_argument("--ping-timeout", type=float, default=1.0)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        build(args.ping_interval, args.ping_timeout), log_level="warning", access_log=False, lifespan="off"
    )

    class ReadyServer(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started:
                print(f"READY ws://127.0.0.1:{port} pid={os.getpid()}", flush=True)

    ReadyServer(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
