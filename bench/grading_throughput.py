"""Grading throughput of r1pipe's accuracy reward, against plain peers, in completions per second.

    python bench/grading_throughput.py [--n 400]

- numeric answers (GSM8K model solutions) and LaTeX answers (MATH-500 gold answers,
  right and perturbed): r1pipe's accuracy reward (exact numbers in-process,
  math-verify in a timeout pool) against a plain single-process math-verify loop;
- code (MBPP reference solutions): r1pipe's sandboxed grader against a plain
  ``subprocess.run(python)`` loop with no sandbox and no parallelism;
- the cost of the sandbox itself: milliseconds per trivial program in r1pipe's sandbox
  (namespaces, a read-only root built for it, limits) against a plain subprocess.

Ratios matter more than the absolute numbers: these machines are shared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from r1pipe.answers import extract_answer
from r1pipe.rewards import get_reward

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def plain_math_verify(texts: list[str], golds: list[str]) -> list[float]:
    from math_verify import parse, verify

    return [float(verify(parse(f"${g}$"), parse(f"${extract_answer(t) or ''}$"))) for t, g in zip(texts, golds)]


def plain_code(texts: list[str], tests: list[list[str]]) -> list[float]:
    out = []
    for text, t in zip(texts, tests):
        code = text.split("```python\n")[-1].split("```")[0] + "\n" + "\n".join(t)
        out.append(float(subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=10).returncode == 0))
    return out


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def report(name: str, n: int, ours, peer) -> None:
    (ours_scores, ours_s), (peer_scores, peer_s) = ours, peer
    agree = sum(a == b for a, b in zip(ours_scores, peer_scores)) / n
    print(f"{name:8s} n={n:5d}  r1pipe {n / ours_s:8.1f}/s   peer {n / peer_s:8.1f}/s   "
          f"speed-up x{peer_s / ours_s:5.2f}   agreement with peer {100 * agree:.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    accuracy = get_reward("accuracy")

    labelled = DATA / "math/gsm8k_test_model_solutions_labeled.jsonl"
    rows = [json.loads(line) for line in labelled.read_text().splitlines()]
    texts = [r["6b_finetuning"]["solution"] for r in rows][: args.n]
    golds = [extract_answer(r["ground_truth"]) for r in rows][: args.n]
    report("numeric", len(texts), timed(lambda: accuracy(None, texts, answer=golds)),
           timed(plain_math_verify, texts, golds))

    math500 = [json.loads(line) for line in (DATA / "math/math500_test.jsonl").read_text().splitlines()]
    latex = [r["answer"] for r in math500 if not r["answer"].lstrip("-").replace(".", "").isdigit()][: args.n // 2]
    texts = [f"<think>.</think><answer>{a}</answer>" for a in latex] + [f"<answer>{a} + 1</answer>" for a in latex]
    golds = latex + latex
    # The pool's start-up is paid once per training run; warm it before timing.
    accuracy(None, texts[:4], answer=golds[:4])
    report("latex", len(texts), timed(lambda: accuracy(None, texts, answer=golds)),
           timed(plain_math_verify, texts, golds))

    mbpp = [json.loads(line) for line in (DATA / "code/mbpp.jsonl").read_text().splitlines()][: min(args.n, 100)]
    texts = [f"<answer>\n```python\n{r['code']}\n```\n</answer>" for r in mbpp]
    tests = [r["test_list"] for r in mbpp]
    report("code", len(texts), timed(lambda: accuracy(None, texts, task=["code"] * len(texts), tests=tests)),
           timed(plain_code, texts, tests))
    sandbox_cost()


def sandbox_cost(n: int = 40) -> None:
    from r1pipe.rewards.sandbox import namespaces_work, run_python

    run_python("print(1)")  # the namespace probe runs once per process
    _, ours = timed(lambda: [run_python("print(1)") for _ in range(n)])
    _, plain = timed(lambda: [subprocess.run([sys.executable, "-I", "-c", "print(1)"], capture_output=True)
                              for _ in range(n)])
    print(f"sandbox  n={n:5d}  r1pipe {1000 * ours / n:6.1f} ms/program   plain subprocess {1000 * plain / n:6.1f} "
          f"ms/program   cost x{ours / plain:5.2f}   (namespaces: {namespaces_work()})")


if __name__ == "__main__":
    main()
