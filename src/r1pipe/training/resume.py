"""Resuming a training run: from its last checkpoint after a kill, or at a lower learning rate after it diverged.

The trainer checkpoints into the stage's work directory (``workdir.work_dir``, ``models/.A.work``) every
``save_steps``. The directory's stamp (``workdir.claim_work``) says what its checkpoints are valid for: the
section's settings, the starting model, the data and the r1pipe code (``workdir.fingerprint``). A rerun with
the same fingerprint resumes from the last complete checkpoint; a rerun of a diverged run that differs only in
its learning rate (the same lineage) resumes from the last checkpoint before the divergence; anything else
starts afresh.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transformers.trainer_utils import get_last_checkpoint

from r1pipe import distributed
from r1pipe.progress import console
from r1pipe.training.callbacks import Diverged
from r1pipe.workdir import claim_work, fingerprint, mark_diverged

# Settings a rerun may change and still resume from a diverged run's last good checkpoint.
RATE = ("learning_rate",)


def resume_point(work: Path, cfg, inputs: dict, code: str) -> tuple[str | None, int]:
    """(the last checkpoint, its step) of an interrupted run of exactly this training, or of a diverged run that
    differs from it only in its learning rate; else (None, 0). ``inputs``: the model and data it trains on.

    The main process decides and tells the others (the work directory is shared, like the output).
    """
    found: tuple[str | None, int] = (None, 0)
    if distributed.is_main():
        settings = cfg.model_dump()
        key = fingerprint(settings, inputs, code)
        lineage = fingerprint({k: v for k, v in settings.items() if k not in RATE}, inputs, code)
        old = claim_work(work, key, lineage)
        last = last_complete_checkpoint(work) if old else None
        if last:
            found = (str(last), _step(last))
            if old["fingerprint"] != key:
                console.print(f"resuming from step {found[1]} of a run that diverged at step {old['diverged_at']}, "
                              f"at learning_rate {cfg.trl_setting('learning_rate'):g}")
    return distributed.broadcast(found)


def diverged(work: Path, error: Diverged) -> Diverged:
    """The error to raise for a run that diverged: its stamp marked (so that a rerun at another learning rate
    may resume), and its message naming the checkpoint that rerun would start from."""
    if not distributed.is_main() or not mark_diverged(work, error.step):
        return error
    last = last_complete_checkpoint(work)
    return Diverged(error.step, str(error) + (f" ({last}, step {_step(last)})" if last else
                                              " (there is none: set save_steps to keep one)"))


def last_complete_checkpoint(work: Path) -> Path | None:
    """The newest checkpoint the trainer finished writing (transformers' ``get_last_checkpoint``); newer ones a
    kill cut short are removed.

    transformers writes ``trainer_state.json`` last, and deletes the previous checkpoint only after it, so a
    run killed while saving leaves a complete older checkpoint beside the half-written one.
    """
    while (last := get_last_checkpoint(str(work))) is not None:
        try:
            json.loads((Path(last) / "trainer_state.json").read_text())
            return Path(last)
        except (OSError, ValueError):
            shutil.rmtree(last, ignore_errors=True)
    return None


def _step(checkpoint: Path) -> int:
    return int(Path(checkpoint).name.split("-")[-1])
