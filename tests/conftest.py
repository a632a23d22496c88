"""Fixtures shared by every test package."""

import pytest

from tests.factories import RepoFactory

pytest_plugins = ["tests.upstream_tools"]  # the `upstream_lock` fixture


@pytest.fixture
def repo(tmp_path) -> RepoFactory:
    """A fixture repository rooted at tmp_path; see tests/factories.py for what it can build."""
    return RepoFactory(tmp_path)
