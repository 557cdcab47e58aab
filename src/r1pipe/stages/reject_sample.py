"""`r1pipe reject-sample`: sample from the RL model, keep what is correct and readable.

    r1pipe reject-sample --model models/B --data data/prompts --out data/sft \
        --metrics metrics/reject_sample.json

Samples ``n`` completions per training prompt (engine ``hf`` or ``vllm``), scores
them with the shared rewards, keeps those that pass every enabled filter (see
``r1pipe.data.filters``), drops duplicates, keeps at most ``k`` per prompt, mixes
in non-reasoning data at ``non_reasoning_ratio``, and writes a ``datasets``
directory of prompt/completion rows with their source, task, rewards and filter
results. Acceptance statistics go to ``--metrics``. Finished batches of samples are kept
in ``data/.sft.work`` until the stage ends, so a killed run resumes from them
(``r1pipe.engines.journal``).
"""

from __future__ import annotations

import random
from pathlib import Path

from datasets import Dataset
from transformers import set_seed

from r1pipe import R1pipeError, distributed
from r1pipe.artifacts import stage_output
from r1pipe.config.sampling import RejectSampleSection
from r1pipe.data.files import read_rows
from r1pipe.data.filters import check_filters
from r1pipe.data.io import load_prompts
from r1pipe.data.judge import RUBRIC, judge_scores
from r1pipe.data.rejection import reject_sample
from r1pipe.data.templates import apply_template, mark_prefilled
from r1pipe.engines import Sampling, make_engine, open_engine
from r1pipe.engines.journal import Journal
from r1pipe.rewards import combined_groups, score_groups
from r1pipe.rewards.sandbox import require as require_sandbox
from r1pipe.work import work_log
from r1pipe.workdir import fingerprint, work_dir


def non_reasoning_rows(path: str, n: int, seed: int) -> list[dict]:
    """``n`` rows of ``question``/``response`` data, standing in for the paper's ~200k general samples."""
    raw = read_rows(path)
    random.Random(seed).shuffle(raw)
    out = []
    for i, r in enumerate(raw[:n]):
        if "question" not in r or "response" not in r:
            raise R1pipeError(f"{path}: row {i}: needs 'question' and 'response' (have: {', '.join(r)})")
        out.append({"prompt": [{"role": "user", "content": str(r["question"])}],
                    "completion": [{"role": "assistant", "content": str(r["response"])}],
                    "prompt_id": f"non_reasoning/{i}", "task": "general", "source": "non_reasoning",
                    "n_tokens": 0})
    return out


def run(cfg: RejectSampleSection, model: Path, data: Path, out: Path, metrics: Path, engine=None,
        judge_engine=None) -> dict:
    inputs = {"data": data, **({"model": model} if model else {}), **cfg.local_files()}
    with work_dir(out) as work, stage_output("reject-sample", out, code=__name__, params=cfg.resolved(),
                                             inputs=inputs, parent=str(model) if model else None,
                                             side=(metrics,)) as run:
        set_seed(cfg.seed)
        rows = load_prompts(data, "train", cfg.max_prompts)
        unsafe = require_sandbox([r.get("task", "math") for r in rows], cfg.sandbox, "reject_sample")
        if unsafe:
            run.extra["sandbox"] = run.numbers["sandbox"] = unsafe
        engine = open_engine(cfg, model, engine)
        sampling = Sampling(cfg.temperature, cfg.top_p, cfg.max_new_tokens)
        prompts = [apply_template(r["prompt"], cfg.template) for r in rows]
        # Finished batches are kept in the work directory: a killed run resumes from them.
        journal = Journal(work, fingerprint(cfg.model_dump(), inputs, __name__))
        groups = engine.generate(prompts, cfg.n, sampling, cfg.seed, label="reject-sample", journal=journal)
        if cfg.judge:  # a generation too: every process takes its share
            judge_engine = judge_engine or make_engine(cfg.engine, cfg.judge.model, batch_size=cfg.batch_size,
                                                       dtype=cfg.dtype)
            verdicts = judge_scores(judge_engine, rows, groups, cfg.judge.rubric or RUBRIC, cfg.judge.tasks,
                                    cfg.judge.max_new_tokens, cfg.seed, journal)
        dtype = getattr(engine, "dtype", None)
        compute = work_log(getattr(engine, "work", None), dtype)  # every process's part (the judge's is its own)
        if not distributed.is_main():  # the main process grades, filters and writes
            return {}
        run.log["batches"] = journal.counts()
        if compute:
            run.log["work"] = compute
        if dtype:
            run.extra["dtype"] = dtype
        rows = mark_prefilled(rows, cfg.template, engine.think_prefilled)
        scores = score_groups(rows, groups, ["accuracy", "format"])
        for score, combined in zip(scores, combined_groups(rows, groups, cfg.reward_specs(), known=scores)):
            score["combined"] = combined  # the weighted reward, as GRPO would see it
        filters = check_filters(cfg.filters)
        if cfg.judge:
            for score, verdict in zip(scores, verdicts):
                score["judge"] = verdict
            filters = {**filters, "judge": {}}
        kept, stats = reject_sample(rows, groups, scores, filters, cfg.k, cfg.select, cfg.seed, cfg.dedup)
        lengths = [c.n_tokens for g in groups for c in g]
        stats["mean_tokens_sampled"] = sum(lengths) / len(lengths) if lengths else 0.0
        stats["mean_tokens_kept"] = sum(r["n_tokens"] for r in kept) / len(kept) if kept else 0.0
        if not kept:
            rejected = ", ".join(f"{f} rejected {v['rejected']}" for f, v in stats["filters"].items())
            raise R1pipeError(f"reject-sample kept no sample of {stats['sampled']}: every one failed a filter "
                              f"({rejected})")
        if cfg.non_reasoning and cfg.non_reasoning_ratio:
            n = round(len(kept) * cfg.non_reasoning_ratio / (1 - cfg.non_reasoning_ratio))
            kept += non_reasoning_rows(cfg.non_reasoning, n, cfg.seed)
            stats["non_reasoning"] = len(kept) - stats["kept"]
        Dataset.from_list(kept).save_to_disk(str(run.dir))
        run.write_json(metrics, stats, "metrics")
        run.extra["stats"] = stats
        run.numbers.update({key: stats[key] for key in ("sampled", "accepted", "kept", "acceptance_rate")})
    return stats
