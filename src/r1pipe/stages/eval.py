"""`r1pipe eval`: pass@1 over k samples, cons@k and more, on every configured benchmark.

    r1pipe eval --model models/A --data data/prompts --out metrics/eval/A.json

Benchmarks come from ``eval.benchmarks``: ready-made ones by name (arithmetic,
gsm8k, math500, aime2024, aime2025, amc23, humaneval, mbpp, countdown) or your
own files and hub datasets. Sampling follows the paper (temperature 0.6, top-p
0.95 by default). The metrics JSON, one block per benchmark, is what
`dvc metrics show/diff` compares; a few sample completions (``A.samples.json``) and
each problem's pass@1 by id (``A.problems.json``, for paired comparisons) go next to it
for the report. Finished batches are kept in ``metrics/eval/.A.json.work`` until the
stage ends, so a killed run resumes from them (``r1pipe.engines.journal``).
"""

from __future__ import annotations

from pathlib import Path

from transformers import set_seed

from r1pipe import distributed
from r1pipe.answers import extract_answer
from r1pipe.artifacts import stage_output
from r1pipe.config.sampling import EvalSection
from r1pipe.data import benchmarks
from r1pipe.data.templates import apply_template, mark_prefilled
from r1pipe.engines import Sampling, open_engine
from r1pipe.engines.journal import Journal
from r1pipe.manifest import manifest_sha256
from r1pipe.metrics import eval_metrics
from r1pipe.rewards import combined_groups, score_groups
from r1pipe.rewards.sandbox import require as require_sandbox
from r1pipe.work import work_log
from r1pipe.workdir import fingerprint, work_dir


def evaluate(engine, rows: list[dict], cfg: EvalSection, k: int, sampling: Sampling, label: str,
             journal: Journal | None = None) -> tuple[dict, list[dict], dict[str, float]] | None:
    """Metrics of one benchmark's rows, a few example completions, and each problem's pass@1 by id (for the
    report's paired comparisons). Every process generates its share; the main one grades (the others get
    None)."""
    prompts = [apply_template(r["prompt"], cfg.template) for r in rows]
    groups = engine.generate(prompts, k, sampling, cfg.seed, label=label, journal=journal)
    if not distributed.is_main():
        return None
    rows = mark_prefilled(rows, cfg.template, engine.think_prefilled)
    # pass@1 on code counts a sample right only when every test passes.
    scores = score_groups(rows, groups, {"accuracy": {"code_mode": "binary"}, "format": {}})
    # A prompt whose gold answer cannot be graded (accuracy None) is left out, and counted.
    keep = [i for i, s in enumerate(scores) if None not in s["accuracy"]]
    metrics = eval_metrics(
        answers=[[extract_answer(c.text) for c in groups[i]] for i in keep],
        correct=[scores[i]["accuracy"] for i in keep],
        formats=[scores[i]["format"] for i in keep],
        n_tokens=[[c.n_tokens for c in groups[i]] for i in keep],
        pass_k=cfg.pass_k,
    )
    weighted = combined_groups([rows[i] for i in keep], [groups[i] for i in keep], cfg.reward_specs())
    combined = [r for group in weighted for r in group if r is not None]
    metrics.update(skipped_ungradable=len(rows) - len(keep), temperature=sampling.temperature, top_p=sampling.top_p,
                   reward=sum(combined) / len(combined) if combined else 0.0)
    examples = [{"prompt": rows[i]["prompt"][-1]["content"], "answer": rows[i]["answer"],
                 "completion": groups[i][0].text, "correct": scores[i]["accuracy"][0]}
                for i in range(min(cfg.n_examples, len(rows)))]
    problems = {str(rows[i].get("id", i)): sum(scores[i]["accuracy"]) / len(scores[i]["accuracy"]) for i in keep}
    return metrics, examples, problems


def run(cfg: EvalSection, model: Path, data: Path, out: Path, name: str | None = None, engine=None) -> dict:
    name = name or Path(out).stem
    samples, per_problem = Path(out).with_suffix(".samples.json"), Path(out).with_suffix(".problems.json")
    inputs = {"model": model, "data": data, **cfg.local_files()}
    with work_dir(out) as work, stage_output(f"eval {name}", out, code=__name__, manifest=False, inputs=inputs,
                                             side=(samples, per_problem)) as run:
        set_seed(cfg.seed)
        suites = []  # (benchmark, its rows), all read before the model loads
        for bench in cfg.benchmarks:
            b = benchmarks.resolve(bench, cfg.data_dir)
            if b.limit is None and cfg.max_prompts:
                b.limit = cfg.max_prompts
            suites.append((b, benchmarks.load(b, data, cfg.system_prompt)))
        unsafe = require_sandbox([r.get("task", "math") for _, rows in suites for r in rows], cfg.sandbox, "eval")
        engine = open_engine(cfg, model, engine)
        # Finished batches are kept in the work directory: a killed run resumes from them.
        journal = Journal(work, fingerprint(cfg.model_dump(), inputs, __name__))
        results, examples, problems = {}, {}, {}
        for b, rows in suites:
            sampling = Sampling(cfg.temperature if b.temperature is None else b.temperature,
                                b.top_p or cfg.top_p, b.max_new_tokens or cfg.max_new_tokens)
            graded = evaluate(engine, rows, cfg, b.k or cfg.k, sampling, f"eval {name}: {b.name}", journal)
            if graded:
                results[b.name], examples[b.name], problems[b.name] = graded
        dtype = getattr(engine, "dtype", None)
        compute = work_log(getattr(engine, "work", None), dtype)  # every process's part, summed
        if not distributed.is_main():
            return results
        run.log["batches"] = journal.counts()
        if model is not None:  # which model it scored: the report leaves out an eval of one made since
            run.log["model"] = {"path": str(model), "manifest_sha256": manifest_sha256(model)}
        if compute:
            run.log["work"] = compute
        if dtype:  # beside the benchmarks' blocks: the weights the scores were generated with
            results["dtype"] = dtype
        if unsafe:  # beside the benchmarks' blocks, so that the report and `dvc metrics show` say so
            results["sandbox"] = run.numbers["sandbox"] = unsafe
        run.write_json(samples, examples, "samples")
        run.write_json(per_problem, problems, "problems")
        run.write_json(out, results)
        run.numbers.update({f"{b} {key}": m[key] for b, m in results.items() if isinstance(m, dict)
                            for key in ("pass@1", "cons@k", "format_rate")})
    return results
