"""Any hole on any photo: the scale and tiling strategies of synth.inpaint.scales, and every learned fill
of the registry on holes and photo sizes people give."""

import numpy as np
import pytest

from synth.inpaint import REGISTRY, get_inpainter, masks, scales
from synth.metrics import fill_defects

LEARNED = [n for n in REGISTRY if n.startswith(("context-encoder", "glcic"))]


def photo(h, w, seed=0):
    """A smooth synthetic scene with texture: gradients, a disc, stripes and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([120 + 80 * x, 90 + 100 * y, 160 - 60 * x * y], -1)
    img += 40 * ((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.04)[..., None]
    img += 15 * np.sin(40 * x)[..., None] + rng.normal(0, 4, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_hole_radius_is_half_the_side_of_a_square_and_half_a_strokes_width():
    assert scales.hole_radius(masks.square(128, 128, 0.5)) == pytest.approx(32, abs=1)
    m = np.zeros((100, 100), bool)
    m[40:50, 5:95] = True                                  # a 10 px wide bar
    assert scales.hole_radius(m) == pytest.approx(5, abs=1)
    m = np.zeros((100, 100), bool)
    m[:, :10] = True                                       # at the border: the border counts as known
    assert scales.hole_radius(m) == pytest.approx(5, abs=1)
    assert scales.hole_radius(m, border_known=False) == pytest.approx(10, abs=1)   # to known pixels only
    assert scales.hole_radius(np.zeros((10, 10), bool)) == 0


def test_a_hole_at_the_border_gets_tiles_as_wide_as_the_same_hole_inside():
    """A tile holds context only from known pixels: a 20 px bar at the border needs the tiles of a 40 px bar
    inside the image (the border used to count as known, and the tiles were half as wide)."""
    at_border = np.zeros((256, 256), bool)
    at_border[60:200, :20] = True
    inside = np.zeros((256, 256), bool)
    inside[60:200, 100:140] = True
    assert {t.side for t in scales.tiles(at_border)} == {t.side for t in scales.tiles(inside)}


def test_tiles_own_every_hole_pixel_exactly_once():
    for seed, m in enumerate([masks.strokes(300, 500, 3, "thin"), masks.several_holes(256, 256, 1),
                              masks.square(128, 128, 0.6), masks.border_rect(200, 120, 5)]):
        owned = np.zeros(m.shape, int)
        for t in scales.tiles(m):
            ys, xs = np.nonzero(t.owns)
            owned[ys + t.y0, xs + t.x0] += 1
        assert np.array_equal(owned, m.astype(int)), seed


def test_region_scale_brings_the_hole_radius_to_the_trained_one_and_never_enlarges():
    big = masks.square(2000, 3000, 0.4)
    reg = scales.region_for(big, max_radius=24, max_pixels=512 * 512)
    assert reg.scale * scales.hole_radius(big) <= 24 + 1e-6
    thin = masks.strokes(600, 800, 2, "thin")
    reg = scales.region_for(thin, max_radius=24, max_pixels=4096 * 4096)
    assert reg.scale == 1.0
    assert (reg.y1 - reg.y0) * (reg.x1 - reg.x0) * reg.scale ** 2 <= 4096 * 4096


def test_poisson_blend_removes_a_constant_offset_exactly():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (40, 50, 3))
    m = np.zeros((40, 50), bool)
    m[10:30, 15:35] = True
    out = scales.poisson_blend(image + 30.0, image, m)     # the right content, 30 grey levels too bright
    assert np.abs(out[m] - image[m]).max() < 1e-6
    approx = scales.poisson_blend(image + 30.0, image, m, max_unknowns=10)   # pull-push beyond the limit
    assert np.abs(approx[m] - image[m]).mean() < 1.0


@pytest.mark.parametrize("name", LEARNED)
@pytest.mark.parametrize("shape,make", [
    ((32, 32), lambda h, w: masks.square(h, w, 0.3)),
    ((37, 201), lambda h, w: masks.strokes(h, w, 1, "medium")),
    ((240, 320), lambda h, w: masks.several_holes(h, w, 4)),
    ((240, 320), lambda h, w: masks.border_rect(h, w, 2)),
    ((481, 640), lambda h, w: masks.strokes(h, w, 7, "thin")),
])
def test_every_learned_fill_takes_any_hole_and_keeps_the_rest_bit_identical(name, shape, make):
    h, w = shape
    img, m = photo(h, w), make(h, w)
    out = get_inpainter(name).fill(img, m)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[~m], img[~m])


@pytest.mark.parametrize("name", LEARNED)
def test_learned_fills_on_a_4000_px_photo_return_full_resolution(name):
    h, w = 3000, 4000
    img = photo(h // 8, w // 8).repeat(8, 0).repeat(8, 1)  # cheap to make, big to fill
    m = np.zeros((h, w), bool)
    m[1000:1400, 1500:2100] = True                          # a 400 x 600 hole
    m[2500:2520, 100:3900] = True                           # and a 20 px line across the photo
    out = get_inpainter(name).fill(img, m)
    assert out.shape == img.shape
    assert np.array_equal(out[~m], img[~m])
    assert not fill_defects(out, img, m, ring=4)["flat"]


@pytest.mark.parametrize("frac", [0.15, 0.2, 0.26, 0.35, 0.52])
def test_central_hole_models_on_holes_of_any_size_stay_inside_their_square(frac):
    """Resampling a window of odd size used to grow the hole past the central square the model was trained
    to fill: a grey or pink square came out (9-16 dB). The hole must come back filled like the photo."""
    from synth.inpaint import display
    from synth.metrics import psnr_in_hole

    img = display.example_photos()["china"]
    m = masks.square(*img.shape[:2], frac)
    base = psnr_in_hole(get_inpainter("mean-colour").fill(img, m), img, m)
    for name in ("context-encoder L2", "context-encoder L2+adv"):
        out = get_inpainter(name).fill(img, m)
        assert not any(fill_defects(out, img, m).values())
        assert psnr_in_hole(out, img, m) > base, name
