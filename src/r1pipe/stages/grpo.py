"""`r1pipe grpo`: GRPO with rule-based (and reward-model) rewards on TRL's GRPOTrainer.

    r1pipe grpo --section rl_reasoning --model models/A --data data/prompts --out models/B
    r1pipe grpo --section rl_all       --model models/C --data data/prompts --out models/D
    r1pipe grpo --section rl_zero      --model models/base --out models/zero      # R1-Zero

The section picks the rewards and weights, every GRPO setting, the prompt
template (``zero`` for R1-Zero) and, for rl_all, the share of general prompts.
Curves go to ``--live`` (dvclive; ``dvc plots show``), samples and the trainer
log next to the model. A killed run, rerun, resumes from its last checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

from r1pipe.artifacts import atomic_output, write_manifest
from r1pipe.config import GRPOSection
from r1pipe.data.mixture import rl_prompts
from r1pipe.models import require_model_dir
from r1pipe.progress import summary
from r1pipe.training.common import work_dir
from r1pipe.training.grpo import train_grpo


def run(cfg: GRPOSection, section: str, model: Path, data: Path, out: Path, live: Path | None = None) -> None:
    started = time.time()
    require_model_dir(model)
    prompts = rl_prompts(data, cfg)
    inputs = {"model": model, "data": data, **({"general": cfg.general_prompts} if cfg.general_prompts else {})}
    with atomic_output(out) as tmp, work_dir(out) as work:
        numbers = train_grpo(model, prompts, cfg, tmp, work, label=section, live_dir=live)
        write_manifest(tmp, stage=section, params=cfg.model_dump(), inputs=inputs, parent=str(model),
                       started=started, extra={"metrics": numbers, "prompts": len(prompts)})
    summary(f"grpo ({section})", {"model": out, **({"curves": live} if live else {})}, numbers, started)
