"""What every generation engine shares: prompt formatting, and the sampling settings (``config/sampling.py``)
and completions (``data/completion.py``) it is given and returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from r1pipe import distributed
from r1pipe.config.sampling import Sampling
from r1pipe.data.completion import Completion

__all__ = ["Completion", "Sampling", "Work", "format_prompts", "matmul_params", "work_log"]


def matmul_params(model_dir: Path | str) -> int:
    """The weights a forward pass multiplies for each position: every 2-D weight of the decoder layers and the LM
    head (the input embedding's own table is a lookup, but a tied LM head multiplies by it), read from the
    safetensors headers."""
    from safetensors import safe_open

    total, head, embedding = 0, 0, 0
    for file in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(file), "pt") as f:
            for name in f.keys():
                shape = f.get_slice(name).get_shape()
                if len(shape) != 2:
                    continue
                if "embed_tokens" in name:
                    embedding = shape[0] * shape[1]
                elif name.endswith("lm_head.weight"):
                    head = shape[0] * shape[1]
                else:
                    total += shape[0] * shape[1]
    return total + (head or embedding)


@dataclass
class Work:
    """What a generation engine computed in this run (batches read back from a killed run's journal cost
    nothing): positions through the model, the tokens it kept, and its matmul FLOPs.

    ``prefill``: prompt positions, padding included, once per sequence that runs them (transformers repeats
    a prompt for each of its ``n`` samples; vLLM runs it once). ``decode``: one position per decoding step per
    sequence still in the batch, finished ones included (transformers keeps them until the longest ends).
    ``flops``: 2 per multiplied weight (:func:`matmul_params`) per position. Attention's own products (scores,
    weighted sums) are left out: at a few hundred positions they are a few percent of the total.
    """

    prefill: int = 0
    decode: int = 0
    generated: int = 0
    flops: float = 0.0
    seconds: float = 0.0

    def add(self, prefill: int, decode: int, generated: int, params: int, seconds: float) -> None:
        self.prefill += prefill
        self.decode += decode
        self.generated += generated
        self.flops += 2.0 * params * (prefill + decode)
        self.seconds += seconds

    def total(self) -> dict:
        """Summed over every process (a collective: every process calls it), for the run log."""
        counts = asdict(self)
        if distributed.launched():
            import torch.distributed as dist

            parts: list = [None] * distributed.world()
            dist.all_gather_object(parts, counts)
            counts = {k: sum(p[k] for p in parts) for k in counts}
            counts["seconds"] = max(p["seconds"] for p in parts)  # the processes run side by side
        return counts


def work_log(engine) -> dict | None:
    """The run log's account of what ``engine`` computed in this run (summed over processes: a collective), beside
    this machine's measured float32 GEMM rate and the share of it the generation reached. None for an engine
    that does not count (a test's scripted one)."""
    work = getattr(engine, "work", None)
    if work is None:
        return None
    counts = work.total()
    if not distributed.is_main():
        return counts
    from r1pipe import hardware

    rates = hardware.gemm_rates()
    achieved = counts["flops"] / counts["seconds"] / 1e9 if counts["seconds"] else 0.0
    gemm = rates["gflops"]["float32"] * max(distributed.world(), 1)
    return {**counts, "tflop": round(counts["flops"] / 1e12, 4), "gflops_per_s": round(achieved, 1),
            "machine": {"cpu": rates["model"], "bf16_flags": rates["bf16_flags"], "gemm_gflops": rates["gflops"]},
            "share_of_gemm": round(achieved / gemm, 3) if gemm else None}


def format_prompts(tok, prompts: list) -> list[str]:
    """Chat messages through the model's chat template; a plain string (R1-Zero's template) as it is.

    Both engines format prompts here, so they see exactly the same text.
    """
    return [p if isinstance(p, str) else tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
            for p in prompts]
