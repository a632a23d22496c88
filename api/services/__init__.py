"""Writes: every change the API makes (commands to orchestrators, task edits, audit, idempotency) goes through a service."""
