"""The front page's numbers come from the committed run, and every relative link in README.md and docs/ resolves."""

import json
import re

from conftest import REPO
from r1pipe.stages.report import CLAIMS, difference

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


def test_the_result_table_is_the_committed_run():
    rows = table("model")
    # Every committed model, and only those (the metrics, not the run logs or per-problem files).
    assert {r[0] for r in rows} == {p.stem for p in (REPO / "metrics/eval").glob("*.json") if "." not in p.stem}
    for model, _, pass1, fmt, tokens in rows:
        m, _ = committed(model)
        assert pass1 == f"{100 * m['pass@1']:.1f} ± {100 * m['pass@1_se']:.1f}", model
        assert fmt == f"{100 * m['format_rate']:.1f}" and tokens == f"{m['mean_tokens']:.1f}", model


def test_every_claim_is_recomputed_from_the_committed_per_problem_scores():
    rows = table("claim")
    rules = {f"{left} {rel} {right}": rel for left, rel, right, _ in CLAIMS}
    assert len(rows) >= 4
    for claim, delta, se, resolve, verdict in rows:
        left, _, right = claim.split()
        (a, per_a), (b, per_b) = committed(left), committed(right)
        diff, error, kind = difference(a, b, per_a, per_b)
        assert kind == "paired"
        assert (delta, se, resolve) == (f"{100 * diff:+.1f}", f"{100 * error:.1f}", f"{200 * error:.1f}"), claim
        if verdict == "not tested":
            continue  # a side whose RL never had an advantage (the report reads that from its RL log)
        rel = rules.get(claim, ">")
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
