"""Supervised fine-tuning on prompt/completion rows, with the loss on the completion only.

One function serves `coldstart`, `sft` and `distill`: they differ only in which
model they start from and which rows they train on.
"""

from __future__ import annotations

from pathlib import Path

import torch
from datasets import Dataset
from transformers import Trainer
from trl import SFTTrainer

from r1pipe.config.sft import TrainSection
from r1pipe.models import load_model, load_tokenizer, require_model_dir
from r1pipe.training.args import checkpoint_args, trl_args
from r1pipe.training.callbacks import RichProgressCallback, dead_run, guards, quiet
from r1pipe.training.model import lora_config, save_trained, trainable
from r1pipe.training.stage import CountsWork, TrainResult, save_log_history, timed_train, training_stage


class R1SFTTrainer(CountsWork, SFTTrainer):
    """TRL's SFTTrainer, its work counted."""


class CPUSFTTrainer(R1SFTTrainer):
    """SFTTrainer with the model's own cross-entropy loss.

    TRL computes the loss with a chunked log-prob kernel written for Triton; on a
    CPU its torch fallback took two thirds of every step (SmolLM2-135M, 2 cores),
    the model's own loss is the same quantity (``bench/cpu_training.py``). TRL's
    token-accuracy and entropy metrics are not logged on this path.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)


def training_rows(rows: Dataset, cfg: TrainSection) -> Dataset:
    """The rows SFT trains on: columns ``prompt`` and ``completion``, the first ``max_samples`` of them."""
    rows = rows.select_columns(["prompt", "completion"])
    return rows.select(range(min(cfg.max_samples, len(rows)))) if cfg.max_samples else rows


def build_trainer(model_dir: Path, rows: Dataset, cfg: TrainSection, work_dir: Path, label: str):
    """The SFT trainer of a section: TRL's SFTTrainer (r1pipe's subclass on a CPU) with the section's TRL settings
    and r1pipe's callbacks, on ``rows`` (``training_rows``)."""
    model = trainable(load_model(model_dir), cfg.train_layers)  # every weight, or the top layers, or (lora) none
    tok = load_tokenizer(model_dir)
    args = trl_args(cfg, output_dir=str(work_dir), **checkpoint_args(cfg.save_steps))
    trainer_class = R1SFTTrainer if torch.cuda.is_available() else CPUSFTTrainer
    return trainer_class(model=model, args=args, train_dataset=rows, processing_class=tok,
                         callbacks=[RichProgressCallback(label), *guards(label, args.learning_rate)],
                         peft_config=lora_config(cfg.lora, model))


def row_counts(trainer, rows: Dataset) -> dict:
    """How much of ``rows`` a run used: rows trained (TRL drops those that truncation leaves with no completion
    token), rows dropped, rows cut at ``max_length`` and the completion tokens cut from them. The lengths before
    the cut come from TRL's own preparation (the same template and tokenizer), run once more without it."""
    counts = {"rows_trained": len(trainer.train_dataset), "rows_dropped": len(rows) - len(trainer.train_dataset)}
    limit = trainer.args.max_length
    if limit is None or trainer.args.packing:
        return counts
    # The trainer's own args with the cut off (a new config object would reset accelerate's state under the
    # trainer's feet), restored at once.
    trainer.args.max_length = None
    try:
        whole = trainer._prepare_dataset(rows, trainer.processing_class, trainer.args, packing=False,
                                         formatting_func=None, dataset_name="uncut")
    finally:
        trainer.args.max_length = limit
    cut = [sum(label != -100 for label in r["labels"][limit:]) if trainer.args.truncation_mode == "keep_start"
           else sum(label != -100 for label in r["labels"][:-limit]) for r in whole if len(r["input_ids"]) > limit]
    return {**counts, "rows_truncated": len(cut), "completion_tokens_cut": int(sum(cut))}


def truncation_warning(counts: dict, cfg: TrainSection) -> str | None:
    rows = counts["rows_trained"] + counts["rows_dropped"]
    share = counts.get("rows_truncated", 0) / max(rows, 1)
    if share <= cfg.max_truncated_share:
        return None
    return (f"{counts['rows_truncated']} of {rows} rows ({share:.0%}) are longer than max_length "
            f"{cfg.trl_setting('max_length')}: {counts['completion_tokens_cut']} completion tokens cut, "
            f"{counts['rows_dropped']} rows dropped; raise max_length or max_truncated_share")


def train_sft(model_dir: Path, rows: Dataset, cfg: TrainSection, out_dir: Path, work_dir: Path, label: str,
              resume: tuple[str | None, int] = (None, 0)) -> TrainResult:
    """Train ``model_dir`` on ``rows`` (columns ``prompt`` and ``completion``), from the checkpoint ``resume``
    names; save to ``out_dir``."""
    resume, resume_step = resume
    rows = training_rows(rows, cfg)
    trainer = build_trainer(model_dir, rows, cfg, work_dir, label)
    counts = row_counts(trainer, rows)
    quiet(trainer)
    work = timed_train(trainer, resume)
    save_trained(trainer, out_dir)
    history = save_log_history(trainer, out_dir)
    losses = [h["loss"] for h in history if "loss" in h]
    warnings = [w for w in (truncation_warning(counts, cfg), dead_run(history)) if w]
    metrics = {"train_rows": len(rows), **counts, "steps": trainer.state.global_step,
               "first_loss": losses[0] if losses else None, "final_loss": losses[-1] if losses else None}
    return TrainResult(metrics, resume_step, work, "; ".join(warnings) or None)


def sft_stage(stage: str, cfg: TrainSection, model_dir: Path, rows: Dataset, data: Path, out: Path, code: str,
              parent: str | None = None, rows_given: int | None = None) -> None:
    """Train ``model_dir`` on ``rows`` inside the stage skeleton (atomic output, manifest, summary).

    ``code`` is the calling stage's module, whose code hash the run log records; ``rows_given``, the rows of the
    data ``rows`` came from (those without a worked solution are counted in the manifest and summary).
    """
    model_dir, out = Path(model_dir), Path(out)
    require_model_dir(model_dir)
    inputs = {"data": data} if parent else {"model": model_dir, "data": data}
    extra = {"rows_left_out": rows_given - len(rows)} if rows_given is not None else None
    training_stage(stage, cfg, out, code=code, model=model_dir, inputs=inputs, parent=parent or str(model_dir),
                   train=lambda out_dir, work, resume: train_sft(model_dir, rows, cfg, out_dir, work, stage, resume),
                   extra=extra)
