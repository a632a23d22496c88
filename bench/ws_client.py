"""A thin asyncio WebSocket client for benchmarks and multi-process tests, on `websockets`.

The project's runtime serves WebSockets but never opens one; benches (1,000 concurrent clients
in bench/ws_fanout.py) and the tests that talk to a real daphne process over TCP need a client
that is cheap per connection and speaks JSON frames with per-call timeouts. This wraps the
`websockets` library (requirements-dev.txt) in that small interface: connect, send_json,
receive/receive_json, close, and WSClosed carrying the close code and reason.
"""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class WSClosed(Exception):
    def __init__(self, code: int | None, reason: str = ""):
        super().__init__(f"closed {code} {reason}".strip())
        self.code = code
        self.reason = reason

    @classmethod
    def from_closed(cls, exc: ConnectionClosed) -> "WSClosed":
        """The server's close frame, or (None, "eof") when the connection ended without one."""
        return cls(exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else cls(None, "eof")


class WSClient:
    def __init__(self, connection: ClientConnection):
        self.connection = connection

    @property
    def subprotocol(self) -> str | None:
        return self.connection.subprotocol

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code

    @classmethod
    async def connect(cls, url: str, *, origin: str | None = None, subprotocols: list[str] | None = None,
                      headers: dict[str, str] | None = None, timeout: float = 5.0) -> "WSClient":
        """Open and handshake within `timeout` s (TimeoutError); OSError if refused; a token goes in the URL's query."""
        connection = await connect(
            url, origin=origin, subprotocols=subprotocols, additional_headers=headers, open_timeout=timeout,
            # Measure the server, not the client's extras: no permessage-deflate (the server would
            # compress every frame per client), no client keep-alive pings (the server sends its own
            # JSON heartbeats), no proxy from the environment (everything here is local).
            compression=None, ping_interval=None, proxy=None,
            # Buffer like a browser (the old hand-written client read everything the kernel had) so
            # a client that pauses reading does not push back on the server sooner than a browser would.
            max_size=None, max_queue=None,
        )
        return cls(connection)

    async def send_json(self, data) -> None:
        try:
            await self.connection.send(json.dumps(data))
        except ConnectionClosed as exc:
            raise WSClosed.from_closed(exc) from None

    async def receive(self, timeout: float | None = 5.0) -> str:
        """Next text message (protocol pings are answered by the library); TimeoutError; WSClosed."""
        try:
            async with asyncio.timeout(timeout):
                return await self.connection.recv(decode=True)
        except ConnectionClosed as exc:
            raise WSClosed.from_closed(exc) from None

    async def receive_json(self, timeout: float | None = 5.0):
        return json.loads(await self.receive(timeout))

    async def close(self, code: int = 1000) -> None:
        """Closing handshake (waits up to 10 s for the server's close); a no-op once closed."""
        await self.connection.close(code)
