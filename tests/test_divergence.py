"""Divergence stops a training stage: non-finite loss, gradient or weights end it with one line, no output,
and the last good checkpoint kept for a rerun at a lower rate; a finite run that learns nothing ends with a
warning; a reward that returns NaN stops GRPO with its name."""

import json
import math

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import TrainerCallback

from conftest import invoke
from r1pipe import R1pipeError, rewards
from r1pipe.report.lineage import warnings
from r1pipe.training import sft

COLDSTART = ["coldstart", "--model", "models/base", "--data", "data/prompts"]


def r1pipe(cwd, *args):
    """An r1pipe command, in-process (so that a test's patches apply): (2 and the one-line message the command
    line prints for an R1pipeError, or 0 and the command's output)."""
    result = invoke(*args, cwd=cwd)
    if isinstance(result.exception, R1pipeError):
        return 2, str(result.exception)
    if result.exception:
        raise result.exception
    return result.exit_code, result.output


def params(root, name, section, **changes):
    p = yaml.safe_load((root / "params.yaml").read_text())
    p[section].update(changes)
    (root / name).write_text(yaml.safe_dump(p))
    return name


def finite(checkpoint) -> bool:
    return all(torch.isfinite(w).all() for w in load_file(checkpoint / "model.safetensors").values())


class Overflow(TrainerCallback):
    """What a bf16 overflow does: a weight turns to inf at the end of step ``at``."""

    def __init__(self, at: int):
        self.at = at

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step == self.at:
            with torch.no_grad():
                next(p for p in model.parameters() if p.requires_grad).view(-1)[0] = math.inf


def test_a_weight_that_overflows_stops_sft_and_a_lower_rate_resumes_from_the_last_good_checkpoint(chain,
                                                                                                  monkeypatch):
    name = params(chain, "overflow.yaml", "coldstart", max_steps=6, save_steps=1, logging_steps=1,
                  lr_scheduler_type="constant", warmup_ratio=0.0)
    guards = sft.guards
    monkeypatch.setattr(sft, "guards", lambda *a: [Overflow(3), *guards(*a)])
    code, output = r1pipe(chain, *COLDSTART, "--params", name, "--out", "models/overflow")
    assert code == 2 and len(output.strip().splitlines()) == 1, output
    assert "coldstart diverged at step 3: weight" in output and "not finite" in output
    assert "models/.overflow.work/checkpoint-2, step 2" in output
    assert not (chain / "models/overflow").exists() and not list((chain / "models").glob(".overflow.tmp-*"))
    work = chain / "models/.overflow.work"
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-2"] and finite(work / "checkpoint-2")

    monkeypatch.setattr(sft, "guards", guards)
    name = params(chain, "overflow.yaml", "coldstart", max_steps=6, save_steps=1, logging_steps=1,
                  lr_scheduler_type="constant", warmup_ratio=0.0, learning_rate=1.0e-3)
    code, output = r1pipe(chain, *COLDSTART, "--params", name, "--out", "models/overflow")
    assert code == 0, output
    assert json.loads((chain / "models/overflow.run.json").read_text())["resumed_from_step"] == 2
    log = json.loads((chain / "models/overflow/train_log.json").read_text())
    assert [h["learning_rate"] for h in log if "learning_rate" in h and h["step"] > 2] == [1.0e-3] * 4
    assert not work.exists()


def test_a_learning_rate_that_overflows_stops_grpo_with_no_output(chain):
    name = params(chain, "rl_overflow.yaml", "rl_reasoning", learning_rate=1.0e20, max_steps=3, save_steps=1)
    code, output = r1pipe(chain, "grpo", "--params", name, "--section", "rl_reasoning", "--model", "models/A",
                          "--data", "data/prompts", "--out", "models/rl_overflow", "--live", "dvclive/rl_overflow")
    assert code == 2 and "rl_reasoning diverged at step" in output and "1e+20" in output, output
    assert not (chain / "models/rl_overflow").exists()
    for checkpoint in (chain / "models/.rl_overflow.work").glob("checkpoint-*"):
        assert finite(checkpoint)


def test_a_dead_run_finishes_with_a_warning_in_summary_run_log_and_report(chain):
    name = params(chain, "dead.yaml", "coldstart", learning_rate=1.0e6, max_steps=24, logging_steps=2)
    code, output = r1pipe(chain, *COLDSTART, "--params", name, "--out", "models/dead")
    assert code == 0, output
    warning = json.loads((chain / "models/dead.run.json").read_text())["warning"]
    assert warning.startswith("dead run: the gradient norm was 0 at")
    assert "dead run" in output  # the summary
    assert warnings(chain / "models", ["A", "dead"]) == {"dead": ("coldstart", warning)}
    assert json.loads((chain / "models/A.run.json").read_text())["warning"] is None  # a run that learned


def test_a_reward_that_returns_nan_stops_grpo_naming_it(chain, monkeypatch):
    def make_broken():
        def broken(prompts, completions, **_):
            return [float("nan")] * len(completions)
        return broken

    monkeypatch.setitem(rewards.REWARDS, "broken", make_broken)
    name = params(chain, "nan_reward.yaml", "rl_reasoning", max_steps=1, save_steps=0,
                  rewards={"accuracy": 1.0, "broken": 0.5})
    code, output = r1pipe(chain, "grpo", "--params", name, "--section", "rl_reasoning", "--model", "models/A",
                          "--data", "data/prompts", "--out", "models/nan_reward", "--live", "dvclive/nan_reward")
    assert code == 2 and "reward 'broken' returned nan" in output, output
    assert not (chain / "models/nan_reward").exists()


@pytest.mark.parametrize("history, warned", [
    ([{"loss": 2.0 - i / 10, "grad_norm": 1.0} for i in range(5)], False),
    ([{"loss": 2.0 - i / 10, "grad_norm": 0.0 if i > 1 else 1.0} for i in range(6)], True),
    ([{"loss": 6.087, "grad_norm": 1.0} for _ in range(5)], True),
    ([{"loss": 0.0, "grad_norm": 0.5} for _ in range(5)], False),  # GRPO: only the gradient counts
])
def test_dead_run_rules(history, warned):
    from r1pipe.training.callbacks import dead_run

    loss_moves = history[0]["loss"] != 0.0
    assert (dead_run(history, loss_moves) is not None) == warned


def test_a_sampled_reward_that_falls_far_below_its_start_gets_a_hint():
    """On the 2026-12-04 run's rl_all curve (fell) and the committed run's own curves (none fell);
    and on a reward that falls while accuracy stays 0."""
    import csv

    from conftest import REPO
    from r1pipe.training.callbacks import reward_fell

    def curve(section):
        rows = csv.DictReader(open(REPO / f"dvclive/{section}/plots/metrics/accuracy.tsv"), delimiter="\t")
        return [{"rewards/accuracy/mean": float(r["accuracy"])} for r in rows]

    # rl_all's curve in the 2026-12-04 run (bench/default_runs.md, lr 2e-5): collapsed; today's committed one is not
    dec04 = [{"rewards/accuracy/mean": a} for a in (0.875, 0.28125, 0.1875)]
    assert reward_fell(dec04).startswith("hint: the sampled accuracy fell from 0.875 to 0.188")
    assert reward_fell(curve("rl_all")) is None
    assert reward_fell(curve("rl_reasoning")) is None and reward_fell(curve("rl_zero")) is None
    falls = [{"rewards/accuracy/mean": 0.0, "reward": r} for r in (0.40, -0.02, -0.05, -0.05, -0.05, -0.05)]
    assert "the reward fell from 0.400 to -0.050" in reward_fell(falls)
    dips_and_recovers = [{"reward": r} for r in (0.5, 0.1, 0.1, 0.45, 0.5)]
    assert reward_fell(dips_and_recovers) is None


class StopAt(TrainerCallback):
    """Ends training after step ``at`` (its checkpoint saved first), as a kill after that save would."""

    def __init__(self, at: int):
        self.at = at

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            control.should_training_stop = True


def test_a_run_resumed_at_a_lower_rate_follows_the_schedule_a_fresh_run_at_that_rate_follows(tmp_path):
    """``LearningRate`` against transformers' own scheduler: a run stopped at step 3 at learning rate 1e-2, then
    resumed from its checkpoint at 1e-3, logs at steps 4-6 the rates a fresh 1e-3 run logs there (linear decay
    with warmup, so the rate differs at every step)."""
    from datasets import Dataset

    from r1pipe.config.models import TinyModel
    from r1pipe.config.sft import ColdstartSection
    from r1pipe.models.tiny import build

    model, tok = build(TinyModel(num_layers=1, hidden_size=64, intermediate_size=64), seed=0)
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    rows = Dataset.from_list([{"prompt": f"{i} + 1?", "completion": f"{i + 1}"} for i in range(24)])

    def run(rate, work, stop=None, resume=None):
        cfg = ColdstartSection(learning_rate=rate, max_steps=6, save_steps=3, logging_steps=1, warmup_steps=2,
                               lr_scheduler_type="linear", per_device_train_batch_size=4, bf16=False)
        trainer = sft.build_trainer(tmp_path / "model", rows, cfg, work, "test")
        if stop:
            trainer.add_callback(StopAt(stop))
        trainer.train(resume_from_checkpoint=resume)
        return {h["step"]: h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h
                and h["step"] > (3 if resume else 0)}

    fresh = run(1e-3, tmp_path / "fresh")
    run(1e-2, tmp_path / "first", stop=3)
    resumed = run(1e-3, tmp_path / "first", resume=str(tmp_path / "first" / "checkpoint-3"))
    assert sorted(resumed) == [4, 5, 6]
    assert resumed == {step: fresh[step] for step in (4, 5, 6)}
    assert len(set(resumed.values())) == 3
