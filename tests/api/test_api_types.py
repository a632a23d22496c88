"""The committed OpenAPI schema and TypeScript types match the live API, and the TypeScript client compiles.

The schema comparison is pure Python and always runs; the TypeScript checks need Node.js
(present in CI) and skip, saying why, where it is missing or `npm ci` cannot reach a registry.
"""

import json
import shutil
import subprocess

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from api.management.commands.export_api_types import (
    CLIENT_DIR,
    SCHEMA_FILE,
    TYPES_FILE,
    build_schema,
    ensure_node_modules,
    generate_types,
    stale_diff,
)

TSC = settings.BASE_DIR / "node_modules" / ".bin" / "tsc"
FIX = "Run `python manage.py export_api_types` and commit clients/typescript/."


def test_committed_openapi_schema_matches_the_live_schema():
    diff = stale_diff(SCHEMA_FILE, build_schema())

    assert not diff, f"{FIX}\n{diff}"


def test_every_operation_parameter_and_response_is_documented_with_examples():
    schema = json.loads(build_schema())
    tags = {tag["name"] for tag in schema["tags"]}
    problems = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            if not operation.get("tags") or not set(operation["tags"]) <= tags:
                problems.append(f"{where}: tags {operation.get('tags')}")
            if not operation.get("summary"):
                problems.append(f"{where}: no summary")
            problems += [f"{where}: parameter {p['name']} undescribed"
                         for p in operation.get("parameters", []) if not p.get("description")]
            for code, response in operation["responses"].items():
                contents = (response.get("content") or {}).values()
                if contents and not any("examples" in content for content in contents):
                    problems.append(f"{where}: {code} has no example")

    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def node_modules():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not installed: the TypeScript checks run where they are (CI).")
    try:
        ensure_node_modules()
    except CommandError as exc:
        pytest.skip(f"`npm ci` could not install openapi-typescript/typescript (offline?): {exc}")


@pytest.mark.timeout(300)
def test_committed_typescript_types_match_the_committed_schema(node_modules, tmp_path):
    generate_types(SCHEMA_FILE, tmp_path / "api-types.ts")

    diff = stale_diff(TYPES_FILE, (tmp_path / "api-types.ts").read_text(encoding="utf-8"))
    assert not diff, f"{FIX}\n{diff}"


@pytest.mark.timeout(300)
def test_typescript_client_events_and_example_compile(node_modules):
    completed = subprocess.run(
        [str(TSC), "--noEmit", "-p", str(CLIENT_DIR / "tsconfig.json")],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=240, check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_check_mode_reports_a_stale_schema(monkeypatch, tmp_path):
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    monkeypatch.setattr("api.management.commands.export_api_types.SCHEMA_FILE", stale)

    with pytest.raises(CommandError, match="Stale generated files"):
        call_command("export_api_types", "--check", "--schema-only")
