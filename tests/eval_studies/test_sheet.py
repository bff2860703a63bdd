"""The stimuli contact sheet: one row per item, one column per condition, the pictures the rater app serves."""

import random

import numpy as np
import pytest
from PIL import Image

from eval_studies import sheet
from tests.eval_studies.conftest import make_study


def test_sheet_shows_each_conditions_own_stimulus_in_its_column(tmp_path):
    folder = make_study(tmp_path / "s", n_items=12, conditions=("ours", "natural", "base"))
    im = np.asarray(sheet.sheet(folder, n_items=3, seed=0, tile=16))
    assert im.shape == (sheet.HEAD + 3 * (16 + sheet.GAP) + sheet.GAP,
                        sheet.GAP + 3 * (16 + sheet.GAP) + 110, 3)
    # natural first, then the study's order; each cell holds that condition's own 8x8 picture
    for j, cond in enumerate(["natural", "ours", "base"]):
        x = 110 + sheet.GAP + j * (16 + sheet.GAP)
        cell = im[sheet.HEAD:sheet.HEAD + 16, x:x + 16]
        items = sorted(random.Random(0).sample([f"item{i:02d}" for i in range(12)], 3))
        want = np.asarray(Image.open(folder / "stimuli" / f"{cond}-{int(items[0][-2:])}.png").convert("RGB"))
        assert np.array_equal(cell[:8, :8], want)                   # smaller than a tile: shown as it is


def test_a_study_without_a_complete_item_or_a_folder_is_refused_with_its_reason(tmp_path, capsys):
    with pytest.raises(SystemExit):
        sheet.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.jpg")])
    assert "does not exist" in capsys.readouterr().err
    folder = make_study(tmp_path / "s")
    with pytest.raises(SystemExit):
        sheet.main([str(folder), "--out", str(tmp_path / "x.jpg"), "--items", "0"])
    assert "--items must be at least 1" in capsys.readouterr().err
    sheet.main([str(folder), "--out", str(tmp_path / "x.jpg"), "--items", "2"])
    assert Image.open(tmp_path / "x.jpg").size[0] > 0
