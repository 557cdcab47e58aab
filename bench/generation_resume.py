"""What keeping finished generation batches costs: time against the same generation without a journal, and disk.

reject-sample and eval write each finished batch to their work directory (``r1pipe.engines.journal``), so
that a killed run resumes. This generates the default's shape twice in one run, with the default's model
and prompts (batch 64, 64 new tokens, reject-sample's sampling): once as before (no journal), once
through a journal, checks that both give the same completions, and prints the journal's own time (writing
every batch and reading it back) as a share of the generation, and its bytes per generated token, scaled to
the paper's rejection-sampling run (600k samples of about 4k tokens).

    r1pipe base --out models/base && r1pipe prepare --out data/prompts     # the default's model and data
    python bench/generation_resume.py --model models/base --data data/prompts
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from r1pipe import hardware
from r1pipe.config.sampling import RejectSampleSection, Sampling
from r1pipe.data.io import load_prompts
from r1pipe.data.templates import apply_template
from r1pipe.engines.hf import HFEngine
from r1pipe.engines.journal import Journal, read_batch

PAPER_SAMPLES, PAPER_TOKENS = 600_000, 4_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/base"))
    parser.add_argument("--data", type=Path, default=Path("data/prompts"))
    parser.add_argument("--batches", type=int, default=2)
    args = parser.parse_args()
    print(hardware.describe(hardware.gemm_rates()))

    cfg = RejectSampleSection()  # the section's own defaults, but for the default's shape below
    batch_size, n = 64, 2
    sampling = Sampling(temperature=0.7, top_p=1.0, max_new_tokens=64)
    rows = load_prompts(args.data, "train", batch_size * args.batches)
    prompts = [apply_template(r["prompt"], cfg.template) for r in rows]
    engine = HFEngine(args.model, batch_size=batch_size)
    print(f"{len(prompts)} prompts x {n} samples, batch {batch_size}, {sampling}")

    start = time.perf_counter()
    plain = engine.generate(prompts, n, sampling, seed=0)
    plain_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as work:
        journal = Journal(work, "bench")
        start = time.perf_counter()
        kept = engine.generate(prompts, n, sampling, seed=0, journal=journal)
        kept_s = time.perf_counter() - start
        files = sorted(Path(work).glob("*/*.json.gz"))
        start = time.perf_counter()
        read = [read_batch(f, batch_size, n) for f in files]
        read_s = time.perf_counter() - start
        size = sum(f.stat().st_size for f in files)
    assert kept == plain, "the journal changed the completions"
    assert [g for batch in read for g in batch] == plain, "a batch read back differs"

    # The journal's own work, measured apart from generation: serialising and writing every batch again.
    with tempfile.TemporaryDirectory() as work:
        journal = Journal(work, "bench")
        start = time.perf_counter()
        journal.batches([batch_size] * args.batches, n, lambda b: plain[b * batch_size:(b + 1) * batch_size],
                        {"bench": 1}, "write only")
        write_s = time.perf_counter() - start
    tokens = sum(c.n_tokens for g in plain for c in g)
    print(f"without a journal: {plain_s:.1f} s; with one: {kept_s:.1f} s (ratio {kept_s / plain_s:.3f}); "
          f"same completions: {kept == plain}")
    print(f"the journal's own time: writing {write_s * 1e3:.0f} ms, reading back {read_s * 1e3:.0f} ms: "
          f"{(write_s + read_s) / plain_s:.3%} of the generation")
    per_token = size / tokens
    print(f"disk: {size} bytes for {tokens} generated tokens ({len(files)} batches): {per_token:.2f} bytes/token; "
          f"the paper's {PAPER_SAMPLES:,} samples x {PAPER_TOKENS:,} tokens: "
          f"{per_token * PAPER_SAMPLES * PAPER_TOKENS / 1e9:.1f} GB")


if __name__ == "__main__":
    main()
