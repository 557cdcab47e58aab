"""The `prepare` section: which task sources become the train, validation and test prompts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from r1pipe.config import SYSTEM_PROMPT, WORKED_ANSWERS, AnswerFormat, Section, TaskName, check_columns


class Source(BaseModel):
    """One task source for `prepare`.

    ``kind: arithmetic`` generates word problems with integer answers and worked
    solutions. ``kind: file`` reads ``train``/``test``/``validation`` jsonl or parquet files;
    ``kind: hub`` reads those splits of the hub dataset ``dataset``. One file (or split) can be cut into
    train, test and validation with ``test_size`` and ``validation_size``.
    ``columns`` maps r1pipe's column names (question, answer, solution, tests,
    entry_point, setup, numbers, target) to the source's.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Names the source's rows (ids `<name>/<split>/<i>`, the `source` column) and "
                      "the eval benchmark of its test split.")
    kind: Literal["arithmetic", "file", "hub"] = Field(description="arithmetic: generated problems; file: local "
                                                       "jsonl or parquet files; hub: a hub dataset.")
    task: TaskName = Field("math", description="How its rows are graded: math (the answer), code (the tests), "
                           "countdown (the equation), general (reward models or a judge).")
    # arithmetic
    n_train: int = Field(0, ge=0)
    n_test: int = Field(0, ge=0)
    n_validation: int = Field(0, ge=0, description="Generated problems for the validation split: settings are "
                              "chosen on it, never on test.")
    difficulty: int = Field(1, ge=0, le=5, description="Number of operations (difficulty + 1) and size of the "
                            "numbers; 0: one addition or subtraction on numbers up to 10.")
    # file / hub
    train: str | None = Field(None, description="file: a path; hub: a split name")
    test: str | None = Field(None, description="file: a path; hub: a split name (the report judges on it), or cut "
                             "it out of train with test_size")
    validation: str | None = Field(None, description="file: a path; hub: a split name (settings are chosen on it)")
    dataset: str | None = Field(None, description="hub: the dataset id")
    subset: str | None = Field(None, description="hub: the dataset's configuration (load_dataset's name)")
    columns: dict[str, str] = Field(default_factory=dict, description="r1pipe's field -> your column: question, "
                                    "answer, solution, tests, entry_point, setup, numbers, target.")
    answer_format: AnswerFormat = Field("plain", description="How to pull the gold answer out of the answer column: "
                                        "plain (the whole value), gsm8k (after `####`; the text before it, its "
                                        "<<calculator>> notes removed, is the worked solution), boxed (the last "
                                        "\\boxed{}; the whole text is the worked solution).")
    test_size: float | int | None = Field(None, gt=0, description="Cut the test split out of `train`'s rows: a "
                                          "share below 1, or a number of rows (seeded by prepare.seed).")
    validation_size: float | int | None = Field(None, gt=0, description="Cut the validation split out of `train`'s "
                                                "rows, after test: a share below 1 of all rows, or a number.")
    question_template: str | None = Field(None, description="e.g. 'Solve: {question}'; fields are the row's columns.")
    limit_train: int | None = Field(None, ge=1, description="Use only the first N rows of train (None: all).")
    limit_test: int | None = Field(None, ge=1, description="Use only the first N rows of test (None: all).")
    limit_validation: int | None = Field(None, ge=1, description="Use only the first N rows of validation.")

    @field_validator("columns")
    @classmethod
    def _columns(cls, columns: dict[str, str]) -> dict[str, str]:
        return check_columns(columns)

    def gives(self, split: str) -> bool:
        """Whether this source has rows for ``split``."""
        if self.kind == "arithmetic":
            return getattr(self, f"n_{split}") > 0
        return bool(getattr(self, split) or (split != "train" and getattr(self, f"{split}_size")))

    def gives_solutions(self) -> bool:
        """Whether its rows have worked solutions (what coldstart trains on)."""
        return self.kind == "arithmetic" or "solution" in self.columns or self.answer_format in WORKED_ANSWERS


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
            for split in ("test", "validation"):
                if getattr(s, f"{split}_size") is None:
                    continue
                if s.kind == "arithmetic":
                    raise ValueError(f"{s.name}: {split}_size cuts a file's rows; the generator has n_{split}")
                if getattr(s, split):
                    raise ValueError(f"{s.name}: give `{split}` (its own file) or `{split}_size` (cut from train), "
                                     "not both")
                if not s.train:
                    raise ValueError(f"{s.name}: {split}_size cuts rows out of `train`, which is not given")
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError("source names must be unique (row ids and benchmark names are made of them)")
        return sources

    def local_files(self) -> dict[str, str]:
        return {f"{s.name}:{split}": path for s in self.sources if s.kind == "file"
                for split, path in (("train", s.train), ("test", s.test), ("validation", s.validation)) if path}
