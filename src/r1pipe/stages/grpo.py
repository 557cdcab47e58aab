"""`r1pipe grpo`: GRPO with rule-based rewards on TRL's GRPOTrainer.

    r1pipe grpo --section rl_reasoning --model models/A --data data/prompts --out models/B
    r1pipe grpo --section rl_all       --model models/C --data data/prompts --out models/D

The params section picks the rewards and their weights (``rewards:
{accuracy: 1.0, format: 0.5}``) and every GRPO setting. R1-Zero is this command
on the base model.
"""

from __future__ import annotations

import time
from pathlib import Path

from r1pipe.artifacts import atomic_output, write_manifest
from r1pipe.config import GRPOSection
from r1pipe.data.io import load_split, require_columns
from r1pipe.models import require_model_dir
from r1pipe.progress import summary
from r1pipe.training.common import work_dir
from r1pipe.training.grpo import train_grpo


def run(cfg: GRPOSection, section: str, model: Path, data: Path, out: Path) -> None:
    started = time.time()
    require_model_dir(model)
    prompts = load_split(data, "train")
    require_columns(prompts, ["prompt", "answer", "task"], data)
    if cfg.max_prompts:
        prompts = prompts.select(range(min(cfg.max_prompts, len(prompts))))
    prompts = prompts.select_columns(["prompt", "answer", "task"])
    with atomic_output(out) as tmp, work_dir(out) as work:
        numbers = train_grpo(model, prompts, cfg, tmp, work, label=section)
        write_manifest(tmp, stage=section, params=cfg.model_dump(), inputs={"model": model, "data": data},
                       parent=str(model), started=started, extra={"metrics": numbers})
    summary(f"grpo ({section})", {"model": out}, numbers, started)
