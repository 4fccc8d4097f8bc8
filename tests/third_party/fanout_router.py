"""A device router on FastAPI + uvicorn, as real apps write it: a
connection-manager dict in process memory, keyed by device id.

    WebSocket /ws?device=ID
    {"type":"send","to":ID,"data":X}   -> {"type":"message","from":SENDER,"data":X} to device ID only
    {"type":"broadcast","data":X}      -> the same message to every connection in THIS process's manager

Two real bugs it reproduces:
- `--mode spam` (the router before its fix): a `send` goes to every
  connected device, the sender included ("message spam").
- `--workers 2`: uvicorn's own multi-worker supervisor (what `uvicorn
  --workers 2` runs), each worker with its own manager, so a broadcast
  reaches only the clients of the publisher's worker. The workers share one
  listening socket, and a burst of connects tends to land on one of them
  (asyncio drains the whole accept queue in whichever worker wakes first).
  `--reuse-port` gives each worker its own SO_REUSEPORT socket instead: the
  kernel spreads connections by a hash, like pods behind a load balancer.

The launcher binds 127.0.0.1:0 itself (no port race) and hands the socket
to uvicorn, then prints one readiness line on stdout once every worker
serves:

    READY ws://127.0.0.1:PORT workers=K pids=P1,P2

Truth side channel (so a test learns who shared a worker without asking
wsprobe): with FANOUT_TRUTH=/path (or --truth PATH) each worker appends one
JSON line per event, each written with a single O_APPEND write:

    {"pid":P,"event":"ready"}
    {"pid":P,"device":D,"event":"open"}            after accept + registration
    {"pid":P,"device":D,"event":"close"}
    {"pid":P,"device":D,"event":"send","to":T,"recipients":[...]}
    {"pid":P,"device":D,"event":"broadcast","recipients":[...]}

Usage:
    python3 fanout_router.py [--workers K [--reuse-port]] [--mode correct|spam] [--truth PATH]
Environment: ROUTER_MODE, FANOUT_TRUTH (flags win). Stop it with SIGTERM
(workers exit with the supervisor; a worker whose parent dies is killed by
PR_SET_PDEATHSIG).
"""
import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import sys

from fastapi import FastAPI, WebSocket

MODE = os.environ.get("ROUTER_MODE", "correct")
TRUTH = os.environ.get("FANOUT_TRUTH")
_truth_fd = None


def truth(event: str, **fields) -> None:
    global _truth_fd
    if not TRUTH:
        return
    if _truth_fd is None:
        _truth_fd = os.open(TRUTH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    line = json.dumps({"pid": os.getpid(), "event": event, **fields}) + "\n"
    os.write(_truth_fd, line.encode())


def die_with_parent() -> None:
    """A worker must not outlive the launcher (a test may SIGKILL it)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ConnectionManager:
    """The dict every FastAPI WebSocket tutorial grows into."""

    def __init__(self) -> None:
        self.active: dict[str, WebSocket] = {}

    async def deliver(self, targets: list[str], text: str) -> list[str]:
        reached = []
        for device in targets:
            ws = self.active.get(device)
            if ws is None:
                continue
            try:
                await ws.send_text(text)
                reached.append(device)
            except Exception:  # a peer that just left
                pass
        return reached


@contextlib.asynccontextmanager
async def lifespan(_app):
    die_with_parent()
    truth("ready")
    yield


app = FastAPI(lifespan=lifespan)
manager = ConnectionManager()


async def route(sender: str, raw: str) -> None:
    try:
        msg = json.loads(raw)
    except ValueError:
        return
    if not isinstance(msg, dict):
        return
    out = json.dumps({"type": "message", "from": sender, "data": msg.get("data")})
    if msg.get("type") == "send":
        to = str(msg.get("to"))
        # The bug: before the fix the router "sent" to everyone it knew.
        targets = list(manager.active) if MODE == "spam" else [to]
        reached = await manager.deliver(targets, out)
        truth("send", device=sender, to=to, recipients=reached)
    elif msg.get("type") == "broadcast":
        reached = await manager.deliver(list(manager.active), out)
        truth("broadcast", device=sender, recipients=reached)


@app.websocket("/ws")
async def ws_endpoint(websocket: WebSocket, device: str | None = None):
    if not device:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    manager.active[device] = websocket
    truth("open", device=device)
    try:
        while True:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                break
            if event.get("text") is not None:
                await route(device, event["text"])
    finally:
        if manager.active.get(device) is websocket:
            del manager.active[device]
        truth("close", device=device)


def listening_sockets(count: int, reuse_port: bool) -> list[socket.socket]:
    """One socket on 127.0.0.1:0 (shared by every worker, as uvicorn binds
    it), or with reuse_port one SO_REUSEPORT socket per worker on the same
    port, among which the kernel spreads connections by a hash of the
    4-tuple (like pods behind a load balancer)."""
    socks = []
    port = 0
    for _ in range(count if reuse_port else 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(2048)
        sock.set_inheritable(True)
        port = sock.getsockname()[1]
        socks.append(sock)
    return socks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--reuse-port", action="store_true", help="a SO_REUSEPORT socket per worker")
    parser.add_argument("--mode", choices=["correct", "spam"], default=MODE)
    parser.add_argument("--truth", default=TRUTH)
    args = parser.parse_args()
    # Workers are spawned (not forked) and read their settings from the env.
    os.environ["ROUTER_MODE"] = args.mode
    if args.truth:
        os.environ["FANOUT_TRUTH"] = os.path.abspath(args.truth)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

    import uvicorn
    from uvicorn.supervisors.multiprocess import Multiprocess, Process

    socks = listening_sockets(args.workers, args.reuse_port)
    port = socks[0].getsockname()[1]
    config = uvicorn.Config(
        "fanout_router:app",
        workers=args.workers,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )

    def ready(pids: list[int]) -> None:
        pid_list = ",".join(str(p) for p in pids)
        print(f"READY ws://127.0.0.1:{port} workers={args.workers} pids={pid_list}", flush=True)

    if args.workers == 1:

        class ReadyServer(uvicorn.Server):
            async def startup(self, sockets=None):
                await super().startup(sockets)
                if self.started:
                    ready([os.getpid()])

        ReadyServer(config).run(sockets=socks)
        return

    class ReadyMultiprocess(Multiprocess):
        """uvicorn's supervisor; the readiness line once every worker serves."""

        def init_processes(self) -> None:
            if args.reuse_port:  # worker k serves socket k only
                for sock in self.sockets:
                    process = Process(self.config, [sock])
                    process.start()
                    self.processes.append(process)
            else:
                super().init_processes()
            for process in self.processes:
                if not process.wait_until_ready(30, self.should_exit):
                    print(f"worker {process.pid} did not start", file=sys.stderr, flush=True)
                    sys.exit(3)
            ready([p.pid for p in self.processes])

    ReadyMultiprocess(config, sockets=socks).run()


if __name__ == "__main__":
    main()
