"""The SFT sections: `coldstart`, `sft` and `distill` (TRL's SFTTrainer)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from r1pipe.config.models import ModelRef, TinyModel
from r1pipe.config.training import TrainableLayers
from r1pipe.config.trl import TRLSection


class TrainSection(TRLSection, TrainableLayers):
    """Settings shared by every SFT-style stage (TRL's SFTTrainer): any field of TRL's ``SFTConfig`` under
    TRL's name (``learning_rate``, ``num_train_epochs``, ``per_device_train_batch_size``, ``max_length``,
    ...; ``r1pipe check --explain coldstart.<key>``), and r1pipe's own fields below."""

    TRL_CONFIG: ClassVar[str] = "SFTConfig"
    TRL_DEFAULTS: ClassVar[dict] = {
        "learning_rate": (5e-4, "a few hundred rows into a small model with its top layers trained"),
        "num_train_epochs": (1.0, "the paper's cold start is one pass; TRL's default is 3"),
        "lr_scheduler_type": ("cosine", "decays to zero by the last step"),
        "max_length": (512, "prompt and completion of r1pipe's tasks; TRL's 1024 pads more on a CPU"),
        "logging_steps": (5, "a loss point every few steps of a short run"),
        "completion_only_loss": (True, "the loss is on the completion; the prompt is given"),
    }

    max_samples: int | None = Field(None, ge=1, description="Use at most this many training rows.")
    max_truncated_share: float = Field(
        0.05, ge=0, le=1, description="Warn (run log, summary, report) when more than this share of the training "
        "rows is cut at max_length: their completions lose their ends, the <answer> among them.")


class ColdstartSection(TrainSection):
    pass


class SFTSection(TrainSection):
    pass


class DistillSection(TrainSection):
    student: ModelRef = ModelRef(tiny=TinyModel(hidden_size=64, num_layers=1, intermediate_size=128))
