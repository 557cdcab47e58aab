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
    # The controls (seeds.rl_reasoning_random, seeds.rl_zero_random): the same RL with a reward that ignores
    # correctness. GRPO can lift pass@1 through its clipping and the format alone (Shao et al. 2025).
    ("B", ">", "B_random", "the accuracy reward, not GRPO on these prompts alone, lifts B (control: a coin for "
                           "a reward)"),
    ("zero", ">", "zero_random", "the accuracy reward, not GRPO alone, lifts zero (control: a coin for a reward)"),
]
# Models that exist only as seeds (models/seeds/<name>-N): the random-reward controls; no chain model goes on
# from them.
CONTROLS = ("B_random", "zero_random")


def dtype_mismatches(dtypes: dict[str, str], parents: dict[str, str], seeds: dict[str, list[str]]) -> list[str]:
    """One warning per comparison between models trained in different dtypes: a claim's two sides (any of
    their seeds) and an RL model against the model it started from. bf16 training cost the default's cold start
    2 to 7 points (docs/scaling.md, "Precision"), so such a difference is partly the dtype's."""
    found = []
    for left, relation, right, _ in CLAIMS:
        lefts, rights = ({dtypes[r] for r in seeds.get(side, [side]) if r in dtypes} for side in (left, right))
        if lefts and rights and lefts != rights:
            found.append(f"{left} {relation} {right} compares models trained in different dtypes ({left}: "
                         f"{', '.join(sorted(lefts))}; {right}: {', '.join(sorted(rights))}): part of the "
                         "difference is the dtype's")
    for child, parent in parents.items():
        if child in dtypes and parent in dtypes and dtypes[child] != dtypes[parent]:
            found.append(f"{child} trained in {dtypes[child]} from {parent}, trained in {dtypes[parent]}")
    return found


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


def seeds_difference(left: list[tuple[dict, dict | None]], right: list[tuple[dict, dict | None]]
                     ) -> tuple[float, float, str, list[float]]:
    """(the mean pass@1 over ``left``'s seeds minus the mean over ``right``'s, its SE, which SE, each left seed's
    difference from the right side's mean) for two models of which one or both were trained with several seeds;
    each side is a list of (metrics, per-problem scores), one per seed. The SE counts both sources of noise:
    the problems (the paired SE of the per-problem differences of the two sides' seed averages) and the seeds
    (each side's spread of its seeds' pass@1 over √seeds; a side of one run has none), added in quadrature."""
    pers_l, pers_r = [per for _, per in left], [per for _, per in right]
    paired = all(pers_l) and all(pers_r)
    common = sorted(set(pers_l[0]).intersection(*pers_l, *pers_r)) if paired else []

    def score(run: tuple[dict, dict | None]) -> float:  # a seed's pass@1, on the problems both sides share
        return sum(run[1][i] for i in common) / len(common) if common else run[0]["pass@1"]

    right_mean = sum(score(r) for r in right) / len(right)
    each = [score(run) - right_mean for run in left]
    if common:
        problem_mean, problem_se = mean_se([sum(p[i] for p in pers_l) / len(pers_l)
                                            - sum(p[i] for p in pers_r) / len(pers_r) for i in common])
        kind = "paired over problems, and seeds"
    else:
        problem_mean = sum(each) / len(each)
        problem_se = sum(m.get("pass@1_se", 0) ** 2 / len(side) ** 2 for side in (left, right) for m, _ in side) ** 0.5
        kind = "unpaired, and seeds"
    seed_se = (mean_se([score(run) for run in left])[1] ** 2 + mean_se([score(run) for run in right])[1] ** 2) ** 0.5
    counts = f"{len(left)}" if len(right) == 1 else f"{len(left)} and {len(right)}"
    return problem_mean, (problem_se ** 2 + seed_se ** 2) ** 0.5, f"{kind} ({counts})", each


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
        runs, rivals = seeds.get(left, [left]), seeds.get(right, [right])
        if not all(bench in metrics.get(r, {}) for r in (*runs, *rivals)):
            continue
        if len(runs) > 1 or len(rivals) > 1:
            diff, se, kind, each = seeds_difference([(metrics[r][bench], per(r)) for r in runs],
                                                    [(metrics[r][bench], per(r)) for r in rivals])
            parts = [f"seeds: {', '.join(f'{100 * d:+.1f}' for d in each)}"] if len(runs) > 1 else []
            if len(rivals) > 1:
                rival_scores = ", ".join(f"{100 * metrics[r][bench]['pass@1']:.1f}" for r in rivals)
                parts.append(f"{right}'s seeds: {rival_scores}")
            shown = f"{100 * diff:+.1f} ({'; '.join(parts)})"
        else:
            diff, se, kind = difference(metrics[runs[0]][bench], metrics[rivals[0]][bench], per(runs[0]),
                                        per(rivals[0]))
            shown = f"{100 * diff:+.1f}"
        sides = {left: runs, right: rivals}
        mostly_dead = [s for s, rs in sides.items() if 2 * len(set(rs) & dead) > len(rs)]
        if left in untested or right in untested:
            side = left if left in untested else right
            verdict = f"not tested: {side} {untested[side]}"
        elif mostly_dead:
            side = mostly_dead[0]
            verdict = (f"not tested: {side}'s training was dead in {len(set(sides[side]) & dead)} of "
                       f"{len(sides[side])} runs")
        elif rel == ">":
            verdict = "holds" if diff > 2 * se else ("reversed" if diff < -2 * se else "within noise")
        else:
            verdict = "holds" if diff >= -2 * se else "fails"
        for side, rs in sides.items():
            fell = [r for r in rs if r in collapsed]
            if fell:
                verdict += f" ({side}'s RL collapsed in {len(fell)} of {len(rs)} runs)"
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
