"""Model references: resolve (hub id, local dir, ``tiny``), load for training, save."""

from r1pipe.models.resolve import (
    load_model,
    load_tokenizer,
    materialize,
    require_model_dir,
)

__all__ = ["load_model", "load_tokenizer", "materialize", "require_model_dir"]
