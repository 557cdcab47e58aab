"""Does r1pipe's math accuracy reward agree with human and rule-based labels?

    python bench/grader_agreement.py [--data ../shared/data/math] [--show 20]

Two labelled sets:
- GSM8K test solutions from GPT-3 6B and 175B (finetuned and verifier-selected),
  each with a human-checked ``is_correct`` label (openai/grade-school-math);
- 100 MATH problems x 8 Qwen2.5-Math samples, with Qwen's own rule-based verdicts.

And the answer-equivalence cases that other math-RL projects publish in their own grader tests
(``bench/data/grader_cases.jsonl``: gold, answer, the expected verdict, and where the case comes from),
graded by r1pipe (the answer inside ``<answer>``) and by math-verify alone (``verify(parse(gold),
parse(answer))``, its default settings), each against the project's expectation.

Prints the agreement per set and every disagreement (up to --show of each).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from r1pipe.answers import extract_answer
from r1pipe.rewards import get_reward

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "math"
CASES = Path(__file__).resolve().parent / "data" / "grader_cases.jsonl"


def gsm8k(path: Path):
    for row in map(json.loads, path.read_text().splitlines()):
        gold = extract_answer(row["ground_truth"])
        for model in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            yield model, row[model]["solution"], gold, row[model]["is_correct"]


def qwen(path: Path):
    for row in map(json.loads, path.read_text().splitlines()):
        for text, label in zip(row["code"], row["score"]):
            yield "qwen2.5-math", text, row["gt"], label


def check(name: str, items: list, show: int) -> float:
    accuracy = get_reward("accuracy")
    start = time.perf_counter()
    scores = accuracy(None, [t for _, t, _, _ in items], answer=[g for _, _, g, _ in items])
    seconds = time.perf_counter() - start
    per_group: dict[str, list[int]] = {}
    disagreements = []
    for (group, text, gold, label), score in zip(items, scores):
        agree = (score == 1.0) == bool(label)
        per_group.setdefault(group, []).append(agree)
        if not agree:
            disagreements.append((group, gold, extract_answer(text), label, score))
    total = sum(sum(v) for v in per_group.values()) / len(items)
    print(f"\n{name}: {len(items)} solutions graded in {seconds:.1f} s; agreement {100 * total:.2f}%")
    for group, agrees in per_group.items():
        print(f"  {group:20s} {100 * sum(agrees) / len(agrees):6.2f}%  ({len(agrees) - sum(agrees)} disagree)")
    for group, gold, pred, label, score in disagreements[:show]:
        print(f"  - [{group}] gold={gold!r} extracted={str(pred)[:60]!r} label={label} reward={score}")
    if len(disagreements) > show:
        print(f"  ... {len(disagreements) - show} more")
    return total


def math_verify_alone(gold: str, answer: str) -> float:
    from math_verify import parse, verify

    return float(verify(parse(gold), parse(answer)))


def external(path: Path) -> None:
    cases = [json.loads(line) for line in path.read_text().splitlines()]
    ours = get_reward("accuracy")(None, [f"<answer>{c['answer']}</answer>" for c in cases],
                                  answer=[c["gold"] for c in cases])
    theirs = [math_verify_alone(c["gold"], c["answer"]) for c in cases]
    agree_ours = sum((o == 1.0) == bool(c["expected"]) for o, c in zip(ours, cases))
    agree_mv = sum((t == 1.0) == bool(c["expected"]) for t, c in zip(theirs, cases))
    projects = {c["source"].split()[0] for c in cases} - {"derived"}
    print(f"\nExternal grader cases ({len(cases)}, from {len(projects)} projects' tests): "
          f"r1pipe agrees with {agree_ours} ({100 * agree_ours / len(cases):.1f}%), "
          f"math-verify alone with {agree_mv} ({100 * agree_mv / len(cases):.1f}%)")
    for c, o, t in zip(cases, ours, theirs):
        if (o == 1.0) != bool(c["expected"]) or (t == 1.0) != bool(c["expected"]):
            print(f"  - gold={c['gold']!r} answer={c['answer']!r} expected={c['expected']} r1pipe={o} "
                  f"math-verify={t}  [{c['source'].split()[0]}]" + (f"\n    why: {c['note']}" if "note" in c else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--show", type=int, default=1000)
    args = parser.parse_args()
    external(CASES)
    if not args.data.is_dir():
        print(f"\n{args.data} not found: the labelled GSM8K and MATH sets are skipped")
        return
    check("GSM8K labelled GPT-3 solutions", list(gsm8k(args.data / "gsm8k_test_model_solutions_labeled.jsonl")),
          args.show)
    check("MATH Qwen2.5-Math graded samples", list(qwen(args.data / "math_cot_100_qwen_samples_graded.jsonl")),
          args.show)


if __name__ == "__main__":
    main()
