"""The one definition of each metric: numbers on small cases worked by hand."""

import numpy as np

from synth import metrics


def test_psnr_and_l1_in_the_hole_only():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 255                                # outside the hole: ignored
    mask = np.zeros((4, 4), bool)
    mask[2:, 2:] = True
    assert metrics.psnr_in_hole(b, a, mask) == 100.0          # exact fill: the 1e-10 floor
    b[2, 2] = 51                                 # one of 12 hole values off by 0.2
    assert np.isclose(metrics.psnr_in_hole(b, a, mask), 10 * np.log10(1 / (0.2 ** 2 * 3 / 12)))
    assert np.isclose(metrics.l1_in_hole(b, a, mask), 0.2 * 3 / 12 * 100)
    assert np.isnan(metrics.psnr_in_hole(b, a, np.zeros((4, 4), bool)))


def test_fill_defects_catch_a_flat_grey_square_and_an_off_colour_fill():
    rng = np.random.default_rng(0)
    photo = rng.integers(60, 200, (64, 64, 3)).astype(np.uint8)      # textured everywhere
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    assert metrics.fill_defects(photo, photo, mask) == {"flat": False, "off_colour": False}
    grey = photo.copy()
    grey[mask] = 128                                                   # the flat grey square
    assert metrics.fill_defects(grey, photo, mask)["flat"]
    dark = photo.copy()
    dark[mask] = photo[mask] // 4                                      # textured, but far too dark
    assert metrics.fill_defects(dark, photo, mask) == {"flat": False, "off_colour": True}
