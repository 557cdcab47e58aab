"""Speed-up of 2 processes over 1 on this machine, for SFT (coldstart) and for reject-sample.

Each stage runs twice through the real CLI on the default's settings: once as one process (``r1pipe``),
once as two (SFT: ``accelerate launch --config_file accelerate/cpu.yaml``, with the per-device batch
halved so the global batch and the steps are the same; reject-sample: ``torchrun --nproc_per_node 2``,
whose output is byte-identical). Times are the stages' own (``<out>.run.json``: model loading, work and
writing, not the interpreter's start), and the wall time of the whole command beside them.

    python bench/scale_out.py                       # models/base and data/prompts (`dvc repro prepare`)
    python bench/scale_out.py --prompts 64 --samples 96

On a machine with more cores than processes, or GPUs, the ratio is what data parallelism gives; on a
2-core laptop each process gets one core, so the ratio shows what is left after the processes' overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(cmd: list[str], cwd: Path, out: str) -> tuple[float, float]:
    """(the stage's own seconds, the command's wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    log = Path(cwd) / (out[: -len(".json")] if out.endswith(".json") else out)
    return json.loads(log.with_name(log.name + ".run.json").read_text())["seconds"], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/base")
    parser.add_argument("--data", default="data/prompts")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prompts", type=int, default=128, help="reject-sample prompts")
    parser.add_argument("--samples", type=int, default=160, help="coldstart rows (the default's 160)")
    args = parser.parse_args()

    params = yaml.safe_load((REPO / args.params).read_text())
    params["reject_sample"]["max_prompts"] = args.prompts
    params["reject_sample"]["filters"] = []  # keep every sample: the base model gets few right; time is generation
    params["coldstart"]["max_samples"] = args.samples
    half = yaml.safe_load(yaml.safe_dump(params))
    half["coldstart"]["per_device_train_batch_size"] = params["coldstart"]["per_device_train_batch_size"] // 2
    port = "29517"
    one_proc = [str(BIN / "r1pipe")]
    sft_two = [str(BIN / "accelerate"), "launch", "--config_file", str(REPO / "accelerate/cpu.yaml"),
               "--main_process_port", port, "-m", "r1pipe"]
    gen_two = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", port, "-m", "r1pipe"]
    model, data = str((REPO / args.model).resolve()), str((REPO / args.data).resolve())

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "one.yaml").write_text(yaml.safe_dump(params))
        (tmp / "two.yaml").write_text(yaml.safe_dump(half))
        runs = {
            "coldstart": [
                (one_proc, "one.yaml", "models/A1"), (sft_two, "two.yaml", "models/A2")],
            "reject-sample": [
                (one_proc, "one.yaml", "sft1"), (gen_two, "one.yaml", "sft2")],
        }
        print(f"{'stage':<14} {'1 process s':>12} {'2 processes s':>14} {'speed-up':>9} {'wall 1':>8} {'wall 2':>8}")
        for stage, (first, second) in runs.items():
            times = []
            for launcher, p, out in (first, second):
                if stage == "coldstart":
                    cmd = [*launcher, stage, "--params", p, "--model", model, "--data", data, "--out", out]
                else:
                    cmd = [*launcher, stage, "--params", p, "--model", model, "--data", data, "--out", out,
                           "--metrics", f"{out}.json"]
                times.append(timed(cmd, tmp, out))
            (s1, w1), (s2, w2) = times
            print(f"{stage:<14} {s1:>12.1f} {s2:>14.1f} {s1 / s2:>8.2f}x {w1:>8.1f} {w2:>8.1f}", flush=True)
        same = all((tmp / "sft1" / f.name).read_bytes() == f.read_bytes() for f in (tmp / "sft2").iterdir()
                   if f.is_file())
        print(f"reject-sample output byte-identical across process counts: {same}")


if __name__ == "__main__":
    main()
