"""Stand-in agents, so the orchestrator can be run and tested end to end without Claude Code."""
