"""One generated completion: what the engines return and the filters, rejection sampling and metrics read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int
    finished: bool  # ended with eos rather than running into max_new_tokens
    token_ids: tuple[int, ...] | None = None
