"""Who may open a stream: the REST read policy, told with close codes; origins outside the site refused."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from ..conftest import INSTANCE, communicator, connected

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = f"/api/orchestrators/{INSTANCE}/events"


@pytest.fixture
def reads_need_auth(settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}


@pytest.fixture
def token():
    user = get_user_model().objects.create_user("reader", password="x")
    return Token.objects.create(user=user).key


async def close_code(comm):
    output = await comm.receive_output(3)
    assert output["type"] == "websocket.close"
    return output["code"]


async def test_anonymous_is_refused_with_4401_when_reads_need_auth(instance, reads_need_auth):
    comm = await connected(EVENTS)
    assert await close_code(comm) == 4401


async def test_anonymous_is_refused_on_the_all_instances_stream_too(instance, reads_need_auth):
    comm = await connected("/api/events")
    assert await close_code(comm) == 4401


async def test_token_in_query_string_is_accepted(instance, reads_need_auth, token):
    comm = await connected(f"{EVENTS}?token={token}")
    assert (await comm.receive_json_from(3))["type"] == "snapshot"
    await comm.disconnect()


async def test_token_as_subprotocol_is_accepted_and_the_plain_protocol_echoed(instance, reads_need_auth, token):
    comm = communicator(EVENTS, subprotocols=["orchestrator-events", f"token.{token}"])
    ok, subprotocol = await comm.connect(3)
    assert ok and subprotocol == "orchestrator-events"
    assert (await comm.receive_json_from(3))["type"] == "snapshot"
    await comm.disconnect()


async def test_bad_token_is_refused_even_when_reads_are_open(instance):
    comm = await connected(f"{EVENTS}?token=not-a-token")
    assert await close_code(comm) == 4401


async def test_token_of_an_inactive_user_is_refused(instance, reads_need_auth, token):
    await Token.objects.select_related("user").aget(key=token)
    await get_user_model().objects.filter(username="reader").aupdate(is_active=False)
    comm = await connected(f"{EVENTS}?token={token}")
    assert await close_code(comm) == 4401


async def test_session_cookie_is_accepted(instance, reads_need_auth, client):
    from asgiref.sync import sync_to_async

    await sync_to_async(get_user_model().objects.create_user)("viewer", password="pw")
    assert await sync_to_async(client.login)(username="viewer", password="pw")
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    comm = await connected(EVENTS, headers=[(b"origin", b"http://localhost:3000"), (b"cookie", cookie)])
    assert (await comm.receive_json_from(3))["type"] == "snapshot"
    await comm.disconnect()


async def test_cross_origin_browser_is_refused_with_4403(instance):
    comm = await connected(EVENTS, headers=[(b"origin", b"http://evil.example")])
    assert await close_code(comm) == 4403


async def test_allowed_host_on_another_port_is_accepted(instance):
    comm = await connected(EVENTS, headers=[(b"origin", b"http://127.0.0.1:5173")])
    assert (await comm.receive_json_from(3))["type"] == "snapshot"
    await comm.disconnect()


async def test_client_without_origin_must_still_authenticate(instance, reads_need_auth):
    comm = await connected(EVENTS, headers=[])
    assert await close_code(comm) == 4401


@pytest.mark.parametrize("path", ["/api/nope", "/", "/api/orchestrators/x/events/extra", "/ws"])
async def test_an_unknown_path_is_closed_with_4404_without_a_traceback(instance, path, caplog):
    comm = await connected(path)
    assert await close_code(comm) == 4404
    assert not [r for r in caplog.records if r.exc_info]
