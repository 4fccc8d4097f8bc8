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
    slow-echo MS        echoes every message MS milliseconds after it
                        arrived, in order, without holding up the ones
                        behind it (a server with a fixed processing delay,
                        so echoes are in flight when a client stops)
    silent              reads every message and answers none

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


DELAY = None  # seconds, for slow-echo
SILENT = False


async def answer(ws):
    if SILENT:
        async for _ in ws:
            pass
    elif DELAY is None:
        async for message in ws:
            await ws.send(message)
    else:
        # The reader queues each message with its due time; the sender
        # sends each when due, so the delay is per message, not cumulative.
        due = asyncio.Queue()

        async def sender():
            loop = asyncio.get_running_loop()
            while True:
                at, message = await due.get()
                await asyncio.sleep(max(0.0, at - loop.time()))
                await ws.send(message)

        task = asyncio.create_task(sender())
        try:
            async for message in ws:
                due.put_nowait((asyncio.get_running_loop().time() + DELAY, message))
        finally:
            task.cancel()


async def echo(ws):
    request = ws.request
    headers = {name.lower(): value for name, value in request.headers.raw_items()}
    truth(event="open", path=request.path, headers=headers)
    try:
        await answer(ws)
    except Exception:  # the client went away mid-send: its close is recorded below
        pass
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
    global DELAY, SILENT
    mode = sys.argv[1] if len(sys.argv) > 1 else "echo"
    options = {}
    if mode == "origin":
        options["origins"] = [sys.argv[2]]
    elif mode == "token":
        options["process_request"] = token_check(sys.argv[2])
    elif mode == "slow-echo":
        DELAY = float(sys.argv[2]) / 1000.0
    elif mode == "silent":
        SILENT = True
    elif mode != "echo":
        sys.exit(f"plain_server.py: unknown mode {mode!r}: echo, origin ORIGIN, token TOKEN, slow-echo MS or silent")
    async with serve(echo, "127.0.0.1", 0, **options) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY ws://127.0.0.1:{port} pid={os.getpid()}", flush=True)
        await asyncio.Future()


asyncio.run(main())
