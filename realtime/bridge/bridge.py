"""Follows every registered orchestrator on disk and publishes its events into the channel layer.

This is how orchestrators that do not publish themselves become live: those of other
tools (adopted: their status.json is turned into journaled events, realtime.bridge.adoption),
ours when no shared layer joins them to the server (the journal is tailed), and every
instance's life as the registry tells it (appearing, stale, crashed, gone:
realtime.bridge.states). It runs as `manage.py bridge_events`, or inside the server process
when the channel layer is in-memory (realtime.bridge.autostart).

Delivery rule: the bridge tails every journal, always. An orchestrator that shares the
layer with the servers (Redis, or `orchestrate --api-server`) publishes its bus directly
as well, the faster path; consumers drop the second copy by (instance, id), which they
must track anyway to splice replay and live events (realtime.stream.eventstream).

Only instances whose process lives and whose entry is not finished (stopped, crashed) are
followed, at most MAX_FOLLOWED at a time: any process may write the registry, and thousands
of entries left by dead processes must cost nothing after the bridge has seen them once (an
unchanged entry of a gone process is skipped without a system call). Following costs no
thread: adopted status files share one StatusWatch thread, journals the bridge's watch of
`.claude/`.

Lifecycle events go into the instance's journal, so replay has them too. The bridge
writes only where it is the sole writer: the journals of adopted instances, and the
journal of one of ours only once its process is gone (a crash). A stale instance of ours
whose process still lives is left alone (its journal still has a writer): the snapshot
and the REST API show it stale.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass

from watchfiles import watch

from orchestrator.clock import Clock, iso, utc_now
from orchestrator.errors import InvalidName, LockTimeout, OrchestratorError
from orchestrator.events import FINISHED_STATES, Event, validate_event_data
from orchestrator.fileio import locked
from orchestrator.journal import Journal, JournalReader
from orchestrator.layout import RepoLayout
from orchestrator.registry import Instance, Registry

from ..journals import BRIDGED_DIR, journal_path
from .adoption import Adoption, writer_lock
from .publish import Outage, send_event
from .signals import bridge_started, event_bridged
from .states import Seen, observe, transition
from .status_watch import StatusWatch

logger = logging.getLogger(__name__)

# Same watch settings as the core's StatusMonitor: a journal line reaches the layer in a few ms.
STEP_MS = 2
DEBOUNCE_MS = 10
# Live instances followed at once: each costs two fds when adopted (its journal and the writer's
# lock) or one (the journal tailed). Beyond it an instance is still listed, its life still told,
# but its events are not published live until a followed one ends (docs/realtime.md).
MAX_FOLLOWED = 256


@dataclass
class Tracked:
    instance_id: str
    instance: Instance | None = None  # the entry as last looked at
    reader: JournalReader | None = None
    reader_path: str | None = None
    seen: Seen | None = None
    adoption: Adoption | None = None
    closed: bool = False


class EventBridge:
    def __init__(self, layout: RepoLayout, *, channel_layer=None, clock: Clock = utc_now,
                 poll_interval: float = 1.0, max_followed: int = MAX_FOLLOWED):
        self.layout = layout
        self.registry = Registry(layout.registry_path, clock=clock)
        self.clock = clock
        self.poll_interval = poll_interval
        self.max_followed = max_followed
        self._layer = channel_layer
        self._tracked: dict[str, Tracked] = {}
        self.followed: set[str] = set()  # ids of the instances followed live, at most max_followed
        self.status_watch = StatusWatch()
        self._retired: list[Tracked] = []
        self._outgoing: list[Event] = []  # appended by the bridge to a journal no reader follows
        self._wake: asyncio.Event | None = None
        self._resync: asyncio.Event | None = None
        # Consumers fill the holes an outage leaves from the journal once the layer is back.
        self._outage = Outage(logger, "Channel layer unreachable; bridge events are not delivered live")
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; survives unreadable registries, vanished files and a dead layer."""
        if self._layer is None:
            from channels.layers import get_channel_layer

            self._layer = get_channel_layer()
        self._wake = asyncio.Event()
        self._resync = asyncio.Event()
        await self.sync(initial=True)
        _notify(bridge_started, bridge=self)
        tasks = [asyncio.ensure_future(c) for c in (self._watch(stop), self._sync_loop(stop), self._publish_loop(stop))]
        try:
            await stop.wait()
        finally:
            # The loops end by themselves once `stop` is set (cancelling awatch mid-poll can hang
            # on its worker thread); cancellation is only the fallback.
            stop.set()
            self._wake.set()
            self._resync.set()
            _, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for tracked in [*self._tracked.values(), *self._retired]:
                await self._close(tracked)
            self._tracked.clear()
            self.followed.clear()
            self._retired.clear()
            await asyncio.to_thread(self.status_watch.stop)

    # -- what is registered --------------------------------------------------------------

    async def sync(self, *, initial: bool = False) -> None:
        """Bring what is tracked in line with the registry; read in a thread, since a rewritten
        registry of 10,000 entries takes about 0.1 s to parse, which the event loop must not wait for."""
        try:
            instances = {i.id: i for i in await asyncio.to_thread(self.registry.list)}
        except (OrchestratorError, OSError) as exc:
            logger.warning("Cannot read the registry (%s); keeping what is tracked", exc)
            return
        now = self.clock()
        for instance in instances.values():
            tracked = self._tracked.get(instance.id) or self._track(instance)
            if tracked.instance == instance and tracked.seen is not None and not followable(tracked.seen):
                continue  # gone or finished, and its entry unchanged: nothing can have changed
            tracked.instance = instance
            seen = observe(instance, now)
            if followable(seen):
                self._follow(tracked, instance, initial=initial)
            self._lifecycle(tracked, instance, seen)
            if not followable(seen):
                self._unfollow(tracked)
        for instance_id in set(self._tracked) - set(instances):
            tracked = self._tracked.pop(instance_id)
            self._lifecycle(tracked, None, None)
            self._unfollow(tracked)
        self._wake.set()

    def _follow(self, tracked: Tracked, instance: Instance, *, initial: bool) -> None:
        if instance.id not in self.followed and len(self.followed) >= self.max_followed:
            if tracked.seen is None:
                logger.warning("Following %d instances already; %s is not followed live", self.max_followed,
                               instance.id)
            return
        try:
            self._follow_journal(tracked, instance, initial=initial)
        except InvalidName as exc:
            # An id or plan path no file of ours may be named after: lifecycle only.
            logger.debug("Not following %s: %s", instance.id, exc)
            return
        self.followed.add(instance.id)

    def _unfollow(self, tracked: Tracked) -> None:
        """Hand reader and adoption to the publish loop, which sends what is left in the journal, then closes them."""
        self.followed.discard(tracked.instance_id)
        if tracked.reader is None and tracked.adoption is None:
            return
        self._retired.append(Tracked(tracked.instance_id, reader=tracked.reader, adoption=tracked.adoption))
        tracked.reader = tracked.reader_path = tracked.adoption = None

    def _track(self, instance: Instance) -> Tracked:
        tracked = Tracked(instance.id)
        self._tracked[instance.id] = tracked
        return tracked

    def _follow_journal(self, tracked: Tracked, instance: Instance, *, initial: bool) -> None:
        own = self.layout.journal_file(instance.id)
        if own.exists() and tracked.adoption is not None:
            # One of ours after all (it journaled late): its own journal wins.
            asyncio.ensure_future(tracked.adoption.close())
            tracked.adoption = None
        if not own.exists() and tracked.adoption is None:
            loop = asyncio.get_running_loop()
            tracked.adoption = Adoption(self.layout, instance,
                                        on_event=lambda _e: loop.call_soon_threadsafe(self._wake.set))
        if tracked.adoption is not None and not tracked.adoption.owned and tracked.adoption.try_acquire():
            tracked.adoption.start(self.status_watch)
        path = journal_path(self.layout, instance.id)
        if path is not None and str(path) != tracked.reader_path:
            if tracked.reader is not None:
                tracked.reader.close()
            # Known at start: clients replay history from the journal; only news is published.
            tracked.reader = JournalReader(path, from_end=initial)
            tracked.reader_path = str(path)

    def _lifecycle(self, tracked: Tracked, instance: Instance | None, seen: Seen | None) -> None:
        data = transition(tracked.seen, seen)
        tracked.seen = seen
        if data is None:
            return
        if tracked.adoption is not None and tracked.adoption.owned:
            tracked.adoption.emit_state(data)
        elif tracked.adoption is None and (seen is None or not seen.alive):
            event = self._append_to_dead_journal(tracked.instance_id, data)
            if event is not None and tracked.reader is None:
                self._outgoing.append(event)
        else:
            logger.debug("%s: %s (%s)", tracked.instance_id, data["state"], data["reason"])

    def _append_to_dead_journal(self, instance_id: str, data: dict) -> Event | None:
        """Its writer is gone; a lock and a look at the last line keep two bridges from both writing.

        A bridged journal is written only while no bridge adopts the instance (its writer's lock
        is free): the adopter records the state itself.
        """
        try:
            path = journal_path(self.layout, instance_id)
        except InvalidName:
            return None
        if path is None:
            return None
        validate_event_data("orchestrator_state", data)
        try:
            with writer_lock(path, free=path.parent.name == BRIDGED_DIR) as ours:
                if not ours:
                    return None
                with locked(path.with_name(path.name + ".bridge.lock"), timeout=1.0):
                    journal = Journal(path)
                    last_id = journal.last_id()
                    tail, _ = journal.read_since(max(last_id - 1, 0))
                    last = tail[-1] if tail else None
                    if last is not None and last.type == "orchestrator_state" and last.data.get("state") in FINISHED_STATES:
                        return None
                    event = Event(last_id + 1, "orchestrator_state", iso(self.clock()), instance_id, data)
                    journal.append(event)
                    journal.close()
                    return event
        except (LockTimeout, OSError) as exc:
            logger.warning("Could not record %s of %s: %s", data["state"], instance_id, exc)
            return None

    @staticmethod
    async def _close(tracked: Tracked) -> None:
        tracked.closed = True
        if tracked.adoption is not None:
            await tracked.adoption.close()
        if tracked.reader is not None:
            tracked.reader.close()

    # -- watching and publishing -----------------------------------------------------------

    async def _watch(self, stop: asyncio.Event) -> None:
        """Watch .claude/ (registry, journals) from a daemon thread; see Adoption.start for why not awatch."""
        loop = asyncio.get_running_loop()
        halt = threading.Event()
        thread = threading.Thread(target=self._watch_thread, args=(loop, halt), name="bridge-watch", daemon=True)
        thread.start()
        try:
            await stop.wait()
        finally:
            halt.set()

    def _watch_thread(self, loop: asyncio.AbstractEventLoop, halt: threading.Event) -> None:
        claude = self.layout.registry_path.parent
        registry_name = self.layout.registry_path.name
        while not halt.is_set():
            if not claude.is_dir():
                halt.wait(self.poll_interval)
                continue
            try:
                for changes in watch(claude, stop_event=halt, step=STEP_MS, debounce=DEBOUNCE_MS, recursive=True,
                                     rust_timeout=int(self.poll_interval * 1000), yield_on_timeout=True,
                                     raise_interrupt=False):
                    registry = any(os.path.basename(p) == registry_name for _, p in changes)
                    loop.call_soon_threadsafe(self._changed, registry)
                    if not claude.is_dir():
                        break
            except OSError:
                logger.warning("Watching %s failed; retrying", claude, exc_info=True)
                halt.wait(self.poll_interval)
            except RuntimeError:
                return  # the loop closed under us: the server is going away

    def _changed(self, registry: bool) -> None:
        if registry:
            self._resync.set()
        self._wake.set()

    async def _sync_loop(self, stop: asyncio.Event) -> None:
        """The only task that syncs, so two syncs never interleave: at each registry change, and
        every poll_interval anyway, since staleness and crashes change nothing on disk."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(self._resync.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass
            self._resync.clear()
            if not stop.is_set():
                await self.sync()

    async def _publish_loop(self, stop: asyncio.Event) -> None:
        """The only task that reads journals and sends, so each instance's events leave in order."""
        while not stop.is_set():
            await self._wake.wait()
            self._wake.clear()
            if self._outgoing:
                events, self._outgoing = self._outgoing, []
                await self._publish(events)
            for instance_id in list(self.followed):
                tracked = self._tracked.get(instance_id)
                if tracked is not None and tracked.reader is not None and not tracked.closed:
                    await self._publish(tracked.reader.read_new())
            while self._retired:
                tracked = self._retired.pop(0)
                if tracked.reader is not None:
                    await self._publish(tracked.reader.read_new())
                await self._close(tracked)

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            envelope = event.to_dict()
            try:
                await send_event(self._layer, envelope)
            except Exception as exc:
                self._outage.failed(exc)
                continue
            finally:
                # After the streams have it, whether or not the layer took it: webhooks need no layer.
                _notify(event_bridged, event=envelope)
            self._outage.recovered()
            self.published += 1


def _notify(signal, **kwargs) -> None:
    """A receiver's failure is its own: it never stops the bridge."""
    for receiver, result in signal.send_robust(EventBridge, **kwargs):
        if isinstance(result, Exception):
            logger.error("Bridge signal receiver %r failed", receiver, exc_info=result)


def followable(seen: Seen) -> bool:
    """Only a live process that has not finished can still produce events worth following."""
    return seen.alive and seen.state not in FINISHED_STATES
