"""Generated tokens per second of each engine, on the same model and the same prompts.

    python bench/engine_throughput.py [--model DIR] [--prompts 32] [--n 4] [--tokens 64]

Without --model it builds the tiny offline model. The transformers engine always
runs; the vLLM engine runs where vLLM is installed (on a CPU: ``scripts/vllm-env.sh``,
then ``.venv-vllm/bin/python bench/engine_throughput.py``). The ratio is what to read:
these machines are shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

from r1pipe.config import SYSTEM_PROMPT
from r1pipe.config.models import ModelRef
from r1pipe.data import arithmetic
from r1pipe.data.templates import make_prompt
from r1pipe.engines import Sampling, make_engine
from r1pipe.models import materialize


def measure(kind: str, model: Path, prompts, n: int, tokens: int) -> float:
    engine = make_engine(kind, model, batch_size=len(prompts))
    sampling = Sampling(temperature=1.0, top_p=1.0, max_new_tokens=tokens)
    engine.generate(prompts[:2], 1, sampling, seed=0)  # warm-up
    start = time.perf_counter()
    groups = engine.generate(prompts, n, sampling, seed=0)
    seconds = time.perf_counter() - start
    generated = sum(c.n_tokens for g in groups for c in g)
    print(f"{kind:5s} {generated:6d} tokens in {seconds:6.2f} s = {generated / seconds:8.1f} tokens/s")
    return generated / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    model = args.model
    if model is None:
        model = Path(tempfile.mkdtemp()) / "tiny"
        materialize(ModelRef(model="tiny"), 0, model)
    prompts = [make_prompt(SYSTEM_PROMPT, p["question"]) for p in arithmetic.generate(args.prompts, 2, seed=0)]
    hf = measure("hf", model, prompts, args.n, args.tokens)
    if importlib.util.find_spec("vllm"):
        vllm = measure("vllm", model, prompts, args.n, args.tokens)
        print(f"vllm / hf = x{vllm / hf:.2f}")
    else:
        print("vllm: not installed here")


if __name__ == "__main__":
    main()
