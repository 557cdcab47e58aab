"""`r1pipe reject-sample`: sample from the RL model, keep what is correct and readable.

    r1pipe reject-sample --model models/B --data data/prompts --out data/sft \
        --metrics metrics/reject_sample.json

Samples ``n`` completions per training prompt, scores them with the shared
rewards, keeps those that pass every enabled filter (at most ``k`` per prompt)
and writes a ``datasets`` directory of prompt/completion rows with their
source prompt id, task and rewards. Acceptance statistics go to ``--metrics``.
"""

from __future__ import annotations

import time
from pathlib import Path

from datasets import Dataset

from r1pipe import R1pipeError
from r1pipe.artifacts import atomic_output, write_json_atomic, write_manifest
from r1pipe.config import RejectSampleSection
from r1pipe.data.io import load_prompts
from r1pipe.data.rejection import reject_sample
from r1pipe.data.templates import apply_template
from r1pipe.engines import Sampling, open_engine
from r1pipe.progress import summary
from r1pipe.rewards import score_groups
from r1pipe.seed import seed_everything

OUTPUT_COLUMNS = ["prompt", "completion", "prompt_id", "task", "source", "n_tokens"]


def run(cfg: RejectSampleSection, model: Path, data: Path, out: Path, metrics: Path, engine=None) -> dict:
    started = time.time()
    seed_everything(cfg.seed)
    rows = load_prompts(data, "train", cfg.max_prompts)
    engine = open_engine(cfg, model, engine)
    sampling = Sampling(cfg.temperature, cfg.top_p, cfg.max_new_tokens)
    prompts = [apply_template(r["prompt"], cfg.template) for r in rows]
    groups = engine.generate(prompts, cfg.n, sampling, cfg.seed, label="reject-sample")
    scores = score_groups(rows, groups, sorted({"accuracy", "format", *cfg.filters}))
    kept, stats = reject_sample(rows, groups, scores, cfg.filters, cfg.k, cfg.select, cfg.seed)
    lengths = [c.n_tokens for g in groups for c in g]
    stats["mean_tokens_sampled"] = sum(lengths) / len(lengths) if lengths else 0.0
    stats["mean_tokens_kept"] = sum(r["n_tokens"] for r in kept) / len(kept) if kept else 0.0
    stats["seconds"] = round(time.time() - started, 2)
    write_json_atomic(metrics, stats)
    if not kept:
        raise R1pipeError(f"reject-sample kept no sample: every one failed a filter (statistics in {metrics})")
    reward_columns = sorted({k for r in kept for k in r if k.startswith("reward_")})
    table = {c: [r[c] for r in kept] for c in OUTPUT_COLUMNS + reward_columns}
    with atomic_output(out) as tmp:
        Dataset.from_dict(table).save_to_disk(str(tmp))
        inputs = {"data": data, **({"model": model} if model else {})}
        write_manifest(tmp, stage="reject_sample", params=cfg.model_dump(), inputs=inputs,
                       parent=str(model) if model else None, started=started, extra={"stats": stats})
    summary("reject-sample", {"data": out, "metrics": metrics},
            {"sampled": stats["sampled"], "accepted": stats["accepted"], "kept": stats["kept"],
             "acceptance_rate": stats["acceptance_rate"]}, started)
    return stats

