"""Signals of the event bridge, for apps that act on events besides streaming them (notifications).

Receivers run on the bridge's event loop: they must return at once (hand the event to a
thread of their own), or they delay every stream.
"""

from django.dispatch import Signal

# sender: the EventBridge class; kwargs: bridge (the instance), when its loop starts.
bridge_started = Signal()
# sender: the EventBridge class; kwargs: event (the envelope as published, a dict), once per event.
event_bridged = Signal()
