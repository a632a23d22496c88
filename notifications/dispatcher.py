"""Sends webhook deliveries off the event path: one thread per process owns the database work,
a few sender threads own the HTTP.

The bridge hands events to `submit`, which only puts them on a queue: a receiver that is
slow or dead costs a sender thread (each phase of a POST is bounded by WEBHOOK_TIMEOUT_S),
never the bridge's loop, the streams or the engine. The dispatcher thread files deliveries
(services.deliveries_enqueue), claims due ones, hands them to the senders and records what
came back. Every database write happens on that one thread, so SQLite sees one writer per
process. Pending deliveries live in the database: a restarted dispatcher (or the one of
another process, once a dead sender's lease runs out) picks them up.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from django.db import DatabaseError, close_old_connections, connection

from common.conf import orchestrator_settings
from orchestrator.errors import OrchestratorError
from orchestrator.registry import Registry

from . import sender, services
from .kinds import event_kinds
from .selectors import deliveries_due, delivery_next_due_at

logger = logging.getLogger(__name__)

# Longest sleep between looks at the database: how soon this process takes over deliveries that
# another one (or a previous run of this one) left pending.
POLL_S = 5.0
# The events waiting to be filed; past this, new ones are dropped (logged), never the bridge blocked.
MAX_QUEUED = 10_000


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Dispatcher:
    def __init__(self, *, registry_path: Path, clock: Callable[[], datetime] = _utc_now):
        config = orchestrator_settings()
        self._registry = Registry(registry_path)
        self._clock = clock
        self._timeout_s = config.webhook_timeout_s
        self._senders = max(1, config.webhook_senders)
        # Held until the sender must be done: three bounded phases, and a margin for recording.
        self._lease_s = 3 * self._timeout_s + 10
        self._inbox: queue.Queue = queue.Queue(MAX_QUEUED)
        self._in_flight: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client = None
        self._dropped = 0
        self._backlog: list[tuple] = []  # taken off the queue, not yet handled
        self._unhandled = 0  # queued or backlogged items (idle())
        self._count_lock = threading.Lock()

    # -- called from other threads ---------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._client = sender.new_client(self._timeout_s)
        self._pool = ThreadPoolExecutor(self._senders, thread_name_prefix="webhook-send")
        self._thread = threading.Thread(target=self._run, name="webhook-dispatch", daemon=True)
        self._thread.start()
        logger.info("Webhook dispatcher started (pid %d)", os.getpid())

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, event: dict) -> None:
        """O(1) and never blocks: the bridge calls it for every event it publishes."""
        if not event_kinds(event):
            return
        try:
            self._put(("event", event), block=False)
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                logger.warning("Webhook dispatcher is behind: %d events not filed", self._dropped)

    def idle(self) -> bool:
        """Nothing queued and nothing being sent: what tests and benches wait for."""
        with self._count_lock:
            return self._unhandled == 0 and not self._in_flight

    def _put(self, item: tuple, *, block: bool = True) -> None:
        with self._count_lock:
            self._unhandled += 1
        try:
            self._inbox.put(item, block=block)
        except queue.Full:
            with self._count_lock:
                self._unhandled -= 1
            raise

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._put(("wake", None))
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    # -- the dispatcher thread -------------------------------------------------------------

    def _run(self) -> None:
        failing = False
        try:
            while not self._stop.is_set():
                try:
                    self._step(self._wait_s())
                except DatabaseError as exc:
                    # Locked, restarting or not migrated: what is pending stays in it; look again later.
                    if not failing:
                        logger.warning("Webhook dispatcher cannot use the database (%s); retrying", exc)
                    failing = True
                    close_old_connections()
                    self._stop.wait(POLL_S)
                else:
                    failing = False
        finally:
            connection.close()

    def _wait_s(self) -> float:
        if len(self._in_flight) >= self._senders:
            return POLL_S
        due = delivery_next_due_at(now=self._clock())
        if due is None:
            return POLL_S
        return min(POLL_S, max(0.0, (due - self._clock()).total_seconds()))

    def _step(self, wait_s: float) -> None:
        """Handle what is queued, oldest first, then hand due deliveries to the senders. An item whose
        handling hit a database error stays first in the backlog for the next step: an event taken off
        the queue is filed eventually, an attempt recorded eventually."""
        if not self._backlog:
            try:
                self._backlog.append(self._inbox.get(timeout=wait_s))
            except queue.Empty:
                pass
        while True:
            try:
                self._backlog.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        handled = 0
        try:
            while self._backlog:
                try:
                    self._handle(*self._backlog[0])
                except DatabaseError:
                    raise
                except Exception:
                    logger.exception("Webhook dispatcher dropped %s", self._backlog[0][0])
                self._backlog.pop(0)
                handled += 1
            self._dispatch_due()
        finally:
            # Only now: until the due deliveries are handed to senders, this process is not idle.
            with self._count_lock:
                self._unhandled -= handled

    def _handle(self, what: str, payload) -> None:
        if what == "event":
            services.deliveries_enqueue(event=payload, plan=self._plan_of(payload["instance_id"]), now=self._clock())
        elif what == "done":
            delivery_id, started_at, outcome = payload
            try:
                services.attempt_record(delivery_id=delivery_id, outcome=outcome, started_at=started_at,
                                        now=self._clock())
            finally:
                self._in_flight.discard(delivery_id)

    def _plan_of(self, instance_id: str) -> str | None:
        try:
            return Path(self._registry.get(instance_id).plan_path).stem
        except (OrchestratorError, OSError):
            return None  # gone from the registry: only webhooks without a plan filter get it

    def _dispatch_due(self) -> None:
        free = self._senders - len(self._in_flight)
        if free <= 0 or self._stop.is_set():
            return
        now = self._clock()
        for delivery_id in deliveries_due(now=now, exclude=self._in_flight, limit=free):
            request = services.delivery_claim(delivery_id=delivery_id, now=now, lease_s=self._lease_s)
            if request is None:
                continue  # another process's dispatcher took it
            self._in_flight.add(delivery_id)
            future = self._pool.submit(sender.send, self._client, request)
            future.add_done_callback(lambda f, d=delivery_id, s=now: self._finished(d, s, f))

    def _finished(self, delivery_id: int, started_at: datetime, future: Future) -> None:
        try:
            outcome = future.result()
        except Exception as exc:  # a bug in the sender must not leave the delivery leased forever
            logger.exception("Webhook sender failed")
            outcome = sender.Outcome(None, 0.0, f"sender error: {exc}", retryable=True)
        self._put(("done", (delivery_id, started_at, outcome)))
