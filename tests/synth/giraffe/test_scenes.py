"""The procedural scene renderer and its export."""

import math

import numpy as np
import pytest

from synth import data
from synth.giraffe import scenes


def test_scene_render_is_deterministic_and_labelled():
    s1, r1 = scenes.make(11)
    s2, r2 = scenes.make(11)
    assert np.array_equal(r1["image"], r2["image"]) and np.array_equal(r1["masks"], r2["masks"])
    assert not np.array_equal(r1["image"], scenes.make(12)[1]["image"])
    assert r1["image"].shape == (64, 64, 3) and r1["image"].dtype == np.uint8
    for n in (1, 2, 3, 4):
        sc, r = scenes.make(100 + n, n_objects=n)
        assert len(sc) == n and r["masks"].shape == (n, 64, 64)
        assert r["masks"].sum((1, 2)).min() >= scenes.SceneConfig().min_visible
        assert r["masks"].sum(0).max() <= 1                                  # disjoint
        assert np.allclose(sc.translation[:, 2], sc.scale)                   # resting on the plane
    with pytest.raises(ValueError, match="n_objects must be 1..4"):
        scenes.make(0, n_objects=5)


def test_visible_masks_against_each_object_alone():
    for seed in (3, 21, 40):
        sc, r = scenes.make(seed, n_objects=3)
        solo = []
        for k in range(len(sc)):
            one = scenes.Scene(sc.shape[[k]], sc.scale[[k]], sc.translation[[k]], sc.rotation[[k]],
                               sc.colour[[k]], sc.elevation, sc.seed, sc.attempt)
            solo.append(scenes.render(one)["coverage"][0])
        solo = np.stack(solo)
        assert np.all(r["masks"] <= (solo > 0.5))                           # others only ever occlude
        for k in range(len(sc)):
            alone = np.delete(solo, k, 0).sum(0) == 0                       # pixels no other object reaches
            assert np.array_equal(r["masks"][k] & alone, (solo[k] > 0.5) & alone)
        overlap = (solo > 0).sum(0) > 1
        assert overlap.sum() < (solo > 0).any(0).sum()                      # the check above had pixels to test


def test_single_sphere_pixel_colour_and_position():
    cfg = scenes.SceneConfig()
    sc = scenes.Scene(np.array([0]), np.array([0.5]), np.array([[0.0, 0.0, 0.5]]), np.array([0.0]),
                      np.array([[0.8, 0.2, 0.05]]), math.radians(40), seed=0)
    r = scenes.render(sc)
    col, row = scenes.project(sc.translation[0], sc.elevation, cfg.image_size)
    assert r["masks"][0, int(row), int(col)]
    # white light: a fully covered pixel's linear colour is the albedo times a grey factor
    lin = (r["image"][int(row), int(col)] / 255.0) ** 2.2
    cos = lin @ sc.colour[0] / np.linalg.norm(lin) / np.linalg.norm(sc.colour[0])
    assert cos > 0.995
    # analytic hits: straight down onto the sphere's top, and along -x onto its side
    t, n = scenes.intersect(0, 0.5, sc.translation[0], 0.0, np.array([[0.0, 0, 5]]), np.array([[0.0, 0, -1]]))
    assert t[0] == pytest.approx(4.0) and np.allclose(n[0], [0, 0, 1])
    t, n = scenes.intersect(1, 0.5, np.zeros(3), math.pi / 4, np.array([[5.0, 0, 0]]), np.array([[-1.0, 0, 0]]))
    assert t[0] == pytest.approx(5 - 0.5 * math.sqrt(2)) and abs(n[0, 2]) < 1e-9      # a cube's edge at 45 degrees
    t, n = scenes.intersect(2, 0.5, np.zeros(3), 0.0, np.array([[5.0, 0, 0.2]]), np.array([[-1.0, 0, 0]]))
    assert t[0] == pytest.approx(4.5) and np.allclose(n[0], [1, 0, 0])
    t, _ = scenes.intersect(2, 0.5, np.zeros(3), 0.0, np.array([[5.0, 0, 0.6]]), np.array([[-1.0, 0, 0]]))
    assert t[0] == np.inf                                                             # above the cylinder


def test_culled_intersection_equals_the_full_one():
    rng = np.random.default_rng(0)
    o = rng.uniform(-3, 3, (4000, 3))
    d = np.array([0.2, -0.1, 0.6]) + rng.normal(scale=0.8, size=(4000, 3)) - o     # aimed near the object
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    for kind in (0, 1, 2):
        full_t, full_n = scenes.intersect(kind, 0.6, np.array([0.2, -0.1, 0.6]), 0.7, o, d)
        cull_t, cull_n = scenes.intersect_culled(kind, 0.6, np.array([0.2, -0.1, 0.6]), 0.7, o, d)
        assert 300 < np.isfinite(full_t).sum() < 3700
        assert np.array_equal(full_t, cull_t)
        hit = np.isfinite(full_t)
        assert np.array_equal(full_n[hit], cull_n[hit])


def test_export_writes_the_data_format(tmp_path, capsys):
    out = tmp_path / "scenes"
    scenes.main(["export", "--n", "6", "--heldout", "2", "--out", str(out)])
    assert "images/s" in capsys.readouterr().out
    train = data.load("scenes", "train", root=tmp_path)
    held = data.load("scenes", "heldout", root=tmp_path)
    assert train.images.shape == (6, 64, 64, 3) and len(held) == 2
    lab = scenes.load_labels("train", out)
    assert np.array_equal(lab["n_objects"], train.labels) and lab["seed"].tolist() == list(range(6))
    assert set(scenes.load_labels("heldout", out)["seed"].tolist()) == {scenes.HELDOUT_SEED0, scenes.HELDOUT_SEED0 + 1}
    for i in range(6):
        sc, r = scenes.make(i)
        assert np.array_equal(train.images[i], r["image"])
        n = lab["n_objects"][i]
        assert np.array_equal(lab["masks"][i, :n], r["masks"]) and not lab["masks"][i, n:].any()
        assert np.all(lab["shape"][i, n:] == -1)
        assert np.allclose(lab["translation"][i, :n], sc.translation)
    two = scenes.render_many([4, 5], workers=2)                        # the output does not depend on workers
    assert np.array_equal(two["images"], train.images[4:6]) and np.array_equal(two["masks"], lab["masks"][4:6])
    with pytest.raises(SystemExit):
        scenes.main(["export", "--n", "0", "--out", str(out)])
