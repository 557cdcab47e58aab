"""Run an r1pipe command with one part of a bf16 training step kept in float32 (issue #43, item 2).

    python bench/dtype_part.py head coldstart --params params-bf16.yaml --seed 0 --model models/base ...

Each part is put back in float32 alone; the rest of the step runs in bf16 as TRL's ``bf16: true`` runs it:

- ``head``: the LM head and the logits the loss reads, outside autocast;
- ``attention``: attention's scores, softmax and weighted sum (``scaled_dot_product_attention``), outside autocast;
- ``mlp``: each decoder layer's MLP (its three linear layers and the activation), outside autocast;
- ``gradients``: every decoder linear layer's backward (its input's and its weight's gradient) in float32, from
  the float32 weight and the layer's input; the forward stays the bf16 matmul autocast runs.

The norms need no part: CPU autocast runs none of them in bf16, and the model's RMSNorm upcasts to float32
itself. Only for measuring: the patch is this script's, r1pipe is unchanged, and the output's manifest does not
record it.
"""

from __future__ import annotations

import sys

import torch

import r1pipe.training.sft as sft
from r1pipe.cli import app


def float32_head(model):
    """``model``'s output layer run in float32, its input upcast, with autocast off."""
    head = model.get_output_embeddings()
    forward = head.forward

    def in_float32(hidden):
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            return forward(hidden.float())

    head.forward = in_float32
    return model


def float32_attention(model):
    """Attention's softmax(QK^T)V run in float32, its inputs upcast, with autocast off."""
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def in_float32(query, key, value, *args, **kwargs):
        with torch.autocast(device_type=query.device.type, enabled=False):
            return sdpa(query.float(), key.float(), value.float(), *args, **kwargs)

    torch.nn.functional.scaled_dot_product_attention = in_float32
    return model


def float32_mlp(model):
    """Each decoder layer's MLP run in float32, its input upcast, with autocast off."""
    for layer in model.model.layers:
        forward = layer.mlp.forward

        def in_float32(hidden, forward=forward):
            with torch.autocast(device_type=hidden.device.type, enabled=False):
                return forward(hidden.float())

        layer.mlp.forward = in_float32
    return model


class Bf16ForwardFloat32Backward(torch.autograd.Function):
    """A bias-free linear layer: the bf16 matmul autocast runs forward, both gradients in float32 backward."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return torch.nn.functional.linear(x.bfloat16(), weight.bfloat16())

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = grad.float()
        grad_x = (grad @ weight.float()).to(x.dtype) if ctx.needs_input_grad[0] else None
        grad_weight = None
        if ctx.needs_input_grad[1]:
            grad_weight = grad.reshape(-1, grad.shape[-1]).T @ x.float().reshape(-1, x.shape[-1])
        return grad_x, grad_weight


def float32_gradients(model):
    """Every linear layer of the decoder differentiated in float32 (``Bf16ForwardFloat32Backward``)."""
    for layer in model.model.layers:
        for linear in layer.modules():
            if isinstance(linear, torch.nn.Linear):
                assert linear.bias is None, "the models measured here have bias-free linear layers"
                linear.forward = lambda x, weight=linear.weight: Bf16ForwardFloat32Backward.apply(x, weight)
    return model


PARTS = {"head": float32_head, "attention": float32_attention, "mlp": float32_mlp, "gradients": float32_gradients}

if __name__ == "__main__":
    part = PARTS[sys.argv.pop(1)]
    trainable = sft.trainable
    sft.trainable = lambda model, layers: part(trainable(model, layers))
    app()
