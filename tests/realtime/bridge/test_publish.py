"""LayerPublisher: the orchestrator's bus into the channel layer, never blocking or failing the engine."""

import asyncio
import threading
import time

from orchestrator.events import EventBus
from realtime.bridge.publish import LayerPublisher
from realtime.groups import ALL_GROUP, instance_group

TOOL = {"tool_id": "t1", "tool_name": "Bash", "input_summary": "ls"}


class RecordingLayer:
    def __init__(self, *, fail=False, delay=0.0):
        self.sent = []
        self.fail = fail
        self.delay = delay

    async def group_send(self, group, message):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("redis is down")
        self.sent.append((group, message))


def test_every_event_goes_to_its_instance_group_and_the_all_group():
    layer = RecordingLayer()
    bus = EventBus()
    publisher = LayerPublisher(layer)
    publisher.attach(bus)
    event = bus.emit("tool_started", "orch-1", TOOL)
    assert publisher.flush(2)
    publisher.close()
    assert layer.sent == [
        (instance_group("orch-1"), {"type": "orchestrator.event", "event": event.to_dict()}),
        (ALL_GROUP, {"type": "orchestrator.event", "event": event.to_dict()}),
    ]


def test_a_down_layer_neither_raises_nor_blocks_the_emitter():
    layer = RecordingLayer(fail=True)
    bus = EventBus()
    publisher = LayerPublisher(layer)
    publisher.attach(bus)
    started = time.monotonic()
    for _ in range(50):
        bus.emit("tool_started", "orch-1", TOOL)
    assert time.monotonic() - started < 0.5
    assert publisher.flush(2)
    assert publisher.dropped == 50 and publisher.sent == 0
    layer.fail = False
    bus.emit("tool_started", "orch-1", TOOL)
    assert publisher.flush(2)
    assert publisher.sent == 1
    publisher.close()


def test_a_slow_layer_costs_at_most_max_pending_events_of_memory():
    layer = RecordingLayer(delay=0.05)
    bus = EventBus()
    publisher = LayerPublisher(layer, max_pending=10)
    publisher.attach(bus)
    for _ in range(100):
        bus.emit("tool_started", "orch-1", TOOL)
    assert publisher.dropped >= 80
    publisher.close()


def test_close_detaches_from_the_bus_and_stops_its_thread():
    bus = EventBus()
    before = threading.active_count()
    publisher = LayerPublisher(RecordingLayer())
    publisher.attach(bus)
    publisher.close()
    assert bus.subscription_count == 0
    assert threading.active_count() == before
