"""A worktree instance's status.json (the worktree's, not the checkout's) is what the bridge streams."""

import pytest

from orchestrator.status import update_status

from .test_bridge import Listener, Running

pytestmark = pytest.mark.django_db(transaction=True)


async def test_changes_to_the_worktrees_status_file_are_streamed_as_task_changed(repo):
    repo.plan("alpha")
    tree = repo.git_worktree("feature")
    in_tree = tree.status("alpha")
    in_checkout = repo.status("alpha")
    repo.registry([repo.instance(id="orch-wt", worktree_path=str(tree.root))])
    async with Listener() as everyone, Running(repo):
        await everyone.next(type_="orchestrator_state")  # adopted

        update_status(in_checkout, lambda data: data["tasks"][1].update(status="in_progress"))  # not this one's
        update_status(in_tree, lambda data: data["tasks"][0].update(status="in_progress"))
        changed = await everyone.next(type_="task_changed")

    assert changed["instance_id"] == "orch-wt"
    assert (changed["data"]["task_id"], changed["data"]["new_status"]) == ("1.1", "in_progress")
