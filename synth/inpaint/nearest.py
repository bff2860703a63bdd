"""Scene completion by nearest-neighbour cut-paste (Hays and Efros, SIGGRAPH 2007), at our scale.

1. Scene descriptor of the context window around the hole (twice the hole's size, at 64x64): a gist-like
   map (Gabor energy, 2 scales x 4 orientations, pooled on a 16x16 grid) plus the Lab colour of the known
   region on the same grid. Cells that the hole touches get zero weight, as in the paper.
2. The k nearest scenes in the database: every training crop of the bundled photos and its mirror image
   (assets/data/photos/train.npz; held-out photos are never in it).
3. Local placement: each candidate is shifted by up to +-8 px to best match the known pixels in a band
   around the hole (sum of squared differences); candidates are ranked by that match.
4. Blending: the candidate's content is Poisson-blended into the hole (OpenCV's seamlessClone), whose
   boundary lies on known pixels just outside the hole.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth import data

from .base import Inpainter, known_band, resize

SIZE = 64       # database and descriptor resolution
GRID = 16       # descriptor cells per side (4x4 px each)
SHIFT = 8       # local placement search, +- px at SIZE


def _gabor_bank() -> list[tuple[np.ndarray, np.ndarray]]:
    bank = []
    for lam in (4.0, 8.0):
        for theta in np.arange(4) * np.pi / 4:
            ks = int(lam) * 2 + 1
            re = cv2.getGaborKernel((ks, ks), 0.56 * lam, theta, lam, 1.0, 0, cv2.CV_32F)
            im = cv2.getGaborKernel((ks, ks), 0.56 * lam, theta, lam, 1.0, np.pi / 2, cv2.CV_32F)
            bank.append((re - re.mean(), im))
    return bank


BANK = _gabor_bank()


def descriptor(image: np.ndarray) -> np.ndarray:
    """uint8 SIZE x SIZE x 3 -> float32 (8 Gabor energies + 3 Lab) x GRID x GRID."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    chans = []
    for re, im in BANK:
        e = np.hypot(cv2.filter2D(grey, -1, re, borderType=cv2.BORDER_REFLECT),
                     cv2.filter2D(grey, -1, im, borderType=cv2.BORDER_REFLECT))
        chans.append(cv2.resize(e, (GRID, GRID), interpolation=cv2.INTER_AREA))
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab) / np.float32([100, 128, 128])
    lab = cv2.resize(lab, (GRID, GRID), interpolation=cv2.INTER_AREA)
    return np.concatenate([np.stack(chans), lab.transpose(2, 0, 1)]).astype(np.float32)


@dataclass
class Candidate:
    image: np.ndarray     # the completed image, uint8 H x W x 3
    source: np.ndarray    # the database scene it was cut from, uint8 SIZE x SIZE x 3
    index: int            # row in the database (train crops, then their mirrors)
    scene_distance: float
    placement_ssd: float  # mean squared difference in the band around the hole after placement


class NearestNeighbour(Inpainter):
    name = "nearest-neighbour"
    description = "Hays & Efros 2007: find similar scenes among the training photos, cut, place, Poisson-blend"

    def __init__(self, k: int = 6, gist_weight: float = 1.0, colour_weight: float = 2.0):
        train = data.load("photos", "train").images
        if train.shape[1:3] != (SIZE, SIZE):
            raise ValueError(f"database crops must be {SIZE}x{SIZE}, got {train.shape[1:3]}")
        self.db = np.concatenate([train, train[:, :, ::-1]])          # + mirror images
        desc = np.stack([descriptor(im) for im in self.db])           # N x 11 x G x G
        # normalise the Gabor energies so both parts have comparable scale
        self.scale = np.ones((desc.shape[1], 1, 1), np.float32)
        self.scale[:8] = 1.0 / (desc[:, :8].std() + 1e-6)
        self.desc = desc * self.scale
        self.k = k
        self.w = np.array([gist_weight] * 8 + [colour_weight] * 3, np.float32)[:, None, None]

    # 1-2. scene matching
    def nearest(self, window: np.ndarray, hole: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = descriptor(window) * self.scale
        # cells whose Gabor support touches the hole do not count (largest kernel: 8 px)
        grown = cv2.dilate(hole.astype(np.uint8), np.ones((17, 17), np.uint8))
        wk = 1.0 - cv2.resize(grown.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
        wk = np.where(wk > 0.99, 1.0, 0.0).astype(np.float32)
        if wk.sum() == 0:  # hole too big for clean cells: weight by known fraction instead
            wk = 1.0 - cv2.resize(hole.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
        d = (((self.desc - q) ** 2) * self.w).sum(1)                 # N x G x G
        dist = (d * wk).sum((1, 2)) / max(wk.sum(), 1e-6)
        idx = np.argpartition(dist, min(k, len(dist) - 1))[:k]
        idx = idx[np.argsort(dist[idx])]
        return idx, dist[idx]

    # 3. local placement
    def place(self, window: np.ndarray, hole: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, float]:
        band = known_band(hole, 6)
        padded = np.pad(cand, ((SHIFT, SHIFT), (SHIFT, SHIFT), (0, 0)), mode="symmetric").astype(np.float32)
        target = window.astype(np.float32)
        best, best_err = cand, np.inf
        for dy in range(0, 2 * SHIFT + 1, 2):
            for dx in range(0, 2 * SHIFT + 1, 2):
                shifted = padded[dy:dy + SIZE, dx:dx + SIZE]
                err = float(((shifted[band] - target[band]) ** 2).mean())
                if err < best_err:
                    best, best_err = shifted, err
        return best.astype(np.uint8), best_err

    def candidates(self, image: np.ndarray, mask: np.ndarray, k: int | None = None) -> list[Candidate]:
        """The k best completions, best first (``image``/``mask`` as for ``fill``, already normalised)."""
        k = k or self.k
        win = self.context_window(image, mask, SIZE)
        idx, dist = self.nearest(win.small, win.small_mask, 4 * k)
        placed = [(i, dd, *self.place(win.small, win.small_mask, self.db[i])) for i, dd in zip(idx, dist)]
        placed.sort(key=lambda t: t[3])                                # rank by the placement match
        out = []
        # 4. Poisson blending in the window at full resolution; boundary just outside the hole
        side = win.side
        grow = max(1, side // 32)
        blend_mask = cv2.dilate(win.mask.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)) * 255
        blend_mask[:1], blend_mask[-1:], blend_mask[:, :1], blend_mask[:, -1:] = 0, 0, 0, 0
        bx, by, bw, bh = cv2.boundingRect(blend_mask)
        for i, dd, cand, err in placed[:k]:
            src = resize(cand, side)
            # fresh copies: this OpenCV build writes into its destination argument
            blended = cv2.seamlessClone(src.copy(), win.image.copy(), blend_mask.copy(), (bx + bw // 2, by + bh // 2),
                                        cv2.NORMAL_CLONE)
            out.append(Candidate(win.paste(image, mask, blended), self.db[i], int(i), float(dd), float(err)))
        return out

    def _fill(self, image, mask):
        return self.candidates(image, mask, 1)[0].image
