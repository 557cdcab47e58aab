"""`r1pipe report`: what every stage did, in one markdown page with plots.

    r1pipe report --metrics-dir metrics/eval --seeds-dir metrics/seeds --models-dir models --live-dir dvclive \
        --out reports --metrics metrics/report.json

Writes ``reports/report.md``: a table of models (base, A, B, C, D, R1-Zero and the
distilled student) against benchmarks laid out like the paper's, a second table
with format rate and length, the paper's findings checked against their standard
errors (B > A over every seed of B), each model's lineage and cost,
``pass_at_1.png`` (accuracy per stage), ``rl_curves.png`` (reward and completion
length over the steps of each RL stage, from the curves dvclive wrote) and a sample completion per model and
benchmark. ``--metrics`` gets the same table as numbers (each model's pass@1, each
claim's Δ): the file ``dvc metrics show`` and ``dvc exp show`` display.

It runs in three steps: ``read_evals`` (the eval metrics and each problem's scores),
``assess`` (the claims, their compute, the warnings) and ``render`` (the markdown).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from r1pipe import R1pipeError, hardware
from r1pipe.artifacts import manifest_sha256, read_manifest, run_log_path, stage_output
from r1pipe.config.report import ROLES, ReportSection
from r1pipe.metrics import mean_se
from r1pipe.progress import console

RL_STAGES = {"B": "rl_reasoning", "D": "rl_all", "zero": "rl_zero"}
# Claims between two recipes from the same base, whose cost the report states beside the verdict.
COSTED = [("C", "zero")]

# The paper's findings, as (left, relation, right): ">" must win by more than 2 SE of the difference,
# ">=" must not lose by more than 2 SE.
CLAIMS = [
    ("A", ">", "base", "a cold start teaches the format and lifts accuracy"),
    ("B", ">", "A", "reasoning RL improves on the cold start"),
    ("C", ">=", "A", "SFT of the base on B's rejection samples keeps up with the cold start"),
    ("D", ">=", "C", "all-scenario RL keeps what SFT gave"),
    ("zero", ">", "base", "RL alone, from the base, teaches the format and lifts accuracy (R1-Zero)"),
    ("C", ">", "zero", "SFT on an RL model's samples beats RL alone on the same base"),
]


def _pct(m: dict, key: str) -> str:
    if m.get(key) is None:
        return "—"
    se = m.get(f"{key}_se")
    return f"{100 * m[key]:.1f} ± {100 * se:.1f}" if se else f"{100 * m[key]:.1f}"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def tables(metrics: dict[str, dict], order: list[str]) -> tuple[str, str]:
    """The paper-style accuracy table and the format/length table."""
    names = [n for n in order if n in metrics]
    benches = [b for b, m in metrics[names[0]].items() if isinstance(m, dict)]
    head = ["model", "stage"]
    for b in benches:
        k = metrics[names[0]][b].get("k", "k")
        head += [f"{b} pass@1", f"{b} cons@{k}"]
    accuracy = [[n, ROLES.get(n, "")] + [c for b in benches for c in (_pct(metrics[n].get(b, {}), "pass@1"),
                                                                       _pct(metrics[n].get(b, {}), "cons@k"))]
                for n in names]
    head2 = ["model"] + [c for b in benches for c in (f"{b} format", f"{b} tokens")]
    shape = [[n] + [c for b in benches for c in (_pct(metrics[n].get(b, {}), "format_rate"),
                                                  f"{metrics[n].get(b, {}).get('mean_tokens', 0):.1f}")]
             for n in names]
    return _table(head, accuracy), _table(head2, shape)


def difference(a: dict, b: dict, per_a: dict | None, per_b: dict | None) -> tuple[float, float, str]:
    """(pass@1 of a minus b, its standard error, which SE). With both models' per-problem scores on the same
    problems, the paired SE: the standard error of the per-problem differences, which leaves out the
    problems' own spread in difficulty. Else the two models' SEs combined, as if independent (wider)."""
    common = sorted(set(per_a) & set(per_b)) if per_a and per_b else []
    if common:
        diffs = [per_a[i] - per_b[i] for i in common]
        mean, se = mean_se(diffs)
        return mean, se, "paired"
    return a["pass@1"] - b["pass@1"], (a.get("pass@1_se", 0) ** 2 + b.get("pass@1_se", 0) ** 2) ** 0.5, "unpaired"


def seeds_difference(runs: list[tuple[dict, dict | None]], b: dict, per_b: dict | None
                     ) -> tuple[float, float, str, list[float]]:
    """(mean over seeds of pass@1 minus b's, its SE, which SE, each seed's difference) for a model trained
    with several seeds, ``runs`` = (metrics, per-problem scores) per seed. The SE counts both sources of
    noise: the problems (the paired SE of the seed-averaged per-problem differences) and the seeds (the
    spread of the seeds' differences over √seeds), added in quadrature."""
    each = [difference(m, b, per, per_b)[0] for m, per in runs]
    pers = [per for _, per in runs]
    if per_b and all(pers):
        common = sorted(set(per_b).intersection(*pers))
        problem_mean, problem_se = mean_se([sum(p[i] for p in pers) / len(pers) - per_b[i] for i in common])
        kind = "paired over problems, and seeds"
    else:
        problem_mean = sum(each) / len(each)
        problem_se = (sum(m.get("pass@1_se", 0) ** 2 for m, _ in runs) / len(runs) ** 2
                      + b.get("pass@1_se", 0) ** 2) ** 0.5
        kind = "unpaired, and seeds"
    seed_se = mean_se(each)[1]
    return problem_mean, (problem_se ** 2 + seed_se ** 2) ** 0.5, f"{kind} ({len(runs)})", each


def claims(metrics: dict[str, dict], bench: str, problems: dict[str, dict] | None = None,
           seeds: dict[str, list[str]] | None = None, untested: dict[str, str] | None = None,
           collapsed: set[str] | None = None) -> tuple[str, dict[str, float]]:
    """Each paper finding checked on ``bench``: the difference in pass@1 against its standard error; the table,
    and each claim's Δ in points. ``problems``: per model, per benchmark, each problem's pass@1 by id (eval's
    ``*.problems.json``). ``seeds``: a model's runs over several seeds (names in ``metrics``), judged on their
    mean. ``untested``: models whose training never received a reward, and why: their claims test nothing.
    ``collapsed``: runs (a model or one of its seeds) whose RL collapsed: a claim resting on one says so."""
    problems, seeds, untested, collapsed = problems or {}, seeds or {}, untested or {}, collapsed or set()
    rows, deltas = [], {}

    def per(name: str) -> dict | None:
        return problems.get(name, {}).get(bench)

    for left, rel, right, what in CLAIMS:
        if bench not in metrics.get(left, {}) or bench not in metrics.get(right, {}):
            continue
        runs = seeds.get(left, [left])
        if len(runs) > 1:
            diff, se, kind, each = seeds_difference([(metrics[r][bench], per(r)) for r in runs],
                                                    metrics[right][bench], per(right))
            shown = f"{100 * diff:+.1f} (seeds: {', '.join(f'{100 * d:+.1f}' for d in each)})"
        else:
            diff, se, kind = difference(metrics[left][bench], metrics[right][bench], per(left), per(right))
            shown = f"{100 * diff:+.1f}"
        if left in untested or right in untested:
            side = left if left in untested else right
            verdict = f"not tested: {side} {untested[side]}"
        elif rel == ">":
            verdict = "holds" if diff > 2 * se else ("reversed" if diff < -2 * se else "within noise")
        else:
            verdict = "holds" if diff >= -2 * se else "fails"
        for side in (left, right):
            fell = [r for r in seeds.get(side, [side]) if r in collapsed]
            if fell:
                verdict += f" ({side}'s RL collapsed in {len(fell)} of {len(seeds.get(side, [side]))} runs)"
        claim = f"{left} {rel} {right}"
        deltas[claim] = round(100 * diff, 2)
        # 2 SE: the smallest difference this test could have told from noise, so that "within noise" says
        # whether the test had the power to see an effect.
        rows.append([claim, what, shown, f"{100 * se:.1f} ({kind})", f"{200 * se:.1f}", verdict])
    if not rows:
        return "", {}
    return _table(["claim", "the paper's finding", f"Δ pass@1 on {bench}", "SE of Δ", "could resolve (2 SE)",
                   "here"], rows), deltas


def never_advantaged(logs: dict[str, list[dict]]) -> dict[str, str]:
    """RL models (``logs``: their logged steps, ``rl_curves``) in whose every step each group's completions scored
    alike (TRL's ``reward_std``, the mean of the groups' reward spreads, was 0): every advantage was 0, so RL
    never moved the model."""
    found = {}
    for name, steps in logs.items():
        spreads = [h["reward_std"] for h in steps if "reward_std" in h]
        if spreads and max(spreads) == 0:
            found[name] = f"never received a reward that differed within a group in {len(spreads)} RL steps"
    return found


def ancestors(path: Path) -> set[Path]:
    """``path`` and every model and dataset it was made from, through the manifests' inputs and parents."""
    seen: set[Path] = set()
    todo = [Path(path)]
    while todo:
        current = todo.pop()
        manifest = None if current in seen else read_manifest(current)
        if manifest is None:
            continue
        seen.add(current)
        todo += [Path(item["path"]) for item in manifest["inputs"].values()]
        todo += [Path(manifest["parent"])] if manifest.get("parent") else []
    return seen


def rl_completions(settings: dict, processes: int) -> int:
    """The completions a GRPO run generated, the way TRL's trainer does: each optimizer step takes
    ``per_device_train_batch_size`` completions per micro-batch, ``gradient_accumulation_steps`` micro-batches,
    on every process; a generation batch is reused for ``num_iterations`` passes."""
    per_step = settings.get("per_device_train_batch_size", 0) * settings.get("gradient_accumulation_steps", 1)
    return settings.get("max_steps", 0) * per_step * processes // max(settings.get("num_iterations", 1), 1)


def recipe_costs(models_dir: Path, left: str, right: str) -> dict[str, dict]:
    """What each side of a comparison cost beyond what both share (the base, the prompts): per side, the
    outputs counted, their RL completions (:func:`rl_completions`, from the manifests and run logs), their
    seconds and TFLOP (from the run logs)."""
    mine = {name: ancestors(Path(models_dir) / name) for name in (left, right)}
    costs = {}
    for name, other in ((left, right), (right, left)):
        cost = {"outputs": [], "rl_completions": 0, "seconds": 0.0, "tflop": 0.0}
        for path in sorted(mine[name] - mine[other]):
            log = _run_log(path)
            manifest = read_manifest(path)
            cost["seconds"] += log.get("seconds", 0.0)
            cost["tflop"] += (log.get("work") or {}).get("tflop", 0.0)
            if manifest["stage"].startswith("rl_"):
                # The settings it ran with, TRL's defaults included (older manifests: the keys params gave).
                params = {**manifest["params"], **manifest["params"].get("trl", {}).get("settings", {})}
                cost["rl_completions"] += rl_completions(params, log.get("processes", 1))
            cost["outputs"].append(str(path))
        costs[name] = cost
    return costs


def load_seeds(seeds_dir: Path | None) -> dict[str, dict[int, Path]]:
    """``<model>-<seed>.json`` files of ``seeds_dir``, by model and seed."""
    found: dict[str, dict[int, Path]] = {}
    for f in sorted(Path(seeds_dir).glob("*.json")) if seeds_dir and Path(seeds_dir).is_dir() else []:
        match = re.fullmatch(r"(.+)-(\d+)\.json", f.name)
        if match:
            found.setdefault(match[1], {})[int(match[2])] = f
    return found


def lineage(models_dir: Path | None, order: list[str]) -> str:
    """Where each model came from, from the manifests the stages wrote."""
    rows = []
    for name in order:
        manifest = read_manifest(Path(models_dir or "") / name) if models_dir else None
        if manifest:
            rows.append([name, manifest["stage"], f"`{manifest.get('parent') or ''}`",
                         ", ".join(f"`{p['path']}`" for p in manifest["inputs"].values())])
    return _table(["model", "stage", "from", "inputs"], rows) if rows else ""


def unsafe_runs(metrics: dict[str, dict], models_dir: Path | None, order: list[str]) -> list[str]:
    """Every run behind the report that graded code without the sandbox (``sandbox: unsafe``): evals, the
    models' own stages, and the stages that made their data, from the metrics and the manifests."""
    found = [f"eval of {name}: {m['sandbox']}" for name, m in metrics.items() if isinstance(m.get("sandbox"), str)]
    for name in order:
        manifest = read_manifest(Path(models_dir) / name) if models_dir else None
        if not manifest:
            continue
        if manifest.get("sandbox"):
            found.append(f"{manifest['stage']} ({name}): {manifest['sandbox']}")
        for item in manifest["inputs"].values():
            made = read_manifest(item["path"]) if Path(item["path"]).is_dir() else None
            if made and made.get("sandbox"):
                found.append(f"{made['stage']} (`{item['path']}`, read by {name}): {made['sandbox']}")
    return list(dict.fromkeys(found))


def warnings(models_dir: Path | None, order: list[str], seeds: dict[str, list[str]] | None = None
             ) -> dict[str, tuple[str, str]]:
    """The training stages' warnings (a dead or collapsed run), from their run logs, by model: the report's
    models and their seeds (``B-1`` in ``models/seeds``): (stage, warning) by model."""
    found = {}
    for name in [*order, *(s for runs in (seeds or {}).values() for s in runs if s not in order)]:
        where = Path(models_dir) / name if models_dir else None
        if where is not None and not run_log_path(where).is_file():
            where = Path(models_dir) / "seeds" / name
        log = _run_log(where) if where is not None else {}
        if log.get("warning"):
            found[name] = (log["stage"], log["warning"])
    return found


def _run_log(path: Path) -> dict:
    path = run_log_path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def compute(models_dir: Path | None, metrics_dir: Path, order: list[str]) -> list[dict]:
    """One row per stage that ran, from its run log: the stages behind every model (through the manifests' inputs
    and parents) and each model's eval; the work as ``r1pipe.work`` counts it. Run logs vary between runs of the
    same inputs, so these rows go to the report's run log, not into the report."""
    outputs = sorted({p for name in order for p in ancestors(Path(models_dir) / name)}) if models_dir else []
    outputs += [Path(metrics_dir) / f"{name}.json" for name in order]
    rows = []
    for path in outputs:
        log = _run_log(path)
        if log:
            work = log.get("work") or {}
            rows.append({"output": str(path), "stage": log["stage"], "seconds": log["seconds"],
                         "generated": work.get("prefill", 0) + work.get("decode", 0), "trained": work.get("trained", 0),
                         **{k: work[k] for k in ("tflop", "gflops_per_s", "share_of_gemm", "dtype", "machine")
                            if k in work}})
    return rows


def compute_table(rows: list[dict]) -> str:
    """The compute rows as markdown, under a line with the machine's GEMM rates."""
    body = [[f"`{r['output']}`", r["stage"], f"{r['seconds']:.0f}", f"{r['generated']:,} / {r['trained']:,}",
             f"{r['tflop']:.3f}" if "tflop" in r else "", f"{r['gflops_per_s']:.1f}" if "tflop" in r else "",
             f"{100 * r['share_of_gemm']:.0f}%" if r.get("share_of_gemm") is not None else "", r.get("dtype", "")]
            for r in rows]
    table = _table(["output", "stage", "seconds", "positions generated / trained", "TFLOP", "GFLOP/s",
                    "share of GEMM", "dtype"], body)
    machine = next((r["machine"] for r in rows if "machine" in r), None)
    if machine:
        table = f"On {hardware.describe(machine)}.\n\n{table}"
    return table


def plot_accuracy(metrics: dict[str, dict], order: list[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    names = [n for n in order if n in metrics]
    benches = [b for b, m in metrics[names[0]].items() if isinstance(m, dict)]
    width = 0.8 / len(benches)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for j, b in enumerate(benches):
        xs = [i + j * width for i in range(len(names))]
        ax.bar(xs, [100 * metrics[n].get(b, {}).get("pass@1", 0) for n in names], width,
               yerr=[100 * metrics[n].get(b, {}).get("pass@1_se", 0) for n in names], capsize=3, label=b)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names)
    ax.set_ylabel("pass@1 (%)")
    ax.set_title("held-out pass@1 per stage")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_curves(logs: dict[str, list[dict]], path: Path) -> None:
    """Reward and mean completion length per step: the paper's "thinking grows" figure, per RL stage."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    for name, log in logs.items():
        steps = [h for h in log if "reward" in h]
        ax1.plot([h["step"] for h in steps], [h["reward"] for h in steps], label=f"{name} ({RL_STAGES[name]})")
        ax2.plot([h["step"] for h in steps], [h.get("completion_length", 0) for h in steps], label=name)
    ax1.set(xlabel="step", ylabel="mean reward", title="reward")
    ax2.set(xlabel="step", ylabel="tokens", title="mean completion length")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def rl_curves(live_dir: Path | None) -> dict[str, list[dict]]:
    """Each RL model's curves as dvclive wrote them (``<live_dir>/<section>/plots/metrics/<curve>.tsv``, the files
    ``dvc plots`` draws), one dict per logged step: ``step`` (dvclive's column: the trainer's own step, right
    whatever ``logging_steps`` is) and the value of each curve logged at it."""
    curves = {}
    for name, section in RL_STAGES.items() if live_dir else ():
        folder = Path(live_dir) / section / "plots" / "metrics"
        if not (folder / "reward.tsv").is_file():
            continue
        steps: dict[int, dict] = {}
        for curve in ("reward", "reward_std", "completion_length"):
            if (folder / f"{curve}.tsv").is_file():
                with open(folder / f"{curve}.tsv", newline="") as f:
                    for row in csv.DictReader(f, delimiter="\t"):
                        steps.setdefault(int(row["step"]), {"step": int(row["step"])})[curve] = float(row[curve])
        curves[name] = [steps[step] for step in sorted(steps)]
    return curves


@dataclass
class Evals:
    """What the report reads: each model's eval metrics and per-problem scores, and each model's seeds."""

    metrics: dict[str, dict] = field(default_factory=dict)
    problems: dict[str, dict] = field(default_factory=dict)
    seeds: dict[str, list[str]] = field(default_factory=dict)  # a model -> its runs' names (itself first)
    left_out: list[str] = field(default_factory=list)  # evals of a model that is gone or changed, and why

    def read(self, name: str, path: Path) -> None:
        """An eval's metrics JSON, and its per-problem scores beside it where there are any."""
        self.metrics[name] = json.loads(path.read_text())
        per = path.with_name(f"{path.stem}.problems.json")
        if per.is_file():
            self.problems[name] = json.loads(per.read_text())


def read_evals(models: list[str], metrics_dir: Path, seeds_dir: Path | None, models_dir: Path | None = None) -> Evals:
    """Each model's eval metrics, and its other seeds'. With ``models_dir``, an eval whose model is not there, or
    is not the model it scored (the model's manifest changed since: retrained, or another run's metrics left in
    place), is left out, and said to be."""
    evals = Evals()
    for name in models:
        path = Path(metrics_dir) / f"{name}.json"
        if not path.is_file():
            continue
        stale = _stale(path, Path(models_dir) / name) if models_dir and Path(models_dir).is_dir() else None
        if stale:
            evals.left_out.append(f"{name}: left out, {path} {stale}")
            continue
        evals.read(name, path)
    if not evals.metrics:
        raise R1pipeError(f"no eval metrics in {metrics_dir} for any of: {', '.join(models)}")
    # A model's other seeds (``B-1``...) join the claims about it, never the tables.
    for name, files in load_seeds(seeds_dir).items():
        if name in evals.metrics:
            evals.seeds[name] = [name, *(f"{name}-{seed}" for seed in files)]
            for seed, f in files.items():
                evals.read(f"{name}-{seed}", f)
    return evals


def _stale(metrics: Path, model: Path) -> str | None:
    """Why an eval's metrics no longer describe ``model``, or None."""
    if not model.is_dir():
        return f"scored {model}, which is not there"
    scored, made = (json.loads(log.read_text()) if log.is_file() else {} for log in (run_log_path(metrics),
                                                                                      run_log_path(model)))
    recorded = scored.get("model", {}).get("manifest_sha256")
    if recorded and recorded != manifest_sha256(model):
        return f"scored another {model} than the one there now (rerun its eval)"
    # An eval from before evals recorded the model: the model's run log says whether it was made after it.
    if not recorded and "finished" in scored and "finished" in made and _when(made) > _when(scored):
        return f"is older than {model} (made {made['finished']}; rerun its eval)"
    return None


def _when(log: dict):
    from datetime import datetime

    return datetime.strptime(log["finished"], "%Y-%m-%dT%H:%M:%S%z")


@dataclass
class Findings:
    """What the report judges: the claims on the first benchmark, their compute, and what to warn about."""

    bench: str
    claims: str  # the markdown table ("" when no claim applies)
    deltas: dict[str, float]
    costs: dict[str, dict]
    warnings: list[str]
    unsafe: list[str]


def assess(evals: Evals, models: list[str], logs: dict[str, list[dict]], models_dir: Path | None) -> Findings:
    bench = next(b for b, m in next(iter(evals.metrics.values())).items() if isinstance(m, dict))
    warned = warnings(models_dir, models, evals.seeds)
    collapsed = {name for name, (_, warning) in warned.items() if warning.startswith("collapsed run")}
    table, deltas = claims(evals.metrics, bench, evals.problems, evals.seeds, never_advantaged(logs), collapsed)
    costs = {}
    for left, right in COSTED:
        if table and models_dir and {left, right} <= set(evals.metrics) and f"{left} > {right}" in deltas:
            costs[f"{left} > {right}"] = recipe_costs(Path(models_dir), left, right)
    return Findings(bench, table, deltas, costs, [*evals.left_out,
                                                   *(f"{name} ({stage}): {w}" for name, (stage, w) in warned.items())],
                    unsafe_runs(evals.metrics, models_dir, models))


def render(evals: Evals, found: Findings, models: list[str], logs: dict, metrics_dir: Path,
           models_dir: Path | None, seeds_dir: Path | None) -> str:
    """The report's markdown."""
    accuracy, shape = tables(evals.metrics, models)
    parts = ["# r1pipe report", "",
             "Held-out accuracy of every model in the chain: pass@1 is the mean correctness over k samples, "
             "cons@k the majority vote; both in %, ± the standard error over prompts.", "", accuracy, "",
             "Format rate (one `<think>` block, then one `<answer>`) and mean completion length in tokens:", "",
             shape, "", "![pass@1 per stage](pass_at_1.png)", ""]
    if found.claims:
        parts += ["## The paper's findings, checked", "",
                  "On the first benchmark; a difference counts when it is more than twice its standard error, "
                  "which is also the smallest difference the test could resolve. "
                  "Two models graded on the same problems are compared with the paired standard error (of the "
                  "per-problem differences); without per-problem scores, with the two SEs combined (unpaired). "
                  "A model trained with several seeds is judged on their mean: its SE adds the problems' paired "
                  "SE (of the seed-averaged differences) and the seeds' (their differences' spread over "
                  "√seeds) in quadrature. A comparison in which one side's RL never had an advantage (a group's "
                  "completions all scored alike at every step) tests nothing.",
                  "", found.claims, ""]
        for name, runs in evals.seeds.items():
            parts += [f"{name} is judged over {len(runs)} seeds: the chain's `models/{name}` (the one the chain "
                      f"continues from) and {', '.join(f'`{r}`' for r in runs[1:])} (`{seeds_dir}`).", ""]
        for claim, cost in found.costs.items():
            # TFLOP and seconds come from run logs, which vary between runs: they go to the report's run log.
            parts += [f"Compute of `{claim}` beyond the base both start from: "
                      + "; ".join(f"{n}: {c['rl_completions']} RL completions ({', '.join(c['outputs'])})"
                                  for n, c in cost.items())
                      + ". Their TFLOP and seconds, from the run logs: `reports.run.json`.", ""]
    if found.warnings:
        parts += ["## Warnings", "", "Training runs that stayed finite but learned nothing (dead: a claim that rests "
                  "on one tests nothing), or whose sampled accuracy fell far below where it started and stayed "
                  "there (collapsed: a claim that rests on one says so), or that trained on rows cut at "
                  "max_length (their completions lost their ends).", "",
                  *(f"- {line}" for line in found.warnings), ""]
    if found.unsafe:
        parts += ["## Code graded without the sandbox", "",
                  "These runs were told `sandbox: unsafe`: the programs they graded ran as the training user, "
                  "with the host's files and network.", "", *(f"- {line}" for line in found.unsafe), ""]
    stages = lineage(models_dir, models)
    if stages:
        parts += ["## Lineage", "", "From each model's `r1pipe.json` manifest (each input's sha256 is there). "
                  "Time, code and compute per stage: each output's `<out>.run.json` run log; the report's own, "
                  "`reports.run.json`, gathers every stage's compute (`compute_by_stage`; printed when it runs).", "",
                  stages, ""]
    if logs:
        parts += ["## RL training curves", "", "![RL curves](rl_curves.png)", ""]
    parts += ["## Samples", ""]
    for name in [n for n in models if n in evals.metrics]:
        samples = Path(metrics_dir) / f"{name}.samples.json"
        if samples.is_file():
            for bench, examples in json.loads(samples.read_text()).items():
                for ex in examples[:1]:
                    parts += [f"<details><summary>{name} on {bench}: correct = {ex['correct']}</summary>", "",
                              f"**prompt:** {ex['prompt']}", "", "```", ex["completion"], "```",
                              f"gold: `{ex['answer']}`", "</details>", ""]
    return "\n".join(parts)


def run(cfg: ReportSection, metrics_dir: Path, out: Path, models_dir: Path | None = None,
        seeds_dir: Path | None = None, metrics_out: Path | None = None, live_dir: Path | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    evals = read_evals(cfg.models, metrics_dir, seeds_dir, models_dir)
    for line in evals.left_out:
        console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    logs = rl_curves(live_dir)
    found = assess(evals, cfg.models, logs, models_dir)
    side = (Path(metrics_out),) if metrics_out else ()
    with stage_output("report", out, code=__name__, params=cfg.resolved(), side=side) as run:
        stages = compute(models_dir, metrics_dir, cfg.models)
        run.log["compute"] = {claim: {n: {"seconds": round(c["seconds"], 2), "rl_completions": c["rl_completions"],
                                          "tflop": round(c["tflop"], 4)} for n, c in cost.items()}
                              for claim, cost in found.costs.items()}
        run.log["compute_by_stage"] = stages
        if stages:
            console.print(compute_table(stages))
        (run.dir / "report.md").write_text(render(evals, found, cfg.models, logs, metrics_dir, models_dir,
                                                  seeds_dir))
        plot_accuracy(evals.metrics, cfg.models, run.dir / "pass_at_1.png")
        if logs:
            plot_curves(logs, run.dir / "rl_curves.png")
        run.numbers.update({"models": len([n for n in cfg.models if n in evals.metrics]), "rl curves": len(logs)})
        if metrics_out:
            table = {"pass@1": {n: round(100 * evals.metrics[n][found.bench]["pass@1"], 2) for n in cfg.models
                                if n in evals.metrics}, "claims": found.deltas}
            run.write_json(Path(metrics_out), table, "metrics")
