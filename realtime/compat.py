"""Every piece of Channels (and daphne, Twisted) code this project copied or leans on, in one place.

Each copy is an edit of the library's own code, made for speed or for a behaviour the
library has no option for; each reliance reads attributes no public API offers. Both are
recorded with a digest of the original's source as it was when the copy was last checked
(`copied_from`, `relies_on`), and tests/realtime/test_compat.py fails, saying what to
re-check, as soon as the installed version changes that source. After re-checking, record
the new digest (`source_digest`).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import pkgutil
import time
from copy import deepcopy
from dataclasses import dataclass
from urllib.parse import ParseResult, urlparse

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings


@dataclass(frozen=True)
class Copy:
    original: str  # "module:qualname" of the library's code
    digest: str  # source_digest(original) when the copy was last checked against it
    ours: str  # what copies it, or leans on it
    recheck: str  # what to look at when the original changes


# Filled as this module is imported and never changed after: a record of its source, not run-time state.
COPIES: list[Copy] = []


def source_digest(original: str) -> str:
    return hashlib.sha256(inspect.getsource(pkgutil.resolve_name(original)).encode()).hexdigest()[:16]


def copied_from(original: str, digest: str, *, recheck: str):
    def record(ours):
        COPIES.append(Copy(original, digest, f"{ours.__module__}.{ours.__qualname__}", recheck))
        return ours
    return record


def relies_on(originals: dict[str, str], *, ours: str, recheck: str) -> None:
    """For code elsewhere that reads library internals: each original with its digest."""
    COPIES.extend(Copy(original, digest, ours, recheck) for original, digest in originals.items())


# -- consumers: one long-lived receive task per source, no per-message costs --------------------

async def _pump(source, dispatch, lock: asyncio.Lock) -> None:
    while True:
        message = await source()
        async with lock:
            await dispatch(message)


@copied_from("channels.utils:await_many_dispatch", "30ef889498560da3",
             recheck="dispatch_both must still dispatch one message at a time and end as it ends")
async def dispatch_both(client_receive, channel_receive, dispatch) -> None:
    """Channels' await_many_dispatch for our two sources, minus its per-message cost.

    That one runs an asyncio.wait() and creates a task for every message it receives; here one
    long-lived task per source receives, and a lock keeps dispatches one at a time as there.
    Returns or raises (StopConsumer included) as soon as either source's loop does.
    """
    lock = asyncio.Lock()
    tasks = [asyncio.ensure_future(_pump(client_receive, dispatch, lock)),
             asyncio.ensure_future(_pump(channel_receive, dispatch, lock))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        next(iter(done)).result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, StopConsumer):
                pass


class DirectDispatchConsumer(AsyncJsonWebsocketConsumer):
    """A JSON WebSocket consumer whose layer messages cost one dispatch each, not a task and a thread hop.

    `direct_handlers` maps message types to methods that touch no database: those skip Channels'
    per-message close_old_connections(), a thread-pool round trip per event and client (a third
    of the CPU at 1,000 clients, bench/ws_fanout.py).
    """

    direct_handlers: dict[str, str] = {}

    @copied_from("channels.consumer:AsyncConsumer.__call__", "e52238720872dbc3",
                 recheck="the attributes it sets (scope, channel_layer, channel_name, channel_receive, base_send)")
    async def __call__(self, scope, receive, send):
        """AsyncConsumer.__call__ with dispatch_both in place of await_many_dispatch."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is None:
            return await super().__call__(scope, receive, send)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = self.receive_from_layer
        self.base_send = send
        try:
            await dispatch_both(receive, self.channel_receive, self.dispatch)
        except StopConsumer:
            pass

    async def receive_from_layer(self) -> dict:
        return await self.channel_layer.receive(self.channel_name)

    @copied_from("channels.consumer:AsyncConsumer.dispatch", "39f34e7d4fb0f655",
                 recheck="what it does per message besides calling the handler (today: close_old_connections)")
    async def dispatch(self, message):
        handler = self.direct_handlers.get(message["type"])
        if handler is not None:
            await getattr(self, handler)(message)
        else:
            await super().dispatch(message)


# -- the in-memory layer: O(members) per group_send, not O(channels x members) ------------------

SWEEP_INTERVAL_S = 1.0


class FanoutInMemoryChannelLayer(InMemoryChannelLayer):
    """Channels' in-memory layer, made to scale with the number of consumers.

    The stock layer sweeps every channel and every group membership for expired entries on
    each receive() and group_send(): with N connected consumers one event costs O(N^2) (about
    0.7 ms of CPU per client at 1,000 clients, bench/ws_fanout.py). The sweep only enforces
    `expiry` (60 s) and `group_expiry` (minutes), so running it at most once a second changes
    nothing a client can observe. group_send also copies a message once rather than once per
    member (receivers treat layer messages as read-only, as ours do: realtime.stream never
    mutates an event) and puts it directly instead of spawning a task per member; names were
    validated by group_add.
    """

    _last_sweep = 0.0

    @copied_from("channels.layers:InMemoryChannelLayer._clean_expired", "604032dae1cc01d2",
                 recheck="the sweep must still only enforce expiry and group_expiry, or once a second is not enough")
    def _clean_expired(self):
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_S:
            return
        self._last_sweep = now
        super()._clean_expired()

    @copied_from("channels.layers:InMemoryChannelLayer.group_send", "693c3172deb6431b",
                 recheck="group_send's checks and what a full channel does")
    @copied_from("channels.layers:InMemoryChannelLayer.send", "a4dab1cd8aff886e",
                 recheck="the queue entry (expiry time, message) and the queue's creation, which group_send repeats")
    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        members = list(self.groups.get(group, {}))
        if not members:
            return
        entry = (time.time() + self.expiry, deepcopy(message))  # isolates the sender's dict
        for channel in members:
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
            try:
                queue.put_nowait(entry)
            except asyncio.QueueFull:
                pass  # as the stock layer: a full channel loses the message (consumers refill from the journal)


# -- origins ------------------------------------------------------------------------------------

@copied_from("channels.security.websocket:OriginValidator.__call__", "0b82a945801a5ca2",
             recheck="how the Origin header's value is decoded and parsed")
def parse_origin(value: bytes) -> ParseResult | None:
    """An Origin header's value, parsed as OriginValidator does; None when it cannot be."""
    try:
        return urlparse(value.decode("latin1"))
    except UnicodeDecodeError:
        return None


@copied_from("channels.security.websocket:AllowedHostsOriginValidator", "5d760b5f2741f063",
             recheck="which hosts count as allowed (ALLOWED_HOSTS, its DEBUG default)")
def allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts


# -- daphne and Twisted internals that flow control reads (realtime.stream.flow) ----------------

relies_on({"daphne.server:Server.create_application": "f1e300b4ecf636c8"},
          ours="realtime.stream.flow.transport_buffer",
          recheck="send must still be partial(handle_reply, protocol), the protocol holding the transport")
relies_on({"twisted.internet.abstract:FileDescriptor.write": "3e46c97fc173bc7e",
           "twisted.internet.abstract:FileDescriptor.doWrite": "a986d7b1b1054e43"},
          ours="realtime.stream.flow.TransportBuffer.buffered",
          recheck="unsent bytes must still be len(dataBuffer) - offset + _tempDataLen, abortConnection drop them")
