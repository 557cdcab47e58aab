"""docs/your-data.md, walked as a user would: their own jsonl through the chain to a report, with only the
page's commands; and two published open-r1 recipes pasted into a GRPO section, mended as `r1pipe check` says."""

from __future__ import annotations

import json
import random
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from datasets import load_from_disk

from conftest import REPO, TINY, cli, invoke
from r1pipe import R1pipeError

PAGE = REPO / "docs" / "your-data.md"
RECIPES = REPO / "tests" / "data" / "open-r1"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.DOTALL)


def gsm8k_rows(n: int, seed: int) -> list[dict]:
    """Word problems in GSM8K's format: one to three operations, calculator notes, `#### answer` last."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        who, what = rng.choice(["Ann", "Bo", "Cy", "Dee", "Eli", "Fay"]), rng.choice(["coins", "books", "pens"])
        total = rng.randint(2, 60)
        question, lines = f"{who} has {total} {what}.", []
        for _ in range(rng.randint(1, 3)):
            op, x = rng.choice(["+", "-", "*"]), rng.randint(2, 9)
            if op == "-" and x > total:
                op = "+"
            new = {"+": total + x, "-": total - x, "*": total * x}[op]
            question += {"+": f" {who} gets {x} more.", "-": f" {who} gives away {x}.",
                         "*": f" The pile grows {x} times."}[op]
            lines.append(f"Now {total}{op}{x} = <<{total}{op}{x}={new}>>{new} {what}.")
            total = new
        rows.append({"question": f"{question} How many {what} does {who} have?",
                     "answer": "\n".join(lines) + f"\n#### {total:,}"})
    return rows


def clone_like(tmp_path: Path) -> None:
    """What a user's clone holds that the page's commands read: the presets, dvc.yaml, and the committed run's
    metrics and run logs (whose models a clone does not have until `dvc pull`)."""
    (tmp_path / "stages/presets").mkdir(parents=True)
    shutil.copy(TINY, tmp_path / "stages/presets/tiny.yaml")
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".dvc").mkdir()
    shutil.copy(REPO / ".dvc/config", tmp_path / ".dvc/config")
    shutil.copytree(REPO / "metrics", tmp_path / "metrics")
    (tmp_path / "models").mkdir()
    for log in (REPO / "models").glob("*.run.json"):
        shutil.copy(log, tmp_path / "models" / log.name)
    for command in (["add", "-A"], ["-c", "user.email=t@r1pipe.local", "-c", "user.name=t", "commit", "-qm", "clone"]):
        subprocess.run(["git", *command], cwd=tmp_path, check=True)


def test_the_page_takes_a_users_jsonl_to_a_report(tmp_path):
    clone_like(tmp_path)
    (tmp_path / "data").mkdir()
    rows = gsm8k_rows(300, seed=7)
    (tmp_path / "data/mine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    commands = [line for block in blocks("bash") for line in block.splitlines() if line.strip()]
    assert commands[0].startswith("cp ") and commands[-1] == "r1pipe report"
    for command in commands:
        words = shlex.split(command)
        if words[0] == "cp":
            shutil.copy(tmp_path / words[1], tmp_path / words[2])
            # The page's one edit: its yaml block's sections replace those keys in params.yaml.
            params = yaml.safe_load((tmp_path / "params.yaml").read_text())
            for section, keys in yaml.safe_load(blocks("yaml")[0]).items():
                params[section].update(keys)
            (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            # And its second: the file among prepare's deps in dvc.yaml.
            dvc = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
            for stage, keys in yaml.safe_load(blocks("yaml")[1]).items():
                dvc["stages"][stage]["deps"] += keys["deps"]
            (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(dvc, sort_keys=False))
            continue
        assert words[0] == "r1pipe", command
        cli(*words[1:], cwd=tmp_path)

    prompts = load_from_disk(str(tmp_path / "data/prompts"))
    assert {split: len(prompts[split]) for split in prompts} == {"train": 240, "test": 30, "validation": 30}
    ids = [set(prompts[split]["question"] if "question" in prompts[split].column_names else
               [p[-1]["content"] for p in prompts[split]["prompt"]]) for split in prompts]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    gold = {r["question"]: r["answer"].rsplit("#### ", 1)[1].replace(",", "") for r in rows}
    for row in prompts["train"]:
        question = row["prompt"][-1]["content"]
        assert row["answer"] == gold[question]
        assert row["solution"] and "<<" not in row["solution"] and "####" not in row["solution"]
    coldstart = json.loads((tmp_path / "models/A/r1pipe.json").read_text())
    assert coldstart["metrics"]["rows_trained"] == 240 and coldstart["rows_left_out"] == 0  # every row had a solution
    for model in "AB":
        assert "mine" in json.loads((tmp_path / f"metrics/eval/{model}.json").read_text())
    report = (tmp_path / "reports/report.md").read_text()
    assert "mine" in report and "arithmetic" not in report.split("## ")[1]  # the table is of the user's benchmark
    # The clone's committed metrics of models the user has not made, or made again, are left out, and said to be.
    for name, why in [("base", "is older than models/base"), ("C", "scored models/C, which is not there"),
                      ("zero", "scored models/zero, which is not there")]:
        assert f"{name}: left out, metrics/eval/{name}.json {why}" in report, name
    assert json.loads((tmp_path / "metrics/eval/A.run.json").read_text())["model"]["manifest_sha256"]


# What `check` must name in each published recipe (every key but those TRL and r1pipe take as they are).
TO_CHANGE = {
    "config_demo.yaml": {
        "model_name_or_path", "model_revision", "torch_dtype", "attn_implementation", "dataset_name",
        "dataset_configs", "num_processes", "use_vllm", "vllm_device", "do_eval", "eval_strategy", "eval_steps",
        "hub_model_id", "max_prompt_length", "output_dir", "overwrite_output_dir",
        "per_device_eval_batch_size", "push_to_hub", "report_to", "save_strategy", "save_total_limit",
        "num_generations"},
    "config_simple_rl.yaml": {
        "model_revision", "torch_dtype", "attn_implementation", "dataset_name", "dataset_config", "system_prompt",
        "model_name_or_path", "hub_model_id", "output_dir", "wandb_project", "reward_weights", "reward_funcs",
        "use_vllm", "vllm_device", "do_eval", "eval_strategy", "eval_steps", "max_prompt_length",
        "overwrite_output_dir", "per_device_eval_batch_size", "push_to_hub", "report_to", "save_strategy",
        "num_generations"},
}


def mended(section: dict, problems: list[str]) -> dict:
    """The section changed as each of `check`'s lines says: write what it says to write, set what it says to
    set, delete the rest. A divisibility line asks for other sizes: the tiny step below sets them."""
    section = dict(section)
    for line in problems:
        key, message = re.match(r".*?rl_reasoning\.(\w+): (.*)", line).groups()
        write = re.search(r"write `(rewards: \{.*?\})`", message)
        setting = re.search(rf"set {key}: (\w+)", message)
        if write:
            section.update(yaml.safe_load(write.group(1)))
        if setting:
            section[key] = yaml.safe_load(setting.group(1))
        elif key != "num_generations":
            section.pop(key)
    return section


@pytest.mark.parametrize("recipe", sorted(TO_CHANGE))
def test_an_open_r1_recipe_goes_through_one_check_and_trains_a_step(tmp_path, tiny_model, recipe):
    params = yaml.safe_load(TINY.read_text())
    pasted = yaml.safe_load((RECIPES / recipe).read_text())
    params["rl_reasoning"] = {**pasted}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    result = invoke("check", cwd=tmp_path)  # in-process: the CLI prints these lines and exits 2
    assert isinstance(result.exception, R1pipeError), result.output
    problems = str(result.exception).splitlines()
    named = [re.match(r"params\.yaml: rl_reasoning\.(\w+): ", line).group(1) for line in problems]
    assert set(named) == TO_CHANGE[recipe] and len(named) == len(set(named)), problems
    assert not any("did you mean" in line for line in problems), problems  # answers from meaning, not spelling

    section = mended(pasted, problems)
    if recipe == "config_simple_rl.yaml":
        assert section["rewards"] == {"accuracy": 1.0, "format": 0.5}
    else:  # 16 x 16 on one process is no multiple of 7 generations; on the 7 processes the recipe names it is
        line = problems[named.index("num_generations")]
        assert "or launch on the recipe's num_processes: 7 (1792 completions" in line, line
    # A tiny step: the recipe's sizes are a 7-GPU run's.
    section.update(max_steps=1, per_device_train_batch_size=4, gradient_accumulation_steps=1, num_generations=4,
                   max_completion_length=8, bf16=False)
    params["rl_reasoning"] = section
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    cli("check", cwd=tmp_path)
    cli("prepare", cwd=tmp_path)
    cli("grpo", "--model", str(tiny_model), "--out", "models/B", cwd=tmp_path)
    manifest = json.loads((tmp_path / "models/B/r1pipe.json").read_text())
    trl = manifest["params"]["trl"]["settings"]
    assert trl["learning_rate"] == pasted["learning_rate"] and trl["lr_scheduler_type"] == "cosine"  # the recipe's
    assert trl["gradient_checkpointing"] is True and manifest["metrics"]["steps"] == 1


def write_params(tmp_path: Path, sources: list[dict], benchmarks=None) -> None:
    params = yaml.safe_load(TINY.read_text())
    params["prepare"]["sources"] = sources
    if benchmarks is not None:
        params["eval"]["benchmarks"] = benchmarks
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.mark.parametrize("source, benchmarks, problem", [
    ({"answer_format": "plain", "test_size": 0.1}, [{"name": "mine", "source": "prompts"}],
     "coldstart: no source of prepare.sources gives a worked solution"),
    ({"answer_format": "gsm8k"}, [{"name": "mine", "source": "prompts"}],
     "eval.benchmarks: mine reads the prepared test split, and no source of prepare.sources has one"),
    ({"answer_format": "gsm8k", "test_size": 0.1}, ["arithmetic"],
     "eval.benchmarks: arithmetic is the prepared test split of an arithmetic source, and prepare has none"),
    ({"answer_format": "gsm8k", "columns": {"prompt": "question"}}, None,
     "prepare.sources.0.columns: prompt: not a field r1pipe reads"),
    ({"test": "data/t.jsonl", "test_size": 0.1}, None, "give `test` (its own file) or `test_size`"),
])
def test_check_says_what_a_later_stage_will_miss_before_anything_trains(tmp_path, source, benchmarks, problem):
    write_params(tmp_path, [{"name": "mine", "kind": "file", "train": "data/mine.jsonl", **source}], benchmarks)
    result = invoke("check", cwd=tmp_path)
    assert isinstance(result.exception, R1pipeError) and problem in str(result.exception), result.output


def test_cut_splits_are_seeded_disjoint_and_refuse_to_leave_nothing(tmp_path):
    (tmp_path / "data").mkdir()
    rows = gsm8k_rows(50, seed=3)
    (tmp_path / "data/mine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = {"name": "mine", "kind": "file", "train": "data/mine.jsonl", "answer_format": "gsm8k"}
    write_params(tmp_path, [{**source, "test_size": 0.2, "validation_size": 5}],
                 [{"name": "mine", "source": "prompts"}])
    cli("prepare", "--out", "data/one", cwd=tmp_path)
    cli("prepare", "--out", "data/two", cwd=tmp_path)
    one, two = (load_from_disk(str(tmp_path / f"data/{name}")) for name in ("one", "two"))
    assert {s: len(one[s]) for s in one} == {"train": 35, "test": 10, "validation": 5}
    assert all(one[s]["prompt"] == two[s]["prompt"] for s in one)  # the same seed, the same cut
    questions = [{p[-1]["content"] for p in one[s]["prompt"]} for s in ("train", "test", "validation")]
    assert sum(map(len, questions)) == len(set().union(*questions)) == 50
    # A test file of its own beside a validation cut: both splits are there.
    (tmp_path / "data/test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gsm8k_rows(7, seed=4)))
    write_params(tmp_path, [{**source, "test": "data/test.jsonl", "validation_size": 5}],
                 [{"name": "mine", "source": "prompts"}])
    cli("prepare", "--out", "data/own_test", cwd=tmp_path)
    own = load_from_disk(str(tmp_path / "data/own_test"))
    assert {s: len(own[s]) for s in own} == {"train": 45, "test": 7, "validation": 5}
    write_params(tmp_path, [{**source, "test_size": 0.5, "validation_size": 25}])
    result = invoke("prepare", "--out", "data/three", cwd=tmp_path)
    assert "test_size and validation_size take 50 of the 50 rows" in str(result.exception)
    assert not (tmp_path / "data/three").exists()


def test_check_names_typos_at_any_depth_missing_files_and_yaml_lines(tmp_path):
    params = yaml.safe_load(TINY.read_text())
    params["prepare"]["sources"] = [{"name": "mine", "kind": "file", "train": "data/mien.jsonl",
                                     "answer_format": "gsm8k", "test_size": 0.1}]
    params["eval"]["benchmarks"] = [{"name": "mine", "source": "prompts"}]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = invoke("check", cwd=tmp_path)
    assert str(result.exception) == "params.yaml: prepare: data/mien.jsonl (mine:train) is not there"

    params["prepare"]["sources"][0]["answer_fromat"] = "gsm8k"
    params["rl_reasonng"] = params.pop("rl_reasoning")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    problems = str(invoke("check", cwd=tmp_path).exception).splitlines()
    assert problems == ["params.yaml: rl_reasonng: a section of its own, or a typo (did you mean rl_reasoning?)? "
                        "Give your own sections names unlike the built-in ones"]
    params["rl_reasoning"] = params.pop("rl_reasonng")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    problems = str(invoke("check", cwd=tmp_path).exception).splitlines()
    assert problems == ["params.yaml: prepare.sources.0.answer_fromat: unknown key (did you mean answer_format?)"]

    (tmp_path / "params.yaml").write_text("prepare:\n  seed: 0\n  sources: [\n")
    assert "params.yaml: line 4: not valid YAML" in str(invoke("check", cwd=tmp_path).exception)
