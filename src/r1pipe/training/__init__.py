"""TRL's SFTTrainer and GRPOTrainer with r1pipe's callbacks (resume, divergence, curves), dynamic sampling, and
the overrides of TRL's private methods that a CPU needs (each tested against TRL's own path)."""
