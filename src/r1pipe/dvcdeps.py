"""Whether DVC knows every file a stage reads: a stage that runs under `dvc repro` stops on one it does not.

DVC reruns a stage when one of its declared deps changes, and only then. A local file that the params name (a
``kind: file`` source's jsonl, the general prompts of rl_all) but that the stage's ``deps`` in dvc.yaml leave
out would leave the stage's output trained on its old rows, with `dvc status` saying all is up to date. So a
stage run by DVC (which sets ``DVC_STAGE`` and ``DVC_ROOT`` in its environment) looks itself up through DVC's
own API and refuses to start until dvc.yaml lists every file it reads; `r1pipe check` lists them all at once.

A leaf: imports nothing of r1pipe but :class:`R1pipeError`; DVC only when a stage runs under it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from r1pipe import R1pipeError


def declared(stage) -> list[Path]:
    """The absolute paths a DVC stage object (``dvc.stage.PipelineStage``) depends on."""
    return [Path(dep.fs_path).resolve() for dep in stage.deps]


def undeclared(reads: dict[str, Path | str], deps: list[Path]) -> dict[str, str]:
    """The files of ``reads`` (role -> path) that none of ``deps`` (absolute paths: files, or folders that hold
    them) covers."""
    def covered(path: Path) -> bool:
        path = path.resolve()
        return any(path == dep or path.is_relative_to(dep) for dep in deps)

    return {role: str(path) for role, path in reads.items() if path and not covered(Path(path))}


def stale_code(deps: list[Path], command: str, code_sha256: str) -> Path | None:
    """The dep among ``deps`` that is ``command``'s code fingerprint (``code/<command>.json``, written by
    ``r1pipe code``) and names other code than ``code_sha256``, the code now running; else None."""
    for path in deps:
        if path.name != f"{command}.json" or not path.is_file():
            continue
        try:
            written = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(written, dict) and written.get("command") == command and \
                written.get("code_sha256") not in (None, code_sha256):
            return path
    return None


def require_declared(reads: dict[str, Path | str], command: str | None = None, code_sha256: str | None = None
                     ) -> None:
    """Under `dvc repro` / `dvc exp run`: stop, naming them, where the running stage does not depend on every
    file of ``reads``, or where the code fingerprint it depends on is not that of the code running (``command``
    and ``code_sha256``: the code changed and `dvc repro --single-item` skipped the ``code`` stage, so dvc.lock
    would record this output against code it was not made with). Outside DVC: nothing to check."""
    addressing, root = os.environ.get("DVC_STAGE"), os.environ.get("DVC_ROOT")
    if not (addressing and root and (reads or code_sha256)):
        return
    from dvc.repo import Repo

    # The stage's own workspace, found from where DVC runs it: `dvc exp run --temp` runs it in a copy of the
    # repository and points DVC_ROOT at the original.
    workspace = Repo.find_root(os.getcwd())
    dvcfile, _, name = addressing.rpartition(":")
    with Repo(workspace) as repo:
        stage = repo.stage.collect(f"{Path(workspace, dvcfile or 'dvc.yaml')}:{name}")[0]
        deps = declared(stage)
        missing = undeclared(reads, deps)
    stale = stale_code(deps, command, code_sha256) if command and code_sha256 else None
    if stale:
        raise R1pipeError(f"{stale}: is the fingerprint of other code than this stage runs (r1pipe's code changed "
                          f"since `r1pipe code` wrote it): run `dvc repro`, which rewrites it first (its `code` "
                          "stage), not `dvc repro --single-item`")
    if missing:
        files = ", ".join(f"{path} ({role})" for role, path in missing.items())
        raise R1pipeError(f"dvc.yaml: stage {addressing} reads {files} but does not list it in its deps, so DVC "
                          "would not rerun it when the file changes: add it under the stage's `deps:` "
                          "(`r1pipe check` lists every such file)")


def missing_in_project(root: Path, params: Path, reads_of, default_section: dict[str, str]) -> list[str]:
    """For `r1pipe check`: one line per file that a stage of ``root``'s dvc.yaml reads, by the section of
    ``params`` its command names, without depending on it. ``reads_of(section)`` gives a section's local files
    (None for a section the file lacks); ``default_section`` is each command's section when ``--section`` is
    not given."""
    import shlex

    from dvc.repo import Repo

    lines = []
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            words = shlex.split(getattr(stage, "cmd", "") or "")
            if "r1pipe" not in words or words.index("r1pipe") + 1 >= len(words):
                continue
            argv = words[words.index("r1pipe") + 1:]
            option = {a: argv[i + 1] for i, a in enumerate(argv[:-1]) if a.startswith("--")}
            if Path(root, option.get("--params", "params.yaml")).resolve() != Path(params).resolve():
                continue
            section = option.get("--section", default_section.get(argv[0]))
            reads = reads_of(section) if section else None
            for role, path in undeclared(reads or {}, declared(stage)).items():
                lines.append(f"dvc.yaml: stage {stage.addressing} reads {path} ({section}: {role}) but does not "
                             f"list it in its deps: add `- {path}` under its `deps:`")
    return lines
