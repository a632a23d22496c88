"""Fixtures of the hardening tests: a served fixture repository, a staff user with the control
permission and its token client, and the error-shape check every hostile request must pass."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.management.commands.create_local_user import GRANTED

INSTANCE = "orch-1700000000000"


@pytest.fixture
def helper_processes():
    """start(argv, ready, **popen): a helper process that prints `ready` once it holds what the test
    needs (a lock, a socket); every one started is killed at teardown."""
    processes = []

    def start(argv: list[str], ready: str, **popen) -> subprocess.Popen:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, **popen)
        processes.append(process)
        assert process.stdout.readline().strip() == ready
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait(5)


@pytest.fixture
def served(repo, settings):
    """`repo` served by the app: reads need a login (the production default), short IPC deadlines."""
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "REPO_ROOT": str(repo.root), "READS_REQUIRE_AUTH": "1",
                             "IPC_TIMEOUT": 0.3, "STATUS_IPC_TIMEOUT": 0.2, "EMBEDDED_BRIDGE": "0"}
    return repo


@pytest.fixture
def populated(served):
    """A plan with status, findings and an archived twin, and one registered live instance."""
    served.plan("alpha")
    served.status("alpha", states={"1.1": "completed", "1.2": {"status": "failed", "error": "boom"}})
    served.finding("alpha", "1.1", "# Findings\n\nAll good.\n")
    served.plan("alpha", archived=True)
    served.plan("beta")
    served.registry([served.instance(id=INSTANCE, plan_path="docs/plans/alpha.md")])
    return served


@pytest.fixture
def controller(db):
    """A staff user with the control permission, as `create_local_user` makes one."""
    user = get_user_model().objects.create_user("hardening", password="pw-hardening-123", is_staff=True)
    user.user_permissions.add(*(Permission.objects.get(content_type__app_label=app, codename=codename)
                                for app, codename in GRANTED))
    return user


@pytest.fixture
def token(controller) -> str:
    return Token.objects.get_or_create(user=controller)[0].key


@pytest.fixture
def api(token) -> APIClient:
    """Token client of the controller (pytest-django's own `client` fixture is a different thing)."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


@pytest.fixture
def anon(db) -> APIClient:
    return APIClient()


@pytest.fixture
def socket_dir():
    """Unix socket paths are limited to ~107 bytes, more than pytest's tmp_path leaves."""
    path = Path(tempfile.mkdtemp(prefix="hd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def assert_error_shape(response, *statuses: int) -> dict:
    """A JSON body {"error": {"code", "message", "details"}} with one of `statuses`; returns the error."""
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


SKIP = "/api/plans/alpha/tasks/1.2/skip"


def status_path(repo):
    return repo.layout.status_file("alpha", archived=False)


def assert_answers_json(response, *allowed_errors: int) -> None:
    """2xx, or one of the documented error statuses with the error shape; never a 500 or HTML."""
    if response.status_code < 300:
        assert response["Content-Type"].startswith("application/json")
    else:
        assert_error_shape(response, *allowed_errors)


@pytest.fixture
def tiny_disk(tmp_path, settings):
    """A 256 KiB tmpfs mounted for the test: a filesystem that really runs out of space."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'}); "
                    "test_disk_full_while_writing_status_keeps_the_old_file_and_answers_503_json simulates ENOSPC")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
