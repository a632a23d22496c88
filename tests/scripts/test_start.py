"""scripts/start's demo: the agent command it hands to `orchestrate` must work from inside the sample repository."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.factories import RepoFactory

PROJECT = Path(__file__).resolve().parents[2]


def demo_agent_template() -> str:
    """The demo's agent command in scripts/start (ORCHESTRATOR_AGENT_CMD, for its own run and the dashboard's
    starts), with its shell variables expanded as the script would."""
    script = (PROJECT / "scripts" / "start").read_text()
    py = re.search(r"^py=(\S+)", script, flags=re.M).group(1)
    template = re.search(r'ORCHESTRATOR_AGENT_CMD:-([^"]+)\}"', script).group(1)
    expanded = subprocess.run(["bash", "-c", f'py={py}; AGENT_DELAY=0; printf %s "{template}"'], cwd=PROJECT,
                              capture_output=True, text=True, check=True)
    return expanded.stdout


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
