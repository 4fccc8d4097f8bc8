"""A client that is not wsprobe: Python's `websockets` package against
`wsprobe serve`. Prints one JSON line with what it saw; the Rust test
(tests/third_party.rs) asserts on it.

Usage: python_client.py ws://127.0.0.1:PORT
"""
import asyncio
import json
import sys

import websockets
from websockets.exceptions import InvalidStatus


async def main(base: str) -> None:
    seen = {}
    async with websockets.connect(f"{base}/ws?device=py-1") as first:
        await first.send("hello from python")
        seen["echo"] = await first.recv()
        await first.send(json.dumps({"type": "ping"}))
        seen["json_ping"] = json.loads(await first.recv())
        try:
            async with websockets.connect(f"{base}/ws?device=py-1"):
                seen["duplicate"] = "accepted"
        except InvalidStatus as e:
            seen["duplicate"] = e.response.status_code
            seen["duplicate_body"] = e.response.body.decode(errors="replace")
        async with websockets.connect(f"{base}/ws?device=py-2") as second:
            await first.send(json.dumps({"type": "send", "to": "py-2", "data": "routed"}))
            seen["routed"] = json.loads(await second.recv())
        await first.close()
        seen["close_code"] = first.close_code
    async with websockets.connect(f"{base}/ws?device=py-1") as again:
        seen["reconnect"] = "accepted"
    print(json.dumps(seen))


asyncio.run(main(sys.argv[1]))
