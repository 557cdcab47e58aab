"""TRL's SFTTrainer and GRPOTrainer as r1pipe's training stages run them. Read in this order: ``stage`` (the
skeleton), ``sft`` and ``grpo`` (each builds its trainer and trains it), then what they share: ``args``,
``model``, ``resume``, ``callbacks``; ``sampling`` and ``dynamic_sampling`` override TRL's methods, each listed
in docs/layout.md with the test that holds it to TRL's own path."""
