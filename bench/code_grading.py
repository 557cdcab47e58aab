"""Grading throughput of the code reward on the reference solutions of MBPP and HumanEval, today's harness against
an earlier revision's (by default the one before #31, whose harness ran the tests in the completion's own
interpreter), in the same run, alternating, each grading every reference solution with the same settings.

    python bench/code_grading.py [--before f879d69] [--rounds 2] [--step 1]

Prints completions per second for each side and round, the ratio, and how many solutions each scored 1.0
(the agreement). Needs ../shared/data/code and a sandbox (user namespaces).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "code"
sys.path.insert(0, str(REPO / "src"))

from r1pipe import hardware  # noqa: E402
from r1pipe.rewards import code as today  # noqa: E402


def module_at(revision: str):
    source = subprocess.run(["git", "show", f"{revision}:src/r1pipe/rewards/code.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "code_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("code_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(step: int) -> list[tuple[str, object, str | None, str]]:
    """(completion, tests, entry point, setup) for every ``step``-th reference solution of both sets."""
    with gzip.open(DATA / "HumanEval.jsonl.gz", "rt") as f:
        humaneval = [json.loads(line) for line in f][::step]
    mbpp = [json.loads(line) for line in (DATA / "mbpp.jsonl").read_text().splitlines()][::step]
    fence = "```python\n{}\n```".format
    return ([(fence(p["prompt"] + p["canonical_solution"]), p["test"], p["entry_point"], "") for p in humaneval]
            + [(fence(p["code"]), p["test_list"], None, p["test_setup_code"]) for p in mbpp])


def grade(module, batch) -> tuple[float, int]:
    start = time.perf_counter()
    scores = module.grade_code([b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch],
                               [b[3] for b in batch], timeout=30, mode="binary")
    return len(batch) / (time.perf_counter() - start), int(sum(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="f879d69")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--step", type=int, default=1)
    args = parser.parse_args()
    before = module_at(args.before)
    batch = rows(args.step)
    print(hardware.describe(hardware.gemm_rates()))
    print(f"{len(batch)} reference solutions (HumanEval and MBPP, every {args.step}), 30 s deadline, binary")
    rates = {"before": [], "today": []}
    for r in range(args.rounds):
        for name, module in (("before", before), ("today", today)):
            rate, passed = grade(module, batch)
            rates[name].append(rate)
            print(f"round {r + 1} {name:6s} ({args.before if name == 'before' else 'working tree'}): "
                  f"{rate:.1f} completions/s, {passed}/{len(batch)} scored 1.0")
    best = {k: max(v) for k, v in rates.items()}
    print(f"best: before {best['before']:.1f}/s, today {best['today']:.1f}/s, today/before "
          f"{best['today'] / best['before']:.2f}")


if __name__ == "__main__":
    main()
