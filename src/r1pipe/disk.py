"""Files written whole or not at all, and the directory r1pipe caches things in.

A leaf: imports nothing of r1pipe, so that every layer (hardware, models, artifacts, engines) writes the
same way.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def write_atomic(path: Path | str, data: bytes | str) -> None:
    """Write ``data`` through a temporary sibling renamed over ``path``: a reader, or a run killed midway,
    sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:  # a full disk: no half-written temporary left behind
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path | str, data) -> None:
    """``data`` as indented JSON with sorted keys (the same data, the same bytes), written whole."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def cache_dir() -> Path:
    """Where r1pipe keeps what it measured or fetched once (GEMM rates, model files): ``R1PIPE_CACHE``, else
    ``~/.cache/r1pipe``."""
    return Path(os.environ.get("R1PIPE_CACHE", Path.home() / ".cache" / "r1pipe"))


def weights_bytes(model_dir: Path | str) -> int:
    """The size of a model directory's weight files (safetensors, or PyTorch's .bin)."""
    return sum(f.stat().st_size for f in Path(model_dir).rglob("*") if f.suffix in (".safetensors", ".bin"))


def free_bytes(path: Path | str) -> int:
    """Free space on the filesystem of ``path`` (its nearest existing parent)."""
    path = Path(path).resolve()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def remove_made(made: list[Path]) -> None:
    """The parent folders a stage made, deepest first, as far as nothing else has filled them."""
    for directory in made:
        try:
            directory.rmdir()
        except OSError:
            break
