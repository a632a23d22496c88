"""IdentityCache: a parse is reused while its file is unchanged, at the cost of one os.stat."""

import os
import time

import pytest

from orchestrator.filecache import IdentityCache


def parse_text(data, st, crc):
    return data.decode()


def test_cache_keeps_at_most_maxsize_files(tmp_path):
    cache = IdentityCache(maxsize=2)
    for name in "abc":
        (tmp_path / name).write_text(name)
        cache.load(tmp_path / name, parse_text)
    assert len(cache) == 2


def test_cache_hit_on_a_quiet_file_costs_one_stat_and_no_read(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_text("one")
    old = time.time() - 30
    os.utime(path, (old, old))
    cache = IdentityCache()
    assert cache.load(path, parse_text) == "one"
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: stats.append(a) or real_stat(*a, **k))
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("re-read a cached file"))
    assert cache.load(path, parse_text) == "one"
    assert len(stats) == 1


def test_cache_forgets_deleted_files(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    cache = IdentityCache()
    cache.load(path, parse_text)
    path.unlink()
    assert cache.load(path, parse_text) is None
    assert len(cache) == 0


def test_a_file_rewritten_within_its_timestamp_tick_is_parsed_again(tmp_path):
    """Same size, same mtime, other bytes: only the content tells, so a recent file is compared by it."""
    path = tmp_path / "f"
    path.write_text("one")
    cache = IdentityCache()
    assert cache.load(path, parse_text) == "one"
    st = os.stat(path)
    path.write_text("two")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    assert cache.load(path, parse_text) == "two"
