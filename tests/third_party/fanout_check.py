"""A hand check of the fan-out fixtures that does not use wsprobe: Python's
`websockets` opens N clients (`?device=dev-K`), client m publishes round m
(one broadcast, or one `send` per other client), then it prints one JSON
object: who received which round, the groups that hear each other, and the
cross-talk / missing counts as wsprobe should report them.

Usage: fanout_check.py ws://127.0.0.1:PORT broadcast|unicast [N] [--audience others]
"""
import asyncio
import json
import sys
import uuid

import websockets


async def main(base: str, mode: str, n: int, others: bool) -> None:
    clients = [await websockets.connect(f"{base}/ws?device=dev-{k}") for k in range(n)]
    got = {k: [] for k in range(n)}  # client -> nonces received
    intended = {}  # nonce -> set of intended receivers
    publisher = {}  # nonce -> publisher

    async def reader(k, ws):
        try:
            async for text in ws:
                got[k].append(json.loads(text)["data"])
        except websockets.ConnectionClosed:
            pass

    readers = [asyncio.create_task(reader(k, ws)) for k, ws in enumerate(clients)]
    await asyncio.sleep(0.2)
    for m in range(n):
        pub = clients[m]
        if mode == "broadcast":
            nonce = uuid.uuid4().hex
            publisher[nonce] = m
            intended[nonce] = {k for k in range(n) if not (others and k == m)}
            await pub.send(json.dumps({"type": "broadcast", "data": nonce}))
        else:
            for to in range(n):
                if to == m:
                    continue
                nonce = uuid.uuid4().hex
                publisher[nonce] = m
                intended[nonce] = {to}
                await pub.send(json.dumps({"type": "send", "to": f"dev-{to}", "data": nonce}))
    await asyncio.sleep(1.0)
    for ws in clients:
        await ws.close()
    await asyncio.gather(*readers)

    delivered = missing = cross = echoes = dups = 0
    hears = {k: set() for k in range(n)}
    for nonce, want in intended.items():
        for k in range(n):
            c = got[k].count(nonce)
            if c:
                hears[k].add(publisher[nonce])
            if k in want:
                delivered += min(c, 1)
                dups += max(c - 1, 0)
                missing += c == 0
            elif others and mode == "broadcast" and k == publisher[nonce]:
                echoes += c
            else:
                cross += c
    groups = sorted({tuple(sorted(h | {k})) for k, h in hears.items()})
    print(json.dumps({
        "expected": sum(len(w) for w in intended.values()),
        "delivered": delivered, "missing": missing, "duplicates": dups,
        "cross_talk": cross, "echoes": echoes, "groups": [list(g) for g in groups],
    }))


args = [a for a in sys.argv[1:] if a not in ("--audience", "others")]
asyncio.run(main(args[0], args[1], int(args[2]) if len(args) > 2 else 10, "others" in sys.argv))
