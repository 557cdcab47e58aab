"""Shared fixtures: the tiny preset, and the whole chain run once per session through the CLI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
# A few real rows of each benchmark, in eval.data_dir's layout (tests/data/README.md says where from).
SAMPLE_DATA = REPO / "tests" / "data"
# Whole benchmark files, beside a development checkout only; tests that need them skip without them.
SHARED_DATA = REPO.parent / "shared" / "data"
needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"needs the full benchmark files in {SHARED_DATA} (a development checkout)")
TINY = REPO / "stages" / "presets" / "tiny.yaml"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def invoke(*args: str, cwd: Path):
    """Run an r1pipe command in-process (so that a test's patches apply), in ``cwd``; CliRunner's result."""
    from r1pipe.cli import app

    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)


def cli(*args: str, cwd: Path):
    """Run an r1pipe command in-process, in ``cwd``; raise with its output if it fails."""
    result = invoke(*args, cwd=cwd)
    if result.exit_code != 0:
        message = f"r1pipe {' '.join(args)} failed ({result.exit_code}):\n{result.output}"
        raise AssertionError(message) from result.exception
    return result


def vllm_runs_here() -> bool:
    """Whether TRL's in-training vLLM can run here (else `use_vllm: true` is refused): the check `r1pipe check`
    itself makes."""
    from r1pipe.config.grpo import trl_vllm_missing

    return not trl_vllm_missing()


def runnable_here(preset: Path, tmp_path: Path) -> Path:
    """``preset`` as it is where its settings can run here; else a copy with `use_vllm` off (the gpu preset's
    GRPO sections ask for it, and `r1pipe check` refuses it without vLLM and a GPU)."""
    text = preset.read_text()
    if "use_vllm: true" not in text or vllm_runs_here():
        return preset
    copy = tmp_path / f"{preset.stem}_no_vllm.yaml"
    copy.write_text(text.replace("use_vllm: true", "use_vllm: false"))  # as text: the preset's comments stay
    assert not any((body or {}).get("use_vllm") for body in yaml.safe_load(copy.read_text()).values())
    return copy


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random two-layer model of the tiny architecture, saved once per session: for tests that build a trainer
    or load a model directly."""
    from r1pipe.config.models import TinyModel
    from r1pipe.models.tiny import build

    path = tmp_path_factory.mktemp("tiny") / "model"
    model, tok = build(TinyModel(num_layers=2, hidden_size=64, intermediate_size=64), seed=0)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    shutil.copy(TINY, tmp_path / "params.yaml")
    return tmp_path


# The chain of commands dvc.yaml runs, in order (eval runs per model).
CHAIN = [
    ("base", "--out", "models/base"),
    ("prepare", "--out", "data/prompts"),
    ("coldstart", "--model", "models/base", "--data", "data/prompts", "--out", "models/A"),
    ("grpo", "--section", "rl_reasoning", "--model", "models/A", "--data", "data/prompts", "--out", "models/B",
     "--live", "dvclive/rl_reasoning"),
    ("reject-sample", "--model", "models/B", "--data", "data/prompts", "--out", "data/sft",
     "--metrics", "metrics/reject_sample.json"),
    ("sft", "--model", "models/base", "--data", "data/sft", "--out", "models/C"),
    ("grpo", "--section", "rl_all", "--model", "models/C", "--data", "data/prompts", "--out", "models/D",
     "--live", "dvclive/rl_all"),
    ("base", "--section", "base_student", "--out", "models/base_student"),
    ("distill", "--student", "models/base_student", "--data", "data/sft", "--out", "models/student"),
    ("grpo", "--section", "rl_zero", "--model", "models/base", "--data", "data/prompts", "--out", "models/zero",
     "--live", "dvclive/rl_zero"),
    ("grpo", "--section", "rl_reasoning", "--seed", "1", "--model", "models/A", "--data", "data/prompts",
     "--out", "models/seeds/B-1", "--live", "dvclive/seeds/B-1"),
    ("grpo", "--section", "rl_all", "--seed", "1", "--model", "models/C", "--data", "data/prompts",
     "--out", "models/seeds/D-1", "--live", "dvclive/seeds/D-1"),
    ("grpo", "--section", "rl_zero", "--seed", "1", "--model", "models/base", "--data", "data/prompts",
     "--out", "models/seeds/zero-1", "--live", "dvclive/seeds/zero-1"),
    *[("eval", "--model", f"models/{m}", "--data", "data/prompts", "--out", f"metrics/eval/{m}.json")
      for m in ["base", "A", "B", "C", "D", "zero", "student"]],
    *[("eval", "--model", f"models/seeds/{m}-1", "--data", "data/prompts", "--out", f"metrics/seeds/{m}-1.json")
      for m in ("B", "D", "zero")],
    ("report", "--metrics-dir", "metrics/eval", "--seeds-dir", "metrics/seeds", "--models-dir", "models",
     "--live-dir", "dvclive", "--out", "reports", "--metrics", "metrics/report.json"),
]


@pytest.fixture(scope="session")
def chain(tmp_path_factory) -> Path:
    """A directory in which every command of the chain has run once on the tiny preset."""
    root = tmp_path_factory.mktemp("chain")
    shutil.copy(TINY, root / "params.yaml")
    for args in CHAIN:
        cli(*args, cwd=root)
    return root
