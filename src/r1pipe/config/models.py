"""Sections that name a model: `base` and `base_*` (r1pipe base), and a student's reference."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from r1pipe.config import Section


class TinyModel(BaseModel):
    """A tiny Qwen2-shaped model built offline. head_dim 64 keeps it loadable by vLLM."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: int = Field(128, ge=8)
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(2, ge=1)
    num_kv_heads: int = Field(1, ge=1)
    head_dim: int = Field(64, ge=8)
    intermediate_size: int = Field(256, ge=8)
    vocab_size: int = Field(1024, ge=300, description="BPE vocabulary trained locally; >=256 byte symbols.")
    max_position_embeddings: int = Field(1024, ge=64)


class ModelRef(BaseModel):
    """Where a model comes from: a hub id, a local directory, or ``tiny``."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        "tiny", description="'tiny', a named model ('smollm2-135m-instruct'), a local save_pretrained dir, or a hub id."
    )
    tiny: TinyModel = TinyModel()
    layers: int | None = Field(
        None, ge=1, description="Keep only this many decoder layers, evenly spread (a smaller student)."
    )


class BaseSection(Section, ModelRef):
    """`r1pipe base`: materialise the base model as a local directory."""
