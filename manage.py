#!/usr/bin/env python
"""Django's command-line utility for the Plan Orchestrator Server."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orchestrator_site.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A setting that blocks every command: one line saying which, not a traceback.
        sys.exit(f"{os.path.basename(sys.argv[0])}: {exc}")


if __name__ == "__main__":
    main()
