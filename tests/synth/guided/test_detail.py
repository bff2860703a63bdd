"""Detail at full resolution on the paper's path (synth.guided.fullres): the guidance sampled by the model's own
theta at the window's size, its high frequencies added where the model copies; and DH pasting that sample."""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synth import photo_pool
from synth.guided import examples, fullres
from synth.guided.harmonize import DeepHarmonization
from synth.guided.inpainter import default_inpainter, square_guidance
from synth.inpaint.base import Inpainter, resize
from synth.inpaint.scales import poisson_blend
from synth.metrics import psnr_in_hole

ITSELF = "the photo itself as guidance (Hawa Mahal)"


@pytest.fixture(scope="module")
def model():
    return default_inpainter()


@pytest.fixture(scope="module")
def textured():
    """A 512 px photo of a carved facade, its hole, and the photo itself as guidance (the paper's path)."""
    ex = examples.example(ITSELF)
    return ex.image, ex.mask, ex.guidance


def test_sample_full_uses_affine_grid_convention():
    # a turned, shifted, zoomed theta that leaves the square: the same sample as grid_sample (zeros on [-1, 1])
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (60, 96, 3), dtype=np.uint8)
    a = np.radians(12)
    theta = np.array([[0.7 * np.cos(a), -0.7 * np.sin(a), 0.25], [0.7 * np.sin(a), 0.7 * np.cos(a), -0.4]],
                     np.float32)
    full, valid = fullres.sample_full(g, theta, 64)
    sq = torch.from_numpy(square_guidance(g, 96)).permute(2, 0, 1)[None].float().div(127.5).sub(1)
    grid = F.affine_grid(torch.from_numpy(theta)[None], [1, 3, 64, 64], align_corners=False)
    ref = F.grid_sample(sq, grid, align_corners=False)[0].permute(1, 2, 0).add(1).mul(127.5).numpy()
    assert np.abs(full - ref).max() < 3                   # OpenCV's bilinear weights are fixed point (1/32 px)
    assert valid.min() == 0 and valid.max() == 1          # the bars and the outside are not the guidance


def test_aligned_full_matches_the_models_aligned_at_64(model, textured):
    image, mask, guide = textured
    win = Inpainter.context_window(image, mask, 64)
    out = model.forward(win.small[None], win.small_mask[None], square_guidance(guide, 96)[None])
    full, _ = fullres.sample_full(guide, out["theta"][0], win.side)
    assert full.shape == (win.side, win.side, 3) and win.side > 64
    small = np.clip(np.round(cv2.resize(full, (64, 64), interpolation=cv2.INTER_AREA)), 0, 255).astype(np.uint8)
    # the model samples a 96 px copy, so its patch is softer; the geometry is the same
    assert psnr_in_hole(small, out["aligned"][0], np.ones((64, 64), bool)) > 28
    # from the 96 px copy itself, the full-resolution sampler gives the model's sample exactly (rounding)
    same, _ = fullres.sample_full(square_guidance(guide, 96), out["theta"][0], 64)
    assert np.abs(same - out["aligned"][0].astype(np.float32)).max() <= 3


@pytest.mark.parametrize("match_colour", [False, True])
def test_detail_off_is_the_old_output_bit_for_bit(model, textured, match_colour):
    image, mask, guide = textured
    r = model.run(image, mask, guide, register=False, match_colour=match_colour, detail=False)
    # the old path, written out: the 64x64 prediction enlarged (and Poisson-blended with match_colour)
    win = Inpainter.context_window(image, mask, 64)
    out = model.forward(win.small[None], win.small_mask[None], square_guidance(guide, 96)[None])
    if match_colour:
        raw = cv2.resize(out["raw"][0], (win.side, win.side), interpolation=cv2.INTER_CUBIC)
        blended = np.clip(np.round(poisson_blend(raw.astype(np.float64), win.image.astype(np.float64), win.mask)),
                          0, 255).astype(np.uint8)
        old = win.paste(image, mask, blended)
    else:
        old = win.paste(image, mask, out["pred"][0])
    assert np.array_equal(r.result, old)
    assert np.array_equal(r.aligned, resize(out["aligned"][0], win.side))
    # the paper's method alone (both switched off) keeps the old path by default
    paper = model.run(image, mask, guide, register=False, match_colour=False)
    assert np.array_equal(paper.result, model.run(image, mask, guide, register=False, match_colour=False,
                                                  detail=False).result)


def test_detail_sharpens_only_the_hole(model, textured):
    image, mask, guide = textured
    truth = fullres.sharpness(image, mask)
    off = model.run(image, mask, guide, register=False, detail=False)
    on = model.run(image, mask, guide, register=False)                   # detail is on by default here
    assert np.array_equal(on.result[~mask], image[~mask])
    assert (on.result != off.result).any(axis=2)[mask].mean() > 0.5
    ratio_off, ratio_on = fullres.sharpness(off.result, mask) / truth, fullres.sharpness(on.result, mask) / truth
    assert ratio_on > ratio_off + 0.1, (ratio_off, ratio_on)
    assert "detail added at full resolution" in on.note and "detail" not in off.note


def test_dh_pastes_the_full_resolution_sample(model, textured):
    image, mask, guide = textured
    dh = DeepHarmonization(model, harmonizer=object(), detail=True)      # paste only: no harmonizer needed
    pasted, _ = dh.paste(image, mask, guide)
    old, _ = DeepHarmonization(model, harmonizer=object(), detail=False).paste(image, mask, guide)
    assert np.array_equal(pasted[~mask], image[~mask]) and np.array_equal(old[~mask], image[~mask])
    assert fullres.sharpness(pasted, mask) > 1.2 * fullres.sharpness(old, mask)


def test_a_2000x1500_photo(model):
    (_, a), (_, b) = photo_pool.photos("heldout")[:2]
    image = cv2.resize(a, (2000, 1500), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((1500, 2000), bool)
    mask[500:900, 700:1250] = True                                       # 550 x 400
    r = model.run(image, mask, image[::2, ::2].copy(), register=False)
    assert r.result.shape == image.shape and np.array_equal(r.result[~mask], image[~mask])
    assert r.aligned.shape == (r.window[2], r.window[2], 3) and r.window[2] == 1100
    assert "detail" in r.note
    other = model.run(image, mask, b)                                    # another photo: registration fails
    assert not other.registered and np.array_equal(other.result[~mask], image[~mask])
