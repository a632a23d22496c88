"""CORS for a dashboard on another origin (a Next.js app) that signs in with the session cookie."""

import pytest

pytestmark = pytest.mark.django_db

ALLOWED = "http://localhost:3000"


def test_configured_origin_may_send_credentials(open_reads, client):
    open_reads.plan("alpha")

    response = client.get("/api/plans", HTTP_ORIGIN=ALLOWED)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED  # echoed: "*" is refused with credentials
    assert response["Access-Control-Allow-Credentials"] == "true"


def test_preflight_of_a_command_allows_credentials(client):
    response = client.options("/api/orchestrators/orch-1/pause", HTTP_ORIGIN=ALLOWED,
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                              HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-csrftoken")

    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "x-csrftoken" in response["Access-Control-Allow-Headers"]


def test_other_origins_get_no_cors_headers(open_reads, client):
    open_reads.plan("alpha")

    response = client.get("/api/plans", HTTP_ORIGIN="https://evil.example")

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Credentials" not in response
