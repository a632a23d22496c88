"""Through the real event bridge: the bridge's process sends, and a hanging receiver holds up no stream."""

import asyncio
import json

import pytest
from channels.layers import get_channel_layer

from notifications.models import Delivery
from notifications.observer import dispatcher
from notifications.services import webhook_create
from realtime.bridge.bridge import EventBridge
from realtime.groups import ALL_GROUP
from tests.realtime.conftest import Orchestrator

from .helpers import INSTANCE, read

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.compat.FanoutInMemoryChannelLayer",
                                           "CONFIG": {"capacity": 1000, "group_expiry": 3600}}}


@pytest.fixture
def orchestrator(repo):
    repo.plan("alpha")
    repo.status("alpha")
    repo.registry([repo.instance(id=INSTANCE, plan_path="docs/plans/alpha.md")])
    orchestrator = Orchestrator(repo)
    orchestrator.state("running")  # its journal exists: the bridge tails it rather than adopting the instance
    return orchestrator


def fail(orchestrator, task_id):
    return orchestrator.bus.emit("task_changed", INSTANCE, {
        "task_id": task_id, "description": "Step", "old_status": "in_progress", "new_status": "failed",
        "phase": "Phase 1"})


async def running_bridge(repo):
    bridge, stop = EventBridge(repo.layout, poll_interval=0.05), asyncio.Event()
    task = asyncio.ensure_future(bridge.run(stop))
    await asyncio.sleep(0.1)  # watch set up
    return stop, task


async def test_a_task_failure_journaled_by_an_orchestrator_is_posted_by_the_bridge(repo, orchestrator, receiver):
    hook = receiver()
    await asyncio.to_thread(webhook_create, url=hook.url, kinds=["task_failed"], plan="alpha")
    stop, task = await running_bridge(repo)
    try:
        event = fail(orchestrator, "1.1")
        [request] = await asyncio.to_thread(hook.wait_for, 1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert json.loads(request.body)["id"] == event.id


async def test_a_hanging_receiver_does_not_hold_up_the_streams(repo, orchestrator, receiver):
    """Every event reaches a stream subscriber while the receiver still holds the first POST open
    (the figures, how much later if at all, are bench/webhook_latency.py's)."""
    hook = receiver(hang=True)
    await asyncio.to_thread(webhook_create, url=hook.url, kinds=["task_failed"])
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(ALL_GROUP, channel)
    stop, task = await running_bridge(repo)
    try:
        sent = [fail(orchestrator, f"1.{n}") for n in range(1, 31)]
        received = [(await asyncio.wait_for(layer.receive(channel), 5))["event"]["id"] for _ in sent]
        assert received == [event.id for event in sent]
        await asyncio.to_thread(hook.wait_for, 1)
        # The receiver has answered nothing yet; the rest wait in the database, not in the bridge.
        assert not await asyncio.to_thread(read, lambda: Delivery.objects.exclude(state=Delivery.State.PENDING).exists())
        assert dispatcher().running
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
