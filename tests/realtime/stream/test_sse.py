"""SSE: the WebSocket's frames over a streaming GET, with ids, comment heartbeats and proxy-safe headers."""

import asyncio
import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from realtime.stream.sse import render

from ..conftest import INSTANCE, publish

pytestmark = pytest.mark.django_db(transaction=True)

PATH = f"/api/orchestrators/{INSTANCE}/events-sse"


class SSEClient:
    """Drives the ASGI app directly: HttpCommunicator would wait for the end of an endless body."""

    def __init__(self, path, headers=()):
        from orchestrator_site.asgi import application

        path, _, query = path.partition("?")
        scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": path, "raw_path": path.encode(),
                 "query_string": query.encode(), "root_path": "", "scheme": "http",
                 "headers": [(b"host", b"localhost"), *headers], "client": ("127.0.0.1", 1234),
                 "server": ("localhost", 80)}
        self.inbox = asyncio.Queue()
        self.outbox = asyncio.Queue()
        self.inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
        self.task = asyncio.ensure_future(application(scope, self.inbox.get, self.outbox.put))
        self.buffer = b""

    async def start(self):
        message = await asyncio.wait_for(self.outbox.get(), 3)
        assert message["type"] == "http.response.start"
        return message["status"], {k.decode().lower(): v.decode() for k, v in message["headers"]}

    async def body(self):
        message = await asyncio.wait_for(self.outbox.get(), 3)
        return message.get("body", b"")

    async def block(self, timeout=3):
        """The next SSE block (up to a blank line), as text."""
        while b"\n\n" not in self.buffer:
            message = await asyncio.wait_for(self.outbox.get(), timeout)
            self.buffer += message.get("body", b"")
        block, self.buffer = self.buffer.split(b"\n\n", 1)
        return block.decode()

    async def frame(self):
        while True:
            block = await self.block()
            data = [line[6:] for line in block.splitlines() if line.startswith("data: ")]
            if data:
                ids = [line[4:] for line in block.splitlines() if line.startswith("id: ")]
                return (int(ids[0]) if ids else None), json.loads(data[0])

    async def close(self):
        await self.inbox.put({"type": "http.disconnect"})
        await asyncio.wait_for(self.task, 3)


async def test_stream_headers_snapshot_then_events_with_ids(orchestrator):
    client = SSEClient(PATH)
    status, headers = await client.start()
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache" and headers["x-accel-buffering"] == "no"
    assert (await client.block()).startswith("retry: ")
    event_id, snapshot = await client.frame()
    assert event_id is None and snapshot["type"] == "snapshot"
    event = orchestrator.tool()
    await publish(event)
    assert await client.frame() == (event.id, event.to_dict())
    await client.close()


async def test_agent_text_travels_over_sse(orchestrator):
    client = SSEClient(PATH)
    await client.start()
    await client.block()  # retry
    await client.frame()  # snapshot
    event = orchestrator.bus.emit("agent_text", orchestrator.instance_id,
                                  {"text": "Running the tests now.", "truncated": False, "task_id": "2.1"})
    await publish(event)
    assert await client.frame() == (event.id, event.to_dict())
    await client.close()


async def test_last_event_id_replays_what_was_missed(orchestrator):
    events = [orchestrator.tool() for _ in range(3)]
    client = SSEClient(PATH, headers=[(b"last-event-id", str(events[0].id).encode())])
    await client.start()
    await client.frame()  # snapshot
    assert [(await client.frame())[0] for _ in range(2)] == [2, 3]
    await client.close()


async def test_heartbeat_is_a_comment(orchestrator, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "WS_HEARTBEAT_S": 0.05}
    client = SSEClient(PATH)
    await client.start()
    await client.frame()
    assert await client.block() == ": ping"
    await client.close()


async def test_disconnect_leaves_the_group(orchestrator):
    from channels.layers import get_channel_layer

    from realtime.groups import instance_group

    client = SSEClient(PATH)
    await client.start()
    await client.frame()
    assert get_channel_layer().groups.get(instance_group(INSTANCE))
    await client.close()
    assert not get_channel_layer().groups.get(instance_group(INSTANCE))


async def test_unknown_instance_is_a_json_404(instance):
    client = SSEClient("/api/orchestrators/orch-nope/events-sse")
    status, headers = await client.start()
    assert status == 404 and headers["content-type"] == "application/json"
    assert json.loads(await client.body())["error"]["code"] == "instance_not_found"


async def test_anonymous_is_a_json_401_when_reads_need_auth(instance, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}
    client = SSEClient(PATH)
    status, headers = await client.start()
    assert status == 401 and headers["www-authenticate"] == "Token"
    assert json.loads(await client.body())["error"]["code"] == "not_authenticated"


async def test_bad_token_header_is_a_json_401(instance):
    client = SSEClient(PATH, headers=[(b"authorization", b"Token nope")])
    status, _ = await client.start()
    assert status == 401
    assert json.loads(await client.body())["error"]["code"] == "authentication_failed"


async def test_token_header_and_token_query_are_accepted(instance, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}
    user = await get_user_model().objects.acreate(username="reader")
    key = (await Token.objects.acreate(user=user)).key
    for client in (SSEClient(PATH, headers=[(b"authorization", f"Token {key}".encode())]),
                   SSEClient(f"{PATH}?token={key}")):
        status, _ = await client.start()
        assert status == 200
        await client.close()


def test_openapi_documents_the_sse_path_under_events(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/orchestrators/{id}/events-sse"]["get"]
    assert operation["tags"] == ["Events"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"id", "since", "Last-Event-ID", "token"}


@pytest.mark.parametrize("headers, query", [
    ((), "?since=%C2%B2"),  # a Unicode digit: str.isdigit() says yes, int() says no
    ((), "?since=abc"),
    (((b"last-event-id", "²".encode("latin-1")),), ""),
    ((), "?since=" + "9" * 5000),
])
async def test_a_malformed_cursor_is_a_json_400_and_joins_no_group(instance, headers, query):
    from channels.layers import get_channel_layer

    client = SSEClient(PATH + query, headers=headers)
    status, headers = await client.start()
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(await client.body())["error"]["code"] == "invalid_cursor"
    await asyncio.wait_for(client.task, 3)
    layer = get_channel_layer()
    assert not layer.groups and not layer.channels


async def test_every_frame_names_its_type_in_an_event_line_and_keeps_the_json_envelope(orchestrator):
    client = SSEClient(PATH)
    await client.start()
    assert (await client.block()).startswith("retry: ")
    snapshot = (await client.block()).splitlines()
    assert snapshot[0] == "event: snapshot" and snapshot[1].startswith("data: ")
    event = orchestrator.tool()
    await publish(event)
    block = (await client.block()).splitlines()
    assert block == [f"id: {event.id}", "event: tool_started",
                     "data: " + json.dumps(event.to_dict(), separators=(",", ":"))]
    await client.close()


def test_a_frame_type_that_is_not_one_line_name_gets_no_event_line():
    frame = {"id": 7, "type": "task_changed\ndata: forged", "data": {}}
    lines = render(frame).decode().split("\n")
    assert lines[0] == "id: 7" and lines[1].startswith("data: ") and lines[2:] == ["", ""]
