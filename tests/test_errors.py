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
