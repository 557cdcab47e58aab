"""Grading targets for tests/test_pool.py, imported by pool workers (not a test module)."""

import os
import signal
from pathlib import Path

if os.environ.get("R1PIPE_TEST_NEVER_STARTS"):
    raise ImportError("this worker can never start: its module is broken")
_once = os.environ.get("R1PIPE_TEST_FAIL_ONCE")
if _once and Path(_once).exists():
    Path(_once).unlink()  # the first worker fails at import; its replacement starts
    raise ImportError("this worker fails at import once")


def echo(x):
    if x == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if x == "exit":
        os._exit(3)
    if x == "raise":
        raise ValueError("a grader error")
    return x
