import subprocess
import sys

import pytest
import yaml

from conftest import TINY
from r1pipe import R1pipeError
from r1pipe.config import (
    SECTIONS,
    ColdstartSection,
    GRPOSection,
    load_params,
    load_section,
)


def write(tmp_path, data) -> str:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def tiny_with(tmp_path, section, **changes):
    data = yaml.safe_load(TINY.read_text())
    data[section].update(changes)
    return write(tmp_path, data)


def test_every_preset_section_validates():
    raw = load_params(TINY)
    assert set(raw) == set(SECTIONS)
    for name in raw:
        assert load_section(TINY, name, SECTIONS[name]).seed == 0


@pytest.mark.parametrize(
    "section, changes, message",
    [
        ("coldstart", {"lr": 0.1}, "params.yaml: coldstart.lr: unknown key"),
        ("coldstart", {"learning_rate": "fast"}, "coldstart.learning_rate: Input should be a valid number"),
        ("coldstart", {"learning_rate": -1.0}, "coldstart.learning_rate: Input should be greater than 0"),
        ("rl_reasoning", {"rewards": {"acuracy": 1.0}}, "rl_reasoning.rewards: Value error, unknown reward 'acuracy'"),
        ("eval", {"top_p": 1.5}, "params.yaml: eval.top_p: Input should be less than or equal to 1"),
        ("base", {"tiny": {"hidden": 3}}, "params.yaml: base.tiny.hidden: unknown key"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, section, changes, message):
    path = tiny_with(tmp_path, section, **changes)
    with pytest.raises(R1pipeError) as e:
        load_section(path, "coldstart", ColdstartSection)
    assert str(e.value).endswith(message) or message in str(e.value)
    assert str(path) in str(e.value)


def test_unknown_section_and_missing_file(tmp_path):
    data = yaml.safe_load(TINY.read_text())
    data["coldstat"] = {"seed": 1}
    with pytest.raises(R1pipeError, match="coldstat: unknown section"):
        load_params(write(tmp_path, data))
    with pytest.raises(R1pipeError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_extra_rl_sections_are_grpo_sections(tmp_path):
    data = yaml.safe_load(TINY.read_text())
    data["rl_zero"] = {"seed": 3, "max_steps": 2}
    path = write(tmp_path, data)
    assert load_section(path, "rl_zero", GRPOSection).seed == 3
    with pytest.raises(R1pipeError, match="is a GRPOSection section"):
        load_section(path, "rl_zero", ColdstartSection)


def test_cli_config_error_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = tiny_with(tmp_path, "coldstart", lr=0.1)
    proc = subprocess.run(
        [sys.executable, "-m", "r1pipe", "coldstart", "--params", str(path), "--out", str(tmp_path / "A")],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 2
    out = (proc.stdout + proc.stderr).strip()
    assert "Traceback" not in out
    assert out.splitlines() == [f"error: {path}: coldstart.lr: unknown key"]
    assert not (tmp_path / "A").exists()


def test_cli_missing_task_file_is_one_line_and_writes_nothing(tmp_path):
    data = yaml.safe_load(TINY.read_text())
    data["prepare"]["sources"] = [{"name": "gsm8k", "kind": "file", "train": "nope/train.jsonl"}]
    write(tmp_path, data)
    proc = subprocess.run([sys.executable, "-m", "r1pipe", "prepare", "--out", "data/prompts"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert (proc.stdout + proc.stderr).strip() == "error: task file not found: nope/train.jsonl"
    assert not (tmp_path / "data").exists()
