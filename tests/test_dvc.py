"""Real DVC in a temporary git repo: the pipeline reruns exactly the stages whose inputs changed."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, TINY
from r1pipe.config.models import ModelRef
from r1pipe.models import materialize

MODELS = {}  # environment for the stages: where the faked local copy of the named base model is


def environment(cwd) -> dict:
    """DVC's and the stages' environment: offline, and the repository's copy of r1pipe where it has one (which a
    test may edit)."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", **MODELS}
    if (cwd / "src/r1pipe").is_dir():
        env["PYTHONPATH"] = str(cwd / "src")
    return env


def run(cmd, cwd, timeout=1200):
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=environment(cwd), timeout=timeout)
    except subprocess.TimeoutExpired:
        # DVC's queue waits forever for a worker that never starts (treeverse/dvc#10398): fail with the
        # workers' own logs instead of hanging the suite.
        logs = "".join(f"\n{log}:\n{log.read_text()[-3000:]}" for log in cwd.glob(".dvc/tmp/exps/celery/*.out"))
        subprocess.run(["dvc", "queue", "stop", "--kill"], cwd=cwd, capture_output=True, env=environment(cwd),
                       timeout=60)
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s{logs}")
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def get_param(repo, section, key):
    return yaml.safe_load((repo / "params.yaml").read_text())[section][key]


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


ALL = {"code", "base", "base_student", "prepare", "coldstart", "rl_reasoning", "rl_reasoning_seed@1", "reject_sample",
       "sft", "rl_all", "rl_all_seed@1", "distill", "rl_zero", "rl_zero_seed@1", "eval@base", "eval@A", "eval@B",
       "eval@C", "eval@D", "eval@student", "eval@zero", "eval_seed_B@1", "eval_seed_D@1", "eval_seed_zero@1", "report"}
ZERO = {"base_student", "rl_zero", "eval@zero", "rl_zero_seed@1", "eval_seed_zero@1"}  # what depends on the base alone


@pytest.fixture
def reproduced(repo):
    """The whole pipeline run and committed: done by the first test in a full run; here when the slow tests
    run alone (`pytest -m slow`)."""
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "reproduced", "--allow-empty"], repo)
    return repo


def test_repro_runs_everything_then_nothing(repo):
    assert ran(run(["dvc", "repro"], repo)) == ALL
    assert (repo / "reports/report.md").is_file()
    base = json.loads((repo / "models/base/r1pipe.json").read_text())
    assert base["source"] == f"local:{MODELS['R1PIPE_MODELS']}/smollm2-135m-instruct"
    assert json.loads((repo / "models/base/tokenizer_config.json").read_text())["pad_token"] == "<|im_end|>"
    out = run(["dvc", "repro"], repo)
    assert ran(out) == {"code"}  # the fingerprints, rewritten with the same bytes: nothing after them runs
    # `dvc metrics show` is the paper's table: each model's pass@1 and each claim's Δ, no run logs.
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo))
    files = next(iter(shown.values()))["data"]
    assert list(files) == ["metrics/report.json"]
    table = files["metrics/report.json"]["data"]
    assert set(table["pass@1"]) == {"base", "A", "B", "C", "D", "zero", "student"}
    assert "B > A" in table["claims"]


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
    assert ran(out) == {"code"}
    assert set(status(clone)) == {"code"}  # `always changed`, and nothing else


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
    # The report reads reject-sample's run log (its time), so it runs again, and writes the same report.
    assert ran(out) == {"code", "report"}, "reject_sample's output changed bytes, so the stages after it reran"
    assert outs_in_lock(repo) == before
    assert json.loads((repo / "models/A.run.json").read_text())["seconds"] > 0


def status(repo) -> dict:
    return json.loads(run(["dvc", "status", "--json"], repo))


GRPO_STAGES = {"rl_reasoning", "rl_reasoning_seed@1", "rl_all", "rl_all_seed@1", "rl_zero", "rl_zero_seed@1"}


@pytest.mark.parametrize("edit, stale", [
    # A comment and a docstring in every source file: no stage's code changed.
    ("comments", set()),
    # The task generator's output: prepare alone (what its new prompts reach follows once it has run).
    ("arithmetic", {"prepare"}),
    # A GRPO default: the GRPO stages, and nothing that does not run GRPO.
    ("grpo", GRPO_STAGES),
])
def test_a_code_change_makes_exactly_the_stages_that_run_it_stale(repo, edit, stale):
    src = repo / "src/r1pipe"
    texts = {path: path.read_text() for path in src.rglob("*.py")}
    try:
        if edit == "comments":
            for path, text in texts.items():
                edited = '"""Edited. ' + text[3:] if text.startswith('"""') else text  # the module's docstring
                path.write_text(f"# a comment\n{edited}\n# one more\n")
        elif edit == "arithmetic":
            path = src / "data/arithmetic.py"
            assert '"Ava", "Ben"' in texts[path]
            path.write_text(texts[path].replace('"Ava", "Ben"', '"Ava", "Bea"'))
        else:
            path = src / "config/grpo.py"
            assert '"max_completion_length": (64,' in texts[path]
            path.write_text(texts[path].replace('"max_completion_length": (64,', '"max_completion_length": (65,'))
        assert ran(run(["dvc", "repro", "code"], repo)) == {"code"}
        assert set(status(repo)) == {"code", *stale}
    finally:
        for path, text in texts.items():
            path.write_text(text)
    assert ran(run(["dvc", "repro"], repo)) == {"code"}  # the same fingerprints again: nothing else reruns


def test_a_stage_run_alone_on_changed_code_refuses(repo):
    """`dvc repro --single-item` skips the `code` stage: a stage whose fingerprint is not its code stops, so
    dvc.lock never records an output against code it was not made with."""
    before = outs_in_lock(repo)
    path = repo / "src/r1pipe/config/prepare.py"
    text = path.read_text()
    path.write_text(text + "\nCHANGED = 1\n")
    try:
        proc = subprocess.run(["dvc", "repro", "-f", "-s", "prepare"], cwd=repo, capture_output=True, text=True,
                              env=environment(repo))
        assert proc.returncode != 0
        assert "code/prepare.json: is the fingerprint of other code than this stage runs" in proc.stdout + proc.stderr
    finally:
        path.write_text(text)
    # DVC removed prepare's outputs before the stage refused: the prompts come back as the same bytes (from the
    # run cache or made again), its run log is new, so the report, which reads it, runs again; nothing else does.
    assert ran(run(["dvc", "repro"], repo)) <= {"code", "prepare", "report"}
    assert outs_in_lock(repo) == before


def test_distill_seed_reruns_only_distill_its_eval_and_report(repo):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    before = outs_in_lock(repo)
    set_param(repo, "distill", "seed", 1)
    assert ran(run(["dvc", "repro"], repo)) == {"code", "distill", "eval@student", "report"}
    after = outs_in_lock(repo)
    changed = {path for path in before if after[path] != before[path]}
    assert "models/student" in changed  # (the tiny student's samples and score may stay the same)
    assert changed <= {"models/student", *(f"metrics/eval/student.{x}json" for x in ("", "samples.", "problems.")),
                       "reports", "metrics/report.json"}
    # `dvc metrics diff` shows no model's metric but the student's (whose score may stay the same by chance).
    diff = json.loads(subprocess.run(["dvc", "metrics", "diff", "--json"], cwd=repo, capture_output=True,
                                     text=True, check=True).stdout)
    changed = {key for metrics in diff.values() for key, m in metrics.items() if m.get("diff")}
    assert changed <= {"pass@1.student"}


def experiments(shown) -> dict[str, dict]:
    """`dvc exp show --json`'s experiments, by name: their params and metrics files."""
    found = {}
    if isinstance(shown, dict):
        if shown.get("name") and isinstance(shown.get("data"), dict) and "metrics" in shown["data"]:
            found[shown["name"]] = shown["data"]
        shown = list(shown.values())
    if isinstance(shown, list):
        for item in shown:
            found.update(experiments(item))
    return found


def test_an_experiment_runs_beside_the_workspace(reproduced):
    """`dvc exp run --temp -S`: one changed param, run in a temporary copy, its table in `dvc exp show`."""
    repo = reproduced
    workspace_seed = get_param(repo, "distill", "seed")
    out = run(["dvc", "exp", "run", "--temp", "-S", "distill.seed=4", "-n", "distill-4"], repo)
    assert ran(out) == {"code", "distill", "eval@student", "report"}
    data = experiments(json.loads(run(["dvc", "exp", "show", "--json"], repo)))["distill-4"]
    assert data["params"]["params.yaml"]["data"]["distill"]["seed"] == 4
    assert set(data["metrics"]["metrics/report.json"]["data"]["pass@1"]) == {"base", "A", "B", "C", "D", "zero",
                                                                            "student"}
    assert get_param(repo, "distill", "seed") == workspace_seed


@pytest.mark.slow  # DVC's queue can hang on a loaded machine (treeverse/dvc#10398), so CI runs --temp above
def test_a_sweep_is_queued_dvc_experiments(reproduced):
    """The README's sweep: experiments queued with -S, run two at a time, each one's table in `dvc exp show`."""
    repo = reproduced
    workspace_seed = get_param(repo, "distill", "seed")
    for seed in (2, 3):
        run(["dvc", "exp", "run", "--queue", "-S", f"distill.seed={seed}", "-n", f"distill-{seed}"], repo)
    run(["dvc", "exp", "run", "--run-all", "-j", "2"], repo)
    found = experiments(json.loads(run(["dvc", "exp", "show", "--json"], repo)))
    for seed in (2, 3):
        data = found[f"distill-{seed}"]
        assert data["params"]["params.yaml"]["data"]["distill"]["seed"] == seed
        table = data["metrics"]["metrics/report.json"]["data"]
        assert set(table["pass@1"]) == {"base", "A", "B", "C", "D", "zero", "student"}
    # The workspace is untouched: the queue ran in temporary copies.
    assert get_param(repo, "distill", "seed") == workspace_seed


@pytest.mark.slow
def test_coldstart_seed_reruns_everything_downstream_of_A_and_back_gives_the_same_bytes(reproduced):
    repo = reproduced
    before = outs_in_lock(repo)
    set_param(repo, "coldstart", "seed", 1)
    downstream = ALL - {"base", "prepare", "eval@base"} - ZERO  # with `code`, which always runs
    assert ran(run(["dvc", "repro"], repo)) == downstream
    assert outs_in_lock(repo)["models/A"] != before["models/A"]
    # Back to seed 0, every stage after A runs again (the run cache is off, so nothing is restored from it)
    # and writes the bytes it wrote the first time: training and generation are deterministic on a CPU.
    set_param(repo, "coldstart", "seed", 0)
    assert ran(run(["dvc", "repro", "--no-run-cache"], repo)) == downstream
    after = outs_in_lock(repo)
    assert {path for path in before if after[path] != before[path]} == set()


@pytest.mark.slow
def test_generation_on_two_processes_from_params_reruns_only_what_it_launches(reproduced):
    """params.yaml's `launch` reaches dvc.yaml's commands: reject-sample and eval rerun on 2 processes, write
    the same bytes, and nothing after them reruns."""
    repo = reproduced
    before = outs_in_lock(repo)
    out = run(["dvc", "exp", "run", "-S", "launch.generate=torchrun --standalone --nproc_per_node 2 -m r1pipe"],
              repo)
    assert ran(out) == {"code", "reject_sample", *{s for s in ALL if s.startswith("eval")}, "report"}
    assert outs_in_lock(repo) == before
    assert json.loads((repo / "data/sft.run.json").read_text())["processes"] == 2
    assert "torchrun --standalone" in (repo / "dvc.lock").read_text()


@pytest.mark.slow
def test_a_repro_killed_inside_reject_sample_resumes_and_ends_with_the_same_outputs(reproduced):
    """`dvc repro` SIGKILLed (DVC and the stage it runs) while reject-sample is halfway through its batches, then
    run again: reject-sample resumes from the batches it had finished, and every output ends as the
    uninterrupted run left it."""
    import signal
    import time

    repo = reproduced
    set_param(repo, "reject_sample", "batch_size", 2)  # 8 batches of 2 prompts, to be killed between
    run(["dvc", "repro"], repo)  # the uninterrupted run at that setting
    whole = outs_in_lock(repo)

    proc = subprocess.Popen(["dvc", "repro", "-f", "--no-run-cache", "-s", "reject_sample"], cwd=repo,
                            env=environment(repo),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    work, deadline = repo / "data/.sft.work", time.monotonic() + 600
    while len(list(work.glob("*/*.json.gz"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "reject-sample ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # DVC and the stage under it, as a preempted machine would
    proc.wait()
    kept = len(list(work.glob("*/*.json.gz")))
    assert 3 <= kept < 8 and not (repo / "data/sft").exists()

    out = run(["dvc", "repro"], repo)
    assert "reject_sample" in ran(out)
    assert json.loads((repo / "data/sft.run.json").read_text())["batches"] == {"resumed": kept, "generated": 8 - kept}
    assert outs_in_lock(repo) == whole  # the same bytes as the run left alone, so nothing after it changed
    assert not work.exists()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["reject_sample"].pop("batch_size")  # the tiny preset's own again
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_file_the_params_name_is_a_dep_or_the_stage_refuses_to_run(tmp_path):
    """A user's own jsonl as a `kind: file` source: with dvc.yaml missing it, `dvc repro` stops naming the
    file (and `r1pipe check` lists it); declared, an edit to it makes `dvc status` list prepare, and the rerun
    trains on the new rows."""
    rows = [{"question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(6)]
    (tmp_path / "mine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    params = {"prepare": {"sources": [{"name": "mine", "kind": "file", "train": "mine.jsonl"}]}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    stage = {"cmd": "r1pipe prepare --out data/prompts", "params": ["prepare"], "outs": ["data/prompts"]}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"prepare": stage}}))
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        run(cmd, tmp_path)

    check = subprocess.run(["r1pipe", "check"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 2
    said = check.stdout + check.stderr
    assert "dvc.yaml: stage prepare reads mine.jsonl (prepare: mine:train) but does not list it" in said
    proc = subprocess.run(["dvc", "repro"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    assert proc.returncode != 0 and not (tmp_path / "data/prompts").exists()
    said = proc.stdout + proc.stderr
    assert "error: dvc.yaml: stage prepare reads mine.jsonl (mine:train) but does not list it" in said

    stage["deps"] = ["mine.jsonl"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"prepare": stage}}))
    assert "every section is valid" in run(["r1pipe", "check"], tmp_path)
    run(["dvc", "repro"], tmp_path)
    assert "up to date" in run(["dvc", "status"], tmp_path)
    with open(tmp_path / "mine.jsonl", "a") as f:
        f.write(json.dumps({"question": "What is 9 + 1?", "answer": "10"}) + "\n")
    assert "prepare:" in run(["dvc", "status"], tmp_path)
    assert ran(run(["dvc", "repro"], tmp_path)) == {"prepare"}
    from datasets import load_from_disk

    assert len(load_from_disk(str(tmp_path / "data/prompts"))["train"]) == 7


def test_the_seeds_and_controls_params_turn_on_expand_into_stages(tmp_path):
    """The SFT stages' seeds and the random-reward controls are off in the default; one params line each turns
    them on, as stages DVC lists (their commands are the ones tests/test_stages.py runs), and DVC reads the
    control's params through params.yaml's YAML merge: rl_reasoning's settings, its own rewards."""
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    text = (REPO / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(text)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        run(cmd, tmp_path)
    wanted = {"coldstart_seed@1", "eval_seed_A@1", "sft_seed@1", "eval_seed_C@1", "distill_seed@1",
              "eval_seed_student@1", "rl_reasoning_random_seed@0", "eval_seed_B_random@0",
              "rl_zero_random_seed@0", "eval_seed_zero_random@0"}
    assert not wanted & set(run(["dvc", "stage", "list", "--name-only"], tmp_path).split())
    for key, seeds in (("coldstart", "[1]"), ("sft", "[1]"), ("distill", "[1]"), ("rl_reasoning_random", "[0]"),
                       ("rl_zero_random", "[0]")):
        assert f"\n  {key}: []" in text, key
        text = text.replace(f"\n  {key}: []", f"\n  {key}: {seeds}")
    (tmp_path / "params.yaml").write_text(text)
    assert wanted <= set(run(["dvc", "stage", "list", "--name-only"], tmp_path).split())
    code = ("import dvc.api, json; print(json.dumps(dvc.api.params_show(stages='rl_reasoning_random_seed@0')))")
    shown = json.loads(run([sys.executable, "-c", code], tmp_path))["rl_reasoning_random"]
    params = yaml.safe_load(text)
    assert shown == {**params["rl_reasoning"], "rewards": {"random": {"weight": 1.0, "p": 0.42}, "format": 0.5}}
