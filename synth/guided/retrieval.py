"""Guidance by retrieval: given a photo with a hole, find guidance images in the photo database.

The database is the photo pool's TRAINING photos (synth.photo_pool; a held-out photo is never in it, so a
held-out item never gets a held-out photo as guidance) in colour (greyscale ones cannot guide a colour fill and
are left out: ``GuidanceDatabase.left_out``) and their mirror images. Two settings, because the
paper's exact retrieval is not in our sources:

- ``a``: **whole image**. The scene descriptor of Hays and Efros (2007): a gist-like map (Gabor energy,
  2 scales x 4 orientations, pooled on an 8x8 grid) plus the Lab colour on the same grid, of the whole photo;
  grid cells the hole touches do not count. Finds photos of the same kind of scene; the guidance is the
  whole retrieved photo.
- ``b``: **the hole's surroundings**. The same descriptor of the context window around the hole (a square
  twice the hole's size), compared with windows of every database photo (3 sizes, half-overlapping grid).
  Finds a place that looks like the hole's neighbourhood (windows are described all at once:
  ``window_descriptors``); the guidance is that window of the retrieved photo,
  framed like the query's window, so the guided model's transformer starts close to the right alignment.

    from synth.guided.retrieval import retrieve
    for m in retrieve(image, mask, setting="a", k=5):   # uint8 H x W x 3, bool H x W (True = hole)
        m.rank, m.photo_id, m.distance, m.image         # m.image: the guidance, uint8
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from synth.inpaint.base import as_mask, as_rgb, crop_padded, window_around
from synth.inpaint.nearest import BANK

SETTINGS = {
    "a": "whole image (Hays & Efros scene descriptor of the whole photo, hole ignored)",
    "b": "the hole's surroundings (the same descriptor of the context window around the hole, "
         "matched against windows of each photo)",
}
SIZE, GRID = 64, 8
WINDOW_FRACS = (0.35, 0.55, 0.8)       # database windows: fractions of the photo's short side
MAX_K = 20


def energy_maps(image: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 -> float32 H x W x 11: 8 Gabor energies of the grey image and its Lab colour (scaled)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    chans = [np.hypot(cv2.filter2D(grey, -1, re, borderType=cv2.BORDER_REFLECT),
                      cv2.filter2D(grey, -1, im, borderType=cv2.BORDER_REFLECT)) for re, im in BANK]
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab) / np.float32([100, 128, 128])
    return np.concatenate([np.stack(chans, -1), lab], -1)


def describe(image: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 (any size; resized to 64x64) -> float32 (8 Gabor energies + 3 Lab) x 8 x 8."""
    small = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    cells = cv2.resize(energy_maps(small), (GRID, GRID), interpolation=cv2.INTER_AREA)
    return cells.transpose(2, 0, 1).astype(np.float32)


def window_descriptors(image: np.ndarray, frac: float) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """``describe`` of every square window of side ``frac`` x the short side on a half-overlapping grid, at
    once: the photo is scaled so a window is 64 px, filtered once, pooled into 8 px cells, and each window
    is 8 x 8 of those cells. -> (N x 11 x 8 x 8, [(y, x, side) in the photo's pixels])."""
    h, w = image.shape[:2]
    side = int(min(h, w) * frac)
    s = SIZE / side
    cell = SIZE // GRID
    ch, cw = max(GRID, int(h * s) // cell), max(GRID, int(w * s) // cell)
    small = cv2.resize(image, (cw * cell, ch * cell), interpolation=cv2.INTER_AREA)
    cells = cv2.resize(energy_maps(small), (cw, ch), interpolation=cv2.INTER_AREA)   # ch x cw x 11
    descs, boxes = [], []
    for cy in range(0, ch - GRID + 1, GRID // 2):
        for cx in range(0, cw - GRID + 1, GRID // 2):
            descs.append(cells[cy:cy + GRID, cx:cx + GRID].transpose(2, 0, 1))
            boxes.append((int(round(cy * cell / s)), int(round(cx * cell / s)), side))
    return np.stack(descs).astype(np.float32), boxes


def window_descriptor(image: np.ndarray, y0: int, x0: int, side: int) -> np.ndarray:
    """``describe`` of the window (y0, x0, side) as the database's windows are described: filtered with a
    quarter of its side of surroundings (mirrored outside the image), then pooled."""
    margin = side // 4
    big = crop_padded(image, y0 - margin, x0 - margin, side + 2 * margin)
    n = SIZE + 2 * (SIZE // 4)
    maps = energy_maps(cv2.resize(big, (n, n), interpolation=cv2.INTER_AREA))[SIZE // 4:SIZE // 4 + SIZE,
                                                                                 SIZE // 4:SIZE // 4 + SIZE]
    return cv2.resize(maps, (GRID, GRID), interpolation=cv2.INTER_AREA).transpose(2, 0, 1).astype(np.float32)


def cell_weights(mask: np.ndarray) -> np.ndarray:
    """GRID x GRID weights: 1 for cells the hole (grown by half the largest Gabor kernel) does not touch;
    where every cell is touched, the known fraction of each cell."""
    h, w = mask.shape
    grow = max(1, int(round(4 * max(h, w) / SIZE)))
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)).astype(np.float32)
    wk = 1.0 - cv2.resize(grown, (GRID, GRID), interpolation=cv2.INTER_AREA)
    wk = np.where(wk > 0.99, 1.0, 0.0).astype(np.float32)
    if wk.sum() == 0:
        wk = 1.0 - cv2.resize(mask.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    return wk


def is_grey(image: np.ndarray) -> bool:
    """Red, green and blue equal everywhere (the guided inpainter refuses such a guidance)."""
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


@dataclass
class Match:
    rank: int              # 1 = best
    photo_id: str          # the photo pool's id (", mirrored" when the mirror image matched)
    distance: float        # weighted descriptor distance (lower = closer)
    image: np.ndarray      # the guidance, uint8: (a) the whole photo, (b) the matched window
    box: tuple[int, int, int, int]   # (y0, x0, y1, x1) of the guidance in the (possibly mirrored) photo


class GuidanceDatabase:
    """Descriptors of the database photos, computed once: whole photos for setting a, windows for b."""

    def __init__(self, photos: list[tuple[str, np.ndarray]]):
        if not photos:
            raise ValueError("the retrieval database is empty: no training photos to retrieve guidance from")
        # greyscale photos cannot guide: the guided methods pull colour from the guidance and refuse them
        self.left_out = [pid for pid, im in photos if is_grey(im)]
        photos = [(pid, im) for pid, im in photos if pid not in self.left_out]
        if not photos:
            raise ValueError(f"the retrieval database has no colour photo ({len(self.left_out)} greyscale photos "
                             "left out): guided methods need colour guidance")
        self.photos = []
        for pid, im in photos:
            self.photos += [(pid, im), (f"{pid}, mirrored", np.ascontiguousarray(im[:, ::-1]))]
        self.whole = np.stack([describe(im) for _, im in self.photos])
        wins, boxes = [], []
        for i, (_, im) in enumerate(self.photos):
            for f in WINDOW_FRACS:
                d, b = window_descriptors(im, f)
                wins.append(d)
                boxes += [(i, *box) for box in b]
        self.windows, self.boxes = np.concatenate(wins), np.array(boxes)
        stack = np.concatenate([self.whole, self.windows])
        self.scale = np.ones((stack.shape[1], 1, 1), np.float32)
        self.scale[:8] = 1.0 / (stack[:, :8].std() + 1e-6)          # Gabor energies and Lab on one scale

    def _distances(self, q: np.ndarray, wk: np.ndarray, table: np.ndarray) -> np.ndarray:
        d = (((table - q) * self.scale) ** 2).sum(1)                  # N x GRID x GRID
        return (d * wk).sum((1, 2)) / max(float(wk.sum()), 1e-6)

    def retrieve(self, image: np.ndarray, mask: np.ndarray, setting: str = "a", k: int = 5) -> list[Match]:
        image = as_rgb(image)
        mask = as_mask(mask, image.shape[:2])
        if setting not in SETTINGS:
            raise ValueError(f"unknown retrieval setting {setting!r}; choose one of: "
                             + "; ".join(f"{s} = {t}" for s, t in SETTINGS.items()))
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
        if not mask.any():
            raise ValueError("the mask is empty: paint the hole to find guidance for")
        if mask.all():
            raise ValueError("the mask covers the whole image: nothing is left to describe the scene by")
        if setting == "a":
            dist = self._distances(describe(image), cell_weights(mask), self.whole)
        else:
            y0, x0, side = window_around(mask)
            hole = crop_padded(mask, y0, x0, side)
            dist = self._distances(window_descriptor(image, y0, x0, side), cell_weights(hole), self.windows)
        order = np.argsort(dist, kind="stable")
        out, seen = [], set()
        for j in order:                        # one match per photo (its best window), k photos
            i = int(j) if setting == "a" else int(self.boxes[j][0])
            base = self.photos[i][0].replace(", mirrored", "")
            if base in seen:
                continue
            seen.add(base)
            pid, im = self.photos[i]
            if setting == "a":
                box, guide = (0, 0, im.shape[0], im.shape[1]), im
            else:
                _, y, x, s = (int(v) for v in self.boxes[j])
                box, guide = (y, x, y + s, x + s), im[y:y + s, x:x + s]
            out.append(Match(len(out) + 1, pid, float(dist[j]), guide.copy(), box))
            if len(out) == k:
                break
        return out


@lru_cache(maxsize=1)
def default_database() -> GuidanceDatabase:
    """The photo pool's training photos (loaded and described once per process)."""
    from synth import photo_pool

    return GuidanceDatabase(photo_pool.photos("train"))


def retrieve(image, mask, setting: str = "a", k: int = 5) -> list[Match]:
    """The top-k guidance images for a photo with a hole from the bundled database (``Match``, best first)."""
    return default_database().retrieve(image, mask, setting, k)
