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

Where util-linux's ``prlimit`` is on the PATH, it caps CPU time, address space, file size,
open files and processes (without it nothing is capped but the wall clock); the process
group is killed at the deadline and again at the end. Output goes to a file capped by the
file-size limit (where prlimit is there), so printing gigabytes cannot exhaust the grader's
memory.

The sandbox fails closed. Where namespaces cannot be made (not Linux, no
``unshare``, Docker's default seccomp profile, a host that forbids unprivileged
user namespaces), :func:`run_python` refuses to run anything, unless a stage
was told ``sandbox: unsafe`` in params (:func:`require`): then only the limits
and a throwaway working directory apply, and the stage records that it ran so.
"""

from __future__ import annotations

import functools
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from r1pipe import R1pipeError
from r1pipe.rewards.limits import GRADING_TIMEOUT

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


def _namespace_command(python_args: list[str], root: str) -> list[str]:
    """``unshare`` running a shell that builds the sandbox's root filesystem on ``root`` (an empty host
    directory, shadowed by a tmpfs only this mount namespace sees), then execs the interpreter in it.

    Every line is a process to start, and this runs once per graded program: directories are made in one
    ``mkdir``, files by the shell itself, and each read-only bind is one ``mount --bind -o ro``.
    """
    prefix, exe = _interpreter()
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    shown = {prefix, setpriv, "/usr/lib", *(p for p in ("/usr/lib64", "/lib", "/lib64", "/bin") if
                                            os.path.lexists(p)), *DEVICES}
    if prefix == "/usr":  # the system's Python: /usr holds the rest already
        shown = {p for p in shown if not p.startswith("/usr/")}
    links = sorted(p for p in shown if os.path.islink(p))
    binds = sorted(p for p in shown if not os.path.islink(p))  # parents before what is mounted inside them
    q = shlex.quote
    dirs = {root + p for p in binds if os.path.isdir(p)} | {root + os.path.dirname(p) for p in shown}
    drop_root = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    script = [
        "set -e",
        f"mount -t tmpfs -o size=1m,mode=755 tmpfs {q(root)}",
        "mkdir -p " + " ".join(q(d) for d in sorted(dirs | {f"{root}/proc", f"{root}/tmp"})),
        *(f": > {q(root + p)}" for p in binds if not os.path.isdir(p)),
        *(f"ln -s {q(os.readlink(p))} {q(root + p)}" for p in links),
        *(f"mount --bind -o ro {q(p)} {q(root + p)}" for p in binds),
        f"mount -t proc proc {q(root)}/proc",
        f"mount -t tmpfs -o size=64m,mode=1777 tmpfs {q(root)}/tmp",
        f"mount -o remount,ro,bind {q(root)}",
        "exec " + " ".join(q(a) for a in [shutil.which("chroot") or "/usr/sbin/chroot", root, *drop_root,
                                          os.path.join(prefix, exe), *python_args]),
    ]
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--net", "--mount", "--pid", "--fork", "sh", "-c", "\n".join(script)]


@functools.lru_cache(maxsize=1)
def namespace_failure() -> str | None:
    """Why the namespace sandbox cannot start on this host (what failed, in a few words), or None."""
    needed = ["unshare", "sh", "chroot"] + (["setpriv"] if os.geteuid() == 0 else [])
    missing = [t for t in needed if not shutil.which(t)]
    if missing:
        return f"{', '.join(missing)} not found on the PATH"
    try:
        with tempfile.TemporaryDirectory(prefix="r1pipe-sandbox-") as root:
            proc = subprocess.run(_namespace_command(["-c", "print('ok')"], root), capture_output=True, text=True,
                                  timeout=20)
    except (OSError, subprocess.SubprocessError) as e:
        return f"unshare did not run ({e})"
    if proc.stdout.strip() != "ok":
        said = [line for line in proc.stderr.splitlines() if line.strip()]
        return said[-1].strip() if said else f"unshare exited with {proc.returncode}"
    return None


def namespaces_work() -> bool:
    return namespace_failure() is None


UNSAFE = "unsafe"
_unsafe_allowed = False  # set by require() when a stage's params say `sandbox: unsafe`


def require(tasks: Iterable[str], setting: str, section: str) -> str | None:
    """Call at a stage's start, before any model loads, with the ``task`` of every row it may grade.

    Returns None where no code is graded or the sandbox works, else what the manifest, the summary and the
    report must say (``setting`` is ``unsafe``). Raises a one-line R1pipeError where code would be graded
    without the sandbox and params did not say so.
    """
    global _unsafe_allowed
    if "code" not in set(tasks):
        return None
    failure = namespace_failure()
    if failure is None:
        return None
    if setting != UNSAFE:
        raise R1pipeError(_refusal(failure, section))
    _unsafe_allowed = True
    return f"unsafe: code graded without the sandbox ({failure})"


def _refusal(failure: str, section: str) -> str:
    return (f"{section}: grading code needs the namespace sandbox, which cannot start here: {failure}. Run where "
            f"user namespaces are allowed (docs/sandbox.md) or set "
            f"`{section}.sandbox: unsafe` to run graded programs as this user")


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


def _feed(proc: subprocess.Popen, data: bytes) -> None:
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except OSError:  # it exited without reading everything: its result says so
        pass


def _feed_and_wait(proc: subprocess.Popen, data: bytes, timeout: float) -> bool:
    """Write the program to the process's stdin, wait for it to exit; True if the deadline passed first.

    The wait is on a pidfd, woken by the exit itself: ``Popen.wait(timeout)`` polls with sleeps that grow
    to 50 ms, which came to more than the sandbox's own cost per program.
    """
    threading.Thread(target=_feed, args=(proc, data), daemon=True).start()  # a full pipe must not block us
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3
        try:
            proc.wait(timeout)
            return False
        except subprocess.TimeoutExpired:
            return True
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    return not ready


def run_python(program: str, timeout: float = GRADING_TIMEOUT, memory_mb: int = 1024) -> Result:
    """Run ``program`` (fed on stdin: no file of it exists where it runs) and return what it printed.

    Without namespaces it runs only where a stage was told ``sandbox: unsafe`` (:func:`require`).
    """
    safe = namespaces_work()
    if not safe and not _unsafe_allowed:
        raise R1pipeError(_refusal(namespace_failure(), "this stage"))
    # The program comes on stdin; it starts in its scratch directory (chroot leaves it at /, read-only).
    # -S: no site-packages, the standard library only (and 30 ms less per program: the base interpreter's
    # .pth files import third-party packages at start-up).
    python_args = ["-I", "-S", "-c", "import os, sys; os.chdir('/tmp'); "
                   "exec(compile(sys.stdin.read(), '<program>', 'exec'))"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
           "HOME": "/tmp"}
    with tempfile.TemporaryDirectory(prefix="r1pipe-sandbox-") as workdir:
        root = os.path.join(workdir, "root")
        os.mkdir(root)
        if safe:
            cmd = _namespace_command(python_args, root)
            cwd = "/"
        else:
            cmd, cwd = [sys.executable, "-I", "-"], root
        cmd = _limits(int(timeout) + 1, memory_mb) + cmd
        out_path = os.path.join(workdir, "stdout")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd,
                                    env=env, start_new_session=True)
            try:
                # backslashreplace: a lone surrogate in the completion is written as its escape, never a crash here
                timed_out = _feed_and_wait(proc, program.encode(errors="backslashreplace"), timeout)
            finally:
                _kill(proc)
        with open(out_path, "rb") as f:
            stdout = f.read(OUTPUT_LIMIT).decode(errors="replace")
    return Result(stdout, proc.returncode, timed_out)
