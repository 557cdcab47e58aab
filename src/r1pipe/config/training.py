"""What a training section shares, SFT and GRPO alike: which weights it updates (all, the top layers, a LoRA
adapter). Its own module, so that a default here reruns the training stages and nothing else."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Lora(BaseModel):
    """A LoRA adapter (peft) instead of full training. The stage's output is still an ordinary model, the
    adapter merged in; the adapter itself is kept in its ``adapter/`` subdirectory."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="Rank of the update.")
    alpha: int = Field(32, ge=1, description="Scale: the update is multiplied by alpha / r.")
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Module names to adapt (q_proj, v_proj, ...), or every linear layer but the head.")
    layers: int | None = Field(None, ge=1, description="Adapt only the top N decoder layers (None: all).")


class TrainableLayers(BaseModel):
    """Which weights a training stage updates (SFT and GRPO alike): all, the top layers, or a LoRA adapter."""

    train_layers: int | None = Field(
        None,
        ge=1,
        description="Train only the top N decoder layers and the final norm; embeddings and lower layers stay "
        "frozen, so the backward pass stops early (bench/cpu_training.py times it). None: train every "
        "weight.",
    )
    lora: Lora | None = Field(None, description="Train a LoRA adapter instead (its `layers` picks the layers).")

    @field_validator("lora")
    @classmethod
    def _one_way(cls, lora, info):
        if lora is not None and info.data.get("train_layers") is not None:
            raise ValueError("set either train_layers or lora (lora.layers picks the layers for an adapter)")
        return lora
