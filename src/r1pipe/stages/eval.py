"""`r1pipe eval`: pass@1 over k samples and cons@k on a model's held-out prompts.

    r1pipe eval --model models/A --data data/prompts --split test --out metrics/eval/A.json

Sampling follows the paper (temperature 0.6, top-p 0.95 by default). The
metrics JSON is what `dvc metrics show/diff` compares; a few sample
completions go next to it (``A.samples.json``) for the report.
"""

from __future__ import annotations

import time
from pathlib import Path

from r1pipe.artifacts import write_json_atomic
from r1pipe.config import EvalSection
from r1pipe.engines import sample_prompts
from r1pipe.metrics import eval_metrics
from r1pipe.progress import summary
from r1pipe.rewards import score_groups
from r1pipe.rewards.extract import extract_answer


def run(cfg: EvalSection, model: Path, data: Path, out: Path, split: str = "test", name: str | None = None,
        engine=None) -> dict:
    started = time.time()
    name = name or Path(out).stem
    rows, groups = sample_prompts(cfg, model, data, split, cfg.k, f"eval {name}", engine)
    texts = [[c.text for c in g] for g in groups]
    # pass@1 on code counts a sample right only when every test passes.
    scores = score_groups(rows, groups, {"accuracy": {"code_mode": "binary"}, "format": {}})
    # A prompt whose gold answer cannot be graded (accuracy None) is left out, and counted.
    keep = [i for i, s in enumerate(scores) if None not in s["accuracy"]]
    metrics = eval_metrics(
        answers=[[extract_answer(t) for t in texts[i]] for i in keep],
        correct=[scores[i]["accuracy"] for i in keep],
        formats=[scores[i]["format"] for i in keep],
        n_tokens=[[c.n_tokens for c in groups[i]] for i in keep],
    )
    metrics.update(model=name, skipped_ungradable=len(rows) - len(keep),
                   temperature=cfg.temperature, top_p=cfg.top_p, seconds=round(time.time() - started, 2))
    examples = [
        {"prompt": rows[i]["prompt"][-1]["content"], "answer": rows[i]["answer"], "completion": texts[i][0],
         "correct": scores[i]["accuracy"][0]}
        for i in range(min(cfg.n_examples, len(rows)))
    ]
    write_json_atomic(Path(out).with_suffix(".samples.json"), examples)
    write_json_atomic(out, metrics)
    summary(f"eval {name}", {"metrics": out}, {k: metrics[k] for k in ("pass@1", "cons@k", "format_rate",
                                                                         "mean_tokens")}, started)
    return metrics
