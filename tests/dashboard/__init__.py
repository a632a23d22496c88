"""Dashboard page tests (Django test client)."""
