"""Process identity: a recorded agent group is ended only while its leader is the recorded process."""

import os
import signal
import subprocess
import sys

import pytest

from orchestrator import processes

pytestmark = pytest.mark.timeout(20)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def group():
    """A session leader with a child, like the agent's guard and the agent."""
    leader = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; "
                               f"subprocess.Popen({SLEEPER!r}); sys.stdout.write('up\\n'); sys.stdout.flush(); "
                               "import time; time.sleep(60)"], stdout=subprocess.PIPE, start_new_session=True)
    assert leader.stdout.readline() == b"up\n"
    yield leader
    try:
        os.killpg(leader.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    leader.wait()


def test_identity_names_the_group_the_start_time_and_the_boot(group):
    identity = processes.identity(group.pid)
    assert identity["pid"] == identity["pgid"] == group.pid
    assert identity["startTicks"] > 0 and identity["bootId"]
    assert processes.is_same_process(identity)
    assert len(processes.group_members(group.pid)) == 2


def test_a_recorded_group_is_ended_with_every_member(group):
    identity = processes.identity(group.pid)
    assert processes.end_group(identity, grace=2.0)
    assert processes.group_members(group.pid) == []


@pytest.mark.parametrize("change", [{"startTicks": -1}, {"bootId": "another-boot"}, {"pgid": 1}, {"pid": 0},
                                    {"pid": True}])
def test_a_pid_that_no_longer_names_the_recorded_process_is_never_signalled(group, change):
    record = {**processes.identity(group.pid), **change}
    assert not processes.end_group(record, grace=0.5)
    assert len(processes.group_members(group.pid)) == 2


def test_a_gone_process_has_no_identity():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert processes.identity(int(done.stdout)) is None
