"""Waiting out a status.json fault that passes (a torn file, a full disk, a stuck lock holder) instead of ending the run."""

import logging
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

from .errors import LockTimeout, OrchestratorError, StatusFileCorrupt

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A torn status.json (another writer, a person's editor), a full disk or a stuck lock holder pass;
# the engine waits them out this long, keeping what it has to write, before it gives up the run.
STATUS_RETRY_S = 600.0
RETRY_FIRST_S, RETRY_MAX_S = 0.2, 5.0
# Faults of the status file that a wait can cure; any other error is a bug or a real refusal.
TRANSIENT_FAULTS = (StatusFileCorrupt, LockTimeout, OSError)


class GaveUp(Exception):
    """The status file stayed unusable for the whole wait: the run ends, it does not crash."""


def wait_out(action: Callable[[], T], *, path: Path, what: str, retry_s: float, cancel: threading.Event,
             announce: Callable[[str], None]) -> T:
    """`action` (a read or write of `path`), retried with backoff while it fails for a fault that
    passes, for at most `retry_s` or until `cancel` is set; `what` says what waits.

    Both the wait and the recovery are `announce`d (the engine makes them orchestrator_state
    events, the state itself unchanged), so a person watching knows why nothing moves and what to fix.
    """
    deadline = time.monotonic() + retry_s
    delay, failures = RETRY_FIRST_S, 0
    while True:
        try:
            result = action()
        except TRANSIENT_FAULTS as exc:
            failures += 1
            fault = exc.message if isinstance(exc, OrchestratorError) else str(exc)
            if failures == 1:
                logger.warning("Waiting for %s: %s", path, fault)
                announce(f"waiting for {path.name} ({fault}); {what}")
            if cancel.is_set() or time.monotonic() + delay > deadline:
                raise GaveUp(f"{path.name} stayed unusable ({fault}); given up after "
                             f"{failures} attempt(s): {what}") from exc
            cancel.wait(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            continue
        if failures:
            announce(f"{path.name} usable again after {failures} failed attempt(s)")
        return result
