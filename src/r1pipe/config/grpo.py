"""The GRPO sections: `rl_reasoning`, `rl_all`, `rl_zero` and any `rl_*` (TRL's GRPOTrainer).

Every field of TRL's ``GRPOConfig`` is a key of these sections, under TRL's name (``loss_type``,
``importance_sampling_level``, ``epsilon_high``, ``top_entropy_quantile``, ``min_p``, ...), checked against
the installed TRL (``config/trl.py``); ``r1pipe check --explain rl_reasoning.loss_type`` prints TRL's help.
The fields below are r1pipe's own.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from r1pipe.config import PromptTemplate
from r1pipe.config.rewards import WeightedRewards
from r1pipe.config.training import TrainableLayers
from r1pipe.config.trl import TRLSection, TRLSettingError


def trl_vllm_missing() -> list[str]:
    """What this machine lacks for TRL's in-training vLLM (empty where `use_vllm: true` can run)."""
    import importlib.util

    import torch

    return [why for why, gone in [
        ("vLLM is not installed (r1pipe's vllm extra)", importlib.util.find_spec("vllm") is None),
        ("there is no GPU (TRL's vLLM syncs the weights through CUDA)", not torch.cuda.is_available())] if gone]


class GRPOSection(TRLSection, WeightedRewards, TrainableLayers):
    """`r1pipe grpo`: GRPO on TRL's GRPOTrainer.

    Sections ``rl_reasoning`` (A -> B), ``rl_all`` (C -> D) and any ``rl_*`` (e.g.
    ``rl_zero`` for R1-Zero on the base) share these fields. The gpu preset has the
    paper's values, with a comment where TRL's default differs.
    """

    TRL_CONFIG: ClassVar[str] = "GRPOConfig"
    TRL_DEFAULTS: ClassVar[dict] = {
        "learning_rate": (1e-5, "a short CPU run; TRL's 1e-6 barely moves a small model in 20 steps"),
        "lr_scheduler_type": ("constant", "the paper keeps the rate constant"),
        "max_steps": (20, "a short run on a CPU"),
        "loss_type": ("grpo", "the paper's objective; TRL's default is dapo"),
        "num_generations": (4, "a CPU budget (the paper: 16)"),
        "max_completion_length": (64, "on a CPU every generated token is paid for at every step"),
        "logging_steps": (1, "a point of every curve at every step"),
    }

    save_steps: int | float = Field(10, ge=0, description="Checkpoint every N steps into the work directory beside "
                                    "the output, or, below 1, every such share of the run; a killed run, rerun with "
                                    "the same inputs, resumes from the last one. 0: never.")
    # --- prompts
    template: PromptTemplate = Field(
        "chat", description="chat: the model's chat template; zero: the paper's R1-Zero plain-text template; "
        "zero_think: the same template ending with an opened <think>, the completion starting inside it.")
    max_prompts: int | None = Field(None, ge=1, description="Reasoning prompts to use (None: all).")
    general_prompts: str | None = Field(None, description="rl_all: a jsonl/parquet of general prompts (`question`).")
    general_ratio: float = Field(0.0, ge=0, lt=1, description="rl_all: share of general prompts in the mixture.")
    # --- r1pipe's own, on top of TRL's trainer
    dynamic_sampling: int = Field(0, ge=0, description="DAPO's dynamic sampling: drop the groups whose completions "
                                  "all got the same reward and refill them, with up to N more rounds of generation "
                                  "per step (training/dynamic_sampling.py). 0: off.")
    # --- what r1pipe records
    sample_every: int = Field(5, ge=0, description="Write sample completions every N steps; 0: never.")

    def local_files(self) -> dict[str, str]:
        return {"general": self.general_prompts} if self.general_prompts else {}

    def trl_problems(self) -> list[TRLSettingError]:
        """TRL's checks, and one of the machine: ``use_vllm`` (the first line of many open-r1 recipes) needs vLLM
        installed and a GPU, which TRL would find out only after the model loads, in a long traceback."""
        problems = super().trl_problems()
        if self.trl_given().get("use_vllm"):
            missing = trl_vllm_missing()
            if missing:
                problems.append(TRLSettingError("use_vllm", f"true, but {' and '.join(missing)}; set use_vllm: "
                                                "false (generation then runs in transformers)"))
        return problems

    def together_problems(self) -> list[TRLSettingError]:
        """TRL's rule that each generation batch holds whole groups, in the terms of the keys that set it (TRL's
        own message names only ``generation_batch_size``, which a recipe rarely gives)."""
        given = self.trl_given()
        if "generation_batch_size" in given or "steps_per_generation" in given:
            return []  # TRL's message names the given key itself
        from r1pipe import distributed

        n = self.trl_setting("num_generations")
        per_device = self.trl_setting("per_device_train_batch_size")
        accumulation = self.trl_setting("gradient_accumulation_steps")
        processes = distributed.processes()
        if (per_device * accumulation * processes) % n == 0:
            return []
        plural = "process" if processes == 1 else "processes"
        message = (f"{n} does not divide the {per_device * accumulation * processes} completions a generation makes "
                   f"(per_device_train_batch_size {per_device} x gradient_accumulation_steps {accumulation} x "
                   f"{processes} {plural}; `accelerate launch --num_processes N` multiplies it by N): change one of "
                   "these keys")
        assumed = given.get("num_processes")  # an open-r1 recipe's: the launch it was written for
        if isinstance(assumed, int) and assumed > 0 and (per_device * accumulation * assumed) % n == 0:
            message += (f", or launch on the recipe's num_processes: {assumed} ({per_device * accumulation * assumed}"
                        f" completions, which {n} divides)")
        return [TRLSettingError("num_generations", message)]
