"""Clients that stop reading, against a real daphne: bounded bytes held for them, then `gap`, then cut off.

Raw sockets with a 4 KiB receive buffer stand in for them, so what they do not read stays in
the server's transport (a WebSocket library would keep reading into its own queue).
"""

import asyncio
import base64
import json
import os
import socket
import time

import pytest

from bench.ws_client import WSClient

from ..conftest import INSTANCE, DaphneServer, Orchestrator

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVENTS = f"/api/orchestrators/{INSTANCE}/events"
PAD = "x" * 2000
TCP_ESTABLISHED = 1


class RawClient:
    def __init__(self, server, path, *, websocket=True):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", server.port))
        host = f"Host: 127.0.0.1:{server.port}\r\n"
        if websocket:
            key = base64.b64encode(os.urandom(16)).decode()
            head = (f"GET {path} HTTP/1.1\r\n{host}Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        else:
            head = f"GET {path} HTTP/1.1\r\n{host}Accept: text/event-stream\r\n\r\n"
        self.sock.sendall(head.encode())
        self.buffer = b""

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionResetError("closed by the server")
        self.buffer += chunk

    def handshake(self, timeout=10):
        while b"\r\n\r\n" not in self.buffer:
            self._fill(timeout)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return head

    def frame(self, timeout=10) -> dict:
        """The next server frame (unmasked text) as JSON; ConnectionResetError when cut off."""
        while True:
            if len(self.buffer) >= 2:
                length, offset = self.buffer[1] & 0x7F, 2
                if length == 126:
                    length, offset = int.from_bytes(self.buffer[2:4], "big"), 4
                elif length == 127:
                    length, offset = int.from_bytes(self.buffer[2:10], "big"), 10
                if len(self.buffer) >= offset + length:
                    opcode = self.buffer[0] & 0x0F
                    payload, self.buffer = self.buffer[offset:offset + length], self.buffer[offset + length:]
                    if opcode == 8:
                        return {"type": "close", "code": int.from_bytes(payload[:2], "big")}
                    return json.loads(payload)
            self._fill(timeout)

    def cut_off(self) -> bool:
        """True once the server has dropped the connection: the socket left ESTABLISHED (TCP_INFO's first byte)."""
        return self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != TCP_ESTABLISHED

    def close(self):
        self.sock.close()


@pytest.fixture
def orchestrator(repo, instance):
    """Journaled before the server starts, as ours are before they register: the bridge tails from its end."""
    orchestrator = Orchestrator(repo)
    orchestrator.state("running")
    return orchestrator


@pytest.fixture
def server(repo, orchestrator):
    started = DaphneServer(repo.root, extra_env={"ORCHESTRATOR_EMBEDDED_BRIDGE": "1",
                                                 "ORCHESTRATOR_STREAM_STALL_S": "4"})
    yield started
    started.stop()


def burst(orchestrator, count):
    return [orchestrator.bus.emit("tool_started", INSTANCE, {"tool_id": f"t{i}", "tool_name": "Bash",
                                                             "input_summary": PAD}) for i in range(count)]


async def test_a_client_that_pauses_reading_gets_a_gap_for_what_did_not_fit_then_events_again(orchestrator, server):
    client = RawClient(server, EVENTS)
    client.handshake()
    assert client.frame()["type"] == "snapshot"
    sent = burst(orchestrator, 4000)  # 8 MB: past the kernel's buffers and the server's 1 MiB bound
    await asyncio.sleep(1.5)  # not reading, for less than the stall limit
    covered, gaps = set(), 0
    while max(covered, default=0) < sent[-1].id:
        frame = client.frame()
        if frame["type"] == "gap":
            gaps += 1
            covered.update(range(frame["data"]["from_id"], frame["data"]["to_id"] + 1))
        elif "id" in frame:
            covered.add(frame["id"])
    assert gaps >= 1
    assert covered >= {e.id for e in sent}  # every event received or named by a gap
    late = burst(orchestrator, 1)[0]
    while (frame := client.frame())["type"] == "ping":
        pass
    assert frame["id"] == late.id
    client.close()


async def test_clients_that_never_read_are_cut_off_and_the_others_keep_streaming(orchestrator, server):
    silent = [RawClient(server, EVENTS), RawClient(server, f"/api/orchestrators/{INSTANCE}/events-sse", websocket=False)]
    reader = await WSClient.connect(server.url(EVENTS))
    assert (await reader.receive_json(10))["type"] == "snapshot"
    deadline = time.monotonic() + 60
    last = None
    while not all(c.cut_off() for c in silent):
        assert time.monotonic() < deadline, "a client that never reads was never cut off"
        last = burst(orchestrator, 50)[-1]
        while (frame := await reader.receive_json(10)).get("id") != last.id:
            assert frame["type"] != "gap"  # the reading client is never the one left behind
            if frame["type"] == "ping":
                await reader.send_json({"type": "pong"})
        await asyncio.sleep(0.05)
    assert "Traceback" not in server.log_path.read_text()
    await reader.close()
    for client in silent:
        client.close()
