"""What this machine's CPU can do: its model, whether it multiplies bf16 natively, and its measured GEMM rates.

Machines differ 3x in float32 matrix speed, and only some have bf16 units (Intel AMX, AVX512_BF16); on
the others torch emulates bf16, far slower than float32. Times are only comparable next to the rates
of the machine they were taken on, so benchmarks and run logs state them.

``gemm_rates()`` measures a square matmul once per machine, torch version and thread count, and keeps the
result in ``~/.cache/r1pipe/gemm.json`` (``R1PIPE_CACHE`` to move it).

This module imports nothing from r1pipe.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

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


def resolve_dtype(setting: str, flags=None, cuda: bool | None = None) -> str:
    """``float32`` or ``bfloat16`` for a ``dtype`` setting. ``auto``: bf16 where the hardware multiplies it natively
    (a GPU that supports it, a CPU with these ``flags``, this CPU's unless given), float32 elsewhere."""
    if setting != "auto":
        return setting
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return "bfloat16" if cuda or bf16_native(cpu()["bf16_flags"] if flags is None else flags) else "float32"


def emulated_bf16(dtype: str, on_cpu: bool) -> str | None:
    """The one-line warning for bf16 asked of a CPU that emulates it, or None."""
    if dtype != "bfloat16" or not on_cpu or bf16_native(cpu()["bf16_flags"]):
        return None
    return ("warning: bf16 on this CPU is emulated (no AMX or AVX512_BF16 units): expect it many times slower than "
            "float32, which r1pipe's default picks here")


def measure_gemm(dtype: str, n: int = 2048, seconds: float = 1.0) -> float:
    """GFLOP/s of an ``n`` x ``n`` matmul in ``dtype`` (``float32`` or ``bfloat16``) on the CPU."""
    import torch

    a = torch.randn(n, n, dtype=getattr(torch, dtype))
    b = torch.randn(n, n, dtype=getattr(torch, dtype))
    a @ b  # warm-up: threads, packing buffers
    runs, start = 0, time.perf_counter()
    while runs < 2 or time.perf_counter() - start < seconds:
        a @ b
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - start) / 1e9


def gemm_rates(cache: Path | None = None) -> dict:
    """This machine's CPU and its float32 and bf16 GEMM rates (GFLOP/s), measured once and cached."""
    import torch

    info = cpu()
    key = f"{info['model']}|torch {torch.__version__}|{torch.get_num_threads()} threads"
    path = cache or Path(os.environ.get("R1PIPE_CACHE", Path.home() / ".cache" / "r1pipe")) / "gemm.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        # Emulated bf16 runs a 2048^2 matmul for minutes: a smaller one shows the rate as well.
        bf16 = measure_gemm("bfloat16", n=2048 if bf16_native(info["bf16_flags"]) else 256, seconds=0.3)
        known[key] = {"float32": round(measure_gemm("float32"), 1), "bfloat16": round(bf16, 1)}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            tmp.write_text(json.dumps(known, indent=2, sort_keys=True))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home: measured again next time
    return {**info, "threads": torch.get_num_threads(), "gflops": known[key]}


def describe(rates: dict) -> str:
    """One line for a benchmark's header."""
    flags = ", ".join(rates["bf16_flags"]) or "no bf16 units"
    return (f"{rates['model']} ({rates['threads']} threads, {flags}): GEMM 2048^2 float32 "
            f"{rates['gflops']['float32']:.0f} GFLOP/s, bf16 {rates['gflops']['bfloat16']:.0f} GFLOP/s")
