"""Exemplar-based fill (Criminisi, Perez and Toyama 2004), vectorised with numpy and OpenCV.

1. The fill front: hole pixels next to known ones.
2. Priority of each front pixel p: confidence C(p) (how much of its patch is known, and how trusted)
   times the data term D(p) = |isophote . normal| (linear structures that run into the hole go first).
3. The highest-priority patch is matched against every fully known patch in a window around it (sum
   of squared differences over its known pixels, from two cv2.matchTemplate correlations), and its unknown
   pixels are copied from the best match. Confidence of the copied pixels is C(p).
4. Repeat until the hole is filled.
5. Holes larger than ``max_hole`` px are filled on a shrunk copy; the full-resolution hole then copies
   pixels along the same source offsets, so big photos stay fast and the fill stays sharp.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import Inpainter, hole_bbox


class PatchBased(Inpainter):
    name = "patch-based"
    description = "Criminisi et al. 2004: copies whole patches from the known image, structure first"
    max_side = 2048

    def __init__(self, patch: int | None = None, search: int = 24, max_hole: int = 160):
        if patch is not None and (patch % 2 == 0 or patch < 3):
            raise ValueError(f"patch must be an odd size >= 3, got {patch}")
        self.patch = patch  # None: 9x9, or 13x13 for holes over 96 px (fewer, larger copies)
        self.search = search  # search window: this many px beyond the nearest source around each target
        self.max_hole = max_hole  # holes larger than this are matched on a shrunk copy (step 5)

    def _fill(self, image, mask):
        y0, x0, y1, x1 = hole_bbox(mask)
        side = max(y1 - y0, x1 - x0)
        scale = int(np.ceil(side / self.max_hole))
        if scale <= 1:
            return self._criminisi(image, mask)[0]
        # 5. large holes: fill a copy shrunk by `scale`, then copy full-resolution pixels along the same
        #    offsets (source - target), so the result stays as sharp as the photo
        h, w = mask.shape
        small = cv2.resize(image, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(mask.astype(np.float32), (w // scale, h // scale), interpolation=cv2.INTER_AREA) > 0
        filled_small, sy, sx = self._criminisi(small, small_mask)
        ys, xs = np.nonzero(mask)
        cy = np.minimum(ys // scale, small_mask.shape[0] - 1)
        cx = np.minimum(xs // scale, small_mask.shape[1] - 1)
        oy, ox = (sy[cy, cx] - cy) * scale, (sx[cy, cx] - cx) * scale
        ty, tx = np.clip(ys + oy, 0, h - 1), np.clip(xs + ox, 0, w - 1)
        out = image.copy()
        out[ys, xs] = image[ty, tx]
        bad = mask[ty, tx]  # rounding landed in the hole: take the shrunk fill, enlarged, there
        if bad.any():
            big = cv2.resize(filled_small, (w, h), interpolation=cv2.INTER_CUBIC)
            out[ys[bad], xs[bad]] = big[ys[bad], xs[bad]]
        return out

    def _criminisi(self, image, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (filled image, source row, source column): where each pixel's colour was copied from."""
        p = self.patch
        if p is None:
            y0, x0, y1, x1 = hole_bbox(mask)
            p = 13 if max(y1 - y0, x1 - x0) > 96 else 9
        r = p // 2
        h, w = mask.shape
        # pad by r + 2 so every patch (and the stencils of its gradient update) is inside; the padding is never a source
        b = r + 2
        img = cv2.copyMakeBorder(image, b, b, b, b, cv2.BORDER_REFLECT_101).astype(np.float32)
        hole = np.pad(mask, b, constant_values=False)
        inside = np.pad(np.ones_like(mask), b, constant_values=False)
        conf = (~hole).astype(np.float32)
        img[hole] = 0
        # sources: patch centres whose whole patch is inside the image and known from the start
        src_ok = cv2.erode((inside & ~hole).astype(np.uint8), np.ones((p, p), np.uint8), borderValue=0) > 0
        if not src_ok.any():
            raise ValueError(f"no fully known {p}x{p} patch outside the hole to copy from")
        # distance from each pixel to the nearest source: the search window reaches at least that far
        reach = cv2.distanceTransform((~src_ok).astype(np.uint8), cv2.DIST_C, 3)
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        # the isophote's strength as a per-pixel derivative (Sobel / 8), so the data term |grad I_perp . n| / 255
        # stays within [0, 1] as in the paper; unscaled, it reached 4 and swamped the confidence term (striped
        # texture was filled first and spread into smooth sky)
        gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
        gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
        invalid = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        gx[invalid], gy[invalid] = 0, 0
        kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
        H, W = hole.shape
        src_y, src_x = np.mgrid[0:H, 0:W]
        front = hole & (cv2.dilate((~hole & inside).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)

        while True:
            fy, fx = np.nonzero(front)
            if len(fy) == 0:
                break
            # 1-2. priority = confidence x data term, for front pixels only
            known = (~hole).astype(np.float32)
            cw = sliding_window_view(conf * known, (p, p))[fy - r, fx - r]              # F x p x p
            c = cw.reshape(len(fy), -1).sum(1) / (p * p)
            hw = sliding_window_view(hole.astype(np.float32), (3, 3))[fy - 1, fx - 1]  # F x 3 x 3
            nx, ny = (hw * kx).sum((1, 2)), (hw * kx.T).sum((1, 2))
            norm = np.hypot(nx, ny) + 1e-6
            nx, ny = nx / norm, ny / norm
            wgx = sliding_window_view(gx, (p, p))[fy - r, fx - r]
            wgy = sliding_window_view(gy, (p, p))[fy - r, fx - r]
            d = np.abs(-wgy * nx[:, None, None] + wgx * ny[:, None, None]).reshape(len(fy), -1).max(1)
            k = int(np.argmax(c * (d / 255.0 + 1e-3)))
            py, px = int(fy[k]), int(fx[k])
            # 3. best source in a window around p: SSD over known pixels, from two correlations
            rad = int(reach[py, px]) + r + self.search
            sy0, sy1 = max(0, py - rad), min(H, py + rad + 1)
            sx0, sx1 = max(0, px - rad), min(W, px + rad + 1)
            tgt = img[py - r:py + r + 1, px - r:px + r + 1]
            tm = known[py - r:py + r + 1, px - r:px + r + 1][..., None].repeat(3, 2)
            region = img[sy0:sy1, sx0:sx1]
            ok = src_ok[sy0 + r:sy1 - r, sx0 + r:sx1 - r]
            if not ok.any():  # no source nearby: search everywhere
                sy0, sy1, sx0, sx1 = 0, H, 0, W
                region = img
                ok = src_ok[r:H - r, r:W - r]
            ssd = (cv2.matchTemplate(region * region, tm, cv2.TM_CCORR)
                   - 2 * cv2.matchTemplate(region, tgt * tm, cv2.TM_CCORR))   # + const(target)
            ssd[~ok] = np.inf
            qy, qx = np.unravel_index(int(np.argmin(ssd)), ssd.shape)
            qy, qx = qy + sy0 + r, qx + sx0 + r
            # 4. copy unknown pixels; update confidence, gradients near the patch, the front
            ty, tx = slice(py - r, py + r + 1), slice(px - r, px + r + 1)
            fill = hole[ty, tx].copy()
            src = img[qy - r:qy + r + 1, qx - r:qx + r + 1]
            img[ty, tx][fill] = src[fill]
            src_y[ty, tx][fill] = (src_y[qy - r:qy + r + 1, qx - r:qx + r + 1])[fill]
            src_x[ty, tx][fill] = (src_x[qy - r:qy + r + 1, qx - r:qx + r + 1])[fill]
            conf[ty, tx][fill] = c[k]
            hole[ty, tx][fill] = False
            gy0, gy1, gx0, gx1 = py - r - 1, py + r + 2, px - r - 1, px + r + 2
            sub = cv2.cvtColor(img[gy0 - 1:gy1 + 1, gx0 - 1:gx1 + 1], cv2.COLOR_RGB2GRAY)
            sgx = cv2.Sobel(sub, cv2.CV_32F, 1, 0, ksize=3)[1:-1, 1:-1]
            sgy = cv2.Sobel(sub, cv2.CV_32F, 0, 1, ksize=3)[1:-1, 1:-1]
            hsub = hole[gy0 - 1:gy1 + 1, gx0 - 1:gx1 + 1]
            bad = cv2.dilate(hsub.astype(np.uint8), np.ones((3, 3), np.uint8))[1:-1, 1:-1] > 0
            gx[gy0:gy1, gx0:gx1] = np.where(bad, 0, sgx)
            gy[gy0:gy1, gx0:gx1] = np.where(bad, 0, sgy)
            near = hole[gy0:gy1, gx0:gx1]
            kn = cv2.dilate((~hsub & inside[gy0 - 1:gy1 + 1, gx0 - 1:gx1 + 1]).astype(np.uint8),
                            np.ones((3, 3), np.uint8))[1:-1, 1:-1] > 0
            front[gy0:gy1, gx0:gx1] = near & kn
        out = np.clip(np.round(img[b:b + h, b:b + w]), 0, 255).astype(np.uint8)
        return out, src_y[b:b + h, b:b + w] - b, src_x[b:b + h, b:b + w] - b
