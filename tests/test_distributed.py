"""Stages on two processes, for real: torchrun and accelerate launch start 2 CPU processes joined over gloo.

Each test compares a 2-process run with a 1-process run of the same stage: the same weights (SFT with the
per-device batch halved), one writer (one curve row per step, one manifest, one summary), the same bytes
(data-parallel generation), and a killed 2-process run that resumes.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from safetensors.torch import load_file

from conftest import REPO, TINY, cli

BIN = Path(sys.executable).parent


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def torchrun() -> list[str]:
    return [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", free_port(), "-m", "r1pipe"]


def accelerate(config: str, *options: str) -> list[str]:
    return [str(BIN / "accelerate"), "launch", "--config_file", str(REPO / "accelerate" / config), *options,
            "-m", "r1pipe"]


ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def launch(launcher: list[str], *args: str, cwd: Path) -> str:
    proc = subprocess.run([*launcher, *args], cwd=cwd, capture_output=True, text=True, env=ENV, timeout=900)
    assert proc.returncode == 0, f"{' '.join([*launcher, *args])} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


def summaries(output: str, stage: str) -> int:
    return output.count(f"r1pipe {stage}")


def weights(path: Path) -> dict:
    return load_file(path / "model.safetensors")


def max_diff(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def write_params(root: Path, name: str, **sections) -> str:
    params = yaml.safe_load((root / "params.yaml").read_text())
    for section, changes in sections.items():
        params[section].update(changes)
    (root / name).write_text(yaml.safe_dump(params))
    return name


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("distributed")
    params = yaml.safe_load(TINY.read_text())
    # float32 on every machine: these tests compare 1 process with 2, whose sums differ only in their order;
    # under bf16 autocast (r1pipe's default where the CPU has bf16 units) they differ by bf16's rounding.
    for section in ("coldstart", "sft", "distill", "rl_reasoning", "rl_all", "rl_zero"):
        params[section]["bf16"] = False
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    cli("base", "--out", "models/base", cwd=root)
    cli("prepare", "--out", "data/prompts", cwd=root)
    cli("coldstart", "--out", "models/A1", cwd=root)  # tiny preset: batch 16, 96 steps
    return root


def test_sft_on_two_processes_gives_the_weights_of_one_process_with_twice_the_batch(root):
    """The shipped CPU config really starts 2 processes (the run log records the world size)."""
    half = write_params(root, "half.yaml", coldstart={"per_device_train_batch_size": 8})
    out = launch(accelerate("cpu.yaml", "--main_process_port", free_port()), "coldstart", "--params", half,
                 "--out", "models/A2", cwd=root)
    log = json.loads((root / "models/A2.run.json").read_text())
    assert log["processes"] == 2
    one, two = json.loads((root / "models/A1/r1pipe.json").read_text()), json.loads(
        (root / "models/A2/r1pipe.json").read_text())
    assert one["metrics"]["steps"] == two["metrics"]["steps"] == 96
    base, a1, a2 = weights(root / "models/base"), weights(root / "models/A1"), weights(root / "models/A2")
    assert max_diff(a1, base) > 0.05  # it trained
    assert max_diff(a1, a2) < 1e-3  # and the same way (float32 sums in another order)
    assert summaries(out, "coldstart") == 1
    assert not list((root / "models").glob(".A2.*"))  # no temporary or work directory left


def test_two_machines_on_localhost_train_one_model(root):
    """accelerate/two_machines.yaml's shape: two launches, --num_machines 2, one process each."""
    half = write_params(root, "half_m.yaml", coldstart={"per_device_train_batch_size": 8})
    port = free_port()
    machines = [subprocess.Popen(
        [*accelerate("two_machines.yaml", "--num_processes", "2", "--machine_rank", str(rank), "--main_process_ip",
                     "127.0.0.1", "--main_process_port", port, "--mixed_precision", "no"),
         "coldstart", "--params", half, "--out", "models/A_machines"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV) for rank in (0, 1)]
    outputs = [m.communicate(timeout=900)[0] for m in machines]
    assert [m.returncode for m in machines] == [0, 0], outputs
    assert json.loads((root / "models/A_machines.run.json").read_text())["processes"] == 2
    assert max_diff(weights(root / "models/A_machines"), weights(root / "models/A1")) < 1e-3
    assert [summaries(o, "coldstart") for o in outputs] == [1, 0]  # machine 0 writes and reports


def kill_all(proc: subprocess.Popen) -> None:
    """SIGKILL a launcher and every process under it, as a cluster's scheduler does."""
    family = [proc.pid] + [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def test_grpo_on_two_processes_writes_once_and_resumes_after_a_kill(root):
    params = write_params(root, "grpo2.yaml", rl_reasoning={"max_steps": 12, "save_steps": 4, "sample_every": 2})
    args = ["grpo", "--params", params, "--section", "rl_reasoning", "--model", "models/base"]

    whole = launch(torchrun(), *args, "--out", "models/G", "--live", "dvclive/G", cwd=root)
    assert summaries(whole, "rl_reasoning") == 1
    for tsv in (root / "dvclive/G/plots/metrics").rglob("*.tsv"):  # one row per step in every curve
        assert [int(r.split()[0]) for r in tsv.read_text().splitlines()[1:]] == list(range(1, 13)), tsv
    samples = [json.loads(line)["step"] for line in (root / "models/G/samples.jsonl").read_text().splitlines()]
    assert sorted(set(samples)) == [0, 2, 4, 6, 8, 10] and len(samples) == 6 * 4  # one process records
    assert json.loads((root / "models/G/r1pipe.json").read_text())["metrics"]["steps"] == 12
    assert json.loads((root / "models/G.run.json").read_text())["processes"] == 2

    proc = subprocess.Popen([*torchrun(), *args, "--out", "models/K", "--live", "dvclive/K"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    checkpoint = root / "models/.K.work/checkpoint-8"
    deadline = time.monotonic() + 600
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert checkpoint.exists() and proc.poll() is None, "the run ended before it could be killed"
    kill_all(proc)
    assert not (root / "models/K").exists()

    launch(torchrun(), *args, "--out", "models/K", "--live", "dvclive/K", cwd=root)
    assert json.loads((root / "models/K.run.json").read_text())["resumed_from_step"] >= 4
    for name in ["model.safetensors", "train_log.json", "samples.jsonl", "r1pipe.json"]:
        assert (root / "models/K" / name).read_bytes() == (root / "models/G" / name).read_bytes(), name
    for tsv in (root / "dvclive/G/plots/metrics").rglob("*.tsv"):
        resumed = root / "dvclive/K" / tsv.relative_to(root / "dvclive/G")
        assert resumed.read_text() == tsv.read_text(), tsv


def test_reject_sample_and_eval_on_two_processes_write_the_bytes_of_one(root):
    # Small batches, so that each process has several to generate.
    params = write_params(root, "gen.yaml", reject_sample={"batch_size": 3}, eval={"batch_size": 2})
    cli("reject-sample", "--params", params, "--model", "models/A1", "--out", "data/sft1",
        "--metrics", "metrics/rs1.json", cwd=root)
    cli("eval", "--params", params, "--model", "models/A1", "--out", "metrics/eval1/base.json", cwd=root)
    rs = launch(torchrun(), "reject-sample", "--params", params, "--model", "models/A1", "--out", "data/sft2",
                "--metrics", "metrics/rs2.json", cwd=root)
    ev = launch(torchrun(), "eval", "--params", params, "--model", "models/A1",
                "--out", "metrics/eval2/base.json", cwd=root)
    assert summaries(rs, "reject-sample") == 1 and summaries(ev, "eval base") == 1
    assert json.loads((root / "data/sft2.run.json").read_text())["processes"] == 2

    one, two = root / "data/sft1", root / "data/sft2"
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    for f in files:
        assert (one / f).read_bytes() == (two / f).read_bytes(), f
    stats = json.loads((root / "metrics/rs1.json").read_text())
    assert stats["sampled"] == 16 * 4 and stats["kept"] > 0  # 16 prompts x n=4, in 6 batches of 3
    assert (root / "metrics/rs1.json").read_bytes() == (root / "metrics/rs2.json").read_bytes()
    for name in ["base.json", "base.samples.json"]:
        assert (root / "metrics/eval1" / name).read_bytes() == (root / "metrics/eval2" / name).read_bytes(), name


def test_reject_sample_killed_on_two_processes_resumes_to_the_bytes_of_one_uninterrupted_process(root):
    """Both workers SIGKILLed after their first batches; the rerun on 2 processes reads back what each kept."""
    params = write_params(root, "gen1.yaml", reject_sample={"batch_size": 1, "max_prompts": 32})
    args = ["reject-sample", "--params", params, "--model", "models/A1"]
    cli(*args, "--out", "data/rs_one", "--metrics", "metrics/rs_one.json", cwd=root)
    proc = subprocess.Popen([*torchrun(), *args, "--out", "data/rs_two", "--metrics", "metrics/rs_two.json"],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    work = root / "data/.rs_two.work"
    deadline = time.monotonic() + 600
    while len(list(work.glob("*/*.json.gz"))) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    kill_all(proc)
    kept = sorted(int(p.name.split(".")[0]) for p in work.glob("*/*.json.gz"))
    assert 4 <= len(kept) < 32 and {b % 2 for b in kept} == {0, 1}  # both processes had finished batches

    out = launch(torchrun(), *args, "--out", "data/rs_two", "--metrics", "metrics/rs_two.json", cwd=root)
    assert f"{len(kept)} of 32 batches kept from an interrupted run" in out
    log = json.loads((root / "data/rs_two.run.json").read_text())
    assert log["processes"] == 2 and log["batches"] == {"resumed": len(kept), "generated": 32 - len(kept)}
    one, two = root / "data/rs_one", root / "data/rs_two"
    assert {p.relative_to(one): p.read_bytes() for p in one.rglob("*") if p.is_file()} == \
        {p.relative_to(two): p.read_bytes() for p in two.rglob("*") if p.is_file()}
    assert (root / "metrics/rs_one.json").read_bytes() == (root / "metrics/rs_two.json").read_bytes()
    assert not work.exists()


@pytest.mark.parametrize("name", ["cpu", "ddp", "zero2", "zero3", "fsdp", "two_machines"])
def test_every_shipped_accelerate_config_loads(name):
    """What accelerate itself reads from each file (DeepSpeed and FSDP cannot run here without GPUs)."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(REPO / "accelerate" / f"{name}.yaml"))
    expected = {"cpu": "MULTI_GPU", "ddp": "MULTI_GPU", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED", "fsdp": "FSDP",
                "two_machines": "MULTI_GPU"}[name]
    assert str(config.distributed_type).endswith(expected)
    assert config.use_cpu == (name == "cpu")  # with MULTI_GPU, what makes accelerate start N CPU processes
    assert config.num_processes >= 2 and config.num_machines == (2 if name == "two_machines" else 1)
    if name.startswith("zero"):
        assert config.deepspeed_config["zero_stage"] == int(name[-1])
