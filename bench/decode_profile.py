"""Where a decode step's time goes: one profile of transformers' generation on a model, by kind of work.

Issue #44's first step. Eval and GRPO's sampler spend most of the default's time generating, well below the
machine's GEMM rate; this prints, for each batch size (rows decoded together) and sampling setting, the wall
time of a decode step beside what its matmuls would take at this machine's measured GEMM rate, and the share
of the step spent in each kind of operator (torch's profiler, self time of every operator):

- **GEMM**: ``aten::mm``/``addmm``/``bmm``/``linear`` (the projections, the MLP, the LM head);
- **attention**: the scaled-dot-product kernels;
- **cache**: growing the KV cache (``aten::cat``, ``index_copy``, ``slice``/``copy_`` of keys and values);
- **sampling**: the logits processors and the draw (softmax, top-p's sort and cumsum, multinomial or r1pipe's
  inverse-CDF draw, argmax);
- **other operators**: norms, rotary embeddings, activations, masks, dtype casts, ...;
- **outside operators**: the rest of the wall time: Python (the generation loop, the model's modules), the
  profiler's own cost included (so this share is an upper bound).

    r1pipe base --out /tmp/m/base                   # the default's base (SmolLM2-135M-Instruct), a few seconds
    python bench/decode_profile.py --model /tmp/m/base --rows 32 128 | tee bench/results/decode_profile.txt

Eval decodes greedily (``--temperature 0``), GRPO and reject-sample sample (the default: 0.7, top-p 1.0); each
sampled setting runs twice, side by side: with transformers' own draw (``torch.multinomial``, the path before
``r1pipe/token_draw.py``) and with r1pipe's (``token_draw.generate_kwargs``, as the engine and GRPO's sampler
call it). Every row decodes ``--steps`` tokens: the end-of-sequence token is one the model never emits, rather
than a ``min_new_tokens`` processor, which would add its own per-step work over the vocabulary. Time one thing
at a time: nothing else should run on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile
from transformers import AutoModelForCausalLM, AutoTokenizer

from r1pipe import hardware, token_draw
from r1pipe.config import SYSTEM_PROMPT
from r1pipe.data import arithmetic, make_prompt

KINDS = {
    "GEMM": ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::_mkldnn_linear"),
    "attention": ("scaled_dot_product", "flash_attention", "_efficient_attention"),
    "cache": ("aten::cat", "aten::index_copy", "aten::index_put", "aten::slice_scatter", "aten::narrow_copy"),
    "sampling": ("softmax", "aten::sort", "aten::cumsum", "aten::multinomial", "aten::argmax", "aten::topk",
                 "aten::scatter", "aten::gather", "aten::exponential", "aten::div_", "aten::searchsorted",
                 "aten::uniform_", "aten::rand", "aten::full", "aten::fill_"),
}


def kind(name: str) -> str:
    return next((k for k, needles in KINDS.items() if any(n in name for n in needles)), "other operators")


def prompts(tokenizer, rows: int) -> dict:
    """``rows`` arithmetic prompts of the default's kind, chat-templated and left-padded as r1pipe's engine does."""
    texts = [tokenizer.apply_chat_template(make_prompt(SYSTEM_PROMPT, p["question"]), tokenize=False,
                                           add_generation_prompt=True)
             for p in arithmetic.generate(rows, difficulty=1, seed=7)]
    tokenizer.padding_side = "left"
    return tokenizer(texts, return_tensors="pt", padding=True)


def matmul_flops_per_step(model, rows: int) -> float:
    """FLOPs of one decode step's matmuls: 2 x (every linear weight, the LM head included) per row; attention's
    own products over a short cache are left out (they are small here, and counted under attention)."""
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    if model.get_output_embeddings() is not None and not isinstance(model.get_output_embeddings(), torch.nn.Linear):
        weights += model.get_output_embeddings().weight.numel()
    return 2.0 * weights * rows


def run(model, batch: dict, steps: int, temperature: float, draw: str) -> None:
    """``steps`` tokens for every row; ``draw`` "r1pipe" samples through ``token_draw``, "transformers" through
    ``generate``'s own multinomial."""
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if temperature > 0 else {
        "do_sample": False}
    never = model.config.vocab_size - 1  # no row ends early, and no processor is added to make it so
    kwargs = {"max_new_tokens": steps, "eos_token_id": never, "pad_token_id": never, **sampling}
    with torch.no_grad():
        model.generate(**batch, **(token_draw.generate_kwargs(model, kwargs) if draw == "r1pipe" else kwargs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--rows", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--steps", type=int, default=32, help="decode steps per generate call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each draw, taken in turn")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.0, 0.7])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"],
                        help="bfloat16 is measured only where the CPU multiplies it natively (AMX, AVX512_BF16)")
    args = parser.parse_args()

    rates = hardware.gemm_rates()
    print(f"machine: {hardware.describe(rates)}; torch {torch.__version__}")
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    print("| dtype | rows | temperature | draw | prompt tokens | step ms (range) | matmuls at the GEMM rate, ms | "
          "share of GEMM | GEMM | attention | cache | sampling | other operators | outside operators |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for dtype in args.dtypes:
        if dtype == "bfloat16" and not rates["bf16"]:
            print(f"| bfloat16 | not measured: {rates['model']} has no bf16 units |")
            continue
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=getattr(torch, dtype)).eval()
        profile_dtype(model, tokenizer, dtype, rates["gflops"][dtype], args)


def profile_dtype(model, tokenizer, dtype: str, rate: float, args) -> None:
    """One table row per batch size and temperature, for ``model`` in ``dtype`` (GEMM rate ``rate`` GFLOP/s)."""
    for rows in args.rows:
        batch = prompts(tokenizer, rows)
        for temperature in args.temperatures:
            draws = ("transformers", "r1pipe") if temperature > 0 else ("-",)
            for draw in draws:
                run(model, batch, 2, temperature, draw)  # warm up: allocator, kernels' first calls
            # The draws' step times taken in turn, so a drift in the machine's speed moves both alike.
            times = {draw: [] for draw in draws}
            for _ in range(args.repeats):
                for draw in draws:
                    times[draw].append(step_seconds(model, batch, args.steps, temperature, draw))
            for draw in draws:
                print_profile(model, batch, args.steps, temperature, draw, dtype, rate, times[draw])
            if len(draws) == 2:
                ratios = sorted(a / b for a, b in zip(times["r1pipe"], times["transformers"]))
                print(f"|  |  |  | r1pipe / transformers, call by call: median {statistics.median(ratios):.2f} "
                      f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}, {len(ratios)} pairs) |", flush=True)


def step_seconds(model, batch: dict, steps: int, temperature: float, draw: str) -> float:
    """A decode step's wall time without the profiler: a whole call, minus the call that only prefills."""
    started = time.perf_counter()
    run(model, batch, 1, temperature, draw)
    prefill = time.perf_counter() - started
    started = time.perf_counter()
    run(model, batch, steps + 1, temperature, draw)
    return (time.perf_counter() - started - prefill) / steps


def print_profile(model, batch: dict, steps: int, temperature: float, draw: str, dtype: str, rate: float,
                  times: list[float]) -> None:
    """One table row: the median step time of ``times`` (their range beside it), and one profiled call's shares."""
    rows, step = batch["input_ids"].shape[0], statistics.median(times)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        run(model, batch, steps + 1, temperature, draw)
        wall = time.perf_counter() - started
    spent: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        spent[kind(event.key)] += event.self_cpu_time_total / 1e6
    spent["outside operators"] = max(wall - sum(spent.values()), 0.0)
    gemm_ms = matmul_flops_per_step(model, rows) / (rate * 1e9) * 1e3
    shares = " | ".join(f"{100 * spent[k] / wall:.0f}%" for k in [*KINDS, "other operators", "outside operators"])
    spread = f"{1e3 * min(times):.0f}-{1e3 * max(times):.0f}"
    print(f"| {dtype} | {rows} | {temperature:g} | {draw} | {batch['input_ids'].shape[1]} | {1e3 * step:.1f} "
          f"({spread}) | {gemm_ms:.1f} | {100 * gemm_ms / (1e3 * step):.0f}% | {shares} |", flush=True)


if __name__ == "__main__":
    main()
