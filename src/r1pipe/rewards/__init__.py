"""Rewards, following TRL's contract: ``f(prompts, completions, **columns) -> list[float | None]``.

``None`` means "not applicable": the sample is skipped. The same functions score
GRPO rollouts, filter rejection samples and grade evals (one grader, three uses).

``get_reward(name, **options)`` builds one. Each entry of :data:`REWARDS` is a
factory whose keyword arguments are that reward's options, so params can set
them: ``rewards: {accuracy: 1.0, language: {weight: 0.1, target: zh}}``.

A reward is total: whatever a completion holds, it returns. Where grading a completion raises (a parse
error, a recursion limit, a decode error, a worker that died), that completion gets the reward's floor, its
lowest score (``None`` for a reward model, whose scores have no floor), and the stage's run log counts it
(``incidents``): a crash never pays more than the worst honest answer, or RL would learn to crash the
grader. What the user can fix (a missing column, a bad option: ``R1pipeError``) and a reward that is not
finite still stop the stage, with the reward's name.
"""

from __future__ import annotations

from collections.abc import Callable
from math import isfinite  # (the name `math` is this package's own submodule)

from r1pipe import R1pipeError, incidents
from r1pipe.answers import completion_text, turns
from r1pipe.rewards import accuracy as _accuracy
from r1pipe.rewards.format import format_strict, format_tags
from r1pipe.rewards.language import target_share
from r1pipe.rewards.length import cosine_scaled, overlong_penalty
from r1pipe.rewards.limits import GRADING_TIMEOUT
from r1pipe.rewards.repetition import repetition_penalty

RewardFn = Callable[..., list]


def _token_counts(completions, completion_ids=None, tokenizer=None) -> list[int]:
    """Token lengths: TRL passes ``completion_ids``; otherwise count with the given tokenizer."""
    if completion_ids is not None:
        return [len(ids) for ids in completion_ids]
    if tokenizer is None:
        raise R1pipeError("this reward counts tokens: it needs completion_ids (as TRL passes) or a tokenizer option")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer) if isinstance(tokenizer, str) else tokenizer
    return [len(tok(completion_text(c), add_special_tokens=False)["input_ids"]) for c in completions]


def make_accuracy(timeout: float = GRADING_TIMEOUT, code_mode: str = "fraction",
                  workers: int | None = None) -> RewardFn:
    if code_mode not in ("fraction", "binary"):
        raise ValueError(f"accuracy: code_mode must be 'fraction' or 'binary', not {code_mode!r}")

    def accuracy(prompts, completions, **columns):
        return _accuracy.grade(completions, columns, timeout=timeout, code_mode=code_mode, workers=workers)

    return accuracy


def make_format() -> RewardFn:
    return format_strict


def make_format_tags() -> RewardFn:
    return format_tags


def make_language(target: str = "en") -> RewardFn:
    target_share("", target)  # rejects an unsupported target when params are read

    def language(prompts, completions, language=None, think_prefilled=None, **_):
        targets = language or [target] * len(completions)
        return [target_share(text, t or target) for text, t in zip(turns(completions, think_prefilled), targets)]

    return language


def make_overlong(max_length: int = 4096, cache: int = 512, tokenizer: str | None = None) -> RewardFn:
    if not 0 < cache <= max_length:
        raise ValueError("overlong: need 0 < cache <= max_length")

    def overlong(prompts, completions, completion_ids=None, **_):
        return [overlong_penalty(n, max_length, cache) for n in _token_counts(completions, completion_ids, tokenizer)]

    overlong.floor = -1.0
    return overlong


def make_cosine(max_length: int = 1000, min_wrong: float = -1.0, max_wrong: float = -0.5, min_correct: float = 0.5,
                max_correct: float = 1.0, tokenizer: str | None = None) -> RewardFn:
    correctness = make_accuracy()

    def cosine(prompts, completions, completion_ids=None, **columns):
        lengths = _token_counts(completions, completion_ids, tokenizer)
        correct = correctness(prompts, completions, **columns)
        return [
            None if ok is None else cosine_scaled(n, ok == 1.0, max_length, min_wrong, max_wrong, min_correct,
                                                  max_correct)
            for n, ok in zip(lengths, correct)
        ]

    cosine.floor = min(min_wrong, max_wrong, min_correct, max_correct)
    return cosine


def make_helpfulness(model: str, batch_size: int = 8) -> RewardFn:
    def helpfulness(prompts, completions, task=None, **_):
        from r1pipe.rewards.reward_model import score_general

        return score_general(model, prompts, completions, task, whole=False, batch_size=batch_size)

    helpfulness.floor = None  # a reward model's scores are unbounded: a failed one is left out, as TRL leaves None
    return helpfulness


def make_harmlessness(model: str, batch_size: int = 8) -> RewardFn:
    def harmlessness(prompts, completions, task=None, **_):
        from r1pipe.rewards.reward_model import score_general

        return score_general(model, prompts, completions, task, whole=True, batch_size=batch_size)

    harmlessness.floor = None
    return harmlessness


def make_repetition(n: int = 3, max_penalty: float = -1.0) -> RewardFn:
    if max_penalty > 0:
        raise ValueError("repetition: max_penalty must be <= 0")

    def repetition(prompts, completions, **_):
        return [repetition_penalty(completion_text(c), n, max_penalty) for c in completions]

    repetition.floor = max_penalty
    return repetition


def make_random(p: float = 0.5, seed: int = 0) -> RewardFn:
    """The control of an RL claim: 1 with probability ``p``, else 0, whatever the completion says (Shao et al. 2025,
    "Spurious rewards"). Set ``p`` to the accuracy reward's mean, so that the control's advantages have the
    accuracy's spread but none of its information. Each score is drawn from a hash of ``seed``, the prompt, the
    completion and its place in the batch, so a rerun or a resumed run gets the same rewards, and no text earns
    more than another on average."""
    if not 0 <= p <= 1:
        raise ValueError(f"random: p must be within [0, 1], not {p}")
    import hashlib

    def random(prompts, completions, **_):
        prompts = prompts if prompts is not None else [None] * len(completions)
        keys = (f"{seed}\0{prompt!r}\0{completion!r}\0{i}".encode()
                for i, (prompt, completion) in enumerate(zip(prompts, completions)))
        return [float(int.from_bytes(hashlib.sha256(k).digest()[:8], "big") < p * 2 ** 64) for k in keys]

    return random


REWARDS: dict[str, Callable[..., RewardFn]] = {
    "accuracy": make_accuracy,
    "format": make_format,
    "format_tags": make_format_tags,
    "language": make_language,
    "overlong": make_overlong,
    "cosine": make_cosine,
    "repetition": make_repetition,
    "helpfulness": make_helpfulness,
    "harmlessness": make_harmlessness,
    "random": make_random,
}


def get_reward(name: str, **options) -> RewardFn:
    """The reward called ``name``, with its options; a bad name or option raises ValueError."""
    if name not in REWARDS:
        raise ValueError(f"unknown reward {name!r} (known: {', '.join(REWARDS)})")
    try:
        fn = REWARDS[name](**options)
    except TypeError as e:
        raise ValueError(f"{name}: bad option ({e})") from None

    floor = getattr(fn, "floor", 0.0)

    def alone(i: int, prompts, completions, columns: dict):
        """Completion ``i`` graded by itself (its prompt and columns only), or the floor where that raises."""
        n = len(completions)
        mine = {k: [v[i]] if isinstance(v, (list, tuple)) and len(v) == n else v for k, v in columns.items()}
        try:
            return fn(None if prompts is None else [prompts[i]], [completions[i]], **mine)[0]
        except R1pipeError:
            raise
        except Exception as e:  # noqa: BLE001 - whatever the completion made the grader raise
            incidents.count(f"reward {name} raised", f"{type(e).__name__}: {e}")
            return floor

    # TRL logs each reward under the function's __name__: use the registry name.
    def reward(prompts, completions, **columns):
        try:
            scores = list(fn(prompts, completions, **columns))
        except R1pipeError:
            raise
        except Exception:  # noqa: BLE001 - one completion broke the batch: grade each alone to find it
            scores = [alone(i, prompts, completions, columns) for i in range(len(completions))]
        bad = next((s for s in scores if s is not None and not isfinite(s)), None)
        if bad is not None:  # in GRPO it would turn every advantage of its group, then the weights, into NaN
            raise R1pipeError(f"reward {name!r} returned {bad} for a completion: a reward must be a finite number "
                              "or None (not applicable)")
        return scores

    reward.__name__ = name
    return reward


def check_rewards(rewards: dict) -> dict:
    """A params ``rewards`` mapping with every name and option known; else ValueError naming the reward."""
    from r1pipe.config.rewards import reward_spec

    for name, spec in rewards.items():
        get_reward(name, **reward_spec(spec)[1])
    return rewards


def score(names, prompts, completions, **columns) -> dict[str, list[float | None]]:
    """Every named reward on every completion. ``names`` is a list, or a dict name -> options."""
    options = names if isinstance(names, dict) else {name: {} for name in names}
    return {name: get_reward(name, **opts)(prompts, completions, **columns) for name, opts in options.items()}


def combine(scores: dict[str, list[float | None]], weights: dict[str, float]) -> list[float | None]:
    """Weighted sum per sample; a None reward is left out, as in TRL (all None -> None)."""
    n = len(next(iter(scores.values())))
    out = []
    for i in range(n):
        parts = [weights[name] * scores[name][i] for name in weights if scores[name][i] is not None]
        out.append(sum(parts) if parts else None)
    return out


def score_groups(rows: list[dict], groups: list[list], names) -> list[dict[str, list[float | None]]]:
    """Score ``groups[i]`` (completions of ``rows[i]``) with every named reward (see :func:`score`).

    A completion is a string or a ``data.completion.Completion`` (then its token ids are
    passed as ``completion_ids``, as TRL does). Returns, per row, ``{reward name:
    one score per completion}``. The dataset columns are repeated per completion.
    """
    prompts, completions, ids, columns = [], [], [], {}
    keys = [k for k in (rows[0] if rows else {}) if k != "prompt"]
    for row, group in zip(rows, groups):
        for c in group:
            prompts.append(row["prompt"])
            completions.append(c if isinstance(c, str) else c.text)
            ids.append(None if isinstance(c, str) else c.token_ids)
            for k in keys:
                columns.setdefault(k, []).append(row[k])
    if ids and all(i is not None for i in ids):
        columns["completion_ids"] = ids
    flat = score(names, prompts, completions, **columns)
    out, start = [], 0
    for group in groups:
        out.append({name: flat[name][start : start + len(group)] for name in names})
        start += len(group)
    return out


def combined_groups(rows: list[dict], groups: list[list], specs: list[tuple[str, float, dict]],
                    known: list[dict] | None = None) -> list[list]:
    """The weighted reward of every completion, per row: the configured rewards through :func:`combine`.

    ``known`` holds per-row scores already computed with default options (as :func:`score_groups`
    returns them); those rewards are reused rather than graded again.
    """
    todo = {name: options for name, _, options in specs if options or not known or name not in known[0]}
    scored = score_groups(rows, groups, todo) if todo else [{} for _ in rows]
    weights = {name: weight for name, weight, _ in specs}
    return [combine({**{n: k[n] for n in weights if n not in todo}, **s}, weights)
            for s, k in zip(scored, known or [{}] * len(rows))]
