"""The front page's numbers come from the committed run, and every relative link in README.md and docs/ resolves."""

import json
import re

from conftest import REPO
from r1pipe.report.claims import CLAIMS, claims, difference, seeds_difference
from r1pipe.report.lineage import read_evals

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
# Claims whose rule changed since the committed run: today's report judges them otherwise on the same evals, and
# the README's "Changed since this run" gives today's value (claim: its sentence, formatted with Δ and SE).
CHANGED_SINCE_RUN = {"C > zero": "C > zero, judged over zero's three seeds too, is {delta} (SE {se}) from the "
                                 "committed evals"}


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
    same = [c for c in REPORT["claims"] if c not in CHANGED_SINCE_RUN]
    # the committed per-problem files are the ones the report read
    assert {c: deltas[c] for c in same} == {c: REPORT["claims"][c] for c in same}
    rules = {f"{left} {rel} {right}": rel for left, rel, right, _ in CLAIMS}
    for claim, delta, se, resolve, verdict in rows:
        left, _, right = claim.split()
        runs, rivals = evals.seeds.get(left, [left]), evals.seeds.get(right, [right])
        if claim in CHANGED_SINCE_RUN:  # the README says what today's rule gives
            diff, error, _, _ = seeds_difference(
                [(evals.metrics[r][bench], evals.problems[r][bench]) for r in runs],
                [(evals.metrics[r][bench], evals.problems[r][bench]) for r in rivals])
            said = CHANGED_SINCE_RUN[claim].format(delta=f"{100 * diff:+.1f}", se=f"{100 * error:.1f}")
            assert said in prose(README), said
            continue
        if len(runs) > 1 or len(rivals) > 1:
            diff, error, _, _ = seeds_difference(
                [(evals.metrics[r][bench], evals.problems[r][bench]) for r in runs],
                [(evals.metrics[r][bench], evals.problems[r][bench]) for r in rivals])
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


def prose(text: str) -> str:
    """The running text of a markdown page: no code blocks, tables or link targets; inline code unquoted and
    lines joined, so a phrase reads the same wherever the page wraps it."""
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("|"))
    text = re.sub(r"\]\([^)]*\)", "]", text).replace("`", "").replace("**", "")
    return " ".join(text.split())


def sourced_phrases() -> dict[str, str]:
    """Each number-bearing phrase of the README's front page, built from the committed file it comes from
    (phrase: source). A phrase built here that the README lacks fails; so does a number the README states
    outside every phrase here."""
    import yaml

    lock = {name: stage.get("params", {}).get("params.yaml", {})
            for name, stage in yaml.safe_load((REPO / "dvc.lock").read_text())["stages"].items()}
    logs = {str(p.relative_to(REPO / "models")).removesuffix(".run.json"): json.loads(p.read_text())
            for p in (REPO / "models").glob("**/*.run.json")}
    default_runs = (REPO / "bench/default_runs.md").read_text()
    committed_run = default_runs.split("## The committed run")[1].split("\n## ")[0]
    machine = logs["A"]["work"]["machine"]
    rates = machine["gemm_gflops"]
    source = lock["prepare"]["prepare"]["sources"][0]
    difficulty = source["difficulty"]
    seeds = {section: 1 + sum(name.startswith(f"{section}_seed@") for name in lock)
             for section in ("rl_reasoning", "rl_all", "rl_zero")}
    count = ['', 'one', 'two', 'three', 'four']

    def rate(lr):
        return f"{float(lr):.0e}".replace("e-0", "e-")  # 6e-06 as the README writes it: 6e-6

    def steps(section):
        s = lock[section][section]
        return (f"{s['max_steps']} steps × {s['per_device_train_batch_size'] * logs['B']['processes']} completions "
                f"(seed 0 of {seeds[section]})")

    evals = read_evals(list(REPORT["pass@1"]), REPO / "metrics/eval", REPO / "metrics/seeds")
    bench = next(iter(evals.metrics["A"]))

    def per_seed(model, parent):
        deltas = [difference(evals.metrics[run][bench], evals.metrics[parent][bench], evals.problems[run][bench],
                             evals.problems[parent][bench])[0] for run in evals.seeds[model]]
        return ", ".join(f"{100 * d:+.1f}" for d in deltas).replace("-", "−")

    zero_runs = [(evals.metrics[r][bench], evals.problems[r][bench]) for r in evals.seeds["zero"]]
    c_zero, c_zero_se, _, _ = seeds_difference([(evals.metrics["C"][bench], evals.problems["C"][bench])], zero_runs)
    dead = {name: re.search(r"0 at (\d+) of (\d+) logged steps", log.get("warning") or "")
            for name, log in logs.items() if name.split("/")[-1].startswith("zero")}
    dead = [m for m in dead.values() if m]
    kept = json.loads((REPO / "metrics/reject_sample.json").read_text())["kept"]
    assert "2 cores" in committed_run and "GEMM 2048²" in committed_run
    install = re.search(r"install (\d+ s)", " ".join(committed_run.split())).group(1)
    repro = re.search(r"\((\d+ min \d+ s)\)", committed_run).group(1)
    dtypes = {log["work"]["dtype"] for name, log in logs.items() if "work" in log}
    assert len(dtypes) == 1  # "chose <dtype> for every stage"
    phrases = {
        f"default of {logs['A']['finished'][:10]} at commit {logs['A']['code_version'].split('+')[1]}": "run logs",
        f"2-core {machine['name']} with {machine['bf16_flags'][0].upper()}": "run logs, bench/default_runs.md",
        f"float32 {rates['float32']} GFLOP/s, bf16 {rates['bfloat16']} GFLOP/s": "run logs",
        "GEMM 2048²": "bench/default_runs.md",
        f"{install} to install and {repro}": "bench/default_runs.md",
        f"{'Two' if difficulty + 1 == 2 else difficulty + 1}-operation arithmetic word problems (numbers up to "
        f"{10 ** min(difficulty, 3)}), {source['n_test']} held-out problems": "dvc.lock prepare, data/arithmetic.py",
        f"SFT on {lock['coldstart']['coldstart']['max_samples']} worked solutions": "dvc.lock coldstart",
        f"GRPO, {steps('rl_reasoning')}": "dvc.lock rl_reasoning",
        f"GRPO, {steps('rl_all')}": "dvc.lock rl_all",
        f"GRPO on the base, {steps('rl_zero')}": "dvc.lock rl_zero",
        f"B's {kept} rejection samples": "metrics/reject_sample.json",
        f"{lock['base_student']['base_student']['layers']} layers of the base, distilled on the same {kept} "
        "samples": "dvc.lock base_student",
        f"B, D and zero over their {count[seeds['rl_reasoning']]} seeds": "dvc.lock *_seed",
        "beyond 2 SE, so 2 SE": "the report's rule, test_every_claim_is_the_committed_reports_...",
        f"D ≥ C holds over {count[seeds['rl_all']]} seeds ({per_seed('D', 'C')}) with rl_all at learning rate "
        f"{rate(lock['rl_all']['rl_all']['learning_rate'])}": "dvc.lock rl_all, metrics/eval, metrics/seeds",
        f"B > A holds over {count[seeds['rl_reasoning']]} seeds ({per_seed('B', 'A')})": "metrics/eval, metrics/seeds",
        f"R1-Zero's {count[seeds['rl_zero']]} runs ({per_seed('zero', 'base')})": "metrics/eval, metrics/seeds",
        f"the report flags {count[len(dead)]} of them dead (gradient norm 0 at {dead[0][1]} of its {dead[0][2]} "
        "logged steps)": "models/seeds/zero-*.run.json",
        f"dtype: auto chose {dtypes.pop()} for every stage": "run logs",
        "bf16 at half its float32 rate": "run logs' GEMM rates",
        "do not beat the base by 2 SE": "the claims table's verdict for zero > base (the report's rule)",
        f"C > zero, judged over zero's {count[seeds['rl_zero']]} seeds too, is {100 * c_zero:+.1f} (SE "
        f"{100 * c_zero_se:.1f}) from the committed evals, where the table's {REPORT['claims']['C > zero']:+.1f} is "
        "against zero's seed 0 alone": "metrics/eval, metrics/seeds, metrics/report.json (today's rule)",
    }
    assert next(r for r in table("claim") if r[0] == "zero > base")[-1] == "within noise"
    assert seeds["rl_reasoning"] == seeds["rl_all"] == seeds["rl_zero"]
    assert round(rates["float32"] / rates["bfloat16"]) == 2  # "half its float32 rate"
    # Numbers of other runs, quoted from the bench pages that record them (each names its machine there).
    for phrase, page, text in [
        ("the run of 2026-12-04, at 2e-5 and one seed, failed it (−9.8, SE 1.9", "bench/default_runs.md",
         "| `rl_all` seed 0, bf16 (the run's D) | 87.5%, 28.1%, 18.8% | 61.1 | −9.8 ± 1.9 vs C |"),
        ("B − B_random is +21.0 (SE 13.3) over three seeds each", "bench/rl_experiments.md",
         "**B − B_random +21.0 (SE 13.3)**"),
    ]:
        assert text in (REPO / page).read_text(), (phrase, page)
        phrases[phrase] = page
    return phrases


def test_every_number_on_the_front_page_comes_from_a_committed_file():
    # The running text and the result table's stage column (its numbers are the other tests').
    text = " ".join([prose(README), *(row[1] for row in table("model"))])
    phrases = sourced_phrases()
    for phrase, source in phrases.items():
        assert phrase in text, f"README lacks {phrase!r} ({source})"
        text = text.replace(phrase, " ")
    # What is left: names with digits in them, and the paper.
    text = re.sub(r"\S*r1\S*|R1(-Zero)?|SmolLM2-135M-Instruct|arXiv 2501\.12948|AVX512_BF16|bf16|float32|pass@1",
                  " ", text, flags=re.IGNORECASE)
    left = re.findall(r"[^\s]*\d[^\s]*", text)
    assert not left, f"numbers on the front page without a source in this test: {left}"


def test_every_engine_a_test_scripts_is_listed_in_docs_testing_with_its_reason():
    """A class in tests/ that answers ``generate`` stands in for a real engine: docs/testing.md names it."""
    testing = (REPO / "docs/testing.md").read_text()
    listed = set(re.findall(r"^\| `(\w+)` \|", testing, re.MULTILINE))
    scripted = {name for path in (REPO / "tests").glob("*.py")
                for name, body in re.findall(r"^ *class (\w+)[:(](.*?)(?=^ *class |\Z)", path.read_text(),
                                             re.MULTILINE | re.DOTALL)
                if re.search(r"def generate\(self, prompts", body)}
    assert scripted and scripted <= listed, sorted(scripted - listed)


def test_each_measured_number_in_docs_is_in_the_results_file_it_cites():
    """A paragraph of docs/ that cites a file under bench/results/ states only measured decimals (seconds, rates,
    shares, ratios) that the file holds, to the decimals the page gives: no number drifts from its source."""
    checked = 0
    for page in sorted((REPO / "docs").glob("*.md")):
        text = re.sub(r"```.*?```", " ", page.read_text(), flags=re.DOTALL)
        for paragraph in re.split(r"\n\s*\n|\n(?=- )", text):
            cited = re.findall(r"bench/results/[\w.\-]+", paragraph)
            if not cited:
                continue
            held = " ".join((REPO / c).read_text() for c in cited)
            values = [float(v.replace(",", "")) for v in re.findall(r"\d[\d,]*\.\d+", held)]
            measured = r"(?<=x)\d+\.\d+|(?<![\w.])\d+\.\d+(?=\s*(?:s\b|GFLOP|TFLOP|%|points|bytes|→))"
            for number in re.findall(measured, paragraph):
                decimals = len(number.split(".")[1])
                # a share the file writes as a fraction (0.004) the page may give in percent (0.4%)
                assert any(round(x, decimals) == float(number) for v in values for x in (v, 100 * v)), \
                    f"{page.name}: {number} is not in {', '.join(cited)}"
                checked += 1
    assert checked >= 20
