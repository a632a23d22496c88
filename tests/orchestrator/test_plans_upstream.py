"""Every plan of the ecosystem's own corpus parses into exactly the task list upstream's initialiser writes."""

import json
from pathlib import Path

import pytest

from orchestrator.plans import read_plan
from orchestrator.status import init_status, read_status

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "upstream_corpus"
REFERENCES = sorted((CORPUS / "init").glob("*.json"))


def test_the_whole_corpus_is_here():
    assert len(REFERENCES) == 81
    assert {path.stem for path in REFERENCES} == {path.stem for path in (CORPUS / "plans").glob("*.md")}


@pytest.mark.parametrize("reference", REFERENCES, ids=lambda path: path.stem)
def test_status_file_starts_with_upstreams_task_list(reference, tmp_path):
    expected = json.loads(reference.read_text(encoding="utf-8"))
    plan_file = CORPUS / "plans" / expected["plan"]
    status_path = tmp_path / "docs" / "plan-outputs" / reference.stem / "status.json"

    init_status(status_path, plan=read_plan(plan_file), plan_path=f"docs/plans/{expected['plan']}")

    data = read_status(status_path).data
    assert data["planName"] == expected["planName"]
    assert [{key: task[key] for key in ("id", "description", "phase", "status")} for task in data["tasks"]] \
        == expected["tasks"]
    assert data["currentPhase"] == (expected["tasks"][0]["phase"] if expected["tasks"] else None)
