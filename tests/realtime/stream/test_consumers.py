"""WebSocket consumers: snapshot first, then live events; activity filtering; heartbeat; clean leave."""

import asyncio
import gc

import pytest
from channels.layers import get_channel_layer

from api.serializers.orchestrators import OrchestratorSerializer
from realtime.groups import ALL_GROUP, instance_group

from ..conftest import INSTANCE, connected, publish, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = f"/api/orchestrators/{INSTANCE}/events"


async def test_snapshot_comes_first_with_the_current_status(instance):
    comm = await connected(EVENTS)
    frame = await comm.receive_json_from(3)
    assert frame["type"] == "snapshot" and frame["instance_id"] == INSTANCE
    status = frame["data"]["status"]
    assert status["instance_id"] == INSTANCE and status["completed_tasks"] == 1
    assert frame["data"]["last_event_id"] is None
    await comm.disconnect()


async def test_live_events_follow_in_order(orchestrator):
    comm = await connected(EVENTS)
    await comm.receive_json_from(3)
    events = [orchestrator.tool(), orchestrator.state("paused")]
    for event in events:
        await publish(event)
    frames = [await comm.receive_json_from(2) for _ in events]
    assert frames == [e.to_dict() for e in events]
    await comm.disconnect()


async def test_an_event_published_twice_is_delivered_once(orchestrator):
    comm = await connected(EVENTS)
    await comm.receive_json_from(3)
    first, second = orchestrator.tool(), orchestrator.tool()
    for event in (first, first, second, first, second):
        await publish(event)
    assert [(await comm.receive_json_from(2))["id"] for _ in range(2)] == [first.id, second.id]
    assert await comm.receive_nothing(0.1)
    await comm.disconnect()


async def test_activity_stream_carries_tool_events_only(orchestrator):
    comm = await connected(f"/api/orchestrators/{INSTANCE}/activity")
    await comm.receive_json_from(3)
    state = orchestrator.state("paused")
    tool = orchestrator.tool()
    await publish(state)
    await publish(tool)
    assert (await comm.receive_json_from(2))["type"] == "tool_started"
    assert await comm.receive_nothing(0.1)
    await comm.disconnect()


async def test_agent_text_is_on_the_events_stream_but_not_on_activity(orchestrator):
    events, activity = await connected(EVENTS), await connected(f"/api/orchestrators/{INSTANCE}/activity")
    await events.receive_json_from(3)
    await activity.receive_json_from(3)
    text = orchestrator.bus.emit("agent_text", INSTANCE, {"text": "Reading the loader.", "truncated": False,
                                                          "task_id": "1.2"})
    tool = orchestrator.tool()
    await publish(text)
    await publish(tool)
    assert await events.receive_json_from(2) == text.to_dict()
    assert (await events.receive_json_from(2))["type"] == "tool_started"
    assert (await activity.receive_json_from(2))["type"] == "tool_started"
    assert await activity.receive_nothing(0.1)
    await events.disconnect()
    await activity.disconnect()


async def test_events_of_other_instances_do_not_leak_in(orchestrator, repo):
    from ..conftest import Orchestrator

    other = Orchestrator(repo, "orch-other")
    comm = await connected(EVENTS)
    await comm.receive_json_from(3)
    await publish(other.tool())
    assert await comm.receive_nothing(0.1)
    await comm.disconnect()


async def test_all_instances_stream_starts_with_the_list_and_carries_every_instance(orchestrator, repo):
    from ..conftest import Orchestrator

    comm = await connected("/api/events")
    snapshot = await comm.receive_json_from(3)
    assert [o["id"] for o in snapshot["data"]["orchestrators"]] == [INSTANCE]
    other = Orchestrator(repo, "orch-other")
    await publish(orchestrator.tool())
    await publish(other.tool())
    frames = [await comm.receive_json_from(2) for _ in range(2)]
    assert [f["instance_id"] for f in frames] == [INSTANCE, "orch-other"]
    await comm.disconnect()


def live_serializers() -> int:
    gc.collect()
    return sum(isinstance(o, OrchestratorSerializer) for o in gc.get_objects())


async def test_a_quiet_stream_keeps_no_snapshot_alive(instance):
    """A thousand quiet dashboards must not hold a thousand snapshots (and their serializers)."""
    before = live_serializers()
    comm = await connected("/api/events")
    snapshot = await comm.receive_json_from(3)
    assert snapshot["type"] == "snapshot" and snapshot["data"]["orchestrators"]
    # The sender lets go of the snapshot right after its send returns, which may be a moment after the
    # frame reached us; a stream that kept it would keep it until it disconnects.
    await wait_for(lambda: live_serializers() <= before, timeout=5, interval=0.05)
    await comm.disconnect()


async def test_unknown_instance_is_closed_with_4404(instance):
    comm = (await connected("/api/orchestrators/orch-nope/events"))
    assert (await comm.receive_output(2)) == {"type": "websocket.close", "code": 4404}


async def test_a_finished_instance_with_a_journal_can_still_be_replayed(orchestrator, repo):
    orchestrator.tool()
    repo.registry([])
    comm = await connected(EVENTS + "?since=0")
    snapshot = await comm.receive_json_from(3)
    assert snapshot["data"]["status"] is None and snapshot["data"]["error"]["code"] == "instance_not_found"
    assert (await comm.receive_json_from(2))["id"] == 1
    await comm.disconnect()


async def test_heartbeat_pings_and_closes_a_silent_client(instance, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "WS_HEARTBEAT_S": 0.1}
    comm = await connected(EVENTS)
    await comm.receive_json_from(3)
    assert (await comm.receive_json_from(1))["type"] == "ping"
    # Silent for two intervals: closed with 4408.
    while True:
        output = await comm.receive_output(1)
        if output["type"] == "websocket.close":
            break
    assert output["code"] == 4408


async def test_a_client_that_answers_pings_stays_connected(instance, settings):
    # Two unanswered intervals close a client: 0.5 s leaves a loaded machine room to deliver each pong.
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "WS_HEARTBEAT_S": 0.5}
    comm = await connected(EVENTS)
    await comm.receive_json_from(3)
    for _ in range(4):
        assert (await comm.receive_json_from(2))["type"] == "ping"
        await comm.send_json_to({"type": "pong"})
    await comm.disconnect()


async def test_disconnect_leaves_the_group(instance):
    layer = get_channel_layer()
    comm = await connected(EVENTS)
    await comm.receive_json_from(3)
    assert layer.groups.get(instance_group(INSTANCE))
    await comm.disconnect()
    assert not layer.groups.get(instance_group(INSTANCE))
    comm = await connected("/api/events")
    await comm.receive_json_from(3)
    await comm.disconnect()
    assert not layer.groups.get(ALL_GROUP)


async def test_disconnect_stops_the_connection_tasks(instance):
    before = len(asyncio.all_tasks())
    comm = await connected(EVENTS)
    await comm.receive_json_from(3)
    await comm.disconnect()
    await asyncio.sleep(0.05)
    assert len(asyncio.all_tasks()) <= before


async def test_all_instances_stream_ignores_since(orchestrator):
    orchestrator.tool()
    comm = await connected("/api/events?since=5")
    assert (await comm.receive_json_from(3))["type"] == "snapshot"
    assert await comm.receive_nothing(0.1)
    await comm.disconnect()


async def test_snapshot_is_the_rest_status_shape(instance, client):
    comm = await connected(EVENTS)
    frame = await comm.receive_json_from(3)
    await comm.disconnect()
    from asgiref.sync import sync_to_async

    rest = (await sync_to_async(client.get)(f"/api/orchestrators/{INSTANCE}/status")).json()
    assert set(frame["data"]["status"]) == set(rest)


async def test_a_journaled_instance_is_known_while_the_registry_is_garbage(orchestrator, repo):
    orchestrator.tool()
    repo.registry(raw="{garbage")
    comm = await connected(EVENTS + "?since=0")
    assert (await comm.receive_json_from(3))["data"]["error"]["code"] == "registry_unavailable"
    assert (await comm.receive_json_from(2))["id"] == 1
    await comm.disconnect()


async def test_events_of_an_instance_with_an_odd_id_pass_through_the_all_stream(instance):
    from orchestrator.events import Event

    comm = await connected("/api/events")
    await comm.receive_json_from(3)
    odd = Event(1, "tool_started", "t", "../odd", {"tool_id": "t", "tool_name": "B", "input_summary": ""})
    second = Event(3, "tool_started", "t", "../odd", {"tool_id": "t", "tool_name": "B", "input_summary": ""})
    await publish(odd)
    await publish(second)  # a hole, and no journal can exist for this id
    frames = [await comm.receive_json_from(2) for _ in range(3)]
    assert [f["type"] for f in frames] == ["tool_started", "gap", "tool_started"]
    await comm.disconnect()


@pytest.mark.parametrize("path", [EVENTS, "/api/events"])
async def test_a_malformed_since_closes_with_4400_and_joins_no_group(instance, path):
    from ..conftest import communicator

    comm = communicator(path + "?since=%C2%B2")
    connected_, _ = await comm.connect(timeout=3)
    assert connected_
    assert await comm.receive_output(3) == {"type": "websocket.close", "code": 4400}
    await comm.wait(3)
    layer = get_channel_layer()
    assert not layer.groups


async def test_all_instances_snapshot_stays_one_bounded_frame_with_live_instances_first(repo):
    """A registry anyone may write can hold thousands of finished runs; the first frame must still fit
    daphne's 1 MiB message limit, lead with what is live and say how many it left to REST."""
    import subprocess

    from realtime.stream.snapshots import DASHBOARD_SNAPSHOT_MAX

    gone = subprocess.Popen(["true"])
    gone.wait()
    finished = [repo.instance(id=f"orch-{1700000000000 + n}", pid=gone.pid, status="stopped",
                              started_at=f"2025-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z")
                for n in range(DASHBOARD_SNAPSHOT_MAX + 200)]
    repo.registry([*finished, repo.instance(id=INSTANCE, started_at="2024-01-01T00:00:00Z")])

    comm = await connected("/api/events")
    snapshot = await comm.receive_json_from(5)

    listed = snapshot["data"]["orchestrators"]
    assert len(listed) == DASHBOARD_SNAPSHOT_MAX
    assert snapshot["data"]["omitted"] == 201
    assert listed[0]["id"] == INSTANCE  # live, though the oldest
    assert listed[1]["started_at"] >= listed[-1]["started_at"]  # then the newest finished ones
    await comm.disconnect()
