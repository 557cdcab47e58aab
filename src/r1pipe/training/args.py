"""The TRL arguments a trainer gets: the section's TRL settings, checked by TRL's own config class.

The learning rate is decided here, like every other TRL setting: ``args.learning_rate`` is what the trainer,
the divergence guard and a resumed run (``callbacks.LearningRate``) all read.
"""

from __future__ import annotations

import torch

from r1pipe import distributed, hardware
from r1pipe.progress import console


def trl_args(cfg, config_class=None, **overrides):
    """The TRL config object (``config_class``, a subclass of the section's TRL class) a trainer gets: the
    section's TRL settings (r1pipe's defaults, then the params file's; see ``config/trl.py``), ``overrides``.
    ``bf16`` asked of a CPU that emulates it runs, with a warning."""
    args = cfg.build_trl(config_class, **overrides)
    warning = hardware.emulated_bf16("bfloat16" if args.bf16 else "float32", on_cpu=not torch.cuda.is_available())
    if warning and distributed.is_main():
        console.print(warning)
    return args


def checkpoint_args(save_steps: int | float) -> dict:
    """Trainer arguments for a checkpoint every ``save_steps`` (below 1: a share of the run; 0: none), the last
    one kept, for resume."""
    return {"save_strategy": "steps" if save_steps else "no", "save_steps": save_steps or 500, "save_total_limit": 1}
