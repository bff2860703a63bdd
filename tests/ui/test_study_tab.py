"""The researcher's Studies tab: the list of studies with their votes, and how to serve each."""

import json

import gradio as gr
import numpy as np
from PIL import Image

from eval_studies.assign import assign
from eval_studies.build import build_from_folder
from eval_studies.study_file import load_study
from eval_studies.vote_writer import VoteLog
from ui.studies_tab import STUDY_COLUMNS, build_rater_app, build_tab, serve_help, study_rows


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
    rows = {r[0]: dict(zip(STUDY_COLUMNS, r)) for r in study_rows(root)}
    assert rows["good"]["votes"] == 6 and rows["good"]["raters"] == 2 and rows["good"]["status"] == "running"
    assert rows["good"]["trials per rater"] == study.total_trials
    assert rows["broken"]["status"].startswith("invalid:") and "exposure_ms" in rows["broken"]["status"]
    help_text = serve_help(root)
    assert f"python app.py --study {good}" in help_text and "PROLIFIC_PID" in help_text
    assert "eval_studies.build --demo" in serve_help(tmp_path / "empty")


def test_tab_and_rater_app_build(tmp_path):
    root = tmp_path / "studies"
    folder = make_study(root / "s1")
    with gr.Blocks() as demo:
        build_tab(root)
    assert any(getattr(b, "elem_id", None) == "studies-table" for b in demo.blocks.values())
    rater = build_rater_app(folder)
    kinds = {type(b).__name__ for b in rater.blocks.values()}
    assert "Tab" not in kinds and "Dataframe" not in kinds  # the study alone, no other tab, no results
