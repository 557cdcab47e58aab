import subprocess
import sys

import pytest
import yaml

from conftest import REPO, TINY, invoke, runnable_here, vllm_runs_here
from r1pipe import R1pipeError
from r1pipe.config import SECTIONS, load_params, load_section, section_class
from r1pipe.config.grpo import GRPOSection
from r1pipe.config.sft import ColdstartSection
from r1pipe.registries import section_checks


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
        cls = section_class(name)
        assert load_section(TINY, name, cls, section_checks(cls)).seed == 0


@pytest.mark.parametrize(
    "section, changes, message",
    [
        ("coldstart", {"lr": 0.1}, "params.yaml: coldstart.lr: unknown key"),
        ("coldstart", {"learning_rate": "fast"}, "coldstart.learning_rate: Input should be a valid number"),
        ("rl_reasoning", {"learning_rate": -1e-5}, "rl_reasoning.learning_rate: -1e-05 is negative"),
        ("rl_reasoning", {"rewards": {"acuracy": 1.0}}, "rl_reasoning.rewards: unknown reward 'acuracy'"),
        ("reject_sample", {"filters": ["grammar"]}, "reject_sample.filters: unknown filter 'grammar'"),
        ("eval", {"benchmarks": ["gsm9k"]}, "eval.benchmarks: gsm9k: not a ready-made benchmark"),
        ("eval", {"top_p": 1.5}, "params.yaml: eval.top_p: Input should be less than or equal to 1"),
        ("base", {"tiny": {"hidden": 3}}, "params.yaml: base.tiny.hidden: unknown key"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, section, changes, message):
    path = tiny_with(tmp_path, section, **changes)
    cls = section_class(section)
    with pytest.raises(R1pipeError) as e:
        load_section(path, section, cls, section_checks(cls))
    assert str(e.value).endswith(message) or message in str(e.value)
    assert str(path) in str(e.value)
    # A stage reads only its own section; `r1pipe check` reads them all.
    assert load_section(path, "coldstart" if section != "coldstart" else "sft", ColdstartSection
                        if section != "coldstart" else section_class("sft"))
    result = invoke("check", "--params", str(path), cwd=tmp_path)  # in-process; the CLI's exit 2 is this error
    assert isinstance(result.exception, R1pipeError) and message in str(result.exception)


def test_check_accepts_the_default_and_every_preset(tmp_path):
    """The gpu preset asks for TRL's vLLM, which `check` refuses where vLLM or a GPU is missing: there it is
    checked with that setting off, and `check` on it as it is names only that setting."""
    gpu = REPO / "stages/presets/gpu.yaml"
    presets = [REPO / "params.yaml", TINY, runnable_here(gpu, tmp_path)]
    if not vllm_runs_here():
        proc = subprocess.run([sys.executable, "-m", "r1pipe", "check", "--params", str(gpu)],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and "rl_reasoning.use_vllm: true, but" in proc.stderr
    for path in presets:
        result = invoke("check", "--params", str(path), cwd=REPO)  # the presets name files of the project
        assert result.exit_code == 0, result.output
        assert "every section is valid" in result.output


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
    assert out.splitlines() == [f"error: {path}: coldstart.lr: unknown key (did you mean learning_rate?): neither "
                                "r1pipe's nor a field of TRL's SFTConfig"]
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


def test_explain_gives_every_key_of_the_default_params_a_real_default():
    """`r1pipe check --explain SECTION.KEY`, for r1pipe's own keys and TRL's, never prints pydantic's sentinel."""
    raw = load_params(REPO / "params.yaml")
    keys = [(name, key) for name, body in raw.items() for key in (body or {})]
    keys += [(name, key) for name in raw for key in section_class(name).model_fields]  # the ones params leave out
    assert len(keys) > 50
    for name, key in keys:
        text = section_class(name).explain(key)
        assert "Undefined" not in text and "unknown key" not in text, (name, key, text)
        assert "default" in text.lower(), (name, key, text)
    assert "Default: {'accuracy': 1.0, 'format': 0.5}" in GRPOSection.explain("rewards")


def test_use_vllm_where_it_cannot_run_stops_before_any_model_loads(tmp_path):
    """No vLLM or no GPU here: `check` and `grpo` both stop with one line naming the key. The model named does
    not exist, so a run that got as far as loading it would say so instead."""
    if vllm_runs_here():
        pytest.skip("vLLM and a GPU are both here: use_vllm can run")
    params = tiny_with(tmp_path, "rl_reasoning", use_vllm=True)
    for args in (["check", "--params", str(params)],
                 ["grpo", "--params", str(params), "--section", "rl_reasoning", "--model", str(tmp_path / "none"),
                  "--data", str(tmp_path / "none"), "--out", str(tmp_path / "out")]):
        proc = subprocess.run([sys.executable, "-m", "r1pipe", *args], capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert "rl_reasoning.use_vllm: true, but" in lines[0] and "set use_vllm: false" in lines[0]
