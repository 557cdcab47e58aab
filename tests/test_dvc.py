"""Real DVC in a temporary git repo: the pipeline reruns exactly the stages whose inputs changed."""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO, TINY
from r1pipe.config.models import ModelRef
from r1pipe.models import materialize

MODELS = {}  # environment for the stages: where the faked local copy of the named base model is


def run(cmd, cwd):
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", **MODELS}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def set_param(repo, section, key, value):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[section][key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("dvcrepo")
    shutil.copytree(REPO / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ["dvc.yaml", ".dvcignore"]:
        shutil.copy(REPO / name, repo / name)
    # The default's base, `smollm2-135m-instruct`, resolved through its local-copy path, with the tiny
    # model standing in for the 93 MB download.
    local = tmp_path_factory.mktemp("local-models")
    materialize(ModelRef(model="tiny"), 0, local / "smollm2-135m-instruct")
    MODELS["R1PIPE_MODELS"] = str(local)
    params = yaml.safe_load(TINY.read_text())
    params["base"] = {"model": "smollm2-135m-instruct", "seed": 0}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], repo)
    run(["git", "config", "user.email", "test@r1pipe.local"], repo)
    run(["git", "config", "user.name", "r1pipe test"], repo)
    run(["dvc", "init", "-q"], repo)
    shutil.copy(REPO / ".dvc/config", repo / ".dvc/config")  # the repository's own: cache links, no analytics
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "init"], repo)
    return repo


ALL = {"base", "base_student", "prepare", "coldstart", "rl_reasoning", "reject_sample", "sft", "rl_all", "distill",
       "rl_student", "eval@base", "eval@A", "eval@B", "eval@C", "eval@D", "eval@student", "eval@student_rl",
       "report"}
STUDENT_RL = {"base_student", "rl_student", "eval@student_rl"}


def test_repro_runs_everything_then_nothing(repo):
    assert ran(run(["dvc", "repro"], repo)) == ALL
    assert (repo / "reports/report.md").is_file()
    base = json.loads((repo / "models/base/r1pipe.json").read_text())
    assert base["source"] == f"local:{MODELS['R1PIPE_MODELS']}/smollm2-135m-instruct"
    assert json.loads((repo / "models/base/tokenizer_config.json").read_text())["pad_token"] == "<|im_end|>"
    out = run(["dvc", "repro"], repo)
    assert ran(out) == set() and "up to date" in out
    shown = run(["dvc", "metrics", "show", "--json"], repo)
    assert "metrics/eval/student.json" in shown and "pass@1" in shown


def test_a_clone_that_pulls_from_the_remote_reruns_nothing(repo, tmp_path):
    """Artifacts between machines: push every model and dataset to a DVC remote; another checkout pulls them
    and `dvc repro` finds the whole pipeline up to date."""
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "store", str(remote)], repo)
    out = run(["dvc", "push"], repo)
    assert "pushed" in out
    run(["git", "add", "-A"], repo)  # dvc.lock, .dvc/config's remote, the run logs (uncached metrics)
    run(["git", "commit", "-qm", "a full run"], repo)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert not (clone / "models/A").exists()
    run(["dvc", "pull"], clone)
    for path in ["models/A/model.safetensors", "data/sft", "reports/report.md"]:
        assert (clone / path).exists(), path
    assert (clone / "models/D/model.safetensors").read_bytes() == (repo / "models/D/model.safetensors").read_bytes()
    out = run(["dvc", "repro"], clone)
    assert ran(out) == set() and "up to date" in out
    assert "changed" not in run(["dvc", "status"], clone)


def test_outputs_are_linked_from_the_cache_not_copied(repo):
    """.dvc/config's cache.type: a new output is moved into the cache and hard-linked back, stored once."""
    for model in ["base", "A", "D", "student"]:
        weights = next((repo / "models" / model).glob("*.safetensors"))
        assert weights.stat().st_nlink == 2, model  # the workspace file is the cache file


def outs_in_lock(repo) -> dict[str, str]:
    """Every stage output's hash in dvc.lock, run logs left out (they record times)."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {o["path"]: o["md5"] for stage in lock.values() for o in stage.get("outs", [])
            if not o["path"].endswith(".run.json")}


def test_a_rerun_that_reproduces_the_same_bytes_stops_the_cascade(repo):
    before = outs_in_lock(repo)
    assert ran(run(["dvc", "repro", "-f", "-s", "reject_sample"], repo)) == {"reject_sample"}
    out = run(["dvc", "repro"], repo)
    assert ran(out) == set(), "reject_sample's output changed bytes, so the stages after it reran"
    assert outs_in_lock(repo) == before
    # Every stage, forced: each writes the same bytes as before (training is deterministic on a CPU).
    assert ran(run(["dvc", "repro", "-f"], repo)) == ALL
    after = outs_in_lock(repo)
    assert {path for path in before if after[path] != before[path]} == set()
    assert json.loads((repo / "models/A.run.json").read_text())["seconds"] > 0


def test_a_changed_grpo_default_makes_exactly_the_grpo_stages_stale(repo):
    grpo = repo / "src/r1pipe/config/grpo.py"
    text = grpo.read_text()
    assert '"max_completion_length": (64,' in text
    grpo.write_text(text.replace('"max_completion_length": (64,', '"max_completion_length": (65,'))
    try:
        status = json.loads(subprocess.run(["dvc", "status", "--json"], cwd=repo, capture_output=True, text=True,
                                           check=True).stdout)
        assert set(status) == {"rl_reasoning", "rl_all", "rl_student"}
        # The installed r1pipe still has the old default, so the reruns reproduce the same bytes: nothing after.
        assert ran(run(["dvc", "repro"], repo)) == {"rl_reasoning", "rl_all", "rl_student"}
    finally:
        grpo.write_text(text)
        run(["dvc", "commit", "-f", "-q"], repo)


def test_distill_seed_reruns_only_distill_its_eval_and_report(repo):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    before = outs_in_lock(repo)
    set_param(repo, "distill", "seed", 1)
    assert ran(run(["dvc", "repro"], repo)) == {"distill", "eval@student", "report"}
    after = outs_in_lock(repo)
    changed = {path for path in before if after[path] != before[path]}
    assert "models/student" in changed  # (the tiny student's samples and score may stay the same)
    assert changed <= {"models/student", "metrics/eval/student.samples.json", "reports"}
    # `dvc metrics diff` shows no metric of a stage that did not run (the run logs' seconds of the two that
    # did may change, or by chance not).
    diff = json.loads(subprocess.run(["dvc", "metrics", "diff", "--json"], cwd=repo, capture_output=True,
                                     text=True, check=True).stdout)
    changed = {path for path, metrics in diff.items() if any(m.get("diff") for m in metrics.values())}
    assert changed <= {"models/student.run.json", "metrics/eval/student.run.json", "metrics/eval/student.json"}


def test_coldstart_seed_reruns_everything_downstream_of_A(repo):
    set_param(repo, "coldstart", "seed", 1)
    assert ran(run(["dvc", "repro"], repo)) == ALL - {"base", "prepare", "eval@base"} - STUDENT_RL


def test_generation_on_two_processes_from_params_reruns_only_what_it_launches(repo):
    """params.yaml's `launch` reaches dvc.yaml's commands: reject-sample and eval rerun on 2 processes, write
    the same bytes, and nothing after them reruns."""
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "before the launcher"], repo)
    before = outs_in_lock(repo)
    out = run(["dvc", "exp", "run", "-S", "launch.generate=torchrun --standalone --nproc_per_node 2 -m r1pipe"],
              repo)
    assert ran(out) == {"reject_sample", *{s for s in ALL if s.startswith("eval@")}}
    assert outs_in_lock(repo) == before
    assert json.loads((repo / "data/sft.run.json").read_text())["processes"] == 2
    assert "torchrun --standalone" in (repo / "dvc.lock").read_text()
