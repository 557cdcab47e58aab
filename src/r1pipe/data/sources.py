"""Turn the ``prepare.sources`` list into prompt rows."""

from __future__ import annotations

from r1pipe.config.prepare import PrepareSection, Source
from r1pipe.data import arithmetic
from r1pipe.data.files import read_hub, read_rows
from r1pipe.data.tasks import EMPTY, to_rows
from r1pipe.data.templates import make_prompt


def _raw(source: Source, split: str, seed: int, exclude: set[str]) -> list[dict]:
    if source.kind == "arithmetic":
        n = source.n_train if split == "train" else source.n_test
        rows = arithmetic.generate(n, source.difficulty, seed=seed * 2 + (split == "test"), exclude=exclude)
        return [{**EMPTY, **r} for r in rows]
    where = source.train if split == "train" else source.test
    if not where:
        return []
    limit = source.limit_train if split == "train" else source.limit_test
    raw = read_rows(where) if source.kind == "file" else read_hub(source.dataset, where, source.subset)
    return to_rows(raw[:limit], source.task, source.columns, source.answer_format, source.question_template, where)


def build_splits(cfg: PrepareSection) -> dict[str, list[dict]]:
    """Rows for train and test. Generated test questions never repeat a train question."""
    splits: dict[str, list[dict]] = {"train": [], "test": []}
    for source in cfg.sources:
        seen: set[str] = set()
        for split in ("train", "test"):
            raw = _raw(source, split, cfg.seed, exclude=seen)
            seen.update(r["question"] for r in raw)
            for i, r in enumerate(raw):
                question = r.pop("question")
                splits[split].append({"id": f"{source.name}/{split}/{i}", "source": source.name, "task": source.task,
                                      "prompt": make_prompt(cfg.system_prompt, question), **r})
    return splits
