"""docs/architecture.md is the newcomer's map: every file and folder it names must exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `path/to/module.py` or `folder/` in backticks; dotted names (api.signals...) are not paths.
PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]*)`")


def named_paths(text: str) -> list[str]:
    return [match for match in PATH.findall(text) if not match.startswith(".claude/")]


def test_every_path_the_architecture_page_names_exists():
    names = named_paths((ROOT / "docs" / "architecture.md").read_text())
    assert len(names) > 50
    assert [name for name in names if not (ROOT / name).exists()] == []


def test_the_path_finder_sees_files_and_folders():
    assert named_paths("see `api/views/reads.py` and `realtime/stream/`, not `api.signals`") == [
        "api/views/reads.py", "realtime/stream/"]
