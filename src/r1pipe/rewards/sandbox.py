"""Run untrusted Python in a sandbox: no network, no view of the host's files, limits, a deadline.

Where Linux namespaces are available, the program runs under ``unshare`` in new
network, mount and PID namespaces:

- no network interface but loopback;
- a fresh tmpfs on /tmp is its working directory, and empty tmpfs mounts hide
  /root, /home, /var/tmp, /dev/shm and $HOME; the interpreter is bind-mounted
  read-only at /tmp/.py so that hiding its home does not hide it;
- as root, it then drops to ``nobody``; otherwise it runs as the mapped user;
- it is PID 1 of its own namespace, so it sees no host process, cannot signal
  its parent, and every process it forks dies with it.

Everywhere, ``prlimit`` caps CPU time, address space, file size, open files and
processes; the process group is killed at the deadline and again at the end.
Output goes to a file capped by the file-size limit, so printing gigabytes
cannot exhaust the grader's memory. Without namespaces (not Linux, or forbidden
by the host), only the limits and a throwaway working directory apply.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

OUTPUT_LIMIT = 16 << 20
HIDDEN = ("/root", "/home", "/var/tmp", "/dev/shm")


@dataclass(frozen=True)
class Result:
    stdout: str
    returncode: int | None
    timed_out: bool


def _interpreter() -> tuple[str, str]:
    """(installation prefix, interpreter path relative to it) of the base Python, without any venv."""
    prefix = sys.base_prefix
    exe = os.path.realpath(sys.executable)
    if not exe.startswith(prefix + os.sep):
        exe = os.path.join(prefix, "bin", f"python{sys.version_info.major}.{sys.version_info.minor}")
    return prefix, os.path.relpath(exe, prefix)


def _namespace_command(python_args: list[str]) -> list[str]:
    prefix, exe = _interpreter()
    root = os.geteuid() == 0
    hidden = [*HIDDEN, os.path.expanduser("~")]
    script = "\n".join([
        "set -e",
        "mount -t tmpfs -o size=64m,mode=1777 tmpfs /tmp",
        f"mkdir /tmp/.py && mount --bind {shlex.quote(prefix)} /tmp/.py && mount -o remount,bind,ro /tmp/.py",
        *(f"[ -d {shlex.quote(d)} ] && mount -t tmpfs -o size=1m tmpfs {shlex.quote(d)} || true" for d in hidden),
        "mkdir -m 1777 /tmp/work && cd /tmp/work",
        "exec " + ("setpriv --reuid=65534 --regid=65534 --clear-groups " if root else "")
        + " ".join(shlex.quote(a) for a in [f"/tmp/.py/{exe}", *python_args]),
    ])
    user = [] if root else ["--user", "--map-root-user"]
    return ["unshare", *user, "--net", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c", script]


@functools.lru_cache(maxsize=1)
def namespaces_work() -> bool:
    needed = ["unshare", "sh"] + (["setpriv"] if os.geteuid() == 0 else [])
    if not all(shutil.which(t) for t in needed):
        return False
    try:
        proc = subprocess.run(_namespace_command(["-c", "print('ok')"]), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.stdout.strip() == "ok"


def _limits(cpu_seconds: int, memory_mb: int) -> list[str]:
    """A ``prlimit`` prefix (set by util-linux in the child: preexec_fn is unsafe with threads)."""
    if not shutil.which("prlimit"):
        return []
    return ["prlimit", f"--cpu={cpu_seconds}", f"--as={memory_mb << 20}", f"--fsize={OUTPUT_LIMIT}",
            "--nofile=64", "--nproc=64", "--"]


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _kill(proc: subprocess.Popen) -> None:
    """Kill the sandbox's first process inside, then everything in the group, and reap.

    Killing the PID namespace's init first lets ``unshare`` reap it: if both died
    at once, the init would be orphaned and could linger as a zombie on hosts
    whose PID 1 does not reap.
    """
    for child in _children(proc.pid):
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_python(program: str, timeout: float = 5.0, memory_mb: int = 1024) -> Result:
    """Run ``program`` (fed on stdin: no file of it exists where it runs) and return what it printed."""
    python_args = ["-I", "-"]
    if namespaces_work():
        cmd = _namespace_command(python_args)
    else:
        cmd = [sys.executable, *python_args]
    cmd = _limits(int(timeout) + 1, memory_mb) + cmd
    env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
    with tempfile.TemporaryDirectory(prefix="r1pipe-sandbox-") as workdir:
        out_path = os.path.join(workdir, "stdout")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL, cwd=workdir,
                                    env=env, start_new_session=True)
            timed_out = False
            try:
                proc.communicate(program.encode(), timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill(proc)
        with open(out_path, "rb") as f:
            stdout = f.read(OUTPUT_LIMIT).decode(errors="replace")
    return Result(stdout, proc.returncode, timed_out)
