"""The consumers' cheaper dispatch loop and per-process JSON encoding of live events."""

import asyncio
import json

import pytest
from channels.exceptions import StopConsumer

from realtime.compat import dispatch_both
from realtime.groups import EncodedEvent, ReceivedEvents, event_message

EVENT = {"id": 3, "type": "tool_started", "timestamp": "2025-01-02T03:04:05.000Z", "instance_id": "orch-1",
         "data": {"tool_id": "t", "tool_name": "Bash", "input_summary": "ls"}}


def test_received_event_is_encoded_once_and_shared_by_equal_messages():
    received_event = ReceivedEvents().event
    message = event_message(dict(EVENT))
    event = received_event(message)
    assert isinstance(event, EncodedEvent)
    assert event == EVENT and event.text == json.dumps(EVENT)
    assert received_event(message) is event
    # channels-redis decodes a message per consumer: equal content shares the encoding too.
    assert received_event(event_message(json.loads(json.dumps(EVENT)))) is event
    other = received_event(event_message({**EVENT, "id": 4}))
    assert other is not event and json.loads(other.text)["id"] == 4


async def test_dispatch_both_dispatches_one_at_a_time_and_stops_on_stop_consumer():
    client, channel = asyncio.Queue(), asyncio.Queue()
    seen, running = [], []

    async def dispatch(message):
        running.append(message)
        assert len(running) == 1, "two dispatches at once"
        await asyncio.sleep(0.01)
        seen.append(message)
        running.remove(message)
        if message == "disconnect":
            raise StopConsumer()

    for m in ("connect", "event-1"):
        await (client if m == "connect" else channel).put(m)
    task = asyncio.ensure_future(dispatch_both(client.get, channel.get, dispatch))
    await asyncio.sleep(0.05)
    await channel.put("event-2")
    await asyncio.sleep(0.05)
    await client.put("disconnect")
    with pytest.raises(StopConsumer):
        await asyncio.wait_for(task, 1)
    assert seen == ["connect", "event-1", "event-2", "disconnect"]
