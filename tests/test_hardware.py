"""What the machine can do: its bf16 flags, and its GEMM rates measured once and kept."""

import json

import torch

from r1pipe import hardware


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
