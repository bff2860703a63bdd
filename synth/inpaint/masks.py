"""Hole masks: the Context Encoder paper's three kinds (Pathak et al. 2016, section 3.3).

Every mask is bool H x W, True = hole. Same seed, same mask.

- ``central``: a centred square, ``frac`` of each side (the paper: 64x64 in 128x128, i.e. frac 0.5).
- ``random block``: several smaller, possibly overlapping rectangles, together covering up to a
  quarter of the image (the paper's "random block" masks).
- ``random region``: arbitrary connected-ish shapes covering a quarter of the image. The paper cut
  shapes from PASCAL VOC segmentation masks; none ship here, so the shapes are level sets of
  smoothed noise (blobs with natural, irregular outlines) at the same coverage.

And the holes people paint, for training the any-hole models and for the hole-shape sweep of the
evaluation (``SWEEP``): squares of 15..60% of the side, centred or off-centre; rectangles touching the
border; free-form brush strokes, thin, medium and thick (modelled on LaMa's mask generator, Suvorov et al.
2022: polylines of random angle, length and width, sizes given at 256 px and scaled); several separate holes.
``training_mask`` draws from all of them.
"""

from __future__ import annotations

import numpy as np

MASK_KINDS = ("central", "random block", "random region", "free-form strokes", "several holes")


def _check_size(h: int, w: int) -> None:
    if h < 8 or w < 8:
        raise ValueError(f"mask size must be at least 8x8, got {h}x{w}")


def central(h: int, w: int, frac: float = 0.5) -> np.ndarray:
    _check_size(h, w)
    if not 0 < frac < 1:
        raise ValueError(f"frac must be in (0, 1), got {frac}")
    mh, mw = int(round(h * frac)), int(round(w * frac))
    y, x = (h - mh) // 2, (w - mw) // 2
    m = np.zeros((h, w), bool)
    m[y:y + mh, x:x + mw] = True
    return m


def random_block(h: int, w: int, seed: int = 0, max_cover: float = 0.25) -> np.ndarray:
    """Rectangles with sides 1/8..1/3 of the image, added until the next one would pass ``max_cover``
    (at least one is always placed)."""
    _check_size(h, w)
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), bool)
    for _ in range(50):
        bh = int(rng.integers(max(1, h // 8), max(2, h // 3) + 1))
        bw = int(rng.integers(max(1, w // 8), max(2, w // 3) + 1))
        y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        trial = m.copy()
        trial[y:y + bh, x:x + bw] = True
        if m.any() and trial.mean() > max_cover:
            break
        m = trial
    return m


def random_region(h: int, w: int, seed: int = 0, cover: float = 0.25, smooth: float = 0.12) -> np.ndarray:
    """The ``cover`` fraction of pixels where Gaussian-smoothed white noise is highest: irregular blobs.
    ``smooth`` is the blur's sigma as a fraction of the short side (bigger = fewer, rounder blobs)."""
    import cv2

    _check_size(h, w)
    if not 0 < cover < 1:
        raise ValueError(f"cover must be in (0, 1), got {cover}")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((h, w)).astype(np.float32)
    sigma = max(1.0, smooth * min(h, w))
    field = cv2.GaussianBlur(noise, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    thresh = np.quantile(field, 1 - cover)
    return field > thresh


def square(h: int, w: int, frac: float, seed: int = 0, centred: bool = True) -> np.ndarray:
    """A square of ``frac`` of the short side; off-centre: anywhere inside the image but its centre at least
    a quarter of the free room away from the image's centre."""
    _check_size(h, w)
    if not 0 < frac < 1:
        raise ValueError(f"frac must be in (0, 1), got {frac}")
    side = max(1, int(round(min(h, w) * frac)))
    if centred:
        y, x = (h - side) // 2, (w - side) // 2
    else:
        rng = np.random.default_rng(seed)
        while True:
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            dy, dx = abs(y - (h - side) / 2) / max(1, h - side), abs(x - (w - side) / 2) / max(1, w - side)
            if max(dy, dx) >= 0.25:
                break
    m = np.zeros((h, w), bool)
    m[y:y + side, x:x + side] = True
    return m


def border_rect(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A rectangle with sides 20..50% of the image's, touching one border (or a corner's two)."""
    _check_size(h, w)
    rng = np.random.default_rng(seed)
    bh, bw = int(round(h * rng.uniform(0.2, 0.5))), int(round(w * rng.uniform(0.2, 0.5)))
    side = int(rng.integers(0, 4))                   # top, bottom, left, right
    y = 0 if side == 0 else h - bh if side == 1 else int(rng.integers(0, h - bh + 1))
    x = 0 if side == 2 else w - bw if side == 3 else int(rng.integers(0, w - bw + 1))
    m = np.zeros((h, w), bool)
    m[y:y + bh, x:x + bw] = True
    return m


# LaMa-style strokes at 256 px: (max width, max segment length, min strokes, max strokes)
STROKES = {"thin": (10, 100, 4, 12), "medium": (40, 100, 3, 6), "thick": (80, 150, 1, 4)}


def strokes(h: int, w: int, seed: int = 0, width: str = "medium", max_cover: float = 0.5) -> np.ndarray:
    """Free-form brush strokes: each a polyline of 1..5 segments with round joints, turning by a random
    angle, brush width 5..max (scaled from 256 px to the image). Strokes that would push the cover past
    ``max_cover`` are dropped (at least one is kept)."""
    import cv2

    _check_size(h, w)
    if width not in STROKES:
        raise KeyError(f"unknown stroke width {width!r}; available: {list(STROKES)}")
    max_w, max_len, lo, hi = STROKES[width]
    k = min(h, w) / 256
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(lo, hi + 1))):
        trial = m.copy()
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        angle = rng.uniform(0, 2 * np.pi)
        brush = max(1, int(round((5 + rng.uniform(0, max_w - 5)) * k)))
        for _ in range(int(rng.integers(1, 6))):
            angle += rng.uniform(-np.pi / 2, np.pi / 2)
            length = (10 + rng.uniform(0, max_len)) * k
            y2 = float(np.clip(y + length * np.sin(angle), 0, h - 1))
            x2 = float(np.clip(x + length * np.cos(angle), 0, w - 1))
            cv2.line(trial, (int(x), int(y)), (int(x2), int(y2)), 1, brush)
            cv2.circle(trial, (int(x2), int(y2)), brush // 2, 1, -1)
            y, x = y2, x2
        if m.any() and trial.mean() > max_cover:
            break
        m = trial
    return m.astype(bool)


def several_holes(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Two to four separate holes (squares, blobs or short thick strokes), 8..25% of the short side each,
    kept at least a few pixels apart so they stay separate."""
    import cv2

    _check_size(h, w)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    m = np.zeros((h, w), bool)
    gap = max(2, min(h, w) // 32)
    placed = 0
    for _ in range(200):
        s = max(2, int(round(min(h, w) * rng.uniform(0.08, 0.25))))
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            piece = np.ones((s, s), bool)
        elif kind == 1:
            piece = random_region(max(8, s), max(8, s), seed=int(rng.integers(2 ** 31)), cover=0.5, smooth=0.25)
            piece = piece[:s, :s]
        else:
            piece = strokes(max(8, s), max(8, s), seed=int(rng.integers(2 ** 31)), width="thick")[:s, :s]
        full = np.zeros((h, w), bool)
        full[y:y + s, x:x + s] = piece
        grown = cv2.dilate(full.astype(np.uint8), np.ones((2 * gap + 1, 2 * gap + 1), np.uint8)).astype(bool)
        if not full.any() or (grown & m).any():
            continue
        m |= full
        placed += 1
        if placed == n:
            break
    return m


# The evaluation's hole-shape sweep: class name -> mask(h, w, seed)
SWEEP = {
    **{f"square {p}% centred": (lambda h, w, seed, f=p / 100: square(h, w, f)) for p in (15, 25, 35, 50, 60)},
    **{f"square {p}% off-centre": (lambda h, w, seed, f=p / 100: square(h, w, f, seed, centred=False))
       for p in (15, 25, 35, 50, 60)},
    "rectangle at the border": border_rect,
    "strokes thin": lambda h, w, seed: strokes(h, w, seed, "thin"),
    "strokes medium": lambda h, w, seed: strokes(h, w, seed, "medium"),
    "strokes thick": lambda h, w, seed: strokes(h, w, seed, "thick"),
    "several holes": several_holes,
}


def training_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """One hole from the mixture people paint: squares (any size 10..60%, anywhere) 25%, border rectangles
    10%, strokes 40% (thin, medium, thick alike), several holes 15%, random regions 10%."""
    seed = int(rng.integers(2 ** 31))
    u = rng.random()
    if u < 0.25:
        return square(h, w, float(rng.uniform(0.1, 0.6)), seed, centred=bool(rng.random() < 0.3))
    if u < 0.35:
        return border_rect(h, w, seed)
    if u < 0.75:
        return strokes(h, w, seed, ("thin", "medium", "thick")[int(rng.integers(0, 3))])
    if u < 0.9:
        return several_holes(h, w, seed)
    return random_region(h, w, seed, cover=float(rng.uniform(0.1, 0.4)))


def make_mask(kind: str, h: int, w: int, seed: int = 0) -> np.ndarray:
    if kind == "central":
        return central(h, w)
    if kind == "random block":
        return random_block(h, w, seed)
    if kind == "random region":
        return random_region(h, w, seed)
    if kind == "free-form strokes":
        return strokes(h, w, seed, ("thin", "medium", "thick")[seed % 3])
    if kind == "several holes":
        return several_holes(h, w, seed)
    raise KeyError(f"unknown mask kind {kind!r}; available: {list(MASK_KINDS)}")
