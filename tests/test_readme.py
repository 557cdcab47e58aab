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
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    logs = {p.name.removesuffix(".run.json"): json.loads(p.read_text()) for p in (REPO / "models").glob("*.run.json")}
    default_runs = (REPO / "bench/default_runs.md").read_text()
    committed_run = default_runs.split("## The committed run")[1].split("\n## ")[0]
    rl_experiments = (REPO / "bench/rl_experiments.md").read_text()
    machine = logs["A"]["work"]["machine"]
    rates = machine["gemm_gflops"]
    source = lock["prepare"]["prepare"]["sources"][0]
    difficulty = source["difficulty"]
    seeds_b = 1 + sum(name.startswith("rl_reasoning_seed@") for name in lock)

    def rate(lr):
        return f"{float(lr):.0e}".replace("e-0", "e-")  # 2e-05 as the README writes it: 2e-5

    def steps(section):
        s = lock[section][section]
        return f"{s['max_steps']} steps × {s['per_device_train_batch_size'] * logs['B']['processes']} completions"

    accuracy = [float(line.split("\t")[1]) for line in
                (REPO / "dvclive/rl_all/plots/metrics/accuracy.tsv").read_text().splitlines()[1:]]
    evals = read_evals(list(REPORT["pass@1"]), REPO / "metrics/eval", REPO / "metrics/seeds")
    bench = next(iter(evals.metrics["A"]))
    per_seed = [difference(evals.metrics[b][bench], evals.metrics["A"][bench], evals.problems[b][bench],
                           evals.problems["A"][bench])[0] for b in evals.seeds["B"]]
    zero_warning = re.search(r"0 at (\d+) of (\d+) logged steps", logs["zero"]["warning"])
    kept = json.loads((REPO / "metrics/reject_sample.json").read_text())["kept"]
    assert "2 cores" in committed_run and "GEMM 2048²" in committed_run
    install = re.search(r"install (\d+ s)", " ".join(committed_run.split())).group(1)
    repro = re.search(r"\((\d+ min \d+ s)\)", committed_run).group(1)
    phrases = {
        f"default of {logs['A']['finished'][:10]} at commit {logs['A']['code_version'].split('+')[1]}": "run logs",
        "2-core " + f"{machine['cpu']} with {machine['bf16_flags'][0].upper()}": "run logs, bench/default_runs.md",
        f"float32 {rates['float32']} GFLOP/s, bf16 {rates['bfloat16']} GFLOP/s": "run logs",
        "GEMM 2048²": "bench/default_runs.md",
        f"{install} to install and {repro}": "bench/default_runs.md",
        f"{'Two' if difficulty + 1 == 2 else difficulty + 1}-operation arithmetic word problems (numbers up to "
        f"{10 ** min(difficulty, 3)}), {source['n_test']} held-out problems": "dvc.lock prepare, data/arithmetic.py",
        f"seed 0 of {seeds_b}": "dvc.lock rl_reasoning_seed",
        f"SFT on {lock['coldstart']['coldstart']['max_samples']} worked solutions": "dvc.lock coldstart",
        f"GRPO, {steps('rl_reasoning')}": "dvc.lock rl_reasoning",
        f"GRPO, {steps('rl_all')}": "dvc.lock rl_all",
        f"GRPO on the base, {steps('rl_zero')}": "dvc.lock rl_zero",
        f"B's {kept} rejection samples": "metrics/reject_sample.json",
        f"{lock['base_student']['base_student']['layers']} layers of the base, distilled on the same {kept} "
        "samples": "dvc.lock base_student",
        f"B over its {['', 'one', 'two', 'three', 'four'][seeds_b]} seeds": "dvc.lock rl_reasoning_seed",
        "beyond 2 SE, so 2 SE": "the report's rule, test_every_claim_is_the_committed_reports_...",
        f"{['', 'One', 'Two', 'Three'][lock['rl_all']['rl_all']['max_steps']]} GRPO steps of rl_all at learning rate "
        f"{rate(lock['rl_all']['rl_all']['learning_rate'])} took the sampled accuracy from "
        + " to ".join(f"{100 * a:.1f}%" for a in accuracy): "dvclive/rl_all",
        f"gradient norm 0 at {zero_warning[1]} of its {zero_warning[2]} logged steps": "models/zero.run.json",
        f"B > A holds over {['', 'one', 'two', 'three'][seeds_b]} seeds ("
        + ", ".join(f"{100 * d:+.1f}" for d in per_seed) + ")": "metrics/eval, metrics/seeds",
        f"rl_all.learning_rate {rate(lock['rl_all']['rl_all']['learning_rate'])} → "
        f"{rate(params['rl_all']['learning_rate'])}": "dvc.lock, params.yaml",
        f"({params['seeds']['rl_all']}: D ≥ C and zero > base judged over {1 + len(params['seeds']['rl_all'])} "
        "seeds)": "params.yaml",
        f"n_validation: {params['prepare']['sources'][0]['n_validation']}": "params.yaml",
    }
    assert params["seeds"]["rl_zero"] == params["seeds"]["rl_all"]
    assert {log["work"]["dtype"] for log in logs.values() if "work" in log} == {"bfloat16"}  # "chose bf16"
    # Numbers of other runs, quoted from the bench pages that record them (each names its machine there).
    for phrase, page, text in [
        ("D 60.4", "bench/default_runs.md", "| 60.4 |"),
        ("seed 1 of the same stage from the same C lost 2.7 points", "bench/default_runs.md",
         "| `rl_all --seed 1`, bf16 | 68.8%, 93.8%, 65.6% | 68.2 | −2.7 ± 2.0 vs C |"),
        ("2026-12-02 held at +0.2", "bench/default_runs.md", "(2026-12-02, "),
        ("2e-5 is a learning rate that already lost 21.9 points", "bench/rl_experiments.md",
         "| 2e-5 (the old default) | 43.0 ± 4.4 | −21.9 (SE 6.1, unpaired) |"),
        ("validation split over 3 seeds (D − C +0.7, SE 1.3, against −3.3 at 2e-5", "bench/rl_experiments.md",
         "| **6e-6 (new default)** | +1.6, −1.2, +1.6 | +0.7 (1.3) |"),
    ]:
        assert text in (REPO / page).read_text(), (phrase, page)
        phrases[phrase] = page
    assert "| 2e-5 (old default) | +1.6, −6.2, −5.1 | −3.3 (2.8) |" in rl_experiments
    assert "D ≥ C held there (+0.2)" in default_runs
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
