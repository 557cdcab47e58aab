"""A seeded generator of arithmetic word problems with integer answers.

Each problem chains ``difficulty + 1`` operations on one quantity, so the
worked solution is a short chain of thought with one line per step. Numbers grow
with difficulty (up to 10 at difficulties 0 and 1); multiplication appears from
difficulty 2 and exact division from difficulty 3. Difficulty 0, one addition or
subtraction, is the easy start a curriculum (R1-Zero from a weak base) can use.
"""

from __future__ import annotations

import random

NAMES = ["Ava", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lena"]
ITEMS = ["apples", "marbles", "stickers", "coins", "books", "pencils", "cards", "shells"]


def _largest(difficulty: int) -> int:
    """The largest starting number and addend at ``difficulty``."""
    return 10 ** min(max(difficulty, 1), 3)


def _step(rng: random.Random, value: int, difficulty: int) -> tuple[str, str, int]:
    """Pick one operation; return (sentence, worked line, new value)."""
    hi = _largest(difficulty)
    ops = ["add", "sub"] + (["mul"] if difficulty >= 2 else []) + (["div"] if difficulty >= 3 else [])
    op = rng.choice(ops)
    if op == "sub" and value < 2:
        op = "add"
    if op == "div":
        divisors = [d for d in range(2, 10) if value % d == 0]
        if not divisors:
            op = "mul"
    if op == "add":
        x = rng.randint(1, hi)
        return f"then gets {x} more", f"{value} + {x} = {value + x}", value + x
    if op == "sub":
        x = rng.randint(1, value - 1)
        return f"then gives away {x}", f"{value} - {x} = {value - x}", value - x
    if op == "mul":
        x = rng.randint(2, 9)
        return f"then the amount becomes {x} times as large", f"{value} * {x} = {value * x}", value * x
    x = rng.choice(divisors)
    return f"then splits them into {x} equal groups and keeps one group", f"{value} / {x} = {value // x}", value // x


def make_problem(rng: random.Random, difficulty: int) -> dict:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    value = rng.randint(2, _largest(difficulty))
    sentences, lines = [], []
    start = value
    for _ in range(difficulty + 1):
        sentence, line, value = _step(rng, value, difficulty)
        sentences.append(sentence)
        lines.append(line)
    question = f"{name} has {start} {item}, " + ", ".join(sentences) + f". How many {item} does {name} have now?"
    solution = f"{name} starts with {start} {item}.\n" + "\n".join(lines) + f"\nSo {name} has {value} {item}."
    return {"question": question, "answer": str(value), "solution": solution}


def generate(n: int, difficulty: int, seed: int, exclude: set[str] = frozenset()) -> list[dict]:
    """``n`` distinct problems; questions in ``exclude`` are skipped (keeps test disjoint from train)."""
    rng = random.Random(f"arithmetic-{seed}-{difficulty}")
    seen, rows = set(exclude), []
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 100 * (n + 10):
            raise ValueError(f"could not generate {n} distinct problems at difficulty {difficulty}")
        p = make_problem(rng, difficulty)
        if p["question"] not in seen:
            seen.add(p["question"])
            rows.append(p)
    return rows
