"""The replay's system check: MIDDLEWARE it cannot honour on replayed reads is reported."""

from django.core.management import call_command
from django.core.management.base import SystemCheckError

import pytest

from serving.checks import check_replay_honours_middleware


def test_the_projects_middleware_is_all_known_to_the_replay():
    assert check_replay_honours_middleware() == []


def test_a_new_middleware_is_reported_until_someone_says_why_it_is_safe(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "example.middleware.RequestCounter"]

    [warning] = check_replay_honours_middleware()

    assert warning.id == "serving.W001" and "example.middleware.RequestCounter" in warning.msg


def test_settings_that_make_a_response_depend_on_headers_outside_the_key_are_reported(settings):
    settings.DISALLOWED_USER_AGENTS = ["badbot"]
    settings.USE_X_FORWARDED_HOST = True

    assert [message.id for message in check_replay_honours_middleware()] == ["serving.W002", "serving.W003"]


def test_manage_py_check_runs_it(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "example.middleware.RequestCounter"]

    with pytest.raises(SystemCheckError, match="serving.W001"):
        call_command("check", "--fail-level", "WARNING")
