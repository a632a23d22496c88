"""The default read rule is decided per request from the connection: open on a DEBUG server to local clients only.

Found in the red-team pass: `DJANGO_DEBUG=1 daphne -b 0.0.0.0` (or gunicorn) served every
read to the network, because the rule looked at where the serve commands meant to bind
(ORCHESTRATOR["BIND_HOST"], never set by daphne or gunicorn themselves).
"""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from common.permissions import may_read
from tests.clients import make_user, token_client

pytestmark = pytest.mark.django_db(transaction=True)

LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000"}
REMOTE_PEER = {"REMOTE_ADDR": "192.0.2.5", "HTTP_HOST": "127.0.0.1:8000"}  # any client may send that Host
PROXIED = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "orchestrator.example.com"}  # a local reverse proxy
READS = ["/api/plans", "/api/orchestrators", "/api/plans/alpha/findings", "/health"]


@pytest.fixture
def debug_server(repo_root, settings):
    """A DEBUG server with the default read policy, as `DJANGO_DEBUG=1 daphne -b 0.0.0.0` runs it."""
    repo_root.plan("alpha")
    repo_root.finding("alpha", "1.1", "# Findings\n")
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "orchestrator.example.com"]
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "", "BIND_HOST": "127.0.0.1"}
    return repo_root


@pytest.mark.parametrize("url", READS)
def test_a_local_client_of_a_debug_server_reads_anonymously(debug_server, url):
    assert Client().get(url, **LOCAL).status_code == 200


@pytest.mark.parametrize("connection", [REMOTE_PEER, PROXIED], ids=["remote-peer", "through-a-proxy"])
@pytest.mark.parametrize("url", READS)
def test_anyone_else_needs_a_login_whatever_the_bind_setting_says(debug_server, url, connection):
    response = Client().get(url, **connection)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_signed_in_remote_client_reads(debug_server):
    assert token_client(make_user("reader")).get("/api/plans", **REMOTE_PEER).status_code == 200


def test_a_server_without_debug_needs_a_login_even_locally(debug_server, settings):
    settings.DEBUG = False

    assert Client().get("/api/plans", **LOCAL).status_code == 401


def test_the_dashboard_follows_the_same_rule(debug_server):
    assert Client().get("/", **LOCAL).status_code == 200
    assert Client().get("/", **REMOTE_PEER).status_code == 302  # to the login page


def test_the_sse_stream_follows_the_same_rule(debug_server):
    debug_server.registry([debug_server.instance(id="orch-1700000000000", plan_path="docs/plans/alpha.md")])

    response = Client().get("/api/orchestrators/orch-1700000000000/events-sse", **REMOTE_PEER)

    assert response.status_code == 401


@pytest.mark.parametrize(("client", "host", "opened"), [
    (["127.0.0.1", 5000], b"127.0.0.1:8000", True),
    (["192.0.2.5", 5000], b"127.0.0.1:8000", False),
    (["127.0.0.1", 5000], b"orchestrator.example.com", False),
])
async def test_websockets_follow_the_same_rule(debug_server, client, host, opened):
    from orchestrator_site.asgi import application

    debug_server.registry([debug_server.instance(id="orch-1700000000000", plan_path="docs/plans/alpha.md")])
    comm = WebsocketCommunicator(application, "/api/events", headers=[(b"host", host), (b"origin", b"http://" + host)])
    comm.scope["client"] = client
    connected, _ = await comm.connect(timeout=3)
    if opened:
        assert connected and (await comm.receive_json_from(3))["type"] == "snapshot"
    else:
        assert (await comm.receive_output(3))["code"] == 4401
    await comm.disconnect()


@pytest.mark.parametrize("policy", ["0", "1"])
def test_an_explicit_policy_holds_for_every_connection(debug_server, settings, policy):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": policy}

    for connection in (LOCAL, REMOTE_PEER, PROXIED):
        assert may_read(None, peer=connection["REMOTE_ADDR"], host=connection["HTTP_HOST"]) is (policy == "0")
