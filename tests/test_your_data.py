"""A user's own folders, files and pasted settings: nothing deleted, nothing stale, nothing other than asked.

Each test is a case a user hits after the default (issue 40): their folder given as --out, an RL section's
default paths, a full disk, a TRL alias from an open-r1 recipe, rows cut at max_length, a checkpoint missing a
tensor, values nobody means. The DVC case (a file the params name, edited) is in test_dvc.py.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml
from datasets import Dataset
from safetensors.torch import load_file, save_file

from conftest import TINY, invoke
from r1pipe import R1pipeError
from r1pipe.config import load_params, validate
from r1pipe.config.grpo import GRPOSection
from r1pipe.config.sft import ColdstartSection
from r1pipe.models import load_model
from r1pipe.training import sft


def r1pipe(*args, cwd):
    return subprocess.run([sys.executable, "-m", "r1pipe", *args], cwd=cwd, capture_output=True, text=True)


def said(proc) -> str:
    return (proc.stdout + proc.stderr).strip()


def test_a_folder_of_the_users_given_as_out_survives(tiny_dir):
    notes = tiny_dir / "userdata"
    notes.mkdir()
    (notes / "mine.jsonl").write_text('{"question": "1 + 1?", "answer": "2"}\n')
    (notes / "notes.md").write_text("my notes\n")
    proc = r1pipe("prepare", "--out", "userdata", cwd=tiny_dir)
    assert proc.returncode == 2 and said(proc).count("\n") == 0, said(proc)
    assert said(proc).startswith("error: userdata: exists and r1pipe did not write it")
    assert sorted(p.name for p in notes.iterdir()) == ["mine.jsonl", "notes.md"]
    for out in (".", "..", str(tiny_dir), str(tiny_dir.parent)):
        proc = r1pipe("prepare", "--out", out, cwd=tiny_dir)
        assert proc.returncode == 2 and "is the working directory, a folder above it" in said(proc), out
    # No hidden temporary folder left, here or above.
    assert not [*tiny_dir.rglob(".*tmp-*"), *tiny_dir.parent.glob(".*tmp-*"), *tiny_dir.parent.parent.glob(".*tmp-*")]
    assert (tiny_dir / "params.yaml").is_file()

    # r1pipe's own output of the same stage is replaced; another stage's is not.
    assert r1pipe("prepare", "--out", "data/prompts", cwd=tiny_dir).returncode == 0
    assert r1pipe("prepare", "--out", "data/prompts", cwd=tiny_dir).returncode == 0
    proc = r1pipe("base", "--out", "data/prompts", cwd=tiny_dir)
    assert proc.returncode == 2 and "exists and r1pipe's `prepare` stage wrote it" in said(proc)
    assert json.loads((tiny_dir / "data/prompts/r1pipe.json").read_text())["stage"] == "prepare"


def test_eval_refuses_an_existing_file_or_folder_it_did_not_write(tiny_dir):
    (tiny_dir / "metrics").mkdir()
    (tiny_dir / "metrics/A.json").write_text('{"mine": 1}\n')
    (tiny_dir / "metrics/B.json").mkdir()
    for out in ("metrics/A.json", "metrics/B.json"):
        proc = r1pipe("eval", "--model", "nowhere", "--out", out, cwd=tiny_dir)
        assert proc.returncode == 2 and said(proc).startswith(f"error: {out}: "), said(proc)
    assert (tiny_dir / "metrics/A.json").read_text() == '{"mine": 1}\n'


def test_each_rl_section_reads_and_writes_its_own_models(tiny_dir):
    """rl_all takes C to D and rl_zero the base to zero, by default; any other section needs both paths."""
    for section, model in [("rl_reasoning", "models/A"), ("rl_all", "models/C"), ("rl_zero", "models/base")]:
        result = invoke("grpo", "--section", section, cwd=tiny_dir)  # in-process: the R1pipeError itself
        assert isinstance(result.exception, R1pipeError), result.output
        assert str(result.exception).startswith(f"model not found: {model} "), section
    params = yaml.safe_load((tiny_dir / "params.yaml").read_text())
    params["rl_mine"] = params["rl_reasoning"]
    (tiny_dir / "params.yaml").write_text(yaml.safe_dump(params))
    result = invoke("grpo", "--section", "rl_mine", "--model", "models/A", cwd=tiny_dir)
    assert isinstance(result.exception, R1pipeError)
    assert "has no default paths" in str(result.exception) and "give --model and --out" in str(result.exception)
    from r1pipe.cli import RL_PATHS
    from r1pipe.config import section_class

    assert all(section_class(s) is GRPOSection for s in RL_PATHS)
    assert len({out for _, out in RL_PATHS.values()}) == len(RL_PATHS)  # no two sections write one model


needs_unshare = pytest.mark.skipif(shutil.which("unshare") is None,
                                   reason="needs unshare (util-linux) for a private tmpfs")


def in_tmpfs(tmp_path, size: str, fill_kb: int, command: str):
    """Run ``command`` (``$DISK`` is the tmpfs) in a private mount namespace, with ``fill_kb`` of the tmpfs taken
    by a filler file; its output, and what the disk holds after it, one path per line."""
    disk = tmp_path / "disk"
    disk.mkdir(exist_ok=True)
    script = (f"mount -t tmpfs -o size={size} tmpfs {disk} && mkdir -p {disk}/out && "
              f"head -c {fill_kb * 1024} /dev/zero > {disk}/filler; DISK={disk}; {command} 2>&1; echo rc=$?; "
              f"echo ---; cd {disk}/out && find . -mindepth 1 | sort")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                          capture_output=True, text=True, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    if "Operation not permitted" in out.split("---")[0].splitlines()[0]:
        pytest.skip("user namespaces are not allowed here")
    ran, _, left = out.partition("---\n")
    return ran.strip(), left.split()


@needs_unshare
def test_eval_onto_a_full_disk_leaves_nothing_that_looks_finished(tmp_path, tiny_model):
    """However little room is left (the metrics, samples, per-problem scores and run log are a few KB in all),
    eval either writes all four or none, and says which."""
    shutil.copy(TINY, tmp_path / "params.yaml")
    assert r1pipe("prepare", "--out", "data/prompts", cwd=tmp_path).returncode == 0
    py = shlex.quote(sys.executable)
    command = f"{py} -m r1pipe eval --model {tiny_model} --data data/prompts --out $DISK/out/m.json"
    outcomes = set()
    for fill_kb in (1024, 1020, 1016, 1008, 992, 960):  # of a 1 MB tmpfs: from no room to enough
        ran, left = in_tmpfs(tmp_path, "1m", fill_kb, command)
        visible = [p for p in left if not p.startswith("./.")]
        if ran.endswith("rc=0"):
            assert visible == ["./m.json", "./m.problems.json", "./m.run.json", "./m.samples.json"], (fill_kb, left)
            outcomes.add("written")
        else:
            assert ran.splitlines()[-1] == "rc=2", ran
            assert "no space left on device while writing" in ran and "nothing was written" in ran, ran
            assert left == [], (fill_kb, left)  # no temporary name, no work folder either
            outcomes.add("refused")
    assert outcomes == {"written", "refused"}  # both ends reached: the sizes tried span the boundary


@needs_unshare
def test_training_checks_room_for_its_save_before_it_trains(tmp_path, tiny_model):
    shutil.copy(TINY, tmp_path / "params.yaml")
    assert r1pipe("prepare", "--out", "data/prompts", cwd=tmp_path).returncode == 0
    py = shlex.quote(sys.executable)
    command = f"{py} -m r1pipe coldstart --model {tiny_model} --data data/prompts --out $DISK/out/A"
    ran, left = in_tmpfs(tmp_path, "600k", 0, command)  # the tiny model's weights alone are over 600 KB
    assert ran.splitlines()[-1] == "rc=2", ran
    assert ": nothing was trained" in ran and "MiB free" in ran and "step" not in ran.lower(), ran
    assert left == []


def test_a_pasted_gradient_checkpointing_reaches_the_trainer(tmp_path, tiny_model):
    """TRL's former name (open-r1's recipes write it) beside r1pipe's default for the new one: the user's wins."""
    section = validate("params.yaml", "coldstart", ColdstartSection, {"gradient_checkpointing": True,
                                                                      "max_steps": 1})
    rows = Dataset.from_list([{"prompt": "1 + 1?", "completion": "2"}] * 4)
    trainer = sft.build_trainer(tiny_model, rows, section, tmp_path / "work", "test")
    assert trainer.args.activation_checkpointing is True and trainer.args.gradient_checkpointing is True
    assert section.resolved()["trl"]["settings"]["activation_checkpointing"] is True
    # Without it the r1pipe default stays: off on small models.
    assert ColdstartSection().build_trl().activation_checkpointing is False


def test_rows_cut_at_max_length_are_counted_and_warned(tmp_path, tiny_model):
    def row(prompt_words: int, completion_words: int):
        return {"prompt": [{"role": "user", "content": " ".join(["1"] * prompt_words)}],
                "completion": [{"role": "assistant", "content": " ".join(["2"] * completion_words)}]}

    rows = Dataset.from_list([row(2, 3)] * 5 + [row(2, 200)] * 2 + [row(200, 3)])
    cfg = ColdstartSection(max_length=64, max_steps=1)
    trainer = sft.build_trainer(tiny_model, rows, cfg, tmp_path / "work", "test")
    counts = sft.row_counts(trainer, rows)
    kept = [len(r["input_ids"]) for r in trainer.train_dataset]
    assert counts["rows_trained"] == len(kept) == 7 and counts["rows_dropped"] == 1  # the prompt alone fills it
    assert counts["rows_truncated"] == 3 and counts["completion_tokens_cut"] > 2 * 100
    warning = sft.truncation_warning(counts, cfg)
    assert warning.startswith("3 of 8 rows (38%) are longer than max_length 64")
    assert sft.truncation_warning(counts, ColdstartSection(max_truncated_share=0.5)) is None


def test_a_checkpoint_missing_a_tensor_is_refused(tmp_path, tiny_model, monkeypatch):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    weights = load_file(broken / "model.safetensors")
    name = next(k for k in sorted(weights) if "layers.1." in k)
    del weights[name]
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(R1pipeError, match=rf"do not match its config: 1 missing \({name}\)"):
        load_model(broken)
    monkeypatch.setenv("R1PIPE_ALLOW_MISSING_WEIGHTS", "1")
    assert load_model(broken) is not None  # the rare run that means it says so
    load_model(tiny_model)  # a whole model loads


@pytest.mark.parametrize(("section", "cls", "body", "message"), [
    ("coldstart", ColdstartSection, {"max_steps": -5}, "coldstart.max_steps: -5 is negative (TRL's -1 means unset)"),
    ("rl_reasoning", GRPOSection, {"temperature": -1}, "rl_reasoning.temperature: -1 must be above 0"),
    ("rl_reasoning", GRPOSection, {"temperature": 0}, "rl_reasoning.temperature: 0 must be above 0"),
    ("coldstart", ColdstartSection, {"learning_rate": -1e-4}, "coldstart.learning_rate: -0.0001 is negative"),
    ("coldstart", ColdstartSection, {"per_device_train_batch_size": -2}, "per_device_train_batch_size: -2 is neg"),
])
def test_check_refuses_values_nobody_means(section, cls, body, message):
    with pytest.raises(R1pipeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate("params.yaml", section, cls, body)


def test_check_accepts_the_sentinels_trl_defines():
    validate("params.yaml", "coldstart", ColdstartSection, {"max_steps": -1})
    validate("params.yaml", "rl_reasoning", GRPOSection, {"top_k": 0, "temperature": 0.7})


def test_a_key_given_twice_is_refused(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("coldstart:\n  max_steps: 3\n  learning_rate: 1.0e-4\n  max_steps: 5\n")
    with pytest.raises(R1pipeError, match=r"'max_steps' is given twice \(line 4\); keep one"):
        load_params(params)
    params.write_text("coldstart:\n  max_steps: 3\ncoldstart:\n  max_steps: 5\n")
    with pytest.raises(R1pipeError, match=r"'coldstart' is given twice \(line 3\)"):
        load_params(params)


def test_rows_without_a_worked_solution_are_left_out_and_said(capsys):
    from r1pipe.data.io import sft_pairs

    rows = Dataset.from_list([{"prompt": [{"role": "user", "content": f"{i} + 1?"}], "answer": str(i + 1),
                               "solution": f"{i} + 1 = {i + 1}" if i % 4 == 0 else ""} for i in range(8)])
    pairs = sft_pairs(rows, "data/prompts")
    assert len(pairs) == 2 and pairs[1]["prompt"][0]["content"] == "4 + 1?"
    assert "data/prompts: 6 of 8 rows have no worked solution and are left out of SFT" in capsys.readouterr().err
    with pytest.raises(R1pipeError, match=r"no row has a worked solution .*columns: \{solution: <column>\}"):
        sft_pairs(rows.filter(lambda r: not r["solution"]), "data/prompts")
