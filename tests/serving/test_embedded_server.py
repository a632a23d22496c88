"""Serving: `serve` and EmbeddedServer refuse an open non-loopback bind; `orchestrate --api-only` streams."""

import asyncio
import os
import re
import signal
import subprocess
import sys

import pytest
from channels.routing import get_default_application
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from bench.ws_client import WSClient
from serving.embedded_server import EmbeddedServer

INSTANCE = "orch-1700000000000"


def test_embedded_server_refuses_a_public_address_while_reads_are_open(settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "0"}
    with pytest.raises(ImproperlyConfigured, match="non-loopback"):
        EmbeddedServer(get_default_application(), "0.0.0.0", 0).start()


def test_serve_refuses_a_public_address_while_reads_are_open(settings):
    settings.ORCHESTRATOR = {**settings.ORCHESTRATOR, "READS_REQUIRE_AUTH": "0"}
    with pytest.raises(CommandError, match="Refusing to serve on 0.0.0.0"):
        call_command("serve", "--host", "0.0.0.0", "--port", "0")


@pytest.mark.slow
async def test_orchestrate_api_only_serves_live_streams_and_stops_on_sigterm(repo):
    repo.plan("alpha")
    repo.status("alpha", states={"1.1": "completed"})
    repo.registry([repo.instance(id=INSTANCE)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ORCHESTRATOR_", "REDIS_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "orchestrator_site.settings", "DJANGO_SECRET_KEY": "test-key",
                "DATABASE_URL": f"sqlite:///{repo.root}/db.sqlite3", "ORCHESTRATOR_READS_REQUIRE_AUTH": "0",
                "PYTHONPATH": os.getcwd()})
    process = subprocess.Popen(
        [sys.executable, "manage.py", "orchestrate", "--api-only", "--api-port", "0", "--repo-root", str(repo.root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        port = None
        while port is None:
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20)
            assert line, "orchestrate --api-only exited"
            match = re.search(rb"Serving .* on http://127\.0\.0\.1:(\d+)/", line)
            port = int(match.group(1)) if match else None
        client = await WSClient.connect(f"ws://127.0.0.1:{port}/api/orchestrators/{INSTANCE}/events")
        assert (await client.receive_json(10))["type"] == "snapshot"
        await client.close()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(asyncio.to_thread(process.wait), 15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
