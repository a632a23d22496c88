"""`runserver` refuses a non-loopback address while reads are open, as `serve` does."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _runserver(addr: str, tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": "x" * 50,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ORCHESTRATOR_REPO_ROOT": str(tmp_path),
        **env,
    }
    environment.pop("ORCHESTRATOR_BIND_HOST", None)
    return subprocess.run(
        [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", addr],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=30,
    )


def test_runserver_on_all_interfaces_with_open_reads_is_refused(tmp_path):
    result = _runserver("0.0.0.0:0", tmp_path, ORCHESTRATOR_READS_REQUIRE_AUTH="0")
    assert result.returncode != 0
    assert "non-loopback" in result.stderr
    assert "Traceback" not in result.stderr
