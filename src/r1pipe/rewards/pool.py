"""A process pool whose every item has a hard timeout.

Some inputs make a grader hang or eat memory (``9^{9^{9^9}}`` makes sympy compute
a number with billions of digits, inside one C call that no signal interrupts).
So each item runs in a worker process with a memory limit, and the parent kills
and replaces any worker that runs past the item's deadline. The item then gets
the ``default`` result. Workers are started with ``spawn``: no torch or CUDA state
is inherited from the trainer.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing as mp
import time
from multiprocessing.connection import wait

_CTX = mp.get_context("spawn")


def _worker(conn, target: str, memory_mb: int) -> None:
    import resource

    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        try:
            result = ("ok", fn(*item))
        except BaseException as e:  # noqa: BLE001 - a grader error scores the item, it must not kill the pool
            result = ("error", repr(e)[:200])
        conn.send(result)


class TimeoutPool:
    def __init__(self, target: str, workers: int, timeout: float, memory_mb: int = 2048):
        self.target, self.size, self.timeout, self.memory_mb = target, workers, timeout, memory_mb
        self.workers: list[tuple] = []
        atexit.register(self.close)

    def _spawn(self):
        parent, child = _CTX.Pipe()
        proc = _CTX.Process(target=_worker, args=(child, self.target, self.memory_mb), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def map(self, items: list[tuple], default=None) -> list:
        """``fn(*item)`` for every item, in order; ``default`` where it timed out or raised."""
        results = [default] * len(items)
        while len(self.workers) < min(self.size, len(items)):
            self.workers.append(self._spawn())
        pending = list(enumerate(items))[::-1]
        busy: dict = {}  # conn -> (index, deadline, worker slot)
        idle = list(range(len(self.workers)))
        while pending or busy:
            while pending and idle:
                slot = idle.pop()
                index, item = pending.pop()
                proc, conn = self.workers[slot]
                conn.send(item)
                busy[conn] = (index, time.monotonic() + self.timeout, slot)
            next_deadline = min(d for _, d, _ in busy.values())
            for conn in wait(list(busy), timeout=max(0.0, next_deadline - time.monotonic())):
                index, _, slot = busy.pop(conn)
                try:
                    status, value = conn.recv()
                except EOFError:  # the worker died (memory limit): replace it
                    status, value = "error", None
                    self._replace(slot)
                if status == "ok":
                    results[index] = value
                idle.append(slot)
            now = time.monotonic()
            for conn, (_, deadline, slot) in list(busy.items()):
                if now >= deadline:
                    busy.pop(conn)
                    self._replace(slot)
                    idle.append(slot)
        return results

    def _replace(self, slot: int) -> None:
        proc, conn = self.workers[slot]
        proc.kill()
        proc.join()
        conn.close()
        self.workers[slot] = self._spawn()

    def close(self) -> None:
        for proc, conn in self.workers:
            proc.kill()
            proc.join()
            conn.close()
        self.workers = []


_POOLS: dict[tuple, TimeoutPool] = {}


def shared_pool(target: str, workers: int, timeout: float) -> TimeoutPool:
    """One pool per (function, size, timeout) per process, kept warm between batches."""
    key = (target, workers, timeout)
    if key not in _POOLS:
        _POOLS[key] = TimeoutPool(target, workers, timeout)
    return _POOLS[key]
