"""The `prepare` section: which task sources become the train, validation and test prompts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from r1pipe.config import SYSTEM_PROMPT, AnswerFormat, Section, TaskName


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
    n_validation: int = Field(0, ge=0, description="Generated problems for the validation split: settings are "
                              "chosen on it, never on test.")
    difficulty: int = Field(1, ge=0, le=5, description="Number of operations (difficulty + 1) and size of the "
                            "numbers; 0: one addition or subtraction on numbers up to 10.")
    # file / hub
    train: str | None = Field(None, description="file: a path; hub: a split name")
    test: str | None = None
    validation: str | None = Field(None, description="file: a path; hub: a split name (settings are chosen on it)")
    dataset: str | None = Field(None, description="hub: the dataset id")
    subset: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    answer_format: AnswerFormat = Field("plain", description="How to pull the gold answer out of the answer column.")
    question_template: str | None = Field(None, description="e.g. 'Solve: {question}'; fields are the row's columns.")
    limit_train: int | None = Field(None, ge=1)
    limit_test: int | None = Field(None, ge=1)
    limit_validation: int | None = Field(None, ge=1)


class PrepareSection(Section):
    system_prompt: str = Field(SYSTEM_PROMPT, description="The system turn of every prompt.")
    sources: list[Source] = Field(min_length=1, description="Where the prompts come from: the arithmetic generator, "
                                  "local files or hub datasets, each with a name, a task and splits.")

    @field_validator("sources")
    @classmethod
    def _complete(cls, sources: list[Source]) -> list[Source]:
        for s in sources:
            if s.kind == "hub" and not s.dataset:
                raise ValueError(f"{s.name}: a hub source needs `dataset` (the hub id)")
            if s.kind != "arithmetic" and not (s.train or s.test):
                raise ValueError(f"{s.name}: a {s.kind} source needs `train` and/or `test`")
        return sources

    def local_files(self) -> dict[str, str]:
        return {f"{s.name}:{split}": path for s in self.sources if s.kind == "file"
                for split, path in (("train", s.train), ("test", s.test), ("validation", s.validation)) if path}
