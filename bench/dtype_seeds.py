"""bf16 training against float32 over seeds, on the validation split (issue #43).

Trains one stage of the default with TRL's ``bf16`` on (autocast, float32 master weights: what ``auto`` picks
on a GPU or a CPU with fast bf16 units) and off, once per seed each, through r1pipe's own commands; evaluates
every model in float32 on the 256 validation problems (so that only the training dtype differs); prints each
seed's pass@1 and the difference bf16 − float32 with its SE two ways:

- **the report's rule**: the two sides' seed-averaged per-problem scores paired over problems, each side's
  seed spread added (``report.claims.seeds_difference``);
- **paired by seed**: the mean of the per-seed differences (the same seed draws the same data order and
  initialisation on both sides) and its standard error over seeds.

    cd <an empty directory>
    python <repo>/bench/dtype_seeds.py --repo <repo> --stage coldstart --seeds 0 1 2 3 4 | tee dtype_seeds.txt

Finished runs are kept (``models/``, ``metrics/``), so a rerun picks up where a stopped one left off.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from r1pipe import hardware
from r1pipe.metrics import mean_se
from r1pipe.report.claims import seeds_difference

# What each stage trains from and on, as dvc.yaml wires it.
INPUTS = {"coldstart": ["--model", "models/base", "--data", "data/prompts"]}


def r1pipe(*args: str) -> None:
    subprocess.run(["r1pipe", *args], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="r1pipe's checkout (its params.yaml)")
    parser.add_argument("--stage", choices=sorted(INPUTS), default="coldstart")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--base", type=Path, help="an existing models/base to copy instead of `r1pipe base`")
    args = parser.parse_args()

    params = yaml.safe_load((args.repo / "params.yaml").read_text())
    params["eval"].update(benchmarks=["validation"], dtype="float32")
    for bf16 in (False, True):
        variant = {**params, args.stage: {**params[args.stage], "bf16": bf16}}
        Path(f"params-{'bf16' if bf16 else 'float32'}.yaml").write_text(yaml.safe_dump(variant, sort_keys=False))
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if not Path("models/base").is_dir():
        if args.base:
            shutil.copytree(args.base, "models/base")
        else:
            r1pipe("base", "--out", "models/base")
    if not Path("data/prompts").is_dir():
        r1pipe("prepare", "--out", "data/prompts")

    rates = hardware.gemm_rates()
    print(f"machine: {hardware.describe(rates)}; stage {args.stage}, seeds {args.seeds}", flush=True)
    scores: dict[str, dict[int, tuple[dict, dict]]] = {"float32": {}, "bf16": {}}
    for seed in args.seeds:
        for dtype in scores:
            out = Path(f"models/{args.stage}-{dtype}-{seed}")
            metrics = Path(f"metrics/{args.stage}-{dtype}-{seed}.json")
            started = time.time()
            if not metrics.is_file():
                r1pipe(args.stage, "--params", f"params-{dtype}.yaml", "--seed", str(seed), *INPUTS[args.stage],
                       "--out", str(out))
                r1pipe("eval", "--params", "params.yaml", "--model", str(out), "--data", "data/prompts", "--out",
                       str(metrics))
            bench = json.loads(metrics.read_text())["validation"]
            per = json.loads(metrics.with_name(f"{metrics.stem}.problems.json").read_text())["validation"]
            scores[dtype][seed] = (bench, per)
            print(f"seed {seed} {dtype}: pass@1 {100 * bench['pass@1']:.1f} ({time.time() - started:.0f} s)",
                  flush=True)

    print("\n| seed | float32 | bf16 | bf16 − float32 (paired over problems) |\n|---|---|---|---|")
    each = []
    for seed in args.seeds:
        (f32, per32), (b16, per16) = scores["float32"][seed], scores["bf16"][seed]
        diff, se = mean_se([per16[i] - per32[i] for i in per32])
        each.append(diff)
        print(f"| {seed} | {100 * f32['pass@1']:.1f} | {100 * b16['pass@1']:.1f} | "
              f"{100 * diff:+.1f} ± {100 * se:.1f} |")
    diff, se, kind, _ = seeds_difference([scores["bf16"][s] for s in args.seeds],
                                         [scores["float32"][s] for s in args.seeds])
    paired, paired_se = mean_se(each)
    print(f"\nbf16 − float32 over {len(args.seeds)} seeds: {100 * diff:+.1f}, SE {100 * se:.1f} ({kind}); "
          f"paired by seed: {100 * paired:+.1f}, SE {100 * paired_se:.1f}")


if __name__ == "__main__":
    main()
