"""A hand check of the application-protocol peers with a raw WebSocket
client (Python `websockets`, no Socket.IO or GraphQL library): what each
stack does to a client that does not speak its heartbeat, and how it
refuses. Prints one JSON object per check.

Usage:
    protocol_check.py socketio ws://127.0.0.1:PORT
    protocol_check.py graphql-ws ws://127.0.0.1:PORT/graphql
"""
import asyncio
import json
import sys
import time

import websockets


def close_of(ws, t0):
    rcvd = ws.protocol.close_rcvd
    return {
        "close_code": rcvd.code if rcvd else 1006,
        "close_reason": rcvd.reason if rcvd else "",
        "close_frame": rcvd is not None,
        "after_s": round(time.monotonic() - t0, 2),
    }


async def read_all(ws, seen, t0, answer=None):
    try:
        async for msg in ws:
            seen.append([round(time.monotonic() - t0, 2), msg])
            if answer:
                reply = answer(msg)
                if reply is not None:
                    await ws.send(reply)
    except websockets.ConnectionClosed:
        pass


async def socketio_silent(base):
    """Engine.IO open, Socket.IO connect, then never answer `2`."""
    url = f"{base}/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, ping_interval=None) as ws:
        t0 = time.monotonic()
        seen = []
        opened = json.loads((await ws.recv())[1:])
        await ws.send("40")
        await asyncio.wait_for(read_all(ws, seen, t0), 10)
        return {"check": "socketio no pong", "open": opened, "seen": seen, **close_of(ws, t0)}


async def socketio_answering(base, hold=4.0):
    """The same, answering every `2` with `3`: must still be open after `hold`."""
    url = f"{base}/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, ping_interval=None) as ws:
        t0 = time.monotonic()
        seen = []
        await ws.recv()
        await ws.send("40")
        task = asyncio.create_task(read_all(ws, seen, t0, lambda m: "3" if m == "2" else None))
        await asyncio.sleep(hold)
        alive = not task.done()
        await ws.send('42["echo",{"x":1}]')
        await asyncio.sleep(0.2)
        await ws.close()
        await task
        return {"check": "socketio answers pings", "alive_after_s": hold if alive else None, "seen": seen[-4:]}


async def socketio_refused(base):
    url = f"{base}/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, ping_interval=None) as ws:
        t0 = time.monotonic()
        await ws.recv()
        await ws.send('40{"token":"reject"}')
        reply = await ws.recv()
        seen = []
        # The refusal ends the Socket.IO session, not the Engine.IO one: the
        # server keeps pinging until the client closes (as the JS client does).
        task = asyncio.create_task(read_all(ws, seen, t0, lambda m: "3" if m == "2" else None))
        await asyncio.wait([task], timeout=3.5)
        out = {"check": "socketio refused", "reply": reply, "then": seen, "open_after_3_5_s": not task.done()}
        if task.done():
            out.update(close_of(ws, t0))
        else:
            await ws.close()
            await task
        return out


async def graphql_silent(url):
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], ping_interval=None) as ws:
        t0 = time.monotonic()
        seen = []
        await asyncio.wait_for(read_all(ws, seen, t0), 10)
        return {"check": "graphql-ws no connection_init", "subprotocol": ws.subprotocol, "seen": seen,
                **close_of(ws, t0)}


async def graphql_session(url):
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], ping_interval=None) as ws:
        out = {"check": "graphql-ws session"}
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        out["init"] = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "ping"}))
        out["ping"] = json.loads(await ws.recv())
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ hello }"}}))
        out["query"] = [json.loads(await ws.recv()) for _ in range(2)]
        await ws.send(json.dumps({"id": "2", "type": "subscribe",
                                  "payload": {"query": "subscription { ticks(n: 3) }"}}))
        out["subscription"] = [json.loads(await ws.recv()) for _ in range(4)]
        await asyncio.sleep(3.5)  # after the init deadline: still open
        await ws.send(json.dumps({"type": "ping"}))
        out["ping_after_3_5_s"] = json.loads(await ws.recv())
        return out


async def graphql_refused(url):
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], ping_interval=None) as ws:
        t0 = time.monotonic()
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": "reject"}}))
        seen = []
        await asyncio.wait_for(read_all(ws, seen, t0), 10)
        return {"check": "graphql-ws refused", "seen": seen, **close_of(ws, t0)}


async def main(kind, url):
    checks = {
        "socketio": [socketio_silent, socketio_answering, socketio_refused],
        "graphql-ws": [graphql_silent, graphql_session, graphql_refused],
    }[kind]
    for result in await asyncio.gather(*(c(url) for c in checks)):
        print(json.dumps(result))


asyncio.run(main(sys.argv[1], sys.argv[2].rstrip("/")))
