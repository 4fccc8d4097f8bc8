"""A WebSocket server that is not wsprobe's, with its own per-IP limiter:
Python `websockets`, whose process_request answers 429 with Retry-After
once LIMIT connections were accepted from an IP within WINDOW seconds.
Echoes messages. Prints its port on the first line, then serves until
killed.

Usage: python_ratelimit_server.py LIMIT WINDOW_SECONDS [--no-retry-after]
"""
import asyncio
import collections
import http
import math
import sys
import time

from websockets.asyncio.server import serve

LIMIT = int(sys.argv[1])
WINDOW = float(sys.argv[2])
RETRY_AFTER = "--no-retry-after" not in sys.argv
accepted = collections.defaultdict(collections.deque)


def process_request(connection, request):
    ip = connection.remote_address[0]
    now = time.monotonic()
    recent = accepted[ip]
    while recent and now - recent[0] >= WINDOW:
        recent.popleft()
    if len(recent) >= LIMIT:
        response = connection.respond(http.HTTPStatus.TOO_MANY_REQUESTS, "rate limited\n")
        if RETRY_AFTER:
            response.headers["Retry-After"] = str(math.ceil(recent[0] + WINDOW - now))
        return response
    recent.append(now)
    return None


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


asyncio.run(main())
