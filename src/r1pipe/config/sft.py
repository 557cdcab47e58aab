"""The SFT sections: `coldstart`, `sft` and `distill` (TRL's SFTTrainer)."""

from __future__ import annotations

from pydantic import Field

from r1pipe.config import Section, TrainableLayers
from r1pipe.config.models import ModelRef, TinyModel


class TrainSection(Section, TrainableLayers):
    """Settings shared by every SFT-style stage (TRL SFTTrainer)."""

    learning_rate: float = Field(5e-4, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, ge=-1, description="-1: run `epochs` epochs.")
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(512, ge=16)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    max_samples: int | None = Field(None, ge=1, description="Use at most this many training rows.")
    logging_steps: int = Field(5, ge=1)
    save_steps: int = Field(0, ge=0, description="Checkpoint every N steps; a killed run, rerun with the same "
                            "inputs, resumes from the last one. 0: never (the default: SFT stages are short here).")


class ColdstartSection(TrainSection):
    pass


class SFTSection(TrainSection):
    pass


class DistillSection(TrainSection):
    student: ModelRef = ModelRef(tiny=TinyModel(hidden_size=64, num_layers=1, intermediate_size=128))
