"""`r1pipe prepare`: write the train, test and validation prompt datasets from the task sources.

    r1pipe prepare --out data/prompts

Each row has ``prompt`` (chat messages asking for <think> and <answer>),
``answer`` (gold, as a string), ``task``, ``solution`` (worked solution or ""),
``source`` and ``id``. The output is a DatasetDict with ``train``, ``test`` and, where a source has one,
``validation``: settings are chosen on validation, the report judges on test.
"""

from __future__ import annotations

import random
from pathlib import Path

from datasets import Dataset, DatasetDict

from r1pipe import R1pipeError
from r1pipe.artifacts import stage_output
from r1pipe.config.prepare import PrepareSection
from r1pipe.data.sources import build_splits


def run(cfg: PrepareSection, out: Path) -> None:
    with stage_output("prepare", out, code=__name__, params=cfg.resolved(), inputs=cfg.local_files()) as run:
        splits = build_splits(cfg)
        if not splits["train"]:
            raise R1pipeError("prepare: the sources produced no training rows")
        random.Random(cfg.seed).shuffle(splits["train"])
        DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items() if rows}).save_to_disk(str(run.dir))
        run.extra["rows"] = {k: len(v) for k, v in splits.items()}
        run.numbers.update({f"{k} rows": len(v) for k, v in splits.items()})
