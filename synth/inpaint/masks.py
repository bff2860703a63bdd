"""Hole masks: the Context Encoder paper's three kinds (Pathak et al. 2016, section 3.3).

Every mask is bool H x W, True = hole. Same seed, same mask.

- ``central``: a centred square, ``frac`` of each side (the paper: 64x64 in 128x128, i.e. frac 0.5).
- ``random block``: several smaller, possibly overlapping rectangles, together covering up to a
  quarter of the image (the paper's "random block" masks).
- ``random region``: arbitrary connected-ish shapes covering a quarter of the image. The paper cut
  shapes from PASCAL VOC segmentation masks; none ship here, so the shapes are level sets of
  smoothed noise (blobs with natural, irregular outlines) at the same coverage.
"""

from __future__ import annotations

import numpy as np

MASK_KINDS = ("central", "random block", "random region")


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


def make_mask(kind: str, h: int, w: int, seed: int = 0) -> np.ndarray:
    if kind == "central":
        return central(h, w)
    if kind == "random block":
        return random_block(h, w, seed)
    if kind == "random region":
        return random_region(h, w, seed)
    raise KeyError(f"unknown mask kind {kind!r}; available: {list(MASK_KINDS)}")
