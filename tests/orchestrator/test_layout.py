"""Where a plan's files are: discovered under docs/plans, and the one rule from an instance to its files."""

import os
from types import SimpleNamespace

import pytest

from orchestrator.errors import InvalidName
from orchestrator.registry import Instance


def test_candidates_flag_a_status_file_symlinked_out_of_the_outputs(repo, tmp_path):
    repo.plan("alpha")
    repo.plan("beta")
    repo.status("beta")
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    link = repo.layout.outputs_dir / "alpha" / "status.json"
    link.parent.mkdir(parents=True)
    os.symlink(outside, link)
    found = {files.name: files for files in repo.layout.plan_candidates(archived=False)}
    assert sorted(found) == ["alpha", "beta"]
    assert found["alpha"].escapes(found["alpha"].status_path)
    assert not found["beta"].escapes(found["beta"].status_path)
    assert not found["beta"].escapes(found["beta"].findings_dir)  # absent is not outside


def entry(**fields) -> Instance:
    defaults = dict(id="orch-1", pid=1, plan_path="docs/plans/alpha.md", worktree_path=None, started_at="",
                    last_heartbeat="", status="running", socket_path=None, port=None)
    return Instance(**{**defaults, **fields})


def test_an_instance_plan_is_its_checkouts_or_its_worktrees(repo):
    repo.plan("alpha")
    files = repo.layout.instance_plan(entry())
    assert (files.tree, files.name, files.archived) == (repo.layout, "alpha", False)
    assert files.status_path == repo.layout.status_file("alpha", archived=False)
    archived = repo.layout.instance_plan(SimpleNamespace(plan_path="docs/plans/archive/old.md", worktree_path=""))
    assert (archived.name, archived.archived) == ("old", True)
    tree = repo.git_worktree("feature")
    in_tree = repo.layout.instance_plan(entry(worktree_path=".worktrees/feature"))
    assert in_tree.tree.root == tree.root
    assert in_tree.status_path == tree.layout.status_file("alpha", archived=False)


def test_only_the_name_is_taken_from_an_instances_plan_path(repo):
    files = repo.layout.instance_plan(entry(plan_path="/anywhere/../docs/plans/x.md"))
    assert files.plan_path == repo.layout.plan_file("x", archived=False)


@pytest.mark.parametrize("fields", [dict(plan_path="docs/plans/bad name.md"), dict(worktree_path="/tmp")])
def test_an_instance_naming_no_file_of_ours_is_invalid(repo, fields):
    with pytest.raises(InvalidName):
        repo.layout.instance_plan(entry(**fields))
