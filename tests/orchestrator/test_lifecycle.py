"""An instance's registry entry, heartbeat, IPC socket and signal handling."""

import os
import signal
import threading

import pytest

from orchestrator.ipc import send_command
from orchestrator.lifecycle import Heartbeat, Presence, install_shutdown_signals
from orchestrator.registry import Instance, Registry
from tests.engine_support import short_socket_path, wait_until

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def instance(repo):
    return Instance(id="orch-1", pid=os.getpid(), plan_path="docs/plans/alpha.md", worktree_path=None,
                    started_at="2025-01-01T00:00:00.000Z", last_heartbeat="2025-01-01T00:00:00.000Z",
                    status="running", socket_path=short_socket_path(), port=None)


def test_presence_registers_serves_and_marks_the_entry_stopped(repo, instance):
    registry = Registry(repo.layout.registry_path)
    presence = Presence(registry=registry, instance=instance, handler=lambda command, payload: {"ack": True},
                        heartbeat_s=0.05)
    presence.start()
    try:
        assert registry.get("orch-1").status == "running"
        assert send_command(instance.socket_path, "pause") == {"ack": True}
        wait_until(lambda: registry.get("orch-1").last_heartbeat != instance.last_heartbeat, message="a heartbeat")
    finally:
        presence.stop()
    entry = registry.get("orch-1")
    assert entry.status == "stopped" and entry.last_heartbeat > instance.last_heartbeat
    assert not os.path.exists(instance.socket_path)


def heartbeat_running(instance_id: str) -> bool:
    return any(thread.name == f"heartbeat-{instance_id}" for thread in threading.enumerate())


def test_heartbeat_survives_a_missing_entry(repo, caplog):
    beat = Heartbeat(Registry(repo.layout.registry_path), "orch-gone", interval=0.01)
    beat.start()
    try:
        wait_until(lambda: caplog.text.count("Heartbeat of orch-gone failed") >= 3, message="three failed beats")
        assert heartbeat_running("orch-gone")
    finally:
        beat.stop()
    assert not heartbeat_running("orch-gone")


def test_heartbeat_stops_without_waiting_for_its_next_beat(repo):
    # stop() gives the thread 5 s to end; one that slept out its hour-long interval would outlive that.
    beat = Heartbeat(Registry(repo.layout.registry_path), "orch-1", interval=3600)
    beat.start()
    beat.stop()
    assert not heartbeat_running("orch-1")


def test_signals_are_routed_to_the_callback_on_another_thread():
    seen = []
    done = threading.Event()

    def on_signal(name):
        seen.append((name, threading.current_thread() is threading.main_thread()))
        done.set()
    previous = signal.getsignal(signal.SIGTERM)
    restore = install_shutdown_signals(on_signal)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert done.wait(5)
    finally:
        restore()
    assert seen == [("SIGTERM", False)]
    assert signal.getsignal(signal.SIGTERM) is previous


def test_off_the_main_thread_no_handler_is_installed():
    previous = signal.getsignal(signal.SIGINT)
    result = []
    thread = threading.Thread(target=lambda: result.append(install_shutdown_signals(lambda name: None)))
    thread.start()
    thread.join()
    result[0]()
    assert signal.getsignal(signal.SIGINT) is previous
