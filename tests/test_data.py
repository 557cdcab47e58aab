import json
import re

import pytest

from conftest import SAMPLE_DATA
from r1pipe import R1pipeError
from r1pipe.config.prepare import PrepareSection, Source
from r1pipe.data import arithmetic
from r1pipe.data.files import read_rows
from r1pipe.data.sources import build_splits
from r1pipe.data.tasks import to_rows


def _replay(solution: str) -> int:
    """Recompute the worked solution line by line: every step must be true arithmetic."""
    value = None
    for line in solution.splitlines():
        m = re.fullmatch(r"(\d+) ([-+*/]) (\d+) = (\d+)", line)
        if m:
            a, op, b, r = int(m[1]), m[2], int(m[3]), int(m[4])
            assert value is None or a == value
            expected = {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]
            assert op != "/" or a % b == 0
            assert r == expected, line
            value = r
    return value


@pytest.mark.parametrize("difficulty", [0, 1, 2, 3, 5])
def test_arithmetic_answers_follow_from_worked_solutions(difficulty):
    rows = arithmetic.generate(50, difficulty, seed=7)
    assert len({r["question"] for r in rows}) == 50
    for r in rows:
        assert _replay(r["solution"]) == int(r["answer"])
        assert r["solution"].count("=") == difficulty + 1
    assert rows == arithmetic.generate(50, difficulty, seed=7)
    assert rows != arithmetic.generate(50, difficulty, seed=8)


# sha256 of the first 20 difficulty-1 problems (seed 0) as the generator wrote them before difficulty 0 existed.
DIFFICULTY_1 = "820a4df1f1b1843d"


def test_difficulty_0_is_one_step_on_numbers_up_to_10_and_leaves_difficulty_1_as_it_was():
    import hashlib

    rows = arithmetic.generate(1000, 0, seed=0)
    for r in rows:
        numbers = [int(n) for n in re.findall(r"\d+", r["question"])]
        assert len(numbers) == 2 and max(numbers) <= 10 and r["solution"].count("=") == 1
    # difficulty 1's problems are the ones every committed run trained and was evaluated on
    first = json.dumps(arithmetic.generate(20, 1, seed=0), sort_keys=True).encode()
    assert hashlib.sha256(first).hexdigest()[:16] == DIFFICULTY_1


def test_prepare_rows_and_disjoint_splits():
    cfg = PrepareSection(sources=[Source(name="arith", kind="arithmetic", n_train=40, n_test=20, difficulty=1)])
    splits = build_splits(cfg)
    train_q = {r["prompt"][-1]["content"] for r in splits["train"]}
    test_q = {r["prompt"][-1]["content"] for r in splits["test"]}
    assert len(train_q) == 40 and len(test_q) == 20 and not train_q & test_q
    row = splits["train"][0]
    assert row["task"] == "math" and row["prompt"][0]["role"] == "system"
    assert "<think>" in row["prompt"][0]["content"] and "<answer>" in row["prompt"][0]["content"]


def test_gsm8k_and_math500_load_with_column_mapping():
    cfg = PrepareSection(sources=[
        Source(name="gsm8k", kind="file", train=str(SAMPLE_DATA / "math/gsm8k_train.jsonl"),
               test=str(SAMPLE_DATA / "math/gsm8k_test.jsonl"), answer_format="gsm8k", limit_train=5, limit_test=3),
        Source(name="math500", kind="file", test=str(SAMPLE_DATA / "math/math500_test.jsonl"),
               columns={"question": "problem", "answer": "answer"}, limit_test=4),
    ])
    splits = build_splits(cfg)
    assert len(splits["train"]) == 5 and len(splits["test"]) == 7
    first_test = json.loads((SAMPLE_DATA / "math/gsm8k_test.jsonl").read_text().splitlines()[0])
    assert splits["test"][0]["answer"] == "18" and first_test["question"] in splits["test"][0]["prompt"][-1]["content"]
    m500 = json.loads((SAMPLE_DATA / "math/math500_test.jsonl").read_text().splitlines()[0])
    assert splits["test"][3]["answer"] == m500["answer"] and splits["test"][3]["source"] == "math500"


def test_malformed_rows_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "1+1", "answer": "2"}\n{not json\n')
    with pytest.raises(R1pipeError, match=r"bad.jsonl:2: malformed JSON"):
        read_rows(bad)
    with pytest.raises(R1pipeError, match=r"row 0: missing column 'problem'"):
        to_rows([{"question": "q", "answer": "1"}], "math", {"question": "problem"}, where="f.jsonl")
    with pytest.raises(R1pipeError, match=r"row 0: cannot read a gsm8k answer"):
        to_rows([{"question": "q", "answer": "no marker"}], "math", {}, "gsm8k", where="f.jsonl")
    with pytest.raises(R1pipeError, match=r"row 0: missing column 'nums'"):
        to_rows([{"numbers": [1]}], "countdown", {"numbers": "nums"}, where="c.jsonl")
    with pytest.raises(R1pipeError, match="task file not found"):
        read_rows(tmp_path / "missing.jsonl")


def test_every_ready_made_benchmark_loads_from_the_shared_data():
    from r1pipe.config.sampling import Benchmark
    from r1pipe.data import benchmarks

    for name, ready in benchmarks.READY.items():
        if ready.get("source") == "prompts":  # the prepared splits (arithmetic: test, validation)
            continue
        b = benchmarks.resolve(Benchmark(name=name, limit=3), str(SAMPLE_DATA))
        assert b.source == str(SAMPLE_DATA / ready["local"])
        rows = benchmarks.load(b, prompts_dir=None, system_prompt="think")
        assert len(rows) == 3 and rows[0]["prompt"][0] == {"role": "system", "content": "think"}
        assert rows[0]["task"] == b.task and rows[0]["prompt"][1]["content"]
        if b.task == "math":
            assert rows[0]["answer"]
    he = benchmarks.load(benchmarks.resolve(Benchmark(name="humaneval", limit=1), str(SAMPLE_DATA)), None, "")
    assert "def has_close_elements" in he[0]["prompt"][-1]["content"] and he[0]["entry_point"] == "has_close_elements"
    cd = benchmarks.load(benchmarks.resolve(Benchmark(name="countdown", limit=1), str(SAMPLE_DATA)), None, "")
    assert cd[0]["numbers"] == [6, 81, 97, 52] and cd[0]["answer"] == "74" and "74" in cd[0]["prompt"][-1]["content"]


def test_a_ready_made_benchmark_without_local_copy_falls_back_to_the_hub(tmp_path):
    from r1pipe.config.sampling import Benchmark
    from r1pipe.data import benchmarks

    b = benchmarks.resolve(Benchmark(name="gsm8k"), str(tmp_path))
    assert b.source == "openai/gsm8k" and b.subset == "main" and b.answer_format == "gsm8k"
    with pytest.raises(R1pipeError, match="hub dataset 'openai/gsm8k' .* is not available"):
        benchmarks.load(b, None, "")


def test_the_validation_split_is_disjoint_from_test_and_train_and_leaves_them_as_they_were():
    """Settings are chosen on validation, the report judges on test: no question may be in two splits. Adding
    validation changed neither train nor test (the committed runs' test problems stay the same)."""
    from r1pipe.config.prepare import PrepareSection
    from r1pipe.data.sources import build_splits

    source = {"name": "arithmetic", "kind": "arithmetic", "n_train": 1000, "n_test": 512, "difficulty": 1}
    with_validation = build_splits(PrepareSection(sources=[{**source, "n_validation": 256}]))
    without = build_splits(PrepareSection(sources=[source]))
    questions = {split: [r["prompt"][-1]["content"] for r in rows] for split, rows in with_validation.items()}
    assert len(questions["validation"]) == len(set(questions["validation"])) == 256
    assert not set(questions["validation"]) & set(questions["test"])
    assert not set(questions["validation"]) & set(questions["train"])
    assert not set(questions["test"]) & set(questions["train"])
    assert with_validation["train"] == without["train"] and with_validation["test"] == without["test"]
    assert without["validation"] == []
