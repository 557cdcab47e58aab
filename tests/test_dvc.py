"""Real DVC in a temporary git repo: the pipeline reruns exactly the stages whose inputs changed."""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO, TINY


def run(cmd, cwd):
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1"}
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
    shutil.copy(TINY, repo / "params.yaml")
    run(["git", "init", "-q"], repo)
    run(["git", "config", "user.email", "test@r1pipe.local"], repo)
    run(["git", "config", "user.name", "r1pipe test"], repo)
    run(["dvc", "init", "-q"], repo)
    run(["dvc", "config", "core.analytics", "false"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "init"], repo)
    return repo


ALL = {"base", "prepare", "coldstart", "rl_reasoning", "reject_sample", "sft", "rl_all", "distill",
       "eval@base", "eval@A", "eval@B", "eval@C", "eval@D", "eval@student", "report"}


def test_repro_runs_everything_then_nothing(repo):
    assert ran(run(["dvc", "repro"], repo)) == ALL
    assert (repo / "reports/report.md").is_file()
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
    assert ran(run(["dvc", "repro"], repo)) == ALL - {"base", "prepare", "eval@base"}
