"""How a learned fill meets a hole of any size and shape on a photo of any size (docs/inpainting.md).

A network sees holes of a certain size during training. Two numbers decide how to run it on a new hole:
the hole's *radius* (the largest distance from a hole pixel to the nearest known pixel: half the side of a
square, half the width of a stroke) and its extent. Two strategies, one per kind of network:

- ``fill_fully_convolutional`` (GLCIC): the region around each group of nearby holes is cut with a margin of
  context, scaled down just enough that the hole's radius is one the network was trained on (thin strokes
  run at full resolution, a big blob at a coarser scale), filled in one pass, blended into the photo with
  Poisson image editing at that scale, and scaled back; only hole pixels change.
- ``tiles`` (the Context Encoder, fixed 64x64 input): the hole is covered by square tiles whose side is four
  times the hole's radius, so the hole crosses each tile's middle half as in training; each tile owns the hole
  pixels of its middle half, and all tiles run as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .base import crop_padded, hole_bbox


def hole_radius(mask: np.ndarray, border_known: bool = True) -> float:
    """The largest distance (px) from a hole pixel to the nearest known pixel (or, with ``border_known``, the
    image border: right for a fully convolutional network, which pads there; a tile of a fixed-size model has
    nothing to see beyond the border, so ``tiles`` measures to known pixels only)."""
    if not mask.any():
        return 0.0
    padded = np.pad(mask.astype(np.uint8), 1, constant_values=int(not border_known))
    return float(cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1].max())


def hole_groups(mask: np.ndarray, gap: int) -> list[np.ndarray]:
    """The hole split into groups of components closer than ``gap`` px to each other (bool masks)."""
    k = np.ones((2 * gap + 1, 2 * gap + 1), np.uint8)
    n, labels = cv2.connectedComponents(cv2.dilate(mask.astype(np.uint8), k))
    return [mask & (labels == i) for i in range(1, n)]


@dataclass
class Region:
    """A rectangle of the image (y0:y1, x0:x1) and the scale it is processed at."""

    y0: int
    x0: int
    y1: int
    x1: int
    scale: float


def region_for(mask: np.ndarray, max_radius: float, max_pixels: int, margin_frac: float = 0.6,
               min_margin: int = 16) -> Region:
    """The group's bounding box plus a margin of context (``margin_frac`` of the box's longer side, at least
    ``min_margin`` px at the working scale), clipped to the image; the scale makes the hole's radius at most
    ``max_radius`` and the region at most ``max_pixels``; never enlarges."""
    h, w = mask.shape
    y0, x0, y1, x1 = hole_bbox(mask)
    r = hole_radius(mask)
    scale = min(1.0, max_radius / max(r, 1e-6))
    margin = int(np.ceil(max(margin_frac * max(y1 - y0, x1 - x0), min_margin / scale, 2 * r)))
    ry0, rx0, ry1, rx1 = max(0, y0 - margin), max(0, x0 - margin), min(h, y1 + margin), min(w, x1 + margin)
    area = (ry1 - ry0) * (rx1 - rx0) * scale * scale
    if area > max_pixels:
        scale *= float(np.sqrt(max_pixels / area))
    return Region(ry0, rx0, ry1, rx1, scale)


def to_scale(a: np.ndarray, scale: float, multiple: int = 4) -> np.ndarray:
    """``a`` resized by ``scale`` (area filter), sides rounded to a multiple of ``multiple`` (at least 16)."""
    h, w = a.shape[:2]
    th = max(16, int(round(h * scale / multiple)) * multiple)
    tw = max(16, int(round(w * scale / multiple)) * multiple)
    if (th, tw) == (h, w):
        return a
    interp = cv2.INTER_AREA if th < h else cv2.INTER_CUBIC
    return cv2.resize(a, (tw, th), interpolation=interp)


def mask_to(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A hole resized to ``shape``: every working pixel the hole touches is hole."""
    if mask.shape == tuple(shape):
        return mask.copy()
    return cv2.resize(mask.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA) > 0


def poisson_blend(pred: np.ndarray, image: np.ndarray, mask: np.ndarray, max_unknowns: int = 60000) -> np.ndarray:
    """Poisson image editing (Perez et al. 2003) of the hole: keep ``pred``'s gradients inside the hole and
    match ``image`` on its border. The correction (image - pred on the border, harmonic inside) is solved
    exactly with a sparse solver up to ``max_unknowns`` hole pixels, and by pull-push beyond (an
    approximation of the membrane). float arrays H x W x 3 in, float out."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    h, w = mask.shape
    diff = image.astype(np.float64) - pred.astype(np.float64)
    idx = -np.ones((h, w), np.int64)
    ys, xs = np.nonzero(mask)
    n = len(ys)
    if n == 0:
        return pred.astype(np.float64)
    if n > max_unknowns:
        return pred + pullpush(diff, ~mask)
    idx[ys, xs] = np.arange(n)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.zeros(n)]
    rhs = np.zeros((n, 3))
    deg = np.zeros(n)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)       # the image border: Neumann (no term)
        deg += inside
        ny, nx = np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)
        hole_nb = inside & mask[ny, nx]
        rows.append(np.nonzero(hole_nb)[0])
        cols.append(idx[ny[hole_nb], nx[hole_nb]])
        vals.append(-np.ones(hole_nb.sum()))
        known_nb = inside & ~mask[ny, nx]
        rhs[known_nb] += diff[ny[known_nb], nx[known_nb]]
    vals[0] = deg
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    if not (rhs != 0).any():
        return pred.astype(np.float64)
    corr = splu(A).solve(rhs)
    out = pred.astype(np.float64).copy()
    out[ys, xs] += corr
    return out


def pullpush(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Values at ``known`` pixels spread smoothly over the rest (pull-push; float H x W x C)."""
    pyr = [(values * known[..., None], known.astype(np.float64))]
    while min(pyr[-1][1].shape) > 1:
        v, k = pyr[-1]
        h, w = k.shape
        hh, ww = (h + 1) // 2, (w + 1) // 2
        v = np.pad(v, ((0, 2 * hh - h), (0, 2 * ww - w), (0, 0)))
        k = np.pad(k, ((0, 2 * hh - h), (0, 2 * ww - w)))
        pyr.append((v.reshape(hh, 2, ww, 2, -1).sum((1, 3)), k.reshape(hh, 2, ww, 2).sum((1, 3))))
    v, k = pyr[-1]
    filled = v / np.maximum(k, 1e-9)[..., None]
    for v, k in reversed(pyr[:-1]):
        up = np.repeat(np.repeat(filled, 2, 0), 2, 1)[:k.shape[0], :k.shape[1]]
        up = cv2.GaussianBlur(up, (3, 3), 0) if min(up.shape[:2]) >= 3 else up
        up = up.reshape(k.shape + (-1,))
        a = np.clip(k, 0, 1)[..., None]
        filled = a * (v / np.maximum(k, 1e-9)[..., None]) + (1 - a) * up
    return filled


def fill_fully_convolutional(image: np.ndarray, mask: np.ndarray, run, max_radius: float,
                             max_pixels: int = 512 * 512, blend: bool = True) -> np.ndarray:
    """Fill every group of holes with ``run(region uint8 h x w x 3, hole bool h x w) -> uint8 h x w x 3``
    (sides multiples of 4), each at the scale ``region_for`` picks; Poisson-blended at that scale."""
    out = image.copy()
    gap = max(8, int(0.05 * min(image.shape[:2])))
    for group in hole_groups(mask, gap):
        reg = region_for(group, max_radius, max_pixels)
        crop = out[reg.y0:reg.y1, reg.x0:reg.x1]
        hole = group[reg.y0:reg.y1, reg.x0:reg.x1]
        small = to_scale(crop, reg.scale)
        small_hole = mask_to(hole, small.shape[:2])
        pred = run(small, small_hole).astype(np.float64)
        if blend:
            pred = poisson_blend(pred, small.astype(np.float64), small_hole)
        pred = np.clip(np.round(pred), 0, 255).astype(np.uint8)
        if pred.shape[:2] != crop.shape[:2]:
            pred = cv2.resize(pred, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_CUBIC)
        out[reg.y0:reg.y1, reg.x0:reg.x1] = np.where(hole[..., None], pred, crop)
    return out


@dataclass
class Tile:
    y0: int          # top-left of the tile in the image (may be negative: mirrored there)
    x0: int
    side: int
    owns: np.ndarray  # bool side x side: the hole pixels this tile fills (in its middle half)


def tiles(mask: np.ndarray, min_side: int = 16) -> list[Tile]:
    """Square tiles, side four times the hole's radius (at least ``min_side``), on a grid whose middle halves
    partition the hole's bounding box; only tiles that own hole pixels. Each hole pixel is owned once. The
    radius is measured to known pixels only: a hole at the border gets tiles big enough to hold context
    (counting the border as known made them half as wide: CE any-hole 19.11 -> 20.07 dB on border rectangles)."""
    y0, x0, y1, x1 = hole_bbox(mask)
    side = max(min_side, int(np.ceil(4 * hole_radius(mask, border_known=False))))
    side += side % 2
    half = side // 2
    q = half // 2
    out = []
    for ty in range(y0, y1, half):
        for tx in range(x0, x1, half):
            part = mask[ty:ty + half, tx:tx + half]
            if part.any():
                owns = np.zeros((side, side), bool)
                owns[q:q + part.shape[0], q:q + part.shape[1]] = part
                out.append(Tile(ty - q, tx - q, side, owns))
    return out


def fill_by_tiles(image: np.ndarray, mask: np.ndarray, run_batch, size: int, blend: bool = False,
                  min_side: int = 16) -> np.ndarray:
    """Fill with a fixed-size model: ``run_batch(windows uint8 N x size x size x 3, holes bool N x size x size)
    -> uint8 N x size x size x 3``, one window per tile of every group of holes (``tiles``). With ``blend``,
    each tile's prediction is Poisson-blended into its window (the hole's border inside the tile sets the
    colour, the prediction the gradients) before its own pixels are taken. ``min_side``: the smallest tile
    (the model's own size: a small hole is then never enlarged, it sits in a window at full resolution)."""
    out = image.copy()
    gap = max(4, int(0.03 * min(image.shape[:2])))
    jobs = []
    h, w = mask.shape
    for group in hole_groups(mask, gap):
        for t in tiles(group, min_side):
            # a tile reaching outside the image moves inside it where it fits (a mirrored border would
            # mirror the hole too); what it owns stays where it is
            dy = min(max(t.y0, 0), h - t.side) - t.y0 if t.side <= h else 0
            dx = min(max(t.x0, 0), w - t.side) - t.x0 if t.side <= w else 0
            if dy or dx:
                t = Tile(t.y0 + dy, t.x0 + dx, t.side, np.roll(t.owns, (-dy, -dx), (0, 1)))
            win = crop_padded(image, t.y0, t.x0, t.side)
            hole = crop_padded(mask, t.y0, t.x0, t.side)
            jobs.append((t, win, hole))
    if not jobs:
        return out
    wins = np.stack([cv2.resize(w, (size, size), interpolation=cv2.INTER_AREA if w.shape[0] > size
                                else cv2.INTER_CUBIC) for _, w, _ in jobs])
    holes = np.stack([mask_to(hm, (size, size)) for _, _, hm in jobs])
    preds = run_batch(wins, holes)
    for (t, win, hole), p in zip(jobs, preds):
        big = cv2.resize(p, (t.side, t.side), interpolation=cv2.INTER_CUBIC if t.side > size else cv2.INTER_AREA)
        if blend:
            big = np.clip(np.round(poisson_blend(big.astype(np.float64), win.astype(np.float64), hole)), 0, 255)
            big = big.astype(np.uint8)
        ys, xs = np.nonzero(t.owns)
        iy, ix = ys + t.y0, xs + t.x0
        ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        out[iy[ok], ix[ok]] = big[ys[ok], xs[ok]]
    return out


def strategy_picture(image: np.ndarray, mask: np.ndarray, max_radius: float, max_pixels: int = 512 * 512) -> np.ndarray:
    """docs/inpainting.md's figure: the photo with the hole in magenta, each group's GLCIC region (yellow box,
    its working scale written in it) and the Context Encoder's tiles (cyan squares, their middle halves own
    the hole)."""
    out = image.copy()
    out[mask] = (255, 0, 255)
    gap_cv = max(8, int(0.05 * min(image.shape[:2])))
    gap_ce = max(4, int(0.03 * min(image.shape[:2])))
    thick = max(1, min(image.shape[:2]) // 300)
    for group in hole_groups(mask, gap_ce):
        for t in tiles(group):
            cv2.rectangle(out, (t.x0, t.y0), (t.x0 + t.side - 1, t.y0 + t.side - 1), (0, 220, 255), thick)
    for group in hole_groups(mask, gap_cv):
        reg = region_for(group, max_radius, max_pixels)
        cv2.rectangle(out, (reg.x0, reg.y0), (reg.x1 - 1, reg.y1 - 1), (255, 230, 0), 2 * thick)
        cv2.putText(out, f"x{reg.scale:.2f}", (reg.x0 + 4, reg.y0 + 18 * thick), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6 * thick, (255, 230, 0), thick, cv2.LINE_AA)
    return out


def main(argv=None) -> None:
    """python -m synth.inpaint.scales --figure docs/inpainting/scales.jpg: the strategy on held-out photos."""
    import argparse

    from PIL import Image

    from synth import photo_pool

    from . import masks

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--figure", required=True)
    p.add_argument("--max-radius", type=float, default=24.0)
    args = p.parse_args(argv)
    shots = []
    held = photo_pool.photos("heldout")
    for i, (pid, photo) in enumerate(held[j] for j in (5, len(held) // 2, len(held) - 3)):
        h, w = photo.shape[:2]
        m = [masks.strokes(h, w, 11, "thin"), masks.several_holes(h, w, 5), masks.random_region(h, w, 3, 0.1)][i]
        shots.append(cv2.resize(strategy_picture(photo, m, args.max_radius), (480, int(480 * h / w))))
    height = max(s.shape[0] for s in shots)
    row = np.concatenate([np.pad(s, ((0, height - s.shape[0]), (0, 8), (0, 0)), constant_values=255) for s in shots], 1)
    Image.fromarray(row).save(args.figure, quality=88)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
