"""The generation sections: `reject_sample` and `eval`, and the benchmarks eval runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from r1pipe.config import (
    SYSTEM_PROMPT,
    AnswerFormat,
    PromptTemplate,
    Section,
    TaskName,
    check_columns,
    is_local,
)
from r1pipe.config.rewards import WeightedRewards

# The weights' dtype while generating; auto: hardware.resolve_dtype.
GenerationDtype = Literal["auto", "float32", "bfloat16"]


class SamplingSection(Section, WeightedRewards):
    """Generation settings shared by reject-sample and eval."""

    engine: Literal["auto", "hf", "vllm"] = "auto"
    template: PromptTemplate = Field("chat", description="zero, zero_think: sample an R1-Zero model in its template.")
    temperature: float = Field(0.6, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1)
    max_prompts: int | None = Field(None, ge=1)
    batch_size: int = Field(16, ge=1, description=(
        "Prompts per generate call, and per batch kept in the work directory for a killed run to resume from "
        "(with vllm, hundreds keep the engine full)."))
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model (vllm engine).")
    dtype: GenerationDtype = Field("auto", description=(
        "The weights' dtype while generating. auto: bfloat16 where the hardware multiplies it natively and faster "
        "than float32 (a GPU, a CPU with AMX or AVX512_BF16 and the faster measured GEMM), float32 elsewhere; "
        "bfloat16 on a CPU that emulates it runs, with a warning."))


_DEFAULTS = SamplingSection.model_fields


@dataclass(frozen=True)
class Sampling:
    """One generation call's settings, as the engines take them; left out, the generation sections' defaults."""

    temperature: float = _DEFAULTS["temperature"].default
    top_p: float = _DEFAULTS["top_p"].default
    max_new_tokens: int = _DEFAULTS["max_new_tokens"].default


class Judge(BaseModel):
    """A generative judge for prompts without a rule-based answer; off unless configured."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="A chat model directory (the paper used DeepSeek-V3).")
    rubric: str | None = Field(None, description="With {question}, {reference}, {response}; None: built-in.")
    tasks: list[str] = Field(default_factory=lambda: ["general"], description="Tasks the judge grades.")
    max_new_tokens: int = Field(256, ge=1)


class RejectSampleSection(SamplingSection):
    temperature: float = Field(1.0, ge=0)
    # Its samples become the SFT set: float32 gives every machine the same set (bf16's rounding differs between
    # CPUs' kernels), as training is float32 (config/trl.py, FLOAT32_TRAINING); eval keeps auto.
    dtype: GenerationDtype = Field("float32", description=(
        "The weights' dtype while sampling: float32 by default, as training, since the samples become training "
        "data and float32 gives every machine the same ones. auto: bfloat16 where the hardware multiplies it "
        "natively and faster (the faster path, whose samples differ by machine)."))
    n: int = Field(4, ge=1, description="Samples per prompt.")
    k: int = Field(1, ge=1, description="Keep at most this many accepted samples per prompt.")
    filters: list[str] | dict[str, dict | None] = Field(
        default_factory=lambda: ["accuracy", "format"],
        description="Filters to apply, with their options (checked by r1pipe.data.filters.check_filters).")
    dedup: float | None = Field(0.9, gt=0, le=1, description="Near-duplicate threshold (word 3-gram Jaccard).")
    select: Literal["shortest", "random", "first"] = "shortest"
    non_reasoning: str | None = Field(None, description="jsonl/parquet of `question`/`response` to mix in.")
    non_reasoning_ratio: float = Field(0.0, ge=0, lt=1, description="Share of non-reasoning rows in the output.")
    judge: Judge | None = None

    def local_files(self) -> dict[str, str]:
        files = {"non_reasoning": self.non_reasoning} if self.non_reasoning else {}
        # A judge model is a directory, or a hub id (which names no local file).
        return {**files, **({"judge": self.judge.model} if self.judge and Path(self.judge.model).exists() else {})}


class Benchmark(BaseModel):
    """One eval benchmark. Fields left out come from the ready-made definition of the same name
    (see ``r1pipe.data.benchmarks.READY``): arithmetic, validation, gsm8k, gsm8k_easy, math500, aime2024, aime2025,
    amc23, humaneval, mbpp, countdown."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source: str | None = Field(None, description="'prompts' (the prepared splits; `split` picks one, test by "
                               "default), a file, or a hub id.")
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

    @field_validator("columns")
    @classmethod
    def _columns(cls, columns):
        return check_columns(columns)


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
    def _named(cls, benchmarks):
        """Names become Benchmark(name=...); the ready-made ones are checked by r1pipe.data.benchmarks."""
        out = [Benchmark(name=b) if isinstance(b, str) else b for b in benchmarks]
        names = [b.name for b in out]
        if len(set(names)) != len(names):
            raise ValueError("benchmark names must be unique")
        return out

    def local_files(self) -> dict[str, str]:
        files = {b.name: b.source for b in self.benchmarks if b.source and b.source != "prompts" and is_local(b.source)}
        return {**files, **({"data_dir": self.data_dir} if self.data_dir else {})}
