"""Every command, through the CLI, on the tiny preset: the chain as dvc.yaml runs it."""

import json
import re
import subprocess
import sys
from pathlib import Path

import torch
from datasets import load_from_disk
from PIL import Image
from transformers import AutoModelForCausalLM

from conftest import cli, invoke
from r1pipe.codegraph import code_hash
from r1pipe.manifest import content_hash, read_manifest
from r1pipe.rewards import score


def weights(path):
    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def changed(a, b) -> bool:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    return any(not torch.equal(wa[k], wb[k]) for k in wa)


def test_base_and_prepare(chain):
    assert read_manifest(chain / "models/base")["stage"] == "base"
    assert AutoModelForCausalLM.from_pretrained(chain / "models/base").config.hidden_size == 128
    prompts = load_from_disk(str(chain / "data/prompts"))
    assert len(prompts["train"]) == 512 and len(prompts["test"]) == 8
    assert set(prompts["train"].column_names) >= {"prompt", "answer", "task", "solution", "id"}


def test_every_training_stage_changed_the_weights(chain):
    assert changed(chain / "models/base", chain / "models/A")
    assert changed(chain / "models/A", chain / "models/B")
    assert changed(chain / "models/base", chain / "models/C")
    assert changed(chain / "models/C", chain / "models/D")


def test_manifests_record_lineage(chain):
    a = read_manifest(chain / "models/A")
    assert a["stage"] == "coldstart" and a["parent"] == "models/base"
    assert a["inputs"]["model"]["sha256"] == content_hash(chain / "models/base")
    assert a["inputs"]["data"]["sha256"] == content_hash(chain / "data/prompts")
    assert a["params"]["learning_rate"] == 3.0e-3 and "seconds" not in a
    run_log = json.loads((chain / "models/A.run.json").read_text())  # what varies stays outside
    assert run_log["seconds"] > 0 and run_log["code_sha256"] == code_hash("r1pipe.stages.coldstart")
    assert a["metrics"]["final_loss"] < a["metrics"]["first_loss"]
    d = read_manifest(chain / "models/D")
    assert d["stage"] == "rl_all" and d["parent"] == "models/C" and d["metrics"]["steps"] == 2
    log = json.loads((chain / "models/B/train_log.json").read_text())
    assert any("rewards/accuracy/mean" in h for h in log)


def test_rejection_sampled_set_passes_every_filter(chain):
    sft = load_from_disk(str(chain / "data/sft"))
    prompts = {r["id"]: r for r in load_from_disk(str(chain / "data/prompts"))["train"]}
    assert len(sft) > 0
    gold = [prompts[r["prompt_id"]]["answer"] for r in sft]
    rescored = score(["accuracy", "format"], sft["prompt"], sft["completion"], answer=gold)
    assert rescored["accuracy"] == [1.0] * len(sft) and rescored["format"] == [1.0] * len(sft)
    per_prompt = {}
    for r in sft:
        per_prompt[r["prompt_id"]] = per_prompt.get(r["prompt_id"], 0) + 1
    assert max(per_prompt.values()) <= 2
    stats = json.loads((chain / "metrics/reject_sample.json").read_text())
    assert stats["kept"] == len(sft) and stats["sampled"] == 16 * 4
    for f in stats["filters"].values():
        assert f["kept"] + f["rejected"] == stats["sampled"]


def test_reject_sample_is_deterministic(chain):
    cli("reject-sample", "--model", "models/B", "--data", "data/prompts", "--out", "data/sft_again",
        "--metrics", "metrics/again.json", cwd=chain)
    assert content_hash(chain / "data/sft_again") == content_hash(chain / "data/sft")


def test_sft_and_distill_train_on_the_sampled_set(chain):
    c = read_manifest(chain / "models/C")
    assert c["inputs"]["data"]["sha256"] == content_hash(chain / "data/sft")
    student = AutoModelForCausalLM.from_pretrained(chain / "models/student")
    base = AutoModelForCausalLM.from_pretrained(chain / "models/base")
    assert student.config.num_hidden_layers == 1 < base.config.num_hidden_layers  # base_student: layers: 1
    assert student.num_parameters() < base.num_parameters()
    s = read_manifest(chain / "models/student")
    assert s["stage"] == "distill" and s["parent"] == "models/base_student" and s["metrics"]["steps"] > 0


def test_r1_zero_and_the_extra_seed_train_from_their_own_starts(chain):
    zero = read_manifest(chain / "models/zero")
    assert zero["stage"] == "rl_zero" and zero["parent"] == "models/base" and zero["metrics"]["steps"] == 2
    b, b1 = read_manifest(chain / "models/B"), read_manifest(chain / "models/seeds/B-1")
    assert b["params"]["seed"] == 0 and b1["params"]["seed"] == 1  # --seed replaces the section's seed
    assert b1["params"]["trl"]["settings"]["seed"] == b1["params"]["trl"]["settings"]["data_seed"] == 1  # TRL's too

    def but_seeds(params):
        trl = {**params["trl"], "settings": {k: v for k, v in params["trl"]["settings"].items()
                                             if k not in ("seed", "data_seed")}}
        return {**{k: v for k, v in params.items() if k != "seed"}, "trl": trl}

    assert but_seeds(b1["params"]) == but_seeds(b["params"])
    assert (chain / "models/B/model.safetensors").read_bytes() != (
        chain / "models/seeds/B-1/model.safetensors").read_bytes()


def test_eval_and_report(chain):
    m = json.loads((chain / "metrics/eval/A.json").read_text())["arithmetic"]
    assert m["n_prompts"] == 8 and m["k"] == 2 and m["temperature"] == 0.6 and m["top_p"] == 0.95
    assert 0.0 <= m["pass@1"] <= m["pass@2"] <= 1.0 and m["mean_tokens"] > 0
    report = (chain / "reports/report.md").read_text()
    table = report.split("\n\n")[2].splitlines()
    assert table[0].startswith("| model | stage | arithmetic pass@1 | arithmetic cons@2 |")
    assert [line.split("|")[1].strip() for line in table[2:]] == ["base", "A", "B", "C", "D", "zero", "student"]
    assert "## The paper's findings, checked" in report and "| zero > base |" in report
    assert "| zero | rl_zero | `models/base` |" in report  # lineage from the manifests
    # Each RL model's other seed joins its claim, not the table: B > A, D >= C and zero > base on the mean.
    for name in ("B", "D", "zero"):
        assert f"{name} is judged over 2 seeds" in report, name
    for claim in ("B > A", "D >= C", "zero > base"):
        row = next(line for line in report.splitlines() if line.startswith(f"| {claim} |"))
        assert "(seeds: " in row and "and seeds (2)" in row, claim
    # What each side of "C > zero" cost beyond the base both start from, from the manifests' lineage.
    cost = next(line for line in report.splitlines() if line.startswith("Compute of `C > zero`"))
    assert "models/A, models/B, models/C" in cost and "zero: " in cost and "data/sft" in cost
    assert "models/base" not in cost and "data/prompts" not in cost
    seconds = json.loads((chain / "reports.run.json").read_text())["compute"]["C > zero"]  # they vary: a run log
    assert seconds["C"]["seconds"] > seconds["zero"]["seconds"] > 0 and seconds["zero"]["rl_completions"] == 8
    table = json.loads((chain / "metrics/report.json").read_text())
    assert set(table["pass@1"]) == {"base", "A", "B", "C", "D", "zero", "student"}
    assert table["pass@1"]["A"] == round(100 * m["pass@1"], 2)
    assert set(table["claims"]) == {"A > base", "B > A", "C >= A", "D >= C", "zero > base", "C > zero"}
    for png, size in [("pass_at_1.png", (600, 350)), ("rl_curves.png", (900, 350))]:
        img = Image.open(chain / "reports" / png)
        assert img.format == "PNG" and img.size == size


def test_missing_model_is_a_one_line_error(chain):
    proc = subprocess.run(
        [sys.executable, "-m", "r1pipe", "coldstart", "--model", "models/nope", "--out", "models/X"],
        capture_output=True, text=True, cwd=chain,
    )
    assert proc.returncode == 2
    assert (proc.stdout + proc.stderr).strip() == (
        "error: model not found: models/nope (expected a save_pretrained directory with config.json)")
    assert not (chain / "models/X").exists()


def test_eval_on_real_benchmarks(chain):
    """20 GSM8K, 20 MATH-500 and 10 HumanEval problems from tests/data, through the CLI."""
    import yaml

    from conftest import SAMPLE_DATA

    params = yaml.safe_load((chain / "params.yaml").read_text())
    params["eval"].update(k=2, pass_k=2, max_new_tokens=24, data_dir=str(SAMPLE_DATA), benchmarks=[
        {"name": "gsm8k", "limit": 20}, {"name": "math500", "limit": 20}, {"name": "humaneval", "limit": 10}])
    (chain / "bench.yaml").write_text(yaml.safe_dump(params))
    cli("eval", "--params", "bench.yaml", "--model", "models/A", "--out", "metrics/bench/A.json", cwd=chain)
    m = json.loads((chain / "metrics/bench/A.json").read_text())
    assert {b: m[b]["n_prompts"] for b in ("gsm8k", "math500", "humaneval")} == {"gsm8k": 20, "math500": 20,
                                                                                  "humaneval": 10}
    assert all(m[b]["k"] == 2 and 0.0 <= m[b]["pass@1"] <= m[b]["pass@2"] <= 1.0 for b in ("gsm8k", "humaneval"))
    samples = json.loads((chain / "metrics/bench/A.samples.json").read_text())
    assert "def has_close_elements" in samples["humaneval"][0]["prompt"]


def test_report_checks_the_papers_findings_against_standard_errors():
    from r1pipe.report.claims import claims

    def m(p, se):
        return {"arithmetic": {"pass@1": p, "pass@1_se": se}}

    metrics = {"base": m(0.10, 0.03), "A": m(0.40, 0.04), "B": m(0.45, 0.04), "C": m(0.35, 0.03),
               "D": m(0.20, 0.03), "zero": m(0.45, 0.03)}
    table, deltas = claims(metrics, "arithmetic")
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[3:7]] for line in table.splitlines()[2:]}
    assert rows["A > base"] == ["+30.0", "5.0 (unpaired)", "10.0", "holds"]  # 0.30 > 2 x sqrt(0.03² + 0.04²) = 0.10
    assert rows["B > A"] == ["+5.0", "5.7 (unpaired)", "11.3", "within noise"]  # |0.05| < 2 x 0.0566
    assert rows["C >= A"] == ["-5.0", "5.0 (unpaired)", "10.0", "holds"]  # not worse by more than 2 SE
    assert rows["D >= C"] == ["-15.0", "4.2 (unpaired)", "8.5", "fails"]
    assert rows["C > zero"] == ["-10.0", "4.2 (unpaired)", "8.5", "reversed"]
    assert deltas == {"A > base": 30.0, "B > A": 5.0, "C >= A": -5.0, "D >= C": -15.0, "zero > base": 35.0,
                      "C > zero": -10.0}


def test_a_claim_whose_model_never_had_an_advantage_is_not_tested(tmp_path):
    from r1pipe.report.claims import claims, never_advantaged
    from r1pipe.report.lineage import rl_curves

    for section, spreads in {"rl_zero": [0.0, 0.0, 0.0], "rl_reasoning": [0.0, 0.2, 0.0]}.items():
        log_curves(tmp_path / section, [{"reward": -0.5, "reward_std": s} for s in spreads])
    untested = never_advantaged(rl_curves(tmp_path))  # B learned from one step; D has no curves
    assert untested == {"zero": "never received a reward that differed within a group in 3 RL steps"}
    metrics = {"base": {"x": {"pass@1": 0.1, "pass@1_se": 0.01}}, "zero": {"x": {"pass@1": 0.5, "pass@1_se": 0.01}}}
    table, _ = claims(metrics, "x", untested=untested)
    assert "| zero > base |" in table and "not tested: zero never received a reward that differed" in table
    assert "holds" not in table  # +40 points at 28 SE, but RL never moved it


def test_a_model_over_several_seeds_is_judged_on_their_mean_with_both_noises():
    """B over 3 seeds against A, on 4 problems: hand-computed."""
    from r1pipe.report.claims import claims

    a = {"0": 0.0, "1": 0.0, "2": 1.0, "3": 1.0}
    runs = {"B": {"0": 1.0, "1": 0.0, "2": 1.0, "3": 1.0},      # +0.25
            "B-1": {"0": 1.0, "1": 1.0, "2": 1.0, "3": 1.0},    # +0.50
            "B-2": {"0": 0.0, "1": 0.0, "2": 1.0, "3": 1.0}}    # +0.00
    metrics = {"A": {"x": {"pass@1": 0.5}}, **{n: {"x": {"pass@1": sum(p.values()) / 4}} for n, p in runs.items()}}
    problems = {n: {"x": p} for n, p in {"A": a, **runs}.items()}
    table, deltas = claims(metrics, "x", problems, seeds={"B": ["B", "B-1", "B-2"]})
    row = next(line for line in table.splitlines() if line.startswith("| B > A |"))
    # seed-averaged per-problem differences: 2/3, 1/3, 0, 0 -> mean 0.25, sd 0.3191, SE over problems 0.1596;
    # the seeds' differences 0.25, 0.5, 0: sd 0.25, SE 0.1443; together sqrt(0.1596² + 0.1443²) = 0.2152
    assert "+25.0 (seeds: +25.0, +50.0, +0.0)" in row and "21.5 (paired over problems, and seeds (3))" in row
    assert deltas["B > A"] == 25.0 and "within noise" in row


def test_paired_standard_error_is_the_se_of_per_problem_differences():
    """Two models right on the same hard problems: the paired SE sees that their difference is steady."""
    from r1pipe.report.claims import claims

    # 10 problems; A right on 0-4, B right on 0-6: B - A = +0.2; differences are 0 or 1.
    a = {str(i): float(i < 5) for i in range(10)}
    b = {str(i): float(i < 7) for i in range(10)}
    metrics = {"A": {"x": {"pass@1": 0.5, "pass@1_se": 0.1667}}, "B": {"x": {"pass@1": 0.7, "pass@1_se": 0.1528}}}
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[3:7]]
            for line in claims(metrics, "x", {"A": {"x": a}, "B": {"x": b}})[0].splitlines()[2:]}
    # differences: two 1s, eight 0s: mean 0.2, sample sd sqrt(0.2*0.8*10/9) = 0.4216, SE 0.1333; with that SE
    # the test resolves a difference of 2 x 0.1333 = 26.7 points or more: +20 is within noise, and it could
    # not have told a real +20 from none.
    assert rows["B > A"] == ["+20.0", "13.3 (paired)", "26.7", "within noise"]
    unpaired = {line.split("|")[1].strip(): line.split("|")[4].strip()
                for line in claims(metrics, "x")[0].splitlines()[2:]}
    assert unpaired["B > A"] == "22.6 (unpaired)"  # sqrt(0.1667² + 0.1528²): wider than paired


def scored(metrics: Path, scores: list[float]) -> None:
    """Rewrite an eval's metrics and per-problem scores (its first benchmark) as if it had scored ``scores``."""
    from r1pipe.metrics import mean_se

    data = json.loads(metrics.read_text())
    bench = next(b for b, m in data.items() if isinstance(m, dict))
    data[bench]["pass@1"], data[bench]["pass@1_se"] = mean_se(scores)
    metrics.write_text(json.dumps(data))
    per = metrics.with_name(f"{metrics.stem}.problems.json")
    per.write_text(json.dumps({bench: {f"{bench}/test/{i}": x for i, x in enumerate(scores)}}))


def test_a_seed_is_called_collapsed_by_its_held_out_score_not_by_its_sampled_reward(chain, tmp_path):
    """rl_reasoning's seed 1 at a destructive learning rate (0.5, 6 steps) from the tiny chain's A: its sampled
    reward falls and stays down, which its run log keeps as a hint, not a warning. The report calls it collapsed
    only where its held-out pass@1 falls more than 2 SE below A's: scoring what A scores, it is not; scoring
    nothing where A scored every problem, it is, in the warnings and on the B > A row."""
    import shutil

    import yaml

    from conftest import cli

    work = tmp_path / "chain"
    shutil.copytree(chain, work, symlinks=True)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["rl_reasoning"].update(learning_rate=0.5, max_steps=6)
    (work / "destructive.yaml").write_text(yaml.safe_dump(params))
    shutil.rmtree(work / "models/seeds/B-1")
    cli("grpo", "--params", "destructive.yaml", "--section", "rl_reasoning", "--seed", "1", "--model", "models/A",
        "--data", "data/prompts", "--out", "models/seeds/B-1", "--live", "dvclive/seeds/B-1", cwd=work)
    log = json.loads((work / "models/seeds/B-1.run.json").read_text())
    assert log["hint"].startswith("hint: the ") and "fell from" in log["hint"], log
    assert log["warning"] is None or "fell" not in log["warning"]
    cli("eval", "--model", "models/seeds/B-1", "--data", "data/prompts", "--out", "metrics/seeds/B-1.json", cwd=work)

    def report() -> str:
        cli("report", "--metrics-dir", "metrics/eval", "--seeds-dir", "metrics/seeds", "--models-dir", "models",
            "--out", "reports", "--metrics", "metrics/report.json", cwd=work)
        return (work / "reports/report.md").read_text()

    for run in ("eval/A", "eval/B", "seeds/B-1"):  # held out, B and B-1 kept all that A had
        scored(work / f"metrics/{run}.json", [1.0] * 8)
    text = report()
    assert "- B-1: collapsed" not in text and log["hint"] not in text
    assert "collapsed in" not in next(line for line in text.splitlines() if line.startswith("| B > A |"))
    scored(work / "metrics/seeds/B-1.json", [0.0] * 8)  # held out, B-1 lost it all
    text = report()
    assert "- B-1: collapsed: held-out pass@1 on arithmetic 0.0, 100.0 points below its parent A's" in text
    row = next(line for line in text.splitlines() if line.startswith("| B > A |"))
    assert row.endswith("(B's RL collapsed in 1 of 2 runs) |"), row
    chain_report = (chain / "reports/report.md").read_text()
    assert ": collapsed:" not in chain_report and "collapsed in" not in chain_report  # the chain's own did not


def test_the_report_warns_where_a_comparison_mixes_training_dtypes(chain, tmp_path):
    """A seed of B trained under TRL's `bf16: true` from the chain's float32 A: the report warns that B > A
    compares models trained in different dtypes, and that B-1 was trained in another dtype than its parent. The
    chain's own report, all float32, warns of neither."""
    import shutil

    import yaml

    from conftest import cli
    from r1pipe.report.lineage import training_dtypes

    work = tmp_path / "chain"
    shutil.copytree(chain, work, symlinks=True)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["rl_reasoning"].update(bf16=True, max_steps=1)
    (work / "bf16.yaml").write_text(yaml.safe_dump(params))
    shutil.rmtree(work / "models/seeds/B-1")
    cli("grpo", "--params", "bf16.yaml", "--section", "rl_reasoning", "--seed", "1", "--model", "models/A",
        "--data", "data/prompts", "--out", "models/seeds/B-1", "--live", "dvclive/seeds/B-1", cwd=work)
    cli("eval", "--model", "models/seeds/B-1", "--data", "data/prompts", "--out", "metrics/seeds/B-1.json", cwd=work)
    assert training_dtypes(work / "models", ["base", "A", "B", "B-1"]) == {"A": "float32", "B": "float32",
                                                                         "B-1": "bfloat16"}
    cli("report", "--metrics-dir", "metrics/eval", "--seeds-dir", "metrics/seeds", "--models-dir", "models",
        "--out", "reports", "--metrics", "metrics/report.json", cwd=work)
    text = (work / "reports/report.md").read_text()
    assert ("- B > A compares models trained in different dtypes (B: bfloat16, float32; A: float32): part of the "
            "difference is the dtype's") in text
    assert "- B-1 trained in bfloat16 from A, trained in float32" in text
    assert "different dtypes (" not in (chain / "reports/report.md").read_text()


def test_a_and_c_over_seeds_are_judged_with_both_sides_spread(chain, tmp_path):
    """seeds.coldstart and seeds.sft: coldstart and sft once more with seed 1 (the commands dvc.yaml's
    coldstart_seed and sft_seed run), each evaluated into metrics/seeds. The report's A > base and C >= A rows are
    over seeds, C >= A over both sides', with an SE that adds both sides' spread: hand-computed from the files."""
    import math
    import shutil

    from conftest import cli

    work = tmp_path / "chain"
    shutil.copytree(chain, work, symlinks=True)
    for command, model, data, name in [("coldstart", "models/base", "data/prompts", "A"),
                                       ("sft", "models/base", "data/sft", "C")]:
        cli(command, "--seed", "1", "--model", model, "--data", data, "--out", f"models/seeds/{name}-1", cwd=work)
        cli("eval", "--model", f"models/seeds/{name}-1", "--data", "data/prompts", "--out",
            f"metrics/seeds/{name}-1.json", cwd=work)
        assert read_manifest(work / f"models/seeds/{name}-1")["params"]["seed"] == 1
        assert (work / f"models/seeds/{name}-1/model.safetensors").read_bytes() != (
            work / f"models/{name}/model.safetensors").read_bytes()
    cli("report", "--metrics-dir", "metrics/eval", "--seeds-dir", "metrics/seeds", "--models-dir", "models",
        "--out", "reports", "--metrics", "metrics/report.json", cwd=work)
    report = (work / "reports/report.md").read_text()
    assert "A is judged over 2 seeds" in report and "C is judged over 2 seeds" in report
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[3:5]] for line in report.splitlines()
            if line.startswith(("| A > base |", "| C >= A |"))}
    assert rows["A > base"][0].startswith(("+", "-")) and "(seeds: " in rows["A > base"][0]
    assert rows["A > base"][1].endswith("and seeds (2))")
    assert "A's seeds: " in rows["C >= A"][0] and rows["C >= A"][1].endswith("and seeds (2 and 2))")

    def per(run):
        where = "eval" if "-" not in run else "seeds"
        return json.loads((work / f"metrics/{where}/{run}.problems.json").read_text())["arithmetic"]

    c, a = [per("C"), per("C-1")], [per("A"), per("A-1")]
    diffs = [(c[0][i] + c[1][i]) / 2 - (a[0][i] + a[1][i]) / 2 for i in c[0]]
    mean = sum(diffs) / len(diffs)
    problem_se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))

    def seed_se(runs):  # two seeds: sd |x - y| / sqrt(2), over sqrt(2)
        scores = [sum(r.values()) / len(r) for r in runs]
        return abs(scores[0] - scores[1]) / 2

    se = math.sqrt(problem_se ** 2 + seed_se(c) ** 2 + seed_se(a) ** 2)
    assert rows["C >= A"][1] == f"{100 * se:.1f} (paired over problems, and seeds (2 and 2))"
    assert rows["C >= A"][0].startswith(f"{100 * mean:+.1f} (")


def test_a_random_reward_control_trains_is_evaluated_and_is_judged_from_its_files(chain, tmp_path):
    """rl_reasoning_random (the preset's: rl_reasoning's settings through a YAML merge, accuracy replaced by a
    coin) from A with seeds 0 and 1, as dvc.yaml's rl_reasoning_random_seed runs it, each evaluated; the
    report's B > B_random row is B's mean over its seeds minus the control's over its, from the eval files."""
    import shutil

    from conftest import cli
    from r1pipe.metrics import mean_se

    work = tmp_path / "chain"
    shutil.copytree(chain, work, symlinks=True)
    for seed in (0, 1):
        cli("grpo", "--section", "rl_reasoning_random", "--seed", str(seed), "--model", "models/A", "--data",
            "data/prompts", "--out", f"models/seeds/B_random-{seed}", "--live", f"dvclive/seeds/B_random-{seed}",
            cwd=work)
        cli("eval", "--model", f"models/seeds/B_random-{seed}", "--data", "data/prompts", "--out",
            f"metrics/seeds/B_random-{seed}.json", cwd=work)
    manifest = read_manifest(work / "models/seeds/B_random-0")
    ours, theirs = manifest["params"], read_manifest(work / "models/B")["params"]
    assert manifest["stage"] == "rl_reasoning_random" and manifest["parent"] == "models/A"
    assert set(ours["rewards"]) == {"random", "format_tags"}  # no reward that reads correctness
    assert {k: v for k, v in ours.items() if k not in ("rewards", "trl")} == {
        k: v for k, v in theirs.items() if k not in ("rewards", "trl")}  # otherwise rl_reasoning's settings
    logged = json.loads((work / "models/seeds/B_random-0/train_log.json").read_text())
    assert any("rewards/random/mean" in h for h in logged) and not any("rewards/accuracy/mean" in h for h in logged)
    assert (work / "models/seeds/B_random-0/model.safetensors").read_bytes() != (
        work / "models/A/model.safetensors").read_bytes()

    cli("report", "--metrics-dir", "metrics/eval", "--seeds-dir", "metrics/seeds", "--models-dir", "models",
        "--out", "reports", "--metrics", "metrics/report.json", cwd=work)
    report = (work / "reports/report.md").read_text()
    assert "B_random (a control: its RL section's reward ignores correctness) is judged over 2 seeds" in report
    row = next(line for line in report.splitlines() if line.startswith("| B > B_random |"))

    def scores(run):
        where = "eval" if run == "B" else "seeds"
        return json.loads((work / f"metrics/{where}/{run}.problems.json").read_text())["arithmetic"]

    b, control = [scores("B"), scores("B-1")], [scores("B_random-0"), scores("B_random-1")]
    diffs = [sum(r[i] for r in b) / 2 - sum(r[i] for r in control) / 2 for i in b[0]]
    assert row.split("|")[3].strip().startswith(f"{100 * mean_se(diffs)[0]:+.1f} (")
    assert "and seeds (2 and 2))" in row.split("|")[4]
    table = json.loads((work / "metrics/report.json").read_text())
    assert table["claims"]["B > B_random"] == round(100 * mean_se(diffs)[0], 2)


def test_collapse_is_judged_against_the_parent_and_a_mostly_dead_side_tests_nothing():
    from r1pipe.report.claims import claims, collapses

    def m(p, se=0.05):
        return {"x": {"pass@1": p, "pass@1_se": se}}

    metrics = {"A": m(0.6), "B": m(0.62), "B-1": m(0.40), "B-2": m(0.55), "base": m(0.01, 0.01)}
    parents = {"B": "A", "B-1": "A", "B-2": "A"}
    # Unpaired SE of B-1 - A: sqrt(0.05² + 0.05²) = 0.0707; -0.20 is beyond 2 SE, B-2's -0.05 is not.
    assert set(collapses(metrics, "x", parents)) == {"B-1"}
    assert "20.0 points below its parent A's (SE 7.1, unpaired)" in collapses(metrics, "x", parents)["B-1"]
    seeds = {"B": ["B", "B-1", "B-2"]}
    table, _ = claims(metrics, "x", seeds=seeds, collapsed={"B-1"}, dead={"B", "B-2"})
    row = next(line for line in table.splitlines() if line.startswith("| B > A |"))
    assert "not tested: B's training was dead in 2 of 3 runs" in row, row
    table, _ = claims(metrics, "x", seeds=seeds, collapsed={"B-1"}, dead={"B-2"})  # one of three: it counts
    row = next(line for line in table.splitlines() if line.startswith("| B > A |"))
    assert "not tested" not in row and row.endswith("(B's RL collapsed in 1 of 3 runs) |"), row


def log_curves(directory, logs, steps=None):
    """Logs TRL-style log dicts through the GRPO stage's own dvclive callback, at ``steps`` (1, 2, ... if None)."""
    from types import SimpleNamespace

    from r1pipe.training.grpo import LiveCallback

    live = LiveCallback(directory, resume_step=0)
    for step, logs_at in zip(steps or range(1, len(logs) + 1), logs):
        live.on_log(None, SimpleNamespace(global_step=step), None, logs=logs_at)
    live.on_train_end(None, None, None)


def test_the_reports_curves_are_dvclives_at_the_trainers_own_steps(tmp_path):
    """With ``logging_steps: 2`` the trainer logs steps 2, 4, 6: the report reads dvclive's files, whose step
    column says so, not 1, 2, 3; and each value is the one the trainer logged."""
    from r1pipe.report.lineage import rl_curves

    logs = [{"reward": 0.1 * step, "reward_std": 0.2, "completions/mean_length": 10.0 + step} for step in (2, 4, 6)]
    log_curves(tmp_path / "rl_reasoning", logs, steps=[2, 4, 6])
    assert rl_curves(tmp_path)["B"] == [{"step": s, "reward": 0.1 * s, "reward_std": 0.2,
                                         "completion_length": 10.0 + s} for s in (2, 4, 6)]
    assert rl_curves(tmp_path / "elsewhere") == {} and rl_curves(None) == {}


def test_the_chains_report_reads_the_curves_dvclive_wrote(chain):
    """In the tiny chain, the report's curves are the trainer's logged rewards at the trainer's steps."""
    from r1pipe.report.lineage import rl_curves

    curves = rl_curves(chain / "dvclive")
    assert set(curves) == {"B", "D", "zero"}
    for name in curves:
        trained = [h for h in json.loads((chain / "models" / name / "train_log.json").read_text()) if "reward" in h]
        assert [(h["step"], h["reward"]) for h in curves[name]] == [(h["step"], h["reward"]) for h in trained]


def test_rl_completions_count_what_trls_trainer_generates():
    """The gpu preset's rl_reasoning: 16 completions a micro-batch, 8 micro-batches a step, on 4 GPUs, 500
    steps: 256,000 completions (counting max_steps x batch x processes alone gave 32,000, 8x too few); each
    generation batch used for 2 passes halves what was generated."""
    from r1pipe.report.lineage import rl_completions

    gpu = {"max_steps": 500, "per_device_train_batch_size": 16, "gradient_accumulation_steps": 8}
    assert rl_completions(gpu, processes=4) == 500 * 16 * 8 * 4 == 256_000
    assert rl_completions({**gpu, "num_iterations": 2}, processes=4) == 128_000
    assert rl_completions({"max_steps": 2, "per_device_train_batch_size": 4}, processes=1) == 8  # the tiny chain


def test_without_a_terminal_a_stage_writes_progress_lines(chain, tmp_path, monkeypatch):
    """Under `dvc repro > log` rich draws no bar until it ends: a line every R1PIPE_LOG_SECONDS instead, with the
    step, the share done, the rate and the time left."""
    monkeypatch.setenv("R1PIPE_LOG_SECONDS", "0")
    result = invoke("coldstart", "--out", str(tmp_path / "A"), cwd=chain)  # CliRunner's streams are no terminal
    assert result.exit_code == 0, result.output
    lines = re.findall(r"^coldstart: (\d+)/(\d+) \((\d+)%\), [\d.]+/s, (.*)$", result.output, re.MULTILINE)
    assert len(lines) >= 3, result.output
    steps = [int(done) for done, *_ in lines]
    assert steps == sorted(steps) and steps[-1] == int(lines[-1][1]) and lines[-1][3].startswith("done in")
    assert all(rest.endswith("so far") or " left, " in rest or "loss=" in rest for *_, rest in lines[:-1])
