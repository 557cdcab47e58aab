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
    run(["dvc", "config", "core.analytics", "false"], repo)
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


def test_distill_seed_reruns_only_distill_its_eval_and_report(repo):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    set_param(repo, "distill", "seed", 1)
    assert ran(run(["dvc", "repro"], repo)) == {"distill", "eval@student", "report"}
    diff = json.loads(subprocess.run(["dvc", "metrics", "diff", "--json"], cwd=repo, capture_output=True,
                                     text=True, check=True).stdout)
    assert set(diff) == {"metrics/eval/student.json"}
    assert any(change["diff"] for change in diff["metrics/eval/student.json"].values())


def test_coldstart_seed_reruns_everything_downstream_of_A(repo):
    set_param(repo, "coldstart", "seed", 1)
    assert ran(run(["dvc", "repro"], repo)) == ALL - {"base", "prepare", "eval@base"} - STUDENT_RL
