"""GET /api: the browsable API's front door links every collection, and every link leads somewhere."""

import json
from urllib.parse import urlsplit

import pytest


@pytest.mark.usefixtures("open_reads")
def test_api_root_links_every_collection_and_each_http_link_answers(control_client, repo):
    response = control_client.get("/api")

    assert response.status_code == 200
    links = json.loads(response.content)
    assert {"orchestrators", "plans", "webhooks", "audit", "events", "health", "openapi", "docs", "redoc"} <= set(links)
    assert links["events"] == "ws://testserver/api/events"
    for name, url in links.items():
        if url.startswith("ws"):
            continue
        assert control_client.get(urlsplit(url).path).status_code == 200, name


@pytest.mark.usefixtures("open_reads")
def test_api_root_is_a_clickable_page_in_the_browsable_api(client):
    response = client.get("/api/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'href="http://testserver/api/plans"' in response.content


@pytest.mark.usefixtures("repo_root")
def test_api_root_follows_the_read_rule_when_reads_are_closed(client, settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}

    response = client.get("/api")

    assert response.status_code in (401, 403)
    assert json.loads(response.content)["error"]["code"]
