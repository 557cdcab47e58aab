"""The general rules behind three grader mistakes: answers inside their own math delimiters, numbers grouped
with LaTeX separators, and commas that are no thousands separators."""

import pytest

from r1pipe.answers import as_number, extract_answer
from r1pipe.rewards import get_reward


def grade(answer_text: str, gold: str, tagged: bool = True) -> float:
    text = f"<think>.</think><answer>{answer_text}</answer>" if tagged else answer_text
    return get_reward("accuracy")(None, [text], answer=[gold], task=["math"])[0]


@pytest.mark.parametrize("answer, gold", [
    ("$28$ %", "$28\\%$"),
    ("\\[ \\frac{1}{2} \\]", "\\frac{1}{2}"),
    ("\\( \\frac{1}{2} \\)", "\\frac{1}{2}"),
    ("$$\\frac{1}{2}$$", "$\\frac{1}{2}$"),
    ("$x^2 + 1$", "x^{2}+1"),
    ("\\(\\sqrt{2}\\)", "\\sqrt{2}"),
])
def test_an_answer_in_its_own_delimiters_is_parsed_as_it_is(answer, gold):
    assert grade(answer, gold) == 1.0
    assert grade(answer.replace("2", "3").replace("1", "5"), gold) == 0.0  # and a different value still fails


@pytest.mark.parametrize("sep", [",", "{,}", "\\,", "\\!", "\\ "])
def test_a_grouped_number_after_the_answer_is_is_taken_whole(sep):
    text = f"Adding them up, the answer is ${sep.join(['14', '916'])}$."
    assert extract_answer(text).replace(sep, "") == "14916"
    assert grade(text, "14916", tagged=False) == 1.0
    assert grade(text, "14", tagged=False) == 0.0  # never the part before the separator
    assert grade(f"so the answer is 1{sep}000 apples", "1000", tagged=False) == 1.0


@pytest.mark.parametrize("text, value", [
    ("1,000", 1000), ("12,345.5", 12345.5), ("-1,234,567", -1234567), ("1{,}000", 1000), ("1\\,000", 1000),
    ("1 000", 1000), ("0,111", None), ("1,22", None), ("12,34,567", None), ("1,0000", None), (",5", None),
])
def test_commas_are_thousands_separators_only_where_they_group_by_three(text, value):
    assert as_number(text) == value


@pytest.mark.parametrize("answer, gold, expected", [
    ("1,22", "122", 0.0), ("1,22", "1.22", 1.0), ("0,111", "111", 0.0), ("0,111", "0.111", 1.0),
    ("1000,99", "1000.99", 1.0), ("1,000", "1000", 1.0),
])
def test_an_ambiguous_comma_is_read_as_math_verify_reads_it(answer, gold, expected):
    assert grade(answer, gold) == expected
