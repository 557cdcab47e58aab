"""Trainer arguments every r1pipe stage shares, whatever the hardware."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import PrinterCallback, TrainerCallback

from r1pipe import R1pipeError, distributed
from r1pipe.artifacts import content_hash
from r1pipe.progress import console, progress

# r1pipe's name of a setting -> TRL's. Every other section field is passed to TRL under its own name,
# except R1PIPE_ONLY. A TRL upgrade that renames a setting is this one place to change: `trl_args` fails
# on a field TRL does not know, and tests/test_training.py builds every section's TRL config.
TRL_NAMES = {
    "batch_size": "per_device_train_batch_size",
    "grad_accum": "gradient_accumulation_steps",
    "lr_scheduler": "lr_scheduler_type",
    "epochs": "num_train_epochs",
    "warmup_ratio": "warmup_steps",  # a ratio: see RatioWarmup
}
# Section fields that r1pipe itself acts on.
R1PIPE_ONLY = {"train_layers", "lora", "max_samples", "rewards", "template", "max_prompts", "general_prompts",
               "general_ratio", "sample_every", "save_steps", "student", "sandbox"}


class RatioWarmup:
    """transformers reads ``warmup_steps`` below 1 as a ratio and from 1 up as a count, so a
    ``warmup_ratio`` of 1.0 would mean one step. r1pipe always passes a ratio."""

    def get_warmup_steps(self, num_training_steps: int) -> int:
        return math.ceil(num_training_steps * self.warmup_steps)


def trl_args(config_class, cfg, **overrides):
    """``config_class`` (SFTConfig, GRPOConfig) from a section: its TRL fields, the device defaults, overrides."""
    known = {f.name for f in dataclasses.fields(config_class)}
    args = {}
    for key, value in cfg.model_dump().items():
        if key in R1PIPE_ONLY:
            continue
        name = TRL_NAMES.get(key, key)
        if name not in known:
            raise R1pipeError(f"{key}: {config_class.__name__} has no setting {name!r} (see training/common.py)")
        args[name] = value
    return config_class(**{**args, **device_args(cfg.seed, cfg.logging_steps), **overrides})


def device_args(seed: int, logging_steps: int) -> dict:
    """TrainingArguments that differ between a CPU and a GPU, plus what every stage wants.

    - CPU: ``use_cpu`` and no bf16 (TRL would otherwise refuse or fall back silently).
    - GPU: bf16 only as autocast; the weights stay float32 (see DESIGN.md: bf16 weights
      swallow small updates and nothing warns).
    - Activation (gradient) checkpointing off: TRL turns it on by default, which costs time on small models.
    - Under N processes, DDP does not search for unused parameters (an extra pass per step).
    - No online loggers and no tqdm: r1pipe draws its own rich bar and writes its own log.
    """
    cuda = torch.cuda.is_available()
    return dict(
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        activation_checkpointing=False,
        ddp_find_unused_parameters=False,  # frozen layers are not DDP's; everything it holds gets a gradient
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


def lora_config(lora, model):
    """peft's LoraConfig for a section's ``lora`` block (None without one), on ``model``'s decoder layers."""
    if lora is None:
        return None
    from peft import LoraConfig

    n = len(model.get_decoder().layers)
    if lora.layers is not None and lora.layers > n:
        raise R1pipeError(f"lora.layers: {lora.layers} is more than the model's {n} layers")
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
                      target_modules=lora.target_modules,
                      layers_to_transform=list(range(n - lora.layers, n)) if lora.layers else None)


def save_trained(trainer, out_dir: Path) -> None:
    """The trained model as an ordinary ``save_pretrained`` directory. A LoRA run's adapter is merged in, so
    the output loads without peft, and the adapter itself goes to ``adapter/`` for those who want it."""
    from peft import PeftModel

    model = trainer.accelerator.unwrap_model(trainer.model)
    if not isinstance(model, PeftModel):
        trainer.save_model(str(out_dir))  # gathers ZeRO-3 / FSDP shards; the main process writes
        return
    if distributed.is_main():
        model.save_pretrained(str(Path(out_dir) / "adapter"))
        model.merge_and_unload().save_pretrained(str(out_dir))
        trainer.processing_class.save_pretrained(str(out_dir))


def quiet(trainer):
    """With tqdm off, transformers prints every log dict; r1pipe's rich bar shows them instead."""
    trainer.remove_callback(PrinterCallback)
    return trainer


# Logged numbers that differ between two runs of the same training: timings measure the machine, and
# the closing train_loss averages only the steps since a resume.
VARYING = ("_runtime", "_per_second", "_time", "train_loss")


def save_log_history(trainer, out_dir: Path) -> list[dict]:
    """The trainer's logged metrics, next to the model, for `report`; what varies left out, so that the
    same training writes the same bytes, resumed or not."""
    history = [{k: v for k, v in h.items() if not k.endswith(VARYING)} for h in trainer.state.log_history]
    if distributed.is_main():
        (Path(out_dir) / "train_log.json").write_text(json.dumps(history, indent=1, sort_keys=True) + "\n")
    return history


class Diverged(R1pipeError):
    """Training produced a non-finite loss, gradient norm or weight at ``step``."""

    def __init__(self, step: int, message: str):
        super().__init__(message)
        self.step = step


class DivergenceGuard(TrainerCallback):
    """Stops a run at the first step whose loss, gradient norm or trainable weights are not finite.

    It raises in ``on_step_end`` and ``on_log``, which the trainer calls before it saves that step's
    checkpoint: every checkpoint left behind holds finite weights.
    """

    def __init__(self, stage: str, learning_rate: float):
        self.stage, self.learning_rate = stage, learning_rate

    def _stop(self, step: int, what: str):
        raise Diverged(step, f"{self.stage} diverged at step {step}: {what}. Likely cause: a learning rate too high "
                       f"for this model ({self.learning_rate:g}), or an overflow in half precision. Nothing was "
                       "written; a rerun with a lower learning_rate resumes from the last checkpoint before it")

    def on_step_end(self, args, state, control, model=None, **kwargs):
        for name, weight in model.named_parameters():
            if weight.requires_grad and not torch.isfinite(weight).all():
                self._stop(state.global_step, f"weight {name} is not finite")

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, float) and not math.isfinite(value):
                self._stop(state.global_step, f"{key} is {value}")


def train(trainer, resume: str | None) -> None:
    """``trainer.train``, where sampling from a policy whose weights are finite but whose logits overflow
    (torch's "probability tensor contains either inf, nan or element < 0") is reported as the divergence it is."""
    try:
        trainer.train(resume_from_checkpoint=resume)
    except RuntimeError as e:
        guard = next((c for c in trainer.callback_handler.callbacks if isinstance(c, DivergenceGuard)), None)
        if guard is None or "probability tensor contains" not in str(e):
            raise
        guard._stop(trainer.state.global_step + 1, "the policy's next-token probabilities are not finite")


class LearningRate(TrainerCallback):
    """Sets the configured learning rate on a run resumed from another run's checkpoint.

    A checkpoint holds its optimizer's and scheduler's rates; after a divergence the rerun resumes from the
    last good checkpoint with the lower rate asked for (see ``resume_point``). A no-op otherwise.
    """

    def __init__(self, learning_rate: float):
        self.learning_rate, self.done = learning_rate, False

    def on_step_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):
        if self.done or not hasattr(lr_scheduler, "lr_lambdas"):  # transformers' schedules are LambdaLRs
            return
        self.done = True
        lr_scheduler.base_lrs = [self.learning_rate] * len(optimizer.param_groups)
        for group, factor in zip(optimizer.param_groups, lr_scheduler.lr_lambdas):
            group["initial_lr"] = self.learning_rate
            group["lr"] = self.learning_rate * factor(lr_scheduler.last_epoch)
        lr_scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]  # what the trainer logs


def dead_run(history: list[dict], loss_moves: bool = True) -> str | None:
    """A warning for a finite run that learned nothing, or None: the gradient norm was 0 at half of the logged
    steps or more, or (``loss_moves``: SFT) the loss never left its first value. GRPO's loss is an advantage-
    weighted sum that sits near 0 whatever happens, so only its gradient counts."""
    grads = [h["grad_norm"] for h in history if "grad_norm" in h]
    zero = sum(g == 0 for g in grads)
    if len(grads) >= 3 and zero >= len(grads) / 2:
        return f"dead run: the gradient norm was 0 at {zero} of {len(grads)} logged steps; the weights stopped moving"
    losses = [h["loss"] for h in history if "loss" in h]
    if loss_moves and len(losses) >= 3 and all(abs(x - losses[0]) <= 1e-4 * max(1.0, abs(losses[0])) for x in losses):
        return f"dead run: the loss never moved from {losses[0]:.4g} in {len(losses)} logged steps"
    return None


@contextmanager
def work_dir(out: Path):
    """The trainer's scratch directory, a hidden sibling of the output, removed on success.

    A killed or interrupted run (SIGKILL, Ctrl-C) leaves it behind, so that a rerun resumes from its
    last checkpoint, and so does a diverged run, its stamp marked so that a rerun with another learning
    rate may resume too. Any other error (a bad input, a full disk, whose newest checkpoint may be
    half-written) removes it.
    """
    work = Path(out).parent / f".{Path(out).name}.work"
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    except Diverged as e:
        stamp = work / RESUME_STAMP
        if distributed.is_main() and stamp.is_file():
            last = last_complete_checkpoint(work)
            stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "diverged_at": e.step}))
            raise Diverged(e.step, str(e) + (f" ({last}, step {_step(last)})" if last else
                                             " (there is none: set save_steps to keep one)")) from None
        raise
    except Exception:
        if distributed.is_main():
            shutil.rmtree(work, ignore_errors=True)
        raise
    distributed.barrier()  # every process is done with its checkpoints
    if distributed.is_main():
        shutil.rmtree(work, ignore_errors=True)


def checkpoint_args(save_steps: int) -> dict:
    """Trainer arguments for a checkpoint every ``save_steps`` (0: none), the last one kept, for resume."""
    return {"save_strategy": "steps" if save_steps else "no", "save_steps": save_steps or 500, "save_total_limit": 1}


RESUME_STAMP = "r1pipe-resume.json"
# Settings a rerun may change and still resume from a diverged run's last good checkpoint.
RATE = ("learning_rate",)


def fingerprint(cfg, model_dir: Path, data_key: str, leave_out: tuple[str, ...] = ()) -> str:
    """What a checkpoint is valid for: the section's settings (but ``leave_out``), the starting model and
    the training data."""
    settings = {k: v for k, v in cfg.model_dump().items() if k not in leave_out}
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    h.update(content_hash(model_dir).encode())
    h.update(data_key.encode())
    return h.hexdigest()


def _step(checkpoint: Path) -> int:
    return int(Path(checkpoint).name.split("-")[-1])


def last_complete_checkpoint(work_dir: Path) -> Path | None:
    """The newest checkpoint the trainer finished writing; newer ones a kill cut short are removed.

    transformers writes ``trainer_state.json`` last, and deletes the previous checkpoint only after it, so a
    run killed while saving leaves a complete older checkpoint beside the half-written one.
    """
    for checkpoint in sorted(work_dir.glob("checkpoint-*[0-9]"), key=_step, reverse=True):
        try:
            json.loads((checkpoint / "trainer_state.json").read_text())
            return checkpoint
        except (OSError, ValueError):
            shutil.rmtree(checkpoint, ignore_errors=True)
    return None


def resume_point(work_dir: Path, cfg, model_dir: Path, data_key: str) -> tuple[str | None, int]:
    """(the last checkpoint, its step) of an interrupted run of exactly this training (same ``fingerprint``),
    or of a diverged run that differs from this one only in its learning rate; else (None, 0), and anything
    in the work directory is another run's leftovers, removed.

    The main process decides and tells the others (the work directory is shared, like the output).
    """
    found: tuple[str | None, int] = (None, 0)
    if distributed.is_main():
        key, lineage = fingerprint(cfg, model_dir, data_key), fingerprint(cfg, model_dir, data_key, RATE)
        stamp = work_dir / RESUME_STAMP
        old = json.loads(stamp.read_text()) if stamp.is_file() else {}
        if old.get("fingerprint") == key or ("diverged_at" in old and old.get("lineage") == lineage):
            last = last_complete_checkpoint(work_dir)
            found = (str(last), _step(last)) if last else (None, 0)
            if last and old.get("fingerprint") != key:
                console.print(f"resuming from step {found[1]} of a run that diverged at step {old['diverged_at']}, "
                              f"at learning_rate {cfg.learning_rate:g}")
        else:
            for child in work_dir.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        stamp.write_text(json.dumps({"fingerprint": key, "lineage": lineage}))
    return distributed.broadcast(found)


def guards(stage: str, learning_rate: float) -> list[TrainerCallback]:
    """The callbacks every training stage runs with: divergence stops it, a resumed run takes its own rate."""
    return [DivergenceGuard(stage, learning_rate), LearningRate(learning_rate)]


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
