"""Trainer arguments every r1pipe stage shares, whatever the hardware."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import PrinterCallback, TrainerCallback

from r1pipe import R1pipeError
from r1pipe.progress import progress


def device_args(seed: int, logging_steps: int) -> dict:
    """TrainingArguments that differ between a CPU and a GPU, plus what every stage wants.

    - CPU: ``use_cpu`` and no bf16 (TRL would otherwise refuse or fall back silently).
    - GPU: bf16 only as autocast; the weights stay float32 (see DESIGN.md: bf16 weights
      swallow small updates and nothing warns).
    - Activation (gradient) checkpointing off: TRL turns it on by default, which costs time on small models.
    - No online loggers and no tqdm: r1pipe draws its own rich bar and writes its own log.
    """
    cuda = torch.cuda.is_available()
    return dict(
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        activation_checkpointing=False,
        report_to="none",
        disable_tqdm=True,
        save_strategy="no",
        seed=seed,
        data_seed=seed,
        logging_steps=logging_steps,
    )


def trainable(model, train_layers: int | None):
    """Freeze all but the top ``train_layers`` decoder layers and the final norm (None: train everything).

    The input embedding is frozen with the lower layers; a tied LM head shares it,
    so it stays frozen too.
    """
    if train_layers is None:
        return model
    layers = model.get_decoder().layers
    if train_layers > len(layers):
        raise R1pipeError(f"train_layers: {train_layers} is more than the model's {len(layers)} layers")
    model.requires_grad_(False)
    for layer in layers[len(layers) - train_layers :]:
        layer.requires_grad_(True)
    model.get_decoder().norm.requires_grad_(True)
    return model


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


class RichProgressCallback(TrainerCallback):
    """Replaces the trainer's tqdm bar: one rich bar over optimizer steps, with the last logged loss."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = progress()
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=state.max_steps, status="", completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar and logs:
            shown = {k: v for k, v in logs.items() if k in ("loss", "reward", "grad_norm") and isinstance(v, float)}
            self.bar.update(self.task, status="  ".join(f"{k}={v:.4g}" for k, v in shown.items()))

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar:
            self.bar.stop()
