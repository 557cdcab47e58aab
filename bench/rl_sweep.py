"""How sensitive "B > A" is: rl_reasoning run from the same A with one setting changed at a time, each B
graded greedy on the same held-out problems as A, with the paired standard error of B - A.

    python bench/rl_sweep.py                                    # the variants below, from models/A
    python bench/rl_sweep.py --only lr6e-6 lr1e-5 --steps 20

Each variant is params.yaml with its changes to ``rl_reasoning``; it runs the real CLI (``r1pipe grpo``, then
``r1pipe eval``) in a scratch directory and appends one JSON line per run to ``--results``
(``bench/results/rl_sweep.jsonl`` by default), so a table of every run tried stays in the repository:
``bench/rl_experiments.md``. The paired SE is the standard error of the per-problem differences
(``metrics/eval/*.problems.json``), as in the report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# name -> changes to rl_reasoning.
VARIANTS = {
    "default": {},
    "lr6e-6": {"learning_rate": 6e-6},
    "lr1e-5": {"learning_rate": 1e-5},
    "lr6e-6 8x4": {"learning_rate": 6e-6, "num_generations": 4},
    "lr1e-5 T0.5": {"learning_rate": 1e-5, "temperature": 0.5},
    "lr6e-6 mu2": {"learning_rate": 6e-6, "num_iterations": 2},
    "lora lr1e-4": {"lora": {"r": 16, "alpha": 32}, "train_layers": None, "learning_rate": 1e-4},
}


def r1pipe(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "r1pipe"), *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode:
        sys.exit(f"r1pipe {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def problems(path: Path) -> dict[str, float]:
    return next(iter(json.loads(path.read_text()).values()))


def paired(a: dict[str, float], b: dict[str, float]) -> tuple[float, float]:
    d = [b[i] - a[i] for i in a]
    mean = sum(d) / len(d)
    return mean, math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/A", help="the cold-started model A")
    parser.add_argument("--data", default="data/prompts")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--only", nargs="*", help=f"variants to run (default: all of {', '.join(VARIANTS)})")
    parser.add_argument("--steps", type=int, help="max_steps for every variant (default: params.yaml's)")
    parser.add_argument("--results", type=Path, default=REPO / "bench/results/rl_sweep.jsonl")
    args = parser.parse_args()
    params = yaml.safe_load((REPO / args.params).read_text())
    model, data = (REPO / args.model).resolve(), (REPO / args.data).resolve()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "params.yaml").write_text(yaml.safe_dump(params))
        r1pipe("eval", "--model", str(model), "--data", str(data), "--out", "A.json", cwd=tmp)
        a = problems(tmp / "A.problems.json")
        print(f"A: pass@1 {100 * sum(a.values()) / len(a):.1f} on {len(a)} problems", flush=True)
        for name in args.only or VARIANTS:
            changes = dict(VARIANTS[name], **({"max_steps": args.steps} if args.steps else {}))
            variant = yaml.safe_load(yaml.safe_dump(params))
            variant["rl_reasoning"].update(changes)
            variant["rl_reasoning"] = {k: v for k, v in variant["rl_reasoning"].items() if v is not None}
            (tmp / "variant.yaml").write_text(yaml.safe_dump(variant))
            shutil.rmtree(tmp / "B", ignore_errors=True)
            seconds = r1pipe("grpo", "--params", "variant.yaml", "--section", "rl_reasoning", "--model", str(model),
                             "--data", str(data), "--out", "B", "--live", "live", cwd=tmp)
            r1pipe("eval", "--params", "variant.yaml", "--model", "B", "--data", str(data), "--out", "B.json",
                   cwd=tmp)
            b = problems(tmp / "B.problems.json")
            diff, se = paired(a, b)
            row = {"variant": name, "changes": changes, "A": round(100 * sum(a.values()) / len(a), 1),
                   "B": round(100 * sum(b.values()) / len(b), 1), "B-A": round(100 * diff, 1),
                   "paired_se": round(100 * se, 1), "holds": diff > 2 * se, "grpo_seconds": round(seconds)}
            print(json.dumps(row), flush=True)
            args.results.parent.mkdir(parents=True, exist_ok=True)
            with open(args.results, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
