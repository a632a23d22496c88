"""Pure-Python core of the plan orchestrator: files, events, IPC and the engine (no Django)."""

__version__ = "1.0.0"
