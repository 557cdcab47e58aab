"""Length-shaped rewards, measured in tokens.

- ``overlong``: DAPO's soft overlong punishment. 0 up to ``max_length - cache``,
  then falling linearly to -1 at ``max_length``, and -1 beyond.
- ``cosine``: length scaled by correctness (Yeo et al. 2025). Correct answers earn
  more when short, wrong answers are punished less when long; the length is
  clamped to ``max_length``.
"""

from __future__ import annotations

import math


def overlong_penalty(n_tokens: int, max_length: int, cache: int) -> float:
    expected = max_length - cache
    if n_tokens <= expected:
        return 0.0
    if n_tokens <= max_length:
        return (expected - n_tokens) / cache
    return -1.0


def cosine_scaled(n_tokens: int, correct: bool, max_length: int, min_wrong: float, max_wrong: float,
                  min_correct: float, max_correct: float) -> float:
    progress = min(n_tokens, max_length) / max_length
    lo, hi = (min_correct, max_correct) if correct else (max_wrong, min_wrong)
    return lo + 0.5 * (hi - lo) * (1.0 + math.cos(math.pi * progress))
