import csv
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from eval_studies import vote_writer
from eval_studies.assign import Trial, assign
from eval_studies.schema import VOTE_COLUMNS
from eval_studies.study_file import load_study
from eval_studies.vote_writer import VoteLog, VoteRefused, neutralise, read_votes


@pytest.fixture
def study(study_dir):
    return load_study(study_dir)


def test_rows_have_the_schema_columns_and_the_answer_key(study, study_dir):
    log = VoteLog(study_dir, study.id)
    trials = assign(study, "rA")
    choices = {"pairwise": ("left", "right"), "real_fake": ("real", "fake")}
    for t in trials:
        log.record("rA", trials, t.index, choices[t.task][t.index % 2], 100 + t.index)
    with open(study_dir / "votes.csv", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == VOTE_COLUMNS + ("exposure_ms",)  # issue 19: HYPE-time needs each vote's exposure
    rows = read_votes(study_dir / "votes.csv")
    assert len(rows) == len(trials) and len({r["vote_id"] for r in rows}) == len(rows)
    for r, t in zip(rows, trials):
        assert r["study_id"] == study.id and r["rater_id"] == "rA" and int(r["trial_index"]) == t.index
        assert (r["trial_kind"], r["task"], r["item"]) == (t.kind, t.task, t.item)
        assert (r["left_stimulus"], r["right_stimulus"]) == (t.left_stimulus, t.right_stimulus)
        assert r["response_ms"] == str(100 + t.index) and r["app_version"] == vote_writer.APP_VERSION
        choice = r["choice"]
        if t.task == "pairwise":
            assert r["chosen_condition"] == (t.left_condition if choice == "left" else t.right_condition)
        else:
            assert r["chosen_condition"] == (t.left_condition if choice == "real" else "")
        assert r["correct"] == ("" if t.answer is None else ("1" if choice == t.answer else "0"))
        assert r["timestamp"].endswith("+00:00") and "T" in r["timestamp"]


def test_vote_is_fsynced_before_record_returns(study, study_dir, monkeypatch):
    seen = []
    real_fsync = os.fsync

    def spy(fd):
        real_fsync(fd)
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        # at fsync time the row is already written to the file
        seen.append((study_dir / "votes.csv").read_text().count("\n"))

    monkeypatch.setattr(vote_writer.os, "fsync", spy)
    log = VoteLog(study_dir, study.id)
    trials = assign(study, "rB")
    log.record("rB", trials, 0, "left" if trials[0].task == "pairwise" else "real", 5)
    assert str(study_dir / "votes.csv") in seen
    assert seen[seen.index(str(study_dir / "votes.csv")) + 1] == 2  # header + the vote
    n = len(seen)
    log.record("rB", trials, 1, "right" if trials[1].task == "pairwise" else "fake", 5)
    assert len(seen) > n  # every vote is fsynced, not only the first


def test_repeated_forged_and_bad_votes_are_refused(study, study_dir):
    log = VoteLog(study_dir, study.id)
    trials = assign(study, "rC")
    c0 = "left" if trials[0].task == "pairwise" else "real"
    log.record("rC", trials, 0, c0, 10)
    with pytest.raises(VoteRefused, match="already recorded"):
        log.record("rC", trials, 0, c0, 10)
    with pytest.raises(VoteRefused, match="not this rater's current trial \\(1\\)"):
        log.record("rC", trials, 3, "left" if trials[3].task == "pairwise" else "real", 10)
    with pytest.raises(VoteRefused, match="not assigned"):
        log.record("rC", trials, len(trials), "left", 10)
    with pytest.raises(VoteRefused, match="not assigned"):
        log.record("rC", trials, -1, "left", 10)
    wrong = "real" if trials[1].task == "pairwise" else "left"
    with pytest.raises(ValueError, match=f"choice {wrong!r} is not one of"):
        log.record("rC", trials, 1, wrong, 10)
    ok = "left" if trials[1].task == "pairwise" else "real"
    for bad_ms in (-1, 10**12, 1.5, True):
        with pytest.raises(ValueError, match="response_ms"):
            log.record("rC", trials, 1, ok, bad_ms)
    assert len(read_votes(study_dir / "votes.csv")) == 1


def test_formula_cells_are_neutralised(study_dir):
    for s in ("=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"):
        assert neutralise(s) == "'" + s
    assert neutralise("ok=1") == "ok=1" and neutralise("") == ""
    evil = Trial(index=0, kind="scored", task="pairwise", item='=HYPERLINK("http://x","y")',
                 left_condition="+cmd", right_condition="@A1", left_stimulus="-1.png", right_stimulus="b.png",
                 answer=None)
    log = VoteLog(study_dir, "=study")
    log.record("r1", [evil], 0, "left", 7)
    row = read_votes(study_dir / "votes.csv")[0]
    assert row["item"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert row["left_condition"] == "'+cmd" and row["right_condition"] == "'@A1"
    assert row["chosen_condition"] == "'+cmd" and row["left_stimulus"] == "'-1.png"
    assert row["study_id"] == "'=study"
    assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values())


def test_resume_from_the_log_across_instances(study, study_dir):
    trials = assign(study, "rD")
    first = VoteLog(study_dir, study.id)
    for i in range(4):
        first.record("rD", trials, i, "left" if trials[i].task == "pairwise" else "real", 1)
    restarted = VoteLog(study_dir, study.id)  # a new process reads the same file
    assert restarted.next_index("rD") == 4
    assert restarted.next_index("someone-else") == 0
    with pytest.raises(VoteRefused, match="already recorded"):
        restarted.record("rD", trials, 3, "left" if trials[3].task == "pairwise" else "real", 1)
    # the old instance sees what the new one wrote
    restarted.record("rD", trials, 4, "left" if trials[4].task == "pairwise" else "real", 1)
    assert first.next_index("rD") == 5
    assert first.counts() == (5, 1)


def test_torn_last_line_is_moved_aside(study, study_dir):
    trials = assign(study, "rE")
    log = VoteLog(study_dir, study.id)
    log.record("rE", trials, 0, "left" if trials[0].task == "pairwise" else "real", 1)
    with open(study_dir / "votes.csv", "ab") as f:
        f.write(b"deadbeef,2026-01-01T00:00")  # a writer killed mid-line
    fresh = VoteLog(study_dir, study.id)
    fresh.record("rE", trials, 1, "left" if trials[1].task == "pairwise" else "real", 1)
    rows = read_votes(study_dir / "votes.csv")
    assert [r["trial_index"] for r in rows] == ["0", "1"]
    assert (study_dir / "votes.csv.partial").read_bytes() == b"deadbeef,2026-01-01T00:00\n"


def test_foreign_header_is_refused(study, study_dir):
    (study_dir / "votes.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="is not the vote log's"):
        VoteLog(study_dir, study.id).next_index("x")


def _worker(folder: str, raters: list[str], seed: int, out) -> None:
    import random

    study = load_study(Path(folder))  # issue 19 moved StudyServer to rater_server; this tests the log itself
    log = VoteLog(Path(folder), study.id)
    rng = random.Random(seed)
    acked = []
    order = raters[:]
    for _ in range(200):
        rng.shuffle(order)
        for r in order:
            trials = assign(study, r)
            i = log.next_index(r)
            if i >= len(trials):
                continue
            t = trials[i]
            try:
                choice = rng.choice(("left", "right") if t.task == "pairwise" else ("real", "fake"))
                log.record(r, trials, t.index, choice, rng.randint(0, 5000))
                acked.append((r, t.index))
            except VoteRefused:
                pass  # another process recorded it first
    out.put(acked)


def test_several_processes_share_one_log(study_dir):
    raters = [f"p{i}" for i in range(6)]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(study_dir), raters, s, out)) for s in range(4)]
    for p in procs:
        p.start()
    acked = [x for _ in procs for x in out.get(timeout=120)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = read_votes(study_dir / "votes.csv")
    on_disk = [(r["rater_id"], int(r["trial_index"])) for r in rows]
    total = load_study(study_dir).total_trials
    assert len(on_disk) == len(set(on_disk)) == len(raters) * total  # complete, no duplicates
    assert sorted(acked) == sorted(on_disk)  # every acknowledged vote, and only those
    for r in raters:
        assert sorted(i for rid, i in on_disk if rid == r) == list(range(total))
    assert not (study_dir / "votes.csv.partial").exists()
