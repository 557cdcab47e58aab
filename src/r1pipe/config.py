"""Typed params: one pydantic model per params.yaml section.

Every section is strict (``extra="forbid"``) and has a ``seed``. A typo, a wrong
type or an out-of-range value raises :class:`r1pipe.R1pipeError` with a message
that names the file and the key, e.g. ``params.yaml: coldstart.lr: unknown key``.

Sections are looked up by name in :data:`SECTIONS`. Any extra GRPO run can be
declared as a section whose name starts with ``rl_`` (``rl_zero`` for R1-Zero), and
any extra model to materialise as one starting with ``base_`` (``base_student``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from r1pipe import R1pipeError
from r1pipe.data.templates import SYSTEM_PROMPT


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, description="Seeds python, numpy and torch for this stage.")


# --------------------------------------------------------------------------- models


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


# --------------------------------------------------------------------------- data


TaskName = Literal["math", "code", "countdown", "general"]
AnswerFormat = Literal["plain", "gsm8k", "boxed"]


class Source(BaseModel):
    """One task source for `prepare`.

    ``kind: arithmetic`` generates word problems with integer answers and worked
    solutions. ``kind: file`` reads ``train``/``test`` jsonl or parquet files;
    ``kind: hub`` reads the ``train``/``test`` splits of the hub dataset ``dataset``.
    ``columns`` maps r1pipe's column names (question, answer, solution, tests,
    entry_point, setup, numbers, target) to the source's.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["arithmetic", "file", "hub"]
    task: TaskName = "math"
    # arithmetic
    n_train: int = Field(0, ge=0)
    n_test: int = Field(0, ge=0)
    difficulty: int = Field(1, ge=1, le=5, description="Number of operations and size of the numbers.")
    # file / hub
    train: str | None = Field(None, description="file: a path; hub: a split name")
    test: str | None = None
    dataset: str | None = Field(None, description="hub: the dataset id")
    subset: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    answer_format: AnswerFormat = Field("plain", description="How to pull the gold answer out of the answer column.")
    question_template: str | None = Field(None, description="e.g. 'Solve: {question}'; fields are the row's columns.")
    limit_train: int | None = Field(None, ge=1)
    limit_test: int | None = Field(None, ge=1)


class PrepareSection(Section):
    system_prompt: str = SYSTEM_PROMPT
    sources: list[Source] = Field(min_length=1)

    @field_validator("sources")
    @classmethod
    def _complete(cls, sources: list[Source]) -> list[Source]:
        for s in sources:
            if s.kind == "hub" and not s.dataset:
                raise ValueError(f"{s.name}: a hub source needs `dataset` (the hub id)")
            if s.kind != "arithmetic" and not (s.train or s.test):
                raise ValueError(f"{s.name}: a {s.kind} source needs `train` and/or `test`")
        return sources


# --------------------------------------------------------------------------- training


class TrainableLayers(BaseModel):
    """Which weights a training stage updates (SFT and GRPO alike)."""

    train_layers: int | None = Field(
        None,
        ge=1,
        description="Train only the top N decoder layers and the final norm; embeddings and lower layers stay "
        "frozen, so the backward pass stops early (x2 per SFT step on SmolLM2-135M on a CPU with 10 of "
        "30 layers). None: train every weight.",
    )


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


class ColdstartSection(TrainSection):
    pass


class SFTSection(TrainSection):
    pass


class DistillSection(TrainSection):
    student: ModelRef = ModelRef(tiny=TinyModel(hidden_size=64, num_layers=1, intermediate_size=128))


class WeightedRewards(BaseModel):
    """Rewards by name with weights; one combiner (``r1pipe.rewards.combine``, TRL's formula) applies them."""

    rewards: dict[str, float | dict[str, Any]] = Field(
        default_factory=lambda: {"accuracy": 1.0, "format": 0.5},
        min_length=1,
        description="Reward name -> weight, or -> {weight: w, <option>: value, ...}.",
    )

    @field_validator("rewards")
    @classmethod
    def _build_rewards(cls, rewards: dict) -> dict:
        from r1pipe.rewards import get_reward

        for name, spec in rewards.items():
            weight, options = reward_spec(spec)
            if weight is None:
                raise ValueError(f"{name}: needs a weight")
            get_reward(name, **options)  # an unknown name or option fails here, with the params file named
        return rewards

    def reward_specs(self) -> list[tuple[str, float, dict]]:
        """(name, weight, options) per configured reward."""
        return [(name, *reward_spec(spec)) for name, spec in self.rewards.items()]


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
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, le=1)
    vllm_tensor_parallel_size: int = Field(1, ge=1)
    # --- logging and resume
    logging_steps: int = Field(1, ge=1)
    save_steps: int = Field(10, ge=0, description="Checkpoint every N steps for resume; 0: never.")
    sample_every: int = Field(5, ge=0, description="Write sample completions every N steps; 0: never.")


def reward_spec(spec) -> tuple[float | None, dict]:
    if isinstance(spec, dict):
        options = dict(spec)
        return options.pop("weight", None), options
    return float(spec), {}


class SamplingSection(Section, WeightedRewards):
    """Generation settings shared by reject-sample and eval."""

    engine: Literal["auto", "hf", "vllm"] = "auto"
    template: Literal["chat", "zero"] = Field("chat", description="zero: sample an R1-Zero model in its template.")
    temperature: float = Field(0.6, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1)
    max_prompts: int | None = Field(None, ge=1)
    batch_size: int = Field(16, ge=1, description="Prompts per generate call (hf engine).")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model (vllm engine).")


class Judge(BaseModel):
    """A generative judge for prompts without a rule-based answer; off unless configured."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="A chat model directory (the paper used DeepSeek-V3).")
    rubric: str | None = Field(None, description="With {question}, {reference}, {response}; None: built-in.")
    tasks: list[str] = Field(default_factory=lambda: ["general"], description="Tasks the judge grades.")
    max_new_tokens: int = Field(256, ge=1)


class RejectSampleSection(SamplingSection):
    temperature: float = Field(1.0, ge=0)
    n: int = Field(4, ge=1, description="Samples per prompt.")
    k: int = Field(1, ge=1, description="Keep at most this many accepted samples per prompt.")
    filters: list[str] | dict[str, dict | None] = Field(
        default_factory=lambda: ["accuracy", "format"], validate_default=True,
        description="Filters to apply, with their options (see r1pipe.data.filters).")
    dedup: float | None = Field(0.9, gt=0, le=1, description="Near-duplicate threshold (word 3-gram Jaccard).")
    select: Literal["shortest", "random", "first"] = "shortest"
    non_reasoning: str | None = Field(None, description="jsonl/parquet of `question`/`response` to mix in.")
    non_reasoning_ratio: float = Field(0.0, ge=0, lt=1, description="Share of non-reasoning rows in the output.")
    judge: Judge | None = None

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, filters):
        from r1pipe.data.filters import validate

        return validate(filters)


class Benchmark(BaseModel):
    """One eval benchmark. Fields left out come from the ready-made definition of the same name
    (see ``r1pipe.data.benchmarks.READY``): arithmetic, gsm8k, gsm8k_easy, math500, aime2024, aime2025, amc23,
    humaneval, mbpp, countdown."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source: str | None = Field(None, description="'prompts' (the prepared test split), a file, or a hub id.")
    subset: str | None = None
    split: str | None = None
    task: TaskName | None = None
    columns: dict[str, str] | None = None
    answer_format: AnswerFormat | None = None
    question_template: str | None = None
    limit: int | None = Field(None, ge=1, description="Evaluate at most this many problems.")
    max_solution_lines: int | None = Field(
        None, ge=1, description="Keep problems whose reference solution has at most this many lines (an easy subset)."
    )
    k: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    max_new_tokens: int | None = Field(None, ge=1)


class EvalSection(SamplingSection):
    k: int = Field(4, ge=1, description="Samples per prompt for pass@1 and cons@k.")
    pass_k: int | None = Field(None, ge=1, description="Also report unbiased pass@k for this k (<= k).")
    n_examples: int = Field(3, ge=0, description="Sample completions kept for the report.")
    data_dir: str | None = Field(None, description="Where local copies of the ready-made benchmarks live.")
    system_prompt: str = Field(SYSTEM_PROMPT, description="For benchmarks read from files or the hub.")
    benchmarks: list[str | Benchmark] = Field(default_factory=lambda: ["arithmetic"], min_length=1,
                                              validate_default=True)

    @field_validator("benchmarks")
    @classmethod
    def _ready_made(cls, benchmarks):
        from r1pipe.data.benchmarks import READY

        out = [Benchmark(name=b) if isinstance(b, str) else b for b in benchmarks]
        for b in out:
            if b.name not in READY and b.source is None:
                raise ValueError(f"{b.name}: not a ready-made benchmark ({', '.join(READY)}), so it needs a source")
        names = [b.name for b in out]
        if len(set(names)) != len(names):
            raise ValueError("benchmark names must be unique")
        return out


class ReportSection(Section):
    models: list[str] = Field(
        default_factory=lambda: ["base", "A", "B", "C", "D", "student", "student_rl"],
        description="Row order of the report table; names of metrics/eval/<name>.json.",
    )


SECTIONS: dict[str, type[Section]] = {
    "base": BaseSection,
    "prepare": PrepareSection,
    "coldstart": ColdstartSection,
    "rl_reasoning": GRPOSection,
    "reject_sample": RejectSampleSection,
    "sft": SFTSection,
    "rl_all": GRPOSection,
    "distill": DistillSection,
    "base_student": BaseSection,
    "rl_student": GRPOSection,
    "eval": EvalSection,
    "report": ReportSection,
}


def section_class(name: str) -> type[Section] | None:
    if name in SECTIONS:
        return SECTIONS[name]
    if name.startswith("rl_"):
        return GRPOSection
    if name.startswith("base_"):
        return BaseSection
    return None


def _format_error(path: Path, section: str, err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join([section, *(str(p) for p in first["loc"])])
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    return f"{path}: {key}: {msg}"


def load_params(path: Path) -> dict:
    """Read and validate the whole params file; return the raw mapping."""
    path = Path(path)
    if not path.is_file():
        raise R1pipeError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise R1pipeError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise R1pipeError(f"{path}: expected a mapping of sections at the top level")
    for name, body in raw.items():
        cls = section_class(str(name))
        if cls is None:
            raise R1pipeError(f"{path}: {name}: unknown section (known: {', '.join(SECTIONS)})")
        _validate(path, str(name), cls, body)
    return raw


def _validate(path: Path, name: str, cls: type[Section], body):
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise R1pipeError(f"{path}: {name}: expected a mapping, got {type(body).__name__}")
    try:
        return cls.model_validate(body)
    except ValidationError as e:
        raise R1pipeError(_format_error(path, name, e)) from None


def load_section(path: Path, section: str, cls: type[Section]):
    """Validate the file, then return ``section`` parsed as ``cls``."""
    raw = load_params(path)
    if section not in raw:
        raise R1pipeError(f"{path}: {section}: section missing")
    expected = section_class(section)
    if expected is not cls and not issubclass(expected, cls):
        raise R1pipeError(f"{path}: {section}: is a {expected.__name__} section, this command needs {cls.__name__}")
    return _validate(Path(path), section, cls, raw[section])
