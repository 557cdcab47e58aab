"""What every training stage shares: the TRL config it gets, trainable layers, LoRA, checkpoints and resume,
divergence checks, the progress bar."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import PrinterCallback, TrainerCallback

from r1pipe import R1pipeError, artifacts, distributed, hardware
from r1pipe.artifacts import content_hash, stage_output
from r1pipe.progress import console, progress
from r1pipe.work import ForwardCounter, Work, work_log


def trl_args(cfg, config_class=None, **overrides):
    """The TRL config object (``config_class``, a subclass of the section's TRL class) a trainer gets: the
    section's TRL settings (r1pipe's defaults, then the params file's; see ``config/trl.py``), ``overrides``.
    ``bf16`` asked of a CPU that emulates it runs, with a warning."""
    args = cfg.build_trl(config_class, **overrides)
    warning = hardware.emulated_bf16("bfloat16" if args.bf16 else "float32", on_cpu=not torch.cuda.is_available())
    if warning and distributed.is_main():
        console.print(warning)
    return args


def base_model(model):
    """The transformers model inside a peft wrapper (``generate`` calls it, not the wrapper)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def count_work(trainer) -> Work:
    """A ``Work`` (``trainer.work``) that every forward and backward of the trainer's policy and reference model
    adds to (``trainer.counters``)."""
    trainer.work = Work()
    trainer.counters = [ForwardCounter(base_model(trainer.model), trainer.work)]
    if getattr(trainer, "ref_model", None) is not None:
        trainer.counters.append(ForwardCounter(trainer.ref_model, trainer.work))
    return trainer.work


def timed_train(trainer, resume: str | None) -> dict:
    """``train``, timed; the run log's ``work`` for it (a collective: every process calls it)."""
    started = time.perf_counter()
    train(trainer, resume)
    trainer.work.seconds = time.perf_counter() - started  # generation's seconds are part of it
    return work_log(trainer.work, "bfloat16" if trainer.args.bf16 else "float32")


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


def collapsed_run(history: list[dict]) -> str | None:
    """A warning for an RL run that collapsed, or None: its sampled accuracy, or its total reward, over the last
    fifth of its logged steps all fell below half its mean over the first fifth, and by at least 0.2. A run that
    destroys its parent looks like this (2026-12-04: rl_all's sampled accuracy went 87.5% -> 28.1% -> 18.8%)."""
    for key, what in (("rewards/accuracy/mean", "sampled accuracy"), ("reward", "reward")):
        values = [h[key] for h in history if key in h]
        if len(values) < 3:
            continue
        k = max(1, len(values) // 5)
        first, last = sum(values[:k]) / k, values[-k:]
        if first - max(last) >= 0.2 and max(last) < first / 2:
            return (f"collapsed run: the {what} fell from {first:.3f} to {sum(last) / k:.3f} (first to last fifth "
                    f"of {len(values)} logged steps) and stayed there")
    return None


@contextmanager
def training_stage(stage: str, cfg, out: Path, *, code: str, inputs: dict, parent: str,
                   train: Callable[[Path, Path], dict]):
    """The skeleton of every training stage (coldstart, sft, distill, grpo): an atomic output with its manifest
    (``cfg.resolved()``: every setting it ran with), a work directory for checkpoints, then
    ``train(out_dir, work_dir)``. Its numbers go to the manifest, except what varies between runs (the step it
    resumed from, a warning), which goes to the run log; all of them to the summary. Yields the run, for the
    stage's own lineage (``run.extra``) before the output is written."""
    with stage_output(stage, out, code=code, params=cfg.resolved(), inputs=inputs, parent=parent) as run, \
            work_dir(out) as work:
        numbers = train(run.dir, work)
        run.log["resumed_from_step"] = numbers.pop("resumed_from_step")
        run.log["work"] = numbers.pop("work")
        warning = run.log["warning"] = numbers.pop("warning")
        run.extra["metrics"] = numbers
        run.numbers.update(numbers, resumed_from_step=run.log["resumed_from_step"],
                           **({"warning": warning} if warning else {}))
        yield run


@contextmanager
def work_dir(out: Path):
    """The trainer's scratch directory (``artifacts.work_dir``), kept after a kill for the rerun to resume from its
    last checkpoint, and after a divergence too, its stamp marked so that a rerun with another learning rate
    may resume."""
    with artifacts.work_dir(out, keep=(Diverged,)) as work:
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
                              f"at learning_rate {cfg.trl_setting('learning_rate'):g}")
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
