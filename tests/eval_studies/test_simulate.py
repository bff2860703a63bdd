"""Simulated logs: the vote server's exact schema, exact known rates, realistic structure."""

import csv
from dataclasses import replace

import pandas as pd
import pytest

from eval_studies import simulate
from eval_studies.schema import CHOICES, TASKS, TRIAL_KINDS, VOTE_COLUMNS


@pytest.fixture(scope="module")
def lecture():
    return simulate.simulate(simulate.LECTURE, raters=50, seed=0)


def test_schema_is_the_vote_log(lecture, tmp_path):
    path = simulate.write_log(lecture, tmp_path / "votes.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == VOTE_COLUMNS
    assert all(len(r) == len(VOTE_COLUMNS) for r in rows)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert df["vote_id"].is_unique
    assert set(df["trial_kind"]) == set(TRIAL_KINDS) and set(df["task"]) == set(TASKS)
    for task, allowed in CHOICES.items():
        assert set(df.loc[df.task == task, "choice"]) <= set(allowed)
    pw = df[df.task == "pairwise"]
    side = pw["left_condition"].where(pw["choice"] == "left", pw["right_condition"])
    assert (side == pw["chosen_condition"]).all()
    assert (df.loc[df.task == "real_fake", "right_condition"] == "").all()
    # stimuli carry opaque names only
    assert not df["left_stimulus"].str.contains("ours|natural|glcic").any()


def test_cells_hold_exactly_the_preset_rates(lecture):
    s = lecture[lecture.trial_kind == "scored"]
    spec = simulate.LECTURE
    pw = s[s.task == "pairwise"]
    baseline = pw["left_condition"].where(pw["left_condition"] != spec.target, pw["right_condition"])
    got = (pw["chosen_condition"] == spec.target).groupby(baseline).agg(["sum", "size"])
    assert sorted(got.index) == sorted(spec.pairwise)
    for b, rate in spec.pairwise.items():
        assert got.loc[b, "size"] == 200 and got.loc[b, "sum"] == round(rate * 200)
    assert (got.loc["hr", "sum"], got.loc["glcic", "sum"]) == (152, 132)           # 76%, 66%
    # exactly half of each pairwise cell shows the target on the left
    target_left = (pw["left_condition"] == spec.target).groupby(baseline).sum()
    assert (target_left == 100).all()
    rf = s[s.task == "real_fake"]
    got = (rf["choice"] == "real").groupby(rf["left_condition"]).agg(["sum", "size"])
    for c, rate in spec.realism.items():
        n = 1600 if c == "natural" else 200
        assert got.loc[c, "size"] == n and got.loc[c, "sum"] == round(rate * n)
    assert (got.loc["natural", "sum"], got.loc["ours", "sum"], got.loc["ce", "sum"]) == (1563, 66, 20)
    # as many natural images as fake ones: the study server's default natural share of 50%
    assert got.loc["natural", "size"] == got.drop("natural")["size"].sum()


def test_a_preset_whose_counts_would_print_otherwise_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"pairwise cell 'hr': 23 of 30 votes prints as 77%, not 76%"):
        simulate.simulate(replace(simulate.LECTURE, votes_per_cell=30), raters=5)
    with pytest.raises(ValueError, match=r"real_fake cell 'natural': 782 of 800 votes prints as 97.8%, not 97.7%"):
        simulate.simulate(replace(simulate.LECTURE, natural_votes=800), raters=5)
    assert simulate.main(["--out", str(tmp_path / "v.csv"), "--votes-per-cell", "30"]) == 2
    assert "prints as 77%, not 76%" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    # 100 votes per cell print the same cells
    simulate.simulate(replace(simulate.LECTURE, votes_per_cell=100), raters=5)


def test_lecture_preset_is_two_studies_with_their_own_raters(tmp_path, capsys):
    assert simulate.main(["--out", str(tmp_path / "votes.csv"), "--raters", "10", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "ours over hr: 152/200 = 76.0%" in out and "ours over hr: 142/200 = 71.0%" in out
    logs = {p.name: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(tmp_path.iterdir())}
    assert list(logs) == ["votes-guided-retrieval-a.csv", "votes-guided-retrieval-b.csv"]
    a, b = logs.values()
    assert set(a.study_id) == {"guided-retrieval-a"} and set(b.study_id) == {"guided-retrieval-b"}
    assert a.rater_id.nunique() == b.rater_id.nunique() == 10 and not set(a.rater_id) & set(b.rater_id)
    assert not set(a.vote_id) & set(b.vote_id)
    with pytest.raises(SystemExit):
        simulate.main(["--out", str(tmp_path / "x.csv"), "--study-id", "one"])
    assert "holds 2 studies" in capsys.readouterr().err


def test_rater_structure(lecture):
    spec = simulate.LECTURE
    per = lecture.groupby("rater_id")
    assert per.ngroups == 50
    for _, g in per:
        idx = g["trial_index"].astype(int).sort_values()
        assert list(idx) == list(range(len(g)))                          # contiguous, from 0
        first = g.assign(i=g.trial_index.astype(int)).sort_values("i")
        assert (first["trial_kind"].iloc[:spec.practice_per_rater] == "practice").all()
        assert (g.trial_kind == "catch").sum() == spec.catch_per_rater
    catch = lecture[lecture.trial_kind == "catch"]
    failed = catch[catch.correct == "False"]["rater_id"]
    assert failed.nunique() == spec.catch_failing_raters == len(failed)
    # votes are time ordered, as appended by a server
    assert lecture["timestamp"].is_monotonic_increasing


def test_no_rater_sees_an_item_twice_in_one_cell(lecture):
    s = lecture[lecture.trial_kind == "scored"].copy()
    s["pair"] = s[["left_condition", "right_condition"]].apply(lambda r: "|".join(sorted(r)), axis=1)
    assert not s.duplicated(["rater_id", "task", "pair", "item"]).any()


def test_seed_determinism_and_difference():
    a = simulate.simulate(simulate.NULL, raters=10, seed=1)
    b = simulate.simulate(simulate.NULL, raters=10, seed=1)
    c = simulate.simulate(simulate.NULL, raters=10, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["vote_id"].equals(c["vote_id"])


def test_cli_and_replicas(tmp_path, capsys):
    simulate.main(["--out", str(tmp_path / "one.csv"), "--raters", "12", "--seed", "3", "--preset", "null",
                   "--votes-per-cell", "200", "--study-id", "demo"])
    simulate.main(["--out", str(tmp_path / "votes.csv"), "--raters", "12", "--seed", "3", "--preset", "null",
                   "--votes-per-cell", "200", "--study-id", "demo", "--replicas", "3"])
    out = capsys.readouterr().out
    assert "ours over baseline_a: 100/200 = 50.0%" in out
    one = pd.read_csv(tmp_path / "one.csv", dtype=str, keep_default_na=False)
    parts = [pd.read_csv(tmp_path / f"votes-{i}.csv", dtype=str, keep_default_na=False) for i in (1, 2, 3)]
    assert (one["study_id"] == "demo").all()
    assert all(len(p) for p in parts)
    assert not set(parts[0].rater_id) & set(parts[1].rater_id)          # a rater stays on one replica
    merged = pd.concat(parts).sort_values("vote_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, one.sort_values("vote_id").reset_index(drop=True))


def test_bad_arguments():
    with pytest.raises(ValueError, match="raters"):
        simulate.simulate(simulate.LECTURE, raters=0)
    small = replace(simulate.NULL, votes_per_cell=30, items_per_cell=5)
    df = simulate.simulate(small, raters=3)     # 10 votes per rater per cell > 5 items: more items made
    assert len(df[df.trial_kind == "scored"]) == 30 * 6
