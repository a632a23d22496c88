"""Child process of bench/ws_latency.py's `tool-api-server` scenario: `orchestrate --api-server` in miniature.

An EmbeddedServer (daphne in a thread) and a journaled bus published on the server's loop
(LayerPublisher), as `manage.py orchestrate --api-server` wires them; each line on stdin emits
one tool_started. Prints the port once serving.
"""

import os
import sys

from ws_common import INSTANCE, setup_django

os.environ["ORCHESTRATOR_REPO_ROOT"] = sys.argv[1]
os.environ["ORCHESTRATOR_READS_REQUIRE_AUTH"] = "0"
os.environ["ORCHESTRATOR_EMBEDDED_BRIDGE"] = "0"  # the publisher is the only path: measure it alone
os.environ["LOG_LEVEL"] = "WARNING"
setup_django()

from pathlib import Path  # noqa: E402

from channels.routing import get_default_application  # noqa: E402

from orchestrator.events import EventBus  # noqa: E402
from orchestrator.journal import Journal, attach_journal  # noqa: E402
from realtime.bridge.publish import LayerPublisher  # noqa: E402
from serving.embedded_server import EmbeddedServer  # noqa: E402

server = EmbeddedServer(get_default_application(), "127.0.0.1", 0)
server.start()
bus = EventBus()
attach_journal(bus, Journal(Path(sys.argv[1]) / ".claude" / "orchestrator-events" / f"{INSTANCE}.jsonl"), INSTANCE)
publisher = LayerPublisher(loop=server.loop)
publisher.attach(bus)
print(server.port, flush=True)
for _ in sys.stdin:
    bus.emit("tool_started", INSTANCE, {"tool_id": "t", "tool_name": "Bash", "input_summary": "ls"})
publisher.close()
server.stop()
