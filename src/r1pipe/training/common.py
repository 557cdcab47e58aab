"""Trainer arguments every r1pipe stage shares, whatever the hardware."""

from __future__ import annotations

import json
import random
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from transformers import PrinterCallback


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device_args(seed: int, logging_steps: int) -> dict:
    """TrainingArguments that differ between a CPU and a GPU, plus what every stage wants.

    - CPU: ``use_cpu`` and no bf16 (TRL would otherwise refuse or fall back silently).
    - GPU: bf16 only as autocast; the weights stay float32 (see DESIGN.md: bf16 weights
      swallow small updates and nothing warns).
    - Gradient checkpointing off: TRL turns it on by default, which costs time on small models.
    - No online loggers and no tqdm: r1pipe draws its own rich bar and writes its own log.
    """
    cuda = torch.cuda.is_available()
    return dict(
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=False,
        report_to="none",
        disable_tqdm=True,
        save_strategy="no",
        seed=seed,
        data_seed=seed,
        logging_steps=logging_steps,
    )


def quiet(trainer):
    """With tqdm off, transformers prints every log dict; r1pipe's rich bar shows them instead."""
    trainer.remove_callback(PrinterCallback)
    return trainer


def save_log_history(trainer, out_dir: Path) -> list[dict]:
    """The trainer's logged metrics, next to the model, for `report`."""
    history = trainer.state.log_history
    (Path(out_dir) / "train_log.json").write_text(json.dumps(history, indent=1) + "\n")
    return history


@contextmanager
def work_dir(out: Path):
    """The trainer's scratch directory, a hidden sibling of the output, removed on success."""
    work = Path(out).parent / f".{Path(out).name}.work"
    work.mkdir(parents=True, exist_ok=True)
    yield work
    shutil.rmtree(work, ignore_errors=True)
