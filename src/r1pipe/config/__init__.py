"""Typed params: one pydantic model per params.yaml section, and the loader.

Every section has a ``seed`` and refuses unknown keys: r1pipe's own sections by pydantic (``extra="forbid"``),
the training sections by checking each extra key against TRL's config class (``config/trl.py``). Read through
:func:`load_section` or :func:`validate` (every command, ``r1pipe check``), a typo, a wrong
type or an out-of-range value raises :class:`r1pipe.R1pipeError` with a message
that names the file and the key, e.g. ``params.yaml: coldstart.lr: unknown key``.

This package sits at the bottom of r1pipe's import graph: it imports nothing of r1pipe but
:class:`R1pipeError` and, for the training sections' ``bf16: auto``, ``hardware`` (which imports only
``disk``), and for a GRPO batch check ``distributed.processes`` (the launcher's environment). Each section
type lives in its own module (``config.grpo``, ``config.sft``, ...), and what several share in theirs
(``config.training``: LoRA and trainable layers; ``config.rewards``: weighted rewards), so a stage loads, and
its code fingerprint holds, only the section types it uses: changing a GRPO default reruns the GRPO stages and
nothing else.
The registries (rewards, filters, benchmarks) validate their own part of a section; :func:`load_section` takes
them as ``checks``.

Sections are looked up by name in :data:`SECTIONS`. Any extra GRPO run can be
declared as a section whose name starts with ``rl_`` (``rl_zero`` for R1-Zero), and
any extra model to materialise as one starting with ``base_`` (``base_student``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from r1pipe import R1pipeError

# The default system prompt of prepared prompts and file/hub benchmarks.
SYSTEM_PROMPT = (
    "You are a helpful assistant. First think about the problem step by step inside "
    "<think> </think> tags, then give only the final answer inside <answer> </answer> tags."
)

TaskName = Literal["math", "code", "countdown", "general"]
AnswerFormat = Literal["plain", "gsm8k", "boxed"]
# Formats whose answer column is a worked solution: the row's solution where `columns` maps no solution column.
WORKED_ANSWERS = ("gsm8k", "boxed")
# chat: the model's chat template; zero: the paper's R1-Zero plain-text template; zero_think: the same, ending
# with an opened <think> (data/templates.py), so that a base that never writes a tag starts inside one.
PromptTemplate = Literal["chat", "zero", "zero_think"]


# The fields of a prompt row that `columns` (a prepare source's, a benchmark's) maps to a file's own column names.
COLUMNS = ("question", "answer", "solution", "tests", "entry_point", "setup", "numbers", "target")


def check_columns(columns: dict[str, str] | None):
    """``columns`` maps r1pipe's fields (:data:`COLUMNS`) to a file's names; any other key is a mistake."""
    unknown = [k for k in columns or {} if k not in COLUMNS]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a field r1pipe reads (columns maps these to your column "
                         f"names: {', '.join(COLUMNS)})")
    return columns


def is_local(source: str) -> bool:
    """A local path rather than a hub id: it has a data file's suffix, or it exists."""
    return source.endswith((".jsonl", ".json", ".jsonl.gz", ".parquet")) or Path(source).exists()


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, description="Seeds python, numpy and torch for this stage.")

    def local_files(self) -> dict[str, str]:
        """Local files and directories this section names that its stage reads (its data deps), by role."""
        return {}

    def resolved(self) -> dict:
        """Every setting the stage runs with, defaults included: the ``params`` of its output's manifest."""
        return self.model_dump()

    @classmethod
    def explain(cls, key: str) -> str:
        """What ``key`` of this section means (``r1pipe check --explain``); a dotted key reaches into a nested
        setting (``sources.answer_format``, ``tiny.hidden_size``). An unknown key raises ValueError."""
        return explain_field(cls, key)


def explain_field(model: type[BaseModel], key: str) -> str:
    """The description and default of field ``key`` (dotted for nested models and lists of them) of ``model``."""
    head, _, rest = key.partition(".")
    if head.isdigit() and rest:  # a list index, as error messages write it (sources.0.answer_format)
        return explain_field(model, rest)
    field = model.model_fields.get(head)
    if field is None:
        raise ValueError(f"{head}: unknown key{did_you_mean(head, model.model_fields)} (known: "
                         f"{', '.join(model.model_fields)})")
    if rest:
        inner = nested_model(model, head)
        if inner is None:
            raise ValueError(f"{head}: a mapping, whose keys its own explanation lists: --explain ...{head}")
        try:
            return f"{head}." + explain_field(inner, rest)
        except ValueError as e:
            raise ValueError(f"{head}.{e}") from None
    if field.is_required():
        return f"{key}: {field.description or 'no description'} Required: no default."
    default = field.get_default(call_default_factory=True)
    return f"{key}: {field.description or 'no description'} Default: {default!r}."


def nested_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The model type a field holds, alone or in a list or optional (``sources: list[Source]``), or None."""
    import typing

    field = model.model_fields.get(name)
    if field is None:
        return None
    return next((t for a in (field.annotation, *typing.get_args(field.annotation)) for t in (a, *typing.get_args(a))
                 if isinstance(t, type) and issubclass(t, BaseModel)), None)


# section name -> "module:Class" of its type, imported only when that section is read.
SECTIONS: dict[str, str] = {
    "base": "models:BaseSection",
    "prepare": "prepare:PrepareSection",
    "coldstart": "sft:ColdstartSection",
    "rl_reasoning": "grpo:GRPOSection",
    "reject_sample": "sampling:RejectSampleSection",
    "sft": "sft:SFTSection",
    "rl_all": "grpo:GRPOSection",
    "distill": "sft:DistillSection",
    "base_student": "models:BaseSection",
    "rl_zero": "grpo:GRPOSection",
    # The random-reward controls of B > A and zero > base: their RL section with a reward that ignores
    # correctness (the `random` reward); run per seed where params' seeds list any.
    "rl_reasoning_random": "grpo:GRPOSection",
    "rl_zero_random": "grpo:GRPOSection",
    "eval": "sampling:EvalSection",
    "report": "report:ReportSection",
    "launch": "launch:LaunchSection",  # how dvc.yaml starts the stages; no stage reads it
    "seeds": "seeds:SeedsSection",  # which per-seed stages dvc.yaml expands; no stage reads it
}
PREFIXES = {"rl_": "grpo:GRPOSection", "base_": "models:BaseSection"}

Checks = dict[str, Callable[[Any], Any]]


def section_type(name: str) -> str | None:
    """The "module:Class" of section ``name``, or None for an unknown section."""
    if name in SECTIONS:
        return SECTIONS[name]
    return next((t for prefix, t in PREFIXES.items() if name.startswith(prefix)), None)


def section_class(name: str) -> type[Section] | None:
    """The section type of ``name``, imported."""
    spec = section_type(name)
    if spec is None:
        return None
    module, cls = spec.split(":")
    return getattr(importlib.import_module(f"r1pipe.config.{module}"), cls)


def _error_lines(path: Path, section: str, err: ValidationError, cls: type[BaseModel]) -> list[str]:
    """One ``file: section.key: message`` line per error pydantic found (it finds them all at once); an unknown
    key, at any depth, names the closest valid one."""
    lines = []
    for error in err.errors():
        key = ".".join([section, *(str(p) for p in error["loc"])])
        msg = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            msg = "unknown key" + did_you_mean(str(error["loc"][-1]), _fields_at(cls, error["loc"][:-1]))
        lines.append(f"{path}: {key}: {msg}")
    return lines


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the model nested at ``loc`` (field names and list indexes) inside ``model``."""
    for part in loc:
        if not isinstance(part, int) and (model := nested_model(model, str(part))) is None:
            return []
    return list(model.model_fields)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`, whose keys the mapping may override
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice (line {key_node.start_mark.line + 1}); keep one",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_params(path: Path) -> dict:
    """Read the params file; check that it is a mapping of known sections. Return the raw mapping."""
    path = Path(path)
    if not path.is_file():
        raise R1pipeError(f"{path}: params file not found")
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except yaml.constructor.ConstructorError as e:
        raise R1pipeError(f"{path}: {e.problem}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise R1pipeError(f"{path}: {where}not valid YAML ({getattr(e, 'problem', None) or str(e).splitlines()[0]})"
                          ) from None
    if not isinstance(raw, dict):
        raise R1pipeError(f"{path}: expected a mapping of sections at the top level")
    problems = []
    for name, body in raw.items():
        if section_type(str(name)) is None:
            problems.append(f"{path}: {name}: unknown section{did_you_mean(str(name))} (known: "
                            f"{', '.join(SECTIONS)}, and any rl_* or base_*)")
        elif body is not None and not isinstance(body, dict):
            problems.append(f"{path}: {name}: expected a mapping, got {type(body).__name__}")
        elif name not in SECTIONS and (hint := did_you_mean(str(name), set(SECTIONS) - set(raw), 0.9)):
            # Any rl_* or base_* name is a section of its own; one a letter or so off a built-in the file lacks is
            # a typo (rl_reasonng).
            problems.append(f"{path}: {name}: a section of its own, or a typo{hint}? Give your own sections names "
                            "unlike the built-in ones")
    if problems:
        raise R1pipeError("\n".join(problems))
    return raw


def did_you_mean(name: str, names=SECTIONS, cutoff: float = 0.6) -> str:
    import difflib

    match = difflib.get_close_matches(name, list(names), n=1, cutoff=cutoff)
    return f" (did you mean {match[0]}?)" if match else ""


def validate(path: Path, name: str, cls: type[Section], body: dict | None, checks: Checks | None = None):
    """``body`` parsed as ``cls``, then each field in ``checks`` passed through its registry's check. Every problem
    of the section is in the error, one line each: a recipe pasted whole is mended in one pass."""
    section, problems = None, []
    try:
        section = cls.model_validate(body or {})
    except ValidationError as e:
        problems = _error_lines(Path(path), name, e, cls)
    trl = getattr(cls, "key_problems", None)  # a training section: its TRL settings (config/trl.py)
    if section is None and trl:  # its TRL keys are checked even where r1pipe's own fields failed
        given = {k: v for k, v in (body or {}).items() if k not in cls.model_fields}
        problems += [_trl_line(path, name, e) for e in trl(given)]
    elif section is not None and trl:
        problems += [_trl_line(path, name, e) for e in section.trl_problems()]
    for field, check in (checks or {}).items():
        if section is None:
            break
        try:
            value = check(getattr(section, field))
        except ValueError as e:
            problems.append(f"{path}: {name}.{field}: {e}")
            continue
        section = section.model_copy(update={field: value})
    if problems:
        raise R1pipeError("\n".join(problems))
    return section


def _trl_line(path, name: str, error) -> str:
    return f"{path}: {name}{'.' + error.key if error.key else ''}: {error}"


def load_section(path: Path, section: str, cls: type[Section], checks: Checks | None = None):
    """Check the file's section names, then return ``section`` parsed as ``cls``.

    Only this section's types are imported and validated, so that a stage depends
    on no other section's code; ``r1pipe check`` validates every section.
    """
    raw = load_params(path)
    if section not in raw:
        raise R1pipeError(f"{path}: {section}: section missing")
    expected = section_class(section)
    if not issubclass(expected, cls):
        raise R1pipeError(f"{path}: {section}: is a {expected.__name__} section, this command needs {cls.__name__}")
    return validate(path, section, cls, raw[section], checks)
