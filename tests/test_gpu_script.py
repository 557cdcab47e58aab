"""The lent GPU machine's script, dry-run on this CPU on the tiny preset: the plan comes from DVC, every stage of
dvc.yaml runs through it in an order DVC accepts, and each writes its line as it finishes."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, TINY


def bench_module():
    """bench/gpu_default.py, which is a script, not part of the package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_default", REPO / "bench/gpu_default.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_order_keeps_every_stage_after_what_it_reads(tmp_path):
    """On this repository's own dvc.yaml, planned by DVC."""
    gpu_default = bench_module()
    old = os.getcwd()
    os.chdir(REPO)
    try:
        gpu_default.plan(tmp_path / "plan.txt")
    finally:
        os.chdir(old)
    plan = [tuple(line.split("\t", 1)) for line in (tmp_path / "plan.txt").read_text().splitlines()]
    assert len(plan) >= 20
    ordered = gpu_default.order(plan)
    assert sorted(n for n, _ in ordered) == sorted(n for n, _ in plan)  # every stage once
    written = {str(gpu_default.output_of(c)): n for n, c in plan}
    seen = set()
    for name, command in ordered:
        for needed in gpu_default.inputs_of(command):
            assert needed not in written or written[needed] in seen, (name, needed)
        seen.add(name)
    assert ordered[-1][0] == "report" and ordered[ordered.index(next(s for s in ordered if s[0] == "eval@A")) - 1][0] \
        == "coldstart"  # each eval right after what it grades


@pytest.mark.slow
def test_the_dry_run_on_the_tiny_preset_runs_every_stage_and_writes_its_line(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(repo)], check=True)
    for path in ("bench/gpu_default.py", "bench/gpu_default.sh", "dvc.yaml", "src"):  # the working tree's own
        src, dst = REPO / path, repo / path
        shutil.rmtree(dst, ignore_errors=True) if src.is_dir() else None
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    shutil.copy(TINY, repo / "params.yaml")
    env = {**os.environ, "PYTHON": sys.executable, "R1PIPE_SITE": str(tmp_path / "no-site"),
           "R1PIPE_CACHE": str(tmp_path / "cache"), "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    subprocess.run([sys.executable, "bench/gpu_default.py", "plan", ".gpu/plan.txt"], cwd=repo, env=env, check=True)
    plan = (repo / ".gpu/plan.txt").read_text().splitlines()
    subprocess.run(["bash", "bench/gpu_default.sh", "setup"], cwd=repo, env=env, check=True)
    out = tmp_path / "OUT"
    done = subprocess.run(["bash", "bench/gpu_default.sh", "run", str(out)], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + (out / "chain.log").read_text()[-3000:]
    rows = [line.split("\t") for line in (out / "stages.tsv").read_text().splitlines()]
    header, rows = rows[0], rows[1:]
    assert sorted(r[0] for r in rows) == sorted(line.split("\t")[0] for line in plan)
    assert all(r[header.index("rc")] == "0" for r in rows)
    by_stage = {r[0]: dict(zip(header, r)) for r in rows}
    b = json.loads((repo / "models/B.run.json").read_text())["work"]
    assert float(by_stage["rl_reasoning"]["tflop"]) == b["tflop"]
    assert by_stage["rl_reasoning"]["device"].startswith("cpu")
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["pass@1"]) == {c.split("--out ")[1].split()[0] for c in plan if c.startswith("eval")}
    assert (out / "report.md").is_file() and json.loads((out / "report.json").read_text())["pass@1"]
    # A second run into the same OUT has nothing left to do.
    again = subprocess.run(["bash", "bench/gpu_default.sh", "run", str(out)], cwd=repo, env=env,
                           capture_output=True, text=True, check=True)
    assert "0 stages run" in again.stdout
