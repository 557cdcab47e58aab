"""The RL stages: curves, samples, resume after SIGKILL, R1-Zero's template, and rl_all's prompt mixture."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import cli
from r1pipe.config.grpo import GRPOSection
from r1pipe.config.models import TinyModel
from r1pipe.data.mixture import rl_prompts
from r1pipe.data.templates import ZERO_TEMPLATE
from r1pipe.manifest import read_manifest
from r1pipe.models.tiny import build_reward_model
from r1pipe.rewards import get_reward


def test_rl_curves_and_samples_are_written(chain):
    rewards = (chain / "dvclive/rl_reasoning/plots/metrics/reward.tsv").read_text().splitlines()
    assert rewards[0] == "step\treward" and [int(r.split()[0]) for r in rewards[1:]] == [1, 2, 3]
    for curve in ("completion_length", "kl", "clip_ratio", "rewards/accuracy", "rewards/format_tags"):
        assert (chain / f"dvclive/rl_reasoning/plots/metrics/{curve}.tsv").is_file(), curve
    summary = json.loads((chain / "dvclive/rl_all/metrics.json").read_text())
    assert summary["step"] == 2 and "reward" in summary
    samples = [json.loads(line) for line in (chain / "models/B/samples.jsonl").read_text().splitlines()]
    assert samples and {"step", "prompt", "completion", "accuracy"} <= set(samples[0])


def _params(root, section, **changes):
    params = yaml.safe_load((root / "params.yaml").read_text())
    params.setdefault(section, dict(params["rl_reasoning"])).update(changes)
    path = root / f"{section}.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def kill_after(cmd: list[str], cwd, checkpoint) -> int:
    """Start ``cmd``, SIGKILL it as soon as ``checkpoint`` or a later one exists (the trainer deletes the older
    ones as it goes, so a fast run may be past it at the next look); return the last checkpoint step it left."""
    step = int(checkpoint.name.split("-")[1])

    def reached() -> bool:
        return any(int(p.name.split("-")[1]) >= step for p in checkpoint.parent.glob("checkpoint-*"))

    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not reached() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reached() and proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The newest checkpoint it finished writing: a kill during a save leaves that one half-written, its
    # trainer_state.json (written last) missing or cut short.
    return max(int(p.name.split("-")[1]) for p in checkpoint.parent.glob("checkpoint-*") if finished(p))


def finished(checkpoint) -> bool:
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
        return True
    except (OSError, ValueError):
        return False


def same_bytes(a, b) -> bool:
    return a.read_bytes() == b.read_bytes()


def test_killed_grpo_resumes_to_the_same_bytes_as_an_uninterrupted_run(chain):
    params = _params(chain, "rl_resume", max_steps=20, save_steps=5)
    args = ["grpo", "--params", params.name, "--section", "rl_resume", "--model", "models/A"]
    cmd = [sys.executable, "-m", "r1pipe", *args, "--out", "models/R", "--live", "dvclive/rl_resume"]
    killed_at = kill_after(cmd, chain, chain / "models/.R.work/checkpoint-10")
    assert not (chain / "models/R").exists()  # nothing that looks complete

    cli(*cmd[3:], cwd=chain)
    assert json.loads((chain / "models/R.run.json").read_text())["resumed_from_step"] == killed_at >= 5
    assert read_manifest(chain / "models/R")["metrics"]["steps"] == 20
    assert not (chain / "models/.R.work").exists() and not list((chain / "models").glob(".R.tmp-*"))

    cli(*args, "--out", "models/R_whole", "--live", "dvclive/rl_resume_whole", cwd=chain)
    for name in ["model.safetensors", "train_log.json", "samples.jsonl", "r1pipe.json"]:
        assert same_bytes(chain / "models/R" / name, chain / "models/R_whole" / name), name
    curves = sorted(p.relative_to(chain / "dvclive/rl_resume") for p in (chain / "dvclive/rl_resume").rglob("*.*"))
    assert curves and curves == sorted(p.relative_to(chain / "dvclive/rl_resume_whole")
                                       for p in (chain / "dvclive/rl_resume_whole").rglob("*.*"))
    for curve in curves:  # every row once, LF line ends, the same numbers
        assert same_bytes(chain / "dvclive/rl_resume" / curve, chain / "dvclive/rl_resume_whole" / curve), curve
    rows = (chain / "dvclive/rl_resume/plots/metrics/reward.tsv").read_text().split("\n")[1:]
    steps = [int(r.split()[0]) for r in rows if r]
    assert steps == list(range(1, 21))


@pytest.mark.parametrize("stage", ["coldstart", "sft", "distill"])
def test_killed_sft_stages_resume_to_the_same_bytes(chain, stage):
    params = yaml.safe_load((chain / "params.yaml").read_text())
    params[stage].update(max_steps=48, save_steps=4, logging_steps=2)  # long enough to be caught mid-run
    (chain / f"{stage}-resume.yaml").write_text(yaml.safe_dump(params))
    inputs = {"coldstart": ["--model", "models/base", "--data", "data/prompts"],
              "sft": ["--model", "models/base", "--data", "data/sft"],
              "distill": ["--student", "models/base_student", "--data", "data/sft"]}[stage]
    args = [stage, "--params", f"{stage}-resume.yaml", *inputs]
    out = f"{stage}_resumed"
    killed_at = kill_after([sys.executable, "-m", "r1pipe", *args, "--out", f"models/{out}"], chain,
                           chain / f"models/.{out}.work/checkpoint-8")
    cli(*args, "--out", f"models/{out}", cwd=chain)
    assert json.loads((chain / f"models/{out}.run.json").read_text())["resumed_from_step"] == killed_at >= 4
    cli(*args, "--out", f"models/{stage}_whole", cwd=chain)
    for name in ["model.safetensors", "train_log.json", "r1pipe.json"]:
        assert same_bytes(chain / f"models/{out}" / name, chain / f"models/{stage}_whole" / name), name
    assert not (chain / f"models/.{out}.work").exists()


def test_r1_zero_runs_on_the_base_with_the_zero_template(chain):
    cfg = GRPOSection(template="zero", max_prompts=4)
    rows = rl_prompts(chain / "data/prompts", cfg)
    assert rows[0]["prompt"].startswith("A conversation between User and Assistant.")
    assert rows[0]["prompt"].endswith(". Assistant:") and ZERO_TEMPLATE.split("{")[0] in rows[0]["prompt"]
    params = _params(chain, "rl_zero", template="zero", max_steps=2, save_steps=0)
    cli("grpo", "--params", params.name, "--section", "rl_zero", "--model", "models/base", "--out", "models/zero",
        "--live", "dvclive/rl_zero", cwd=chain)
    assert read_manifest(chain / "models/zero")["parent"] == "models/base"
    sample = json.loads((chain / "models/zero/samples.jsonl").read_text().splitlines()[0])
    assert sample["prompt"].startswith("A conversation between User and Assistant.")


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("rm") / "rm"
    build_reward_model(TinyModel(hidden_size=64, num_layers=1, head_dim=32), seed=0, out_dir=path)
    return path


def test_helpfulness_scores_the_answer_and_harmlessness_the_whole_response(reward_model):
    helpful = get_reward("helpfulness", model=str(reward_model))
    harmless = get_reward("harmlessness", model=str(reward_model))
    prompts = [[{"role": "user", "content": "Say hello."}]] * 3
    completions = ["<think>short</think>Hello!", "<think>a much longer chain of thought</think>Hello!",
                   "<think>short</think>Go away."]
    tasks = ["general"] * 3
    h, s = helpful(prompts, completions, task=tasks), harmless(prompts, completions, task=tasks)
    assert h[0] == pytest.approx(h[1]) and h[0] != pytest.approx(h[2])
    assert s[0] != pytest.approx(s[1])
    assert helpful(prompts, completions, task=["math", "general", "general"])[0] is None
    assert get_reward("accuracy")(prompts, completions, task=tasks, answer=[""] * 3) == [None] * 3


def test_rl_all_mixes_general_prompts_scored_by_reward_models(chain, reward_model):
    general = chain / "general.jsonl"
    general.write_text("".join(json.dumps({"question": f"Write a kind note number {i}."}) + "\n" for i in range(40)))
    cfg = GRPOSection(max_prompts=12, general_prompts=str(general), general_ratio=0.25)
    rows = rl_prompts(chain / "data/prompts", cfg)
    assert len(rows) == 16 and rows["task"].count("general") == 4
    system = [r["prompt"][0] for r in rows if r["task"] != "general"][0]  # prepare's system prompt reaches them
    assert system["role"] == "system" and all(r["prompt"][0] == system for r in rows if r["task"] == "general")
    rm = {"weight": 1.0, "model": str(reward_model)}
    params = _params(chain, "rl_mix", max_steps=2, save_steps=0, max_prompts=12, general_prompts=str(general),
                     general_ratio=0.25, rewards={"accuracy": 1.0, "format": 0.5, "helpfulness": rm,
                                                  "harmlessness": rm})
    cli("grpo", "--params", params.name, "--section", "rl_mix", "--model", "models/C", "--out", "models/mix",
        "--live", "dvclive/rl_mix", cwd=chain)
    log = json.loads((chain / "models/mix/train_log.json").read_text())
    assert any("rewards/helpfulness/mean" in h for h in log) and any("rewards/harmlessness/mean" in h for h in log)
    assert read_manifest(chain / "models/mix")["prompts"] == 16
    shutil.rmtree(chain / "models/mix")


@pytest.mark.slow
def test_reasoning_rl_raises_accuracy_after_cold_start(tmp_path):
    """After a cold start, rl_reasoning raises the mean accuracy reward from its first 20% of steps to its last.

    The tiny model is weak (about 5% right after cold start), so the run is long enough that each 20%
    window holds about 1,500 sampled completions: its standard error is about 0.6 points.
    """
    from conftest import TINY

    params = yaml.safe_load(TINY.read_text())
    params["prepare"]["sources"][0].update(n_train=2000, n_test=8)
    params["coldstart"].update(num_train_epochs=3, per_device_train_batch_size=32)
    params["rl_reasoning"].update(max_steps=120, per_device_train_batch_size=64, num_generations=8, learning_rate=3e-4,
                                  max_completion_length=48, rewards={"accuracy": 1.0, "format": 0.2},
                                  save_steps=0, sample_every=0)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for args in [("base",), ("prepare",), ("coldstart",), ("grpo", "--live", "dvclive/rl_reasoning")]:
        cli(*args, cwd=tmp_path)
    metrics = read_manifest(tmp_path / "models/B")["metrics"]
    assert metrics["steps"] == 120
    assert metrics["accuracy_last_20pct"] > metrics["accuracy_first_20pct"] + 0.01, metrics


def test_a_checkpoint_cut_short_by_a_kill_is_passed_over(tmp_path):
    from r1pipe.training.resume import last_complete_checkpoint

    for step, complete in [(5, True), (10, False)]:
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"...")
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text('{"global_step": 5}')
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-5"
    assert not (tmp_path / "checkpoint-10").exists()
    (tmp_path / "checkpoint-5" / "trainer_state.json").write_text('{"global_st')  # killed mid-write
    assert last_complete_checkpoint(tmp_path) is None


def test_a_manifest_records_the_settings_a_model_was_trained_with(chain):
    """Not only the keys params gave: r1pipe's defaults and TRL's, with TRL's version (the model's lineage)."""
    import trl

    from r1pipe.config.trl import trl_fields

    given = yaml.safe_load((chain / "params.yaml").read_text())
    for model, section in (("B", "rl_reasoning"), ("A", "coldstart")):
        params = read_manifest(chain / f"models/{model}")["params"]
        trl_part = params["trl"]
        assert trl_part["version"] == trl.__version__
        settings = trl_part["settings"]
        for key, value in given[section].items():  # what params gave, as given
            assert (settings if key in settings else params)[key] == value, (model, key)
        if section == "rl_reasoning":
            assert "loss_type" not in given[section] and settings["loss_type"] == "grpo"  # r1pipe's default
            assert "epsilon" not in given[section]
            assert settings["epsilon"] == trl_fields("GRPOConfig")["epsilon"].default  # TRL's own
        else:
            assert "max_steps" not in given[section] and settings["max_steps"] == -1  # TRL's: run the epochs
        assert "output_dir" not in settings and "local_rank" not in settings
