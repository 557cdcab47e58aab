"""B against its random-reward control over seeds, on the validation split (issue #46).

From one A, trains ``rl_reasoning`` (the accuracy and format rewards) and ``rl_reasoning_random`` (the same
settings, accuracy replaced by a coin of its mean: params.yaml says which) once per seed each, through r1pipe's
own commands; evaluates every model on the 256 validation problems; prints each seed's pass@1 and, by the
report's rule (the sides' seed averages paired over problems, each side's seed spread added), B − A,
B_random − A and B − B_random: the part of RL's gain that the reward, not the training, explains.

    cd <a directory with params.yaml (eval on validation), data/prompts and an A>
    python <repo>/bench/random_control.py --model models/A --seeds 0 1 2 | tee random_control.txt

Finished runs are kept (``models/``, ``metrics/``), so a rerun picks up where a stopped one left off.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dtype_seeds import r1pipe  # this directory's: run as a script, bench/ is on the path

from r1pipe import hardware
from r1pipe.report.claims import seeds_difference

SECTIONS = ("rl_reasoning", "rl_reasoning_random")


def scores(metrics: Path) -> tuple[dict, dict]:
    bench = json.loads(metrics.read_text())["validation"]
    return bench, json.loads(metrics.with_name(f"{metrics.stem}.problems.json").read_text())["validation"]


def evaluated(model: Path, metrics: Path) -> tuple[dict, dict]:
    if not metrics.is_file():
        r1pipe("eval", "--params", "params.yaml", "--model", str(model), "--data", "data/prompts", "--out",
               str(metrics))
    return scores(metrics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the A both arms start from")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    print(f"machine: {hardware.describe(hardware.gemm_rates())}; from {args.model}, seeds {args.seeds}", flush=True)
    parent = [evaluated(args.model, Path(f"metrics/{args.model.name}.json"))]
    runs: dict[str, list] = {section: [] for section in SECTIONS}
    for seed in args.seeds:
        for section in SECTIONS:
            out, metrics = Path(f"models/{section}-{seed}"), Path(f"metrics/{section}-{seed}.json")
            started = time.time()
            if not metrics.is_file():
                r1pipe("grpo", "--params", "params.yaml", "--section", section, "--seed", str(seed), "--model",
                       str(args.model), "--data", "data/prompts", "--out", str(out), "--live", f"dvclive/{out.name}")
            runs[section].append(evaluated(out, metrics))
            log = json.loads(Path(f"{out}.run.json").read_text())
            print(f"{section} seed {seed}: pass@1 {100 * runs[section][-1][0]['pass@1']:.1f}; warning: "
                  f"{log.get('warning')}; {time.time() - started:.0f} s here, {log['seconds']:.0f} s training",
                  flush=True)

    print(f"\nA ({args.model}): pass@1 {100 * parent[0][0]['pass@1']:.1f}")
    print("\n| comparison | Δ pass@1 | SE (the report's rule) | seeds (left and right) |\n|---|---|---|---|")
    for name, left, right in (("B − A", runs["rl_reasoning"], parent),
                              ("B_random − A", runs["rl_reasoning_random"], parent),
                              ("B − B_random", runs["rl_reasoning"], runs["rl_reasoning_random"])):
        diff, se, kind, _ = seeds_difference(left, right)
        print(f"| {name} | {100 * diff:+.1f} | {100 * se:.1f} | {len(left)} and {len(right)} ({kind}) |")


if __name__ == "__main__":
    main()
