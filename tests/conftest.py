"""Fixtures shared by every test package."""

import pytest
from rest_framework.test import APIClient

from tests.clients import make_user, token_client
from tests.factories import RepoFactory

pytest_plugins = ["tests.upstream_tools"]  # the `upstream_lock` fixture


@pytest.fixture
def repo(tmp_path) -> RepoFactory:
    """A fixture repository rooted at tmp_path; see tests/factories.py for what it can build."""
    return RepoFactory(tmp_path)


@pytest.fixture
def repo_root(repo, settings):
    """The fixture repository, served by the API.

    IPC deadlines are generous so an answering server is never missed on a loaded machine; a test
    of a stuck orchestrator sets a short one itself and holds its server's reply past it.
    """
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "REPO_ROOT": str(repo.root), "IPC_TIMEOUT": 10.0}
    return repo


@pytest.fixture
def open_reads(repo_root, settings):
    """The fixture repository served with reads open to anonymous clients (as on a loopback DEBUG server)."""
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "0", "STATUS_IPC_TIMEOUT": 10.0}
    return repo_root


@pytest.fixture
def controller(db):
    """A staff user with the control and audit permissions, as create_local_user makes one."""
    return make_user("controller", control=True, staff=True, audit=True, start=True)


@pytest.fixture
def control_client(controller) -> APIClient:
    return token_client(controller)
