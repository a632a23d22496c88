"""StatusProber: one IPC status probe per socket at a time, off the caller's thread, its reply shared briefly."""

import socket
import threading

import pytest

from orchestrator.probes import StatusProber


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Probe:
    """Answers `reply` (or raises it) once `release` is set; counts the calls."""

    def __init__(self, reply=None, *, blocked=False):
        self.reply, self.calls = reply if reply is not None else {"paused": False}, 0
        self.release = threading.Event()
        self.finished = threading.Event()
        if not blocked:
            self.release.set()

    def __call__(self, socket_path, timeout):
        self.calls += 1
        self.release.wait()
        try:
            if isinstance(self.reply, Exception):
                raise self.reply
            return dict(self.reply)
        finally:
            self.finished.set()


@pytest.fixture
def sock(tmp_path):
    path = tmp_path / "o.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    yield str(path)
    listener.close()


def test_a_reply_is_shared_while_young(sock):
    probe, clock = Probe(), Clock()
    prober = StatusProber(probe, ttl=1.0, clock=clock)

    assert prober.reply(sock, 1.0) == {"paused": False}
    clock.now += 0.5
    assert prober.reply(sock, 1.0) == {"paused": False}

    assert probe.calls == 1


def test_an_old_reply_is_answered_while_a_fresh_one_is_asked_for(sock):
    probe, clock = Probe({"paused": False}), Clock()
    prober = StatusProber(probe, ttl=1.0, patience=5.0, clock=clock)
    prober.reply(sock, 1.0)
    probe.reply, probe.release, probe.finished = {"paused": True}, threading.Event(), threading.Event()

    clock.now += 2.0
    assert prober.reply(sock, 1.0) == {"paused": False}  # the probe is still blocked: the last reply stands
    probe.release.set()
    probe.finished.wait(5)

    assert wait_for(lambda: prober.reply(sock, 1.0) == {"paused": True})
    assert probe.calls == 2


def test_a_reply_older_than_patience_is_not_answered(sock):
    probe, clock = Probe({"paused": False}), Clock()
    prober = StatusProber(probe, ttl=1.0, patience=5.0, clock=clock)
    prober.reply(sock, 1.0)
    probe.reply = {"paused": True}

    clock.now += 10.0

    assert prober.reply(sock, 5.0) == {"paused": True}


@pytest.mark.timeout(20)
def test_a_wedged_orchestrator_costs_one_waiting_read(sock):
    release, finished, clock = threading.Event(), threading.Event(), Clock()

    def wedged(path, timeout):  # the socket accepts, nobody answers
        release.wait(timeout)
        finished.set()
        return None
    prober = StatusProber(wedged, ttl=1.0, clock=clock)

    assert prober.reply(sock, 0.2) is None  # the first reader waits out the timeout
    assert finished.wait(5)
    clock.now += 2.0
    try:
        # The next probe waits a minute; readers are answered "unreachable" meanwhile.
        assert prober.reply(sock, 60.0) is None
        assert prober.reply(sock, 60.0) is None
    finally:
        release.set()


def test_a_restarted_orchestrator_is_asked_again(sock, tmp_path):
    probe = Probe()
    prober = StatusProber(probe, ttl=60.0, clock=Clock())
    prober.reply(sock, 1.0)

    # A new process binds a new socket file at the same path.
    (tmp_path / "o.sock").unlink()
    again = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    again.bind(sock)
    try:
        prober.reply(sock, 1.0)
    finally:
        again.close()

    assert probe.calls == 2


def test_forget_makes_the_next_read_ask(sock):
    probe = Probe()
    prober = StatusProber(probe, ttl=60.0, clock=Clock())
    prober.reply(sock, 1.0)

    prober.forget(sock)
    prober.reply(sock, 1.0)

    assert probe.calls == 2


def test_a_failing_probe_is_an_unreachable_orchestrator(sock):
    prober = StatusProber(Probe(RuntimeError("boom")), clock=Clock())

    assert prober.reply(sock, 1.0) is None


def test_a_path_that_names_no_file_is_still_a_key():
    prober = StatusProber(lambda path, timeout: {"paused": True}, clock=Clock())

    assert prober.reply("\0abstract-socket", 1.0) == {"paused": True}
    prober.forget("\0abstract-socket")  # and no error either


def wait_for(condition, timeout: float = 5.0) -> bool:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not done.is_set():
            if condition():
                return True
            done.wait(0.01)
        return False
    finally:
        deadline.cancel()
