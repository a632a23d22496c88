"""The settings accessor: every key from the environment or its one default, and its value as a cache key."""

import importlib
from dataclasses import replace

import orchestrator_site.settings as site_settings
from common.conf import DEFAULTS, orchestrator_settings


def test_equal_settings_hash_alike_and_a_changed_one_is_another_key():
    current = orchestrator_settings()
    twin = replace(current)
    other = replace(current, repo_root=current.repo_root / "elsewhere")
    assert twin == current and hash(twin) == hash(current)
    assert other != current and {current: 1}.get(other) is None


def test_settings_take_every_orchestrator_key_from_the_environment(monkeypatch):
    """Each ORCHESTRATOR_<KEY> of DEFAULTS reaches settings.ORCHESTRATOR; the accessor ignores the others."""
    for key in DEFAULTS:
        monkeypatch.setenv(f"ORCHESTRATOR_{key}", f"env-{key}")
    monkeypatch.setenv("ORCHESTRATOR_NOT_A_KEY", "x")
    reloaded = importlib.reload(site_settings)
    try:
        assert {key: reloaded.ORCHESTRATOR.get(key) for key in DEFAULTS} == {key: f"env-{key}" for key in DEFAULTS}
    finally:
        monkeypatch.undo()
        importlib.reload(site_settings)


def test_unset_keys_take_the_documented_defaults_and_unknown_ones_are_ignored(settings):
    settings.ORCHESTRATOR = {"NOT_A_KEY": "x"}
    conf = orchestrator_settings()
    assert conf.stream_stall_s == float(DEFAULTS["STREAM_STALL_S"])
    assert conf.ws_queue_size == DEFAULTS["WS_QUEUE_SIZE"]
