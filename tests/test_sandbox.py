"""A corpus of hostile programs: each must score 0 within its time limit and leave the machine as it was."""

import os
import socket
import subprocess
import time

import pytest

from conftest import REPO
from r1pipe.rewards import get_reward
from r1pipe.rewards.sandbox import namespaces_work

pytestmark = pytest.mark.skipif(not namespaces_work(), reason="needs Linux namespaces (unshare)")

TIMEOUT = 2.0


def grade(code: str, test: str = "assert f() == 1") -> float:
    completion = f"<think>.</think>\n<answer>\n```python\n{code}\n```\n</answer>"
    return get_reward("accuracy", timeout=TIMEOUT)(None, [completion], task=["code"], tests=[[test]])[0]


def sandbox_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "user=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "r1pipe-daemon" in line or line.startswith("nobody")]


def world_writable_dirs() -> list[str]:
    """Every directory on this machine that anyone may write to (sticky /tmp-like ones included)."""
    found = []
    for top, dirs, _ in os.walk("/", topdown=True):
        dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev/pts")]
        try:
            if os.stat(top).st_mode & 0o002 and not os.path.islink(top):
                found.append(top)
        except OSError:
            pass
    return found


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("topsecret")
    return path


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.1)
    yield server
    server.close()


HOSTILE = {
    "infinite loop": "def f():\n    while True:\n        pass",
    "fork bomb": "import os\nwhile True:\n    os.fork()\ndef f():\n    return 1",
    "memory bomb": "x = bytearray(8 << 30)\ndef f():\n    return 1",
    # Its output goes to /dev/null (rewards/harness.py), so only the deadline stops an endless flood.
    "huge output": "import sys\nwhile True:\n    sys.stdout.write('x' * 1000)\ndef f():\n    return 1",
    "kill everything": "import os, signal\ndef f():\n    os.kill(-1, signal.SIGKILL)\n    return 1",
    "read shadow": "def f():\n    return 1 if open('/etc/shadow').read() else 0",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_scores_zero_in_time(name):
    start = time.monotonic()
    assert grade(HOSTILE[name]) == 0.0
    assert time.monotonic() - start < TIMEOUT + 5
    assert sandbox_processes() == []


def test_cannot_read_host_files(secret):
    assert grade(f"def f():\n    return open({str(secret)!r}).read()", "assert f() == 'topsecret'") == 0.0


def test_cannot_write_outside_its_directory(tmp_path):
    targets = [tmp_path / "pwned", REPO / "PWNED", "/etc/pwned"]
    for target in targets:
        assert grade(f"def f():\n    open({str(target)!r}, 'w').write('x')\n    return 1") == 0.0
    assert not any(os.path.exists(t) for t in targets)


def test_cannot_reach_the_network(listener):
    port = listener.getsockname()[1]
    code = f"import socket\ndef f():\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n    return 1"
    assert grade(code) == 0.0
    with pytest.raises(socket.timeout):
        listener.accept()


def test_cannot_write_to_any_world_writable_directory():
    """The program tries every world-writable directory of this machine; only its own scratch /tmp (a tmpfs
    of the sandbox's) takes the write, and the host is unchanged."""
    targets = [os.path.join(d, "r1pipe-sandbox-pwned") for d in world_writable_dirs()]
    assert "/tmp/r1pipe-sandbox-pwned" in targets and len(targets) >= 3
    code = ("def f():\n    wrote = []\n    for t in " + repr(targets) + ":\n        try:\n"
            "            open(t, 'w').write('x')\n            wrote.append(t)\n        except OSError:\n"
            "            pass\n    return wrote")
    assert grade(code, "assert len(f()) > 1") == 0.0  # it wrote nowhere but its scratch directory
    assert grade(code, "assert f() == ['/tmp/r1pipe-sandbox-pwned']") == 1.0
    assert [t for t in targets if os.path.exists(t)] == []


def test_cannot_read_the_project_or_any_host_file():
    planted = REPO / "tests" / ".planted-secret"
    planted.write_text("project secret")
    try:
        for path in [planted, REPO / "pyproject.toml", "/etc/passwd", "/etc/hostname"]:
            assert grade(f"def f():\n    return open({str(path)!r}).read()", "assert f()") == 0.0, path
    finally:
        planted.unlink()


def test_a_double_forked_daemon_does_not_outlive_the_grading():
    code = ("import os, sys, time\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', 'r1pipe-daemon'])\n"
            "    os._exit(0)\n"
            "time.sleep(0.3)\n"
            "def f():\n    return 1")
    assert grade(code) == 1.0  # the program itself is fine
    time.sleep(0.5)
    assert sandbox_processes() == []


def test_cannot_signal_its_parent():
    code = f"import os, signal\ndef f():\n    os.kill({os.getpid()}, signal.SIGTERM)\n    return 1"
    assert grade(code) == 0.0  # the grader's pid does not exist in the sandbox's PID namespace


def test_a_correct_program_still_passes():
    assert grade("def f():\n    return 1") == 1.0
