"""Browser tests of the dashboard (Playwright driving Chromium)."""
