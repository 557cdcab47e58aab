import pytest

from r1pipe.answers import as_number, extract_answer, last_boxed, normalize
from r1pipe.rewards import combine, get_reward, score, score_groups


@pytest.mark.parametrize(
    "text, answer",
    [
        ("<think>x</think><answer> 42 </answer>", "42"),
        ("<answer>1</answer> then <answer>2</answer>", "2"),
        ("so \\boxed{\\frac{1}{2}} and \\boxed{3}", "3"),
        ("\\boxed{\\frac{a}{b^{2}}}", "\\frac{a}{b^{2}}"),
        ("<answer>The answer is \\boxed{7}</answer>", "7"),
        ("work\n#### 1,000", "1,000"),
        ("Ava has 9 - 4 = 5 apples.\n\nThe answer is 5.", "5"),
        ("so the final answer is: $1,200.", "1,200"),
        ("the answer is unclear", None),
        ("no answer here", None),
    ],
)
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


def test_numbers_compare_by_exact_value():
    assert as_number("1,000") == as_number("1000") == as_number("1000.0") == 1000
    assert as_number("0.5") == as_number("1/2") == as_number("\\frac{1}{2}") == as_number("$0.5$")
    assert as_number("x+1") is None and last_boxed("\\boxed{unclosed") is None
    assert normalize("1,000.0") == normalize("1000") and normalize(" X + 1 ") == "x+1"


def test_accuracy_exact_values():
    acc = get_reward("accuracy")
    completions = [
        "<think>.</think><answer>1,000</answer>",
        "<think>.</think><answer>999</answer>",
        "<answer>\\frac{1}{2}</answer>",
        "\\boxed{\\dfrac{\\sqrt{2}}{2}}",
        "<answer>\\frac{\\sqrt{3}}{2}</answer>",
        "nothing",
        [{"role": "assistant", "content": "<answer>12</answer>"}],
    ]
    gold = ["1000", "1000", "0.5", "\\frac{\\sqrt2}{2}", "\\frac{\\sqrt2}{2}", "5", "12"]
    assert acc(None, completions, answer=gold) == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert acc.__name__ == "accuracy"


def test_unparseable_gold_is_skipped_not_rewarded():
    assert get_reward("accuracy")(None, ["<answer>5</answer>"], answer=[""]) == [None]


def test_format_rewards_exact_values():
    completions = [
        "<think>a</think>\n<answer>1</answer>",
        "<think>a</think><answer>1</answer> trailing",
        "<answer>1</answer>",
        "<think>a</think><think>b</think><answer>1</answer>",
    ]
    assert get_reward("format")(None, completions) == [1.0, 0.0, 0.0, 0.0]
    assert get_reward("format_tags")(None, completions) == [1.0, 1.0, 0.5, 0.5]


def test_combine_weights_and_skips_none():
    scores = {"accuracy": [1.0, 0.0, None, None], "format": [1.0, 1.0, 0.5, None]}
    assert combine(scores, {"accuracy": 1.0, "format": 0.5}) == [1.5, 0.5, 0.25, None]


def test_score_groups_repeats_columns_per_completion():
    rows = [{"prompt": "p1", "answer": "3", "task": "math"}, {"prompt": "p2", "answer": "4", "task": "math"}]
    groups = [["<answer>3</answer>", "<answer>2</answer>"], ["<answer>4</answer>"]]
    assert score_groups(rows, groups, ["accuracy"]) == [{"accuracy": [1.0, 0.0]}, {"accuracy": [1.0]}]
    assert score(["format"], None, ["x"]) == {"format": [0.0]}


def test_unknown_reward():
    with pytest.raises(ValueError, match="unknown reward .nope."):
        get_reward("nope")


def test_combined_rewards_reuse_known_scores_and_match_a_fresh_grading():
    from r1pipe.rewards import combined_groups

    rows = [{"prompt": "p", "answer": "3", "task": "math"}]
    groups = [["<think>x</think><answer>3</answer>", "<answer>4</answer>"]]
    specs = [("accuracy", 1.0, {}), ("format", 0.5, {}), ("format_tags", 0.25, {})]
    fresh = combined_groups(rows, groups, specs)
    known = score_groups(rows, groups, ["accuracy", "format"])
    assert fresh == combined_groups(rows, groups, specs, known=known) == [[1.75, 0.125]]
