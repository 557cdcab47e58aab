"""The GRPO sections: `rl_reasoning`, `rl_all`, `rl_student` and any `rl_*` (TRL's GRPOTrainer)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from r1pipe.config import Section, TrainableLayers, WeightedRewards


class GRPOSection(Section, WeightedRewards, TrainableLayers):
    """`r1pipe grpo`: GRPO on TRL's GRPOTrainer.

    Sections ``rl_reasoning`` (A -> B), ``rl_all`` (C -> D) and any ``rl_*`` (e.g.
    ``rl_zero`` for R1-Zero on the base) share these fields. The gpu preset has the
    paper's values, with a comment where TRL's default differs.
    """

    # --- optimisation
    learning_rate: float = Field(1e-5, gt=0)
    lr_scheduler: str = Field("constant", description="TRL default: linear. The paper keeps the rate constant.")
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    max_steps: int = Field(20, ge=1)
    batch_size: int = Field(8, ge=1, description="Completions per device step; a multiple of num_generations.")
    grad_accum: int = Field(1, ge=1)
    # --- the GRPO objective
    num_generations: int = Field(4, ge=2, description="Group size G (paper: 16; TRL default: 8).")
    beta: float = Field(0.0, ge=0, description="KL coefficient; >0 loads a reference model (paper: 0.001).")
    epsilon: float = Field(0.2, gt=0, description="Lower clip range (paper: 10 for R1-Zero).")
    epsilon_high: float | None = Field(None, gt=0, description="Upper clip range (DAPO's clip-higher); None: epsilon.")
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = Field("grpo", description="TRL default: dapo.")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="Divide advantages by the std of the group (GRPO), the batch, or not (Dr. GRPO).")
    num_iterations: int = Field(1, ge=1, description="Policy updates per generation batch (mu).")
    mask_truncated_completions: bool = Field(False, description="Leave completions cut at max length out of the loss.")
    # --- prompts
    template: Literal["chat", "zero"] = Field(
        "chat", description="chat: the model's chat template; zero: the paper's R1-Zero plain-text template.")
    max_prompts: int | None = Field(None, ge=1, description="Reasoning prompts to use (None: all).")
    general_prompts: str | None = Field(None, description="rl_all: a jsonl/parquet of general prompts (`question`).")
    general_ratio: float = Field(0.0, ge=0, lt=1, description="rl_all: share of general prompts in the mixture.")
    # --- generation (the bottleneck on a GPU: every setting TRL allows is here)
    max_completion_length: int = Field(64, ge=1)
    temperature: float = Field(1.0, gt=0, description="Paper: 1.0 for reasoning RL, 0.7 for rl_all.")
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int | None = Field(None, ge=0)
    repetition_penalty: float = Field(1.0, gt=0)
    generation_batch_size: int | None = Field(None, ge=1, description="Completions generated per call (TRL).")
    cache_implementation: str | None = Field(None, description="e.g. 'static' for torch.compile-able decoding.")
    use_vllm: bool = Field(False, description="Generate with vLLM through TRL (GPU only).")
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate", description="colocate: vLLM inside each training process; server: `trl vllm-serve` elsewhere.")
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, le=1, description="colocate: GPU share for vLLM.")
    vllm_tensor_parallel_size: int = Field(1, ge=1, description="colocate: GPUs per vLLM engine.")
    vllm_server_host: str = Field("0.0.0.0", description="server: where `trl vllm-serve` listens.")
    vllm_server_port: int = Field(8000, ge=1, le=65535)
    vllm_server_timeout: float = Field(240.0, gt=0, description="server: seconds to wait for it to come up.")
    # --- logging and resume
    logging_steps: int = Field(1, ge=1)
    save_steps: int = Field(10, ge=0, description="Checkpoint every N steps for resume; 0: never.")
    sample_every: int = Field(5, ge=0, description="Write sample completions every N steps; 0: never.")

    def local_files(self) -> dict[str, str]:
        return {"general": self.general_prompts} if self.general_prompts else {}
