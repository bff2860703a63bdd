"""Image melding (Darabi, Shechtman, Barnes, Goldman and Sen, SIGGRAPH 2012) as a guided hole filler: the hole
is synthesised from patches of the GUIDANCE photo (and of the image's own known region), searched over
rotations, scales and reflections, with per-patch colour gain and bias, then blended in the gradient domain.

    from synth.guided.melding import ImageMelding
    out = ImageMelding(seed=0).fill(image, mask, guidance)   # uint8 HxWx3 RGB, bool HxW (True = hole), RGB

At our scale (numpy on a shared CPU; 1 to 2.5 s on a 256x256 photo with a 128x128 hole: ``main``):

1. Working size. The photo is shrunk (never enlarged) so its long side is at most 384 px and the patches over
   the hole number at most 135 x 135 (a 128x128 hole); a shrunk fill is enlarged back to the photo's size
   (softer than the photo) before step 5. The guidance keeps the photo's pixel scale, as the guided model's
   training data has it (shrunk by the same factor, but to no more than 384 px long nor less than 64 short).
2. Sources. Copies of the guidance pre-warped by every transform (``ROTATIONS`` degrees x ``SCALES`` x
   mirrored or not: 30 copies) and the image itself, stacked into one tall bank: a nearest-neighbour field
   (NNF) entry is a patch centre in the bank, i.e. (copy, y, x). A source patch lies wholly inside its copy
   (for the image: wholly outside the hole). Random candidates come half from the guidance, half from the
   image. Colours in CIE Lab.
3. Patch distance with gain and bias (the paper's photometric transform): source patch s is compared with
   target t as s' = mean(s) + b + g (s - mean(s)) per Lab channel, b = mean(t) - mean(s) clamped to +-``BIAS``
   and g = std / std(s) clamped to ``GAIN``, std that of the known pixels around the target, spread into the
   hole (a gain fitted to the hole's blurred first estimate would take contrast out of every copied patch).
   Our clamps: contrast may change by 25% and the mean by 10 Lab units (a tenth of L's range), so a patch
   bends towards its surroundings' colour without any patch becoming any other by recolouring. The search
   compares 25 of the 7x7 pixels (a checkerboard).
4. Coarse to fine with EM (Wexler et al. 2007) over a pyramid whose coarsest hole is about 12 px. The coarsest
   level starts by onion peel: the hole's known border is matched in the guidance, then the hole is filled
   ring by ring inwards, each pixel from the source patch that best fits the filled part of its patch (random
   candidates and its neighbours' sources shifted along, so the border's alignment carries into the hole).
   At every level PatchMatch (Barnes et al. 2009), vectorised over all target patches at once, improves the
   NNF: propagation from neighbours 1 and 4 px away (a parallel step moves information 1 px only), random
   search at halving radii inside the current copy, a jump to the same guidance point under another
   transform, one uniform random candidate; then every hole pixel becomes the weighted vote of the adjusted
   source patches over it (weight exp(-d / 2 sigma^2), sigma^2 the 75th percentile of d). The NNF goes down
   a level through the copies' geometry.
5. Gradient domain. The paper votes colours and gradients and solves a screened Poisson equation; here the
   voted fill's gradients are kept and its colours solved to meet the known pixels at the hole's border
   (Poisson image editing, ``synth.inpaint.scales.poisson_blend``). Known pixels come back bit for bit.

Not here: gradient channels in the patch distance, the mixed L2/L0 energy (for melding two whole images).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth.guided.inpainter import as_guidance
from synth.inpaint.base import as_mask, as_rgb, hole_bbox
from synth.inpaint.scales import poisson_blend, pullpush

ROTATIONS = (-30.0, -15.0, 0.0, 15.0, 30.0)   # degrees
SCALES = (0.75, 1.0, 1.33)
PATCH = 7                    # px, as in the paper
GAIN = (0.8, 1.25)           # clamp on the per-channel contrast gain
BIAS = 10.0                  # clamp on the per-channel mean shift, Lab units
WORK_SIDE = 384              # px: the working photo's and guidance's longest side
MAX_TARGETS = 135 * 135      # patch centres over the hole at the finest level (a 128x128 hole)
COARSE_HOLE = 12             # px: the hole's side at the coarsest level (about)
EM_ITERS = (2, 3, 4, 6)      # EM iterations per level, finest first (the last value repeats)
MIN_GUIDE = 64               # px: the guidance is never shrunk below this on its shorter side


@dataclass
class Bank:
    """Every source copy of one pyramid level stacked into one image of width ``width``."""

    pix: np.ndarray          # float32 (rows * width) x 3, Lab
    valid: np.ndarray        # bool rows * width: patch centres whose whole patch is a usable source
    pools: list              # int64 arrays: the valid centres of the guidance copies, and of the image
    width: int
    row_copy: np.ndarray     # int64 per row: the copy it belongs to
    top: np.ndarray          # int64 per copy: its first row
    size: np.ndarray         # int64 per copy x 2: (height, width)
    maps: np.ndarray         # float64 per copy x 3 x 3: source space (x, y, 1) -> the copy's (x, y, 1)
    from_guidance: np.ndarray   # bool per copy: a warped guidance copy (False: the image itself)

    def random(self, shape, rng: np.random.Generator) -> np.ndarray:
        """Random usable centres, half from the guidance's copies, half from the image (else outnumbered 30:1)."""
        pools = [p for p in self.pools if len(p)]
        out = pools[0][rng.integers(len(pools[0]), size=shape)]
        if len(pools) > 1:
            out = np.where(rng.random(shape) < 0.5, out, pools[1][rng.integers(len(pools[1]), size=shape)])
        return out


def _level_map(fx: float, fy: float) -> np.ndarray:
    """Pixel-centre coordinates at full working size -> at a level ``fx`` x ``fy`` times that size."""
    return np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])


def _transform(shape: tuple[int, int], degrees: float, scale: float, mirror: bool) -> tuple[np.ndarray, tuple]:
    """3 x 3 map of an h x w picture's pixels into its rotated, scaled (mirrored) copy, and the copy's (h, w)."""
    h, w = shape
    m = np.array([[-1.0, 0, w - 1], [0, 1, 0], [0, 0, 1]]) if mirror else np.eye(3)
    m = np.vstack([cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, scale), [0, 0, 1]]) @ m
    corners = m @ np.array([[0, w - 1, 0, w - 1], [0, 0, h - 1, h - 1], [1, 1, 1, 1]], float)
    lo, hi = corners[:2].min(1), corners[:2].max(1)
    m = np.array([[1, 0, -lo[0]], [0, 1, -lo[1]], [0, 0, 1]]) @ m
    return m, (int(np.ceil(hi[1] - lo[1])) + 1, int(np.ceil(hi[0] - lo[0])) + 1)


def _centres(inside: np.ndarray) -> np.ndarray:
    """Patch centres whose whole patch lies in ``inside`` (bool)."""
    return cv2.erode(inside.astype(np.uint8), np.ones((PATCH, PATCH), np.uint8), borderValue=0) > 0


class ImageMelding:
    """``fill(image, mask, guidance)``: uint8 H x W x 3 RGB, bool H x W (True = hole), uint8 RGB guidance of
    any size from 32 px -> uint8 H x W x 3 whose pixels outside the hole are the input's, bit for bit."""

    name = "image melding"
    description = ("Darabi et al. 2012: PatchMatch over rotated, scaled and mirrored patches of the guidance "
                   "photo (and the image), with colour gain and bias, coarse to fine, blended with Poisson")

    def __init__(self, seed: int = 0, rotations=ROTATIONS, scales=SCALES, mirror: bool = True,
                 own_region: bool = True):
        if not rotations or not scales or any(not 0.25 <= s <= 4 for s in scales):
            raise ValueError(f"need at least one rotation and one scale in 0.25..4, got {rotations}, {scales}")
        self.seed, self.own_region = int(seed), bool(own_region)
        self.transforms = [(float(r), float(s), m) for m in ((False, True) if mirror else (False,))
                           for s in scales for r in rotations]
        self.r = PATCH // 2
        d = np.arange(-self.r, self.r + 1)
        dy, dx = np.meshgrid(d, d, indexing="ij")
        self.offsets_all = np.stack([dy.ravel(), dx.ravel()], 1)             # the vote: every pixel
        self.offsets = self.offsets_all[(dy + dx).ravel() % 2 == 0]          # the search: a checkerboard

    def fill(self, image, mask, guidance) -> np.ndarray:
        image = as_rgb(image)
        mask = as_mask(mask, image.shape[:2])
        guidance = as_guidance(guidance)
        if not mask.any():
            raise ValueError("the mask is empty: paint the hole to fill")
        if mask.all():
            raise ValueError("the mask covers the whole image: nothing is left to fill the hole from")
        rng = np.random.default_rng(self.seed)
        h, w = mask.shape
        # 1. working size: the long side and the number of target patches bounded
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((PATCH, PATCH), np.uint8)).sum()
        f = min(1.0, WORK_SIDE / max(h, w), float(np.sqrt(MAX_TARGETS / grown)))
        known = ~mask
        rgb = image.astype(np.float32) / 255 * known[..., None]       # the hole's pixels are never read
        if f < 1:
            rgb, known = _shrink(rgb, known, (max(16, round(w * f)), max(16, round(h * f))))
        gh, gw = guidance.shape[:2]
        gf = min(max(f, MIN_GUIDE / min(gh, gw)), WORK_SIDE / max(gh, gw), 1.0)
        guide = guidance if gf == 1 else cv2.resize(
            guidance, (max(8, round(gw * gf)), max(8, round(gh * gf))), interpolation=cv2.INTER_AREA)
        guide = cv2.cvtColor(guide.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
        est = self._synthesise(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab), known, guide, rng)      # 2-4.
        rgb = np.clip(cv2.cvtColor(est, cv2.COLOR_Lab2RGB), 0, 1) * 255
        # 5. gradient domain, at the photo's size, on the hole's bounding box and a 1 px frame of known pixels
        if f < 1:
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC)
        y0, x0, y1, x1 = hole_bbox(mask)
        y0, x0, y1, x1 = max(0, y0 - 1), max(0, x0 - 1), min(h, y1 + 1), min(w, x1 + 1)
        box = poisson_blend(rgb[y0:y1, x0:x1], image[y0:y1, x0:x1], mask[y0:y1, x0:x1])
        out = image.copy()
        out[y0:y1, x0:x1] = np.clip(np.round(box), 0, 255).astype(np.uint8)
        return np.where(mask[..., None], out, image)

    __call__ = fill

    def _synthesise(self, lab, known, guide, rng) -> np.ndarray:
        """Lab H x W x 3 (hole pixels ignored), bool known, Lab guidance -> Lab H x W x 3 with the hole filled."""
        y0, x0, y1, x1 = hole_bbox(~known)
        levels = 1
        while (max(y1 - y0, x1 - x0) / 2 ** levels >= COARSE_HOLE
               and min(*lab.shape[:2], *guide.shape[:2]) / 2 ** levels >= 2 * PATCH):
            levels += 1
        est, prev, seeds = None, None, None
        for level in reversed(range(levels)):
            f = 0.5 ** level
            size = (max(PATCH, round(lab.shape[1] * f)), max(PATCH, round(lab.shape[0] * f)))
            img, kn = _shrink(lab, known, size) if level else (lab, known)
            g = guide if not level else cv2.resize(guide, (max(PATCH, round(guide.shape[1] * f)),
                                                           max(PATCH, round(guide.shape[0] * f))),
                                                   interpolation=cv2.INTER_AREA)
            bank = self._bank(img, kn, g, f, guide.shape[:2])
            if est is None:
                est, seeds = self._onion(img, kn, bank, rng)
            else:
                est = np.where(kn[..., None], img, cv2.resize(est, size, interpolation=cv2.INTER_LINEAR))
            est, prev = self._level(est, kn, bank, prev, seeds, EM_ITERS[min(level, len(EM_ITERS) - 1)], rng)
        return est

    def _onion(self, img, known, bank: Bank, rng):
        """The coarsest level's start (step 4's onion peel). -> (estimate, bank index of each border or hole
        pixel's source pixel, -1 elsewhere)."""
        est, src = img.copy(), -np.ones(known.shape, np.int64)
        py, px = np.nonzero(known & (cv2.dilate((~known).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0))
        for _ in range(4):
            self._peel(est, known, src, py, px, bank, rng, hole=False)
        filled = known.copy()
        while not filled.all():
            py, px = np.nonzero(~filled & (cv2.dilate(filled.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0))
            self._peel(est, filled, src, py, px, bank, rng, hole=True)
            filled[py, px] = True
        return est, src

    def _peel(self, est, filled, src, py, px, bank: Bank, rng, hole: bool, n_random: int = 48):
        """Pixels (py, px): the source patch best matching the filled part of the patch around each (step 3's
        distance over those pixels), among random candidates, the neighbours' sources shifted along, its own so
        far and a local search around it. Sets ``src``; for hole pixels also ``est`` (the adjusted source
        pixel). Known border pixels look in the guidance only (in the image they would find themselves)."""
        (h, w), r, bw, n = filled.shape, self.r, bank.width, len(py)
        cy, cx = np.clip(py, r, h - 1 - r), np.clip(px, r, w - 1 - r)       # the patch around each pixel
        to_centre = (cy - py) * bw + (cx - px)
        guide = bank.pools[0]
        cand = [bank.random((n, n_random), rng) if hole else guide[rng.integers(len(guide), size=(n, n_random))]]
        own = src[py, px]
        for radius in (0, 8, 4, 2, 1):                # its own source, and around it
            jitter = rng.integers(-radius, radius + 1, (2, n))
            cand.append(np.where(own >= 0, own + to_centre + jitter[0] * bw + jitter[1], -1)[:, None])
        for dy, dx in [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]:
            ny, nx = np.clip(py + dy, 0, h - 1), np.clip(px + dx, 0, w - 1)
            sn = src[ny, nx]
            cand.append(np.where(sn >= 0, sn + (py - ny) * bw + (px - nx) + to_centre, -1)[:, None])
        cand = np.concatenate(cand, 1)                                            # n x K
        ok = (cand >= 0) & (cand < len(bank.valid))
        ok[ok] = bank.valid[cand[ok]] & (hole | bank.from_guidance[bank.row_copy[cand[ok] // bw]])
        offs = self.offsets_all
        tidx = (cy * w + cx)[:, None] + offs[:, 0] * w + offs[:, 1]              # n x 49
        t = est.reshape(-1, 3)[tidx]
        m = filled.ravel()[tidx].astype(np.float32)[..., None]
        msum = m.sum(1)
        tm = (t * m).sum(1) / msum
        tv = (((t - tm[:, None]) ** 2) * m).sum(1) / msum
        s = bank.pix[np.where(ok, cand, 0)[..., None] + offs[:, 0] * bw + offs[:, 1]]    # n x K x 49 x 3
        mk = m[:, None]
        sm = (s * mk).sum(2) / msum[:, None]
        sv = (((s - sm[:, :, None]) ** 2) * mk).sum(2) / msum[:, None]
        g = np.clip(np.sqrt((tv[:, None] + 1e-3) / (sv + 1e-3)), *GAIN)
        b = np.clip(tm[:, None] - sm, -BIAS, BIAS)
        adj = sm[:, :, None] + b[:, :, None] + g[:, :, None] * (s - sm[:, :, None])
        d = np.where(ok, (((adj - t[:, None]) ** 2) * mk).sum((2, 3)), np.inf)
        k, i = np.argmin(d, 1), np.arange(n)        # every pixel has valid random candidates
        src[py, px] = cand[i, k] - to_centre
        if hole:
            est[py, px] = adj[i, k, (py - cy + r) * PATCH + (px - cx + r)]        # the pixel's place in its patch

    def _bank(self, img, known, guide, f: float, guide_full: tuple[int, int]) -> Bank:
        """Step 2 at one level: the warped guidance copies and the image, stacked."""
        copies, valid, maps = [], [], []
        level = _level_map(guide.shape[1] / guide_full[1], guide.shape[0] / guide_full[0])
        ones = np.ones(guide.shape[:2], np.float32)
        for deg, scale, mirror in self.transforms:
            m, (ch, cw) = _transform(guide.shape[:2], deg, scale, mirror)
            copies.append(cv2.warpAffine(guide, m[:2], (cw, ch), flags=cv2.INTER_LINEAR))
            valid.append(_centres(cv2.warpAffine(ones, m[:2], (cw, ch), flags=cv2.INTER_LINEAR) > 0.999))
            maps.append(m @ level)
        if self.own_region:
            copies.append(img)
            valid.append(_centres(known))
            maps.append(_level_map(f, f))
        from_g = np.arange(len(copies)) < len(self.transforms)
        width = max(c.shape[1] for c in copies)
        heights = np.array([c.shape[0] for c in copies])
        top = np.concatenate([[0], np.cumsum(heights)[:-1]])
        pix = np.zeros((heights.sum(), width, 3), np.float32)
        ok = np.zeros((heights.sum(), width), bool)
        for c, v, t in zip(copies, valid, top):
            pix[t:t + c.shape[0], :c.shape[1]] = c
            ok[t:t + c.shape[0], :c.shape[1]] = v
        ok, in_guide = ok.ravel(), np.repeat(from_g, heights * width)
        pools = [np.flatnonzero(ok & in_guide), np.flatnonzero(ok & ~in_guide)]
        if not len(pools[0]):
            raise ValueError(f"the guidance has no {PATCH}x{PATCH} patch to copy at this scale")
        return Bank(pix=pix.reshape(-1, 3), valid=ok, pools=pools, width=width,
                    row_copy=np.repeat(np.arange(len(copies)), heights), top=top,
                    size=np.array([c.shape[:2] for c in copies]), maps=np.stack(maps), from_guidance=from_g)

    def _level(self, est, known, bank: Bank, prev, seeds, iters: int, rng):
        """Step 4 at one level: EM iterations of PatchMatch and voting. -> (estimate, NNF for the next level).
        Target patches may reach 2r px past the image (mirrored there): a pixel at the image's border gets as
        many votes as one inside."""
        (h, w), r, pad = known.shape, self.r, 2 * self.r
        hp, wp = h + 2 * pad, w + 2 * pad
        over = cv2.dilate(np.pad(~known, pad).astype(np.uint8), np.ones((PATCH, PATCH), np.uint8)) > 0
        over[:r], over[hp - r:], over[:, :r], over[:, wp - r:] = False, False, False, False
        ty, tx = np.nonzero(over)                   # the target patches (padded coordinates): all over the hole
        n, tflat = len(ty), ty * wp + tx
        # the NNF: the onion peel's or the level above's where usable, else at random
        q = bank.random(n, rng)
        if prev is not None:
            up = self._upsampled(prev, bank, ty - pad, tx - pad, shape=(h, w))
            q = np.where(up >= 0, up, q)
        else:                                       # the nearest peeled pixel's source, shifted to the centre
            sp = np.pad(seeds, pad, constant_values=-1)
            for dy, dx in sorted(self.offsets_all.tolist(), key=lambda o: -abs(o[0]) - abs(o[1])):
                c = np.where(sp[ty + dy, tx + dx] >= 0, sp[ty + dy, tx + dx] - dy * bank.width - dx, -1)
                c[c >= 0] = np.where(bank.valid[np.minimum(c[c >= 0], len(bank.valid) - 1)], c[c >= 0], -1)
                q = np.where(c >= 0, c, q)
        grid = -np.ones((hp, wp), np.int64)
        mirror = ((pad, pad), (pad, pad), (0, 0))
        gain_var = np.pad(_local_var(est, known), mirror, mode="reflect")[ty, tx]   # the surroundings' contrast
        for _ in range(iters):
            t = np.take(np.pad(est, mirror, mode="reflect").reshape(-1, 3),
                        tflat[:, None] + self.offsets[:, 0] * wp + self.offsets[:, 1], axis=0)    # n x 25 x 3
            tm = np.einsum("nkc->nc", t) / len(self.offsets)
            tc = t - tm[:, None]
            tgt = (tc, tm, np.einsum("nkc,nkc->nc", tc, tc) / len(self.offsets), gain_var)
            best = self._cost(bank, q, tgt, None)[0]
            for cand in self._candidates(bank, q, grid, ty, tx, rng):
                ok = (cand >= 0) & (cand < len(bank.valid))
                ok[ok] = bank.valid[cand[ok]]
                sel = np.flatnonzero(ok)
                new = self._cost(bank, cand[sel], tgt, sel)[0]
                better = new < best[sel]
                idx = sel[better]
                best[idx], q[idx] = new[better], cand[idx]
                grid[ty, tx] = q
            est = self._vote(est, known, bank, q, tgt, ty - pad, tx - pad)
        grid[ty, tx] = q
        return est, (grid, bank)

    def _cost(self, bank: Bank, q, tgt, sel):
        """Step 3: gain/bias-adjusted squared distance of source patches ``q`` to targets ``sel`` (None: all).
        -> (distance, gain, bias, source mean), each per target (the last three per channel)."""
        tc, tm, tv, gv = tgt if sel is None else (np.take(a, sel, axis=0) for a in tgt)
        s = np.take(bank.pix, q[:, None] + self.offsets[:, 0] * bank.width + self.offsets[:, 1], axis=0)
        k = len(self.offsets)                                                  # s: m x 25 x 3
        sm = np.einsum("mkc->mc", s) / k
        sv = np.maximum(np.einsum("mkc,mkc->mc", s, s) / k - sm * sm, 0)
        g = np.clip(np.sqrt((gv + 1e-3) / (sv + 1e-3)), *GAIN)
        b = np.clip(tm - sm, -BIAS, BIAS)
        c = tm - sm - b
        # sum over the patch of (t - s')^2, expanded: var(t) - 2 g cov(t, s) + g^2 var(s) + c^2
        d = (tv - 2 * g * np.einsum("mkc,mkc->mc", tc, s) / k + g * g * sv + c * c).sum(1)
        return d, g, b, sm

    def _candidates(self, bank: Bank, q, grid, ty, tx, rng):
        """Step 4's PatchMatch candidates, one array (flat bank index per target; -1 = none) at a time."""
        (h, w), bw = grid.shape, bank.width
        grid[ty, tx] = q
        for step in (1, 4):                         # propagation: a neighbour's source, shifted back
            for dy, dx in ((0, step), (step, 0), (0, -step), (-step, 0)):
                ny, nx = ty - dy, tx - dx
                inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
                nb = np.where(inside, grid[np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)], -1)
                yield np.where((nb >= 0) & (nb % bw + dx >= 0) & (nb % bw + dx < bw), nb + dy * bw + dx, -1)
        y, x = q // bw, q % bw                      # random search at halving radii, inside the current copy
        k = bank.row_copy[y]
        top, hgt, wid = bank.top[k], bank.size[k, 0], bank.size[k, 1]
        radius = int(bank.size.max())
        while radius >= 1:
            cy = np.clip(y + rng.integers(-radius, radius + 1, len(q)), top, top + hgt - 1)
            cx = np.clip(x + rng.integers(-radius, radius + 1, len(q)), 0, wid - 1)
            yield cy * bw + cx
            radius //= 2
        # the same guidance point under another transform (a few px off), and a uniform random source
        k2 = np.flatnonzero(bank.from_guidance)[rng.integers(bank.from_guidance.sum(), size=len(q))]
        pt = np.einsum("nij,nj->ni", bank.maps[k2] @ np.linalg.inv(bank.maps)[k],
                       np.stack([x, y - top, np.ones_like(x)], 1).astype(np.float64))
        j = np.clip(np.round(pt[:, 1::-1]).astype(np.int64) + rng.integers(-2, 3, (len(q), 2)), 0, bank.size[k2] - 1)
        yield np.where(bank.from_guidance[k], (j[:, 0] + bank.top[k2]) * bw + j[:, 1], -1)
        yield bank.random(len(q), rng)

    def _upsampled(self, prev, bank: Bank, ty, tx, shape) -> np.ndarray:
        """The coarser level's NNF at this level's targets, through each copy's geometry (-1 where unusable)."""
        (grid_c, bank_c), pad = prev, 2 * self.r
        hc, wc = grid_c.shape[0] - 2 * pad, grid_c.shape[1] - 2 * pad
        py, px = np.clip(ty * hc // shape[0], 0, hc - 1), np.clip(tx * wc // shape[1], 0, wc - 1)
        pq = grid_c[py + pad, px + pad]
        has = pq >= 0
        y, x = np.where(has, pq, 0) // bank_c.width, np.where(has, pq, 0) % bank_c.width
        k = bank_c.row_copy[y]
        # coarse copy -> source space -> this level's copy; plus the target's offset from its parent's centre
        pt = np.einsum("nij,nj->ni", bank.maps[k] @ np.linalg.inv(bank_c.maps)[k],
                       np.stack([x, y - bank_c.top[k], np.ones_like(x)], 1).astype(np.float64))
        ny = np.round(pt[:, 1] + ty - ((py + 0.5) * shape[0] / hc - 0.5)).astype(np.int64)
        nx = np.round(pt[:, 0] + tx - ((px + 0.5) * shape[1] / wc - 0.5)).astype(np.int64)
        ok = has & (ny >= 0) & (ny < bank.size[k, 0]) & (nx >= 0) & (nx < bank.size[k, 1])
        out = np.where(ok, (ny + bank.top[k]) * bank.width + nx, -1)
        out[ok] = np.where(bank.valid[out[ok]], out[ok], -1)
        return out

    def _vote(self, est, known, bank: Bank, q, tgt, ty, tx):
        """Every hole pixel: the weighted mean of the gain/bias-adjusted source patches over it, a patch's
        weight exp(-d / 2 sigma^2) with sigma^2 the 75th percentile of the distances d (Wexler et al. 2007)."""
        h, w = known.shape
        d, g, b, sm = self._cost(bank, q, tgt, None)
        wt = np.exp(-d / (2 * max(float(np.percentile(d, 75)), 1e-3))).astype(np.float32)[:, None]
        acc, cnt = np.zeros((h * w, 3), np.float32), np.zeros((h * w, 1), np.float32)
        wb, wg = wt * (sm + b - g * sm), wt * g     # weight x adjusted pixel = wb + wg x source pixel
        for dy, dx in self.offsets_all:             # the targets are distinct: no index repeats in one offset
            y, x = ty + dy, tx + dx
            i = np.flatnonzero((y >= 0) & (y < h) & (x >= 0) & (x < w))
            acc[y[i] * w + x[i]] += wb[i] + wg[i] * np.take(bank.pix, q[i] + dy * bank.width + dx, axis=0)
            cnt[y[i] * w + x[i]] += wt[i]
        hole = ~known.ravel()
        out = est.reshape(-1, 3).copy()
        out[hole] = acc[hole] / np.maximum(cnt[hole], 1e-12)
        return out.reshape(h, w, 3)


def _local_var(est: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per-channel variance of the known pixels in each patch-sized window, spread smoothly into the hole."""
    k = known.astype(np.float32)
    box = lambda a: cv2.boxFilter(a, -1, (PATCH, PATCH), normalize=False, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    nk = box(k)
    m1 = box(est * k[..., None]) / np.maximum(nk, 1)[..., None]
    var = np.maximum(box(est * est * k[..., None]) / np.maximum(nk, 1)[..., None] - m1 * m1, 0)
    ok = nk >= PATCH * PATCH / 2 if (nk >= PATCH * PATCH / 2).any() else nk > 0
    return pullpush(var.astype(np.float64), ok).astype(np.float32)


def _shrink(img: np.ndarray, known: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``img`` and the known mask at ``size`` (w, h) from known pixels only; a pixel the hole touches is hole."""
    k = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    v = cv2.resize(img * known[..., None], size, interpolation=cv2.INTER_AREA)
    kn = k > 1 - 1e-4
    if not kn.any():                                # a known region smaller than a pixel: its best pixel
        kn = (k >= k.max()) & (k > 0)
    return (v / np.maximum(k, 1e-6)[..., None]).astype(np.float32), kn


def main(argv=None) -> None:
    """Seconds and PSNR in the hole on held-out 256x256 crops with a central 128x128 hole, three guidances."""
    import argparse
    import time

    from synth.inpaint import get_inpainter
    from synth.metrics import psnr_in_hole
    from synth.photo_pool import heldout_crops, load_photo, manifest

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--n", type=int, default=4, help="held-out crops")
    crops, _ = heldout_crops(parser.parse_args(argv).n, 256, seed=3)
    mask = np.zeros((256, 256), bool)
    mask[64:192, 64:192] = True
    turn = cv2.getRotationMatrix2D((128, 128), 15, 1.0) + np.array([[0, 0, 30], [0, 0, -20]])
    photos = {"a training photo": load_photo(manifest("train")[0]["id"]),
              "a held-out photo": load_photo(manifest("heldout")[0]["id"])}
    print("| crop | guidance | s | PSNR in hole, dB | mean-colour, dB |\n|---|---|---|---|---|")
    for i, crop in enumerate(crops):
        base = psnr_in_hole(get_inpainter("mean-colour").fill(crop, mask), crop, mask)
        turned = cv2.warpAffine(crop, turn, (256, 256), borderMode=cv2.BORDER_REFLECT)
        for name, g in [*photos.items(), ("the crop turned 15 deg", turned)]:
            t = time.perf_counter()
            out = ImageMelding().fill(crop, mask, g)
            print(f"| {i} | {name} {g.shape[1]}x{g.shape[0]} | {time.perf_counter() - t:.2f} | "
                  f"{psnr_in_hole(out, crop, mask):.2f} | {base:.2f} |")


if __name__ == "__main__":
    main()
