"""Where an instance's events are journaled: by its orchestrator, or by the bridge on its behalf.

Our orchestrators write `.claude/orchestrator-events/<id>.jsonl` themselves. Orchestrators
from other tools write only status.json; for them the bridge turns file changes into events
and journals those in `.claude/orchestrator-events/bridged/<id>.jsonl`. A separate folder
keeps each file to one writer, and its existence marks the instance as bridged across
bridge restarts. Readers (replay, hole filling) take the orchestrator's own journal when it
exists, else the bridged one.
"""

from pathlib import Path

from orchestrator.errors import InvalidName
from orchestrator.journal import Journal
from orchestrator.layout import RepoLayout, check_instance_id

BRIDGED_DIR = "bridged"


def bridged_journal_path(layout: RepoLayout, instance_id: str) -> Path:
    return layout.journal_dir / BRIDGED_DIR / f"{check_instance_id(instance_id)}.jsonl"


def journal_path(layout: RepoLayout, instance_id: str) -> Path | None:
    """The journal replay reads for this instance, or None when it has none (yet)."""
    own = layout.journal_file(instance_id)
    if own.exists():
        return own
    bridged = bridged_journal_path(layout, instance_id)
    if bridged.exists() or bridged.with_name(bridged.name + ".1").exists():
        return bridged
    return None


def open_journal(layout: RepoLayout, instance_id: str) -> Journal | None:
    """A read-only handle (Journal only creates files when appending); None for an id no file may have."""
    try:
        path = journal_path(layout, instance_id)
    except InvalidName:
        return None
    return Journal(path) if path is not None else None
