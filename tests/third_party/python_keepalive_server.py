"""Python `websockets` with its own keepalive: a ping every PING_INTERVAL
seconds, and when no pong comes within PING_TIMEOUT it closes with 1011
"keepalive ping timeout" (websockets' own words). Echoes messages. Prints
`READY ws://127.0.0.1:PORT pid=PID`, then serves until killed.

Usage: python_keepalive_server.py PING_INTERVAL PING_TIMEOUT
"""
import asyncio
import os
import sys

from websockets.asyncio.server import serve

PING_INTERVAL = float(sys.argv[1])
PING_TIMEOUT = float(sys.argv[2])


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY ws://127.0.0.1:{port} pid={os.getpid()}", flush=True)
        await asyncio.Future()


asyncio.run(main())
