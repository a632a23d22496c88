"""The apps stand on each other in one direction: each imports only the layers below it.

Bottom to top: the core (`orchestrator`, no Django at all), `common` (server plumbing), `api`,
`realtime`, `dashboard`, `notifications`, `serving` (process commands and the HTTP wrappers),
and the project package `orchestrator_site`, which nothing imports. Imports inside functions
count too: a lazy import is still an arrow.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["orchestrator", "common", "api", "realtime", "dashboard", "notifications", "serving", "orchestrator_site"]
THIRD_PARTY_BANNED_IN_CORE = {"django", "rest_framework", "channels", "daphne", "drf_spectacular"}


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _modules(app: str):
    return sorted(path for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts)


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_only_the_layers_below_it(app):
    allowed = set(LAYERS[: LAYERS.index(app) + 1])
    upward = [f"{path.relative_to(ROOT)}:{line} imports {name}"
              for path in _modules(app) for line, name in _imports(path)
              if name.split(".")[0] in LAYERS and name.split(".")[0] not in allowed]
    assert upward == []


def test_the_core_imports_no_django():
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in _modules("orchestrator") for line, name in _imports(path)
             if name.split(".")[0] in THIRD_PARTY_BANNED_IN_CORE]
    assert found == []


def test_the_layer_list_names_every_app_of_ours():
    """A new app must be placed in LAYERS (and INSTALLED_APPS), or this test would not see it."""
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench", "clients", "docs"}
    assert packages <= set(LAYERS)


def test_the_checker_sees_an_upward_import(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("def later():\n    from serving.replay import ReplayASGI\n")
    assert [name for _, name in _imports(module)] == ["serving.replay"]


def test_realtime_reaches_into_api_only_through_its_read_model_and_signals():
    """The snapshot a stream sends first is the REST read exactly (its selectors and serializers), and a
    request tells the streams what it changed by a signal; nothing else of api's is realtime's business."""
    public = ("api.selectors.", "api.serializers.", "api.signals")
    reached = [f"{path.relative_to(ROOT)}:{line} imports {name}"
               for path in _modules("realtime") for line, name in _imports(path)
               if name.split(".")[0] == "api" and not name.startswith(public)]
    assert reached == []
