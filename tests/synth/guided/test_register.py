"""Registration of a guidance photo to the photo (synth.guided.register) and the real photo pairs it serves."""

import numpy as np
import pytest

from synth import photo_pool
from synth.guided import evaluate_pairs as pairs
from synth.guided.register import exposure_match, register, warp


@pytest.fixture(scope="module")
def held():
    return dict(photo_pool.photos("heldout"))


def hole_error(mask: np.ndarray, truth: np.ndarray, estimate: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys, np.ones_like(xs)], 1).astype(np.float64)
    a, b = pts @ np.linalg.inv(truth).T, pts @ np.linalg.inv(estimate).T
    return float(np.abs(a[:, :2] / a[:, 2:] - b[:, :2] / b[:, 2:]).max())


def test_registration_recovers_a_known_rotation_scale_and_shift(held):
    # the held-out flower photo at 512 px; the guidance: it turned 10 degrees, zoomed out to 0.8, shifted
    photo = held["mate_0012"]
    img_to_photo, (iw, ih), g_to_photo, (gw, gh) = pairs.whole_views(photo.shape, 512, 10.0, 0.8)
    g_to_photo[:2, 2] += (6.0, -4.0)
    image = pairs.render(photo, img_to_photo, iw, ih)
    guidance = pairs.render(photo, g_to_photo, gw, gh)
    mask = np.zeros(image.shape[:2], bool)
    mask[150:230, 300:380] = True
    truth = np.linalg.inv(img_to_photo) @ g_to_photo
    reg = register(image, mask, guidance)
    assert reg.ok and reg.inliers >= 30, reg.reason
    assert hole_error(mask, truth, reg.matrix) < 1.0                   # guidance px, over every hole pixel
    assert reg.scale == pytest.approx(1 / 0.8, rel=0.01) and reg.rotation == pytest.approx(10.0, abs=0.3)
    assert "registered (similarity" in reg.reason and "turned +10.0 degrees" in reg.reason


def test_registration_refuses_an_unrelated_guidance(held):
    image = pairs.render(held["gc_0136"], np.diag([1.5, 1.5, 1.0]), 512, 384)
    mask = np.zeros(image.shape[:2], bool)
    mask[100:180, 200:300] = True
    for other in ("mate_0012", "tux_0012", "gc_0062"):
        reg = register(image, mask, held[other])
        assert not reg.ok and reg.matrix is None
        assert "matches" in reg.reason or "refused" in reg.reason


def test_features_come_only_from_outside_the_hole(held):
    # the hole holds a different photo's pixels: registration must still find the scene from its surroundings
    photo = held["gc_0136"]
    image = pairs.render(photo, np.diag([1.5, 1.5, 1.0]), 512, 384)
    guidance = image.copy()
    mask = np.zeros(image.shape[:2], bool)
    mask[100:250, 150:350] = True
    image[mask] = pairs.render(held["mate_0012"], np.diag([1.5, 1.5, 1.0]), 512, 384)[mask]
    reg = register(image, mask, guidance)
    assert reg.ok and hole_error(mask, np.eye(3), reg.matrix) < 0.5


def test_exposure_match_recovers_a_known_gain(held):
    image = pairs.render(held["gc_0136"], np.diag([1.5, 1.5, 1.0]), 512, 384)
    mask = np.zeros(image.shape[:2], bool)
    mask[120:200, 200:300] = True
    gains = np.array([0.7, 0.8, 0.9])
    darker = np.clip(np.round(image * gains), 0, 255).astype(np.uint8)
    e = exposure_match(darker, np.ones(mask.shape, bool), image, mask)
    assert np.allclose(e.gain, 1 / gains, rtol=0.02)
    fixed = e.apply(darker).astype(float)
    assert np.abs(fixed[mask] - image[mask]).mean() < 1.5 < np.abs(darker[mask] - image[mask].astype(float)).mean()


def test_warp_maps_output_pixels_through_the_transform_with_validity(held):
    g = held["gc_0062"][:200, :300]
    M = np.array([[1.0, 0, 10], [0, 1.0, 20], [0, 0, 1]])          # guidance px + (10, 20) = photo px
    out, valid = warp(g, M, (250, 350))
    assert np.array_equal(out[20:220, 10:310], g) and valid[20:220, 10:310].all()
    assert not valid[:19].any() and not valid[:, :9].any() and (out[~valid] == 0).all()
    # a crop of the photo's frame at half scale: output px (x, y) is photo px ((x + 0.5) * 2 - 0.5 + offset)
    half, hv = warp(g, M, (50, 50), offset=(10, 20), scale=0.5)
    assert hv.all() and np.abs(half.astype(float) - g[:100, :100].reshape(50, 2, 50, 2, 3).mean((1, 3))).max() < 3


def test_pairs_are_deterministic_held_out_and_their_holes_are_covered():
    a, b = pairs.pairs(4, seed=3), pairs.pairs(4, seed=3)
    ids = {r["id"] for r in photo_pool.manifest("heldout")}
    for p, q in zip(a, b):
        assert np.array_equal(p.image, q.image) and np.array_equal(p.guidance, q.guidance)
        assert np.array_equal(p.mask, q.mask) and p.photo in ids
        # the truth maps the hole into the guidance
        ys, xs = np.nonzero(p.mask)
        c = np.array([[xs.min(), ys.min(), 1], [xs.max(), ys.max(), 1]], float) @ np.linalg.inv(p.truth).T
        assert (c[:, :2] >= 0).all() and (c[:, 0] < p.guidance.shape[1]).all() and (c[:, 1] < p.guidance.shape[0]).all()
    assert [p.kind for p in a] == ["crops", "whole", "crops", "whole"]
    assert {max(p.image.shape[:2]) for p in pairs.pairs(6, seed=3)} == set(pairs.SIZES)
