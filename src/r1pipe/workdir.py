"""A stage's work directory: a hidden sibling of its output (``models/.A.work``) that keeps a trainer's
checkpoints and generation's finished batches across a kill, and its stamp (``r1pipe-resume.json``): what the
work in it is valid for (:func:`fingerprint`), so that a rerun resumes from it only on the same settings,
inputs and code.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import contextmanager
from pathlib import Path

from r1pipe import distributed
from r1pipe.codegraph import code_hash
from r1pipe.disk import remove_made, write_json_atomic
from r1pipe.manifest import content_hash


def fingerprint(params: dict, inputs: dict[str, Path | str | None], code: str) -> str:
    """What a stage's scratch work (``work_dir``) is valid for: its settings, its inputs' contents and the
    r1pipe code it runs. A rerun with another fingerprint starts fresh."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for name, p in sorted(inputs.items()):
        h.update(f"{name}={content_hash(p) if p else None}".encode())
    h.update(code_hash(code).encode())
    return h.hexdigest()


RESUME_STAMP = "r1pipe-resume.json"


def claim_work(work: Path, fingerprint: str, lineage: str | None = None) -> dict:
    """Make ``work`` (a stage's work directory) this run's, on the main process, and return the stamp of the run
    that left it there where its contents may be reused: the same ``fingerprint``, or a diverged run (its stamp
    holds ``diverged_at``) of the same ``lineage``. Anything else in it is another run's leftovers, removed, and
    the result is ``{}``. One stamp serves the trainers' checkpoints and generation's finished batches."""
    stamp = work / RESUME_STAMP
    old = json.loads(stamp.read_text()) if stamp.is_file() else {}
    same_lineage = "diverged_at" in old and lineage is not None and old.get("lineage") == lineage
    if not (old.get("fingerprint") == fingerprint or same_lineage):
        for child in work.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        old = {}
    write_json_atomic(stamp, {"fingerprint": fingerprint, **({"lineage": lineage} if lineage else {})})
    return old


def mark_diverged(work: Path, step: int) -> bool:
    """Record in ``work``'s stamp that its run diverged at ``step``: a rerun of the same lineage (another
    learning rate) may resume from a checkpoint before it. False where ``work`` has no stamp to mark."""
    stamp = work / RESUME_STAMP
    if not stamp.is_file():
        return False
    write_json_atomic(stamp, {**json.loads(stamp.read_text()), "diverged_at": step})
    return True


@contextmanager
def work_dir(out: Path | str, keep: tuple[type[BaseException], ...] = ()):
    """A stage's scratch directory, a hidden sibling of its output (``models/.A.work``), removed on success.

    A killed or interrupted run (SIGKILL, Ctrl-C) leaves it behind, so that a rerun resumes from what it
    holds (a trainer's checkpoints, generation's finished batches), and so do the errors in ``keep``. Any
    other error (a bad input, a full disk, which may have cut its newest file short) removes it. It must
    be on a filesystem that every process sees, like the output.
    """
    work = Path(out).parent / f".{Path(out).name}.work"
    made = [p for p in [work.parent, *work.parent.parents] if not p.exists()]  # removed with it, where empty
    if distributed.is_main():
        work.mkdir(parents=True, exist_ok=True)
    distributed.barrier()
    try:
        yield work
    except keep:
        raise
    except Exception:
        if distributed.is_main():
            _remove(work, made)
        raise
    distributed.barrier()  # every process is done with it
    if distributed.is_main():
        _remove(work, made)


def _remove(work: Path, made: list[Path]) -> None:
    """The work directory, and the parents made for it that nothing else has filled since (deepest first)."""
    shutil.rmtree(work, ignore_errors=True)
    remove_made(made)
