"""The front page's numbers come from the committed run, and every relative link in README.md and docs/ resolves."""

import json
import re

from conftest import REPO
from r1pipe.stages.report import CLAIMS, claims, difference, read_evals, seeds_difference

README = (REPO / "README.md").read_text()


def table(heading: str) -> list[list[str]]:
    """The rows of the first markdown table whose header starts with ``heading``."""
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {heading} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def committed(model: str) -> tuple[dict, dict]:
    metrics = json.loads((REPO / f"metrics/eval/{model}.json").read_text())["arithmetic"]
    problems = json.loads((REPO / f"metrics/eval/{model}.problems.json").read_text())["arithmetic"]
    return metrics, problems


REPORT = json.loads((REPO / "metrics/report.json").read_text())


def test_the_result_table_is_the_committed_run():
    rows = table("model")
    # Every committed model, and only those (the metrics, not the run logs or per-problem files).
    assert {r[0] for r in rows} == {p.stem for p in (REPO / "metrics/eval").glob("*.json") if "." not in p.stem}
    assert {r[0] for r in rows} == set(REPORT["pass@1"])
    for model, _, pass1, fmt, tokens in rows:
        m, _ = committed(model)
        assert pass1 == f"{REPORT['pass@1'][model]:.1f} ± {100 * m['pass@1_se']:.1f}", model
        assert pass1.split()[0] == f"{100 * m['pass@1']:.1f}", model
        assert fmt == f"{100 * m['format_rate']:.1f}" and tokens == f"{m['mean_tokens']:.1f}", model


def test_every_claim_is_the_committed_reports_and_is_recomputed_from_the_per_problem_scores():
    """Each claim row equals the committed report's Δ (``metrics/report.json``), and its SE and verdict are
    judged again, by the report's own rules, from the committed per-problem scores and seeds."""
    rows = table("claim")
    assert {r[0] for r in rows} == set(REPORT["claims"])
    evals = read_evals(list(REPORT["pass@1"]), REPO / "metrics/eval", REPO / "metrics/seeds")
    bench = next(iter(evals.metrics["A"]))
    _, deltas = claims(evals.metrics, bench, evals.problems, evals.seeds)
    assert deltas == REPORT["claims"]  # the committed per-problem files are the ones the report read
    rules = {f"{left} {rel} {right}": rel for left, rel, right, _ in CLAIMS}
    for claim, delta, se, resolve, verdict in rows:
        left, _, right = claim.split()
        runs = evals.seeds.get(left, [left])
        if len(runs) > 1:
            diff, error, _, _ = seeds_difference(
                [(evals.metrics[r][bench], evals.problems[r][bench]) for r in runs],
                evals.metrics[right][bench], evals.problems[right][bench])
        else:
            diff, error, kind = difference(evals.metrics[left][bench], evals.metrics[right][bench],
                                           evals.problems[left][bench], evals.problems[right][bench])
            assert kind == "paired"
        assert delta == f"{REPORT['claims'][claim]:+.1f}" == f"{100 * diff:+.1f}", claim
        assert (se, resolve) == (f"{100 * error:.1f}", f"{200 * error:.1f}"), claim
        rel = rules[claim]
        expected = ("holds" if diff > 2 * error else "within noise") if rel == ">" else (
            "holds" if diff >= -2 * error else "fails")
        assert verdict == expected, claim


def test_every_relative_link_in_the_readme_and_docs_resolves():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    assert len(pages) >= 8
    checked = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            assert resolved.exists(), f"{page.relative_to(REPO)}: {target}"
            if anchor:
                headings = {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-")
                            for h in re.findall(r"^#+ (.+)$", resolved.read_text(), re.MULTILINE)}
                assert anchor in headings, f"{page.relative_to(REPO)}: {target}"
            checked += 1
    assert checked >= 15


def test_the_readme_is_a_front_page():
    assert len(README.splitlines()) <= 250
    assert not re.search(r"\.\./shared", README)  # users have no such folder
