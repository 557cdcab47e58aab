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

from pathlib import Path

from r1pipe.config.grpo import GRPOSection
from r1pipe.data.mixture import rl_prompts
from r1pipe.models import require_model_dir
from r1pipe.rewards.sandbox import require as require_sandbox
from r1pipe.training.grpo import train_grpo
from r1pipe.training.stage import training_stage


def run(cfg: GRPOSection, section: str, model: Path, data: Path, out: Path, live: Path | None = None) -> None:
    require_model_dir(model)
    prompts = rl_prompts(data, cfg)
    unsafe = require_sandbox(prompts["task"], cfg.sandbox, section)
    inputs = {"model": model, "data": data, **cfg.local_files()}
    training_stage(section, cfg, out, code=__name__, model=model, inputs=inputs, parent=str(model),
                   train=lambda out_dir, work, resume: train_grpo(model, prompts, cfg, out_dir, work, section, resume,
                                                                  live_dir=live),
                   extra={"prompts": len(prompts), **({"sandbox": unsafe} if unsafe else {})},
                   wrote={"curves": live} if live else None)
