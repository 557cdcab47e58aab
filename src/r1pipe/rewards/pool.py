"""A process pool whose every item has a hard timeout, and whose workers cannot take the caller down.

Some inputs make a grader hang or eat memory (``9^{9^{9^9}}`` makes sympy compute
a number with billions of digits, inside one C call that no signal interrupts).
So each item runs in a worker process with a memory limit, and the parent kills
and replaces any worker that runs past the item's deadline. The item then gets
the ``default`` result, and so does an item whose worker died in any other way
(killed, out of memory, a broken pipe): the worker is replaced, the caller goes on.

Workers are ``python -m r1pipe.rewards.worker`` processes talking over pipes
(:mod:`r1pipe.rewards.worker`): no torch or CUDA state is inherited from the
trainer, and the caller's ``__main__`` is never re-imported, so the rewards work
from any script, a notebook or standard input. A pool whose workers die before
answering anything, several times in a row, raises one error naming the cause.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection, wait

from r1pipe import R1pipeError
from r1pipe.rewards import worker as worker_module

# Fresh workers that died before answering once, in a row, before the pool gives up.
START_FAILURES = 3
# Seconds a fresh worker may take to import its grader and say it is ready.
START_TIMEOUT = 120.0


class Worker:
    """One worker process, its two pipe ends, and a file that keeps its stderr for error messages."""

    def __init__(self, target: str, memory_mb: int):
        self.stderr = tempfile.TemporaryFile()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", worker_module.__name__, target, str(memory_mb)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.requests = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.answers = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self.proc.stdin.close()
        self.proc.stdout.close()
        # An item's deadline starts when its worker is ready: starting Python and importing the
        # grader can take seconds on a loaded machine, and must not count against the item.
        self.ready = False
        self.start_deadline = time.monotonic() + START_TIMEOUT
        self.answered = False

    def last_error(self) -> str:
        self.stderr.seek(0)
        lines = [line for line in self.stderr.read().decode(errors="replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else f"exit code {self.proc.poll()}"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for end in (self.requests, self.answers):
            end.close()
        self.stderr.close()


class TimeoutPool:
    def __init__(self, target: str, workers: int, timeout: float, memory_mb: int = 2048):
        self.target, self.size, self.timeout, self.memory_mb = target, workers, timeout, memory_mb
        self.workers: list[Worker] = []
        self.start_failures = 0
        atexit.register(self.close)

    def map(self, items: list[tuple], default=None) -> list:
        """``fn(*item)`` for every item, in order; ``default`` where it timed out, raised or its worker died."""
        results = [default] * len(items)
        while len(self.workers) < min(self.size, len(items)):
            self.workers.append(Worker(self.target, self.memory_mb))
        pending = list(enumerate(items))[::-1]
        # answers connection -> (item index, or None while the worker starts; deadline; worker slot)
        busy: dict = {}
        idle: list[int] = []
        for slot in range(len(self.workers)):
            self._enlist(slot, busy, idle)
        while pending or any(index is not None for index, _, _ in busy.values()):
            while pending and idle:
                slot = idle.pop()
                index, item = pending.pop()
                try:
                    self.workers[slot].requests.send(item)
                except OSError:  # the worker is gone (broken pipe): the item scores the default
                    self._replace(slot)
                    self._enlist(slot, busy, idle)
                    continue
                busy[self.workers[slot].answers] = (index, time.monotonic() + self.timeout, slot)
            next_deadline = min(d for _, d, _ in busy.values())
            for conn in wait(list(busy), timeout=max(0.0, next_deadline - time.monotonic())):
                index, _, slot = busy.pop(conn)
                try:
                    status, value = conn.recv()
                except (EOFError, OSError):  # died: killed, out of memory, reset, or failed to start
                    self._replace(slot)
                    self._enlist(slot, busy, idle)
                    continue
                if index is None:  # the worker's "ready"
                    self.workers[slot].ready = True
                else:
                    self.workers[slot].answered = True
                    self.start_failures = 0
                    if status == "ok":
                        results[index] = value
                idle.append(slot)
            now = time.monotonic()
            for conn, (index, deadline, slot) in list(busy.items()):
                if now >= deadline:
                    busy.pop(conn)
                    self._replace(slot, timed_out=index is not None)
                    self._enlist(slot, busy, idle)
        return results

    def _enlist(self, slot: int, busy: dict, idle: list[int]) -> None:
        """A ready worker is idle; a starting one is waited on until its start deadline."""
        worker = self.workers[slot]
        if worker.ready:
            idle.append(slot)
        else:
            busy[worker.answers] = (None, worker.start_deadline, slot)

    def _replace(self, slot: int, timed_out: bool = False) -> None:
        old = self.workers[slot]
        if not (old.answered or timed_out):
            self.start_failures += 1
            if self.start_failures >= START_FAILURES:
                try:  # its pipe closed a moment before it exited: let it finish, for its last words
                    old.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                reason = old.last_error() if old.proc.poll() is not None else f"no answer in {START_TIMEOUT:.0f} s"
                self.close()
                raise R1pipeError(f"grading workers for {self.target} cannot start: {reason}")
        old.kill()
        self.workers[slot] = Worker(self.target, self.memory_mb)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.workers = []


_POOLS: dict[tuple, TimeoutPool] = {}


def shared_pool(target: str, workers: int, timeout: float) -> TimeoutPool:
    """One pool per (function, size, timeout) per process, kept warm between batches."""
    key = (target, workers, timeout)
    if key not in _POOLS:
        _POOLS[key] = TimeoutPool(target, workers, timeout)
    return _POOLS[key]
