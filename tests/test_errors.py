"""Bad inputs and a full disk end with one line that names the problem, and leave nothing half-written."""

import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import TINY


def r1pipe(*args, cwd):
    return subprocess.run([sys.executable, "-m", "r1pipe", *args], capture_output=True, text=True, cwd=cwd)


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_a_corrupt_model_directory_is_a_one_line_error(chain, tmp_path):
    bad = tmp_path / "models/bad"
    shutil.copytree(chain / "models/base", bad)
    weights = bad / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated, as by an interrupted copy
    shutil.copy(TINY, tmp_path / "params.yaml")
    proc = r1pipe("coldstart", "--model", "models/bad", "--data", str(chain / "data/prompts"), "--out", "models/A",
                  cwd=tmp_path)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2 and len(out.splitlines()) == 1, out
    assert out.startswith("error: models/bad: cannot load the model (")
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["bad"]  # no A, no .A.work, no .A.tmp-*

    (bad / "model.safetensors").unlink()
    (bad / "config.json").write_text("{not json")
    proc = r1pipe("coldstart", "--model", "models/bad", "--data", str(chain / "data/prompts"), "--out", "models/A",
                  cwd=tmp_path)
    assert proc.returncode == 2 and "error: models/bad: cannot load the model" in proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux) for a private tmpfs")
def test_a_full_disk_is_a_one_line_error_and_leaves_nothing(tmp_path):
    """A 300 KB tmpfs (the tiny model is 1.4 MB), mounted in a private mount namespace."""
    disk = tmp_path / "disk"
    disk.mkdir()
    shutil.copy(TINY, tmp_path / "params.yaml")
    script = (f"mount -t tmpfs -o size=300k tmpfs {disk} && mkdir {disk}/models && "
              f"{shlex.quote(sys.executable)} -m r1pipe base --out {disk}/models/base 2>&1; echo rc=$?; "
              f"ls -A {disk}/models")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                          capture_output=True, text=True, cwd=tmp_path)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    if any("Operation not permitted" in line for line in lines[:2]):
        pytest.skip("user namespaces are not allowed here")
    assert lines[0] == f"error: no space left on device while writing {disk}/models/base: nothing was written"
    assert lines[1:] == ["rc=2"]  # and `ls -A` printed nothing: no temporary directory left behind


def one_line(proc) -> str:
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2 and "Traceback" not in out and len(out.splitlines()) == 1, out
    return out


def test_a_task_file_that_is_not_what_its_name_says_is_one_line(tmp_path):
    import yaml

    (tmp_path / "data").mkdir()
    (tmp_path / "data/rows.parquet").write_text('{"question": "1+1?", "answer": "2"}\n')  # jsonl under a parquet name
    (tmp_path / "data/rows.jsonl").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "data/rows.jsonl.gz").write_text("not gzip")
    params = yaml.safe_load(TINY.read_text())
    for name, message in [("rows.parquet", "not a readable parquet file"), ("rows.jsonl", "not UTF-8 JSON lines"),
                          ("rows.jsonl.gz", "not gzip-compressed JSON lines")]:
        params["prepare"]["sources"] = [{"name": "mine", "kind": "file", "train": f"data/{name}"}]
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        out = one_line(r1pipe("prepare", "--out", "data/prompts", cwd=tmp_path))
        assert out.startswith(f"error: data/{name}: {message}"), out
        assert not (tmp_path / "data/prompts").exists()


def test_a_model_with_nan_weights_is_one_line_before_anything_runs(tmp_path, tiny_model):
    import torch
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    weights = load_file(broken / "model.safetensors")
    name = sorted(weights)[1]
    weights[name][0] = torch.nan
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    shutil.copy(TINY, tmp_path / "params.yaml")
    assert r1pipe("prepare", "--out", "data/prompts", cwd=tmp_path).returncode == 0
    out = one_line(r1pipe("eval", "--model", str(broken), "--out", "m.json", cwd=tmp_path))
    assert f"weight {name} holds NaN or inf values" in out, out
    assert not (tmp_path / "m.json").exists()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux) for a read-only mount")
def test_an_out_on_a_read_only_folder_is_one_line_and_writes_nothing(tmp_path):
    shutil.copy(TINY, tmp_path / "params.yaml")
    (tmp_path / "ro").mkdir()
    py = shlex.quote(sys.executable)
    script = (f"mount --bind ro ro && mount -o remount,bind,ro ro && {py} -m r1pipe prepare --out ro/prompts; "
              "echo rc=$?")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                          capture_output=True, text=True, cwd=tmp_path)
    out = (proc.stdout + proc.stderr).strip()
    if "Operation not permitted" in out.splitlines()[0]:
        pytest.skip("user namespaces are not allowed here")
    assert proc.stdout.splitlines()[-1] == "rc=2" and "Traceback" not in out, out
    assert proc.stderr.strip() == "error: ro: read-only file system (writing ro/prompts): nothing was written", out
    assert list((tmp_path / "ro").iterdir()) == []
