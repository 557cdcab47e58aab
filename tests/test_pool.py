"""The grading pool never takes its caller down: any worker death scores that item and replaces the worker."""

import subprocess
import sys

import pytest

from r1pipe import R1pipeError
from r1pipe.rewards.pool import TimeoutPool


def pool(**kw):
    return TimeoutPool("pool_targets:echo", workers=kw.pop("workers", 2), timeout=kw.pop("timeout", 20), **kw)


def test_a_worker_killed_mid_batch_scores_its_item_and_is_replaced():
    p = pool()
    try:
        items = [("a",), ("kill",), ("b",), ("exit",), ("raise",), ("c",), ("kill",), ("d",)]
        assert p.map(items, default=0.0) == ["a", 0.0, "b", 0.0, 0.0, "c", 0.0, "d"]
        assert all(w.proc.poll() is None for w in p.workers)  # replaced, alive, ready for the next batch
        assert p.map([("e",), ("f",)]) == ["e", "f"]
    finally:
        p.close()


def test_a_worker_that_fails_at_import_is_replaced(tmp_path, monkeypatch):
    flag = tmp_path / "fail-once"
    flag.write_text("")
    monkeypatch.setenv("R1PIPE_TEST_FAIL_ONCE", str(flag))
    p = pool(workers=1)
    try:  # the worker dies before it says it is ready, so it is replaced before it takes an item: none is lost
        assert p.map([("a",), ("b",), ("c",)], default=0.0) == ["a", "b", "c"]
        assert not flag.exists()
    finally:
        p.close()


def test_workers_that_cannot_start_raise_one_clear_error(monkeypatch):
    monkeypatch.setenv("R1PIPE_TEST_NEVER_STARTS", "1")
    p = pool(workers=1)
    with pytest.raises(R1pipeError, match="grading workers for pool_targets:echo cannot start: ImportError: "
                                          "this worker can never start"):
        p.map([("a",)] * 5, default=0.0)
    assert p.workers == []


@pytest.mark.parametrize("how", ["stdin", "script"])
def test_rewards_work_from_a_script_without_main_guard(tmp_path, how):
    """multiprocessing's spawn would re-import such a __main__ in every worker; the pool's workers never do."""
    program = (
        "from r1pipe.rewards import get_reward\n"
        "acc = get_reward('accuracy')\n"
        "print(acc(None, ['<answer>\\\\frac{1}{2}</answer>', '<answer>x^2</answer>', '<answer>\\\\sqrt{4}</answer>'],"
        " answer=['0.5', 'x^{2}', '3'], task=['math'] * 3))\n"
    )
    if how == "stdin":
        proc = subprocess.run([sys.executable, "-"], input=program, capture_output=True, text=True, cwd=tmp_path)
    else:
        (tmp_path / "grade.py").write_text(program)
        proc = subprocess.run([sys.executable, "grade.py"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[1.0, 1.0, 0.0]"
