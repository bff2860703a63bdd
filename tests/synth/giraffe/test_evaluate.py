"""The GIRAFFE evaluation's measuring tools, on hand-made inputs and a tiny untrained generator."""

import math

import numpy as np
import pytest
import torch

from synth.giraffe import counter as scene_counter
from synth.giraffe import evaluate as eg
from synth.giraffe import showcase
from synth.giraffe import model as gi
from tests.synth.giraffe.tiny import tiny_cfg


def test_centroid_area_and_iou_on_known_masks():
    a = torch.zeros(16, 16)
    a[2:6, 10:14] = 1.0  # rows 2..5, columns 10..13
    col, row, area = eg.centroid(a)
    assert (col, row, area) == (12.0, 4.0, 16.0)
    assert all(math.isnan(v) for v in eg.centroid(torch.zeros(16, 16))[:2])
    b = torch.zeros(16, 16)
    b[2:6, 12:16] = 1.0  # half overlap: 8 shared of 24 pixels
    assert eg.iou(a, b) == 8 / 24 and eg.iou(a, a) == 1.0
    assert math.isnan(eg.iou(torch.zeros(4, 4), torch.zeros(4, 4)))


def test_winding_number_counts_turns_and_skips_gaps():
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    centre = np.tile([5.0, -2.0], (16, 1))
    circle = centre + np.stack([np.cos(t), np.sin(t)], 1)
    assert abs(eg.winding_number(circle, centre) - 1) < 1e-9
    assert abs(eg.winding_number(circle[::-1], centre) + 1) < 1e-9
    assert abs(eg.winding_number(circle, centre + [10.0, 0.0])) < 1e-9  # a circle not around the point: 0 turns
    gappy = circle.copy()
    gappy[3] = np.nan  # an occluded frame
    assert abs(eg.winding_number(gappy, centre) - 1) < 1e-9


def test_spearman_ignores_missing_frames():
    x = np.arange(9.0)
    assert eg.spearman(x, x ** 3) == 1.0 and eg.spearman(x, -x) == -1.0
    y = x.copy()
    y[[1, 4]] = np.nan
    assert eg.spearman(x, y) == 1.0
    assert math.isnan(eg.spearman(x, np.ones(9)))


def test_alpha_maps_at_feature_resolution_equal_the_generators_alpha():
    torch.manual_seed(0)
    G = gi.Generator(tiny_cfg()).eval()
    lat = gi.sample_latents(G.cfg, 3, torch.Generator().manual_seed(1), n_objects=2)
    with torch.no_grad():
        ref = G(lat)["alpha"]
    assert torch.allclose(eg.alpha_maps(G, lat, res=G.cfg.feature_size), ref, atol=1e-6)
    hi = eg.alpha_maps(G, lat, res=64)
    assert hi.shape == (3, G.cfg.n_objects + 1, 64, 64)
    assert G.cfg.feature_size == 16  # the generator's own config is restored
    assert torch.all(hi[:, 2:4] == 0)  # slots that do not exist have no alpha
    assert torch.all(hi.sum(1) <= 1 + 1e-5)


def test_cat_latents_and_sweep_move_only_the_asked_control():
    G = gi.Generator(tiny_cfg()).eval()
    a, lat = eg.sweep(G, 3, "horizontal", [-1.0, 0.0, 1.0])
    assert a.shape[0] == 3 and len(lat) == 3
    dy = lat.translation[:, 0, 1] - lat.translation[1, 0, 1]
    assert torch.allclose(dy, torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(lat.translation[:, 1], lat.translation[[1, 1, 1], 1])
    # the projected centre follows the camera geometry: moving right moves the column right
    cols = eg.projected_centre(lat, 0)[:, 0]
    assert cols[0] < cols[1] < cols[2]


def test_scene_counter_shapes_and_targets():
    net = scene_counter.SceneCounter(scene_counter.CounterConfig(width=4, features=8)).eval()
    imgs = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), np.uint8)
    out = scene_counter.predict(net, imgs)
    assert out["count_probs"].shape == (5, 4) and out["shape_probs"].shape == (5, 3)
    assert out["features"].shape == (5, 8) and set(out["count"]) <= {1, 2, 3, 4}
    labels = {"n_objects": np.array([1, 3]), "shape": np.array([[2, -1, -1, -1], [0, 0, 1, -1]], np.int8)}
    count, present = scene_counter.targets(labels)
    assert count.tolist() == [0, 2] and present.tolist() == [[0, 0, 1], [1, 1, 0]]


def test_colour_spread_is_zero_for_one_shaded_albedo_and_high_for_two_hues():
    rng = np.random.default_rng(0)
    mask = np.zeros((32, 32), bool)
    mask[4:28, 4:28] = True
    shade = rng.uniform(0.3, 1.0, (32, 32, 1))
    one = (np.array([200.0, 80.0, 40.0]) * shade).round().astype(np.uint8)          # one albedo, any shading
    two = one.copy()
    two[:, 16:] = (np.array([40.0, 80.0, 200.0]) * shade[:, 16:]).round().astype(np.uint8)
    assert eg.colour_spread(one, mask) < 2.0                                  # only rounding left
    assert eg.colour_spread(two, mask) > 50.0                                 # a red half and a blue half
    # the object's edge ring is not counted: a wrong-coloured border does not move it
    rim = one.copy()
    rim[mask & ~np.pad(np.ones((22, 22), bool), 5)] = (0, 255, 0)
    assert eg.colour_spread(rim, mask) < 2.0
    assert np.isnan(eg.colour_spread(one, np.zeros((32, 32), bool)))             # nothing to measure
    assert np.isnan(eg.colour_spread(np.zeros_like(one), mask))                  # all black: no colour


def test_colour_spreads_of_the_renderers_scenes_are_near_zero():
    from synth.giraffe import scenes

    im, masks = [], []
    for seed in range(4):
        _, out = scenes.make(seed, 2)
        for m in out["masks"]:
            if m.any():
                im.append(out["image"]), masks.append(m)
    v = np.array([eg.colour_spread(i, m) for i, m in zip(im, masks)])
    assert np.nanmedian(v) < 2.0


def test_appearance_sheet_lays_out_the_sliders_frames():
    from synth.giraffe.controls import controlled_latents

    sheet = np.asarray(showcase.appearance_sheet([eg.GIRAFFE_DIR], seeds=(0, 1), n_frames=3, scale=1))
    assert sheet.shape == (2 * 66 + 2, 3 * 66 + 2, 3)
    G = gi.load_giraffe(eg.GIRAFFE_DIR)
    last = eg.images(G, controlled_latents(G.cfg, 1, 2, appearance=1.0))[0]
    assert np.array_equal(sheet[68:132, 134:198], last)           # row 2 (seed 1), frame 3 (appearance 1)
    assert (sheet[:2] == 128).all() and (sheet[:, 66:68] == 128).all()   # grey gaps between frames


def test_scene_picks_measure_what_the_tab_renders():
    from synth.giraffe import render as rd

    rows = showcase.scene_picks(eg.GIRAFFE_DIR, seeds=[0, 1], angles=(45, 90), turn_steps=4)
    assert [r["turn"] for r in rows] == sorted((r["turn"] for r in rows), reverse=True)
    r = next(r for r in rows if r["seed"] == 1)
    neutral = rd.neutral_controls()
    frame = lambda **c: rd.render(1, 2, **{**neutral, **c}, folder=eg.GIRAFFE_DIR)[::4, ::4].astype(float)  # noqa: E731
    still = frame()
    turns = [np.abs(frame(rotation=a) - still).mean() for a in (45, 90)]
    assert r["turn"] == pytest.approx(max(turns), abs=0.05)
    shares = [rd.in_frame(1, 2, **{**neutral, "circle": t}, folder=eg.GIRAFFE_DIR) for t in (0, 0.25, 0.5, 0.75)]
    assert r["in_view"] == pytest.approx(min(shares))
    assert 0 <= r["colour"] <= 255 * math.sqrt(3) and r["turn_inside"] >= 0


def test_picks_table_lists_the_best_turns_then_the_best_circles():
    rows = [{"seed": s, "turn": t, "turn_inside": 5.0, "colour": 100.0, "in_view": v}
            for s, t, v in ((4, 3.0, 0.1), (7, 2.0, 1.0), (9, 1.0, 0.5))]
    table = showcase.picks_table(rows, top=2).splitlines()
    turn_at, circle_at = (next(i for i, line in enumerate(table) if what in line)
                          for what in ("best for rotation visible", "best for circle in view"))
    assert table[turn_at] == "Seeds 4..9, two objects: the 2 best for rotation visible"
    assert [line.split("|")[1].strip() for line in table[turn_at + 4:turn_at + 6]] == ["4", "7"]
    assert [line.split("|")[1].strip() for line in table[circle_at + 4:circle_at + 6]] == ["7", "9"]
    assert "| 7 | 2.0 | 5.0 | 100.0 | 100% |" in table


def test_controls_sheet_shows_each_slider_end_as_the_tab_renders_it():
    from synth.giraffe import render as rd

    cols = showcase.sheet_columns()
    assert cols[0] == {} and {"appearance": 1.0} in cols and len(cols) == 11
    sheet = np.asarray(showcase.controls_sheet(eg.GIRAFFE_DIR, scenes=((81, 2),), scale=1))
    assert sheet.shape == (66 + 2, 11 * 66 + 2, 3)
    neutral = rd.neutral_controls()
    for c in (0, cols.index({"appearance": 1.0})):
        x = 2 + c * 66
        assert np.array_equal(sheet[2:66, x:x + 64], rd.render(81, 2, **{**neutral, **cols[c]}, folder=eg.GIRAFFE_DIR)[::4, ::4])
    frames = [sheet[2:66, 2 + c * 66:66 + c * 66].astype(float) for c in range(11)]
    assert all(np.abs(f - frames[0]).mean() > 1.0 for f in frames[1:])    # every column changes the scene
