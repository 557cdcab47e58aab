"""CPU generation at the default's shapes: HF dynamic cache, static cache, static cache + torch.compile, vLLM.

Generation is about half of the default's wall time (GRPO rollouts, reject-sample, seven evals). This
times greedy decoding of the default's eval shape (64 prompts per batch, 64 new tokens) on the same
model and prompts, and checks each variant's completions against the dynamic cache's (r1pipe's engine).

    python bench/cpu_generation.py --model models/base --out /tmp/hf.json
    .venv-vllm/bin/python bench/cpu_generation.py --model models/base --compare /tmp/hf.json   # vLLM-cpu

vLLM runs in its own environment (``scripts/vllm-env.sh``: vllm-cpu pins an older transformers), so its
numbers come from a second run that reads the first one's completions and tokens per second.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import torch

from r1pipe.config import SYSTEM_PROMPT
from r1pipe.data import arithmetic
from r1pipe.data.templates import make_prompt


def hf_variant(model_dir: Path, texts: list[str], tokens: int, cache: str, compiled: bool) -> tuple[list, float]:
    from r1pipe.models import load_model, load_tokenizer

    model, tok = load_model(model_dir).eval(), load_tokenizer(model_dir)
    tok.padding_side = "left"
    if compiled:
        model.forward = torch.compile(model.forward, dynamic=False)
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    kwargs = dict(do_sample=False, max_new_tokens=tokens, pad_token_id=tok.pad_token_id,
                  **({"cache_implementation": "static"} if cache == "static" else {}))
    with torch.no_grad():
        model.generate(**enc, **kwargs)  # warm-up: compiles, allocates the static cache
        start = time.perf_counter()
        out = model.generate(**enc, **kwargs)
        seconds = time.perf_counter() - start
    new = out[:, enc["input_ids"].shape[1]:].tolist()
    eos = tok.eos_token_id
    return [ids[: ids.index(eos) + 1] if eos in ids else ids for ids in new], seconds


def vllm_variant(model_dir: Path, texts: list[str], tokens: int) -> tuple[list, float]:
    from r1pipe.engines.vllm import VLLMEngine

    engine = VLLMEngine(model_dir)
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, max_tokens=tokens)
    engine.llm.generate(texts[:2], params, use_tqdm=False)
    start = time.perf_counter()
    outputs = engine.llm.generate(texts, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    return [list(o.outputs[0].token_ids) for o in outputs], seconds


def report(name: str, ids: list, seconds: float, reference: list | None) -> dict:
    generated = sum(len(x) for x in ids)
    same = sum(a == b for a, b in zip(ids, reference)) if reference else len(ids)
    print(f"{name:<22} {generated:6d} tokens {seconds:7.2f} s {generated / seconds:8.1f} tok/s   "
          f"same completions as dynamic: {same}/{len(ids)}", flush=True)
    return {"tokens_per_s": generated / seconds, "ids": ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/base"))
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, help="write the HF results here (for --compare)")
    parser.add_argument("--compare", type=Path, help="HF results of a first run: time vLLM against them")
    args = parser.parse_args()
    from r1pipe.engines.base import format_prompts
    from r1pipe.models import load_tokenizer

    prompts = [make_prompt(SYSTEM_PROMPT, r["question"]) for r in arithmetic.generate(args.prompts, 1, seed=0)]
    texts = format_prompts(load_tokenizer(args.model), prompts)
    print(f"{args.prompts} prompts, greedy, {args.tokens} new tokens, {torch.get_num_threads()} threads")
    if args.compare:
        first = json.loads(args.compare.read_text())
        dynamic = first["hf dynamic cache"]
        if importlib.util.find_spec("vllm") is None:
            raise SystemExit("vllm is not installed here: run this with .venv-vllm/bin/python")
        vllm = report("vllm-cpu", *vllm_variant(args.model, texts, args.tokens), dynamic["ids"])
        for name, result in first.items():
            print(f"vllm-cpu / {name}: x{vllm['tokens_per_s'] / result['tokens_per_s']:.2f}")
        return
    results = {}
    reference = None
    for name, cache, compiled in [("hf dynamic cache", "dynamic", False), ("hf static cache", "static", False),
                                  ("hf static + compile", "static", True)]:
        results[name] = report(name, *hf_variant(args.model, texts, args.tokens, cache, compiled), reference)
        reference = reference or results[name]["ids"]
    base = results["hf dynamic cache"]["tokens_per_s"]
    for name, result in results.items():
        print(f"{name} / dynamic: x{result['tokens_per_s'] / base:.2f}")
    if args.out:
        args.out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
