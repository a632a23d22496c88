"""Signals of the REST API, for apps above it that act on what a request changed (realtime)."""

from django.dispatch import Signal

# Sent with `layout` and `instance` after a command wrote a status file that no live
# orchestrator watches (Skip or Retry on a stopped run), so the streams can tell its pages.
# Receivers run in the request: they must not raise.
orphan_status_changed = Signal()
