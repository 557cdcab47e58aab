"""`r1pipe sft`: SFT of the original base model on the rejection-sampled set (model C).

    r1pipe sft --model models/base --data data/sft --out models/C
"""

from __future__ import annotations

from pathlib import Path

from r1pipe.config.sft import SFTSection
from r1pipe.data.io import load_split, sft_pairs
from r1pipe.models import require_model_dir
from r1pipe.training.sft import sft_stage


def run(cfg: SFTSection, model: Path, data: Path, out: Path) -> None:
    require_model_dir(model)
    given = load_split(data)
    rows = sft_pairs(given, data)
    sft_stage("sft", cfg, model, rows, data, out, code=__name__, rows_given=len(given))
