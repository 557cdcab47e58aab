"""`r1pipe report`: one table of every model's eval metrics, plus a plot and samples.

    r1pipe report --metrics-dir metrics/eval --out reports

Writes ``reports/report.md`` (rows base, A, B, C, D, student) and
``reports/pass_at_1.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from r1pipe import R1pipeError
from r1pipe.artifacts import atomic_output
from r1pipe.config import ReportSection
from r1pipe.progress import summary

COLUMNS = [("pass@1", "pass@1"), ("cons@k", "cons@k"), ("format_rate", "format"), ("mean_tokens", "tokens")]

ROLES = {
    "base": "base model",
    "A": "cold start (SFT)",
    "B": "reasoning RL (GRPO)",
    "C": "SFT on rejection samples",
    "D": "all-scenario RL (the R1)",
    "student": "distilled student",
}


def _cell(m: dict, key: str) -> str:
    value = m.get(key)
    if value is None:
        return "—"
    se = m.get(f"{key}_se")
    if key == "mean_tokens":
        return f"{value:.1f}"
    return f"{100 * value:.1f} ± {100 * se:.1f}" if se else f"{100 * value:.1f}"


def table(metrics: dict[str, dict], order: list[str]) -> str:
    k = next((m["k"] for m in metrics.values()), "k")
    head = ["model", "stage"] + [label.replace("@k", f"@{k}") for _, label in COLUMNS] + ["prompts"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in order:
        m = metrics.get(name)
        if m is None:
            continue
        cells = [name, ROLES.get(name, "")] + [_cell(m, key) for key, _ in COLUMNS] + [str(m.get("n_prompts", ""))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(metrics: dict[str, dict], order: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in order if n in metrics]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.bar(names, [100 * metrics[n]["pass@1"] for n in names],
           yerr=[100 * metrics[n].get("pass@1_se", 0) for n in names], capsize=4, color="#4c72b0")
    ax.set_ylabel("pass@1 (%)")
    ax.set_title("pass@1 per stage")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(cfg: ReportSection, metrics_dir: Path, out: Path) -> None:
    started = time.time()
    metrics = {}
    for name in cfg.models:
        f = Path(metrics_dir) / f"{name}.json"
        if f.is_file():
            metrics[name] = json.loads(f.read_text())
    if not metrics:
        raise R1pipeError(f"no eval metrics in {metrics_dir} for any of: {', '.join(cfg.models)}")
    parts = ["# r1pipe report", "", "Held-out pass@1 (mean ± standard error over prompts, in %), majority vote "
             "cons@k, format rate and mean completion length, per model of the chain.", "",
             table(metrics, cfg.models), "", "![pass@1 per stage](pass_at_1.png)", ""]
    for name in metrics:
        samples = Path(metrics_dir) / f"{name}.samples.json"
        if samples.is_file():
            for ex in json.loads(samples.read_text())[:1]:
                parts += [f"### {name}: a sample", "", f"**prompt:** {ex['prompt']}", "",
                          "```", ex["completion"], "```", f"gold `{ex['answer']}`, correct: {ex['correct']}", ""]
    with atomic_output(out) as tmp:
        (tmp / "report.md").write_text("\n".join(parts))
        plot(metrics, cfg.models, tmp / "pass_at_1.png")
    summary("report", {"report": Path(out) / "report.md"}, {"models": len(metrics)}, started)
