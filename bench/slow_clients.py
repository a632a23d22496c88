"""Memory with clients that stop reading: server RSS with non-reading WebSocket and SSE clients.

    .venv/bin/python bench/slow_clients.py [--clients 10] [--seconds 60] [--rate 200]

One daphne process (in-memory layer, embedded bridge tailing our orchestrator's journal); an
orchestrator in this process journals `--rate` tool events a second (2 KB each). Half of the
clients are WebSocket clients that send a pong every 10 s (as a client that answers pings
blindly would) and never read; the other half SSE clients that never read. Their sockets
have a 4 KiB receive buffer, so what they do not read stays in the server. Printed: the
server's RSS over `--seconds`, then 5 s and 15 s after the clients have gone, and how many of
them the server had cut off by then.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import time

from ws_common import INSTANCE, Server, make_repo, setup_django

TOOL_SUMMARY = "x" * 2000


class SilentClient:
    """A raw socket that sends a stream request and then never reads what comes back."""

    def __init__(self, server: Server, *, websocket: bool):
        self.websocket = websocket
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", server.port))
        if websocket:
            key = base64.b64encode(os.urandom(16)).decode()
            request = (f"GET /api/orchestrators/{INSTANCE}/events HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                       f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                       f"Sec-WebSocket-Version: 13\r\n\r\n")
        else:
            request = (f"GET /api/orchestrators/{INSTANCE}/events-sse HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                       f"Accept: text/event-stream\r\n\r\n")
        self.sock.sendall(request.encode())

    def pong(self) -> bool:
        """A masked text frame {"type":"pong"}, written without reading; False once the server cut us off."""
        if not self.websocket:
            return self.alive()
        payload = b'{"type":"pong"}'
        mask = os.urandom(4)
        frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(frame)
            return True
        except OSError:
            return False

    def alive(self) -> bool:
        """Whether the server still holds the connection (a reset or FIN shows up without reading data)."""
        try:
            self.sock.send(b"")
            info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)
            return info[0] == 1  # TCP_ESTABLISHED
        except OSError:
            return False

    def close(self) -> None:
        self.sock.close()


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


async def main(clients: int, seconds: float, rate: float) -> None:
    setup_django()
    from orchestrator.events import EventBus
    from orchestrator.journal import Journal, attach_journal

    root = make_repo(journaled=True)
    bus = EventBus()
    attach_journal(bus, Journal(root / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"), INSTANCE)
    bus.emit("tool_started", INSTANCE, {"tool_id": "t", "tool_name": "Bash", "input_summary": "start"})
    server = Server(root)
    try:
        await asyncio.sleep(1)
        idle = server.rss_kib()
        silent = [SilentClient(server, websocket=i % 2 == 0) for i in range(clients)]
        stop = asyncio.Event()

        async def produce():
            n = 0
            start = time.monotonic()
            while not stop.is_set():
                n += 1
                bus.emit("tool_started", INSTANCE, {"tool_id": f"t{n}", "tool_name": "Bash",
                                                    "input_summary": TOOL_SUMMARY})
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))

        producer = asyncio.ensure_future(produce())
        samples = []
        start = time.monotonic()
        next_pong = start
        while time.monotonic() - start < seconds:
            await asyncio.sleep(1)
            if time.monotonic() >= next_pong:
                for client in silent:
                    client.pong()
                next_pong += 10
            elapsed = time.monotonic() - start
            if not samples or elapsed - samples[-1][0] >= 10:
                samples.append((elapsed, server.rss_kib()))
        stop.set()
        await producer
        peak = max(rss for _, rss in samples)
        held_ws = sum(client.alive() for client in silent if client.websocket)
        held_sse = sum(client.alive() for client in silent if not client.websocket)
        for client in silent:
            client.close()
        await asyncio.sleep(5)
        after_5 = server.rss_kib()
        await asyncio.sleep(10)
        after_15 = server.rss_kib()
    finally:
        server.stop()
    print(f"{clients} clients that never read ({(clients + 1) // 2} WebSocket answering pings, {clients // 2} SSE), "
          f"{rate:.0f} events/s of 2 KB, {seconds:.0f} s")
    print("  RSS MiB: idle " + mib(idle) + ", " + ", ".join(f"{t:.0f} s: {mib(r)}" for t, r in samples)
          + f"; peak {mib(peak)}")
    print(f"  after they closed: {mib(after_5)} MiB at 5 s, {mib(after_15)} MiB at 15 s")
    print(f"  connections the server still held at the end: {held_ws} WebSocket, {held_sse} SSE")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds, args.rate))
