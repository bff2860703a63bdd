"""The lecture's crowd experiment built as two studies (eval_studies.build_experiment): conditions, pairs, the
natural share, the report's lecture layout over votes on the built studies, and the picture check's refusal."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eval_studies import lecture
from eval_studies.analysis import analyse
from eval_studies.assign import assign
from eval_studies.build_experiment import (DEFAULT_ITEMS, NATURAL_SHARE, build_experiment, experiment_help,
                                           refuse_defects, trial_plan)
from eval_studies.study_file import load_study
from eval_studies.vote_reader import load_votes
from eval_studies.vote_writer import VoteLog
from synth.experiment_stimuli import picture_check
from synth.inpaint.masks import central
from tests.eval_studies.test_build import check_stimuli

ROOT = Path(__file__).resolve().parents[2]
HAS_DH = (ROOT / "assets" / "checkpoints" / "harmonizer" / "config.json").is_file()
BASELINES = set(lecture.COLUMNS["pairwise"])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiment")
    (out / "demo").mkdir()  # another study under the same root stays
    proc = subprocess.run([sys.executable, "-m", "eval_studies.build", "--experiment", "--out", str(out),
                           "--items", "2", "--retrieval", "both"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_two_studies_with_exactly_the_lecture_conditions(built):
    out, stdout = built
    assert sorted(p.name for p in out.iterdir()) == ["demo", "retrieval-a", "retrieval-b"]
    for s in lecture.SETTINGS:
        study = load_study(out / f"retrieval-{s}")
        record = json.loads((out / f"retrieval-{s}" / "experiment.json").read_text())
        assert study.id == f"guided-retrieval-{s}" and lecture.setting_of(study.id) == s
        baselines = set(study.conditions) - {"natural", "ours"}
        assert {"natural", "ours"} <= set(study.conditions) and study.natural_condition == "natural"
        # the lecture's seven baselines, less only those that cannot run here (dh without its checkpoint)
        assert baselines == BASELINES - set(record["skipped"])
        assert set(record["skipped"]) == (set() if HAS_DH else {"dh"})
        if not HAS_DH:
            assert "'dh' cannot run, left out" in stdout and "harmonizer" in record["skipped"]["dh"]
        assert len(study.items) == 2 and record["items"] == list(study.items)
        assert set(record["guidance"]) == set(study.items)  # each item's guidance, for the record
        assert study.practice_trials == 2 and study.catch_trials == 4 and len(study.catch_pool) == 6
        assert not set(study.items) & {i.removeprefix("catch-") for i in study.catch_pool}
        # two- and three-letter names (pb, ce, caf) are hex digits or random PNG bytes: checked from 4 letters
        check_stimuli(out / f"retrieval-{s}", 256, forbidden=[c for c in study.conditions if len(c) >= 4] + ["catch"])
    # both settings hold the same photos (with their own guided fills)
    assert load_study(out / "retrieval-a").items == load_study(out / "retrieval-b").items


def test_every_pairwise_trial_pairs_ours_with_a_baseline_and_half_the_real_fake_ones_are_natural(built):
    out, _ = built
    for s in lecture.SETTINGS:
        study = load_study(out / f"retrieval-{s}")
        assert {a for a, _ in study.pairs} == {"ours"} and {b for _, b in study.pairs} == set(study.conditions) - {
            "natural", "ours"}
        assert study.natural_share == NATURAL_SHARE == 0.5
        natural = real_fake = 0
        for r in range(400):
            for t in assign(study, f"rater-{r}"):
                if t.kind == "scored" and t.task == "pairwise":
                    assert "ours" in (t.left_condition, t.right_condition)
                    assert {t.left_condition, t.right_condition} - {"ours"} <= BASELINES
                elif t.kind == "scored":
                    real_fake += 1
                    natural += t.left_condition == "natural"
        assert 0.4 <= natural / real_fake <= 0.6, natural / real_fake  # one trial per rater with 2 items
    # the full design: each pair twice (once per side), each fake once with as many natural photos
    assert trial_plan(DEFAULT_ITEMS, 7) == (14, 16, None) and trial_plan(DEFAULT_ITEMS, 6) == (12, 14, None)
    assert trial_plan(25, 7) == (7, 16, None)
    pairwise, real_fake, note = trial_plan(2, 7)
    assert (pairwise, real_fake) == (1, 1) and "only 2 items" in note


def test_the_report_recognises_the_lecture_layout_on_votes_over_the_built_studies(built, tmp_path):
    out, _ = built
    rng = np.random.default_rng(0)
    logs, conditions = [], {}
    for s in lecture.SETTINGS:
        folder = out / f"retrieval-{s}"
        study = load_study(folder)
        conditions[study.id] = study.conditions
        log = VoteLog(folder, study.id)
        for r in range(200):
            trials = assign(study, f"sim-{r}")
            for t in trials:
                options = ("left", "right") if t.task == "pairwise" else ("real", "fake")
                choice = t.answer if t.answer is not None else options[int(rng.integers(2))]
                log.record(f"sim-{r}", trials, t.index, choice, int(rng.integers(900, 4000)))
        logs.append(folder / "votes.csv")
    rep = analyse(load_votes(logs, multi_study=True), n_boot=20, seed=0)
    assert rep.target == "ours" and rep.natural == "natural"
    pairwise, real_fake = rep.lecture_layout("pairwise"), rep.lecture_layout("real_fake")
    if HAS_DH:
        for lay in (pairwise, real_fake):
            assert lay is not None and lay.rows == ["guided-retrieval-a", "guided-retrieval-b"]
            assert list(lay.row_labels.values()) == ["Retrieval (a)", "Retrieval (b)"]
        assert [pairwise.labels[c] for c in pairwise.columns] == ["HR", "PB", "DH", "CAF", "CE", "IM", "GLCIC"]
    else:
        # without DH the report keeps its own layout; with DH's column the built studies are the lecture's
        assert pairwise is None and real_fake is None
        with_dh = {sid: [*conds, "dh"] for sid, conds in conditions.items()}
        lay = lecture.layout("real_fake", with_dh, "ours", "natural")
        assert lay is not None and list(lay.row_labels.values()) == ["Retrieval (a)", "Retrieval (b)"]
        pairs = {sid: [c for c in conds if c not in ("ours", "natural")] for sid, conds in with_dh.items()}
        assert lecture.layout("pairwise", pairs, "ours", "natural") is not None


def test_a_flat_fill_is_refused_by_the_picture_check(tmp_path):
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = central(64, 64, frac=0.4)
    flat = photo.copy()
    flat[mask] = 120
    found = picture_check(np.stack([photo, flat]), np.stack([photo, photo]), np.stack([mask, mask]))
    assert found == [[], ["flat"]]
    manifest = {"settings": {"a": {"defects": {}}, "b": {"defects": {"caf": {"gc_0061": found[1]}}}}}
    with pytest.raises(ValueError, match=r"1 flat or off-colour fill\(s\), so no study was built: "
                                         r"retrieval \(b\): caf on gc_0061 \(flat\)"):
        refuse_defects(manifest)
    refuse_defects({"settings": {"a": {"defects": {}}}})  # nothing found: no refusal


def test_the_build_refuses_flat_stimuli_end_to_end(tmp_path):
    """A baseline that fills flat holes (the registry's mean colour as 'caf'): the exporter's picture check
    finds them and no study folder is left behind; --accept-defects builds and records them."""
    methods = (("ours", "guided inpainting"), ("caf", "mean-colour"))
    with pytest.raises(ValueError, match=r"so no study was built: retrieval \(a\): caf on .* \(flat"):
        build_experiment(tmp_path, "a", 2, size=128, methods=methods)
    assert list(tmp_path.iterdir()) == []
    _, notes = build_experiment(tmp_path, "a", 2, size=128, methods=methods, accept_defects=True)
    record = json.loads((tmp_path / "retrieval-a" / "experiment.json").read_text())
    assert "flat" in next(iter(record["defects"]["caf"].values()))
    assert any(n.startswith("picture check:") and "caf on" in n for n in notes)
    assert set(load_study(tmp_path / "retrieval-a").conditions) == {"natural", "ours", "caf"}


def test_existing_study_and_bad_items_are_refused(tmp_path):
    (tmp_path / "retrieval-b").mkdir()
    (tmp_path / "retrieval-b" / "study.json").write_text("{}")
    with pytest.raises(ValueError, match="retrieval-b exists and is not empty"):
        build_experiment(tmp_path, "both", 2)
    with pytest.raises(ValueError, match="--items must be 1..42"):
        build_experiment(tmp_path / "new", "a", 43)
    assert not (tmp_path / "retrieval-a").exists() and not (tmp_path / "new").exists()


def test_studies_tab_offers_the_experiment(built, tmp_path):
    out, _ = built
    empty = experiment_help(tmp_path)
    assert "python -m eval_studies.build --experiment --out STUDIES_ROOT" in empty and "app.py" not in empty
    ready = experiment_help(out)
    assert "python app.py --study STUDIES_ROOT/retrieval-a" in ready and "retrieval-b --host" in ready
    assert "--multi-study" in ready and "--experiment" not in ready and str(out) not in ready


def test_a_failed_build_leaves_no_folder_behind(tmp_path):
    failing = tmp_path / "failing.py"
    failing.write_text("raise SystemExit('no checkpoints here')\n")
    with pytest.raises(ValueError, match=r"failed \(no checkpoints here\)"):
        build_experiment(tmp_path / "new", "both", 2, exporter=[sys.executable, str(failing)])
    assert not (tmp_path / "new").exists()
