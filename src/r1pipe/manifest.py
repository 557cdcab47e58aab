"""Lineage files: each output's ``r1pipe.json`` manifest (the stage, its parent, its inputs' sha256, the params
it ran with) and where its run log goes; content hashes of files and folders.

Nothing in a manifest varies between two runs on the same inputs; what does (time, date, git revision, the
code's hash) goes to the run log, ``<out>.run.json``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from r1pipe import R1pipeError, __version__
from r1pipe.disk import write_json_atomic

MANIFEST = "r1pipe.json"


def content_hash(path: Path | str) -> str:
    """sha256 over a file, or over a directory's relative paths and file contents.

    The manifest itself is left out so that a directory's hash only covers what
    the stage produced. A stage asks for its model's hash twice (its resume stamp, its
    manifest): the second time, files unchanged since (same sizes and times), it is not read again.
    """
    path = Path(path)
    if not path.exists():
        raise R1pipeError(f"{path}: not found")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.name != MANIFEST)
    seen = (str(path.resolve()), tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if seen not in _HASHED:
        _HASHED[seen] = _hash_files(path, files)
    return _HASHED[seen]


_HASHED: dict[tuple, str] = {}


def _hash_files(path: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
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
                   parent: str | None = None, extra: dict | None = None) -> dict:
    """Write ``r1pipe.json`` into ``out_dir`` and return its content.

    Nothing in it varies between two runs on the same inputs. The code that ran is
    in the run log (``code_sha256``), not here: a code change that leaves the
    output as it was (a faster sandbox, a new reward nobody uses) then leaves the
    output's bytes as they were too, and the stages after it stay up to date.
    """
    manifest = {
        "stage": stage,
        "parent": str(parent) if parent else None,
        "inputs": {name: {"path": str(p), "sha256": content_hash(p)} for name, p in inputs.items()},
        "params": params,
        "r1pipe": __version__,
        **(extra or {}),
    }
    write_json_atomic(Path(out_dir) / MANIFEST, manifest)
    return manifest


def manifest_sha256(directory: Path | str) -> str | None:
    """The sha256 of a model's ``r1pipe.json``: what it was made from, by what code and settings (None without
    one). An eval records it, so that a report can tell the model it scored from a model made since."""
    path = Path(directory) / MANIFEST
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def read_manifest(path: Path | str) -> dict | None:
    f = Path(path) / MANIFEST
    return json.loads(f.read_text()) if f.is_file() else None


def run_log_path(out: Path | str) -> Path:
    """Where a stage's run log goes: ``models/A`` -> ``models/A.run.json``, ``m/A.json`` -> ``m/A.run.json``."""
    out = Path(out)
    return out.with_name(f"{out.stem if out.suffix == '.json' else out.name}.run.json")
