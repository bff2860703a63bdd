import csv
import json

import numpy as np
import pytest
from PIL import Image

from synth import photo_pool
from synth.inpaint import REGISTRY, get_inpainter, masks, sweep
from synth.inpaint.classic import Telea

N = 3


class SmallTelea(Telea):
    """Telea that refuses photos over 200 px, as a method with a max_side does."""
    name = "telea-small-only"
    max_side = 200


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setitem(REGISTRY, SmallTelea.name, SmallTelea)
    try:
        sw = sweep.run(["telea", "mean-colour", SmallTelea.name], n=N, seed=0)
    finally:
        mp.undo()
        get_inpainter.cache_clear()
    out = tmp_path_factory.mktemp("sweep")
    sweep.write(sw, out)
    return sw, out, sweep.write_sheets(sw, out / "sheets")


def test_every_class_and_numbers_in_range(result):
    sw, _, _ = result
    assert list(sw.classes) == [*masks.SWEEP, sweep.WHOLE]
    for cls, res in sw.classes.items():
        assert len(res["items"]) == N
        for name in ("telea", "mean-colour"):
            r = res["methods"][name]
            assert r["n_filled"] == N and r["n_refused"] == 0
            assert 5 < r["psnr"] < 100 and 0 < r["l1"] < 100 and -1 <= r["ssim"] <= 1 and r["ms"] > 0
        assert res["methods"]["telea"]["psnr"] > res["methods"]["mean-colour"]["psnr"] - 3


def test_telea_against_itself_is_exactly_zero(result):
    for res in result[0].classes.values():
        r = res["methods"]["telea"]
        assert (r["d_psnr"], r["d_lo"], r["d_hi"]) == (0.0, 0.0, 0.0)
        m = res["methods"]["mean-colour"]
        assert m["d_lo"] <= m["d_psnr"] <= m["d_hi"]


def test_refused_method_reported_not_crashing(result):
    sw, out, _ = result
    whole = sw.classes[sweep.WHOLE]["methods"][SmallTelea.name]
    assert whole["n_filled"] == 0 and whole["n_refused"] == N
    assert "up to 200 px" in whole["refused_message"]
    assert sw.classes["strokes thin"]["methods"][SmallTelea.name]["n_refused"] == 0   # 128 px crops: filled
    text = sweep.table(sw)
    assert f"| {SmallTelea.name} | refused: " in text
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == len(sw.classes) * 3
    row = next(r for r in rows if r["class"] == sweep.WHOLE and r["method"] == SmallTelea.name)
    assert row["n_refused"] == str(N) and row["psnr"] == "nan"
    data = json.loads((out / "results.json").read_text())
    assert data["classes"][sweep.WHOLE]["methods"][SmallTelea.name]["psnr"] is None
    assert data["meta"]["n"] == N


def test_contact_sheet_grid(result):
    sw, _, paths = result
    assert len(paths) == len(sw.classes)
    cols = 1 + len(sw.methods) + 1
    for cls, path in zip(sw.classes, paths):
        assert path.name.startswith("sweep_") and path.stat().st_size < sweep.SHEET_BYTES
        bw, bh = sweep.TILE["whole" if cls == sweep.WHOLE else "crop"]
        im = np.asarray(Image.open(path).convert("RGB")).astype(float)
        rows = len(sw.examples[cls])
        assert rows == min(sweep.SHEET_ROWS, sw.classes[cls]["photos"])
        assert im.shape[:2] == (sweep.GAP + sweep.HEAD_LINES * sweep.LINE + rows * (bh + sweep.LINE + sweep.GAP),
                                sweep.GAP + cols * (bw + sweep.GAP))
        # the last column of the first row is the original, the first column shows the hole in magenta
        y, x = sweep.GAP + sweep.HEAD_LINES * sweep.LINE, sweep.GAP + (cols - 1) * (bw + sweep.GAP)
        its = sweep.items(cls, N, 0)
        first = its[sweep.example_rows([it.photo for it in its])[0]]
        orig = sweep.tile(first.image, "whole" if cls == sweep.WHOLE else "crop")
        assert orig.shape == (bh, bw, 3) and np.abs(im[y:y + bh, x:x + bw] - orig).mean() < 8
        hole = im[y:y + bh, sweep.GAP:sweep.GAP + bw]
        assert ((hole[..., 0] > 200) & (hole[..., 1] < 60) & (hole[..., 2] > 200)).any()
        # the refusing method's tile is a flat grey card on whole photos, a photo on crops
        x = sweep.GAP + (1 + sw.methods.index(SmallTelea.name)) * (bw + sweep.GAP)
        grey = np.abs(im[y:y + bh, x:x + bw] - 200).max(axis=2) < 12
        assert grey.mean() > 0.8 if cls == sweep.WHOLE else grey.mean() < 0.5


def test_same_seed_same_numbers(result):
    sw = result[0]
    again = sweep.run(["telea", "mean-colour"], n=N, seed=0, classes=["several holes", sweep.WHOLE])
    other = sweep.run(["telea"], n=N, seed=1, classes=["several holes"])
    for cls in again.classes:
        for name in ("telea", "mean-colour"):
            a, b = again.classes[cls]["methods"][name], sw.classes[cls]["methods"][name]
            assert (a["psnr"], a["l1"], a["ssim"], a["d_lo"], a["d_hi"]) == (b["psnr"], b["l1"], b["ssim"],
                                                                          b["d_lo"], b["d_hi"])
        assert again.classes[cls]["items"] == sw.classes[cls]["items"]
    assert other.classes["several holes"]["items"] != sw.classes["several holes"]["items"]


def test_whole_photo_items_and_holes():
    held = {r["id"] for r in photo_pool.manifest("heldout")}
    its = sweep.items(sweep.WHOLE, len(held) + 2, seed=0)
    assert {it.photo for it in its} == held                      # every held-out photo, then repeats
    for it in its:
        assert max(it.image.shape[:2]) >= 640
        assert 0.05 <= it.mask.mean() <= 0.15
    assert len({it.seed for it in its}) == len(its)
    assert not np.array_equal(its[0].mask, its[len(held)].mask)   # a repeated photo gets another hole


def test_cluster_bootstrap_resamples_photos():
    d = np.array([1.0, 1.0, 1.0, -1.0])
    mean, lo, hi = sweep.cluster_bootstrap(d, ["a", "a", "a", "b"], seed=0)
    assert mean == 0.5
    # two clusters: the photo means are +1 and -1, so a resample's mean is one of -1, +0.5 (3:1 weights), +1
    assert lo == pytest.approx(-1.0) and hi == pytest.approx(1.0)
    assert sweep.cluster_bootstrap(d, ["a", "b", "c", "d"], seed=0) == sweep.cluster_bootstrap(
        d, ["a", "b", "c", "d"], seed=0)


def test_floors():
    row = lambda p: {"psnr": p, "n_filled": 5}
    ok = sweep.floors({"telea": row(24.0), "mean-colour": row(20.0), "biharmonic": row(24.5),
                       "glcic": row(23.6), "context-encoder L2": row(21.0)})
    assert [s for s, _ in ok] == ["PASS", "PASS", "not met"]
    bad = sweep.floors({"telea": row(24.0), "mean-colour": row(21.5), "glcic": row(23.4),
                        "context-encoder L2": row(21.0)})
    assert [s for s, _ in bad] == ["FAIL", "FAIL", "not met"]
    aim = sweep.floors({"telea": row(24.0), "biharmonic": row(24.5), "mean-colour": row(20.0), "glcic": row(25.0)})
    assert aim[-1][0] == "met"
    assert sweep.floors({"telea": row(24.0), "mean-colour": row(20.0)})[0][0] == "n/a"


def test_the_tab_floor_counts_a_learned_fill_only_on_the_holes_the_tab_shows_it_on():
    def row(per, shows=None):
        r = {"psnr": float(np.mean(per)), "n_filled": len(per), "per_item_psnr": per}
        return r | ({"tab_shows": shows} if shows is not None else {})
    rows = {"telea": row([24.0, 24.0, 24.0]), "mean-colour": row([20.0, 22.0, 18.0]),
            "glcic": row([23.0, 23.0, 23.0], [True, True, True]),
            "context-encoder L2": row([21.0, 10.0, 10.0], [True, False, False])}   # shown on the first only
    checks = dict((text.split(";")[0], s) for s, text in sweep.floors(rows))
    assert checks["floor: every learned fill >= mean-colour (20.00 dB)"] == "FAIL"
    assert checks["floor: every learned fill the tab shows >= mean-colour on the holes it shows it on"] == "PASS"
    rows["context-encoder L2"]["per_item_psnr"] = [19.0, 10.0, 10.0]
    checks = dict((text.split(";")[0], s) for s, text in sweep.floors(rows))
    assert checks["floor: every learned fill the tab shows >= mean-colour on the holes it shows it on"] == "FAIL"
