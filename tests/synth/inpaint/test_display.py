"""What the inpainting tabs show (synth.inpaint.display): the photo's size limit, which methods run on a hole
(routing), the comparison, and every method's fill on the tab's bundled examples checked for what the eye
catches (synth.metrics.fill_defects)."""

import cv2
import numpy as np
import pytest
from PIL import Image

from synth.inpaint import REGISTRY, display, masks
from synth.metrics import fill_defects

EXAMPLES = display.example_photos()
CENTRAL_ONLY = [n for n in REGISTRY if display.central_hole_only(n)]


def disc(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


# ---------------------------------------------------------------------------------------------- routing

def test_the_checkpoints_say_which_models_are_central_hole_only():
    # read from the checkpoints, not from a list: the lecture's two Context Encoders, and no weight-free method
    assert len(CENTRAL_ONLY) == 2 and all(n.startswith("context-encoder") for n in CENTRAL_ONLY)
    any_hole = display.any_hole_models()
    assert "glcic" in any_hole and not set(any_hole) & set(CENTRAL_ONLY)


@pytest.mark.parametrize("mask,why", [
    (masks.central(256, 256), ""),
    (masks.square(256, 256, 0.2, seed=3, centred=False), ""),       # anywhere in the photo
    (disc(200, 300, 120, 90, 40), ""),                              # a painted dab: covers 79% of its box
    (masks.several_holes(256, 256, seed=0), "7 separate holes"),
    (np.pad(np.ones((20, 90), bool), 60), "it is 90x20 px, not roughly square"),
    (np.pad(np.eye(60, dtype=bool) | np.eye(60, dtype=bool)[::-1], 50), "of its bounding box"),   # an X
    (np.zeros((64, 64), bool), "the mask is empty"),
])
def test_hole_shape(mask, why):
    shape = display.hole_shape(mask)
    if why:
        assert not shape.compact and why in shape.why_not, shape
    else:
        assert shape.compact and shape.pieces == 1 and shape.fill >= display.COMPACT_FILL, shape


@pytest.mark.parametrize("kind", masks.MASK_KINDS)
def test_plan_runs_every_method_once_and_central_hole_models_only_on_a_compact_hole(kind):
    mask = masks.make_mask(kind, 256, 256, 0)
    plan = display.plan_methods(mask)
    assert sorted(plan.run + list(plan.left_out)) == sorted(REGISTRY)
    assert plan.run == [n for n in REGISTRY if n in plan.run]                   # REGISTRY order
    compact = display.hole_shape(mask).compact
    assert compact == (kind == "central")
    for name in REGISTRY:
        if name in CENTRAL_ONLY and not compact:
            why = plan.left_out[name]
            assert "centred square hole" in why and display.hole_shape(mask).why_not in why
            for other in display.any_hole_models():
                assert other in why                                                 # who fills such holes
        else:
            assert name in plan.run


def test_a_photo_over_a_methods_max_side_leaves_it_out_with_its_message():
    side = min(cls.max_side for cls in REGISTRY.values()) + 1
    mask = np.zeros((64, side), bool)
    mask[20:40, 100:120] = True
    plan = display.plan_methods(mask)
    for name, cls in REGISTRY.items():
        if cls.max_side < side:
            assert plan.left_out[name] == (f"{name} works on photos up to {cls.max_side} px a side; this one is "
                                           f"{side}x64 (width x height): downscale it first.")
        else:
            assert name in plan.run


# ---------------------------------------------------------------------------------------------- the comparison

def test_compare_methods_on_a_stroke_leaves_out_the_central_hole_models_and_says_why():
    img = EXAMPLES["china"]
    mask = masks.make_mask("free-form strokes", 256, 256, 1)
    seen = []
    c = display.compare_methods(img, mask, lambda frac, desc: seen.append((frac, desc)))
    plan = display.plan_methods(mask)
    assert [d for _, d in seen[:len(plan.run)]] == plan.run and list(c.fills) == plan.run      # progress per method
    assert all(0 <= f < 1 for f, _ in seen) and [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert c.gallery[0][1] == f"the hole ({100 * mask.mean():.1f}% of the photo)"
    assert (c.gallery[0][0][mask] == display.HOLE_RGB).all() and np.array_equal(c.gallery[1][0], img)
    for (out, caption), name in zip(c.gallery[2:], plan.run):
        assert caption.startswith(f"{name}: ") and caption.endswith(" dB") and len(caption) <= len(name) + 10
        assert np.array_equal(out[~mask], img[~mask]) and out is c.fills[name]
    assert set(c.left_out) == set(CENTRAL_ONLY)
    for name in CENTRAL_ONLY:
        assert f"**{name}**: {c.left_out[name]}" in c.note
    assert len(c.candidates) == 2 * len(c.completions) > 0


def test_methods_markdown_names_and_explains_every_method():
    text = display.methods_markdown()
    for name, cls in REGISTRY.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(f"- **{name}**: "))
        assert cls.description in line and len(cls.description) > 20
        assert ("single compact hole" in line) == (name in CENTRAL_ONLY)


# ---------------------------------------------------------------------------------------------- photos

def test_fit_photo_scales_down_over_the_limit_and_says_so():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (1500, 3000, 3), dtype=np.uint8)
    out, message = display.fit_photo(photo)
    assert out.shape == (512, 1024, 3)
    assert message == ("The photo is 3000x1500 px; this tab works on photos up to 1024 px on the long side, so it "
                       "was scaled down to 1024x512 px.")
    assert abs(float(out.mean()) - float(photo.mean())) < 1                 # an area filter, not a crop
    small = photo[:300, :400]
    out, message = display.fit_photo(small)
    assert message == "" and np.array_equal(out, small)
    out, _ = display.fit_photo(np.zeros((4500, 3000), np.uint8))            # over as_rgb's 4000 px: scaled first
    assert out.shape == (1024, 683, 3)
    with pytest.raises(ValueError, match=r"32\.\.4000 px, got 1024x20"):     # a strip: too thin once scaled
        display.fit_photo(np.zeros((100, 5000, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        display.fit_photo(np.zeros((64, 64), np.float32))


def test_fit_photo_reads_16_bit_grey_and_cmyk():
    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)     # 0..65520
    out, _ = display.fit_photo(Image.fromarray(ramp))
    assert out.dtype == np.uint8 and out.shape == (64, 64, 3)
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255 and 120 < out.mean() < 135   # scaled, not clipped white
    cmyk = Image.new("CMYK", (40, 50), (0, 255, 255, 0))                    # pure red in CMYK
    out, _ = display.fit_photo(cmyk)
    assert out.shape == (50, 40, 3) and tuple(out[0, 0]) == (255, 0, 0)


# ---------------------------------------------------------------------------------------------- the pictures

@pytest.fixture(scope="module")
def every_fill():
    """Every method the tab runs, on every bundled example, with each mask kind the tab offers (its default
    seed 0): (example, kind) -> (mask, MethodComparison)."""
    out = {}
    for photo_name, img in EXAMPLES.items():
        for kind in masks.MASK_KINDS:
            mask = masks.make_mask(kind, *img.shape[:2], 0)
            out[photo_name, kind] = mask, display.compare_methods(img, mask)
    return out


# What the check finds today in two weight-free baselines, on purpose strict: fixing one fails the test until
# its mark goes. (Every learned fill passes.)
KNOWN = {
    "nearest-neighbour": "off-colour on china with random regions (a pasted scene brighter than the ring)",
    "biharmonic": "off-colour on lion with random regions (the smoothest surface overshoots the border's values)",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(raises=AssertionError, strict=True, reason=KNOWN[n])) if n in KNOWN else n
    for n in REGISTRY])
def test_no_flat_or_off_colour_fill_on_the_bundled_examples(name, every_fill):
    ran, defects = 0, {}
    for (photo_name, kind), (mask, c) in every_fill.items():
        if name not in c.fills:
            assert name in c.left_out
            continue
        ran += 1
        found = [k for k, bad in fill_defects(c.fills[name], EXAMPLES[photo_name], mask).items()
                 if bad and not (name == "mean-colour" and k == "flat")]    # one colour per piece: its definition
        if found:
            defects[photo_name, kind] = found
    assert ran >= len(EXAMPLES)                      # every method runs on every example with some kind
    assert defects == {}


def test_fill_defects_sees_a_grey_square_in_a_gallery_image():
    # the check above can fail: a flat grey fill of the first example's central hole is caught
    img = EXAMPLES[sorted(EXAMPLES)[0]]
    mask = masks.central(*img.shape[:2])
    grey = img.copy()
    grey[mask] = 128
    assert fill_defects(grey, img, mask)["flat"]
    blurred = np.where(mask[..., None], cv2.GaussianBlur(img, (0, 0), 2), img)
    assert not any(fill_defects(blurred, img, mask).values())
