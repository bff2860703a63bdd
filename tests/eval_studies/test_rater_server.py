"""The study server's guarantees of issue 19: vote tokens, pacing, the audit log, response times and timed
exposures across reloads, withdrawal, the sessions and problem logs, completion codes, served bytes, HYPE-time."""

import io
import time
from pathlib import Path

import numpy as np
import pytest

from eval_studies import assign as assign_mod
from eval_studies.analysis import analyse
from eval_studies.pacing import Staircase, threshold_ms
from eval_studies.rater_logs import read_rows
from eval_studies.rater_server import PacingRefused, StudyServer
from eval_studies.vote_reader import load_votes
from eval_studies.vote_writer import VoteRefused, read_votes
from tests.eval_studies.test_build import chunks

CHOICE = {"pairwise": "left", "real_fake": "real"}


def serve(study_factory, tmp_path, **fields) -> StudyServer:
    return StudyServer(study_factory(tmp_path / "study", **{"min_exposure_ms": 0, **fields}))


def answer(server, rid, token, params=None, choice=None, session="s1"):
    trial = server.current(rid)
    server.show(rid, trial, session)
    return server.vote(rid, trial.index, choice or CHOICE[trial.task], session, params or {}, token)


def test_a_vote_needs_the_raters_own_token_bound_to_the_link(study_factory, tmp_path):
    server = serve(study_factory, tmp_path)
    params = {"PROLIFIC_PID": "p1", "STUDY_ID": "s", "SESSION_ID": "x1"}
    rid = server.rater_id("p1")
    token = server.issue_token(rid, params)
    assert token != server.issue_token(rid, params)  # a random nonce each time: not derivable from the id
    assert rid not in token and "p1" not in token
    assert server.check_token(rid, params, token)
    assert not server.check_token(server.rater_id("p2"), params, token)  # another rater
    assert not server.check_token(rid, {**params, "SESSION_ID": "x2"}, token)  # another Prolific session
    assert not server.check_token(rid, params, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not server.check_token(rid, params, None)
    with pytest.raises(VoteRefused, match="token"):
        answer(server, rid, "f" * 32 + "." + "0" * 40, params)
    answer(server, rid, token, params)
    assert len(read_votes(server.folder / "votes.csv")) == 1
    assert [r["reason"] for r in read_rows(server.folder / "audit.csv")] == ["bad_token"]


def test_pacing_refuses_fast_answers_and_caps_the_rate_into_the_audit_log_only(study_factory, tmp_path):
    server = serve(study_factory, tmp_path, min_exposure_ms=300, max_votes_per_minute=2)
    rid = server.rater_id("fast")
    token = server.issue_token(rid, {})
    trial = server.current(rid)
    server.show(rid, trial, "s1")
    with pytest.raises(PacingRefused) as e:
        server.vote(rid, trial.index, CHOICE[trial.task], "s1", {}, token)
    assert e.value.reason == "too_fast"
    assert not (server.folder / "votes.csv").exists()  # never in the vote log
    time.sleep(0.35)
    server.vote(rid, trial.index, CHOICE[trial.task], "s1", {}, token)
    for _ in range(2):
        trial = server.current(rid)
        server.show(rid, trial, "s1")
        time.sleep(0.35)
        try:
            server.vote(rid, trial.index, CHOICE[trial.task], "s1", {}, token)
        except PacingRefused as err:
            assert err.reason == "rate_limit"
            break
    else:
        pytest.fail("a third vote within a minute was accepted")
    assert len(read_votes(server.folder / "votes.csv")) == 2
    audit = read_rows(server.folder / "audit.csv")
    assert [r["reason"] for r in audit] == ["too_fast", "rate_limit"]
    assert all(r["rater_id"] == rid and r["detail"] for r in audit)


def test_response_time_runs_from_the_first_showing_across_reloads_and_restarts(study_factory, tmp_path):
    server = serve(study_factory, tmp_path)
    rid = server.rater_id("slow")
    trial = server.current(rid)
    server.show(rid, trial, "tab1")
    time.sleep(0.4)
    again = StudyServer(server.folder)  # a restarted server; the page reloads and shows the trial again
    again.show(rid, again.current(rid), "tab2")
    time.sleep(0.1)
    row = again.vote(rid, trial.index, CHOICE[trial.task], "tab2", {}, again.issue_token(rid, {}))
    assert int(row["response_ms"]) >= 500


def test_a_timed_exposure_is_not_shown_again_after_a_reload(study_factory, tmp_path):
    server = serve(study_factory, tmp_path, exposure_ms=100)
    rid = server.rater_id("timed")
    trial = server.current(rid)
    first = server.show(rid, trial, "tab1")
    assert first.exposure_ms == 100 and not first.spent and first.min_ms == 0
    assert server.show(rid, trial, "tab1").spent  # the same process: a reload
    time.sleep(0.15)
    assert StudyServer(server.folder).show(rid, trial, "tab2").spent  # a restarted server knows it too


def test_withdrawal_is_logged_stops_votes_and_the_report_drops_or_keeps(study_factory, tmp_path):
    for policy, counted in (("drop", False), ("keep", True)):
        server = serve(study_factory, tmp_path / policy, withdrawn_votes=policy)
        stay, leave = server.rater_id("stay"), server.rater_id("leave")
        for rid in (stay, leave):
            for _ in range(6):
                answer(server, rid, server.issue_token(rid, {}))
        server.withdraw(leave, "s9")
        assert server.withdrawn(leave)
        with pytest.raises(VoteRefused, match="withdrew"):
            answer(server, leave, server.issue_token(leave, {}))
        events = [(r["rater_id"], r["event"]) for r in read_rows(server.folder / "sessions.csv")]
        assert (leave, "withdrawn") in events
        votes = load_votes([server.folder / "votes.csv"])
        mine = votes.frame[votes.frame["rater_id"] == leave]
        assert len(mine) == 6
        assert (mine["excluded"] == "").any() == counted
        assert (mine["excluded"] == "vote of a rater who withdrew").all() != counted


def test_sessions_and_problem_reports_are_logged_beside_the_votes(study_factory, tmp_path):
    server = serve(study_factory, tmp_path)
    rid = server.rater_id("phone1")
    server.opened(rid, "a")
    server.opened(rid, "b")
    server.client_report(rid, "b", '{"device": "phone", "screen": "375x667", "viewport": "375x553", '
                                   '"touch": true, "reloads": 1, "hidden_ms": 4200}')
    for bad in ('{"device": "toaster"}', '{"screen": "<b>"}', '{"hidden_ms": -1}', "[1]", "not json"):
        with pytest.raises(ValueError):
            server.client_report(rid, "b", bad)
    rows = read_rows(server.folder / "sessions.csv")
    assert [(r["event"], r["reloads"]) for r in rows] == [("open", "0"), ("open", "1"), ("client", "1")]
    client = rows[-1]
    assert (client["device"], client["screen"], client["touch"], client["hidden_ms"]) == ("phone", "375x667",
                                                                                         "true", "4200")
    server.report_problem(rid, "b", 3, "=HYPERLINK(bad) the photo did not load")
    with pytest.raises(ValueError, match="write what went wrong"):
        server.report_problem(rid, "b", 3, "   ")
    (row,) = read_rows(server.folder / "problems.csv")
    assert row["text"].startswith("'=HYPERLINK") and row["trial_index"] == "3"
    assert not (server.folder / "votes.csv").exists()


def test_completion_codes_are_per_rater_and_verifiable(study_factory, tmp_path, capsys):
    server = serve(study_factory, tmp_path)
    done, half = server.rater_id("done"), server.rater_id("half")
    for _ in server.trials(done):
        answer(server, done, server.issue_token(done, {}))
    answer(server, half, server.issue_token(half, {}))
    code = server.completion_code(done)
    assert code.startswith("CODE123-") and code != server.completion_code(half)
    assert assign_mod.main([str(server.folder), "--verify", code]) == 0
    assert f"belongs to rater {done}" in capsys.readouterr().out
    assert assign_mod.main([str(server.folder), "--verify", server.completion_code(half)]) == 1
    assert "NOT finished" in capsys.readouterr().out
    assert assign_mod.main([str(server.folder), "--verify", "CODE123-000000000000"]) == 1
    assert "is not the completion code" in capsys.readouterr().out


def test_served_stimuli_have_one_length_and_opaque_names(study_factory, tmp_path):
    """Each stimulus goes out as an SVG holding an uncompressed PNG; Gradio sends it inline as
    data:image/svg+xml,quote(file): that text has one length for every stimulus, and the PNG inside is the pixels."""
    import base64
    import re
    from urllib.parse import quote

    from PIL import Image

    server = serve(study_factory, tmp_path)
    server.serve_into(tmp_path / "cache")
    stimuli = [s for c in server.study.conditions.values() for s in c.values()]
    stimuli += [s for p in server.study.catch_pool.values() for s in p.values()]
    paths = {s: Path(server.image_path(s)) for s in stimuli}
    sent = {len(quote(p.read_text())) for p in paths.values()}
    assert len(sent) == 1, sent  # content-independent
    png_sizes = set()
    for s, p in paths.items():
        png = base64.b64decode(re.search(r'base64,([A-Za-z0-9+/=]+)"', p.read_text()).group(1))
        png_sizes.add(len(png))
        assert set(chunks(png)) == {"IHDR", "IDAT", "IEND"}
        assert Path(s).stem not in str(p)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), server.image(s))
    assert len(png_sizes) == 1, png_sizes  # 8 x 8 RGB, uncompressed


def test_gradio_sends_a_served_stimulus_inline_without_a_server_path(study_factory, tmp_path):
    import warnings

    import gradio as gr

    server = serve(study_factory, tmp_path)
    server.serve_into(tmp_path / "cache")
    stimulus = next(iter(next(iter(server.study.conditions.values())).values()))
    image = gr.Image(type="filepath")
    image.watermark = None                       # as ui.rater_app sets it: no "cannot watermark" warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sent = image.postprocess(server.image_path(stimulus)).model_dump()
    assert sent["path"] is None and sent["url"].startswith("data:image/svg+xml,")
    assert str(tmp_path) not in str(sent)


def test_staircase_three_up_one_down_and_threshold():
    st = Staircase(500, 100, 1000, 50)
    for correct in (True, True, True):
        st.update(st.level, correct)
    assert st.level == 450
    st.update(st.level, False)
    assert st.level == 500
    assert threshold_ms([500, 450, 400, 450, 400]) == pytest.approx((400 + 450 + 400) / 3)
    assert threshold_ms([500, 500, 500]) == 500


def test_hype_time_study_sets_exposures_by_staircase_and_the_report_has_a_column(study_factory, tmp_path):
    server = serve(study_factory, tmp_path, hype_time={"start_ms": 400, "step_ms": 100},
                   trials_per_rater={"pairwise": 1, "real_fake": 10})
    rng = np.random.default_rng(0)
    for k in range(6):
        rid = server.rater_id(f"h{k}")
        token = server.issue_token(rid, {})
        for trial in server.trials(rid):
            on = server.show(rid, trial, "s")
            if trial.task == "real_fake":
                assert on.exposure_ms is not None and 100 <= on.exposure_ms <= 1000
            choice = trial.answer if trial.answer and rng.random() < 0.8 else CHOICE[trial.task]
            server.vote(rid, trial.index, choice, "s", {}, token)
    rows = read_votes(server.folder / "votes.csv")
    timed = [r for r in rows if r["task"] == "real_fake" and r["trial_kind"] == "scored"]
    assert timed and all(r["exposure_ms"] for r in timed)
    assert len({r["exposure_ms"] for r in timed}) > 1  # the staircase moved
    rep = analyse(load_votes([server.folder / "votes.csv"]), target="ours", n_boot=50)
    h = rep.hype_time
    assert set(h["condition"]) == {"natural", "ours", "base"}
    assert ((h["low"] <= h["hype_time_ms"]) & (h["hype_time_ms"] <= h["high"])).all()
    assert (h["raters"] == 6).all()


def test_report_flags_raters_who_always_give_one_answer(study_factory, tmp_path):
    server = serve(study_factory, tmp_path, trials_per_rater={"pairwise": 6, "real_fake": 6})
    for raw, picks in (("lefty", {"pairwise": "left", "real_fake": "fake"}), ("mixed", None)):
        rid = server.rater_id(raw)
        token = server.issue_token(rid, {})
        for trial in server.trials(rid):
            alternate = {"pairwise": ("left", "right"), "real_fake": ("real", "fake")}[trial.task][trial.index % 2]
            choice = picks[trial.task] if picks else alternate
            server.show(rid, trial, "s")
            server.vote(rid, trial.index, choice, "s", {}, token)
    rep = analyse(load_votes([server.folder / "votes.csv"]), target="ours", n_boot=20)
    flags = dict(zip(rep.raters["rater_id"], rep.raters["one_answer"]))
    assert flags[server.rater_id("lefty")] == "always left; always fake"
    assert flags[server.rater_id("mixed")] == ""
