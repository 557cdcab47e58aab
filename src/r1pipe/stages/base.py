"""`r1pipe base`: materialise the base model as an ordinary local model directory.

The reference in ``base.model`` is ``tiny`` (built offline from ``base.seed``),
a local ``save_pretrained`` directory, or a hub id. Every later stage then reads
a plain directory, and DVC caches the result.

    r1pipe base --out models/base
"""

from __future__ import annotations

import time
from pathlib import Path

from r1pipe.artifacts import atomic_output, write_manifest
from r1pipe.config import BaseSection
from r1pipe.models import materialize
from r1pipe.progress import summary


def run(cfg: BaseSection, out: Path) -> None:
    started = time.time()
    with atomic_output(out) as tmp:
        materialize(cfg, cfg.seed, tmp)
        manifest = write_manifest(tmp, stage="base", params=cfg.model_dump(), inputs={}, parent=cfg.model,
                                  started=started)
    summary("base", {"model": out}, {"source": cfg.model, "code": manifest["code_version"]}, started)
