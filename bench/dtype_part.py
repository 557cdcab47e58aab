"""Run an r1pipe command with one part of a bf16 training step kept in float32 (issue #43, item 2).

    python bench/dtype_part.py head coldstart --params params-bf16.yaml --seed 0 --model models/base ...

``head``: the LM head and the logits the loss reads computed in float32, outside autocast (the rest of the step
in bf16 as TRL's ``bf16: true`` runs it). Only for measuring: the patch is this script's, r1pipe is unchanged,
and the output's manifest does not record it.
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


PARTS = {"head": float32_head}

if __name__ == "__main__":
    part = PARTS[sys.argv.pop(1)]
    trainable = sft.trainable
    sft.trainable = lambda model, layers: part(trainable(model, layers))
    app()
