"""The paper's findings, judged on eval numbers: each difference in pass@1 against its standard error.

Pure functions of the numbers (no file is read here): ``difference`` for two models graded once, ``seeds_difference``
for a side trained over several seeds, ``claims`` for the table of every finding, ``never_advantaged`` for the RL
runs whose claims test nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from r1pipe.metrics import mean_se
from r1pipe.report.markdown import table

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


def collapses(metrics: dict[str, dict], bench: str, parents: dict[str, str],
              problems: dict[str, dict] | None = None) -> dict[str, str]:
    """The RL runs (``parents``: run -> the model it was trained from) whose held-out pass@1 on ``bench`` fell more
    than 2 SE below their parent's (paired over problems where both have per-problem scores): run -> what fell."""
    problems = problems or {}
    found = {}
    for run, parent in parents.items():
        if bench not in metrics.get(run, {}) or bench not in metrics.get(parent, {}):
            continue
        diff, se, kind = difference(metrics[run][bench], metrics[parent][bench], problems.get(run, {}).get(bench),
                                    problems.get(parent, {}).get(bench))
        if diff < -2 * se:
            found[run] = (f"collapsed: held-out pass@1 on {bench} {100 * metrics[run][bench]['pass@1']:.1f}, "
                          f"{-100 * diff:.1f} points below its parent {parent}'s (SE {100 * se:.1f}, {kind})")
    return found


def claims(metrics: dict[str, dict], bench: str, problems: dict[str, dict] | None = None,
           seeds: dict[str, list[str]] | None = None, untested: dict[str, str] | None = None,
           collapsed: set[str] | None = None, dead: set[str] | None = None) -> tuple[str, dict[str, float]]:
    """Each paper finding checked on ``bench``: the difference in pass@1 against its standard error; the table,
    and each claim's Δ in points. ``problems``: per model, per benchmark, each problem's pass@1 by id (eval's
    ``*.problems.json``). ``seeds``: a model's runs over several seeds (names in ``metrics``), judged on their
    mean. ``untested``: models whose training never received a reward, and why: their claims test nothing.
    ``collapsed``: runs (a model or one of its seeds) whose held-out pass@1 fell below their parent's
    (:func:`collapses`): a claim resting on one says so. ``dead``: runs that learned nothing (a dead run's
    warning): a claim whose side is dead in most of its runs tests nothing."""
    problems, seeds, untested, collapsed = problems or {}, seeds or {}, untested or {}, collapsed or set()
    dead = dead or set()
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
        mostly_dead = [s for s in (left, right) if 2 * len(set(seeds.get(s, [s])) & dead) > len(seeds.get(s, [s]))]
        if left in untested or right in untested:
            side = left if left in untested else right
            verdict = f"not tested: {side} {untested[side]}"
        elif mostly_dead:
            side = mostly_dead[0]
            verdict = (f"not tested: {side}'s training was dead in {len(set(seeds.get(side, [side])) & dead)} of "
                       f"{len(seeds.get(side, [side]))} runs")
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
    return table(["claim", "the paper's finding", f"Δ pass@1 on {bench}", "SE of Δ", "could resolve (2 SE)",
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


@dataclass
class Findings:
    """What the report judges: the claims on the first benchmark, their compute, and what to warn about."""

    bench: str
    claims: str  # the markdown table ("" when no claim applies)
    deltas: dict[str, float]
    costs: dict[str, dict]
    warnings: list[str]
    unsafe: list[str]
