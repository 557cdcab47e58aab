"""Turn the ``prepare.sources`` list into prompt rows."""

from __future__ import annotations

import math
import random

from r1pipe import R1pipeError
from r1pipe.config.prepare import PrepareSection, Source
from r1pipe.data import arithmetic
from r1pipe.data.files import read_hub, read_rows
from r1pipe.data.tasks import EMPTY, to_rows
from r1pipe.data.templates import make_prompt

SPLITS = ("train", "test", "validation")  # in this order: each generated split excludes the questions before it
# The arithmetic generator's seed per split: train and test as before validation existed (their rows unchanged).
_SEEDS = {"train": lambda seed: seed * 2, "test": lambda seed: seed * 2 + 1,
          "validation": lambda seed: 1_000_003 + seed}


def _generated(source: Source, split: str, seed: int, exclude: set[str]) -> list[dict]:
    rows = arithmetic.generate(getattr(source, f"n_{split}"), source.difficulty, seed=_SEEDS[split](seed),
                               exclude=exclude)
    return [{**EMPTY, **r} for r in rows]


def _read(source: Source, split: str) -> list[dict]:
    where = getattr(source, split)
    if not where:
        return []
    return read_rows(where) if source.kind == "file" else read_hub(source.dataset, where, source.subset)


def _read_splits(source: Source, seed: int) -> dict[str, list[dict]]:
    """A file or hub source's raw rows per split: its own files, or test and validation cut out of its train rows
    (``test_size``, ``validation_size``: a share of all rows below 1, else a number) after one seeded shuffle."""
    if not (source.test_size or source.validation_size):
        return {split: _read(source, split) for split in SPLITS}
    rows = _read(source, "train")
    order = list(range(len(rows)))
    random.Random(f"{seed}/{source.name}").shuffle(order)
    n_test, n_validation = (_size(getattr(source, f"{split}_size"), len(rows)) for split in ("test", "validation"))
    if n_test + n_validation >= len(rows):
        raise R1pipeError(f"{source.name}: test_size and validation_size take {n_test + n_validation} of the "
                          f"{len(rows)} rows of {source.train}, leaving none to train on")
    picked = {"test": order[:n_test], "validation": order[n_test:n_test + n_validation],
              "train": order[n_test + n_validation:]}
    cut = {split: [rows[i] for i in sorted(picked[split])] for split in SPLITS}
    # A split with its own file is that file's (the validator allows a file or a size per split, not both).
    return {split: _read(source, split) if split != "train" and getattr(source, split) else cut[split]
            for split in SPLITS}


def _size(size: float | int | None, n: int) -> int:
    """datasets' ``train_test_split`` convention: a float below 1 is a share (rounded up), else a count."""
    if size is None:
        return 0
    return math.ceil(size * n) if isinstance(size, float) and size < 1 else int(size)


def build_splits(cfg: PrepareSection) -> dict[str, list[dict]]:
    """Rows for train, test and validation. A generated question never repeats one of an earlier split: test
    repeats no train question, validation neither."""
    splits: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for source in cfg.sources:
        seen: set[str] = set()
        raws = None if source.kind == "arithmetic" else _read_splits(source, cfg.seed)
        for split in SPLITS:
            if raws is None:
                rows = _generated(source, split, cfg.seed, exclude=seen)
            else:
                limit = getattr(source, f"limit_{split}")
                rows = to_rows(raws[split][:limit], source.task, source.columns, source.answer_format,
                               source.question_template, getattr(source, split) or source.train)
            seen.update(r["question"] for r in rows)
            for i, r in enumerate(rows):
                question = r.pop("question")
                splits[split].append({"id": f"{source.name}/{split}/{i}", "source": source.name, "task": source.task,
                                      "prompt": make_prompt(cfg.system_prompt, question), **r})
    return splits
