"""The skeleton every stage shares: atomic outputs with their manifests and run logs (``manifest.py`` writes
those; ``workdir.py`` keeps a stage's resumable work).

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
``<out>.run.json``, which dvc.yaml declares as an uncached output (not a metric) that
only the report reads; dvc.lock records the hash of each stage's code fingerprint.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from r1pipe import R1pipeError, distributed, dvcdeps, incidents
from r1pipe.codegraph import code_hash
from r1pipe.disk import remove_made, write_json_atomic
from r1pipe.manifest import MANIFEST, code_version, run_log_path, write_manifest
from r1pipe.progress import summary


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
        remove_made(made)
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


def disk_full(e: BaseException) -> bool:
    """ENOSPC, whether raised by Python or reported by a Rust writer (safetensors: "os error 28")."""
    return getattr(e, "errno", None) == errno.ENOSPC or "No space left on device" in str(e) or "os error 28" in str(e)


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
