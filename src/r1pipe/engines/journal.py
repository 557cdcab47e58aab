"""Finished generation batches kept on disk, so that a killed reject-sample or eval resumes where it stopped.

Both engines generate in batches that do not depend on each other: each batch is seeded from the stage's
seed and its position, and under N processes each process takes every N-th batch. So a batch, once
generated, is final. The engines write each finished batch into the stage's work directory (a hidden
sibling of its output, ``data/.sft.work``, ``metrics/eval/.A.json.work``) and, on a rerun, read it back
instead of generating it again:

    work/r1pipe-resume.json           what the batches are valid for: the stage's settings, model, data, code
                                      (``workdir.claim_work``, the stamp the trainers' checkpoints use too)
    work/<call>/00003.json.gz         batch 3 of one generate call (a benchmark, the judge's verdicts, ...)

``<call>`` is a hash of everything that call's batches depend on besides the stamp (the prompt texts, the
number of samples, the sampling settings, the seed, the batch size), so two calls of one stage never share
files. A rerun whose stage fingerprint differs (another model, temperature, prompt set, r1pipe code)
empties the directory and starts fresh, as the training stages do with their checkpoints.

A batch file is written through a temporary sibling and renamed, so a kill leaves either the whole file or
none; one cut short some other way (a full disk, a copy that stopped) fails gzip's CRC or the shape
check, and is generated again. Under N processes every process writes its own batches; like the
training checkpoints, the work directory must be on a filesystem that every process sees.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from r1pipe import distributed
from r1pipe.config.sampling import Sampling
from r1pipe.data.completion import Completion
from r1pipe.disk import write_atomic
from r1pipe.progress import console
from r1pipe.workdir import claim_work

Groups = list[list[Completion]]


class Journal:
    """The finished batches of one stage run, in ``directory``, valid for ``fingerprint``.

    The main process checks the stamp: another run's batches are removed. ``resumed`` and ``generated``
    count batches over every process, for the run log.
    """

    def __init__(self, directory: Path | str, fingerprint: str):
        self.dir = Path(directory)
        self.resumed = self.generated = 0
        if distributed.is_main():
            self.dir.mkdir(parents=True, exist_ok=True)
            claim_work(self.dir, fingerprint)
        distributed.barrier()  # no process reads a batch before the stale ones are gone

    def batches(self, sizes: list[int], n: int, generate: Callable[[int], Groups], call: dict, label: str,
                advance: Callable[[int], None] = lambda b: None) -> list[Groups]:
        """Every batch, in order, on every process (batch ``b`` holds ``sizes[b]`` prompts of ``n`` completions
        each): this process's share (``distributed.shard``) read back where a killed run finished it, generated
        by ``generate(b)`` and written where not, then merged with the others'. ``call`` names what the
        batches depend on (see the module docstring)."""
        count = len(sizes)
        part = self.dir / hashlib.sha256(json.dumps(call, sort_keys=True, default=str).encode()).hexdigest()[:16]
        part.mkdir(parents=True, exist_ok=True)
        if distributed.is_main():
            kept = sum((part / _name(b)).is_file() for b in range(count))
            if kept:
                console.print(f"{label}: {kept} of {count} batches kept from an interrupted run ({part})",
                              soft_wrap=True)
        mine = {}
        for b in distributed.shard(count):
            groups = read_batch(part / _name(b), sizes[b], n)
            resumed = groups is not None
            if not resumed:
                groups = generate(b)
                rows = json.dumps([[asdict(c) for c in g] for g in groups]).encode()
                write_atomic(part / _name(b), gzip.compress(rows, compresslevel=1, mtime=0))
            mine[b] = (resumed, groups)
            advance(b)
        merged = distributed.merge(mine, count)
        resumed = sum(flag for flag, _ in merged)
        self.resumed += resumed
        self.generated += count - resumed
        return [groups for _, groups in merged]

    def counts(self) -> dict[str, int]:
        """For the run log: batches read back from an interrupted run, and batches generated."""
        return {"resumed": self.resumed, "generated": self.generated}


def run_batches(journal: Journal | None, sizes: list[int], n: int, generate: Callable[[int], Groups], call: dict,
                label: str, advance: Callable[[int], None] = lambda b: None) -> list[Groups]:
    """What an engine calls: its batches through ``journal`` where the stage keeps one; else each process
    generates its share and nothing is kept."""
    if journal is not None:
        return journal.batches(sizes, n, generate, call, label, advance)
    mine = {}
    for b in distributed.shard(len(sizes)):
        mine[b] = generate(b)
        advance(b)
    return distributed.merge(mine, len(sizes))


def batch_sizes(prompts: int, batch_size: int) -> list[int]:
    """How many prompts each batch of ``batch_size`` holds (the last one may hold fewer)."""
    return [min(batch_size, prompts - start) for start in range(0, prompts, batch_size)]


def call_key(texts: list[str], n: int, sampling: Sampling, seed: int, batch_size: int, engine: str) -> dict:
    """What one generate call's batches depend on, besides the stage fingerprint."""
    return {"texts": hashlib.sha256(json.dumps(texts).encode()).hexdigest(), "n": n, "sampling": asdict(sampling),
            "seed": seed, "batch_size": batch_size, "engine": engine}


def read_batch(path: Path, prompts: int, n: int) -> Groups | None:
    """A finished batch of ``prompts`` groups of ``n``, or None where there is none or it is damaged (then it is
    removed, to be generated again)."""
    if not path.is_file():
        return None
    try:
        rows = json.loads(gzip.decompress(path.read_bytes()))
        groups = [[Completion(c["text"], c["n_tokens"], c["finished"],
                              None if c["token_ids"] is None else tuple(c["token_ids"])) for c in g] for g in rows]
        if len(groups) != prompts or any(len(g) != n for g in groups):
            raise ValueError(f"{len(groups)} groups where {prompts} of {n} were written")
        return groups
    except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError) as e:
        console.print(f"{path}: damaged ({type(e).__name__}); generating that batch again", soft_wrap=True)
        path.unlink(missing_ok=True)
        return None


def _name(b: int) -> str:
    return f"{b:05d}.json.gz"
