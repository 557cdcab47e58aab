"""Generation that survives a kill: reject-sample and eval keep each finished batch, and a rerun reads them back.

The stage runs for real (the tiny chain's models, a subprocess SIGKILLed after its first batches), and the
resumed run's outputs are compared byte for byte with an uninterrupted run's.
"""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import cli
from r1pipe.config.sampling import Sampling
from r1pipe.data.completion import Completion
from r1pipe.engines.journal import Journal, call_key

# One prompt per batch, so that a run has many batches to be killed between.
GEN = {"reject_sample": {"batch_size": 1, "max_prompts": 32}, "eval": {"batch_size": 1}}


def params(root: Path, name: str, **changes) -> str:
    p = yaml.safe_load((root / "params.yaml").read_text())
    for section, values in {**GEN, **changes}.items():
        p[section] = {**p[section], **GEN.get(section, {}), **values}
    (root / name).write_text(yaml.safe_dump(p))
    return name


def kill_after_batches(cmd: list[str], cwd: Path, work: Path, batches: int) -> int:
    """Start ``cmd``, SIGKILL it once ``batches`` finished batches are in ``work``; how many it left."""
    def done() -> int:
        return len(list(work.glob("*/*.json.gz")))

    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while done() < batches and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert done() >= batches and proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return done()


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def rs_args(name: str, out: str) -> list[str]:
    return ["reject-sample", "--params", name, "--model", "models/B", "--data", "data/prompts", "--out", f"data/{out}",
            "--metrics", f"metrics/{out}.json"]


def test_killed_reject_sample_resumes_to_the_bytes_of_an_uninterrupted_run(chain):
    name = params(chain, "gen.yaml")
    cli(*rs_args(name, "rs_whole"), cwd=chain)
    whole = json.loads((chain / "data/rs_whole.run.json").read_text())["batches"]
    assert whole == {"resumed": 0, "generated": 32}

    work = chain / "data/.rs_killed.work"
    left = kill_after_batches([sys.executable, "-m", "r1pipe", *rs_args(name, "rs_killed")], chain, work, 3)
    assert not (chain / "data/rs_killed").exists() and 3 <= left < 32
    out = cli(*rs_args(name, "rs_killed"), cwd=chain).output
    assert f"reject-sample: {left} of 32 batches kept from an interrupted run" in out
    assert json.loads((chain / "data/rs_killed.run.json").read_text())["batches"] == {
        "resumed": left, "generated": 32 - left}
    assert files(chain / "data/rs_killed") == files(chain / "data/rs_whole")
    assert (chain / "metrics/rs_killed.json").read_bytes() == (chain / "metrics/rs_whole.json").read_bytes()
    assert not work.exists()  # a finished stage leaves no work directory


def test_killed_eval_resumes_to_the_bytes_of_an_uninterrupted_run(chain):
    name = params(chain, "gen.yaml")
    args = ["eval", "--params", name, "--model", "models/A", "--data", "data/prompts"]
    cli(*args, "--out", "metrics/resume/whole.json", cwd=chain)
    count = json.loads((chain / "metrics/resume/whole.run.json").read_text())["batches"]["generated"]
    assert count == json.loads((chain / "metrics/resume/whole.json").read_text())["arithmetic"]["n_prompts"]
    work = chain / "metrics/resume/.killed.json.work"
    left = kill_after_batches([sys.executable, "-m", "r1pipe", *args, "--out", "metrics/resume/killed.json"], chain,
                              work, 2)
    out = cli(*args, "--out", "metrics/resume/killed.json", cwd=chain).output
    assert f"eval killed: arithmetic: {left} of {count} batches kept" in out and left < count
    log = json.loads((chain / "metrics/resume/killed.run.json").read_text())
    assert log["batches"] == {"resumed": left, "generated": count - left}
    # The resumed run counts only the work it did: the batches it generated.
    whole = json.loads((chain / "metrics/resume/whole.run.json").read_text())["work"]
    assert 0 < log["work"]["flops"] < whole["flops"] and 0 < log["work"]["generated"] < whole["generated"]
    assert whole["machine"]["gemm_gflops"]["float32"] > 0
    for suffix in (".json", ".samples.json", ".problems.json"):
        assert (chain / f"metrics/resume/killed{suffix}").read_bytes() == \
            (chain / f"metrics/resume/whole{suffix}").read_bytes(), suffix
    assert not work.exists()


def test_a_rerun_with_another_temperature_starts_fresh(chain):
    name = params(chain, "gen_t.yaml")
    work = chain / "data/.rs_t.work"
    left = kill_after_batches([sys.executable, "-m", "r1pipe", *rs_args(name, "rs_t")], chain, work, 2)
    hotter = params(chain, "gen_hot.yaml", reject_sample={"temperature": 0.7})
    out = cli(*rs_args(hotter, "rs_t"), cwd=chain).output
    assert left >= 2 and "batches kept" not in out
    assert json.loads((chain / "data/rs_t.run.json").read_text())["batches"] == {"resumed": 0, "generated": 32}


def completions(b: int, size: int = 2, n: int = 3) -> list[list[Completion]]:
    return [[Completion(f"batch {b} prompt {i} sample {j}", 5 + j, j % 2 == 0, (b, i, j)) for j in range(n)]
            for i in range(size)]


def test_a_batch_file_cut_short_is_detected_and_generated_again(tmp_path, capsys):
    """The journal on its own: what it keeps, what it reads back, and what it throws away."""
    call = call_key(["a", "b", "c", "d", "e"], 3, Sampling(), 0, 2, "hf")
    sizes, made = [2, 2, 1], []

    def generate(b):
        made.append(b)
        return completions(b, sizes[b])

    first = Journal(tmp_path / "w", "fingerprint-1").batches(sizes, 3, generate, call, "test")
    assert made == [0, 1, 2] and first == [completions(b, sizes[b]) for b in range(3)]
    batch = next((tmp_path / "w").glob("*/00001.json.gz"))
    whole = batch.read_bytes()
    assert json.loads(gzip.decompress(whole))[0][2]["token_ids"] == [1, 0, 2]
    batch.write_bytes(whole[: len(whole) // 2])  # cut short
    made.clear()
    journal = Journal(tmp_path / "w", "fingerprint-1")
    assert journal.batches(sizes, 3, generate, call, "test") == first
    assert made == [1] and journal.counts() == {"resumed": 2, "generated": 1}
    assert "damaged" in capsys.readouterr().err
    assert batch.read_bytes() == whole  # written again, whole

    # A batch of the wrong shape (another batch size's file) is regenerated too.
    batch.write_bytes(gzip.compress(json.dumps([[{"text": "x", "n_tokens": 1, "finished": True,
                                                   "token_ids": None}]]).encode()))
    made.clear()
    assert Journal(tmp_path / "w", "fingerprint-1").batches(sizes, 3, generate, call, "test") == first
    assert made == [1]

    # Another fingerprint (another model, settings or code): nothing is kept.
    made.clear()
    journal = Journal(tmp_path / "w", "fingerprint-2")
    assert journal.batches(sizes, 3, generate, call, "test") == first and made == [0, 1, 2]


@pytest.mark.parametrize("field", ["n", "seed", "batch_size", "texts", "temperature"])
def test_every_setting_of_a_call_names_its_batches(field):
    base = dict(texts=["a", "b"], n=2, sampling=Sampling(), seed=0, batch_size=2, engine="hf")
    changed = dict(base)
    if field == "temperature":
        changed["sampling"] = Sampling(temperature=0.1)
    else:
        changed[field] = {"n": 3, "seed": 1, "batch_size": 1, "texts": ["a", "c"]}[field]
    assert call_key(**base) != call_key(**changed)
