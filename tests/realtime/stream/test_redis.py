"""With REDIS_URL: several server processes and orchestrators share events through a real redis-server."""

import asyncio
import json

import pytest
from channels_redis.core import RedisChannelLayer

from bench.ws_client import WSClient, WSClosed
from realtime.bridge.publish import LayerPublisher
from realtime.groups import event_message, instance_group

from ..conftest import INSTANCE, DaphneServer, Orchestrator, RedisServer, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]

EVENTS = f"/api/orchestrators/{INSTANCE}/events"


def redis_layer(url):
    """As settings.CHANNEL_LAYERS builds it for REDIS_URL."""
    return RedisChannelLayer(hosts=[{"address": url, "socket_timeout": 15, "socket_connect_timeout": 2}],
                             capacity=1000, group_expiry=300)


@pytest.fixture
def publishing(repo, instance):
    """An orchestrator in this process whose bus is journaled and published (as `orchestrate` does)."""
    orchestrator = Orchestrator(repo)
    publishers = []

    def attach(url):
        publisher = LayerPublisher(redis_layer(url))
        publisher.attach(orchestrator.bus)
        publishers.append(publisher)
        return publisher

    orchestrator.attach = attach
    yield orchestrator
    for publisher in publishers:
        publisher.close()


@pytest.fixture
def servers(repo, redis_server):
    started = []

    def start(n=1, url=None, env=None):
        for _ in range(n):
            started.append(DaphneServer(repo.root, redis_url=url or redis_server.url, extra_env=env))
        return started[-n:]

    yield start
    for server in started:
        server.stop()


async def until_event(client, timeout=5):
    while True:
        frame = await next_frame(client, timeout)
        if "id" in frame:
            return frame


async def next_frame(client, timeout):
    """The next frame, answering pings as a browser client would."""
    while True:
        frame = await client.receive_json(timeout)
        if frame["type"] != "ping":
            return frame
        await client.send_json({"type": "pong"})


async def test_an_event_published_in_one_process_reaches_clients_of_two_servers(publishing, servers,
                                                                               redis_server):
    first, second = servers(2)
    publisher = publishing.attach(redis_server.url)
    clients = [await WSClient.connect(server.url(EVENTS)) for server in (first, second)]
    for client in clients:  # a stream joins its group before it sends its snapshot
        assert (await client.receive_json(10))["type"] == "snapshot"
    event = publishing.tool()
    assert publisher.flush(5)
    for client in clients:
        assert await until_event(client) == event.to_dict()
        await client.close()


async def test_redis_outage_rest_keeps_serving_and_streams_resume_without_holes(repo, publishing, servers,
                                                                               tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        (server,) = servers(1, redis.url)
        publisher = publishing.attach(redis.url)
        client = await WSClient.connect(server.url(EVENTS))
        await client.receive_json(10)  # the snapshot: its group joined
        before = publishing.tool()
        publisher.flush(5)
        assert (await until_event(client))["id"] == before.id

        redis.stop()
        missed = [publishing.tool() for _ in range(3)]  # must neither raise nor block
        publisher.flush(10)
        assert server.get("/health")[0] == 200
        assert server.get("/api/orchestrators")[0] == 200
        with pytest.raises((WSClosed, asyncio.TimeoutError)):
            await until_event(client, timeout=3)
        await client.close()

        redis.start()
        last = before.id
        for _ in range(50):  # a client's reconnect loop
            try:
                client = await WSClient.connect(server.url(f"{EVENTS}?since={last}"))
                frame = await client.receive_json(5)
                if frame["type"] == "snapshot":
                    break
            except (WSClosed, OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.2)
        replayed = [await until_event(client) for _ in missed]
        assert [f["id"] for f in replayed] == [e.id for e in missed]
        after = publishing.tool()
        publisher.flush(5)
        assert (await until_event(client))["id"] == after.id
        await client.close()
        assert server.process.poll() is None
    finally:
        redis.stop()


async def test_a_slow_consumer_loses_nothing_silently_in_a_burst_beyond_capacity(publishing, servers,
                                                                                redis_server):
    # Heartbeats are when a stream looks for events the layer dropped at the end of a burst.
    (server,) = servers(1, env={"ORCHESTRATOR_WS_HEARTBEAT_S": "2"})
    publisher = publishing.attach(redis_server.url)
    client = await WSClient.connect(server.url(EVENTS))
    await client.receive_json(10)  # the snapshot: its group joined
    burst = [publishing.tool() for _ in range(3000)]
    # Not reading until the whole burst is in Redis, past the channel's capacity of 1,000.
    assert await asyncio.to_thread(publisher.flush, 20)
    covered: set[int] = set()
    while max(covered, default=0) < burst[-1].id:
        frame = await next_frame(client, 10)
        if frame["type"] == "gap":
            covered.update(range(frame["data"]["from_id"], frame["data"]["to_id"] + 1))
        elif "id" in frame:
            covered.add(frame["id"])
    assert covered >= {e.id for e in burst}
    await client.close()


async def test_during_a_redis_outage_streams_close_with_4503_and_handshakes_are_accepted_then_closed(
        instance, servers, tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        (server,) = servers(1, redis.url)
        streaming = await WSClient.connect(server.url(EVENTS))
        assert (await streaming.receive_json(10))["type"] == "snapshot"
        redis.stop()
        with pytest.raises(WSClosed) as closed:
            await until_event(streaming, timeout=20)
        assert closed.value.code == 4503
        for path in (EVENTS, "/api/events"):
            late = await WSClient.connect(server.url(path))  # an HTTP 500 would raise here
            with pytest.raises(WSClosed) as closed:
                await next_frame(late, 10)
            assert closed.value.code == 4503
        assert "Traceback" not in server.log_path.read_text()
    finally:
        redis.stop()


async def _sse_data_lines(server, path):
    """The `data:` payloads of an SSE response read off a plain socket (chunk-size lines skipped)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    lines = asyncio.Queue()

    async def pump():
        while line := await reader.readline():
            if line.startswith(b"data: "):
                lines.put_nowait(json.loads(line[6:]))

    task = asyncio.ensure_future(pump())
    return lines, task, writer


async def test_an_open_sse_stream_outlives_a_redis_outage_and_is_live_again_after_it(instance, servers, tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    task = writer = None
    try:
        (server,) = servers(1, redis.url, env={"ORCHESTRATOR_WS_HEARTBEAT_S": "1"})
        frames, task, writer = await _sse_data_lines(server, f"/api/orchestrators/{INSTANCE}/events-sse")
        assert (await asyncio.wait_for(frames.get(), 10))["type"] == "snapshot"
        redis.stop()
        # The stream's heartbeat (1 s) has met the outage: its layer receive is failing too.
        await wait_for(lambda: "Could not renew membership" in server.log_path.read_text(), timeout=10)
        redis.start()
        layer = redis_layer(redis.url)
        # Never journaled, so only the live path can bring it (a heartbeat's catch-up reads the journal).
        for event_id in range(1000, 1100):
            event = {"id": event_id, "type": "tool_started", "timestamp": "2025-01-02T03:04:05.000Z",
                     "instance_id": INSTANCE, "data": {"tool_id": "t", "tool_name": "Bash", "input_summary": ""}}
            await layer.group_send(instance_group(INSTANCE), event_message(event))
            try:
                frame = await asyncio.wait_for(frames.get(), 0.3)
                break
            except asyncio.TimeoutError:
                continue
        else:
            raise AssertionError("no live event reached the SSE stream after the outage")
        assert frame["id"] >= 1000
        assert "Traceback" not in server.log_path.read_text()
    finally:
        if task is not None:
            task.cancel()
            writer.close()
        redis.stop()
