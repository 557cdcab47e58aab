"""The skeleton every stage shares: atomic outputs, lineage manifests, run logs, content hashes.

Every stage writes its output, its side files (an eval's samples, a statistics JSON) and its run log
under hidden temporary names and renames them into place only when all of them are complete, so a killed
stage, or one that runs out of disk, never leaves a file that looks finished. An existing output is
replaced only where r1pipe's same stage wrote it (:func:`claim_output`): a folder of the user's given as
``--out`` is never removed. Each output carries ``r1pipe.json``, its lineage:
the stage, its parent model, the hashes of its inputs and the params used. Given
the same inputs it is the same bytes, so DVC sees an unchanged output and stops
the cascade there.

What varies from run to run (time taken, date, git revision, the hash of the
r1pipe code the stage ran) goes to a run log beside the output,
``<out>.run.json``, which dvc.yaml declares as an uncached output (not a metric) and
no later stage reads; dvc.lock records the code deps' hashes too.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from r1pipe import R1pipeError, __version__, distributed, dvcdeps, incidents
from r1pipe.codegraph import code_hash
from r1pipe.disk import write_json_atomic
from r1pipe.progress import summary

MANIFEST = "r1pipe.json"


def claim_output(out: Path | str, stage: str, *, directory: bool = True, side: tuple = ()) -> None:
    """Stop, with one line, unless stage ``stage`` may write ``out`` (and its ``side`` files): it does not exist,
    is an empty folder, or is an earlier output of the same stage (a folder whose manifest names ``stage``; a
    file whose run log does). ``.``, a folder holding the working directory, and the home folder are refused."""
    out = Path(out)
    where = out.resolve()
    if Path.cwd().resolve().is_relative_to(where) or where == Path.home().resolve():
        raise R1pipeError(f"--out {out}: is the working directory, a folder above it or the home folder; "
                          "a stage's output needs a path of its own (e.g. models/A)")
    for path in (out, *side):
        path = Path(path)
        if not (path.exists() or path.is_symlink()):
            continue
        if directory and path == out:
            if path.is_dir() and not any(path.iterdir()):
                continue
            owner = (_read_json(path / MANIFEST) or {}).get("stage") if path.is_dir() else None
        elif path.is_dir():
            raise R1pipeError(f"{path}: is a folder; `{stage}` writes a file there. Pick another --out")
        else:
            owner = (_read_json(run_log_path(out)) or {}).get("stage")
        if owner != stage:
            by = f"r1pipe's `{owner}` stage wrote it" if owner else "r1pipe did not write it"
            raise R1pipeError(f"{path}: exists and {by}; r1pipe replaces only an earlier output of the same "
                              f"stage (`{stage}`). Move it away or pick another --out")


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def atomic_output(out: Path | str):
    """Yield a temporary directory that becomes ``out`` when the block succeeds (replacing it: the caller has
    checked that it may, :func:`claim_output`)."""
    out = Path(out)
    made = [p for p in [out.parent, *out.parent.parents] if not p.exists()]  # removed again on failure
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
        _remove_made(made)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _remove_made(made: list[Path]) -> None:
    """The parent folders a stage made, deepest first, as far as nothing else has filled them."""
    for directory in made:
        try:
            directory.rmdir()
        except OSError:
            break


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def fingerprint(params: dict, inputs: dict[str, Path | str | None], code: str) -> str:
    """What a stage's scratch work (``work_dir``) is valid for: its settings, its inputs' contents and the
    r1pipe code it runs. A rerun with another fingerprint starts fresh."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for name, p in sorted(inputs.items()):
        h.update(f"{name}={content_hash(p) if p else None}".encode())
    h.update(code_hash(code).encode())
    return h.hexdigest()


RESUME_STAMP = "r1pipe-resume.json"


def claim_work(work: Path, fingerprint: str, lineage: str | None = None) -> dict:
    """Make ``work`` (a stage's work directory) this run's, on the main process, and return the stamp of the run
    that left it there where its contents may be reused: the same ``fingerprint``, or a diverged run (its stamp
    holds ``diverged_at``) of the same ``lineage``. Anything else in it is another run's leftovers, removed, and
    the result is ``{}``. One stamp serves the trainers' checkpoints and generation's finished batches."""
    stamp = work / RESUME_STAMP
    old = json.loads(stamp.read_text()) if stamp.is_file() else {}
    same_lineage = "diverged_at" in old and lineage is not None and old.get("lineage") == lineage
    if not (old.get("fingerprint") == fingerprint or same_lineage):
        for child in work.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        old = {}
    write_json_atomic(stamp, {"fingerprint": fingerprint, **({"lineage": lineage} if lineage else {})})
    return old


def mark_diverged(work: Path, step: int) -> bool:
    """Record in ``work``'s stamp that its run diverged at ``step``: a rerun of the same lineage (another
    learning rate) may resume from a checkpoint before it. False where ``work`` has no stamp to mark."""
    stamp = work / RESUME_STAMP
    if not stamp.is_file():
        return False
    write_json_atomic(stamp, {**json.loads(stamp.read_text()), "diverged_at": step})
    return True


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


def disk_full(e: BaseException) -> bool:
    """ENOSPC, whether raised by Python or reported by a Rust writer (safetensors: "os error 28")."""
    return getattr(e, "errno", None) == errno.ENOSPC or "No space left on device" in str(e) or "os error 28" in str(e)


def manifest_sha256(directory: Path | str) -> str | None:
    """The sha256 of a model's ``r1pipe.json``: what it was made from, by what code and settings (None without
    one). An eval records it, so that a report can tell the model it scored from a model made since."""
    path = Path(directory) / MANIFEST
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def run_log_path(out: Path | str) -> Path:
    """Where a stage's run log goes: ``models/A`` -> ``models/A.run.json``, ``m/A.json`` -> ``m/A.run.json``."""
    out = Path(out)
    return out.with_name(f"{out.stem if out.suffix == '.json' else out.name}.run.json")


class StageRun:
    """What the stage body fills in: the lineage extras for the manifest and the summary's numbers."""

    def __init__(self, directory: Path | None):
        self.dir = directory  # write the output here (a temporary sibling of the real one)
        self.extra: dict = {}  # goes into the manifest: must not vary between runs on the same inputs
        self.numbers: dict = {}  # printed in the summary
        self.wrote: dict = {}  # other files the stage wrote, printed in the summary
        self.log: dict = {}  # goes into the run log: anything that varies (timings)
        self.staged: dict[Path, Path] = {}  # file -> its temporary sibling, renamed into place with the output

    def write_json(self, path: Path | str, data, name: str | None = None) -> None:
        """Write ``path`` (``write_json_atomic``'s bytes) under a temporary name; it takes its real name only when
        the whole stage has succeeded, with the output. ``name``: how the summary lists it."""
        path = Path(path)
        tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
        write_json_atomic(tmp, data)
        self.staged[path] = tmp
        if name:
            self.wrote[name] = path

    def commit(self) -> None:
        for path, tmp in self.staged.items():  # renames, in folders already written to: no new space needed
            os.replace(tmp, path)
        self.staged.clear()

    def discard(self) -> None:
        for tmp in self.staged.values():
            tmp.unlink(missing_ok=True)
        self.staged.clear()


@contextmanager
def stage_output(stage: str, out: Path | str, *, code: str, params: dict | None = None,
                 inputs: dict[str, Path | str] | None = None, parent: str | None = None, manifest: bool = True,
                 side: tuple = ()):
    """Run a stage's body: time it, give it a temporary output directory, then write the manifest,
    rename the output into place, write the run log and print the summary.

    ``inputs`` (role -> path) are what the stage reads: recorded in the manifest, and under DVC checked against
    the stage's deps (``dvcdeps``). With ``manifest=False`` the stage writes its own files (eval's metrics
    JSON) through ``run.write_json`` and ``run.dir`` is None; ``side`` names the files it will write beside
    ``out``, checked before it starts like the output (:func:`claim_output`). Every file the stage writes and
    its run log take their names together, at the end: a failure leaves none of them.

    Under N processes (torchrun, accelerate launch) every process runs the body, with the
    main process's temporary directory as ``run.dir`` (a trainer's ``save_model`` gathers the
    weights from every process and writes on the main one); everything after the body is
    the main process's, and every process waits at a barrier until the output is in place.
    """
    started = time.time()
    out = Path(out)
    main = distributed.is_main()
    if main:
        claim_output(out, stage, directory=manifest, side=side)
        # under `dvc repro`, DVC must know every file the stage reads, and the code it runs
        dvcdeps.require_declared(inputs or {}, code.rpartition('.')[2].replace('_', '-'), code_hash(code))
    distributed.barrier()
    incidents.take()  # this stage's count starts at nothing
    run = StageRun(None)
    log = run_log_path(out)
    log_tmp = log.parent / f".{log.name}.tmp-{os.getpid()}"
    try:
        with _output_dir(out, manifest) as tmp:
            run.dir = tmp
            yield run
            distributed.barrier()  # every process has finished its part of the output
            found = incidents.merged(distributed.gather(incidents.take()))
            if found:
                run.log["incidents"] = found
                run.numbers["incidents"] = incidents.describe(found)
            if manifest and main:
                write_manifest(tmp, stage=stage, params=params or {}, inputs=inputs or {}, parent=parent,
                               extra=run.extra)
            if main:
                write_json_atomic(log_tmp, {"stage": stage, "seconds": round(time.time() - started, 2),
                                            "code_version": code_version(), "code_sha256": code_hash(code),
                                            "processes": distributed.world(),
                                            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **run.log})
                run.commit()
                os.replace(log_tmp, log)  # the output folder takes its name right after, as the block ends
    except BaseException as e:  # safetensors and tokenizers report a full disk in their own types
        run.discard()
        with contextlib.suppress(OSError):  # on a read-only disk even removing a file that is not there raises
            log_tmp.unlink(missing_ok=True)
        if isinstance(e, Exception) and disk_full(e):
            raise R1pipeError(f"no space left on device while writing {out}: nothing was written") from None
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            ours = not e.filename or Path(e.filename).name.startswith(f".{out.name}.")  # a temp name of out's
            raise R1pipeError(f"{out.parent if ours else e.filename}: {e.strerror.lower()} (writing {out}): "
                              "nothing was written") from None
        raise
    if main:
        summary(stage, {"output": out, **run.wrote}, run.numbers, started)
    distributed.barrier()  # no process ends before the output is in place


@contextmanager
def _output_dir(out: Path, manifest: bool):
    """The main process's temporary output directory (None without a manifest), on every process."""
    if not manifest:
        yield None
    elif distributed.is_main():
        with atomic_output(out) as tmp:
            distributed.broadcast(str(tmp))
            yield tmp
    else:
        yield Path(distributed.broadcast(None))


@contextmanager
def work_dir(out: Path | str, keep: tuple[type[BaseException], ...] = ()):
    """A stage's scratch directory, a hidden sibling of its output (``models/.A.work``), removed on success.

    A killed or interrupted run (SIGKILL, Ctrl-C) leaves it behind, so that a rerun resumes from what it
    holds (a trainer's checkpoints, generation's finished batches), and so do the errors in ``keep``. Any
    other error (a bad input, a full disk, which may have cut its newest file short) removes it. It must
    be on a filesystem that every process sees, like the output.
    """
    work = Path(out).parent / f".{Path(out).name}.work"
    made = [p for p in [work.parent, *work.parent.parents] if not p.exists()]  # removed with it, where empty
    if distributed.is_main():
        work.mkdir(parents=True, exist_ok=True)
    distributed.barrier()
    try:
        yield work
    except keep:
        raise
    except Exception:
        if distributed.is_main():
            _remove(work, made)
        raise
    distributed.barrier()  # every process is done with it
    if distributed.is_main():
        _remove(work, made)


def _remove(work: Path, made: list[Path]) -> None:
    """The work directory, and the parents made for it that nothing else has filled since (deepest first)."""
    shutil.rmtree(work, ignore_errors=True)
    _remove_made(made)


def read_manifest(path: Path | str) -> dict | None:
    f = Path(path) / MANIFEST
    return json.loads(f.read_text()) if f.is_file() else None
