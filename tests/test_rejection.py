import random

import pytest

from r1pipe.data.rejection import reject_sample
from r1pipe.engines import Completion


def test_keeps_only_samples_passing_every_filter_at_most_k_shortest():
    rows = [{"prompt": "p0", "id": "a/0", "task": "math"}, {"prompt": "p1", "id": "a/1", "task": "math"}]
    groups = [
        [Completion("long right", 30, True), Completion("short right", 10, True),
         Completion("wrong", 5, True), Completion("mid right", 20, True)],
        [Completion("bad format", 8, True), Completion("wrong", 9, True)],
    ]
    scores = [
        {"accuracy": [1.0, 1.0, 0.0, 1.0], "format": [1.0, 1.0, 1.0, 1.0]},
        {"accuracy": [1.0, 0.0], "format": [0.0, 1.0]},
    ]
    kept, stats = reject_sample(rows, groups, scores, {"accuracy": {}, "format": {}}, k=2, rule="shortest", seed=0)
    assert [r["completion"][0]["content"] for r in kept] == ["short right", "mid right"]
    assert all(r["prompt_id"] == "a/0" and r["reward_accuracy"] == 1.0 for r in kept)
    assert stats["sampled"] == 6 and stats["accepted"] == 3 and stats["kept"] == 2
    for f in ("accuracy", "format"):
        assert stats["filters"][f]["kept"] + stats["filters"][f]["rejected"] == stats["sampled"]
    assert stats["filters"]["accuracy"]["kept"] == 4 and stats["filters"]["format"]["kept"] == 5
    assert stats["per_task"]["math"] == {"sampled": 6, "accepted": 3, "kept": 2, "acceptance_rate": 0.5}


def test_filters_can_be_switched_off_and_random_selection_is_seeded():
    rows = [{"prompt": "p", "id": "x"}]
    groups = [[Completion(str(i), i, True) for i in range(6)]]
    scores = [{"accuracy": [0.0] * 6, "format": [1.0] * 6}]
    kept, stats = reject_sample(rows, groups, scores, {"format": {}}, k=3, rule="random", seed=1)
    again, _ = reject_sample(rows, groups, scores, {"format": {}}, k=3, rule="random", seed=1)
    assert [r["completion"] for r in kept] == [r["completion"] for r in again]
    assert len(kept) == 3 and stats["accepted"] == 6 and "accuracy" not in stats["filters"]
    expected = random.Random(1).sample(range(6), 6)[:3]
    assert [r["completion"][0]["content"] for r in kept] == [str(i) for i in expected]


def C(text, n=10):
    return Completion(text, n, True)


def test_every_filter_on_hand_made_completions():
    from r1pipe.data.filters import FILTERS

    row = {"task": "math"}
    ok = "<think>\nadd two and three\n</think>\n<answer>5</answer>"
    cases = {
        "language": [(ok, {}, True), ("<think>先 add 两 numbers 三</think><answer>5</answer>", {}, False),
                     ("<think>先加两个数</think><answer>5</answer>", {"target": "zh"}, True)],
        "paragraphs": [(ok, {"max_chars": 100}, True), ("<think>" + "x" * 150 + "\n\nshort</think>", {"max_chars": 100},
                                                       False)],
        "code_in_reasoning": [(ok, {}, True), ("<think>```python\nprint(5)\n```</think><answer>5</answer>", {}, False)],
        "repetition": [(ok, {}, True), ("<think>" + "the same words again " * 20 + "</think>", {}, False)],
    }
    for name, items in cases.items():
        for text, options, expected in items:
            assert FILTERS[name](row, C(text), {}, **options) is expected, (name, text[:30])
    assert FILTERS["code_in_reasoning"]({"task": "code"}, C("<think>```x```</think>"), {})
    assert [FILTERS["length"](row, C("x", n), {}, min_tokens=5, max_tokens=20) for n in (4, 5, 20, 21)] == [
        False, True, True, False]


def test_filter_params_are_validated():
    from r1pipe.data.filters import check_filters

    assert check_filters(["accuracy", "length"]) == {"accuracy": {}, "length": {}}
    with pytest.raises(ValueError, match="unknown filter 'grammar'"):
        check_filters(["grammar"])
    with pytest.raises(ValueError, match="length: unknown option 'max'"):
        check_filters({"length": {"max": 3}})


def test_duplicates_are_dropped_before_the_per_prompt_cap():
    rows = [{"prompt": "p", "id": "x", "task": "math"}]
    base = "<think> one two three four five six seven eight nine ten </think> <answer>1</answer>"
    texts = [base, base.replace(" two ", "  two\n"), base.replace(" ten ", " ten eleven "),
             "<think> something else entirely </think> <answer>1</answer>"]
    groups = [[C(t, i + 1) for i, t in enumerate(texts)]]
    scores = [{"accuracy": [1.0] * 4, "format": [1.0] * 4}]
    kept, stats = reject_sample(rows, groups, scores, {"accuracy": {}}, k=4, rule="first", seed=0, dedup=0.6)
    assert [r["completion"][0]["content"] for r in kept] == [texts[0], texts[3]]
    assert stats["duplicates_removed"] == 2 and stats["accepted"] == 4 and kept[0]["filter_accuracy"] is True


class Canned:
    """An engine that answers from a function of the prompt: for checking the stage's logic exactly."""

    think_prefilled = False  # its chat template opens no think block

    def __init__(self, answer):
        self.answer = answer

    def generate(self, prompts, n, sampling, seed, label="", journal=None):
        return [[Completion(self.answer(p, j), 5, True, (1,) * 5) for j in range(n)] for p in prompts]


def test_judge_decides_general_prompts_and_non_reasoning_data_is_mixed_in(tmp_path):
    import json

    from datasets import Dataset, DatasetDict, load_from_disk

    from r1pipe.config.sampling import RejectSampleSection
    from r1pipe.data.judge import parse_verdict
    from r1pipe.stages import reject_sample as stage

    assert [parse_verdict(t) for t in ("ok [[PASS]]", "[[pass]] then [[FAIL]]", "no verdict")] == [True, False, None]
    rows = [{"prompt": [{"role": "user", "content": q}], "answer": a, "task": t, "id": f"r/{i}", "source": "s"}
            for i, (q, a, t) in enumerate([("2+3?", "5", "math"), ("Greet me.", "", "general"),
                                           ("Insult me.", "", "general")])]
    DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "prompts"))
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps({"question": f"hi {i}", "response": f"hello {i}"}) + "\n"
                                                 for i in range(10)))
    policy = Canned(lambda p, j: "<think>ok</think><answer>5</answer>" if "2+3" in p[-1]["content"]
                    else f"<think>ok</think><answer>{'kind words' if 'Greet' in p[-1]['content'] else 'rude'} {j}"
                         "</answer>")
    judge = Canned(lambda p, j: "[[PASS]]" if "kind words" in p[-1]["content"] else "[[FAIL]]")
    cfg = RejectSampleSection(n=2, k=1, judge={"model": "unused"}, non_reasoning=str(tmp_path / "chat.jsonl"),
                              non_reasoning_ratio=0.5)
    stats = stage.run(cfg, model=None, data=tmp_path / "prompts", out=tmp_path / "sft", metrics=tmp_path / "m.json",
                      engine=policy, judge_engine=judge)
    sft = load_from_disk(str(tmp_path / "sft"))
    assert sorted(r["prompt_id"] for r in sft if r["source"] != "non_reasoning") == ["r/0", "r/1"]
    assert stats["filters"]["judge"] == {"kept": 4, "rejected": 2, "rate": 4 / 6}  # math rows are not judged
    assert stats["non_reasoning"] == 2 and sum(r["source"] == "non_reasoning" for r in sft) == 2
    math_row = next(r for r in sft if r["prompt_id"] == "r/0")
    assert math_row["reward_combined"] == 1.5 and math_row["reward_accuracy"] == 1.0  # 1.0 x 1 + 0.5 x 1


def test_the_judge_is_the_model_its_params_name(chain, tmp_path):
    """No scripted judge: ``judge.model`` is the chain's model A, built by the stage into a real engine. The
    stage keeps the general samples whose verdict that model gives as [[PASS]], the verdicts the same model
    gives when asked directly."""
    from datasets import Dataset, DatasetDict

    from r1pipe.config.sampling import RejectSampleSection, Sampling
    from r1pipe.data.judge import RUBRIC, judge_scores
    from r1pipe.data.templates import apply_template
    from r1pipe.engines import make_engine
    from r1pipe.stages import reject_sample as stage

    rows = [{"prompt": [{"role": "user", "content": q}], "answer": a, "task": t, "id": f"r/{i}", "source": "s"}
            for i, (q, a, t) in enumerate([("2+3?", "5", "math"), ("Greet me.", "", "general"),
                                           ("Name a colour.", "", "general")])]
    DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "prompts"))
    policy = Canned(lambda p, j: "<think>ok</think><answer>5</answer>" if "2+3" in p[-1]["content"]
                    else f"<think>ok</think><answer>reply {j}</answer>")
    cfg = RejectSampleSection(n=2, k=2, judge={"model": str(chain / "models/A"), "max_new_tokens": 8},
                              filters=["accuracy"])
    stats = stage.run(cfg, model=None, data=tmp_path / "prompts", out=tmp_path / "sft",
                      metrics=tmp_path / "m.json", engine=policy)
    groups = policy.generate([apply_template(r["prompt"], cfg.template) for r in rows], 2, Sampling(0.7), 0)
    judge = make_engine(cfg.engine, cfg.judge.model, batch_size=cfg.batch_size, dtype=cfg.dtype)
    verdicts = [v for g in judge_scores(judge, rows, groups, RUBRIC, cfg.judge.tasks, 8, cfg.seed) for v in g
                if v is not None]
    assert len(verdicts) == 4  # 2 general prompts x 2 samples; the math row's 2 are not judged: they pass
    assert stats["filters"]["judge"] == {"kept": 2 + sum(verdicts), "rejected": 4 - sum(verdicts),
                                         "rate": (2 + sum(verdicts)) / 6}
