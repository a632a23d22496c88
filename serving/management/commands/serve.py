"""Serve the API, WebSocket and SSE streams with daphne; `--reload` for development (runserver)."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from serving.daphne_endpoint import listen_endpoint
from serving.embedded_server import bind


class Command(BaseCommand):
    help = (
        "Serve the ASGI application (settings.ASGI_APPLICATION) with daphne (HTTP, WebSocket, SSE). Refuses a non-loopback "
        "--host while reads or commands would be open without a login. --reload restarts on code "
        "changes (Django's runserver, served by daphne)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default: loopback only).")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--reload", action="store_true", help="Restart when code changes (development).")

    def handle(self, *args, host, port, reload, **options):
        try:
            bind(host)
        except ImproperlyConfigured as exc:
            raise CommandError(f"Refusing to serve on {host}:\n{exc}") from None
        address = f"[{host}]" if ":" in host else host
        if reload:
            call_command("runserver", f"{address}:{port}")
            return
        from daphne.cli import CommandLineInterface

        from realtime.bridge.autostart import start_with_reactor

        start_with_reactor()
        self.stdout.write(f"Serving on http://{address}:{port}/ (daphne; Ctrl-C stops)")
        module, _, name = settings.ASGI_APPLICATION.rpartition(".")
        CommandLineInterface().run(["--endpoint", listen_endpoint(host, port), f"{module}:{name}"])
