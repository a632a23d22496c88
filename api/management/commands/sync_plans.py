"""`sync_plans`: bring the admin's plan index up to date with the files, e.g. after a deploy or from cron."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orchestrator.layout import RepoLayout

from common.conf import orchestrator_settings
from ...indexing import plan_index_sync


class Command(BaseCommand):
    help = (
        "Index the plans, status files, findings and registry under the repository root for the admin. "
        "Only plans whose files changed since the last sync are re-read; vanished plans are removed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--repo-root",
            help="Repository to index (default: the ORCHESTRATOR REPO_ROOT setting, which the admin "
                 "itself re-syncs against on its next page).",
        )

    def handle(self, *args, repo_root, **options):
        layout = RepoLayout.at(repo_root) if repo_root else orchestrator_settings().layout
        if not layout.root.is_dir():
            raise CommandError(f"No such directory: {layout.root}")
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            result = plan_index_sync(layout=layout)
        elapsed = time.perf_counter() - started
        for error in result.errors:
            self.stderr.write(f"unreadable: {error}")
        self.stdout.write(f"{layout.root}: {result} in {elapsed:.2f} s, {len(queries)} queries")
