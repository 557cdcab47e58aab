"""GRPO on TRL's GRPOTrainer with r1pipe's rule-based rewards."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from r1pipe.config import GRPOSection
from r1pipe.models import load_model, load_tokenizer
from r1pipe.rewards import get_reward
from r1pipe.seed import seed_everything
from r1pipe.training.common import (
    RichProgressCallback,
    device_args,
    quiet,
    save_log_history,
)


def train_grpo(model_dir: Path, prompts: Dataset, cfg: GRPOSection, out_dir: Path, work_dir: Path,
               label: str) -> dict:
    seed_everything(cfg.seed)
    model = load_model(model_dir)
    tok = load_tokenizer(model_dir)
    specs = cfg.reward_specs()
    args = GRPOConfig(
        output_dir=str(work_dir),
        learning_rate=cfg.learning_rate,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        beta=cfg.beta,
        epsilon=cfg.epsilon,
        loss_type=cfg.loss_type,
        reward_weights=[weight for _, weight, _ in specs],
        **device_args(cfg.seed, cfg.logging_steps),
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[get_reward(name, **options) for name, _, options in specs],
        args=args,
        train_dataset=prompts,
        processing_class=tok,
        callbacks=[RichProgressCallback(label)],
    )
    quiet(trainer)
    trainer.train()
    trainer.save_model(str(out_dir))
    history = save_log_history(trainer, out_dir)
    rewards = [h["reward"] for h in history if "reward" in h]
    k = max(1, len(rewards) // 5)
    return {
        "steps": trainer.state.global_step,
        "reward_first_20pct": sum(rewards[:k]) / k if rewards else None,
        "reward_last_20pct": sum(rewards[-k:]) / k if rewards else None,
    }
