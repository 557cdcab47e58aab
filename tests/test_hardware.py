"""What the machine can do: its bf16 flags, and its GEMM rates measured once and kept."""

import json

import pytest
import torch
import yaml

from r1pipe import hardware

# A cheap CPU whose bf16 GEMM beats its float32 (AMD Zen 4/5, Intel with AMX): where `dtype: auto` picks bf16.
FAST_BF16_CPU = {"kind": "cpu", "model": "a CPU that multiplies bf16 fast", "bf16_flags": ["avx512_bf16"],
                 "gflops": {"float32": 170.0, "bfloat16": 413.0}}


@pytest.fixture(autouse=True)
def this_machine(monkeypatch):
    """These tests are about the detection itself: a device described from outside (``R1PIPE_DEVICE``, as when
    the suite runs under a described bf16 CPU) would replace it."""
    monkeypatch.delenv(hardware.DEVICE_ENV, raising=False)


def test_bf16_counts_as_native_only_with_the_cpus_bf16_flags():
    assert hardware.bf16_native(["amx_bf16"]) and hardware.bf16_native({"avx512_bf16", "avx2"})
    assert not hardware.bf16_native(["avx2", "fma", "avx512f"])  # AVX-512 without its bf16 part emulates
    here = hardware.cpu()
    flags = open("/proc/cpuinfo").read().split()
    assert here["bf16_flags"] == sorted(f for f in hardware.BF16_FLAGS if f in flags)


def test_gemm_rates_are_measured_once_per_machine_and_kept(tmp_path):
    cache = tmp_path / "gemm.json"
    first = hardware.gemm_rates(cache)
    assert first["gflops"]["float32"] > 0 and first["gflops"]["bfloat16"] > 0
    key, = json.loads(cache.read_text())
    assert key.startswith(first["model"]) and torch.__version__ in key
    # A kept value is what the next call returns: nothing is measured again.
    cache.write_text(json.dumps({key: {"float32": 1234.5, "bfloat16": 6789.0}}))
    assert hardware.gemm_rates(cache)["gflops"] == {"float32": 1234.5, "bfloat16": 6789.0}
    assert "1234 GFLOP/s" in hardware.describe(hardware.gemm_rates(cache))


H100 = {"kind": "cuda", "model": "NVIDIA H100 80GB HBM3", "gflops": {"float32": 51000.0, "bfloat16": 700000.0}}


def test_a_described_gpu_is_the_device_its_rates_and_dtype_follow(monkeypatch, tmp_path):
    """With a GPU described (``R1PIPE_DEVICE``) on a CPU without bf16 units: ``auto`` picks bf16, the GEMM rates
    are the GPU's (nothing measured, no CPU rate in sight), and a run log's share divides by the GPU's rate."""
    from r1pipe.work import Work, work_log

    monkeypatch.setattr(hardware, "cpu", lambda: {"model": "Some CPU", "bf16_flags": [], "cores": 2})
    assert hardware.device()["kind"] == "cpu" or torch.cuda.is_available()
    if not torch.cuda.is_available():
        assert hardware.resolve_dtype("auto") == "float32"  # this CPU, as patched: no bf16 units
    monkeypatch.setenv(hardware.DEVICE_ENV, json.dumps(H100))
    assert hardware.resolve_dtype("auto") == "bfloat16"
    rates = hardware.gemm_rates(tmp_path / "gemm.json")
    assert rates["gflops"] == H100["gflops"] and not (tmp_path / "gemm.json").exists()
    assert hardware.describe(rates) == "NVIDIA H100 80GB HBM3 (GPU): GEMM float32 51000 GFLOP/s, bf16 700000 GFLOP/s"
    log = work_log(Work(flops=7e13, seconds=1.0), "bfloat16")  # 70 TFLOP/s on a 700 TFLOP/s device
    assert log["share_of_gemm"] == 0.1 and log["gflops_per_s"] == 70000.0
    assert log["machine"] == {"device": "cuda", "name": H100["model"], "bf16_flags": [],
                              "gemm_gflops": H100["gflops"]}
    assert work_log(Work(flops=5.1e12, seconds=1.0), "float32")["share_of_gemm"] == 0.1
    for bad in ("{", '{"kind": "tpu", "model": "x"}', '{"model": "x"}'):
        monkeypatch.setenv(hardware.DEVICE_ENV, bad)
        with pytest.raises(ValueError, match=hardware.DEVICE_ENV):
            hardware.device()


def test_a_stage_on_a_described_gpu_logs_and_reports_the_gpu(monkeypatch, tiny_dir):
    """The real eval stage and report under a described GPU: the run log names the GPU and its share is of the
    GPU's bf16 rate; the report's compute table is headed by the GPU, never by this CPU."""
    from conftest import cli
    from r1pipe.report.render import compute_table

    params = yaml.safe_load((tiny_dir / "params.yaml").read_text())
    params["eval"]["dtype"] = "auto"  # the tiny preset fixes float32; this test is about what auto picks
    (tiny_dir / "params.yaml").write_text(yaml.safe_dump(params))
    cli("base", "--out", "models/base", cwd=tiny_dir)
    cli("prepare", "--out", "data/prompts", cwd=tiny_dir)
    monkeypatch.setenv(hardware.DEVICE_ENV, json.dumps(H100))
    cli("eval", "--model", "models/base", "--data", "data/prompts", "--out", "metrics/eval/base.json", cwd=tiny_dir)
    cli("report", "--metrics-dir", "metrics/eval", "--models-dir", "models", "--out", "reports", cwd=tiny_dir)
    work = json.loads((tiny_dir / "metrics/eval/base.run.json").read_text())["work"]
    assert work["dtype"] == "bfloat16" and work["machine"]["device"] == "cuda"
    assert work["machine"]["name"] == H100["model"] and work["machine"]["gemm_gflops"] == H100["gflops"]
    assert work["share_of_gemm"] == round(work["gflops_per_s"] / 700000.0, 3)
    rows = json.loads((tiny_dir / "reports.run.json").read_text())["compute_by_stage"]
    table = compute_table(rows)
    assert table.startswith("On NVIDIA H100 80GB HBM3 (GPU): GEMM float32 51000 GFLOP/s")
    assert hardware.cpu()["model"] not in table


def section_dtypes(path, on_cpu: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """The dtype each section of a params file computes in on this (described) device: the training sections'
    (TRL's config as r1pipe builds it) and the generation sections' (the weights their engine loads)."""
    from r1pipe.config import load_section, section_class
    from r1pipe.config.trl import TRLSection
    from r1pipe.engines.base import generation_dtype

    trained, sampled = {}, {}
    for name in yaml.safe_load(path.read_text()):
        cls = section_class(name)
        cfg = cls and load_section(path, name, cls)  # seeds, launch: no section class
        if isinstance(cfg, TRLSection):
            trained[name] = "bfloat16" if cfg.build_trl().bf16 else "float32"
        elif hasattr(cfg, "dtype"):
            sampled[name] = generation_dtype(cfg.dtype, on_cpu=on_cpu)
    return trained, sampled


# coldstart, the five rl_* (two controls), sft, distill
TRAINING_SECTIONS = {"coldstart", "rl_reasoning", "rl_all", "rl_zero", "rl_reasoning_random", "rl_zero_random", "sft",
                     "distill"}


def test_the_tiny_chain_is_float32_whatever_auto_picks(monkeypatch):
    """The tiny preset fixes its dtype (stages/presets/tiny.yaml says why): on a CPU where `auto` picks bf16,
    every training section still builds TRL's config without bf16 and every generation section loads float32,
    so the tests of the pipeline's plumbing do not hang on what one dtype's rounding makes a random model say."""
    from conftest import TINY

    monkeypatch.setenv(hardware.DEVICE_ENV, json.dumps(FAST_BF16_CPU))
    assert hardware.resolve_dtype("auto") == "bfloat16"  # the machine described
    trained, sampled = section_dtypes(TINY)
    assert trained == dict.fromkeys(TRAINING_SECTIONS, "float32")
    assert sampled == {"reject_sample": "float32", "eval": "float32"}


@pytest.mark.parametrize("described", [FAST_BF16_CPU, H100], ids=["bf16-cpu", "gpu"])
def test_the_default_trains_and_samples_in_float32_where_auto_picks_bf16(monkeypatch, tmp_path, described):
    """bf16 autocast cost the default's cold start 2-7 points on every seed, and no part of the step kept in
    float32 closed it (bench/rl_experiments.md, #43): on a device where `auto` picks bf16, every training
    section of params.yaml and of the gpu preset builds TRL's config in float32, and reject-sample (whose samples
    become training data) loads float32; eval, measured harmless in bf16, keeps auto."""
    from conftest import REPO, runnable_here

    monkeypatch.setenv(hardware.DEVICE_ENV, json.dumps(described))
    assert hardware.resolve_dtype("auto") == "bfloat16"  # the machine described
    for path in (REPO / "params.yaml", runnable_here(REPO / "stages" / "presets" / "gpu.yaml", tmp_path)):
        trained, sampled = section_dtypes(path, on_cpu=described["kind"] == "cpu")
        assert trained == dict.fromkeys(TRAINING_SECTIONS, "float32"), path.name
        assert sampled == {"reject_sample": "float32", "eval": "bfloat16"}, path.name


def test_a_training_step_of_the_default_computes_in_float32_where_auto_picks_bf16(monkeypatch, tiny_model,
                                                                                   tmp_path):
    """The fix held in behaviour: one step of the default's coldstart settings, through r1pipe's SFT trainer, on a
    CPU described as multiplying bf16 fast. The LM head's output, which the loss reads, is float32, and autocast
    is off in the forward (under TRL's `bf16: true` the head computes in bf16)."""
    from datasets import Dataset

    from conftest import REPO
    from r1pipe.config import load_section, section_class
    from r1pipe.training.sft import build_trainer

    monkeypatch.setenv(hardware.DEVICE_ENV, json.dumps(FAST_BF16_CPU))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    section = {**params["coldstart"], "train_layers": None, "max_steps": 1, "save_steps": 0}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"coldstart": section}))
    cfg = load_section(tmp_path / "params.yaml", "coldstart", section_class("coldstart"))
    rows = Dataset.from_list([{"prompt": [{"role": "user", "content": "1 + 2?"}],
                               "completion": [{"role": "assistant", "content": "<answer>3</answer>"}]}] * 8)
    trainer = build_trainer(tiny_model, rows, cfg, tmp_path / "work", "coldstart")
    seen = []
    trainer.model.get_output_embeddings().register_forward_hook(
        lambda module, inputs, output: seen.append((output.dtype, torch.is_autocast_enabled("cpu"))))
    trainer.train()
    assert seen and set(seen) == {(torch.float32, False)}
