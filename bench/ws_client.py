"""A small asyncio WebSocket client (RFC 6455 text frames), for benchmarks and multi-process tests.

The project's runtime needs no WebSocket client, and a thousand concurrent clients must
be cheap: each one here is a socket pair and a parser, no thread and no extra package.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from urllib.parse import urlsplit


class HandshakeError(Exception):
    pass


class WSClosed(Exception):
    def __init__(self, code: int | None, reason: str = ""):
        super().__init__(f"closed {code} {reason}".strip())
        self.code = code
        self.reason = reason


class WSClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, subprotocol: str | None):
        self.reader = reader
        self.writer = writer
        self.subprotocol = subprotocol
        self.close_code: int | None = None

    @classmethod
    async def connect(cls, url: str, *, origin: str | None = None, subprotocols: list[str] | None = None,
                      headers: dict[str, str] | None = None, timeout: float = 5.0) -> "WSClient":
        parts = urlsplit(url)
        port = parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port, limit=2**22), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {parts.hostname}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin:
            lines.append(f"Origin: {origin}")
        if subprotocols:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *header_lines = head.decode("latin1").split("\r\n")
        if " 101 " not in status_line:
            writer.close()
            raise HandshakeError(status_line)
        reply = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        reply = {k.lower(): v for k, v in reply.items()}
        return cls(reader, writer, reply.get("sec-websocket-protocol"))

    async def send_json(self, data) -> None:
        self._send_frame(0x1, json.dumps(data).encode())
        await self.writer.drain()

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)

    async def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = await self.reader.readexactly(2)
        fin, opcode, n = bool(first & 0x80), first & 0x0F, second & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return fin, opcode, await self.reader.readexactly(n)

    async def receive(self, timeout: float | None = 5.0) -> str:
        """Next text message; answers protocol pings; WSClosed on a close frame or EOF."""
        message = b""
        while True:
            try:
                fin, opcode, payload = await asyncio.wait_for(self._read_frame(), timeout)
            except asyncio.IncompleteReadError:
                raise WSClosed(None, "eof") from None
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise WSClosed(self.close_code, payload[2:].decode(errors="replace"))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x1, 0x0, 0x2):
                message += payload
                if fin:
                    return message.decode()

    async def receive_json(self, timeout: float | None = 5.0):
        return json.loads(await self.receive(timeout))

    async def close(self, code: int = 1000) -> None:
        try:
            self._send_frame(0x8, struct.pack("!H", code))
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
