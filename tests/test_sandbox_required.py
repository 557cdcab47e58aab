"""The code sandbox fails closed: where namespaces cannot be made, a stage that grades code stops at its start
with one line, unless its params say `sandbox: unsafe`, which the manifest, the summary and the report then show.

Namespaces are made unavailable as on a host without util-linux's `unshare`: the commands run with a PATH
that has every program of this machine but that one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import SAMPLE_DATA, TINY
from r1pipe.manifest import read_manifest

MBPP = {"name": "mbpp", "kind": "file", "task": "code", "train": str(SAMPLE_DATA / "code/mbpp.jsonl"),
        "test": str(SAMPLE_DATA / "code/mbpp.jsonl"),
        "columns": {"question": "text", "tests": "test_list", "setup": "test_setup_code"}}


@pytest.fixture(scope="module")
def no_unshare(tmp_path_factory) -> dict:
    """An environment whose PATH has every program here but `unshare`."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for directory in ("/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        for tool in Path(directory).glob("*") if Path(directory).is_dir() else []:
            if tool.name != "unshare" and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{bin_dir}"}


def r1pipe(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "r1pipe", *args], cwd=cwd, env={**env, "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=600)


def params(tmp_path: Path, **sections) -> None:
    p = yaml.safe_load(TINY.read_text())
    p["prepare"]["sources"] = [MBPP]
    p["rl_reasoning"].update(max_steps=1, rewards={"accuracy": 1.0})
    for name, values in sections.items():
        p[name].update(values)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))


def test_a_stage_that_grades_code_stops_before_loading_the_model(no_unshare, tmp_path):
    params(tmp_path, eval={"benchmarks": ["mbpp"], "data_dir": str(SAMPLE_DATA)})
    # The model does not exist: a stage that loaded it first would fail on that instead.
    done = r1pipe(no_unshare, tmp_path, "eval", "--model", "models/none", "--data", "data/prompts",
                  "--out", "metrics/none.json")
    assert done.returncode == 2
    lines = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "eval: grading code needs the namespace sandbox" in lines[0]
    assert "unshare not found on the PATH" in lines[0] and "eval.sandbox: unsafe" in lines[0]
    assert not (tmp_path / "metrics").exists()


def test_the_opt_out_runs_and_is_recorded_everywhere(no_unshare, tmp_path):
    params(tmp_path)
    for args in (["base", "--out", "models/base"], ["prepare", "--out", "data/prompts"]):
        assert r1pipe(no_unshare, tmp_path, *args).returncode == 0  # no code graded: no sandbox needed
    grpo = ["grpo", "--section", "rl_reasoning", "--model", "models/base", "--data", "data/prompts",
            "--out", "models/B"]
    refused = r1pipe(no_unshare, tmp_path, *grpo)
    assert refused.returncode == 2 and "rl_reasoning: grading code needs the namespace sandbox" in refused.stderr
    assert not (tmp_path / "models/B").exists()

    params(tmp_path, rl_reasoning={"sandbox": "unsafe"},
           eval={"benchmarks": ["mbpp"], "data_dir": str(SAMPLE_DATA), "max_prompts": 2, "max_new_tokens": 8})
    ran = r1pipe(no_unshare, tmp_path, *grpo)
    assert ran.returncode == 0, ran.stderr
    note = read_manifest(tmp_path / "models/B")["sandbox"]
    assert note.startswith("unsafe") and "unshare not found" in note
    assert "unsafe: code graded without the sandbox" in ran.stderr  # the summary

    refused = r1pipe(no_unshare, tmp_path, "eval", "--model", "models/B", "--data", "data/prompts",
                     "--out", "metrics/eval/B.json")
    assert refused.returncode == 2 and "eval.sandbox: unsafe" in refused.stderr
    params(tmp_path, rl_reasoning={"sandbox": "unsafe"}, eval={
        "benchmarks": ["mbpp"], "data_dir": str(SAMPLE_DATA), "max_prompts": 2, "max_new_tokens": 8,
        "sandbox": "unsafe"})
    assert r1pipe(no_unshare, tmp_path, "eval", "--model", "models/B", "--data", "data/prompts",
                  "--out", "metrics/eval/B.json").returncode == 0
    assert json.loads((tmp_path / "metrics/eval/B.json").read_text())["sandbox"].startswith("unsafe")
    done = r1pipe(no_unshare, tmp_path, "report", "--metrics-dir", "metrics/eval", "--models-dir", "models",
                  "--out", "reports")
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "reports/report.md").read_text()
    assert "## Code graded without the sandbox" in report
    assert "eval of B: unsafe" in report and "rl_reasoning (B): unsafe" in report


def test_run_python_refuses_without_the_sandbox_unless_a_stage_allowed_it(monkeypatch):
    from r1pipe import R1pipeError
    from r1pipe.rewards import sandbox

    monkeypatch.setattr(sandbox, "namespace_failure", lambda: "unshare not found on the PATH")
    monkeypatch.setattr(sandbox, "_unsafe_allowed", False)
    with pytest.raises(R1pipeError, match="cannot start here: unshare not found"):
        sandbox.run_python("print(1)")
    assert sandbox.require(["math"], "namespaces", "eval") is None  # no code: nothing needed
    with pytest.raises(R1pipeError, match="eval.sandbox: unsafe"):
        sandbox.require(["math", "code"], "namespaces", "eval")
    assert sandbox.require(["code"], "unsafe", "eval").startswith("unsafe")
    assert sandbox.run_python("print(6 * 7)").stdout.strip() == "42"
