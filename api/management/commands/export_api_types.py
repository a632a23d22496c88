"""`export_api_types`: the OpenAPI schema and the TypeScript types generated from it, in one step.

The Next.js client compiles against clients/typescript/api-types.ts, so the file is committed
and regenerated with this command whenever an endpoint changes; `--check` (run by the tests)
fails instead of writing when either file is out of date.
"""

import difflib
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

CLIENT_DIR = Path(settings.BASE_DIR) / "clients" / "typescript"
SCHEMA_FILE = CLIENT_DIR / "openapi.json"
TYPES_FILE = CLIENT_DIR / "api-types.ts"
OPENAPI_TYPESCRIPT = Path(settings.BASE_DIR) / "node_modules" / ".bin" / "openapi-typescript"
NODE_TIMEOUT_S = 300


def build_schema() -> str:
    """The schema exactly as /openapi.json serves it, rendered the same way every time."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenApiJsonRenderer().render(schema, renderer_context={}).decode("utf-8") + "\n"


def ensure_node_modules() -> None:
    """Install the pinned openapi-typescript and typescript from package-lock.json if they are missing."""
    if OPENAPI_TYPESCRIPT.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise CommandError("npm is not installed: install Node.js 18+ to generate the TypeScript types.")
    run([npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"], "npm ci")


def generate_types(schema_file: Path, types_file: Path) -> None:
    ensure_node_modules()
    # By default openapi-typescript makes every field with a default required, which would
    # force clients to send request fields the server fills in itself (a skip's `reason`).
    argv = [str(OPENAPI_TYPESCRIPT), str(schema_file), "--default-non-nullable=false", "--output", str(types_file)]
    run(argv, "openapi-typescript")


def run(argv: list[str], what: str) -> None:
    try:
        completed = subprocess.run(
            argv, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=NODE_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandError(f"{what} failed: {exc}") from None
    if completed.returncode != 0:
        raise CommandError(f"{what} failed ({completed.returncode}):\n{completed.stderr or completed.stdout}")


def stale_diff(committed: Path, fresh: str) -> str:
    """A short unified diff, empty when the committed file is current."""
    old = committed.read_text(encoding="utf-8") if committed.exists() else ""
    if old == fresh:
        return ""
    lines = difflib.unified_diff(old.splitlines(True), fresh.splitlines(True), str(committed), "generated", n=1)
    return "".join(list(lines)[:60])


class Command(BaseCommand):
    help = (
        "Write clients/typescript/openapi.json from the live schema and regenerate "
        "clients/typescript/api-types.ts with the pinned openapi-typescript (runs `npm ci` first if needed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Fail if a committed file is stale; write nothing.")
        parser.add_argument(
            "--schema-only", action="store_true", help="Only the OpenAPI schema (for machines without Node.js).",
        )

    def handle(self, *args, check, schema_only, **options):
        schema = build_schema()
        if check:
            self._check(schema, schema_only)
            return
        CLIENT_DIR.mkdir(parents=True, exist_ok=True)
        SCHEMA_FILE.write_text(schema, encoding="utf-8")
        self.stdout.write(f"wrote {SCHEMA_FILE}")
        if not schema_only:
            generate_types(SCHEMA_FILE, TYPES_FILE)
            self.stdout.write(f"wrote {TYPES_FILE}")

    def _check(self, schema: str, schema_only: bool) -> None:
        problems = [diff for diff in [stale_diff(SCHEMA_FILE, schema)] if diff]
        if not schema_only:
            with tempfile.TemporaryDirectory() as tmp:
                schema_file, types_file = Path(tmp) / "openapi.json", Path(tmp) / "api-types.ts"
                schema_file.write_text(schema, encoding="utf-8")
                generate_types(schema_file, types_file)
                problems += [diff for diff in [stale_diff(TYPES_FILE, types_file.read_text(encoding="utf-8"))] if diff]
        if problems:
            raise CommandError(
                "Stale generated files; run `python manage.py export_api_types` and commit the result.\n"
                + "\n".join(problems)
            )
        self.stdout.write("openapi.json" + ("" if schema_only else " and api-types.ts") + " are current")
