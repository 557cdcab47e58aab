"""Sections whose training settings are TRL's own: any field of the installed `GRPOConfig` or `SFTConfig`.

TRL's config dataclasses are the one definition of TRL's settings. A training section declares only
r1pipe's own keys (rewards, ``train_layers``, ``lora``, templates, prompt selection, ...); every other key
must be a field of the section's TRL class, under TRL's name, and is checked against it:

- the name: an unknown key is an error naming the closest valid one;
- the type: TRL's annotation, through pydantic;
- the choices, where TRL's help text lists them ("Supported values are 'grpo', 'dr_grpo', ...");
- TRL's own checks (``__post_init__``: a ``num_generations`` that does not divide the batch, ...), by
  building the real config object, before any model loads.

A field TRL adds in its next release is accepted with no change here. The few fields r1pipe must own are
refused with the reason (:data:`OWNED`). Where r1pipe's default differs from TRL's, it is written once, in
the section's ``TRL_DEFAULTS``, with its reason; :func:`common_defaults` has those of every stage.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import re
import tempfile
import typing
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from r1pipe.config import Section
from r1pipe.config.foreign import FOREIGN, foreign

# TRL fields r1pipe sets itself, and why a section may not.
OWNED = {
    "output_dir": "the output is the command's --out; checkpoints go to a work directory beside it",
    "save_strategy": "set save_steps (0: no checkpoints)",
    "save_total_limit": "r1pipe keeps the last checkpoint, for resuming a killed run",
    "resume_from_checkpoint": "r1pipe resumes a killed run from its work directory by itself",
    "reward_weights": "weights are the values of `rewards`",
}


class TRLSettingError(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


# Why training is float32 on every machine, bf16 units or not: the reason check --explain gives for `bf16`.
FLOAT32_TRAINING = (
    "float32 on every machine: under bf16 autocast (TRL's `bf16: true`) the default's cold start lost 2 to 7 points "
    "of validation pass@1 on every one of 5 seeds, on two CPUs, and no part of the step kept in float32 closed it "
    "(the LM head, attention or the gradients about a point, the MLPs, three quarters of the matmuls, half: "
    "bench/rl_experiments.md); float32 gives the same models on every CPU. "
    "`bf16: true` is the faster path where the hardware multiplies bf16, at that cost")


def common_defaults_with_reasons() -> dict[str, tuple[Any, str]]:
    """r1pipe's defaults for TRL settings in every training stage, where they differ from TRL's, with the reason."""
    import torch

    return {
        "use_cpu": (not torch.cuda.is_available(), "TRL on a CPU needs it, or it refuses or silently falls back"),
        "bf16": (False, FLOAT32_TRAINING),
        "activation_checkpointing": (False, "TRL turns it on; on small models it costs time and saves nothing"),
        "ddp_find_unused_parameters": (False, "frozen layers are not DDP's: no search pass per step"),
        "report_to": ("none", "r1pipe writes its curves to dvclive; no online service by default"),
        "disable_tqdm": (True, "r1pipe draws one rich bar and writes its own log"),
    }


def common_defaults() -> dict[str, Any]:
    """r1pipe's defaults for TRL settings in every training stage (:func:`common_defaults_with_reasons`)."""
    return {key: value for key, (value, _) in common_defaults_with_reasons().items()}


@functools.cache
def trl_class(name: str):
    return getattr(importlib.import_module("trl"), name)


@functools.cache
def trl_fields(name: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(trl_class(name)) if f.init}


@functools.cache
def _hints(name: str) -> dict[str, Any]:
    return typing.get_type_hints(trl_class(name))


@functools.cache
def _adapter(name: str, key: str) -> TypeAdapter | None:
    try:
        return TypeAdapter(_hints(name)[key])
    except Exception:  # noqa: BLE001 - a type pydantic cannot check (TRL's __post_init__ still does)
        return None


_CHOICE_PHRASE = re.compile(r"supported (?:values|options)|must be one of|possible values|options:|"
                            r"`'\w+'` or `'\w+'`", re.IGNORECASE)
_QUOTED = re.compile(r"[`']+([A-Za-z_][\w-]*)[`']+")
_ITEM = re.compile(r"[`']+([A-Za-z_][\w-]*)[`']+\s*(?::|\(default\))")  # a value described in a list


def choices(name: str, key: str) -> list[str] | None:
    """The values TRL's help text lists for a plain ``str`` field (in the sentence that says "Supported values
    are ..." and as described items, ``'batch'``: ...), or None where it lists none."""
    field = trl_fields(name)[key]
    help_text = " ".join(field.metadata.get("help", "").split())
    phrase = _CHOICE_PHRASE.search(help_text)
    if _hints(name)[key] is not str or not phrase:
        return None
    sentence = re.split(r"\.\s", help_text[phrase.start():], maxsplit=1)[0]
    found = list(dict.fromkeys(_QUOTED.findall(sentence) + _ITEM.findall(help_text)))
    return found if len(found) >= 2 else None


def yielding(name: str, ours: dict[str, Any], given: dict[str, Any]) -> set[str]:
    """Those of r1pipe's defaults ``ours`` that would change what a ``given`` setting becomes in TRL's config
    class ``name``: r1pipe's ``activation_checkpointing: false`` beside a pasted ``gradient_checkpointing: true``
    (TRL's former name, which the new name overrides)."""
    return _yielding(name, _key(ours), _key(given))


def _key(settings: dict) -> str:
    import json

    return json.dumps(settings, sort_keys=True, default=str)


def _build(name: str, settings: dict):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TRL's deprecation notes of the aliases being probed
        return trl_class(name)(output_dir=tempfile.gettempdir(), **settings)


@functools.cache
def _alone(name: str, given_json: str) -> dict | None:
    """What TRL makes of the given settings on its own defaults (on this machine: ``use_cpu`` without a GPU):
    its normalised values (``report_to: none`` is ``[]``) are what r1pipe compares against."""
    import json

    import torch

    given = json.loads(given_json)
    try:
        config = _build(name, {"use_cpu": not torch.cuda.is_available(), **given})
    except Exception:  # noqa: BLE001 - a setting TRL needs a companion for: build_trl reports TRL's own refusal
        return None
    return {key: getattr(config, key) for key in given}


def unreached(name: str, config, given: dict[str, Any]) -> list[str]:
    """The keys of ``given`` that the built ``config`` holds otherwise than TRL makes them on its own."""
    alone = _alone(name, _key(given))
    return [key for key in given if alone is not None and getattr(config, key) != alone[key]]


@functools.cache
def _yielding(name: str, ours_json: str, given_json: str) -> set[str]:
    import json

    ours, given = json.loads(ours_json), json.loads(given_json)

    def wrong(settings: dict) -> int:
        try:
            return len(unreached(name, _build(name, settings), given))
        except Exception:  # noqa: BLE001 - refused without this default: it does not yield
            return len(given) + 1

    now = wrong({**ours, **given})
    if not now:
        return set()
    # One default at a time: those whose absence lets more of the given settings through.
    return {k for k in ours if k not in given and wrong({**{o: v for o, v in ours.items() if o != k}, **given}) < now}


# Names users bring from r1pipe's older params and from habit, and TRL's for them.
FORMER_NAMES = {"batch_size": "per_device_train_batch_size", "grad_accum": "gradient_accumulation_steps",
                "lr_scheduler": "lr_scheduler_type", "epochs": "num_train_epochs", "lr": "learning_rate"}


def closest(key: str, names) -> str | None:
    names = list(names)
    if FORMER_NAMES.get(key) in names:
        return FORMER_NAMES[key]
    match = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return match[0] if match else next((n for n in sorted(names, key=len) if key in n), None)


# Settings that must be above 0, not merely not negative: a temperature of 0 divides the logits by zero.
POSITIVE = ("temperature",)


def negative_refusal(name: str, key: str, value) -> str | None:
    """Why a numeric ``value`` of TRL field ``key`` is no value a user means, or None. TRL's dataclasses take a
    negative number for any setting (``max_steps: -5`` trains for the epochs instead, a negative learning rate
    fails after the model has loaded); only a field whose own default is a negative sentinel (``max_steps: -1``,
    "unset") may take that one value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if key in POSITIVE and value <= 0:
        return f"{value} must be above 0"
    if value < 0 and value != trl_fields(name)[key].default:
        default = trl_fields(name)[key].default
        sentinel = f" (TRL's {default} means unset)" if isinstance(default, (int, float)) and default < 0 else ""
        return f"{value} is negative{sentinel}; TRL takes it as given and the run fails or does something else"
    return None


class TRLSection(Section):
    """A training section: r1pipe's own fields, declared on the subclass, beside any field of TRL's config
    class ``TRL_CONFIG``, under TRL's name."""

    model_config = ConfigDict(extra="allow")

    TRL_CONFIG: ClassVar[str]
    # r1pipe's defaults for TRL fields of this section, where they differ from TRL's: name -> (value, reason).
    TRL_DEFAULTS: ClassVar[dict[str, tuple[Any, str]]] = {}

    save_steps: int | float = Field(
        0.25, ge=0, description="Checkpoint every N optimizer steps into the work directory beside the output, or, "
        "below 1, every such share of the run (0.25: four times); a killed or failed run, rerun with the same "
        "inputs, resumes from the last one. 0: never.")
    warmup_ratio: float | None = Field(None, ge=0, lt=1, description="Warm up over this share of the steps (TRL's "
                                       "warmup_steps below 1 means the same; set one of the two).")

    @field_validator("save_steps")
    @classmethod
    def _steps_or_share(cls, value):
        if isinstance(value, float) and value >= 1 and not value.is_integer():
            raise ValueError("a number of steps (an integer) or, below 1, a share of the run")
        return int(value) if value >= 1 else value

    def trl_given(self) -> dict[str, Any]:
        """The TRL settings the params file gives."""
        return dict(self.model_extra or {})

    def trl_settings(self) -> dict[str, Any]:
        """Every TRL setting r1pipe passes: its defaults, then the params file's (which win). A default of
        r1pipe's for a field that a given setting moves (TRL's old name for it) is left out, so that TRL sees the
        user's setting alone."""
        given = self.trl_given()
        ratio = {"warmup_steps": self.warmup_ratio} if self.warmup_ratio is not None else {}
        ours = {**common_defaults(), **{k: v for k, (v, _) in self.TRL_DEFAULTS.items()}, "seed": self.seed,
                "data_seed": self.seed, **ratio}
        moved = yielding(self.TRL_CONFIG, ours, given) if given else set()
        return {**{k: v for k, v in ours.items() if k not in moved}, **given}

    def resolved(self) -> dict[str, Any]:
        """What the stage runs with, for its manifest: the section as given and with r1pipe's defaults, and under
        ``trl`` every setting of the TRL config the trainer gets (r1pipe's defaults, TRL's, the params file's),
        with TRL's version. Left out: what r1pipe sets per run (:data:`OWNED`: the work directory, ...) and
        the process's rank, which would make the manifest depend on where it was written."""
        import trl

        settings = {k: v for k, v in self.build_trl().to_dict().items() if k not in OWNED and k != "local_rank"}
        return {**super().resolved(), "trl": {"version": trl.__version__, "config": self.TRL_CONFIG,
                                              "settings": settings}}

    def trl_setting(self, key: str):
        settings = self.trl_settings()
        return settings[key] if key in settings else trl_fields(self.TRL_CONFIG)[key].default

    @classmethod
    def key_problems(cls, given: dict[str, Any]) -> list[TRLSettingError]:
        """Every given TRL setting checked by itself: a pasted recipe's foreign keys (``config/foreign.py``), what
        r1pipe owns, the name, TRL's type and choices, negatives, trackers. One error per bad key, all of them."""
        fields = trl_fields(cls.TRL_CONFIG)
        problems = []
        for key, value in given.items():
            problem = _key_problem(cls, key, value, given, fields)
            if problem:
                problems.append(TRLSettingError(key, problem))
        return problems

    def trl_problems(self) -> list[TRLSettingError]:
        """Every problem of the section's TRL settings: each key's (:meth:`key_problems`), then, where the keys
        are sound, TRL's own checks of them together (building the config)."""
        given = self.trl_given()
        problems = self.key_problems(given)
        if "warmup_steps" in given and self.warmup_ratio is not None:
            problems.append(TRLSettingError("warmup_ratio", "set warmup_ratio or TRL's warmup_steps, not both"))
        problems += self.together_problems()
        if not problems:
            try:
                self.build_trl()
            except TRLSettingError as e:
                problems.append(e)
        return problems

    def together_problems(self) -> list[TRLSettingError]:
        """Checks of several settings at once that say more than TRL's own message (the GRPO sections')."""
        return []

    def build_trl(self, config_class=None, **overrides):
        """The TRL config object of this section (``config_class``: a subclass of TRL's); TRL's own checks
        raise TRLSettingError naming the first given key its message names."""
        config_class = config_class or trl_class(self.TRL_CONFIG)
        settings = {"output_dir": tempfile.gettempdir(), **self.trl_settings(), **overrides}
        try:
            config = config_class(**settings)
        except (ValueError, TypeError) as e:
            message = " ".join(str(e).split())
            key = next((k for k in self.trl_given() if re.search(rf"\b{re.escape(k)}\b", message)), None)
            raise TRLSettingError(key or "", f"TRL's {self.TRL_CONFIG} refuses it: {message}") from None
        # What reaches the trainer is what the params say: a setting that TRL's own post-processing changed
        # (an alias, a default that wins over a given value) stops here, not in a run that silently differs.
        given = {k: v for k, v in self.trl_given().items() if k not in overrides}
        for key in unreached(self.TRL_CONFIG, config, given):
            raise TRLSettingError(key, f"set to {given[key]!r}, but the TRL config r1pipe builds holds "
                                  f"{getattr(config, key)!r}: r1pipe would not run what the params say")
        return config

    @classmethod
    def explain(cls, key: str) -> str:
        """What ``key`` of a section means: TRL's help for a TRL field, r1pipe's description for its own."""
        if key in cls.model_fields:
            return super().explain(key).replace(f"{key}:", f"{key} (r1pipe):", 1)
        fields = trl_fields(cls.TRL_CONFIG)
        if key.partition(".")[0] in cls.model_fields:
            return super().explain(key)
        if key not in fields:
            if key in FOREIGN:
                raise ValueError(f"{key}: {FOREIGN[key]}")
            hint = closest(key, [*fields, *cls.model_fields])
            raise ValueError(f"{key}: unknown key" + (f" (did you mean {hint}?)" if hint else "") +
                             f": neither r1pipe's nor a field of TRL's {cls.TRL_CONFIG}")
        field = fields[key]
        default = field.default if field.default is not dataclasses.MISSING else "(computed)"
        ours = cls.TRL_DEFAULTS.get(key)
        lines = [f"{key} (TRL {cls.TRL_CONFIG}, {_hints(cls.TRL_CONFIG)[key]}): "
                 f"{' '.join(field.metadata.get('help', 'no help text').split())}", f"TRL's default: {default!r}."]
        common = common_defaults_with_reasons()
        if ours:
            lines.append(f"r1pipe's default: {ours[0]!r} ({ours[1]}).")
        elif key in common:
            value, why = common[key]
            lines.append(f"r1pipe's default, in every training stage on this machine: {value!r}. Why: {why}.")
        if key in OWNED:
            lines.append(f"Set by r1pipe, not in params: {OWNED[key]}.")
        if key in FOREIGN:
            lines.append(f"r1pipe refuses it: {FOREIGN[key]}.")
        return "\n".join(lines)


def _key_problem(cls, key: str, value, given: dict[str, Any], fields) -> str | None:
    """Why TRL setting ``key: value`` of section type ``cls`` is refused, or None."""
    answer = foreign(key, value, given)
    if answer and not (key in fields and value == fields[key].default):  # TRL's own default changes nothing
        return answer
    if key in OWNED:
        return f"set by r1pipe, not in params: {OWNED[key]}"
    if key not in fields:
        hint = closest(key, [*fields, *cls.model_fields])
        return ("unknown key" + (f" (did you mean {hint}?)" if hint else "") +
                f": neither r1pipe's nor a field of TRL's {cls.TRL_CONFIG}")
    adapter = _adapter(cls.TRL_CONFIG, key)
    if adapter is not None:
        try:
            adapter.validate_python(value)
        except ValidationError as e:
            return f"{e.errors()[0]['msg']} (TRL's type: {_type_name(cls, key)})"
    allowed = choices(cls.TRL_CONFIG, key)
    if allowed and value not in allowed:
        return f"{value!r} is not one of TRL's values: {', '.join(allowed)}"
    if key == "report_to":
        return _tracker_problem(value)
    return negative_refusal(cls.TRL_CONFIG, key, value)


def _tracker_problem(value) -> str | None:
    """Why a ``report_to`` value cannot be honoured here: a tracker that is not installed fails after the model
    has loaded; dvclive is r1pipe's own (it already writes there); "all" is whatever happens to be installed."""
    from transformers.integrations import get_available_reporting_integrations

    names = [value] if isinstance(value, str) else list(value or [])
    installed = set(get_available_reporting_integrations())
    for name in names:
        if name == "all":
            return "all: every tracker that happens to be installed; name the ones you mean, or none"
        if name == "dvclive":
            return "dvclive: r1pipe already writes its curves there (dvclive/<section>); set report_to: none"
        if name != "none" and name not in installed:
            return (f"{name} is not installed, so the trainer would fail after the model loads; r1pipe writes its "
                    "curves with dvclive (dvclive/<section>): set report_to: none, or install it")
    return None


def _type_name(section, key: str) -> str:
    hint = _hints(section.TRL_CONFIG)[key]
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))
