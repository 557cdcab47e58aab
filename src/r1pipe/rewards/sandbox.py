"""Run untrusted Python in a sandbox that denies by default: no network, no host files, limits, a deadline.

Where Linux namespaces are available, the program runs under ``unshare`` in new
network, mount and PID namespaces, inside a root filesystem built for it:

- the new root is an empty tmpfs holding, read-only, only what the interpreter
  needs: its installation prefix (interpreter and standard library), the shared
  libraries (``/usr/lib*``), ``setpriv``, and ``/dev/null``, ``/dev/zero``,
  ``/dev/urandom``; plus ``/proc`` of its own PID namespace and a small writable
  tmpfs at ``/tmp``, its working directory. Nothing else of the host exists
  there: not the home directories, not the project, not any world-writable
  directory (``chroot`` into the new root);
- no network interface but loopback;
- as root, it then drops to ``nobody``; otherwise it runs as the mapped user;
- it is PID 1 of its own namespace, so it sees no host process, cannot signal
  its parent, and every process it forks, a double-forked daemon included, is
  killed when it exits.

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
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")


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


def _readonly(source: str, root: str) -> list[str]:
    """Shell lines that show ``source`` (a directory, a file or a symlink) read-only at the same path in ``root``."""
    q = shlex.quote
    target = root + source
    if os.path.islink(source):
        return [f"mkdir -p {q(os.path.dirname(target))}", f"ln -sfn {q(os.readlink(source))} {q(target)}"]
    if os.path.isdir(source):
        make = f"mkdir -p {q(target)}"
    else:
        make = f"mkdir -p {q(os.path.dirname(target))} && : > {q(target)}"
    return [make, f"mount --bind {q(source)} {q(target)}", f"mount -o remount,bind,ro {q(target)}"]


def _namespace_command(python_args: list[str], root: str) -> list[str]:
    """``unshare`` running a shell that builds the sandbox's root filesystem on ``root`` (an empty host
    directory, shadowed by a tmpfs only this mount namespace sees), then execs the interpreter in it."""
    prefix, exe = _interpreter()
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    libraries = [p for p in ("/usr/lib64", "/lib", "/lib64", "/bin") if os.path.lexists(p)]
    shown = {prefix, setpriv, "/usr/lib", *libraries, *DEVICES}
    if prefix == "/usr":  # the system's Python: /usr holds the rest already
        shown = {p for p in shown if not p.startswith("/usr/")}
    shown = sorted(shown)  # parents before what is mounted inside them
    drop_root = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    q = shlex.quote
    script = [
        "set -e",
        f"mount -t tmpfs -o size=1m,mode=755 tmpfs {q(root)}",
        *(line for path in shown for line in _readonly(path, root)),
        f"mkdir -p {q(root)}/proc {q(root)}/tmp",
        f"mount -t proc proc {q(root)}/proc",
        f"mount -t tmpfs -o size=64m,mode=1777 tmpfs {q(root)}/tmp",
        f"mkdir -m 1777 {q(root)}/tmp/work",
        f"mount -o remount,ro,bind {q(root)}",
        "exec " + " ".join(q(a) for a in [shutil.which("chroot") or "/usr/sbin/chroot", root, *drop_root,
                                          os.path.join(prefix, exe), *python_args]),
    ]
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--net", "--mount", "--pid", "--fork", "sh", "-c", "\n".join(script)]


@functools.lru_cache(maxsize=1)
def namespaces_work() -> bool:
    needed = ["unshare", "sh", "chroot"] + (["setpriv"] if os.geteuid() == 0 else [])
    if not all(shutil.which(t) for t in needed):
        return False
    try:
        with tempfile.TemporaryDirectory(prefix="r1pipe-sandbox-") as root:
            proc = subprocess.run(_namespace_command(["-c", "print('ok')"], root), capture_output=True, text=True,
                                  timeout=20)
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
    # The program comes on stdin; it starts in its scratch directory (chroot leaves it at /, read-only).
    python_args = ["-I", "-c", "import os, sys; os.chdir('/tmp/work'); "
                   "exec(compile(sys.stdin.read(), '<program>', 'exec'))"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
           "HOME": "/tmp/work"}
    with tempfile.TemporaryDirectory(prefix="r1pipe-sandbox-") as workdir:
        root = os.path.join(workdir, "root")
        os.mkdir(root)
        if namespaces_work():
            cmd = _namespace_command(python_args, root)
            cwd = "/"
        else:
            cmd, cwd = [sys.executable, "-I", "-"], root
        cmd = _limits(int(timeout) + 1, memory_mb) + cmd
        out_path = os.path.join(workdir, "stdout")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd,
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
