import os
import signal
import subprocess
import sys

import pytest

from r1pipe.artifacts import atomic_output
from r1pipe.manifest import content_hash, read_manifest, write_manifest


def test_atomic_output_appears_only_when_complete(tmp_path):
    out = tmp_path / "models" / "A"
    with atomic_output(out) as tmp:
        (tmp / "weights").write_text("new")
        assert not out.exists()
    assert (out / "weights").read_text() == "new"
    assert [p.name for p in out.parent.iterdir()] == ["A"]


def test_failed_stage_keeps_previous_output_and_leaves_no_temp(tmp_path):
    out = tmp_path / "A"
    out.mkdir()
    (out / "weights").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(out) as tmp:
            (tmp / "weights").write_text("half")
            raise RuntimeError("killed")
    assert (out / "weights").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["A"]


def test_sigkill_mid_write_leaves_nothing_that_looks_complete(tmp_path):
    out = tmp_path / "A"
    script = (
        "import time, sys\n"
        "from r1pipe.artifacts import atomic_output\n"
        f"with atomic_output({str(out)!r}) as tmp:\n"
        "    (tmp / 'config.json').write_text('{}')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()


def test_content_hash_tracks_content_not_manifest(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.bin").write_bytes(b"abc")
    h1 = content_hash(d)
    write_manifest(d, stage="x", params={"seed": 1}, inputs={})
    assert content_hash(d) == h1
    (d / "a.bin").write_bytes(b"abd")
    assert content_hash(d) != h1
    assert read_manifest(d)["params"] == {"seed": 1}


def test_a_work_directory_outlives_a_kill_but_not_an_error_or_success(tmp_path):
    from r1pipe.workdir import work_dir

    out = tmp_path / "new" / "deeper" / "A.json"
    with pytest.raises(ValueError), work_dir(out) as work:
        assert work == tmp_path / "new" / "deeper" / ".A.json.work" and work.is_dir()
        raise ValueError("a bad input")
    assert not (tmp_path / "new").exists()  # the work directory, and the parents made for it, are gone

    with pytest.raises(KeyboardInterrupt), work_dir(out) as work:
        (work / "batch").write_text("kept")
        raise KeyboardInterrupt  # Ctrl-C, like a SIGKILL, leaves what a rerun resumes from
    assert (work / "batch").read_text() == "kept"

    with work_dir(out) as again:
        assert (again / "batch").read_text() == "kept"
        out.write_text("{}")
    assert not again.exists() and out.is_file()


def test_a_stages_incidents_go_to_its_run_log_and_start_empty(tmp_path):
    """What went wrong without stopping a stage (a grader that raised on a completion, counted by the rewards)
    is in that stage's run log, and only that stage's: the count starts empty with each stage."""
    import json

    from r1pipe import incidents
    from r1pipe.artifacts import stage_output
    from r1pipe.manifest import run_log_path

    incidents.count("left over", "from before the stage")
    with stage_output("eval", tmp_path / "A", code="r1pipe.artifacts") as run:
        (run.dir / "weights").write_text("w")
        incidents.count("reward accuracy raised", "RecursionError: maximum recursion depth exceeded")
        incidents.count("reward accuracy raised", "RecursionError: again")
    log = json.loads(run_log_path(tmp_path / "A").read_text())
    assert log["incidents"] == {"reward accuracy raised": {
        "count": 2, "first": "RecursionError: maximum recursion depth exceeded"}}
    with stage_output("eval", tmp_path / "B", code="r1pipe.artifacts") as run:
        (run.dir / "weights").write_text("w")
    assert "incidents" not in json.loads(run_log_path(tmp_path / "B").read_text())
