"""`r1pipe prepare`: write the train and test prompt datasets from the task sources.

    r1pipe prepare --out data/prompts

Each row has ``prompt`` (chat messages asking for <think> and <answer>),
``answer`` (gold, as a string), ``task``, ``solution`` (worked solution or ""),
``source`` and ``id``. The output is a DatasetDict with ``train`` and ``test``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from datasets import Dataset, DatasetDict

from r1pipe import R1pipeError
from r1pipe.artifacts import atomic_output, write_manifest
from r1pipe.config import PrepareSection
from r1pipe.data.sources import build_splits
from r1pipe.progress import summary


def run(cfg: PrepareSection, out: Path) -> None:
    started = time.time()
    splits = build_splits(cfg)
    if not splits["train"]:
        raise R1pipeError("prepare: the sources produced no training rows")
    random.Random(cfg.seed).shuffle(splits["train"])
    data = DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items() if rows})
    inputs = {f"{s.name}:{split}": p for s in cfg.sources for split, p in (("train", s.train), ("test", s.test)) if p}
    with atomic_output(out) as tmp:
        data.save_to_disk(str(tmp))
        write_manifest(tmp, stage="prepare", params=cfg.model_dump(), inputs=inputs, started=started,
                       extra={"rows": {k: len(v) for k, v in splits.items()}})
    summary("prepare", {"prompts": out}, {f"{k} rows": len(v) for k, v in splits.items()}, started)
