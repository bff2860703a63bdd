import stat
from collections import Counter

import pytest

from eval_studies.assign import (CATCH_BROKEN, CATCH_REAL, assign, hash_rater, rater_from_params, study_key)
from eval_studies.study_file import load_study


@pytest.fixture
def study(study_dir):
    return load_study(study_dir)


def test_same_rater_same_list_other_rater_other_list(study):
    a, b = assign(study, "r1"), assign(study, "r1")
    assert a == b
    assert assign(study, "r2") != a
    assert [t.index for t in a] == list(range(study.total_trials))


def test_one_rater_balanced_no_item_twice(study):
    for rater in (f"r{i}" for i in range(50)):
        trials = assign(study, rater)
        kinds = Counter(t.kind for t in trials)
        assert kinds == {"practice": 2, "scored": 9, "catch": 2}
        scored = [t for t in trials if t.kind == "scored"]
        pool = [t for t in trials if t.kind != "scored"]
        assert len({t.item for t in scored}) == len(scored)  # no item twice
        assert len({t.item for t in pool}) == len(pool)
        assert not {t.item for t in scored} & set(study.catch_pool)
        pw = [t for t in scored if t.task == "pairwise"]
        # 6 pairwise trials over 3 pairs: each pair twice, once on each side
        pairs = Counter(frozenset((t.left_condition, t.right_condition)) for t in pw)
        assert sorted(pairs.values()) == [2, 2, 2]
        sides = Counter((t.left_condition, t.right_condition) for t in pw)
        assert all(n == 1 for n in sides.values()) and len(sides) == 6
        # issue 19: half of the real/fake trials show natural images (natural_share 0.5, as in HYPE); 3 trials
        # give 1 or 2 natural ones, the rest different fake conditions
        rf = Counter(t.left_condition for t in scored if t.task == "real_fake")
        assert rf["natural"] in (1, 2) and sum(rf.values()) == 3 and all(v == 1 for c, v in rf.items() if c != "natural")
        for t in scored:  # stimuli belong to the shown condition and item
            assert t.left_stimulus == study.conditions[t.left_condition][t.item]
            if t.task == "pairwise":
                assert t.right_stimulus == study.conditions[t.right_condition][t.item]
            else:
                assert t.right_condition == t.right_stimulus == ""


def test_blocks_practice_first_catch_inside(study):
    for rater in (f"r{i}" for i in range(30)):
        trials = assign(study, rater)
        tasks = [t.task for t in trials]
        first = tasks[0]
        switch = tasks.index("real_fake" if first == "pairwise" else "pairwise")
        assert set(tasks[:switch]) == {first} and first not in tasks[switch:]  # two blocks
        for block in (trials[:switch], trials[switch:]):
            assert block[0].kind == "practice"  # one practice trial per task
            assert [t.kind for t in block].count("practice") == 1
            assert [t.kind for t in block].count("catch") == 1
            assert block[1].kind != "catch"  # a catch trial never comes straight after practice


def test_answer_key(study):
    for rater in (f"r{i}" for i in range(20)):
        for t in assign(study, rater):
            if t.kind in ("practice", "catch") and t.task == "pairwise":
                assert {t.left_condition, t.right_condition} == {CATCH_REAL, CATCH_BROKEN}
                assert t.answer == ("left" if t.left_condition == CATCH_REAL else "right")
                assert t.left_stimulus == study.catch_pool[t.item]["real" if t.answer == "left" else "broken"]
            elif t.kind in ("practice", "catch"):  # issue 19: real and broken images, equally often
                assert t.answer == ("real" if t.left_condition == CATCH_REAL else "fake")
                assert t.left_stimulus == study.catch_pool[t.item]["real" if t.answer == "real" else "broken"]
            elif t.task == "pairwise":
                if "natural" in (t.left_condition, t.right_condition):
                    assert t.answer == ("left" if t.left_condition == "natural" else "right")
                else:
                    assert t.answer is None
            else:
                assert t.answer == ("real" if t.left_condition == "natural" else "fake")


def test_balance_over_many_raters(study_factory, tmp_path):
    # 4 pairwise trials over 3 pairs and 2 real/fake trials over 3 conditions do not divide evenly:
    # the remainders are random per rater, so the balance holds over raters
    study = load_study(study_factory(tmp_path / "s", trials_per_rater={"pairwise": 4, "real_fake": 2}))
    n = 3000
    pairs, sides, rf, order, items = Counter(), Counter(), Counter(), Counter(), Counter()
    for i in range(n):
        trials = assign(study, f"rater{i}")
        order[trials[0].task] += 1
        for t in trials:
            if t.kind != "scored":
                continue
            items[t.item] += 1
            if t.task == "pairwise":
                pairs[frozenset((t.left_condition, t.right_condition))] += 1
                sides[t.left_condition] += 1
            else:
                rf[t.left_condition] += 1
    # expected 4000 per pair: a multinomial spread is ~ +-1.5%; the per-rater rounds make it tighter
    assert all(abs(v / (4 * n / 3) - 1) < 0.03 for v in pairs.values()), pairs
    # issue 19: natural_share 0.5 gives each rater exactly one natural of 2 real/fake trials
    assert rf["natural"] == n and all(abs(rf[c] / (n / 2) - 1) < 0.06 for c in ("ours", "base")), rf
    # each condition appears in 2 of 3 pairs: on the left in half of those
    assert all(abs(v / (4 * n / 3) - 1) < 0.04 for v in sides.values()), sides
    assert abs(order["pairwise"] / n - 0.5) < 0.03
    assert all(abs(v / (6 * n / 12) - 1) < 0.06 for v in items.values()), items


def test_rater_from_params_precedence_and_validation():
    assert rater_from_params({}) is None
    assert rater_from_params({"STUDY_ID": "s1"}) is None  # the same for every rater: not an identity
    assert rater_from_params({"PROLIFIC_PID": "5f3a", "SESSION_ID": "x"}) == ("5f3a", "PROLIFIC_PID")
    assert rater_from_params({"rater": "me", "PROLIFIC_PID": "5f3a"}) == ("me", "rater")
    assert rater_from_params({"workerId": "A1B2", "assignmentId": "Z9"}) == ("A1B2", "workerId")
    assert rater_from_params({"assignmentId": "Z9"}) == ("Z9", "assignmentId")
    with pytest.raises(ValueError, match="link parameter PROLIFIC_PID must be 1-64"):
        rater_from_params({"PROLIFIC_PID": "a" * 65})
    with pytest.raises(ValueError, match="link parameter rater"):
        rater_from_params({"rater": "<script>"})
    with pytest.raises(ValueError, match="link parameter STUDY_ID"):
        rater_from_params({"rater": "ok", "STUDY_ID": "a b"})


def test_rater_ids_are_hashed_with_the_study_key(tmp_path):
    key = study_key(tmp_path)
    assert len(key) == 32 and study_key(tmp_path) == key  # created once, then read
    assert stat.S_IMODE((tmp_path / ".rater_key").stat().st_mode) == 0o600
    h = hash_rater("5f3a9c", key)
    assert h == hash_rater("5f3a9c", key) and h.startswith("r") and len(h) == 21
    assert "5f3a9c" not in h
    assert hash_rater("5f3a9d", key) != h
    other = tmp_path / "other"
    other.mkdir()
    assert hash_rater("5f3a9c", study_key(other)) != h  # another study, another pseudonym
    with pytest.raises(ValueError, match="rater id must be"):
        hash_rater("bad id", key)
    (other / ".rater_key").write_bytes(b"short")
    with pytest.raises(ValueError, match="must hold 32 bytes"):
        study_key(other)


def test_real_fake_catch_trials_hold_real_and_fake_equally(study_factory, tmp_path):
    """Issue 19: a rater who always answers "fake" used to pass every real/fake catch trial."""
    study = load_study(study_factory(tmp_path / "s", catch_trials=4, practice_trials=2))
    always_fake_passes = 0
    shown_real = Counter()
    for i in range(400):
        catch = [t for t in assign(study, f"r{i}") if t.kind == "catch" and t.task == "real_fake"]
        assert len(catch) == 2 and {t.answer for t in catch} == {"real", "fake"}
        always_fake_passes += all(t.answer == "fake" for t in catch)
        shown_real.update(t.answer for t in catch)
    assert always_fake_passes == 0 and shown_real["real"] == shown_real["fake"]


def test_natural_share_sets_the_share_of_natural_trials(study_factory, tmp_path):
    study = load_study(study_factory(tmp_path / "s", natural_share=0.25,
                                     trials_per_rater={"pairwise": 1, "real_fake": 8}))
    for i in range(50):
        rf = [t for t in assign(study, f"r{i}") if t.kind == "scored" and t.task == "real_fake"]
        assert sum(t.left_condition == "natural" for t in rf) == 2
        fakes = Counter(t.left_condition for t in rf if t.left_condition != "natural")
        assert sorted(fakes.values()) == [3, 3]  # the other conditions in full rounds
