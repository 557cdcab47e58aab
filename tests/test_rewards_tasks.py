"""Code, countdown, language and length-shaped rewards: exact values, hostile input, the sandbox."""

import gzip
import json
import time

import pytest

from conftest import SAMPLE_DATA, SHARED_DATA, needs_shared_data
from r1pipe import R1pipeError
from r1pipe.rewards import get_reward
from r1pipe.rewards.code import last_code_block, split_tests
from r1pipe.rewards.countdown import check_equation
from r1pipe.rewards.math import grade_math
from r1pipe.rewards.pool import TimeoutPool


def fenced(code: str) -> str:
    return f"<think>easy</think>\n<answer>\n```python\n{code}\n```\n</answer>"


# --------------------------------------------------------------------------- code


def test_mbpp_style_fraction_and_binary():
    tests = ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(0, 0) == 1"]
    columns = {"task": ["code"] * 3, "tests": [tests] * 3}
    completions = [fenced("def add(a, b):\n    return a + b"), fenced("def add(a, b):\n    return 4"), "no code"]
    assert get_reward("accuracy")(None, completions, **columns) == [pytest.approx(2 / 3), pytest.approx(1 / 3), 0.0]
    assert get_reward("accuracy", code_mode="binary")(None, completions, **columns) == [0.0, 0.0, 0.0]


def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail():
    with gzip.open(SAMPLE_DATA / "code/HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f][:5]
    right = [fenced(p["prompt"] + p["canonical_solution"]) for p in problems]
    wrong = [fenced(p["prompt"] + "    return None\n") for p in problems]
    columns = {"task": ["code"] * 10, "tests": [p["test"] for p in problems] * 2,
               "entry_point": [p["entry_point"] for p in problems] * 2}
    scores = get_reward("accuracy", code_mode="binary")(None, right + wrong, **columns)
    assert scores == [1.0] * 5 + [0.0] * 5


def test_humaneval_check_is_split_into_one_test_per_assert():
    setup, tests = split_tests("import math\ndef check(candidate):\n    x = 2\n    assert candidate(x) == 4\n"
                               "    for i in range(3):\n        assert candidate(i) == 2 * i\n", "double")
    assert "import math" in setup and "x = 2" in setup and len(tests) == 2
    assert tests[0].startswith("candidate = double")


def test_last_fenced_block_is_the_program():
    assert last_code_block("```python\na = 1\n```\ntext\n```\nb = 2\n```") == "b = 2\n"
    assert last_code_block("no code") is None


def test_code_cannot_forge_passes():
    tests = ["assert f() == 1"]
    cheat = fenced("import sys\ndef f():\n    return 0\nprint('R1PIPE-PASS 0')\nsys.exit(0)")
    assert get_reward("accuracy")(None, [cheat], task=["code"], tests=[tests]) == [0.0]


# --------------------------------------------------------------------------- countdown


@pytest.mark.parametrize(
    "equation, expected",
    [
        ("97 - 81 + 52 + 6", 1.0),
        ("(97 - 81) + (52 + 6) = 74", 1.0),
        ("97 - 81 + 52 + 6 + 0", 0.0),  # 0 is not one of the numbers
        ("97 - 81 + 52", 0.0),  # a number left out
        ("97 - 81 + 52 - 6", 0.0),  # every number once, wrong value
        ("97 / (81 - 81) + 6 + 52", 0.0),  # 81 twice, and a division by zero
        ("-97 + 81 + 52 + 6", 0.0),  # unary minus is not an operation of the game
        ("__import__('os').system('true')", 0.0),
        ("2 ** 10", 0.0),
        ("", 0.0),
    ],
)
def test_countdown_equations(equation, expected):
    assert check_equation(equation, [6, 81, 97, 52], 74) == expected


def test_countdown_exact_values_on_real_rows():
    lines = (SAMPLE_DATA / "countdown/countdown_test_2000.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines[:2]]
    assert rows[0]["nums"] == [6, 81, 97, 52] and rows[0]["target"] == 74
    completions = ["<answer>97 - 81 + 52 + 6 = 74</answer>", "<answer>96 - 37 - 7 + 74</answer>",
                   "<answer>96 / (7 - 37 / 74)</answer>"]
    scores = get_reward("accuracy")(None, completions, task=["countdown"] * 3,
                                    numbers=[rows[0]["nums"], rows[1]["nums"], rows[1]["nums"]],
                                    target=[74, 55, 55])
    # 96 - 37 - 7 + 74 = 126, not 55; 96 / (7 - 0.5) is not 55 either
    assert scores == [1.0, 0.0, 0.0]


def test_accuracy_dispatches_on_task_in_one_batch():
    scores = get_reward("accuracy")(
        None,
        ["<answer>4</answer>", "<answer>1 + 2</answer>", fenced("def f():\n    return 1")],
        task=["math", "countdown", "code"], answer=["4", "", ""], numbers=[None, [1, 2], None],
        target=[None, 3, None], tests=[None, None, ["assert f() == 1"]],
    )
    assert scores == [1.0, 1.0, 1.0]
    with pytest.raises(R1pipeError, match="no grader for task 'poetry'"):  # the user's data: it stops the stage
        get_reward("accuracy")(None, ["x"], task=["poetry"], answer=["1"])


# --------------------------------------------------------------------------- math under attack


def test_pathological_math_answers_never_hang():
    start = time.monotonic()
    texts = ["<answer>9^{9^{9^9}}</answer>", "<answer>" + "1" * (1 << 20) + "</answer>",
             "<answer>" + "{" * 5000 + "1" + "}" * 5000 + "</answer>", "<answer>\\frac{1}{2}</answer>"]
    golds = ["\\sqrt{2}", "1", "x + 1", "0.5"]
    assert grade_math(texts, golds, timeout=3.0) == [0.0, 0.0, 0.0, 1.0]
    assert time.monotonic() - start < 60


def test_timeout_pool_kills_only_the_slow_item():
    pool = TimeoutPool("time:sleep", workers=2, timeout=2.0)
    try:
        assert pool.map([(0.0,), (30.0,), (0.0,)], default="timeout") == [None, "timeout", None]
    finally:
        pool.close()


def test_math_verify_symbolic_answers():
    texts = ["<answer>\\frac{\\pi}{2}</answer>", "<answer>(3, \\frac{\\pi}{2})</answer>", "<answer>x^2+2x+1</answer>"]
    golds = ["\\frac{\\pi}{2}", "\\left( 3, \\frac{\\pi}{2} \\right)", "(x+1)^2"]
    assert grade_math(texts, golds) == [1.0, 1.0, 1.0]


# --------------------------------------------------------------------------- language and shaping


def test_language_share_of_the_chain_of_thought():
    en, zh = get_reward("language"), get_reward("language", target="zh")
    completions = ["<think>add the two numbers</think><answer>3</answer>",
                   "<think>先 add 两 numbers</think><answer>3</answer>",
                   "<answer>3</answer>"]
    assert en(None, completions) == [1.0, 0.5, 0.0]
    assert zh(None, completions) == [0.0, 0.5, 0.0]
    assert en(None, completions[1:2], language=["zh"]) == [0.5]
    with pytest.raises(ValueError, match="unsupported target 'fr'"):
        get_reward("language", target="fr")


def test_overlong_soft_punishment_in_tokens():
    r = get_reward("overlong", max_length=100, cache=20)
    ids = [[0] * n for n in (50, 80, 90, 100, 150)]
    assert r(None, ["x"] * 5, completion_ids=ids) == [0.0, 0.0, -0.5, -1.0, -1.0]
    with pytest.raises(R1pipeError, match="needs completion_ids"):
        r(None, ["x"])


def test_cosine_scales_length_by_correctness():
    r = get_reward("cosine", max_length=100)
    texts = ["<answer>1</answer>"] * 3 + ["<answer>2</answer>"] * 3
    ids = [[0] * n for n in (0, 50, 400, 0, 50, 100)]
    assert r(None, texts, answer=["1"] * 6, completion_ids=ids) == pytest.approx(
        [1.0, 0.75, 0.5, -1.0, -0.75, -0.5])


def test_repetition_penalty():
    r = get_reward("repetition", n=2, max_penalty=-1.0)
    assert r(None, ["a b c d", "a b a b a b", "a"]) == [0.0, pytest.approx(-(1 - 2 / 5)), 0.0]


def test_bad_reward_options_are_errors():
    with pytest.raises(ValueError, match="language: bad option"):
        get_reward("language", targt="en")
    with pytest.raises(ValueError, match="code_mode"):
        get_reward("accuracy", code_mode="some")


def _code_sets():
    with gzip.open(SHARED_DATA / "code/HumanEval.jsonl.gz", "rt") as f:
        humaneval = [json.loads(line) for line in f]
    mbpp = [json.loads(line) for line in (SHARED_DATA / "code/mbpp.jsonl").read_text().splitlines()]
    return humaneval, mbpp


@pytest.mark.slow
@needs_shared_data
def test_every_reference_solution_passes_and_empty_or_wrong_ones_fail():
    humaneval, mbpp = _code_sets()
    # MBPP 123's reference takes ~5 s of CPU alone (amicable numbers to 9999): past the default deadline when
    # the graders share 2 cores. This test is about the harness, not the deadline.
    acc = get_reward("accuracy", code_mode="binary", timeout=30)
    he_cols = {"task": ["code"] * len(humaneval), "tests": [p["test"] for p in humaneval],
               "entry_point": [p["entry_point"] for p in humaneval]}
    assert acc(None, [fenced(p["prompt"] + p["canonical_solution"]) for p in humaneval], **he_cols) == [1.0] * len(
        humaneval)
    assert acc(None, [fenced(p["prompt"] + "    pass\n") for p in humaneval], **he_cols) == [0.0] * len(humaneval)
    mb_cols = {"task": ["code"] * len(mbpp), "tests": [p["test_list"] for p in mbpp],
               "setup": [p["test_setup_code"] for p in mbpp]}
    scores = acc(None, [fenced(p["code"]) for p in mbpp], **mb_cols)
    failing = [p["task_id"] for p, s in zip(mbpp, scores) if s != 1.0]
    assert failing == []
    assert acc(None, [""] * len(mbpp), **mb_cols) == [0.0] * len(mbpp)
