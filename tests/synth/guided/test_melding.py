import time

import numpy as np
import pytest

from synth import data, photo_pool
from synth.guided.melding import ImageMelding
from synth.inpaint import get_inpainter, masks
from synth.metrics import fill_defects, psnr_in_hole


def stripes(n: int, degrees: float = 0.0, shift=(0.0, 0.0)) -> np.ndarray:
    """A periodic colour texture (two gratings, periods 13 and 19 px), rotated by ``degrees``, shifted."""
    yy, xx = np.mgrid[0:n, 0:n] - n / 2
    r = np.deg2rad(degrees)
    u = np.cos(r) * xx + np.sin(r) * yy + shift[0]
    v = -np.sin(r) * xx + np.cos(r) * yy + shift[1]
    a, b = np.sin(2 * np.pi * u / 13), np.sin(2 * np.pi * (u + v) / 19)
    img = np.stack([128 + 60 * a + 30 * b, 110 + 50 * b, 90 + 40 * a * b], -1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def central(n: int, hole: int) -> np.ndarray:
    mask = np.zeros((n, n), bool)
    lo = (n - hole) // 2
    mask[lo:lo + hole, lo:lo + hole] = True
    return mask


@pytest.fixture(scope="module")
def photos():
    return data.load("photos256", "heldout").images


def test_shapes_known_pixels_and_determinism(photos):
    img, guide = photos[0][:96, :128].copy(), photos[1][:100, :120].copy()
    mask = masks.random_region(96, 128, seed=1)
    a = ImageMelding(seed=3).fill(img, mask, guide)
    assert a.dtype == np.uint8 and a.shape == img.shape
    assert np.array_equal(a[~mask], img[~mask])                       # known pixels bit for bit
    assert np.array_equal(a, ImageMelding(seed=3)(img, mask, guide))   # same seed, same pixels
    assert not np.array_equal(a, ImageMelding(seed=4).fill(img, mask, guide))
    # grey image, 0/255 mask, RGBA guidance, a hole touching the image's corner
    grey = photos[2][:64, :80, 0].copy()
    corner = np.zeros((64, 80), np.uint8)
    corner[:12, :20] = 255
    out = ImageMelding().fill(grey, corner, np.dstack([guide, np.full(guide.shape[:2], 7, np.uint8)]))
    assert out.shape == (64, 80, 3) and np.array_equal(out[corner == 0], np.repeat(grey[..., None], 3, 2)[corner == 0])


def test_bad_input_is_named(photos):
    ip, img, guide = ImageMelding(), photos[0][:64, :64], photos[1][:64, :64]
    mask = central(64, 16)
    with pytest.raises(ValueError, match="greyscale"):
        ip.fill(img, mask, guide[..., 0])
    with pytest.raises(ValueError, match="greyscale"):
        ip.fill(img, mask, np.repeat(guide[..., :1], 3, 2))
    with pytest.raises(ValueError, match="too small"):
        ip.fill(img, mask, guide[:20, :64])
    with pytest.raises(ValueError, match="uint8"):
        ip.fill(img, mask, guide.astype(np.float32))
    with pytest.raises(ValueError, match="mask is empty"):
        ip.fill(img, np.zeros_like(mask), guide)
    with pytest.raises(ValueError, match="covers the whole image"):
        ip.fill(img, np.ones_like(mask), guide)
    with pytest.raises(ValueError, match="mask is 10x10 but the image is 64x64"):
        ip.fill(img, mask[:10, :10], guide)
    with pytest.raises(ValueError, match="rotation"):
        ImageMelding(rotations=())


def test_recovers_a_texture_from_turned_guidance():
    """The hole in a periodic texture, the guidance the same texture turned by 15 degrees and shifted, the
    image's own region left out of the sources: only the guidance, searched under rotation, can supply it.
    The mean colour scores about 17 dB here (the texture's own contrast): 25 dB means an error energy a sixth
    of that, i.e. the gratings continue in phase. Without the transform search the same fill falls below
    the mean colour (the unturned guidance has no patch in the hole's orientation)."""
    img, mask, guide = stripes(96), central(96, 40), stripes(112, 15.0, (5, 9))
    base = psnr_in_hole(get_inpainter("mean-colour").fill(img, mask), img, mask)
    out = ImageMelding(own_region=False).fill(img, mask, guide)
    flat = ImageMelding(own_region=False, rotations=(0.0,), scales=(1.0,), mirror=False).fill(img, mask, guide)
    assert psnr_in_hole(out, img, mask) > 25 > base + 5
    assert psnr_in_hole(flat, img, mask) < base + 1
    assert not any(fill_defects(out, img, mask).values())


def test_image_corner_pixels_are_filled_like_inner_ones():
    """One-pixel holes in the four corners: patches reach past the border (mirrored), so a corner pixel gets
    49 votes, not the one corner of a single patch (which left it up to 160 grey levels off)."""
    crops, _ = photo_pool.heldout_crops(4, 96, seed=2)
    mask = np.zeros((96, 96), bool)
    mask[0, 0] = mask[0, -1] = mask[-1, 0] = mask[-1, -1] = True
    for img, guide in ((crops[0], crops[1]), (crops[2], crops[3])):
        out = ImageMelding().fill(img, mask, guide)
        assert np.abs(out[mask].astype(int) - img[mask]).max() < 40


def test_photo_fill_is_not_flat_and_large_photos_work_at_a_working_size():
    crops, _ = photo_pool.heldout_crops(2, 128, seed=5)
    mask = central(128, 56)
    out = ImageMelding().fill(crops[0], mask, crops[1])
    assert not any(fill_defects(out, crops[0], mask).values())
    big = np.ascontiguousarray(np.tile(crops[0], (4, 4, 1))[:460, :500])   # 500 px: shrunk to 384 to fill
    hole = np.zeros(big.shape[:2], bool)
    hole[200:260, 180:300] = True
    out = ImageMelding().fill(big, hole, crops[1])
    assert out.shape == big.shape and np.array_equal(out[~hole], big[~hole])
    assert not any(fill_defects(out, big, hole).values())


def test_256_photo_with_a_128_hole_in_under_5_s():
    image = photo_pool.heldout_crops(1, 256, seed=3)[0][0]
    guide = photo_pool.load_photo(photo_pool.manifest("heldout")[0]["id"])    # 800 px: the largest guidance
    t = time.perf_counter()
    out = ImageMelding().fill(image, central(256, 128), guide)
    assert time.perf_counter() - t < 5.0
    assert np.array_equal(out[~central(256, 128)], image[~central(256, 128)])
