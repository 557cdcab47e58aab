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

from pathlib import Path

from r1pipe.artifacts import stage_output
from r1pipe.config.report import ReportSection
from r1pipe.progress import console
from r1pipe.report.claims import (
    CONTROLS,
    COSTED,
    Findings,
    claims,
    collapses,
    dtype_mismatches,
    never_advantaged,
)
from r1pipe.report.lineage import (
    Evals,
    compute,
    read_evals,
    recipe_costs,
    rl_curves,
    rl_parents,
    training_dtypes,
    unsafe_runs,
    warnings,
)
from r1pipe.report.render import compute_table, plot_accuracy, plot_curves, render


def assess(evals: Evals, models: list[str], logs: dict[str, list[dict]], models_dir: Path | None) -> Findings:
    bench = next(b for b, m in next(iter(evals.metrics.values())).items() if isinstance(m, dict))
    warned = warnings(models_dir, models, evals.seeds)
    dead = {name for name, (_, warning) in warned.items() if warning.startswith("dead run")}
    parents = rl_parents(models_dir, list(evals.metrics))
    fell = collapses(evals.metrics, bench, parents, evals.problems)
    mixed = dtype_mismatches(training_dtypes(models_dir, list(evals.metrics)), parents, evals.seeds)  # seeds too
    table, deltas = claims(evals.metrics, bench, evals.problems, evals.seeds, never_advantaged(logs), set(fell), dead)
    costs = {}
    for left, right in COSTED:
        if table and models_dir and {left, right} <= set(evals.metrics) and f"{left} > {right}" in deltas:
            costs[f"{left} > {right}"] = recipe_costs(Path(models_dir), left, right)
    return Findings(bench, table, deltas, costs, [*evals.left_out,
                                                   *(f"{name} ({stage}): {w}" for name, (stage, w) in warned.items()),
                                                   *(f"{name}: {what}" for name, what in fell.items()), *mixed],
                    unsafe_runs(evals.metrics, models_dir, models))


def run(cfg: ReportSection, metrics_dir: Path, out: Path, models_dir: Path | None = None,
        seeds_dir: Path | None = None, metrics_out: Path | None = None, live_dir: Path | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    evals = read_evals(cfg.models, metrics_dir, seeds_dir, models_dir, CONTROLS)
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
