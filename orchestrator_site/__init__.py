"""Django project for the Plan Orchestrator Server."""
