"""The API reference says who may call each endpoint as the server decides it, in words a user reads."""

import json

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    return json.loads(client.get("/openapi.json").content)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_reads_under_the_read_rule_may_be_anonymous_and_everything_else_needs_a_credential(schema):
    anonymous_ok = {(method, path) for method, path, operation in operations(schema) if {} in operation["security"]}

    assert {("GET", "/health"), ("GET", "/api/plans"), ("GET", "/api/orchestrators/{id}/status"),
            ("GET", "/api/orchestrators/{id}/events-sse")} <= anonymous_ok
    # Commands, starts, the audit trail and webhooks always need a user with a permission.
    assert all(method == "GET" for method, _ in anonymous_ok)
    assert not {("GET", "/api/audit"), ("GET", "/api/webhooks")} & anonymous_ok
    for method, path, operation in operations(schema):
        assert {"tokenAuth": []} in operation["security"], (method, path)
    assert "ORCHESTRATOR_READS_REQUIRE_AUTH" in schema["info"]["description"]


def test_descriptions_name_no_code_and_no_internals(schema):
    texts = [schema["info"]["description"]]
    for _, _, operation in operations(schema):
        texts += [operation.get("summary", ""), operation.get("description", "")]
    for text in texts:
        for jargon in ("Mixin", "never reused", "pids", "over IPC", "seed's", "TaskInfo", "Serializer"):
            assert jargon not in text, (jargon, text)
