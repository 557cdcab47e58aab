"""Turn the ``prepare.sources`` list into prompt rows."""

from __future__ import annotations

from r1pipe.config.prepare import PrepareSection, Source
from r1pipe.data import arithmetic
from r1pipe.data.files import read_hub, read_rows
from r1pipe.data.tasks import EMPTY, to_rows
from r1pipe.data.templates import make_prompt

SPLITS = ("train", "test", "validation")  # in this order: each generated split excludes the questions before it
# The arithmetic generator's seed per split: train and test as before validation existed (their rows unchanged).
_SEEDS = {"train": lambda seed: seed * 2, "test": lambda seed: seed * 2 + 1,
          "validation": lambda seed: 1_000_003 + seed}


def _raw(source: Source, split: str, seed: int, exclude: set[str]) -> list[dict]:
    if source.kind == "arithmetic":
        n = getattr(source, f"n_{split}")
        rows = arithmetic.generate(n, source.difficulty, seed=_SEEDS[split](seed), exclude=exclude)
        return [{**EMPTY, **r} for r in rows]
    where = getattr(source, split)
    if not where:
        return []
    limit = getattr(source, f"limit_{split}")
    raw = read_rows(where) if source.kind == "file" else read_hub(source.dataset, where, source.subset)
    return to_rows(raw[:limit], source.task, source.columns, source.answer_format, source.question_template, where)


def build_splits(cfg: PrepareSection) -> dict[str, list[dict]]:
    """Rows for train, test and validation. A generated question never repeats one of an earlier split: test
    repeats no train question, validation neither."""
    splits: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for source in cfg.sources:
        seen: set[str] = set()
        for split in SPLITS:
            raw = _raw(source, split, cfg.seed, exclude=seen)
            seen.update(r["question"] for r in raw)
            for i, r in enumerate(raw):
                question = r.pop("question")
                splits[split].append({"id": f"{source.name}/{split}/{i}", "source": source.name, "task": source.task,
                                      "prompt": make_prompt(cfg.system_prompt, question), **r})
    return splits
