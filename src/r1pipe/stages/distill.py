"""`r1pipe distill`: SFT of a smaller student on the rejection-sampled set.

    r1pipe distill --data data/sft --out models/student

The student comes from ``distill.student`` (``tiny`` at its own smaller size, a
local directory or a hub id), or from ``--student DIR``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from r1pipe import distributed
from r1pipe.config.models import ModelRef
from r1pipe.config.sft import DistillSection
from r1pipe.data.io import load_split, sft_pairs
from r1pipe.models import materialize
from r1pipe.training.sft import sft_stage


def run(cfg: DistillSection, data: Path, out: Path, student: Path | None = None) -> None:
    given = load_split(data)
    rows = sft_pairs(given, data)
    ref = ModelRef(model=str(student)) if student else cfg.student
    init = out.parent / f".{out.name}.init"
    if distributed.is_main():
        shutil.rmtree(init, ignore_errors=True)
        materialize(ref, cfg.seed, init)
    distributed.barrier()
    try:
        sft_stage("distill", cfg, init, rows, data, out, code=__name__, rows_given=len(given), parent=ref.model)
    finally:
        if distributed.is_main():
            shutil.rmtree(init, ignore_errors=True)
