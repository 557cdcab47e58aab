"""How far a stage's model moves with its seed alone, on the validation split (issue #46).

Trains the default's chain up to ``data/sft`` once (A, B, reject-sample: seed 0, as ``dvc repro`` does), then
each stage named by ``--stages`` once per seed through r1pipe's own commands, the way ``seeds.coldstart`` /
``seeds.sft`` / ``seeds.distill`` run them in dvc.yaml; evaluates every model on the 256 validation problems
in float32; prints each seed's pass@1, each stage's mean and standard deviation over seeds, and, by the report's
rule (both sides' seed averages paired over problems, each side's seed spread added), the claims whose two
sides both have seeds here: A > base, C ≥ A, student ≥ base_student.

    cd <an empty directory>
    python <repo>/bench/stage_seeds.py --repo <repo> --seeds 0 1 2 | tee stage_seeds.txt

Finished runs are kept (``models/``, ``data/``, ``metrics/``), so a rerun picks up where a stopped one left off.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import random_control  # this directory's: run as a script, bench/ is on the path
import yaml
from dtype_seeds import r1pipe

from r1pipe import hardware
from r1pipe.report.claims import seeds_difference

# What each seeded stage trains from and on, and the model it is named as, as dvc.yaml wires them.
STAGES = {
    "coldstart": ("A", ["--model", "models/base", "--data", "data/prompts"]),
    "sft": ("C", ["--model", "models/base", "--data", "data/sft"]),
    "distill": ("student", ["--student", "models/base_student", "--data", "data/sft"]),
}
CLAIMS = [("A", "base", "A > base"), ("C", "A", "C ≥ A"), ("student", "base_student", "student ≥ base_student")]


def chain_to_sft() -> None:
    """models/base, data/prompts, A, B and data/sft, each once, as dvc.yaml's default stages make them."""
    steps = [
        ("models/base", ["base", "--out", "models/base"]),
        ("models/base_student", ["base", "--section", "base_student", "--out", "models/base_student"]),
        ("data/prompts", ["prepare", "--out", "data/prompts"]),
        ("models/A", ["coldstart", "--model", "models/base", "--data", "data/prompts", "--out", "models/A"]),
        ("models/B", ["grpo", "--section", "rl_reasoning", "--model", "models/A", "--data", "data/prompts",
                      "--out", "models/B", "--live", "dvclive/rl_reasoning"]),
        ("data/sft", ["reject-sample", "--model", "models/B", "--data", "data/prompts", "--out", "data/sft",
                      "--metrics", "metrics/reject_sample.json"]),
    ]
    for out, command in steps:
        if not Path(out).is_dir():
            started = time.time()
            r1pipe(*command)
            print(f"{out}: {time.time() - started:.0f} s", flush=True)


def evaluated(model: str) -> tuple[dict, dict]:
    """The model's validation metrics and per-problem scores (random_control's eval, kept under metrics/)."""
    return random_control.evaluated(Path(model), Path(f"metrics/{model.replace('/', '_')}.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="r1pipe's checkout (its params.yaml)")
    parser.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=["coldstart", "sft", "distill"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    params = yaml.safe_load((args.repo / "params.yaml").read_text())
    params["eval"].update(benchmarks=["validation"], dtype="float32")
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    print(f"machine: {hardware.describe(hardware.gemm_rates())}; stages {args.stages}, seeds {args.seeds}",
          flush=True)
    chain_to_sft()

    runs: dict[str, list[tuple[dict, dict]]] = {"base": [evaluated("models/base")],
                                                "base_student": [evaluated("models/base_student")]}
    for stage in args.stages:
        name, inputs = STAGES[stage]
        runs[name] = []
        for seed in args.seeds:
            out = f"models/{name}" if seed == params[stage]["seed"] else f"models/seeds/{name}-{seed}"
            started = time.time()
            if not Path(out).is_dir():
                r1pipe(stage, "--seed", str(seed), *inputs, "--out", out)
            runs[name].append(evaluated(out))
            print(f"{name} seed {seed}: pass@1 {100 * runs[name][-1][0]['pass@1']:.1f} "
                  f"({time.time() - started:.0f} s with its eval)", flush=True)

    print("\n| model | seeds | pass@1 each | mean | SD over seeds |\n|---|---|---|---|---|")
    for name, sides in runs.items():
        each = [100 * bench["pass@1"] for bench, _ in sides]
        sd = f"{statistics.stdev(each):.1f}" if len(each) > 1 else "-"
        print(f"| {name} | {len(each)} | {', '.join(f'{x:.1f}' for x in each)} | {statistics.mean(each):.1f} | {sd} |")
    print("\n| claim | difference | SE | how |\n|---|---|---|---|")
    for better, worse, claim in CLAIMS:
        if better in runs and worse in runs:
            diff, se, kind, _ = seeds_difference(runs[better], runs[worse])
            print(f"| {claim} | {100 * diff:+.1f} | {100 * se:.1f} | {kind} |")


if __name__ == "__main__":
    main()
