"""The researcher's Studies tab: the list of studies with their votes, and how to serve each."""

import json
import time

import gradio as gr
import numpy as np
from PIL import Image

from eval_studies.assign import assign
from eval_studies.build import build_from_folder
from eval_studies.loadtest import RaterSession
from eval_studies.progress import STUDY_COLUMNS, serving_help, studies_overview, study_table
from eval_studies.rater_logs import read_rows
from eval_studies.study_file import load_study
from eval_studies.vote_writer import VoteLog
from ui.rater_app import RATER_API, RATER_LAUNCH_KWARGS, build_rater_app
from ui.studies_tab import build_tab


def make_study(out, **fields):
    src = out.parent / f"{out.name}-src"
    rng = np.random.default_rng(0)
    for c in ("natural", "ours"):
        (src / c).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(src / c / f"{i}.png")
    build_from_folder(src, out, trials_per_rater=4, size=16)
    if fields:
        spec = json.loads((out / "study.json").read_text())
        (out / "study.json").write_text(json.dumps({**spec, **fields}))
    return out


def test_rows_count_votes_and_show_broken_studies(tmp_path):
    root = tmp_path / "studies"
    good = make_study(root / "good")
    make_study(root / "broken", exposure_ms=5)
    study = load_study(good)
    log = VoteLog(good, study.id)
    for rater in ("r1", "r2"):
        trials = assign(study, rater)
        for t in trials[:3]:
            log.record(rater, trials, t.index, "left" if t.task == "pairwise" else "real", 10)
    rows = {r[0]: dict(zip(STUDY_COLUMNS, r)) for r in study_table(root)}
    assert rows["good"]["votes"] == 6 and rows["good"]["raters"] == 2 and rows["good"]["status"] == "running"
    assert rows["good"]["trials per rater"] == study.total_trials
    assert rows["broken"]["status"].startswith("invalid:") and "exposure_ms" in rows["broken"]["status"]
    help_text = serving_help(root)
    assert "python app.py --study STUDIES_ROOT/good" in help_text and "PROLIFIC_PID" in help_text
    assert "eval_studies.build --demo" in serving_help(tmp_path / "empty")
    # folder names only: what the tab's refresh returns holds no server path
    assert str(tmp_path) not in repr(studies_overview(root)) + serving_help(tmp_path / "empty")


def test_tab_and_rater_app_build(tmp_path):
    root = tmp_path / "studies"
    folder = make_study(root / "s1")
    with gr.Blocks() as demo:
        build_tab(root)
    assert any(getattr(b, "elem_id", None) == "studies-table" for b in demo.blocks.values())
    rater = build_rater_app(folder)
    kinds = {type(b).__name__ for b in rater.blocks.values()}
    assert "Tab" not in kinds and "Dataframe" not in kinds  # the study alone, no other tab, no results


def test_rater_app_api_is_named_and_read_by_name(tmp_path):
    """The rater app's events are named endpoints (callable by gradio_client, absent from the API page);
    every other event is private, so nothing is callable as /lambda_N."""
    folder = make_study(tmp_path / "s1")
    rater = build_rater_app(folder)
    for fn in rater.fns.values():
        assert fn.api_visibility == "private" or fn.api_name in RATER_API, fn.api_name
    rater.launch(prevent_thread_lock=True, **RATER_LAUNCH_KWARGS)
    try:
        session = RaterSession(rater.local_url, {"rater": "api-rater-1"})
        page = session.call("open", None)
        assert page["study-layout"] == "consent"
        token = page["study-token"]
        page = session.call("start", token)
        assert page["study-shown"] == "0" and page["study-layout"].startswith("trial:")
        # issue 19: an answer within the minimum exposure (500 ms from sending) is refused and audited
        page = session.call("vote_right", "0", token, None)
        assert page["study-shown"] == "0" and "a little longer" in page["study-feedback"]
        time.sleep(0.6)
        page = session.call("vote_left", "3", token, None)  # not the trial on screen: refused, same trial again
        assert page["study-shown"] == "0" and "earlier trial" in page["study-feedback"]
        time.sleep(0.6)
        page = session.call("vote_right", "0", token, None)
        assert page["study-shown"] == "1"
        assert VoteLog(folder, load_study(folder).id).counts() == (1, 1)
        assert [r["reason"] for r in read_rows(folder / "audit.csv")] == ["too_fast"]
        assert session.client.view_api(print_info=False, return_format="dict")["named_endpoints"] == {}
        session.close()
    finally:
        rater.close()


def test_rater_app_queue_never_recomputes_the_analytics_summary(tmp_path):
    """Pins the Gradio behaviour ui.rater_app.analytics_summary_off relies on: the queue reads
    GRADIO_ANALYTICS_CACHE_FREQUENCY when it is created (there is no public setting for it)."""
    import os

    rater = build_rater_app(make_study(tmp_path / "s1"))
    assert rater._queue.ANAYLTICS_CACHE_FREQUENCY == 2**62
    assert "GRADIO_ANALYTICS_CACHE_FREQUENCY" not in os.environ  # set for that moment only


def test_studies_tab_has_no_public_endpoint(tmp_path):
    """Issue 19: the tab's table and help used callable values, which Gradio made public /lambda_N endpoints
    returning vote counts to anyone."""
    make_study(tmp_path / "studies" / "s1")
    with gr.Blocks() as demo:
        build_tab(tmp_path / "studies")
    assert demo.fns and all(fn.api_visibility == "private" for fn in demo.fns.values())


def test_rater_flow_consent_break_problem_session_withdraw_and_no_uploads(tmp_path):
    import httpx

    from eval_studies.assign import hash_rater, study_key

    folder = make_study(tmp_path / "s1", min_exposure_ms=0, no_consent_code="NOPE42")
    rater = build_rater_app(folder)
    rater.launch(prevent_thread_lock=True, **RATER_LAUNCH_KWARGS)
    try:
        up = httpx.post(rater.local_url + "gradio_api/upload", files={"files": ("x.png", b"\x89PNG" + b"0" * 64)})
        assert up.status_code == 413  # uploads are off in study mode
        no = RaterSession(rater.local_url, {"rater": "says-no"})
        page = no.call("decline", no.call("open", None)["study-token"])
        assert page["study-layout"] == "done" and "NOPE42" in page["study-done-link"]
        no.close()
        s = RaterSession(rater.local_url, {"rater": "r-flow"})
        token = s.call("open", None)["study-token"]
        page = s.call("start", token)
        s.call("session_info", json.dumps({"device": "phone", "screen": "375x667", "reloads": 0, "hidden_ms": 12}),
               token)
        status = s.call("report_problem", "the left photo did not load", token)["study-problem-status"]
        assert "Thank you" in status
        layouts = []
        while page["study-layout"].startswith("trial:"):
            page = s.call("vote_left", page["study-shown"], token, None)
            layouts.append(page["study-layout"])
            if page["study-layout"] == "break":
                page = s.call("continue", token)
        assert "break" in layouts  # two task blocks: one break between them
        assert page["study-layout"] == "done"
        code = page["study-done-link"].split('id="study-code">')[1].split("<")[0]
        rid = hash_rater("r-flow", study_key(folder))
        from eval_studies.assign import completion_code
        assert code == completion_code(load_study(folder), study_key(folder), rid)
        events = [(r["rater_id"], r["event"]) for r in read_rows(folder / "sessions.csv")]
        assert (rid, "open") in events and (rid, "consent") in events and (rid, "finished") in events
        assert (rid, "client") in events
        assert [r["text"] for r in read_rows(folder / "problems.csv")] == ["the left photo did not load"]
        s.close()
        w = RaterSession(rater.local_url, {"rater": "r-leaves"})
        token = w.call("open", None)["study-token"]
        page = w.call("start", token)
        page = w.call("withdraw", token)
        assert page["study-layout"] == "done" and "withdrawn" in page["study-done"]
        page = w.call("open", None)  # coming back: still withdrawn
        assert page["study-layout"] == "done" and "withdrawn" in page["study-done"]
        w.close()
    finally:
        rater.close()
