"""An echo server with permessage-deflate on, that is not wsprobe's:
Python `websockets` with its default compression settings (it answers a
client's offer with server_max_window_bits=12 and, when the client offers
client_max_window_bits, client_max_window_bits=12), or with
--no-context-takeover both sides reset their window per message. Every
message is echoed (websockets compresses every message it sends).

Prints `READY ws://127.0.0.1:PORT` once it serves, then serves until killed.

Usage: deflate_echo.py [--no-context-takeover]
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    options = {}
    if "--no-context-takeover" in sys.argv:
        factory = ServerPerMessageDeflateFactory(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=10,
            compress_settings={"memLevel": 5},
        )
        options = {"compression": None, "extensions": [factory]}
    async with serve(echo, "127.0.0.1", 0, **options) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY ws://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
