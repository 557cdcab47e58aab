"""r1pipe's generation path against the one before a change, side by side, in one run.

Three stages of the default, each run twice through r1pipe's own stage code: once on the path before the change
``--before`` names, once as r1pipe runs now. The changes:

- ``prefix`` (the default): ``prompt_cache.generate`` replaced by plain ``generate`` on the repeated,
  left-padded prompts (the path before prefix sharing);
- ``draw``: ``token_draw.generate_kwargs`` left out, so a sampled token is drawn by transformers' own
  ``torch.multinomial`` (the path before ``token_draw.py``); greedy eval is the same on both.
 Each run's work comes from its run log (``r1pipe.work``): positions, TFLOP, seconds, and the
share of this machine's measured GEMM rate.

- eval of the held-out problems (the default's eval section: greedy, 64 new tokens; today at batch 64, the
  previous default, against the section's batch), with the completions and problems that differ between the
  two paths, and the paired difference in pass@1;
- reject-sample of the default (its section: 192 prompts x 2 samples at T 0.7);
- GRPO steps of ``rl_reasoning`` (``--grpo-steps``, 8 completions per prompt).

Where the CPU multiplies bf16 natively (AMX, AVX512_BF16), eval and GRPO run a third time in bf16; elsewhere
that column says "not measured".

    cd <a directory with the default's models/A and data/prompts>
    python bench/cpu_compute.py --model models/A --data data/prompts | tee bench/results/cpu_compute.txt
    python bench/cpu_compute.py --before draw --only reject --only grpo --grpo-steps 5 \
        | tee bench/results/cpu_compute_draw.txt
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

from r1pipe import hardware, prompt_cache, token_draw
from r1pipe.config import load_params, section_class, validate
from r1pipe.manifest import run_log_path

PARAMS = Path("params.yaml")


def section(name: str, **changes):
    """The params file's section ``name``, with ``changes``, validated as the stage would."""
    return validate(PARAMS, name, section_class(name), {**load_params(PARAMS)[name], **changes})


@contextlib.contextmanager
def path_before(change: str):
    """The generation path before ``change``: "prefix", ``prompt_cache.generate`` as plain ``generate`` (every
    row's prompt runs in full); "draw", ``token_draw.generate_kwargs`` as the identity (multinomial's draw)."""
    module, name = (prompt_cache, "generate") if change == "prefix" else (token_draw, "generate_kwargs")
    today = getattr(module, name)

    def plain(model, input_ids, attention_mask, generate_fn=None, **kwargs):
        out = (generate_fn or model.generate)(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return out, input_ids.numel()

    setattr(module, name, plain if change == "prefix" else lambda model, kwargs: kwargs)
    try:
        yield
    finally:
        setattr(module, name, today)


def work_of(out: Path) -> dict:
    log = json.loads(run_log_path(out).read_text())
    return {**log["work"], "stage_seconds": log["seconds"]}


@contextlib.contextmanager
def recording(completions: list):
    """Every completion the transformers engine returns, in order, appended to ``completions``."""
    from r1pipe.engines.hf import HFEngine

    generate = HFEngine.generate

    def record(self, *args, **kwargs):
        groups = generate(self, *args, **kwargs)
        completions.extend(c.token_ids for g in groups for c in g)
        return groups

    HFEngine.generate = record
    try:
        yield
    finally:
        HFEngine.generate = generate


def run_eval(model, data, root: Path, limit: int | None, dtype: str, batch_size: int | None = None):
    """The eval stage's work, metrics, per-problem scores and completions' tokens."""
    from r1pipe.stages import eval as stage

    out, completions = root / "eval.json", []
    changes = {"dtype": dtype, "max_prompts": limit, **({"batch_size": batch_size} if batch_size else {})}
    with recording(completions):
        metrics = stage.run(section("eval", **changes), model, data, out)
    return work_of(out), metrics, json.loads(out.with_suffix(".problems.json").read_text()), completions


def run_reject_sample(model, data, root: Path) -> tuple[dict, dict]:
    from r1pipe.stages import reject_sample as stage

    stats = stage.run(section("reject_sample"), model, data, root / "sft", root / "reject.json")
    return work_of(root / "sft"), stats


def run_grpo(model, data, root: Path, steps: int, bf16: bool) -> dict:
    from r1pipe.stages import grpo as stage

    cfg = section("rl_reasoning", max_steps=steps, save_steps=0, bf16=bf16)
    stage.run(cfg, "rl_reasoning", model, data, root / "B")
    return work_of(root / "B")


def paired(a: dict, b: dict) -> tuple[float, float, list[str]]:
    """The difference in pass@1 (points), its paired SE, and the problems whose scores differ."""
    keys = sorted(a)
    diffs = [b[k] - a[k] for k in keys]
    mean = sum(diffs) / len(diffs)
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs)) if len(diffs) > 1 else 0.0
    return 100 * mean, 100 * se, [k for k, d in zip(keys, diffs) if d]


def line(name: str, today: dict, new: dict) -> str:
    return (f"{name:<14} today {today['stage_seconds']:7.1f} s {today['tflop']:8.3f} TFLOP "
            f"{today['prefill']:>8,} prefill {today['share_of_gemm']:5.1%} of GEMM | "
            f"new {new['stage_seconds']:7.1f} s {new['tflop']:8.3f} TFLOP {new['prefill']:>8,} prefill "
            f"{new['share_of_gemm']:5.1%} of GEMM | x{today['stage_seconds'] / new['stage_seconds']:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/A"))
    parser.add_argument("--data", type=Path, default=Path("data/prompts"))
    parser.add_argument("--problems", type=int, default=None, help="Eval at most this many (default: all, 512).")
    parser.add_argument("--grpo-steps", type=int, default=3)
    parser.add_argument("--today-batch", type=int, default=64, help="eval's batch_size before this change.")
    parser.add_argument("--only", choices=["eval", "reject", "grpo"], action="append")
    parser.add_argument("--before", choices=["prefix", "draw"], default="prefix",
                        help="the change measured: prefix sharing, or token_draw's draw")
    args = parser.parse_args()
    from r1pipe.progress import console

    console.quiet = True  # the stages' bars and summaries; this prints its own lines
    rates = hardware.gemm_rates()
    native = hardware.bf16_native(rates["bf16_flags"])
    print(hardware.describe(rates))
    print(f"model {args.model}, {time.strftime('%Y-%m-%d')}; 'today' is the path before {args.before!r}; "
          "ratios are today / new (higher: new is faster)\n")
    only = set(args.only or ["eval", "reject", "grpo"])
    root = Path(tempfile.mkdtemp(prefix="r1pipe-compute-"))
    try:
        if "eval" in only:
            with path_before(args.before):
                today, m_today, p_today, c_today = run_eval(args.model, args.data, root / "eval-today",
                                                            args.problems, "float32", args.today_batch)
            new, m_new, p_new, c_new = run_eval(args.model, args.data, root / "eval-new", args.problems, "float32")
            print(line("eval", today, new))
            print(f"  batch_size today {args.today_batch}, new {section('eval').batch_size}")
            bench = next(iter(p_today))
            delta, se, differ = paired(p_today[bench], p_new[bench])
            same = sum(a == b for a, b in zip(c_today, c_new))
            print(f"  pass@1 today {100 * m_today[bench]['pass@1']:.2f}, new {100 * m_new[bench]['pass@1']:.2f}: "
                  f"paired difference {delta:+.2f} ± {se:.2f} points; {same} of {len(c_new)} completions "
                  f"identical, {len(differ)} problems score differently"
                  f"{': ' + ', '.join(differ[:20]) if differ else ''}")
            if native:
                bf16, m_bf16, p_bf16, _ = run_eval(args.model, args.data, root / "eval-bf16", args.problems,
                                                   "bfloat16")
                delta, se, differ = paired(p_new[bench], p_bf16[bench])
                print(line("eval bf16", today, bf16))
                print(f"  bf16 against float32: {delta:+.2f} ± {se:.2f} points, {len(differ)} problems differ")
            else:
                print("  eval bf16: not measured (no bf16 units on this CPU)")
        if "reject" in only:
            with path_before(args.before):
                today, s_today = run_reject_sample(args.model, args.data, root / "rs-today")
            new, s_new = run_reject_sample(args.model, args.data, root / "rs-new")
            print(line("reject-sample", today, new))
            print(f"  kept today {s_today['kept']}, new {s_new['kept']}")
        if "grpo" in only:
            with path_before(args.before):
                today = run_grpo(args.model, args.data, root / "grpo-today", args.grpo_steps, bf16=False)
            new = run_grpo(args.model, args.data, root / "grpo-new", args.grpo_steps, bf16=False)
            print(line(f"grpo {args.grpo_steps} steps", today, new))
            print(f"  generating: today {today['generating']:.1f} s, new {new['generating']:.1f} s")
            if native:
                bf16 = run_grpo(args.model, args.data, root / "grpo-bf16", args.grpo_steps, bf16=True)
                print(line("grpo bf16", today, bf16))
            else:
                print("  grpo bf16: not measured (no bf16 units on this CPU)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
