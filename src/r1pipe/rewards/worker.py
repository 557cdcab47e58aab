"""A grading worker process: ``python -m r1pipe.rewards.worker MODULE:FUNCTION MEMORY_MB``.

Once its function is imported it says ``("ready", None)``. Then it reads argument
tuples from stdin and answers each with ``("ok", result)`` or ``("error", text)``
on stdout, framed by :mod:`multiprocessing.connection`. It is
started as a module of its own, not by ``multiprocessing``: the caller's
``__main__`` (a script without a main guard, a notebook, code read from stdin) is
never imported again.
"""

from __future__ import annotations

import importlib
import os
import resource
import sys
from multiprocessing.connection import Connection


def main(target: str, memory_mb: int) -> None:
    # The protocol owns the real stdout; anything the graded code prints goes to stderr.
    requests = Connection(os.dup(0), writable=False)
    answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    if memory_mb:
        limit = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    answers.send(("ready", None))
    while True:
        try:
            item = requests.recv()
        except EOFError:
            return
        try:
            answer = ("ok", fn(*item))
        except BaseException as e:  # noqa: BLE001 - a grader error scores the item, it must not end the worker
            answer = ("error", repr(e)[:200])
        answers.send(answer)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
