"""GRPO on TRL's GRPOTrainer: r1pipe's rewards, curves in dvclive, samples, and resume.

- Every logged step goes to dvclive (``dvc plots`` shows it): reward in total and
  per function, accuracy and format rate, mean completion length, KL, clip ratio.
- Every ``sample_every`` steps a few completions go to ``samples.jsonl``, which
  ends up next to the model.
- Checkpoints go to the stage's work directory every ``save_steps``. A rerun
  with the same params, model and prompts resumes from the last one; anything
  else starts afresh.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import torch
from datasets import Dataset
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from r1pipe import R1pipeError, distributed
from r1pipe.answers import completion_text
from r1pipe.config.grpo import GRPOSection
from r1pipe.data.templates import chat_template_opens_think, opens_think
from r1pipe.models import load_model, load_tokenizer
from r1pipe.rewards import get_reward
from r1pipe.training.args import checkpoint_args, trl_args
from r1pipe.training.callbacks import RichProgressCallback, dead_run, guards, quiet, reward_fell
from r1pipe.training.dynamic_sampling import DynamicSampling
from r1pipe.training.model import lora_config, save_trained, trainable
from r1pipe.training.sampling import PolicySampling
from r1pipe.training.stage import CountsWork, TrainResult, save_log_history, timed_train

# TRL's log key -> the curve's name in dvclive.
CURVES = {
    "reward": "reward",
    "reward_std": "reward_std",
    "rewards/accuracy/mean": "accuracy",
    "rewards/format/mean": "format_rate",
    "completions/mean_length": "completion_length",
    "completions/clipped_ratio": "truncated_ratio",
    "kl": "kl",
    "clip_ratio/region_mean": "clip_ratio",
    "loss": "loss",
    "entropy": "entropy",
    "dynamic_sampling/rounds": "dynamic_sampling_rounds",
}


class LiveCallback(TrainerCallback):
    """Logs the RL curves to dvclive at the trainer's own step numbers."""

    def __init__(self, directory: Path, resume_step: int):
        from dvclive import Live

        if resume_step:
            _truncate(directory, resume_step)
        self.live = Live(str(directory), resume=bool(resume_step), save_dvc_exp=False, dvcyaml=None, report=None)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "reward" not in logs:
            return
        self.live.step = state.global_step
        for key, value in logs.items():
            if not isinstance(value, (int, float)):
                continue
            if key in CURVES:
                self.live.log_metric(CURVES[key], value)
            if key.startswith("rewards/") and key.endswith("/mean"):  # every reward function, by name
                self.live.log_metric(key[: -len("/mean")], value)
        self.live.make_summary()

    def on_train_end(self, args, state, control, **kwargs):
        self.live.end()


def _truncate(directory: Path, step: int) -> None:
    """Drop curve rows logged after the checkpoint a resumed run starts from."""
    for tsv in Path(directory).glob("plots/metrics/**/*.tsv"):
        with open(tsv) as f:
            rows = list(csv.reader(f, delimiter="\t"))
        with open(tsv, "w", newline="") as f:
            kept = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= step]
            csv.writer(f, delimiter="\t", lineterminator="\n").writerows(kept)  # dvclive's own line ends


class SampleRecorder:
    """Wraps a reward function to write a few of the completions it sees every ``every`` steps."""

    def __init__(self, fn, path: Path, every: int, resume_step: int, n: int = 4):
        self.fn, self.path, self.every, self.n = fn, path, every, n
        self.trainer = None  # set once the trainer exists; its state is replaced when it resumes
        self.__name__ = fn.__name__
        self.last = -1
        self.writes = distributed.is_main()  # each process scores its own completions; the main one records
        if self.writes and resume_step and path.is_file():  # the killed run's samples of steps it did not finish
            rows = [line for line in path.read_text().splitlines() if json.loads(line)["step"] < resume_step]
            path.write_text("".join(f"{row}\n" for row in rows))

    def __call__(self, prompts, completions, **columns):
        scores = self.fn(prompts, completions, **columns)
        step = self.trainer.state.global_step if self.trainer else 0
        if self.writes and self.every and step % self.every == 0 and step != self.last:
            self.last = step
            with open(self.path, "a") as f:
                prefilled = columns.get("think_prefilled") or [False] * len(completions)
                for p, c, s, pre in list(zip(prompts, completions, scores, prefilled))[: self.n]:
                    prompt = p if isinstance(p, str) else p[-1]["content"]
                    f.write(json.dumps({"step": step, "prompt": prompt, "completion": completion_text(c),
                                        self.__name__: s, **({"think_prefilled": True} if pre else {})}) + "\n")
        return scores


class R1GRPOTrainer(CountsWork, PolicySampling, DynamicSampling, GRPOTrainer):
    """TRL's GRPOTrainer: each prompt prefilled once, bf16 sampling under ``bf16`` (``training/sampling.py``),
    DAPO's dynamic sampling over up to ``dynamic_sampling_rounds`` rounds (0: off), its work counted, and the
    ``recorder`` (:class:`SampleRecorder`, one of ``reward_funcs``) told which trainer's steps it records."""

    def __init__(self, *args, recorder: SampleRecorder | None = None, dynamic_sampling_rounds: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorder, self.dynamic_sampling_rounds = recorder, dynamic_sampling_rounds
        if recorder is not None:
            recorder.trainer = self


class CPUGRPOTrainer(R1GRPOTrainer):
    """GRPOTrainer whose per-token log-probs come from the model's logits.

    TRL computes them with a chunked kernel written for Triton; on a CPU its torch
    fallback took 11 of 29 s per step (SmolLM2-135M, 16 completions, 2 cores).
    Same quantity: log-softmax of the completion logits over the temperature.
    Multimodal and MoE inputs keep TRL's path.
    """

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                           batch_size=None, compute_entropy=False, compute_aux_loss=False, **extra):
        if compute_aux_loss or any(v is not None for v in extra.values()):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy, compute_aux_loss,
                **extra)
        batch_size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            ids = input_ids[start : start + batch_size]
            with self.accelerator.autocast():
                logits = model(input_ids=ids, attention_mask=attention_mask[start : start + batch_size],
                               logits_to_keep=logits_to_keep + 1).logits
            logp = (logits[:, :-1].float() / self.temperature).log_softmax(-1)
            logps.append(logp.gather(-1, ids[:, -logits_to_keep:, None]).squeeze(-1))
            if compute_entropy:
                entropies.append(-(logp.exp() * logp).sum(-1))
        return torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None


def grpo_args(cfg: GRPOSection, work_dir: Path) -> GRPOConfig:
    return trl_args(cfg, output_dir=str(work_dir), reward_weights=[weight for _, weight, _ in cfg.reward_specs()],
                    **checkpoint_args(cfg.save_steps))


def build_trainer(model_dir: Path, prompts: Dataset, cfg: GRPOSection, work_dir: Path, label: str,
                  resume_step: int = 0, live_dir: Path | None = None):
    """The GRPO trainer of a section: TRL's GRPOTrainer (r1pipe's subclass for this machine) with the section's
    TRL settings, its rewards (the first one recording samples), and r1pipe's callbacks."""
    rewards = [get_reward(name, **options) for name, _, options in cfg.reward_specs()]
    recorder = SampleRecorder(rewards[0], work_dir / "samples.jsonl", cfg.sample_every, resume_step)
    args = grpo_args(cfg, work_dir)
    callbacks = [RichProgressCallback(label), *guards(label, args.learning_rate)]
    if live_dir and distributed.is_main():  # one row per step, from the process that writes
        callbacks.append(LiveCallback(live_dir, resume_step))
    tok = load_tokenizer(model_dir)
    if opens_think(cfg.template, chat_template_opens_think(tok)):  # TRL hands dataset columns to the rewards
        prompts = prompts.add_column("think_prefilled", [True] * len(prompts))
    if cfg.dynamic_sampling and distributed.world() > 1:
        raise R1pipeError(f"{label}.dynamic_sampling: runs on one process for now (this launch has "
                          f"{distributed.world()}); set it to 0, or launch one process")
    trainer_class = R1GRPOTrainer if torch.cuda.is_available() else CPUGRPOTrainer
    model = trainable(load_model(model_dir), cfg.train_layers)
    return trainer_class(
        model=model,
        reward_funcs=[recorder] + rewards[1:],
        args=args,
        train_dataset=prompts,
        processing_class=tok,
        callbacks=callbacks,
        peft_config=lora_config(cfg.lora, model),  # with beta > 0, the reference is the model without it
        recorder=recorder,
        dynamic_sampling_rounds=cfg.dynamic_sampling,
    )


def train_grpo(model_dir: Path, prompts: Dataset, cfg: GRPOSection, out_dir: Path, work_dir: Path, label: str,
               resume: tuple[str | None, int] = (None, 0), live_dir: Path | None = None) -> TrainResult:
    """Train ``model_dir`` with GRPO on ``prompts`` (from the checkpoint ``resume`` names); save to ``out_dir``."""
    resume, resume_step = resume
    trainer = build_trainer(model_dir, prompts, cfg, work_dir, label, resume_step, live_dir)
    recorder = trainer.recorder
    quiet(trainer)
    work = timed_train(trainer, resume)
    save_trained(trainer, out_dir)
    if distributed.is_main() and recorder.path.is_file():
        shutil.copy(recorder.path, out_dir / "samples.jsonl")
    history = save_log_history(trainer, out_dir)
    acc = [h["rewards/accuracy/mean"] for h in history if "rewards/accuracy/mean" in h]
    k = max(1, len(acc) // 5)
    metrics = {"steps": trainer.state.global_step,
               "accuracy_first_20pct": sum(acc[:k]) / k if acc else None,
               "accuracy_last_20pct": sum(acc[-k:]) / k if acc else None}
    return TrainResult(metrics, resume_step, work, dead_run(history, loss_moves=False), reward_fell(history))
