"""The callbacks every training stage runs with, and what a finished run's log says about it.

- ``RichProgressCallback``: one rich bar over optimizer steps (``quiet`` removes transformers' printed logs).
- ``DivergenceGuard``: a non-finite loss, gradient norm or weight stops the run before that step is saved.
- ``LearningRate``: a run resumed from a diverged run's checkpoint trains at its own, lower, rate.
- ``dead_run``: the warning a finite run that learned nothing gets; ``reward_fell``: the hint one whose sampled
  reward fell gets (the report judges a collapse on held-out pass@1).
"""

from __future__ import annotations

import math
import warnings

import torch
from transformers import PrinterCallback, TrainerCallback

from r1pipe import R1pipeError
from r1pipe.progress import progress


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


def quiet(trainer):
    """With tqdm off, transformers prints every log dict; r1pipe's rich bar shows them instead."""
    trainer.remove_callback(PrinterCallback)
    return trainer


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

    def stop(self, step: int, what: str):
        """Raise :class:`Diverged` for ``step``, saying ``what`` was not finite."""
        raise Diverged(step, f"{self.stage} diverged at step {step}: {what}. Likely cause: a learning rate too high "
                       f"for this model ({self.learning_rate:g}), or an overflow in half precision. Nothing was "
                       "written; a rerun with a lower learning_rate resumes from the last checkpoint before it")

    def on_step_end(self, args, state, control, model=None, **kwargs):
        for name, weight in model.named_parameters():
            if weight.requires_grad and not torch.isfinite(weight).all():
                self.stop(state.global_step, f"weight {name} is not finite")

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, float) and not math.isfinite(value):
                self.stop(state.global_step, f"{key} is {value}")


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
        for group in optimizer.param_groups:
            group["initial_lr"] = self.learning_rate
        # The scheduler's own step, taken again at the same epoch, sets each group's rate from the new base
        # and what ``get_last_lr`` (the trainer's log) reports. torch warns that the optimizer has not stepped
        # yet in this process: true, and harmless, since the epoch does not advance.
        lr_scheduler.last_epoch -= 1
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            lr_scheduler.step()


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


def reward_fell(history: list[dict]) -> str | None:
    """A hint, for the run log, that an RL run may have collapsed, or None: its sampled accuracy, or its total
    reward, over the last fifth of its logged steps all fell below half its mean over the first fifth, and by at
    least 0.2. Only a hint: with a few prompts a step, the sampled accuracy is largely which prompts were drawn
    (2026-12-07: a D flagged so scored 1.6 points above its parent on the 512 test problems), so the report
    judges a collapse on held-out pass@1 against the parent's (``report.claims.collapses``)."""
    for key, what in (("rewards/accuracy/mean", "sampled accuracy"), ("reward", "reward")):
        values = [h[key] for h in history if key in h]
        if len(values) < 3:
            continue
        k = max(1, len(values) // 5)
        first, last = sum(values[:k]) / k, values[-k:]
        if first - max(last) >= 0.2 and max(last) < first / 2:
            return (f"hint: the {what} fell from {first:.3f} to {sum(last) / k:.3f} (first to last fifth of "
                    f"{len(values)} logged steps) and stayed there; the held-out eval says whether the model did")
    return None
