"""The report against counts by hand and scipy, on simulated logs with known answers; bad logs; outputs."""

import base64
import csv
import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from eval_studies import report, simulate
from eval_studies.schema import VOTE_COLUMNS
from eval_studies.vote_reader import load_votes

HOLE_TABLE1 = {"context_encoder": "87.1%", "global_local": "68.3%", "nearest_neighbor": "91.2%",
                  "patchmatch": "76.0%"}
HOLE_TABLE2 = {"natural": "97.7%", "ours": "62.4%", "context_encoder": "21.3%", "global_local": "45.5%",
                  "nearest_neighbor": "14.7%", "patchmatch": "38.1%"}

# A hole-filling study with conditions other than the lecture's experiment: the report's own layout.
HOLE_FILLING = simulate.SimSpec(
    study_id="hole-filling", target="ours",
    pairwise={"patchmatch": 0.760, "global_local": 0.683, "context_encoder": 0.871, "nearest_neighbor": 0.912},
    realism={"natural": 0.977, "ours": 0.624, "patchmatch": 0.381, "global_local": 0.455,
             "context_encoder": 0.213, "nearest_neighbor": 0.147})


@pytest.fixture(scope="module")
def hole_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("hole") / "votes.csv"
    return simulate.write_log(simulate.simulate(HOLE_FILLING, raters=50, seed=0), path)


@pytest.fixture(scope="module")
def hole(hole_log):
    return report.analyse(load_votes([hole_log]), n_boot=400, seed=0)


@pytest.fixture(scope="module")
def raw(hole_log):
    return pd.read_csv(hole_log, dtype=str, keep_default_na=False)


def _holm_by_hand(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adj, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def test_tables_cell_for_cell_in_the_reports_own_layout(hole):
    t1 = hole.wide("pairwise")
    assert list(t1["Study"]) == ["hole-filling"]
    assert {c: t1[c].iloc[0] for c in HOLE_TABLE1} == HOLE_TABLE1
    t2 = hole.wide("real_fake")
    assert {c: t2[c].iloc[0] for c in HOLE_TABLE2} == HOLE_TABLE2
    assert list(t2.columns[1:3]) == ["natural", "ours"]       # natural images first, then the target
    assert hole.target == "ours" and hole.natural == "natural"


def _check_cells(cells: pd.DataFrame, successes: pd.Series, totals: pd.Series):
    assert len(cells) == len(totals)
    for row in cells.itertuples():
        k, n = int(successes[row.condition]), int(totals[row.condition])
        assert (row.successes, row.votes) == (k, n)
        assert row.percent == pytest.approx(100 * k / n)
        bt = sps.binomtest(k, n, 0.5)
        w, e = bt.proportion_ci(0.95, "wilson"), bt.proportion_ci(0.95, "exact")
        assert (row.wilson_low, row.wilson_high) == pytest.approx((w.low, w.high), abs=1e-12)
        assert (row.cp_low, row.cp_high) == pytest.approx((e.low, e.high), abs=1e-10)
        assert row.p_value == pytest.approx(bt.pvalue, rel=1e-9)
        # the rater bootstrap interval is near the binomial ones here (raters are alike) and holds the estimate
        assert row.boot_low <= k / n <= row.boot_high
        assert abs(row.boot_low - w.low) < 0.03 and abs(row.boot_high - w.high) < 0.03
    assert list(cells["p_holm"]) == pytest.approx(_holm_by_hand(list(cells["p_value"])), rel=1e-9)


def test_every_statistic_against_hand_counts_and_scipy(hole, raw):
    s = raw[raw.trial_kind == "scored"]
    pw = s[s.task == "pairwise"]
    baseline = pw.left_condition.where(pw.left_condition != "ours", pw.right_condition)
    _check_cells(hole.table("pairwise"), (pw.chosen_condition == "ours").groupby(baseline).sum(),
                 pw.groupby(baseline).size())
    rf = s[s.task == "real_fake"]
    _check_cells(hole.table("real_fake"), (rf.choice == "real").groupby(rf.left_condition).sum(),
                 rf.groupby(rf.left_condition).size())


def test_catch_failures_and_tables_without_them(hole, raw):
    catch = raw[raw.trial_kind == "catch"]
    failing = sorted(catch.loc[catch.correct == "False", "rater_id"].unique())
    assert sorted(hole.failing_raters) == failing and len(failing) == 2
    s = raw[(raw.trial_kind == "scored") & ~raw.rater_id.isin(failing)]
    rf = s[s.task == "real_fake"]
    _check_cells(hole.table("real_fake", "without catch failures"),
                 (rf.choice == "real").groupby(rf.left_condition).sum(), rf.groupby(rf.left_condition).size())
    per = hole.raters.set_index("rater_id")
    assert per.loc[failing, "catch_failed"].tolist() == [1, 1]
    assert (per["catch_trials"] == 4).all()


def test_position_bias_and_response_time_outliers(hole, raw):
    s = raw[raw.trial_kind == "scored"]
    pw = s[s.task == "pairwise"]
    k, n = int((pw.choice == "left").sum()), len(pw)
    pos = hole.position
    assert (pos["left"], pos["votes"]) == (k, n)
    ci = sps.binomtest(k, n).proportion_ci(0.95, "wilson")
    assert (pos["wilson_low"], pos["wilson_high"]) == pytest.approx((ci.low, ci.high))
    judged = raw[raw.trial_kind != "practice"].copy()
    rt = judged.response_ms.astype(float)
    q1, q3 = np.percentile(np.log(rt), [25, 75])
    slow = np.exp(q3 + 3 * (q3 - q1))
    assert hole.rt_limits[1] == pytest.approx(slow)
    per = hole.raters.set_index("rater_id")
    assert per["fast_answers"].sum() == (rt < 300).sum() > 0
    assert per["slow_answers"].sum() == (rt > slow).sum() > 0
    by_rater = (rt < 300).groupby(judged.rater_id).sum()
    assert (per["fast_answers"].sort_index() == by_rater.sort_index()).all()


def test_agreement_and_ranking(hole, raw):
    ag = hole.agreement.set_index("task")
    assert ag.loc["real_fake", "units"] == 6 * 40          # 6 conditions x 40 items, each seen by 25 raters
    assert 0 < ag.loc["real_fake", "alpha"] < 1
    r = hole.ranking
    assert r["condition"].iloc[0] == "ours"
    # conditions beaten more often by ours rank lower: order of the pairwise table, reversed
    t = hole.table("pairwise").sort_values("percent")
    assert list(r["condition"].iloc[1:]) == list(t["condition"])
    assert (r["low"] <= r["log_strength"]).all() and (r["log_strength"] <= r["high"]).all()
    s = raw[(raw.trial_kind == "scored") & (raw.task == "pairwise")]
    assert r.set_index("condition").loc["ours", "wins"] == (s.chosen_condition == "ours").sum()


def test_exclusions_are_counted(hole, raw):
    assert hole.exclusions == {"catch trial": int((raw.trial_kind == "catch").sum()),
                                  "practice trial": int((raw.trial_kind == "practice").sum())}
    assert hole.votes_read == len(raw)
    assert hole.votes_counted == int((raw.trial_kind == "scored").sum())


def test_repeated_answers_are_counted_not_used(tmp_path, raw):
    df = raw.copy()
    dup = df[df.trial_kind == "scored"].iloc[[0]].copy()
    dup["vote_id"] = "another-id"
    dup["timestamp"] = "2099-01-01T00:00:00Z"
    path = simulate.write_log(pd.concat([df, dup]), tmp_path / "votes.csv")
    v = load_votes([path])
    assert v.exclusion_counts()["repeated answer to one trial"] == 1
    assert v.frame.loc[v.frame.vote_id == "another-id", "excluded"].item() == "repeated answer to one trial"


def test_replicas_merge_to_the_same_report(tmp_path):
    df = simulate.simulate(replace(HOLE_FILLING, votes_per_cell=200), raters=10, seed=4)
    one = simulate.write_log(df, tmp_path / "votes.csv")
    a = simulate.write_log(df[df.rater_id < "sim-0005"], tmp_path / "votes-a.csv")
    b = simulate.write_log(df[df.rater_id >= "sim-0005"], tmp_path / "votes-b.csv")
    r1 = report.analyse(load_votes([one]), n_boot=50)
    r2 = report.analyse(load_votes([a, b]), n_boot=50)
    cols = ["condition", "votes", "successes", "p_value"]
    pd.testing.assert_frame_equal(r1.cells[cols], r2.cells[cols])


def test_several_studies_need_a_flag_and_give_one_row_each(tmp_path):
    spec = replace(HOLE_FILLING, votes_per_cell=200)
    a = simulate.write_log(simulate.simulate(spec, raters=8, seed=1), tmp_path / "a.csv")
    b = simulate.write_log(simulate.simulate(replace(spec, study_id="second", pairwise={"patchmatch": 0.6}),
                                             raters=8, seed=2), tmp_path / "b.csv")
    with pytest.raises(ValueError, match=r"different studies.*--multi-study"):
        load_votes([a, b])
    rep = report.analyse(load_votes([a, b], multi_study=True), n_boot=50)
    t1 = rep.wide("pairwise")
    assert list(t1["Study"]) == ["hole-filling", "second"]
    assert t1.set_index("Study").loc["second", "patchmatch"] == "60.0%"
    assert t1.set_index("Study").loc["second", "global_local"] == ""       # not in that study
    assert len(rep.table("pairwise")) == 5                                   # Holm over all five cells


def test_target_detection(tmp_path):
    spec = replace(HOLE_FILLING, votes_per_cell=100, pairwise={"patchmatch": 0.7})
    path = simulate.write_log(simulate.simulate(spec, raters=5), tmp_path / "v.csv")
    with pytest.raises(ValueError, match="pass --target"):     # one pair: either side could be the target
        report.analyse(load_votes([path]), n_boot=10)
    rep = report.analyse(load_votes([path]), target="patchmatch", n_boot=10)
    assert rep.wide("pairwise")["ours"].iloc[0] == "30.0%"
    with pytest.raises(ValueError, match="'nope' does not occur"):
        report.analyse(load_votes([path]), target="nope", n_boot=10)


# ------------------------------------------------------------------ bad logs: file and line in every message

def _write(path: Path, rows, header=VOTE_COLUMNS):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _row(**kw):
    base = dict(vote_id="v1", timestamp="2025-01-01T00:00:00Z", study_id="s", rater_id="r1", trial_index="0",
                trial_kind="scored", task="pairwise", item="i1", left_condition="ours", right_condition="base",
                left_stimulus="a.png", right_stimulus="b.png", choice="left", chosen_condition="ours",
                correct="", response_ms="1200", app_version="1")
    base.update(kw)
    return [base[c] for c in VOTE_COLUMNS]


def test_empty_file(tmp_path):
    p = tmp_path / "votes.csv"
    p.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{re.escape(str(p))}: line 1: the file is empty"):
        load_votes([p])


def test_non_utf8(tmp_path):
    p = _write(tmp_path / "votes.csv", [_row(), _row(vote_id="v2", trial_index="1")])
    data = p.read_bytes().replace(b"r1,1,", b"r1,1\xff,")
    p.write_bytes(data)
    with pytest.raises(ValueError, match=rf"{re.escape(str(p))}: line 3: not UTF-8 text \(byte 0xff"):
        load_votes([p])


def test_missing_columns(tmp_path):
    header = [c for c in VOTE_COLUMNS if c not in ("choice", "rater_id")]
    p = tmp_path / "votes.csv"
    with open(p, "w", newline="") as fh:
        csv.writer(fh).writerow(header)
    with pytest.raises(ValueError, match=rf"{re.escape(str(p))}: line 1: the header lacks column\(s\) rater_id, choice"):
        load_votes([p])


def test_mixed_study_ids_in_one_file(tmp_path):
    p = _write(tmp_path / "votes.csv", [_row(), _row(vote_id="v2", trial_index="1"),
                                        _row(vote_id="v3", trial_index="2", study_id="other")])
    with pytest.raises(ValueError, match=rf"{re.escape(str(p))}: line 4: study_id 'other' differs from 's'"):
        load_votes([p])


def test_duplicate_vote_ids_within_and_across_files(tmp_path):
    p = _write(tmp_path / "votes.csv", [_row(), _row(trial_index="1")])
    with pytest.raises(ValueError, match=rf"{re.escape(str(p))}: line 3: vote_id 'v1' already appears at {re.escape(str(p))}: line 2"):
        load_votes([p])
    a = _write(tmp_path / "a.csv", [_row()])
    b = _write(tmp_path / "b.csv", [_row(rater_id="r2")])
    with pytest.raises(ValueError, match=rf"{re.escape(str(b))}: line 2: vote_id 'v1' already appears at {re.escape(str(a))}: line 2"):
        load_votes([a, b])
    with pytest.raises(ValueError, match="this log is given twice"):
        load_votes([a, a])
    c = tmp_path / "copy.csv"
    c.write_bytes(a.read_bytes())
    with pytest.raises(ValueError, match="duplicate vote ids"):
        load_votes([a, c])                     # a copy of one replica passed as another


def test_malformed_rows_each_named(tmp_path):
    p = _write(tmp_path / "votes.csv", [
        _row(),
        _row(vote_id="v2", choice="up"),                                    # line 3
        _row(vote_id="v3", chosen_condition="base"),                        # line 4: not the chosen side
        _row(vote_id="v4", response_ms="fast"),                             # line 5
        _row(vote_id="v5", trial_kind="warmup"),                            # line 6
        _row(vote_id="v6", correct="maybe"),                                # line 7
    ])
    with open(p, "a", newline="") as fh:
        fh.write("v7,2025,s,r1,3\n")                                        # line 8: cut off
    with pytest.raises(ValueError) as e:
        load_votes([p])
    msg = str(e.value)
    assert f"{p}: line 8: 5 fields where the header has 17" in msg
    _write(p, [_row(), _row(vote_id="v2", choice="up"), _row(vote_id="v3", chosen_condition="base"),
               _row(vote_id="v4", response_ms="fast"), _row(vote_id="v5", trial_kind="warmup"),
               _row(vote_id="v6", correct="maybe")])
    with pytest.raises(ValueError) as e:
        load_votes([p])
    msg = str(e.value)
    assert f"{p}: line 3: choice 'up' is not one of left, right" in msg
    assert f"{p}: line 4: chosen_condition 'base' is not the condition on the chosen side" in msg
    assert f"{p}: line 5: response_ms 'fast' is not a number" in msg
    assert f"{p}: line 6: trial_kind 'warmup' is not one of practice, scored, catch" in msg
    assert f"{p}: line 7: correct 'maybe' is not true/false" in msg


def test_header_only_log_is_an_empty_study(tmp_path):
    p = _write(tmp_path / "votes.csv", [])
    rep = report.analyse(load_votes([p]), n_boot=10)
    assert rep.cells.empty and rep.votes_read == 0
    assert "No scored votes yet" in report.render_markdown(rep, {})


def test_study_server_log_format_is_read(tmp_path):
    # the study server writes correct as 1/0 and real_fake chosen_condition empty for "fake"
    p = _write(tmp_path / "votes.csv", [
        _row(),
        _row(vote_id="v2", trial_index="1", trial_kind="catch", left_condition="catch_photo",
             right_condition="catch_broken", chosen_condition="catch_photo", correct="1"),
        _row(vote_id="v3", trial_index="2", task="real_fake", left_condition="natural", right_condition="",
             right_stimulus="", choice="fake", chosen_condition="", correct="0"),
        _row(vote_id="v4", trial_index="3", timestamp="2025-01-01T00:00:01.123+00:00", choice="right",
             chosen_condition="base"),
    ])
    v = load_votes([p])
    assert v.frame["correct"].tolist()[1:3] == [True, False]
    rep = report.analyse(v, target="ours", n_boot=20)
    assert rep.wide("pairwise")["base"].iloc[0] == "50.0%"
    assert rep.wide("real_fake")["natural"].iloc[0] == "0.0%"


# ------------------------------------------------------------------ outputs

def test_every_format_is_written(hole, tmp_path):
    md = report.write_report(hole, "md", tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    assert "| hole-filling | 87.1% | 68.3% | 91.2% | 76.0% |" in text
    assert "97.7%" in text and "![pairwise chart](r-pairwise.png)" in text
    assert {p.name for p in md} == {"r.md", "r-pairwise.png", "r-realism.png", "r-ranking.png"}
    assert (tmp_path / "r-pairwise.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report.write_report(hole, "html", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    imgs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(imgs) == 3 and base64.b64decode(imgs[0])[:4] == b"\x89PNG"
    assert "<td>76.0%</td>" in html
    report.write_report(hole, "latex", tmp_path / "r.tex")
    tex = (tmp_path / "r.tex").read_text()
    assert r"76.0\%" in tex and r"\includegraphics" in tex and r"context\_encoder" in tex
    files = report.write_report(hole, "csv", tmp_path / "r.csv")
    cells = pd.read_csv(tmp_path / "r.csv")
    assert list(cells.columns) == report.CELL_COLUMNS
    assert cells.query("table == 'pairwise' and raters == 'all' and condition == 'patchmatch'")["successes"].item() == 760
    assert {p.name for p in files} >= {"r-raters.csv", "r-ranking.csv", "r-quality.csv"}
    ranking = pd.read_csv(tmp_path / "r-ranking.csv")
    assert (ranking["log_strength"] < 0).any()            # negative numbers are not "neutralised"


def test_csv_injection_is_neutralised(tmp_path):
    rows = [_row(vote_id=f"v{i}", trial_index=str(i), rater_id=f"r{i}", left_condition="=HYPERLINK(1)",
                 right_condition="+base", chosen_condition="=HYPERLINK(1)") for i in range(4)]
    p = _write(tmp_path / "votes.csv", rows)
    rep = report.analyse(load_votes([p]), target="=HYPERLINK(1)", n_boot=10)
    report.write_report(rep, "csv", tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="") as fh:
        cells = list(csv.reader(fh))
    flat = [c for row in cells for c in row]
    assert "'=HYPERLINK(1)" in flat and "'+base" in flat
    assert not any(c[:1] in "=+@" for c in flat if c)
    assert report.csv_safe(-0.53) == "-0.53" and report.csv_safe("-1e-5") == "-1e-5"
    assert report.csv_safe("-x") == "'-x" and report.csv_safe("@a") == "'@a" and report.csv_safe("ok") == "ok"


def test_cli(hole_log, tmp_path, capsys):
    assert report.main([str(hole_log), "--format", "html", "--out", str(tmp_path / "r.html"), "--boot", "50"]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "r.html").exists()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    assert report.main([str(bad), "--out", str(tmp_path / "x.md")]) == 2
    assert f"{bad}: line 1: the file is empty" in capsys.readouterr().err
    assert report.main(["--plan", "--rate", "0.6"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"60%\s+0.05\s+0.8\s+194\s", out)


def test_bench_runs_and_reports_stages():
    df = report.bench(n_votes=2000, n_boot=50, raters=20)
    assert list(df["stage"])[-1] == "total" and (df["seconds"] > 0).all()
    assert df.attrs["scored"] == 2000


def test_report_needs_neither_torch_nor_gradio():
    import subprocess
    import sys
    code = ("import sys, eval_studies.report, eval_studies.simulate, eval_studies.stats, eval_studies.vote_reader; "
            "print(sorted(m for m in ('torch', 'gradio') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}    # no site hooks importing others
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2], env=env)
    assert out.stdout.strip() == "[]"


def test_reads_the_study_servers_own_log(tmp_path):
    """Writer and reader agree: a small study built and voted through the server's own log code."""
    from PIL import Image

    from eval_studies.assign import assign
    from eval_studies.build import build_from_folder
    from eval_studies.study_file import load_study
    from eval_studies.vote_writer import VoteLog

    src = tmp_path / "src"
    rng = np.random.default_rng(0)
    for cond in ("natural", "ours", "base"):
        (src / cond).mkdir(parents=True)
        for i in range(14):
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(src / cond / f"im{i}.png")
    out = tmp_path / "study"
    build_from_folder(src, out, study_id="integration", trials_per_rater=10, practice=2, catch=2, size=24)
    study = load_study(out)
    log = VoteLog(out, study.id)
    written = []
    for r in range(6):
        trials = assign(study, f"rater{r}")
        for t in trials:
            if t.kind in ("catch", "practice"):     # rater0 gets every catch trial wrong
                opposite = {"left": "right", "right": "left", "real": "fake", "fake": "real"}
                choice = opposite[t.answer] if r == 0 and t.kind == "catch" else t.answer
            elif t.task == "pairwise":               # every rater prefers ours, then the photo
                want = "ours" if "ours" in (t.left_condition, t.right_condition) else "natural"
                choice = "left" if t.left_condition == want else "right"
            else:
                choice = "real" if t.left_condition in ("natural", "ours") else "fake"
            written.append(log.record(f"rater{r}", trials, t.index, choice, 900 + 10 * t.index))
    with pytest.raises(ValueError, match="pass --target"):    # every pair of three conditions is shown
        report.analyse(load_votes(sorted(out.glob("votes*.csv"))), n_boot=50)
    rep = report.analyse(load_votes(sorted(out.glob("votes*.csv"))), target="ours", n_boot=50)
    w = pd.DataFrame(written)
    scored = w[w.trial_kind == "scored"]
    assert rep.votes_read == len(w) and rep.votes_counted == len(scored)
    assert rep.exclusions == {k: int(v) for k, v in
                              w.trial_kind.map({"catch": "catch trial", "practice": "practice trial"})
                              .value_counts().sort_index().items()}
    t1 = rep.table("pairwise")
    pw = scored[(scored.task == "pairwise") & ((scored.left_condition == "ours") | (scored.right_condition == "ours"))]
    assert rep.target == "ours" and t1["votes"].sum() == len(pw) and (t1["percent"] == 100).all()
    t2 = rep.table("real_fake").set_index("condition")
    assert t2.loc["natural", "percent"] == 100 and t2.loc["base", "percent"] == 0
    assert rep.natural == "natural"
    assert rep.failing_raters == ["rater0"]
    assert rep.raters.set_index("rater_id").loc["rater0", "catch_failed"] == 2


def test_a_rater_clicking_through_is_named(raw, tmp_path):
    df = raw.copy()
    df.loc[df.rater_id == "sim-0003", "response_ms"] = "120"
    rep = report.analyse(load_votes([simulate.write_log(df, tmp_path / "votes.csv")]), n_boot=20)
    per = rep.raters.set_index("rater_id")
    assert per.loc["sim-0003", "fast_answers"] == (df[(df.rater_id == "sim-0003") & (df.trial_kind != "practice")]).shape[0]
    md = report.render_markdown(rep, {})
    listed = re.findall(r"^\| (sim-\d+) \|", md, flags=re.M)
    assert sorted(listed) == sorted(["sim-0003", *rep.failing_raters])


def test_quoted_fields_keep_their_line_numbers(tmp_path):
    # a quoted item holding a comma and a line break: the row spans lines 3-4, so the next row is line 5
    p = _write(tmp_path / "votes.csv", [_row(), _row(vote_id="v2", item="a,b\nc"), _row(vote_id="v3", choice="up")])
    with pytest.raises(ValueError, match=rf"{re.escape(str(p))}: line 5: choice 'up'"):
        load_votes([p])
    _write(p, [_row(), _row(vote_id="v2", item="a,b\nc")])
    assert load_votes([p]).frame["item"].tolist() == ["i1", "a,b\nc"]


# ------------------------------------------------------------------ issue 18: primary analysis, json, bugs

def _fail_catch(df: pd.DataFrame, rater: str, n: int) -> pd.DataFrame:
    """The rater answers the first n of their catch trials wrongly (choice, chosen side and flag agree)."""
    df = df.copy()
    rows = df.index[(df.rater_id == rater) & (df.trial_kind == "catch")][:n]
    for i in rows:
        left = df.at[i, "choice"] != "left"
        df.at[i, "choice"] = "left" if left else "right"
        df.at[i, "chosen_condition"] = df.at[i, "left_condition" if left else "right_condition"]
        df.at[i, "correct"] = "False"
    return df


def test_primary_columns_and_headline_intervals(hole):
    t = hole.table("pairwise")
    assert (t["primary_low"] < t["percent"] / 100).all() and (t["percent"] / 100 < t["primary_high"]).all()
    assert (t["n_raters"] == 50).all() and (t["n_items"] == 40).all()
    assert t["largest_rater_share"].tolist() == pytest.approx([20 / 1000] * 4)
    assert t["primary_method"].str.startswith("two-way cluster-robust").all()
    w = hole.wide("pairwise", intervals=True)
    assert list(w["Study"]) == ["hole-filling", "  95% interval"]
    row = t.set_index("condition").loc["patchmatch"]
    assert w["patchmatch"].iloc[1] == f"{100 * row.primary_low:.1f} to {100 * row.primary_high:.1f}"
    md = report.render_markdown(hole, {})
    assert "| hole-filling | 87.1% | 68.3% | 91.2% | 76.0% |" in md
    assert "Wilson 95% (assumes independent votes)" in md and "Exact p vs 50% (assumes independent votes)" in md


def test_real_vs_fake_is_a_difference_from_natural_with_holm_outside_natural(hole, raw):
    t = hole.table("real_fake").set_index("condition")
    assert np.isnan(t.loc["natural", "primary_p"]) and np.isnan(t.loc["natural", "primary_p_holm"])
    assert t.loc["ours", "diff_vs_natural"] == pytest.approx(0.624 - 0.977)
    assert t.loc["ours", "diff_low"] < 0.624 - 0.977 < t.loc["ours", "diff_high"] < 0
    assert (t.drop("natural")["primary_test"] == "vs natural").all()
    others = t.drop("natural")
    assert others["primary_p_holm"].tolist() == pytest.approx(_holm_by_hand(others["primary_p"].tolist()))
    assert "vs natural (95% interval)" in report.render_markdown(hole, {})


def test_json_has_one_object_per_cell(hole, tmp_path):
    import json
    files = report.write_report(hole, "json", tmp_path / "r.json")
    assert files == [tmp_path / "r.json"]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert len(doc["cells"]) == len(hole.cells)
    cell = next(c for c in doc["cells"] if c.get("baseline") == "patchmatch")
    for key in ("study", "task", "target", "votes", "raters", "items", "estimate", "primary_low", "primary_high",
                "primary_p", "primary_p_adjusted", "primary_method", "wilson_low", "wilson_high", "exact_p",
                "bootstrap_low", "bootstrap_high", "largest_rater_share"):
        assert key in cell, key
    assert (cell["study"], cell["task"], cell["target"], cell["votes"], cell["estimate"]) == \
        ("hole-filling", "pairwise", "ours", 1000, 0.76)
    nat = next(c for c in doc["cells"] if c.get("condition") == "natural")
    assert nat["primary_p"] is None and nat["diff_vs_natural"] is None
    assert report.main([str(tmp_path / "none.csv"), "--format", "json", "--out", str(tmp_path / "x.json")]) == 2


def test_catch_threshold_text_counts_both(raw, tmp_path):
    df = raw.copy()
    failing_once = sorted(df.loc[(df.trial_kind == "catch") & (df.correct == "False"), "rater_id"].unique())
    for r in ("sim-0010", "sim-0011", "sim-0012"):
        df = _fail_catch(df, r, 1)
    for r in ("sim-0020", "sim-0021"):
        df = _fail_catch(df, r, 2)
    rep = report.analyse(load_votes([simulate.write_log(df, tmp_path / "v.csv")]), n_boot=20, max_catch_failures=1)
    md = report.render_markdown(rep, {})
    assert len(failing_once) == 2
    assert "7 rater(s) failed at least one; 2 failed more than 1 (the threshold, --max-catch-failures 1): " \
           "sim-0020, sim-0021." in md
    steps = rep.exclusion_steps.set_index("rule")
    last = steps.iloc[-1]
    assert (last["raters before"], last["raters after"]) == (50, 48)
    assert steps.iloc[0]["votes before"] == len(df)


def test_level_labels_follow_the_level(hole_log):
    rep = report.analyse(load_votes([hole_log]), n_boot=50, level=0.9)
    md = report.render_markdown(rep, {})
    assert "Rater bootstrap 90% (this condition vs the mean)" in md and "Bootstrap 95%" not in md
    assert "Wilson 90%" in md and "95%" not in md.replace("97.7%", "")


def test_multi_study_keeps_raters_apart_and_holm_within_a_study(tmp_path):
    spec = replace(HOLE_FILLING, votes_per_cell=200, pairwise={"patchmatch": 0.56, "global_local": 0.58})
    a = simulate.write_log(simulate.simulate(spec, raters=8, seed=1), tmp_path / "a.csv")
    df = simulate.simulate(replace(spec, study_id="second", pairwise={"patchmatch": 0.9}), raters=8, seed=2)
    one = report.analyse(load_votes([a]), n_boot=20)
    # the same rater id fails a catch trial only in the second study
    both_logs = pd.concat([pd.read_csv(a, dtype=str, keep_default_na=False), df])
    failed = set(both_logs.loc[(both_logs.trial_kind == "catch") & (both_logs.correct == "False"), "rater_id"])
    rid = min(set(df["rater_id"]) - failed)
    b = simulate.write_log(_fail_catch(df, rid, 1), tmp_path / "b.csv")
    both = report.analyse(load_votes([a, b], multi_study=True), n_boot=20)
    first = both.table("pairwise").query("study_id == 'hole-filling'")
    assert first["primary_p_holm"].tolist() == pytest.approx(one.table("pairwise")["primary_p_holm"].tolist())
    assert first["p_holm"].tolist() == pytest.approx(one.table("pairwise")["p_holm"].tolist())
    report.write_report(both, "csv", tmp_path / "r.csv")
    raters = pd.read_csv(tmp_path / "r-raters.csv", dtype=str)
    logs = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in (a, b)])
    catch = logs[(logs.trial_kind == "catch") & (logs.correct == "False")]
    by_hand = sorted(set(catch.study_id + "/" + catch.rater_id))
    marked = raters[raters.failed_catch == "True"]
    assert sorted(marked.study_id + "/" + marked.rater_id) == by_hand
    assert f"second/{rid}" in by_hand and f"hole-filling/{rid}" not in by_hand


def test_quality_csv_writes_counts_as_whole_numbers(hole, tmp_path):
    report.write_report(hole, "csv", tmp_path / "r.csv")
    q = dict(csv.reader(open(tmp_path / "r-quality.csv", newline="")))
    assert q["votes_counted"] == str(hole.votes_counted) and q["excluded: catch trial"] == "200"
    assert not any(v.endswith(".0") for k, v in q.items() if not k.startswith(("alpha", "position_", "rt_")))


def test_header_only_log_reads_sensibly(tmp_path):
    rep = report.analyse(load_votes([_write(tmp_path / "votes.csv", [])]), n_boot=10)
    md = report.render_markdown(rep, {})
    assert md.startswith("# Study report: no votes yet") and "nan" not in md
    assert "Response times: none recorded." in md


def test_repeated_answers_are_plural_in_english(tmp_path, raw):
    df = raw.copy()
    dup = df[df.trial_kind == "scored"].iloc[[0, 1]].copy()
    dup["vote_id"] = ["another-1", "another-2"]
    dup["timestamp"] = "2099-01-01T00:00:00Z"
    rep = report.analyse(load_votes([simulate.write_log(pd.concat([df, dup]), tmp_path / "v.csv")]), n_boot=10)
    md = report.render_markdown(rep, {})
    assert "2 repeated answers to one trial" in md and "one trials" not in md


def test_plan_refuses_chance_rate_without_traceback_and_plans_in_raters(capsys):
    assert report.main(["--plan", "--rate", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: rate must be in (0, 1) and differ from 0.5") and "Traceback" not in err
    assert report.main(["--plan", "--rate", "0.6", "--icc", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "correlate by 0.100 (--icc)" in out and re.search(r"60%\s+0.05\s+0.8\s+194\s+199\s+210\s", out)
    table = report.rater_plan_table([0.6], 0.05, 0.8, 0.1)
    assert list(table["votes per rater"]) == [5, 10, 20, 40]
    assert table["raters"].is_monotonic_decreasing and table["votes per cell"].is_monotonic_increasing


def test_equal_response_times_are_not_outliers(raw, tmp_path):
    df = raw.copy()
    df["response_ms"] = "1234"
    rep = report.analyse(load_votes([simulate.write_log(df, tmp_path / "v.csv")]), n_boot=10)
    assert rep.raters["slow_answers"].sum() == 0 and rep.rt_limits[1] == pytest.approx(1234)


def test_contradicting_rows_are_refused_with_file_and_line(tmp_path):
    p = _write(tmp_path / "votes.csv", [
        _row(),
        _row(vote_id="v2", task="real_fake", right_condition="", right_stimulus="", choice="real",
             chosen_condition=""),                                              # line 3: real, nothing chosen
        _row(vote_id="v3", task="real_fake", right_condition="", right_stimulus="", choice="fake",
             chosen_condition="ours"),                                          # line 4: fake, yet ours chosen
        _row(vote_id="v4", trial_kind="catch", left_condition="catch_photo", right_condition="catch_broken",
             choice="left", chosen_condition="catch_photo", correct="False"),   # line 5: right answer marked wrong
        _row(vote_id="v5", trial_kind="catch", task="real_fake", left_condition="catch_broken",
             right_condition="", right_stimulus="", choice="real", chosen_condition="catch_broken",
             correct="1"),                                                      # line 6: broken judged real, "correct"
        _row(vote_id="v6", trial_kind="catch", left_condition="catch_photo", right_condition="catch_broken",
             choice="right", chosen_condition="catch_broken", correct="False"),  # line 7: consistent
    ])
    with pytest.raises(ValueError) as e:
        load_votes([p])
    refused = {int(n): text for n, text in re.findall(r": line (\d+): (.*)", str(e.value))}
    assert refused[3] == "chosen_condition '' contradicts choice 'real'"
    assert refused[4] == "chosen_condition 'ours' contradicts choice 'fake'"
    assert refused[5].startswith("correct 'False' contradicts the choice 'left'")
    assert refused[6].startswith("correct '1' contradicts the choice 'real'") and sorted(refused) == [3, 4, 5, 6]


def test_position_biased_raters_are_listed(raw, tmp_path):
    df = raw.copy()
    m = (df.rater_id == "sim-0007") & (df.trial_kind == "scored") & (df.task == "pairwise")
    df.loc[m, "choice"] = "left"
    df.loc[m, "chosen_condition"] = df.loc[m, "left_condition"]
    rep = report.analyse(load_votes([simulate.write_log(df, tmp_path / "v.csv")]), n_boot=10)
    assert rep.raters.set_index("rater_id")["position_biased"].loc[lambda s: s].index.tolist() == ["sim-0007"]
    assert "p < 0.05): sim-0007." in report.render_markdown(rep, {})
