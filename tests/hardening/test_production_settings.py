"""Security review, production settings: a per-install secret key, DEBUG off by default, and
`check --deploy` clean with the documented settings."""

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


# -- Production settings ---------------------------------------------------------------------

def _django(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `code` after django.setup() with the production settings module and exactly `env`."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
            "PYTHONPATH": str(PROJECT_ROOT)}
    script = "import django\ndjango.setup()\n" + code
    return subprocess.run([sys.executable, "-c", script], env={**base, **env}, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_first_run_without_a_key_writes_a_private_per_install_key_and_reuses_it(tmp_path):
    key_file = tmp_path / "var" / "secret_key"
    show = "from django.conf import settings\nprint(settings.DEBUG, settings.SECRET_KEY)"
    first = _django(show, {"DJANGO_SECRET_KEY_FILE": str(key_file)})
    second = _django(show, {"DJANGO_SECRET_KEY_FILE": str(key_file)})
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    debug, key = first.stdout.split()
    assert debug == "False" and len(key) >= 50 and not key.startswith("django-insecure")
    assert second.stdout == first.stdout
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temporary left


def test_the_environment_key_wins_over_the_key_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("from-the-file\n")
    result = _django("from django.conf import settings\nprint(settings.SECRET_KEY)",
                     {"DJANGO_SECRET_KEY": "from-the-environment", "DJANGO_SECRET_KEY_FILE": str(key_file)})
    assert result.stdout.strip() == "from-the-environment", result.stderr


def test_settings_refuse_to_load_when_no_key_can_be_had_and_debug_is_off(tmp_path):
    unwritable = tmp_path / "not-a-dir"
    unwritable.write_text("")
    result = _django("print('loaded')", {"DJANGO_SECRET_KEY_FILE": str(unwritable / "secret_key")})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr


def test_a_blocking_setting_is_one_clear_line_from_manage_py_not_a_traceback(tmp_path):
    unwritable = tmp_path / "not-a-dir"
    unwritable.write_text("")
    result = subprocess.run([sys.executable, "manage.py", "orchestrate", "--help"],
                            env={"PATH": os.environ.get("PATH", ""),
                                 "DJANGO_SECRET_KEY_FILE": str(unwritable / "secret_key")},
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "DJANGO_SECRET_KEY" in result.stderr and str(unwritable) in result.stderr


def test_debug_is_off_by_default_and_the_development_key_is_never_used_then():
    key = secrets.token_urlsafe(50)
    result = _django("from django.conf import settings\nprint(settings.DEBUG, settings.SECRET_KEY)",
                     {"DJANGO_SECRET_KEY": key})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", key]


def test_debug_server_that_cannot_write_a_key_uses_the_marked_insecure_development_key(tmp_path):
    unwritable = tmp_path / "not-a-dir"
    unwritable.write_text("")
    result = _django("from django.conf import settings\nprint(settings.SECRET_KEY)",
                     {"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY_FILE": str(unwritable / "secret_key")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("django-insecure-")


def documented_production_env() -> dict[str, str]:
    """The KEY=value lines of the production block in docs/deployment.md, with a fresh secret key."""
    text = (PROJECT_ROOT / "docs" / "deployment.md").read_text()
    block = text.split("<!-- production-env", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    env = dict(line.split("=", 1) for line in block.strip().splitlines())
    assert env["DJANGO_SECRET_KEY"].startswith("<")  # a placeholder: real keys are never committed
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


@pytest.mark.slow
def test_check_deploy_passes_with_the_documented_production_settings(tmp_path):
    env = {**documented_production_env(), "ORCHESTRATOR_REPO_ROOT": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            env={"PATH": os.environ.get("PATH", ""), **env}, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_bare_defaults():
    """Without the documented HTTPS settings, --deploy must complain: the test above is not vacuous."""
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            env={"PATH": os.environ.get("PATH", ""), "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)},
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # HSTS unset
