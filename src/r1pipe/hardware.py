"""What the device a stage computes on can do: which device it is (a CUDA GPU, else the CPU), whether it multiplies
bf16 natively, and its measured GEMM rates.

CPUs differ 3x in float32 matrix speed, and only some have bf16 units (Intel AMX, AVX512_BF16); on the others
torch emulates bf16, far slower than float32. A GPU is another scale again (an H100 or H200 multiplies bf16 at
several hundred TFLOP/s). Times are only comparable next to the rates of the device they were taken on, so
benchmarks and run logs state them, and a share of the GEMM rate is always of the device that did the work.

``device()`` says what this process computes on: the GPU where torch sees one (the stages put their models
there), else the CPU. ``R1PIPE_DEVICE`` replaces the detection with a JSON description, for instance
``{"kind": "cuda", "model": "NVIDIA H100", "bf16": true, "gflops": {"float32": 51000, "bfloat16": 700000}}``:
the tests describe a GPU that way on a CPU machine, and a run can state rates measured elsewhere.

``gemm_rates()`` measures a square matmul once per device model, torch version and (on a CPU) thread count,
and keeps the result in ``~/.cache/r1pipe/gemm.json`` (``R1PIPE_CACHE`` to move it).

This module imports nothing from r1pipe.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from r1pipe.disk import cache_dir, write_json_atomic

# The flags with which the CPU multiplies bf16 in hardware (Linux's /proc/cpuinfo names).
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu() -> dict:
    """The CPU's model name and its bf16 flags, from /proc/cpuinfo (Linux); elsewhere the platform's name."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return {"model": name, "bf16_flags": sorted(f for f in BF16_FLAGS if f in flags), "cores": os.cpu_count()}


def bf16_native(flags) -> bool:
    """Whether a CPU with these flags multiplies bf16 in hardware."""
    return any(f in flags for f in BF16_FLAGS)


DEVICE_ENV = "R1PIPE_DEVICE"


def device() -> dict:
    """The device this process computes on: ``kind`` (``cuda`` or ``cpu``), ``model`` (the GPU's or the CPU's
    name), ``bf16`` (whether it multiplies bf16 natively) and ``bf16_flags`` (a CPU's). ``R1PIPE_DEVICE`` (a
    JSON object with at least ``kind`` and ``model``) replaces the detection; its ``gflops``, if given, are the
    device's GEMM rates and nothing is measured."""
    if given := os.environ.get(DEVICE_ENV):
        try:
            described = json.loads(given)
            kind, _ = described["kind"], described["model"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{DEVICE_ENV}: not a JSON object with 'kind' and 'model': {given!r} ({e})") from None
        if kind not in ("cuda", "cpu"):
            raise ValueError(f"{DEVICE_ENV}: kind must be 'cuda' or 'cpu', not {kind!r}")
        flags = described.get("bf16_flags", [])
        return {"bf16_flags": flags, "bf16": kind == "cuda" or bf16_native(flags), **described}
    import torch

    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        return {"kind": "cuda", "model": torch.cuda.get_device_name(index), "bf16": torch.cuda.is_bf16_supported(),
                "bf16_flags": [], "memory_gib": round(torch.cuda.get_device_properties(index).total_memory / 2**30)}
    info = cpu()
    return {"kind": "cpu", **info, "bf16": bf16_native(info["bf16_flags"])}


def resolve_dtype(setting: str, flags=None, cuda: bool | None = None, rates: dict | None = None) -> str:
    """``float32`` or ``bfloat16`` for a ``dtype`` setting. ``auto``: bf16 where the device multiplies it natively
    (``device()``: a GPU that supports it, a CPU with bf16 units) and, on a CPU, where it also multiplies bf16
    faster than float32 (its measured GEMM rates, ``gemm_rates()``); float32 elsewhere. Some CPUs with the flag
    run bf16 at half their float32 rate, and float32 is the reference path, so it is never given up for a slower
    one. ``flags``, ``cuda`` and ``rates`` (GFLOP/s by dtype) describe another device instead of this process's."""
    if setting != "auto":
        return setting
    if cuda is None and flags is None:
        info = device()
        if not info["bf16"]:
            return "float32"
        cuda, flags = info["kind"] == "cuda", info["bf16_flags"]
        if not cuda and rates is None:
            rates = gemm_rates()["gflops"]
    if cuda:
        return "bfloat16"
    if not bf16_native(flags or []):
        return "float32"
    return "bfloat16" if rates is None or rates["bfloat16"] > rates["float32"] else "float32"


def emulated_bf16(dtype: str, on_cpu: bool) -> str | None:
    """The one-line warning for bf16 asked of a CPU that emulates it, or None."""
    if dtype != "bfloat16" or not on_cpu or bf16_native(cpu()["bf16_flags"]):
        return None
    return ("warning: bf16 on this CPU is emulated (no AMX or AVX512_BF16 units): expect it many times slower than "
            "float32, which r1pipe's default picks here")


def measure_gemm(dtype: str, n: int = 2048, seconds: float = 1.0, on: str = "cpu") -> float:
    """GFLOP/s of an ``n`` x ``n`` matmul in ``dtype`` (``float32`` or ``bfloat16``) on device ``on``."""
    import torch

    def sync():
        if on != "cpu":
            torch.cuda.synchronize()

    a = torch.randn(n, n, dtype=getattr(torch, dtype), device=on)
    b = torch.randn(n, n, dtype=getattr(torch, dtype), device=on)
    a @ b  # warm-up: threads, packing buffers, the GPU's kernel choice and clocks
    sync()
    runs, start = 0, time.perf_counter()
    while runs < 2 or time.perf_counter() - start < seconds:
        a @ b
        runs += 1
        if runs % 8 == 0:
            sync()
    sync()
    return 2 * n**3 * runs / (time.perf_counter() - start) / 1e9


def gemm_rates(cache: Path | None = None) -> dict:
    """The device's description (``device()``) with its float32 and bf16 GEMM rates in GFLOP/s (``gflops``),
    measured once and cached, and ``threads`` (the CPU threads torch uses)."""
    import torch

    info = device()
    threads = torch.get_num_threads()
    if "gflops" in info:  # described with its rates
        return {"threads": threads, **info}
    cuda = info["kind"] == "cuda"
    key = f"{info['model']}|torch {torch.__version__}|" + ("cuda" if cuda else f"{threads} threads")
    path = cache or cache_dir() / "gemm.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        if cuda:  # a GPU reaches its rate only on large products (8192^2 bf16: ~790 TFLOP/s on an H200)
            known[key] = {"float32": round(measure_gemm("float32", 4096, 0.5, on="cuda"), 1),
                          "bfloat16": round(measure_gemm("bfloat16", 8192, 0.5, on="cuda"), 1)}
        else:  # emulated bf16 runs a 2048^2 matmul for minutes: a smaller one shows the rate as well
            bf16 = measure_gemm("bfloat16", n=2048 if info["bf16"] else 256, seconds=0.3)
            known[key] = {"float32": round(measure_gemm("float32"), 1), "bfloat16": round(bf16, 1)}
        try:
            write_json_atomic(path, known)
        except OSError:
            pass  # a read-only home: measured again next time
    return {**info, "threads": threads, "gflops": known[key]}


def machine(rates: dict) -> dict:
    """The run log's account of the device (``gemm_rates()``): which device did the work, and its rates."""
    return {"device": rates["kind"], "name": rates["model"], "bf16_flags": rates["bf16_flags"],
            "gemm_gflops": rates["gflops"]}


def describe(rates: dict) -> str:
    """One line for a benchmark's header or the report: the device, and its GEMM rates (``gemm_rates()``, or
    a run log's ``machine``)."""
    if "gemm_gflops" in rates:  # a run log's machine; a log written before devices were named has a "cpu"
        rates = {"kind": rates.get("device", "cpu"), "model": rates.get("name") or rates.get("cpu"),
                 "bf16_flags": rates.get("bf16_flags", []), "gflops": rates["gemm_gflops"]}
    if rates.get("kind") == "cuda":
        where = f"{rates['model']} (GPU)"
    else:
        flags = ", ".join(rates.get("bf16_flags", [])) or "no bf16 units"
        threads = f"{rates['threads']} threads, " if "threads" in rates else ""
        where = f"{rates['model']} ({threads}{flags})"
    return (f"{where}: GEMM float32 {rates['gflops']['float32']:.0f} GFLOP/s, "
            f"bf16 {rates['gflops']['bfloat16']:.0f} GFLOP/s")
