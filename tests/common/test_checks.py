"""The bind-address system check: loopback is always fine, a network address needs closed reads."""

from django.core.checks import Error, Warning, run_checks

from common.checks import serving_errors


def _ids(messages):
    return sorted(message.id for message in messages)


def test_loopback_with_open_reads_is_fine(settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "0"}
    assert serving_errors("127.0.0.1") == []


def test_network_address_with_open_reads_is_an_error(settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "0"}
    messages = serving_errors("0.0.0.0")
    assert _ids(messages) == ["api.E002"]
    assert isinstance(messages[0], Error)


def test_network_address_with_default_read_policy_is_fine(settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": ""}
    settings.DEBUG = True
    # The default closes reads off loopback, even on a DEBUG server; DEBUG itself is only a warning.
    messages = serving_errors("0.0.0.0")
    assert _ids(messages) == ["api.W001"]
    assert isinstance(messages[0], Warning)


def test_network_address_without_authentication_classes_is_an_error(settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "1"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_AUTHENTICATION_CLASSES": []}
    assert _ids(serving_errors("10.1.2.3")) == ["api.E001"]


def test_the_deployment_check_reads_the_configured_bind_host(settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "BIND_HOST": "192.168.1.5", "READS_REQUIRE_AUTH": "off"}
    assert "api.E002" in _ids(run_checks())
