"""The tab's bundled examples, made from the bundled held-out photos (assets/data/photos256, never seen in
training) by the training data's own recipe, at the tab's resolution:

- ``example(name)``: a photo with a square hole, and a guidance image holding a corrupted, rotated copy of
  the region around the hole pasted into another held-out photo (so the right answer is known).
- real photos (``PHOTO_EXAMPLES``, from the photo pool's held-out photos, at 512 px): the photo itself as
  its own guidance (the simplest guidance there is: the model must find the hole's surroundings in it), and
  the issue's case of two photos of one flower, the guidance rotated 8 degrees, zoomed out and exposed
  darker (``synth.guided.evaluate_pairs.make_view``: how the evaluation's whole-photo pairs are made).
- ``lighting_demo()``: the lecture's limitation. One photo with a hole and four guidance images that are the
  SAME guidance photo relit (as shot, dim, warm cast, cool cast: gain, gamma and per-channel colour casts).
  The model copies the patch's colours along with its content: it does not account for lighting.

Same call, same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth import data
from synth.guided.triplets import TripletConfig, corrupt_patch, paste, similarity

SIDE = 256          # the held-out photos' bundled size
HOLE = 64           # the examples' hole: a 64x64 square, so the model's window is 128 px
GUIDE = 192         # guidance side: 1.5 x the window, as the model's 96 to its 64


@dataclass
class Example:
    image: np.ndarray       # uint8 H x W x 3 (256 x 256; real photos PHOTO_SIDE long), the original (the hole's
    mask: np.ndarray        # bool H x W, True = hole                              ground truth is known)
    guidance: np.ndarray    # uint8 h x w x 3 (GUIDE x GUIDE for the triplet examples)
    note: str


# (original photo, guidance background photo, hole's top-left (x, y), patch rotation in degrees)
EXAMPLES = {
    "chelsea (cat), guidance on the lion photo": ("chelsea", "lion", (110, 70), 12.0),
    "rocket, guidance on the china photo": ("rocket", "china", (100, 120), -10.0),
    "china (temple), guidance on the cat photo": ("china", "chelsea", (120, 60), 8.0),
}
# name -> (held-out photo of the photo pool, hole (x, y, w, h) as fractions of the photo, guidance: None = the
# photo itself, else (rotation in degrees, zoom = guidance px per photo px, exposure gain))
PHOTO_EXAMPLES = {
    "the photo itself as guidance (Hawa Mahal)": ("gc_0136", (0.42, 0.36, 0.16, 0.18), None),
    "two photos of one flower: the guidance rotated 8 degrees, zoomed out": ("mate_0012", (0.62, 0.52, 0.18, 0.22),
                                                                            (8.0, 0.85, 0.85)),
}
NAMES = [*EXAMPLES, *PHOTO_EXAMPLES]     # every example, in the tab's order
PHOTO_SIDE = 512    # the real-photo examples' longer side

LIGHTING = [   # (name, per-channel gain R G B, gamma): applied to the guidance, 0..1 values: out = gain * x ** gamma
    ("as shot", (1.0, 1.0, 1.0), 1.0),
    ("dim", (0.55, 0.55, 0.55), 1.3),
    ("warm cast", (1.25, 1.0, 0.7), 1.0),
    ("cool cast", (0.7, 0.95, 1.3), 1.0),
]


def held_out_photos() -> dict[str, np.ndarray]:
    ex = data.load("photos256", "heldout")
    return {data.PHOTO_SOURCES[int(i)][0]: im for im, i in zip(ex.images, ex.labels)}


def build(original: np.ndarray, background: np.ndarray, hole_xy: tuple[int, int], degrees: float,
          seed: int = 0, corrupt: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(mask, guidance): a HOLE-sized square hole at ``hole_xy``; the region around it (1.4x the hole) corrupted
    as in training, pasted at scale 1 and ``degrees`` into ``background`` (resized to GUIDE)."""
    import cv2

    rng = np.random.default_rng(seed)
    x, y = hole_xy
    mask = np.zeros(original.shape[:2], bool)
    mask[y:y + HOLE, x:x + HOLE] = True
    p = int(round(1.4 * HOLE))
    x0, y0 = x + HOLE // 2 - p // 2, y + HOLE // 2 - p // 2
    patch = original[y0:y0 + p, x0:x0 + p]
    cfg = TripletConfig(corrupt=corrupt, warp=3.0, noise=3.0)   # the warp in px at this resolution
    corrupted = corrupt_patch(patch, cfg, rng)
    bg = cv2.resize(background, (GUIDE, GUIDE), interpolation=cv2.INTER_AREA)
    centre = np.array([GUIDE * 0.62, GUIDE * 0.4])
    guidance, _ = paste(bg, corrupted, similarity(1.0, degrees), centre)
    return mask, guidance


def example(name: str) -> Example:
    if name not in NAMES:
        raise KeyError(f"unknown example {name!r}; available: {sorted(NAMES)}")
    if name in PHOTO_EXAMPLES:
        return photo_example(name)
    photos = held_out_photos()
    orig, bg, xy, deg = EXAMPLES[name]
    mask, guidance = build(photos[orig], photos[bg], xy, deg)
    return Example(photos[orig], mask, guidance,
                   f"The guidance holds the region around the hole (colour-shifted, blurred, rotated {deg:+.0f} "
                   f"degrees) pasted into the {bg} photo; the model must find it and correct it.")


def photo_example(name: str) -> Example:
    """A real-photo example (``PHOTO_EXAMPLES``): the held-out photo at PHOTO_SIDE px, its hole and guidance."""
    from synth import photo_pool
    from synth.guided.evaluate_pairs import make_view

    pid, (fx, fy, fw, fh), shot = PHOTO_EXAMPLES[name]
    photo = photo_pool.load_photo(pid)
    image, guidance = make_view(photo, PHOTO_SIDE, *(shot or (0.0, 1.0, 1.0)))
    h, w = image.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[round(fy * h):round((fy + fh) * h), round(fx * w):round((fx + fw) * w)] = True
    if shot is None:
        return Example(image, mask, image.copy(), "The guidance is the photo itself, before the hole was painted: "
                       "the simplest guidance there is (the hole's true content is in it, at the same place).")
    deg, zoom, gain = shot
    return Example(image, mask, guidance, f"Two photos of one flower: the guidance is the same scene rotated "
                   f"{deg:+.0f} degrees, zoomed out to {zoom:.2f} and exposed x{gain:.2f}; registration finds "
                   "where the hole's content lies in it.")


def relight(image: np.ndarray, gain: tuple[float, float, float], gamma: float) -> np.ndarray:
    x = image.astype(np.float32) / 255.0
    x = np.asarray(gain, np.float32) * x ** gamma
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def lighting_demo() -> tuple[Example, list[tuple[str, np.ndarray]]]:
    """One original with its hole, and the same guidance photo under four lightings (its content is the
    original's, uncorrupted, so only the lighting differs)."""
    photos = held_out_photos()
    mask, guidance = build(photos["chelsea"], photos["lion"], (110, 70), 0.0, corrupt=False)
    ex = Example(photos["chelsea"], mask, guidance, "one original, one guidance photo, four lightings")
    return ex, [(name, relight(guidance, gain, gamma)) for name, gain, gamma in LIGHTING]
