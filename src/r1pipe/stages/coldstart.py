"""`r1pipe coldstart`: SFT of the base model on long chain-of-thought data (model A).

    r1pipe coldstart --model models/base --data data/prompts --out models/A

``--data`` is either prompt rows with worked solutions (from ``prepare``), which
are rendered as ``<think>solution</think><answer>gold</answer>``, or any dataset
with ``prompt``/``completion`` columns, such as reject-sample output of an R1-Zero
model. The loss covers the completion only.
"""

from __future__ import annotations

from pathlib import Path

from r1pipe.config.sft import ColdstartSection
from r1pipe.data.io import load_split, sft_pairs
from r1pipe.models import require_model_dir
from r1pipe.training.sft import sft_stage


def run(cfg: ColdstartSection, model: Path, data: Path, out: Path) -> None:
    require_model_dir(model)
    given = load_split(data, "train")
    rows = sft_pairs(given, data)
    sft_stage("coldstart", cfg, model, rows, data, out, code=__name__, rows_given=len(given))
