import time

import numpy as np
import pytest

from synth import photo_pool
from synth.inpaint import REGISTRY, get_inpainter, masks
from synth.inpaint.patchmatch import PatchMatch
from synth.metrics import fill_defects, psnr_in_hole

NAME = "patchmatch (content-aware fill stand-in)"


def stripes(n: int) -> np.ndarray:
    """A periodic colour texture: two gratings, periods 13 and 19 px."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    a, b = np.sin(2 * np.pi * xx / 13), np.sin(2 * np.pi * (xx + yy) / 19)
    img = np.stack([128 + 60 * a + 30 * b, 110 + 50 * b, 90 + 40 * a * b], -1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def test_registered_and_described():
    assert REGISTRY[NAME] is PatchMatch
    ip = get_inpainter(NAME)
    assert "Barnes et al. 2009" in ip.description and "Content-Aware Fill" in ip.description
    assert ip.max_side == 2048


def test_known_pixels_kept_and_seed_decides():
    crops, _ = photo_pool.heldout_crops(2, 96, seed=1)
    mask = masks.random_region(96, 96, seed=2)
    a = PatchMatch(seed=7).fill(crops[0], mask)
    assert a.dtype == np.uint8 and a.shape == crops[0].shape
    assert np.array_equal(a[~mask], crops[0][~mask])
    assert np.array_equal(a, PatchMatch(seed=7).fill(crops[0], mask))
    assert not np.array_equal(a, PatchMatch(seed=8).fill(crops[0], mask))
    # holes at the border, a lone known corner, thin strokes: always filled, known pixels kept
    for m in (masks.make_mask("free-form strokes", 96, 96, seed=3), np.pad(np.ones((86, 96), bool), ((10, 0), (0, 0)))):
        out = PatchMatch().fill(crops[1], m)
        assert np.array_equal(out[~m], crops[1][~m]) and not fill_defects(out, crops[1], m)["flat"]


def test_bad_settings_and_photo_size_are_refused():
    with pytest.raises(ValueError, match="patch_radius"):
        PatchMatch(patch_radius=0)
    big = np.zeros((2049, 40, 3), np.uint8)
    hole = np.zeros((2049, 40), bool)
    hole[:10, :10] = True
    with pytest.raises(ValueError, match="up to 2048 px"):
        PatchMatch().fill(big, hole)


def test_copies_texture_where_the_mean_colour_cannot():
    """A hole in a periodic texture: copying patches of the known part continues the gratings; the mean colour
    scores about 17 dB (the texture's own contrast), and 24 dB means under a fifth of that error energy."""
    img = stripes(96)
    mask = np.zeros((96, 96), bool)
    mask[28:68, 28:68] = True
    base = psnr_in_hole(get_inpainter("mean-colour").fill(img, mask), img, mask)
    out = PatchMatch().fill(img, mask)
    assert psnr_in_hole(out, img, mask) > 24 > base + 5
    assert not any(fill_defects(out, img, mask).values())


def test_photo_fill_is_not_flat_and_256_with_128_hole_under_5_s():
    image = photo_pool.heldout_crops(1, 256, seed=3)[0][0]
    mask = np.zeros((256, 256), bool)
    mask[64:192, 64:192] = True
    t = time.perf_counter()
    out = get_inpainter(NAME).fill(image, mask)
    assert time.perf_counter() - t < 5.0
    assert np.array_equal(out[~mask], image[~mask])
    assert not any(fill_defects(out, image, mask).values())
