"""What a stage computed: positions through the model, the tokens it kept or trained on, its matmul FLOPs, and the
share of this machine's GEMM rate it reached. Every stage that runs a model writes this to its run log (``work``);
the report puts them side by side.

How FLOPs are counted, per position (one token of one sequence through the model):

- ``N``, the weights a forward multiplies: every 2-D weight of the decoder layers and the LM head (a tied head is
  the embedding table, counted once; the input embedding itself is a lookup). Attention's own products (scores,
  weighted sums) are left out: at a few hundred positions they are a few percent of the total.
- A forward costs ``2 N``: padding included (it is computed); the LM head too, though transformers computes it
  only on the last prompt position when it generates (an overcount of at most head / N on prefill positions).
- A trained position costs ``2 N`` forward, then backward ``2 N_act`` to carry the gradient from the loss down
  to the lowest trainable weight (the head and every layer from the lowest one with a trainable weight), and
  ``2 N_grad`` for the trainable weights' own gradients. Training everything: ``2N + 2N + 2N = 6N``. Training
  the top ``k`` layers: ``N_act`` is the head and those ``k`` layers, ``N_grad`` those layers' weights. LoRA:
  ``N_grad`` is the adapters' weights, ``N`` includes them. A forward recomputed under activation checkpointing
  is not counted again.

This module imports only ``distributed`` and ``hardware``: engines, trainers and the report use it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from r1pipe import distributed


def matmul_params(model_dir: Path | str) -> int:
    """``N`` of a saved model (``ParamCounts.n``), for engines that never hold the torch model (vLLM): the model
    built from its config on torch's meta device, which allocates no weights, and counted as training counts it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(model_dir)))
    return ParamCounts.of(model.requires_grad_(False)).n


@dataclass(frozen=True)
class ParamCounts:
    """How many of a model's weights each FLOP term counts (module docstring): ``n``, ``act`` and ``grad``."""

    n: int
    act: int = 0
    grad: int = 0

    @classmethod
    def of(cls, model) -> ParamCounts:
        """From a torch model as it trains now: which weights are trainable decides ``act`` and ``grad``."""
        embedding = model.get_input_embeddings().weight
        head = getattr(model.get_output_embeddings(), "weight", None)
        try:
            layers = list(model.get_decoder().layers)
        except AttributeError:  # no decoder stack to find: count the backward through everything
            layers = []
        layer_of = {id(p): i for i, layer in enumerate(layers) for p in layer.parameters()}
        trainable = [p for p in model.parameters() if p.requires_grad]
        lowest = min((layer_of[id(p)] for p in trainable if id(p) in layer_of), default=len(layers))
        n = act = grad = 0
        for p in model.parameters():  # a tied weight once
            if p.dim() != 2 or (p is embedding and p is not head):
                continue
            n += p.numel()
            grad += p.numel() if p.requires_grad else 0
            act += p.numel() if layer_of.get(id(p), len(layers)) >= lowest else 0
        if not layers or embedding.requires_grad:  # the gradient goes all the way down
            act = n
        return cls(n, act if trainable else 0, grad)

    def trained_flops(self, positions: int) -> float:
        return 2.0 * (self.n + self.act + self.grad) * positions


@dataclass
class Work:
    """What a stage computed in this run (batches read back from a killed run's journal cost nothing).

    ``prefill``: prompt positions run before decoding, padding included (a prompt shared by its samples, or a
    head shared by a batch, runs once: ``prompt_cache.py``). ``decode``: one position per decoding step per
    sequence still in the batch, finished ones included (transformers keeps them until the longest ends).
    ``generated``: the tokens kept, up to and with the end-of-sequence token; ``generating``: the seconds of it.
    ``scored``: positions of forwards without a backward outside generation (GRPO's old-policy and reference
    log-probs). ``trained``: positions with a backward. ``flops``: as the module docstring counts them.
    """

    prefill: int = 0
    decode: int = 0
    generated: int = 0
    scored: int = 0
    trained: int = 0
    flops: float = 0.0
    seconds: float = 0.0
    generating: float = 0.0

    def generation(self, prefill: int, decode: int, generated: int, params: int, seconds: float) -> None:
        self.prefill += prefill
        self.decode += decode
        self.generated += generated
        self.flops += 2.0 * params * (prefill + decode)
        self.seconds += seconds
        self.generating += seconds

    def forward(self, positions: int, weights: ParamCounts, trained: bool) -> None:
        if trained:
            self.trained += positions
            self.flops += weights.trained_flops(positions)
        else:
            self.scored += positions
            self.flops += 2.0 * weights.n * positions

    def total(self) -> dict:
        """Summed over every process (a collective: every process calls it), for the run log."""
        # The processes run side by side: their seconds are the slowest one's.
        return distributed.sum_counts(asdict(self), slowest=("seconds", "generating"))


class ForwardCounter:
    """Adds every forward of ``model`` to ``work``: trained where gradients are on and the model trains, scored
    otherwise. Forwards while ``paused`` (generation, which its caller counts) are left out. ``ParamCounts`` are read
    at the first forward, once the trainer has wrapped the model (LoRA adapters in place)."""

    def __init__(self, model, work: Work):
        self.model, self.work, self.paused, self.weights = model, work, False, None
        self.handle = model.register_forward_pre_hook(self._count, with_kwargs=True)

    @contextmanager
    def detached(self):
        """The model without this counter's hook, for the duration: a copy made of it then does not count."""
        self.handle.remove()
        try:
            yield
        finally:
            self.handle = self.model.register_forward_pre_hook(self._count, with_kwargs=True)

    def cost(self) -> ParamCounts:
        """The model's ``ParamCounts``, read once."""
        self.weights = self.weights or ParamCounts.of(self.model)
        return self.weights

    def _count(self, module, args, kwargs):
        import torch

        if self.paused:
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            ids = kwargs["inputs_embeds"]
        self.work.forward(ids.shape[0] * ids.shape[1], self.cost(), torch.is_grad_enabled() and module.training)


def work_log(work: Work | None, dtype: str | None = None) -> dict | None:
    """The run log's account of ``work`` (summed over processes: a collective), beside this machine's measured
    GEMM rates and the share of the rate for ``dtype`` (float32 unless said) the stage reached."""
    if work is None:
        return None
    counts = work.total()
    if not distributed.is_main():
        return counts
    from r1pipe import hardware

    rates = hardware.gemm_rates()  # of the device that did the work: a GPU's FLOPs over the GPU's rate
    achieved = counts["flops"] / counts["seconds"] / 1e9 if counts["seconds"] else 0.0
    gemm = rates["gflops"]["bfloat16" if dtype == "bfloat16" else "float32"] * max(distributed.world(), 1)
    return {**counts, "tflop": round(counts["flops"] / 1e12, 4), "gflops_per_s": round(achieved, 1),
            **({"dtype": dtype} if dtype else {}), "machine": hardware.machine(rates),
            "share_of_gemm": round(achieved / gemm, 3) if gemm else None}
