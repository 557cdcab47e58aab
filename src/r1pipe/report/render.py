"""The report's markdown page, its tables and plots."""

from __future__ import annotations

import json
from pathlib import Path

from r1pipe import hardware
from r1pipe.config.report import ROLES
from r1pipe.report.claims import Findings
from r1pipe.report.lineage import RL_STAGES, Evals, lineage
from r1pipe.report.markdown import pct, table


def tables(metrics: dict[str, dict], order: list[str]) -> tuple[str, str]:
    """The paper-style accuracy table and the format/length table."""
    names = [n for n in order if n in metrics]
    benches = [b for b, m in metrics[names[0]].items() if isinstance(m, dict)]
    head = ["model", "stage"]
    for b in benches:
        k = metrics[names[0]][b].get("k", "k")
        head += [f"{b} pass@1", f"{b} cons@{k}"]
    accuracy = [[n, ROLES.get(n, "")] + [c for b in benches for c in (pct(metrics[n].get(b, {}), "pass@1"),
                                                                       pct(metrics[n].get(b, {}), "cons@k"))]
                for n in names]
    head2 = ["model"] + [c for b in benches for c in (f"{b} format", f"{b} tokens")]
    shape = [[n] + [c for b in benches for c in (pct(metrics[n].get(b, {}), "format_rate"),
                                                  f"{metrics[n].get(b, {}).get('mean_tokens', 0):.1f}")]
             for n in names]
    return table(head, accuracy), table(head2, shape)


def compute_table(rows: list[dict]) -> str:
    """The compute rows as markdown, under a line with the machine's GEMM rates."""
    body = [[f"`{r['output']}`", r["stage"], f"{r['seconds']:.0f}", f"{r['generated']:,} / {r['trained']:,}",
             f"{r['tflop']:.3f}" if "tflop" in r else "", f"{r['gflops_per_s']:.1f}" if "tflop" in r else "",
             f"{100 * r['share_of_gemm']:.0f}%" if r.get("share_of_gemm") is not None else "", r.get("dtype", "")]
            for r in rows]
    text = table(["output", "stage", "seconds", "positions generated / trained", "TFLOP", "GFLOP/s",
                  "share of GEMM", "dtype"], body)
    machine = next((r["machine"] for r in rows if "machine" in r), None)
    if machine:
        text = f"On {hardware.describe(machine)}.\n\n{text}"
    return text


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
            if runs[0] != name:  # a control: seeds alone
                parts += [f"{name} (a control: its RL section's reward ignores correctness) is judged over "
                          f"{len(runs)} seeds: {', '.join(f'`{r}`' for r in runs)} (`{seeds_dir}`).", ""]
                continue
            parts += [f"{name} is judged over {len(runs)} seeds: the chain's `models/{name}` (the one the chain "
                      f"continues from) and {', '.join(f'`{r}`' for r in runs[1:])} (`{seeds_dir}`).", ""]
        for claim, cost in found.costs.items():
            # TFLOP and seconds come from run logs, which vary between runs: they go to the report's run log.
            parts += [f"Compute of `{claim}` beyond the base both start from: "
                      + "; ".join(f"{n}: {c['rl_completions']} RL completions ({', '.join(c['outputs'])})"
                                  for n, c in cost.items())
                      + ". Their TFLOP and seconds, from the run logs: `reports.run.json`.", ""]
    if found.warnings:
        parts += ["## Warnings", "", "Training runs that stayed finite but learned nothing (dead: a claim whose side "
                  "is dead in most of its runs tests nothing), RL models whose held-out pass@1 fell more than 2 SE "
                  "below the model they were trained from (collapsed: a claim that rests on one says so), and runs "
                  "that trained on rows cut at max_length (their completions lost their ends), and comparisons "
                  "between models trained in different dtypes (bf16 training costs accuracy: docs/scaling.md). "
                  "A sampled reward "
                  "that fell during training is only a hint, kept in the run log (`hint`): with a few prompts a "
                  "step it is mostly which prompts were drawn.", "",
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
