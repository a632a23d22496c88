"""Each copy of (or reliance on) library code in realtime.compat still matches the installed library."""

import importlib.metadata
import linecache
import sys

import pytest

from realtime import compat


def _installed(original: str) -> str:
    package = original.split(".")[0]
    try:
        return f"{package} {importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return package


@pytest.mark.parametrize("copy", compat.COPIES, ids=lambda copy: copy.original)
def test_the_copied_original_is_unchanged_in_the_installed_version(copy):
    assert compat.source_digest(copy.original) == copy.digest, (
        f"{copy.original} is not the code {copy.ours} was checked against ({_installed(copy.original)} is "
        f"installed). Re-check {copy.ours}: {copy.recheck}; then record compat.source_digest({copy.original!r}).")


def test_every_kind_of_internal_the_streams_lean_on_is_recorded():
    originals = {copy.original.split(":")[0] for copy in compat.COPIES}
    assert {"channels.consumer", "channels.utils", "channels.layers", "channels.security.websocket",
            "daphne.server", "twisted.internet.abstract"} <= originals


def test_a_changed_original_gets_another_digest(tmp_path, monkeypatch):
    module = tmp_path / "compat_probe.py"
    module.write_text("def original():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = compat.source_digest("compat_probe:original")
    module.write_text("def original():\n    return 2\n")
    sys.modules.pop("compat_probe", None)
    linecache.clearcache()
    assert compat.source_digest("compat_probe:original") != before
