"""The default chain, stage by stage, on a machine that may have no DVC (the lent GPU machine): each stage's own
command from ``dvc.yaml``, timed and counted, with one line per stage written as it finishes.

Two steps, so that the plan comes from DVC itself and the GPU's minutes go to the run:

    python bench/gpu_default.py plan .gpu/plan.txt     # where DVC is: `dvc repro --dry --force`'s commands
    python bench/gpu_default.py run --plan .gpu/plan.txt --out OUT

``run`` runs every stage of the plan in an order DVC would accept (each eval right after the model it grades,
the extra seeds last, the report at the end), skips a stage that ``OUT/stages.tsv`` already records as done (a
rerun after a command was cut off at its limit goes on where it stopped), and after each stage appends to
``OUT/stages.tsv``: the stage, its exit code and wall seconds, and from its run log the seconds, TFLOP,
achieved TFLOP/s, dtype, device and the share of the device's GEMM rate in that dtype. ``OUT/chain.log`` has
every stage's output; ``OUT/summary.json`` is rewritten after each stage (pass@1 so far, the device, the
stage lines), and at the end the report is copied to ``OUT/report.md`` and ``OUT/report.json``.

``bench/gpu_default.sh`` wraps it for the GPU machine (installing the wheels brought along, rebuilding the
base model from the GGUF brought along). It imports nothing from r1pipe, so a broken install still reports.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = ["stage", "rc", "wall_s", "stage_s", "tflop", "tflop_per_s", "dtype", "device", "share_of_gemm"]


def plan(path: Path) -> None:
    """Every stage of dvc.yaml with its command, in DVC's order, as ``name<TAB>command`` lines."""
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", "--dry", "--force"], capture_output=True, text=True,
                          check=True)
    lines, name = [], None
    for line in done.stdout.splitlines():
        if line.startswith("Running stage '"):
            name = line.split("'")[1]
        elif line.startswith("> ") and name:
            lines.append(f"{name}\t{line[2:]}")
            name = None
    if not lines:
        raise SystemExit(f"dvc repro --dry printed no stage:\n{done.stdout}{done.stderr}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} stages -> {path}")


def output_of(command: str) -> Path | None:
    words = shlex.split(command)
    return Path(words[words.index("--out") + 1]) if "--out" in words else None


def run_log(out: Path) -> Path:
    """r1pipe's run log beside an output (``manifest.run_log_path``, written out: this script imports no r1pipe)."""
    return out.with_name(f"{out.stem if out.suffix == '.json' else out.name}.run.json")


def inputs_of(command: str) -> set[str]:
    words = shlex.split(command)
    return {words[i + 1] for i, w in enumerate(words[:-1]) if w in ("--model", "--data", "--student")}


def order(stages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """DVC's order, with each eval moved up to just after the stages that write what it reads, the extra seeds
    (and their evals) after the main chain, and the report last: still a topological order of dvc.yaml."""
    evals = [s for s in stages if s[0].startswith("eval")]
    main = [s for s in stages if not s[0].startswith(("eval", "report")) and "_seed" not in s[0]]
    seeds = [s for s in stages if "_seed" in s[0] and not s[0].startswith("eval")]
    written = {str(output_of(cmd)) for _, cmd in stages}
    ordered, produced = [], set()
    for stage in main + seeds:
        ordered.append(stage)
        produced.add(str(output_of(stage[1])))
        ready = [e for e in evals if inputs_of(e[1]) & written <= produced]
        ordered += ready
        evals = [e for e in evals if e not in ready]
    return ordered + evals + [s for s in stages if s[0].startswith("report")]


def line_of(name: str, rc: int, wall: float, out: Path | None) -> dict:
    row = {"stage": name, "rc": rc, "wall_s": round(wall, 1)}
    # A failed stage writes no run log; the one there may be a committed run's from another machine.
    log = json.loads(run_log(out).read_text()) if rc == 0 and out is not None and run_log(out).is_file() else {}
    work = log.get("work") or {}
    row["stage_s"] = log.get("seconds")
    if "tflop" in work:
        machine = work.get("machine", {})
        rate = machine.get("gemm_gflops", {}).get(work.get("dtype") or "float32")
        row.update(tflop=work["tflop"], tflop_per_s=round(work["gflops_per_s"] / 1e3, 3), dtype=work.get("dtype"),
                   device=f"{machine.get('device', 'cpu')}: {machine.get('name') or machine.get('cpu')}",
                   share_of_gemm=work.get("share_of_gemm"), gemm_tflop_per_s=rate and round(rate / 1e3, 1))
    return row


def summary(rows: list[dict], outputs: dict[str, Path], out_dir: Path) -> None:
    """``OUT/summary.json``: the stage lines, and pass@1 of each eval this run wrote (not a checkout's committed
    metrics)."""
    passed = {}
    for row in rows:
        path = outputs.get(row["stage"])
        if row["stage"].startswith("eval") and row["rc"] == 0 and path is not None and path.is_file():
            first = next(iter(json.loads(path.read_text()).values()))
            passed[str(path)] = round(100 * first["pass@1"], 2)
    tmp = out_dir / ".summary.json"
    tmp.write_text(json.dumps({"stages": rows, "pass@1": passed}, indent=1))
    tmp.replace(out_dir / "summary.json")


def run(plan_file: Path, out_dir: Path, python: str) -> int:
    stages = order([tuple(line.split("\t", 1)) for line in plan_file.read_text().splitlines() if line.strip()])
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "stages.tsv"
    if not table.exists():
        table.write_text("\t".join(COLUMNS) + "\n")
    # Stages this OUT already records as done (a rerun after a command was cut off at its limit); a checkout's
    # committed metrics and run logs say nothing about this machine.
    done = {line.split("\t")[0] for line in table.read_text().splitlines()[1:] if line.split("\t")[1:2] == ["0"]}
    rows, failed, start = [], 0, time.perf_counter()
    with open(out_dir / "chain.log", "a") as log:
        for name, command in stages:
            out = output_of(command)
            if name in done:
                print(f"{name}: done in an earlier run into {out_dir}, skipped", flush=True)
                continue
            words = shlex.split(command)
            if words[0] == "r1pipe":  # the console script may not be installed: the same CLI as a module
                words = [python, "-m", "r1pipe", *words[1:]]
            print(f"{name}: {command}", flush=True)
            log.write(f"\n=== {name}: {command}\n")
            log.flush()
            began = time.perf_counter()
            rc = subprocess.run(words, stdout=log, stderr=subprocess.STDOUT).returncode
            row = line_of(name, rc, time.perf_counter() - began, out)
            rows.append(row)
            with open(table, "a") as f:
                f.write("\t".join("" if row.get(c) is None else str(row[c]) for c in COLUMNS) + "\n")
            summary(rows, {n: output_of(c) for n, c in stages}, out_dir)
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items() if k != "stage"), flush=True)
            failed += rc != 0
    for src, dst in (("reports/report.md", "report.md"), ("metrics/report.json", "report.json")):
        if Path(src).is_file():
            shutil.copy(src, out_dir / dst)
    print(f"{len(rows)} stages run, {failed} failed, {time.perf_counter() - start:.1f} s in all", flush=True)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("plan").add_argument("file", type=Path)
    runner = sub.add_parser("run")
    runner.add_argument("--plan", type=Path, required=True)
    runner.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.what == "plan":
        plan(args.file)
        return 0
    return run(args.plan, args.out, sys.executable)


if __name__ == "__main__":
    sys.exit(main())
