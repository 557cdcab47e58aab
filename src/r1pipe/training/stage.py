"""The skeleton every training stage runs (coldstart, sft, distill, grpo), and the steps of its training.

``training_stage`` gives the stage an atomic output with its manifest, a work directory for checkpoints and
the point to resume from; the stage's ``train`` builds a trainer (``training/sft.py``, ``training/grpo.py``;
each counts its work from its constructor on, :class:`CountsWork`), calls ``timed_train`` and
``save_log_history`` on it, and returns a :class:`TrainResult`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from transformers import set_seed

from r1pipe import R1pipeError, distributed
from r1pipe.artifacts import stage_output
from r1pipe.disk import free_bytes, weights_bytes
from r1pipe.training.callbacks import Diverged, DivergenceGuard
from r1pipe.training.model import base_model
from r1pipe.training.resume import diverged, resume_point
from r1pipe.work import ForwardCounter, Work, work_log
from r1pipe.workdir import work_dir


@dataclass
class TrainResult:
    """What a stage's ``train`` gives back: ``metrics``, the same for the same inputs, go to the manifest; what
    varies between runs of the same inputs (the step it resumed from, the compute), the warning (a dead run, rows
    cut: the report lists it) and a hint (a falling sampled reward: the report judges on the held-out eval
    instead) go to the run log; all of them to the summary."""

    metrics: dict
    resumed_from_step: int
    work: dict  # ``r1pipe.work.work_log``: positions, TFLOP, the share of the GEMM rate
    warning: str | None = None
    hint: str | None = None


def training_stage(stage: str, cfg, out: Path, *, code: str, model: Path, inputs: dict, parent: str,
                   train: Callable[[Path, Path, tuple[str | None, int]], TrainResult], extra: dict | None = None,
                   wrote: dict | None = None) -> None:
    """Run ``train(out_dir, work_dir, resume)`` as stage ``stage``: an atomic output with its manifest
    (``cfg.resolved()``: every setting it ran with; ``inputs``; ``extra``, the stage's own lineage, also shown
    in the summary), a work
    directory for checkpoints, and ``resume`` (the checkpoint and step to resume from: ``training/resume.py``).
    ``train``'s :class:`TrainResult` goes to the manifest, the run log and the summary."""
    with stage_output(stage, out, code=code, params=cfg.resolved(), inputs=inputs, parent=parent) as run, \
            work_dir(out, keep=(Diverged,)) as work:
        if distributed.is_main():
            require_room(out, model, checkpoints=bool(cfg.save_steps))
        resume = resume_point(work, cfg, {"model": model, **inputs}, code)
        set_seed(cfg.seed)  # before the trainer is built: its model init and data order draw from it
        try:
            result = train(run.dir, work, resume)
        except Diverged as e:
            raise diverged(work, e) from None
        run.log.update(resumed_from_step=result.resumed_from_step, work=result.work, warning=result.warning,
                       **({"hint": result.hint} if result.hint else {}))
        run.extra.update(metrics=result.metrics, **(extra or {}))
        run.numbers.update(result.metrics, **(extra or {}), resumed_from_step=result.resumed_from_step,
                           **{k: v for k, v in (("warning", result.warning), ("hint", result.hint)) if v})
        run.wrote.update(wrote or {})


def require_room(out: Path, model: Path, checkpoints: bool) -> None:
    """Stop before training where the disk of ``out`` cannot hold what the run will save: the trained model (its
    weights stay float32, the size of ``model``'s), and with checkpoints one more copy with the optimizer's two
    moments (AdamW: twice the weights). A full disk found at the final save would cost the whole run."""
    weights = weights_bytes(model)
    need = weights * (4 if checkpoints else 1)
    free = free_bytes(out.parent)
    if free < need:
        what = "the trained model and a checkpoint with its optimizer state" if checkpoints else "the trained model"
        raise R1pipeError(f"{out.parent}: {free / 2**20:.1f} MiB free, and {what} need about {need / 2**20:.1f} MiB "
                          f"({model}'s weights are {weights / 2**20:.1f} MiB): nothing was trained")


class CountsWork:
    """Trainer mixin: ``self.work``, a ``Work`` that every forward and backward of the trainer's policy and
    reference model adds to (``self.counters``), from the trainer's construction on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.work = Work()
        self.counters = [ForwardCounter(base_model(self.model), self.work)]
        if getattr(self, "ref_model", None) is not None:
            self.counters.append(ForwardCounter(self.ref_model, self.work))


def timed_train(trainer, resume: str | None) -> dict:
    """``trainer.train``, timed; the run log's ``work`` for it (a collective: every process calls it).

    Sampling from a policy whose weights are finite but whose logits overflow (torch's "probability tensor
    contains either inf, nan or element < 0") is reported as the divergence it is."""
    started = time.perf_counter()
    try:
        trainer.train(resume_from_checkpoint=resume)
    except RuntimeError as e:
        guard = next((c for c in trainer.callback_handler.callbacks if isinstance(c, DivergenceGuard)), None)
        if guard is None or "probability tensor contains" not in str(e):
            raise
        guard.stop(trainer.state.global_step + 1, "the policy's next-token probabilities are not finite")
    trainer.work.seconds = time.perf_counter() - started  # generation's seconds are part of it
    return work_log(trainer.work, "bfloat16" if trainer.args.bf16 else "float32")


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
