"""Flow control for streams: the bytes daphne still holds for a client, and what to do when it stops reading.

ASGI's send() never blocks: daphne hands each frame to Twisted, whose transport keeps what
the socket does not take, without limit. So the outbox's bound (realtime/stream/outbox.py) held
nothing back from a client that stopped reading: its sender drained the outbox into the
transport as fast as events came (5 WebSocket clients that never read: 94 -> 174 MiB in
40 s). The bound that matters is on the bytes buffered in the transport; ASGI has no word
for it and daphne no option, but daphne's `send` is `partial(Server.handle_reply,
protocol)`, and the protocol has the Twisted transport. TransportScope puts a
TransportBuffer for it in the scope of every stream; the sender (realtime.stream.driver) waits
while the client has more than STREAM_MAX_UNREAD_BYTES (1 MiB) unread, so the outbox fills,
drops and later says `gap`, and a client that stays behind for STREAM_STALL_S (20 s; a reading
client on a slow link drains 1 MiB well within it) is cut off, its buffers freed.

Under another server (or Channels' test communicators) there is no transport to read:
streams then work as before, with the outbox as their only bound.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import time

logger = logging.getLogger(__name__)

SCOPE_KEY = "orchestrator.transport_buffer"
POLL_S = 0.05


class ClientTooSlow(Exception):
    """The client kept more than the bound unread for the stall time."""


class TransportBuffer:
    """What a Twisted transport holds in memory for its socket (FileDescriptor's write buffers)."""

    def __init__(self, transport):
        self._transport = transport

    def buffered(self) -> int:
        t = self._transport
        return len(t.dataBuffer) - t.offset + t._tempDataLen

    def abort(self) -> None:
        """Drop the connection and its unsent bytes at once (a close frame would queue behind them)."""
        self._transport.abortConnection()


def transport_buffer(send) -> TransportBuffer | None:
    protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
    transport = getattr(protocol, "transport", None)
    if transport is None or not all(hasattr(transport, name) for name in ("dataBuffer", "offset", "_tempDataLen",
                                                                           "abortConnection")):
        return None
    return TransportBuffer(transport)


class TransportScope:
    """Outermost ASGI wrapper: streams (WebSocket, SSE) find their TransportBuffer at scope[SCOPE_KEY]."""

    def __init__(self, app, *, http_suffix: str = "/events-sse"):
        self.app = app
        self.http_suffix = http_suffix

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" or (scope["type"] == "http" and scope["path"].endswith(self.http_suffix)):
            buffer = transport_buffer(send)
            if buffer is not None:
                scope = {**scope, SCOPE_KEY: buffer}
        return await self.app(scope, receive, send)


def backlog_for(scope: dict, conf) -> "Backlog":
    return Backlog(scope.get(SCOPE_KEY), limit=conf.stream_max_unread_bytes, stall_s=conf.stream_stall_s)


class Backlog:
    """Holds a stream's sender while its client has too much unread; ClientTooSlow when that lasts."""

    def __init__(self, buffer: TransportBuffer | None, *, limit: int, stall_s: float, clock=time.monotonic):
        self.buffer = buffer
        self.limit = limit
        self.stall_s = stall_s
        self._clock = clock

    def behind(self) -> bool:
        """Whether the client has more than the bound unread: one look at the buffer, no await, per frame."""
        return self.buffer is not None and self.buffer.buffered() > self.limit

    async def catch_up(self) -> None:
        """Return once half the bound has drained (sending then resumes in bursts, not frame by frame
        at the edge); ClientTooSlow if that takes longer than the stall time."""
        deadline = self._clock() + self.stall_s
        while self.buffer.buffered() > self.limit // 2:
            if self._clock() > deadline:
                raise ClientTooSlow(f"over {self.limit} bytes unread for {self.stall_s:.0f} s")
            await asyncio.sleep(POLL_S)

    def abort(self) -> None:
        if self.buffer is not None:
            self.buffer.abort()
            release_freed_memory()


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def release_freed_memory() -> None:
    """Hand the freed buffers back to the system: glibc keeps freed heap pages otherwise, and
    a server that once held many slow clients' bytes would stay at its peak RSS."""
    trim = _malloc_trim()
    if trim is not None:
        # After the reactor has released the transport's buffers (abortConnection frees them next turn).
        asyncio.get_running_loop().call_later(0.1, trim, 0)
