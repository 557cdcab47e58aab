"""The model a trainer trains and the one it saves: trainable layers, LoRA, a ``save_pretrained`` directory."""

from __future__ import annotations

from pathlib import Path

from r1pipe import R1pipeError, distributed


def base_model(model):
    """The transformers model inside a peft wrapper (``generate`` calls it, not the wrapper)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def trainable(model, train_layers: int | None):
    """Freeze all but the top ``train_layers`` decoder layers and the final norm (None: train everything).

    The input embedding is frozen with the lower layers; a tied LM head shares it,
    so it stays frozen too.
    """
    if train_layers is None:
        return model
    layers = model.get_decoder().layers
    if train_layers > len(layers):
        raise R1pipeError(f"train_layers: {train_layers} is more than the model's {len(layers)} layers")
    model.requires_grad_(False)
    for layer in layers[len(layers) - train_layers :]:
        layer.requires_grad_(True)
    model.get_decoder().norm.requires_grad_(True)
    return model


def lora_config(lora, model):
    """peft's LoraConfig for a section's ``lora`` block (None without one), on ``model``'s decoder layers."""
    if lora is None:
        return None
    from peft import LoraConfig

    n = len(model.get_decoder().layers)
    if lora.layers is not None and lora.layers > n:
        raise R1pipeError(f"lora.layers: {lora.layers} is more than the model's {n} layers")
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
                      target_modules=lora.target_modules,
                      layers_to_transform=list(range(n - lora.layers, n)) if lora.layers else None)


def save_trained(trainer, out_dir: Path) -> None:
    """The trained model as an ordinary ``save_pretrained`` directory. A LoRA run's adapter is merged in, so
    the output loads without peft, and the adapter itself goes to ``adapter/`` for those who want it."""
    from peft import PeftModel

    model = trainer.accelerator.unwrap_model(trainer.model)
    if not isinstance(model, PeftModel):
        trainer.save_model(str(out_dir))  # gathers ZeRO-3 / FSDP shards; the main process writes
        return
    if distributed.is_main():
        model.save_pretrained(str(Path(out_dir) / "adapter"))
        model.merge_and_unload().save_pretrained(str(out_dir))
        trainer.processing_class.save_pretrained(str(out_dir))
