"""Which process this is, when a stage runs under ``torchrun`` or ``accelerate launch``.

Every stage runs the same code on one process or many. The launcher's environment
(``WORLD_SIZE``, ``RANK``, ...) says how many there are; accelerate's ``PartialState``
joins them into one process group (NCCL on GPUs, gloo on a CPU), the same group the
TRL trainers use. Only the main process writes outputs, draws progress and prints;
the others wait for it at a barrier, so no process ends while an output is half-written.

Generation is split by ``shard`` / ``merge``: each process takes every ``world``-th
unit of work (a batch of prompts, a prompt) and the results come back to every
process in the original order, so what a stage writes does not depend on the number
of processes.

This module imports nothing from r1pipe: artifacts, progress and the engines use it.
"""

from __future__ import annotations

import os
from functools import cache

# What torchrun / accelerate launch (WORLD_SIZE) and the MPI launchers set.
_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name])
    return default


def processes() -> int:
    """How many processes the launcher started, from the environment (joins nothing; 1 without a launcher)."""
    return _env_int(_SIZE_VARS, 1)


def launched() -> bool:
    """Whether a launcher started several processes (read from the environment; joins nothing)."""
    return processes() > 1


@cache
def state():
    """accelerate's PartialState: joins the process group once. ``cpu`` when there is no GPU, which makes
    it gloo (accelerate would otherwise treat a CPU-only torchrun as one process)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def world() -> int:
    return state().num_processes if launched() else 1


def rank() -> int:
    return state().process_index if launched() else 0


def is_main() -> bool:
    """The process that writes. Read from the environment, so that asking joins nothing."""
    return _env_int(_RANK_VARS, 0) == 0


def local_rank() -> int:
    return _env_int(("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK"), 0)


def barrier() -> None:
    if launched():
        state().wait_for_everyone()


def broadcast(obj):
    """The main process's ``obj``, on every process."""
    if not launched():
        return obj
    import torch.distributed as dist

    box = [obj]
    state()
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shard(n: int) -> range:
    """The indices of ``n`` units of work that this process does: every ``world``-th, from its rank."""
    return range(rank(), n, world())


def gather(obj) -> list:
    """Every process's ``obj``, in rank order, on every process (a collective)."""
    if not launched():
        return [obj]
    import torch.distributed as dist

    parts: list = [None] * world()
    dist.all_gather_object(parts, obj)
    return parts


def merge(mine: dict[int, object], n: int) -> list:
    """Every process's ``{index: result}`` for its ``shard(n)``, as one list in index order, on every process."""
    mine = {i: r for part in gather(mine) for i, r in part.items()}
    missing = [i for i in range(n) if i not in mine]
    if missing:
        raise RuntimeError(f"generation results missing for units {missing[:5]}")
    return [mine[i] for i in range(n)]


def sum_counts(counts: dict, slowest: tuple[str, ...] = ()) -> dict:
    """``counts`` summed over every process, but the keys in ``slowest``: their largest value (a collective)."""
    parts = gather(counts)
    return {k: max(p[k] for p in parts) if k in slowest else sum(p[k] for p in parts) for k in counts}
