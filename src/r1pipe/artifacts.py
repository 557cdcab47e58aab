"""Atomic output directories, lineage manifests and content hashes.

Every stage writes its output into a hidden temporary sibling and renames it
into place only when the output is complete, so a killed stage never leaves a
directory that looks finished. Each output carries ``r1pipe.json``: the stage,
its parent model, the hashes of its inputs, the params used, the code version
and the time taken.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from r1pipe import R1pipeError, __version__

MANIFEST = "r1pipe.json"


@contextmanager
def atomic_output(out: Path | str):
    """Yield a temporary directory that becomes ``out`` when the block succeeds."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        if not _alive(int(stale.name.rsplit("-", 1)[-1])):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json_atomic(path: Path | str, data) -> None:
    """Write a JSON file through a temporary sibling, so readers never see half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def content_hash(path: Path | str) -> str:
    """sha256 over a file, or over a directory's relative paths and file contents.

    The manifest itself is left out so that a directory's hash only covers what
    the stage produced.
    """
    path = Path(path)
    if not path.exists():
        raise R1pipeError(f"{path}: not found")
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.name != MANIFEST)
    for f in files:
        h.update(str(f.relative_to(path) if f != path else f.name).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def code_version() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"{__version__}+{rev}" if rev else __version__


def write_manifest(out_dir: Path, *, stage: str, params: dict, inputs: dict[str, Path | str],
                   parent: str | None = None, started: float, extra: dict | None = None) -> dict:
    """Write ``r1pipe.json`` into ``out_dir`` and return its content."""
    manifest = {
        "stage": stage,
        "parent": str(parent) if parent else None,
        "inputs": {name: {"path": str(p), "sha256": content_hash(p)} for name, p in inputs.items()},
        "params": params,
        "code_version": code_version(),
        "seconds": round(time.time() - started, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(extra or {}),
    }
    write_json_atomic(Path(out_dir) / MANIFEST, manifest)
    return manifest


def read_manifest(path: Path | str) -> dict | None:
    f = Path(path) / MANIFEST
    return json.loads(f.read_text()) if f.is_file() else None
