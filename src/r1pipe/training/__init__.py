"""Thin wrappers around TRL's SFTTrainer and GRPOTrainer with device-aware defaults."""
