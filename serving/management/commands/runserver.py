"""`runserver` as daphne serves it, refusing an unsafe address like `serve` does.

Daphne's runserver runs Django's system checks before ORCHESTRATOR["BIND_HOST"] knows the
address it binds, so `runserver 0.0.0.0:8000` would otherwise open reads on a DEBUG server
to the whole network.
"""

from daphne.management.commands.runserver import Command as DaphneRunserver
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from serving.embedded_server import bind


class Command(DaphneRunserver):
    def run(self, **options):
        try:
            bind(self.addr.strip("[]") if self._raw_ipv6 else self.addr)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        super().run(**options)
