"""Plain WebSocket servers on Python `websockets` (not wsprobe's), each a
stack people deploy, to judge wsprobe's diagnosis against:

    echo                echoes every message and does nothing else: no
                        routing, no identities (a check that claims routing
                        must fail against it)
    origin ORIGIN       websockets' own Origin check (`origins=[ORIGIN]`):
                        a request without that Origin gets its 403
                        ("Failed to open a WebSocket connection: missing
                        Origin header."); then echoes
    token TOKEN         process_request refuses a request without
                        `Authorization: Bearer TOKEN` with 401 "missing or
                        wrong bearer token"; then echoes

Binds 127.0.0.1 on a port the kernel picks and prints one readiness line:

    READY ws://127.0.0.1:PORT pid=PID

With FANOUT_TRUTH=/path each accepted upgrade appends one JSON line,
{"pid":P,"event":"open","path":"/ws?...","headers":{...}} (header names in
lower case), and each ended connection one more, {"event":"close",
"code":C,"reason":R,"client_first":B}: the close frame the client sent
(code null when none came) and whether it came before the server's own,
so a test learns what really arrived. Serves until killed.
"""
import asyncio
import http
import json
import os
import sys

from websockets.asyncio.server import serve

TRUTH = os.environ.get("FANOUT_TRUTH")


def truth(**fields) -> None:
    if not TRUTH:
        return
    line = json.dumps({"pid": os.getpid(), **fields}) + "\n"
    fd = os.open(TRUTH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


async def echo(ws):
    request = ws.request
    headers = {name.lower(): value for name, value in request.headers.raw_items()}
    truth(event="open", path=request.path, headers=headers)
    try:
        async for message in ws:
            await ws.send(message)
    finally:
        await ws.wait_closed()
        rcvd = ws.protocol.close_rcvd
        truth(
            event="close",
            code=rcvd.code if rcvd else None,
            reason=rcvd.reason if rcvd else None,
            client_first=bool(ws.protocol.close_rcvd_then_sent),
        )


def token_check(token):
    def process_request(connection, request):
        if request.headers.get("Authorization") != f"Bearer {token}":
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token\n")
        return None

    return process_request


async def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "echo"
    options = {}
    if mode == "origin":
        options["origins"] = [sys.argv[2]]
    elif mode == "token":
        options["process_request"] = token_check(sys.argv[2])
    elif mode != "echo":
        sys.exit(f"plain_server.py: unknown mode {mode!r}: echo, origin ORIGIN or token TOKEN")
    async with serve(echo, "127.0.0.1", 0, **options) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY ws://127.0.0.1:{port} pid={os.getpid()}", flush=True)
        await asyncio.Future()


asyncio.run(main())
