"""scripts/start's demo: the agent command it hands to `orchestrate` must work from inside the sample repository."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from orchestrator.status import update_status
from orchestrator.tasks import retry_task
from tests.factories import RepoFactory

PROJECT = Path(__file__).resolve().parents[2]


def demo_agent_template() -> str:
    """The demo's agent command in scripts/start (ORCHESTRATOR_AGENT_CMD, for its own run and the dashboard's
    starts): the script's own lines that make it, run by bash as the script runs them."""
    script = (PROJECT / "scripts" / "start").read_text()
    py = re.search(r"^py=(\S+)", script, flags=re.M).group(1)
    lines = re.findall(r"^\s*((?:demo_agent|export ORCHESTRATOR_AGENT_CMD)=.*)$", script, flags=re.M)
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATOR_AGENT_CMD"}
    expanded = subprocess.run(["bash", "-c", "\n".join([f"py={py}; AGENT_DELAY=0", *lines,
                                                        'printf %s "$ORCHESTRATOR_AGENT_CMD"'])],
                              cwd=PROJECT, env=env, capture_output=True, text=True, check=True)
    return expanded.stdout


def test_the_demo_agent_command_keeps_every_placeholder():
    template = demo_agent_template()
    for placeholder in ("{prompt}", "{task_id}", "{findings_dir}"):
        assert f" {placeholder} " in template, template
    assert template.endswith("--delay 0"), template


def test_demo_plan_completes_with_the_agent_command_of_scripts_start(tmp_path):
    repo = RepoFactory(tmp_path)
    repo.plan("tiny", {"Only": ["1.1 Do one thing"]})
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="orchestrator_site.settings", DJANGO_DEBUG="1",
               ORCHESTRATOR_REPO_ROOT=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run([sys.executable, "manage.py", "orchestrate", "tiny", "--plain",
                             "--agent-cmd", demo_agent_template()],
                            cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1/1 completed" in result.stdout


def demo_default(name: str) -> str:
    """A default of scripts/start's demo knobs (${NAME-x} or ${NAME:-x})."""
    return re.search(r"\$\{" + name + r":?-([^}]*)\}", (PROJECT / "scripts" / "start").read_text()).group(1)


def test_the_sample_plan_has_a_task_that_fails_once_and_passes_when_retried(tmp_path):
    shutil.copytree(PROJECT / "sample", tmp_path, dirs_exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="orchestrator_site.settings", DJANGO_DEBUG="1",
               ORCHESTRATOR_REPO_ROOT=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               SCRIPTED_AGENT_FAIL_ONCE_TASKS=demo_default("DEMO_FAIL_ONCE"))
    command = [sys.executable, "manage.py", "orchestrate", "sample-plan", "--plain", "--agent-cmd",
               demo_agent_template(), "--max-retries", demo_default("DEMO_MAX_RETRIES")]

    first = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    status_file = tmp_path / "docs" / "plan-outputs" / "sample-plan" / "status.json"
    tasks = {task["id"]: task for task in json.loads(status_file.read_text())["tasks"]}
    assert first.returncode == 2, first.stdout + first.stderr  # blocked: the failed task is left to a person
    assert [task_id for task_id, task in tasks.items() if task["status"] == "failed"] == ["1.3"]
    assert len(tasks) >= 11 and tasks["4.3"]["status"] == "completed"  # long enough to watch

    retry = RepoFactory(tmp_path)  # the Retry button's write, as the API makes it
    update_status(retry.layout.status_file("sample-plan", archived=False),
                  lambda data: retry_task(data, "1.3", now="2026-01-01T00:00:00Z"))
    second = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert all(task["status"] == "completed" for task in json.loads(status_file.read_text())["tasks"])
