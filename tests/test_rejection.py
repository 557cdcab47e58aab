import random

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
    kept, stats = reject_sample(rows, groups, scores, ["accuracy", "format"], k=2, rule="shortest", seed=0)
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
    kept, stats = reject_sample(rows, groups, scores, ["format"], k=3, rule="random", seed=1)
    again, _ = reject_sample(rows, groups, scores, ["format"], k=3, rule="random", seed=1)
    assert [r["completion"] for r in kept] == [r["completion"] for r in again]
    assert len(kept) == 3 and stats["accepted"] == 6 and "accuracy" not in stats["filters"]
    expected = random.Random(1).sample(range(6), 6)[:3]
    assert [r["completion"][0]["content"] for r in kept] == [str(i) for i in expected]
