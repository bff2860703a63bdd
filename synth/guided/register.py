"""Register a guidance photo to the photo with a hole, and match its exposure (beyond the paper).

    from synth.guided.register import register, warp, exposure_match
    reg = register(image, mask, guidance)      # uint8 RGB, bool (True = hole), uint8 RGB of any size
    if reg.ok:
        g, valid = warp(guidance, reg.matrix, (h, w))          # the guidance in the photo's frame
        g = exposure_match(g, valid, image, mask).apply(g)     # its colours made the photo's

Why: the guided model regresses one transform from 64x64 and 96x96 thumbnails and was trained on synthetic
triplets; on two real photos of one scene it can land in the wrong place. Local features are the standard
answer (Lowe 2004; Brown and Lowe's panorama stitching): keypoints of the guidance matched with keypoints of
the photo's KNOWN pixels only (never inside the hole, which holds nothing), Lowe's ratio test, RANSAC.

1. Features: SIFT (ORB where this OpenCV has no SIFT) on grey images at most ``WORK_SIDE`` px a side (the
   transform is scaled back); the photo's detection mask is its known region minus a band around the hole.
2. Matches: two nearest neighbours per guidance descriptor, kept when the best is clearly better (ratio 0.75).
3. Transform: RANSAC similarity (rotation, uniform scale, shift: ``cv2.estimateAffinePartial2D``), then a
   homography if it explains clearly more matches (a second viewpoint of a non-flat scene is not a
   similarity). Then the same model re-fitted on the inliers near the hole, where it matters, if enough.
4. Sanity: enough inliers (``MIN_INLIERS``) and inlier share, a scale within 1/4..4, a homography that is
   nearly affine, and the hole's box mapped inside the guidance for at least half its area. Otherwise
   ``ok = False`` with the reason, and the caller falls back to the model alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_SIDE = 1024     # px: features are found on images at most this big (a 4000 px photo in about a second)
RATIO = 0.75         # Lowe's ratio test
MIN_INLIERS = 15     # RANSAC inliers to accept a registration
MIN_SHARE = 0.2      # and their share of the ratio-test matches
RANSAC_PX = 3.0      # reprojection threshold, px at the working size


@dataclass
class Registration:
    ok: bool
    matrix: np.ndarray | None   # float64 3 x 3: guidance px (x, y, 1) -> photo px; None when not ok
    inliers: int                # RANSAC inliers (0 when too few matches)
    matches: int                # matches that passed the ratio test
    kind: str                   # "similarity", "homography" or "" (none)
    reason: str                 # a sentence: what was found, or why it was refused

    @property
    def scale(self) -> float:
        """Photo px per guidance px (the guidance is zoomed out when > 1)."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:2, :2])))) if self.matrix is not None else 1.0

    @property
    def rotation(self) -> float:
        return float(np.degrees(np.arctan2(self.matrix[1, 0], self.matrix[0, 0]))) if self.matrix is not None else 0.0


def _grey_at(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """(uint8 grey image at most ``side`` px a side, its scale relative to ``image``)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    f = min(1.0, side / max(grey.shape))
    if f < 1.0:
        grey = cv2.resize(grey, (max(1, round(grey.shape[1] * f)), max(1, round(grey.shape[0] * f))),
                          interpolation=cv2.INTER_AREA)
    return grey, f


def _detector():
    if hasattr(cv2, "SIFT_create"):
        return cv2.SIFT_create(nfeatures=4000), cv2.NORM_L2
    return cv2.ORB_create(nfeatures=4000), cv2.NORM_HAMMING


def features(image: np.ndarray, allowed: np.ndarray | None = None, side: int = WORK_SIDE):
    """Keypoints (N x 2, px of ``image``) and descriptors, found where ``allowed`` (bool H x W) is True."""
    grey, f = _grey_at(image, side)
    det, _ = _detector()
    m = None
    if allowed is not None:
        m = cv2.resize(allowed.astype(np.uint8) * 255, grey.shape[::-1], interpolation=cv2.INTER_NEAREST)
    kp, desc = det.detectAndCompute(grey, m)
    pts = np.array([k.pt for k in kp], np.float64).reshape(-1, 2)
    return (pts + 0.5) / f - 0.5, desc


def _fit(src: np.ndarray, dst: np.ndarray, thresh: float) -> tuple[str, np.ndarray | None, np.ndarray]:
    """RANSAC similarity, or a homography where it explains at least 25% more matches -> (kind, 3x3, inliers)."""
    A, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=thresh,
                                         maxIters=4000, confidence=0.999, refineIters=10)
    kind, M = "similarity", None
    inl = inl.ravel().astype(bool) if inl is not None else np.zeros(len(src), bool)
    if A is not None:
        M = np.vstack([A, [0, 0, 1]])
    if len(src) >= 8:
        H, hin = cv2.findHomography(src, dst, cv2.RANSAC, thresh, maxIters=4000, confidence=0.999)
        if H is not None and hin is not None and hin.sum() >= 1.25 * max(inl.sum(), 1) and abs(H[2, 2]) > 1e-9:
            kind, M, inl = "homography", H / H[2, 2], hin.ravel().astype(bool)
    return kind, M, inl


def register(image: np.ndarray, mask: np.ndarray, guidance: np.ndarray, side: int = WORK_SIDE) -> Registration:
    """The transform from the guidance's pixels to the photo's, from features of the photo's known pixels.
    uint8 H x W x 3 RGB, bool H x W (True = hole), uint8 h x w x 3 RGB."""
    h, w = mask.shape
    # 1. features; the photo's only outside the hole and a band around it (its edge is not the scene's)
    band = max(3, int(0.01 * max(h, w)))
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * band + 1,) * 2, np.uint8)).astype(bool)
    pi, di = features(image, ~grown, side)
    pg, dg = features(guidance, None, side)
    if di is None or dg is None or len(pi) < 4 or len(pg) < 4:
        return Registration(False, None, 0, 0, "", "too few features to register the guidance (a flat or "
                                                    "tiny image?)")
    # 2. matches with the ratio test
    _, norm = _detector()
    pairs = cv2.BFMatcher(norm).knnMatch(dg, di, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return Registration(False, None, 0, len(good), "", f"only {len(good)} feature matches: the guidance "
                            "does not look like the photo's surroundings")
    src = np.array([pg[m.queryIdx] for m in good])
    dst = np.array([pi[m.trainIdx] for m in good])
    # 3. a global fit, then refitted on the inliers near the hole (parallax: the hole's plane matters)
    thresh = RANSAC_PX * max(h, w) / min(side, max(h, w))
    kind, M, inl = _fit(src, dst, thresh)
    if M is None or inl.sum() < MIN_INLIERS:
        return Registration(False, None, int(inl.sum()), len(good), "", f"{int(inl.sum())} consistent matches "
                            f"of {len(good)}: no single transform maps the guidance onto the photo")
    y0, x0, y1, x1 = _bbox(mask)
    r = 1.5 * max(y1 - y0, x1 - x0) + 0.1 * max(h, w)
    near = inl & (np.hypot(dst[:, 0] - (x0 + x1) / 2, dst[:, 1] - (y0 + y1) / 2) < r)
    if near.sum() >= 2 * MIN_INLIERS:
        k2, M2, inl2 = _fit(src[near], dst[near], thresh)
        if M2 is not None and inl2.sum() >= MIN_INLIERS:
            kind, M = k2, M2
    n_in = int(inl.sum())
    # 4. sanity
    why = _insane(M, kind, mask, guidance.shape[:2])
    if n_in < MIN_SHARE * len(good):
        why = f"only {n_in} of {len(good)} matches agree"
    if why:
        return Registration(False, None, n_in, len(good), kind, f"registration refused: {why}")
    reg = Registration(True, M, n_in, len(good), kind, "")
    reg.reason = (f"registered ({kind}, {n_in} of {len(good)} matches agree): the guidance is at scale "
                  f"{1 / reg.scale:.2f} of the photo, its content turned {reg.rotation:+.1f} degrees")
    return reg


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def _insane(M: np.ndarray, kind: str, mask: np.ndarray, gshape: tuple[int, int]) -> str:
    s = np.sqrt(abs(np.linalg.det(M[:2, :2])))
    if not 0.25 <= s <= 4 or np.linalg.det(M[:2, :2]) <= 0:
        return f"a scale of {s:.2f} (or a mirror image) is not a second photo of the scene"
    if kind == "homography" and np.abs(M[2, :2]).max() * max(mask.shape) > 0.3:
        return "the homography bends too much"
    # the hole's box, mapped into the guidance, must lie mostly inside it
    y0, x0, y1, x1 = _bbox(mask)
    box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    inv = np.linalg.inv(M)
    q = cv2.perspectiveTransform(box[None], inv)[0]
    gh, gw = gshape
    ys, xs = np.mgrid[0:1:17j, 0:1:17j]
    pts = (q[0] * ((1 - xs) * (1 - ys))[..., None] + q[1] * (xs * (1 - ys))[..., None]
           + q[2] * (xs * ys)[..., None] + q[3] * ((1 - xs) * ys)[..., None]).reshape(-1, 2)
    inside = ((pts[:, 0] >= 0) & (pts[:, 0] <= gw) & (pts[:, 1] >= 0) & (pts[:, 1] <= gh)).mean()
    if inside < 0.5:
        return f"only {inside:.0%} of the hole falls inside the guidance"
    return ""


def warp(guidance: np.ndarray, matrix: np.ndarray, shape: tuple[int, int], offset: tuple[float, float] = (0, 0),
         scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The guidance in the photo's frame: (uint8 H x W x 3, bool H x W valid), ``shape`` = (H, W) of the output
    whose pixel (x, y) is the photo's ((x + 0.5) / scale - 0.5 + offset x, ...). Downscaling warps go through
    an area-filtered copy of the guidance (no aliasing)."""
    ox, oy = offset
    # output px -> photo px -> guidance px
    to_photo = np.array([[1 / scale, 0, 0.5 / scale - 0.5 + ox], [0, 1 / scale, 0.5 / scale - 0.5 + oy], [0, 0, 1]])
    G = guidance
    pre = np.eye(3)
    shrink = scale / np.sqrt(abs(np.linalg.det(matrix[:2, :2])))   # output px per guidance px
    if shrink < 0.7:
        f = max(shrink, 1 / 64)
        G = cv2.resize(guidance, (max(1, round(guidance.shape[1] * f)), max(1, round(guidance.shape[0] * f))),
                       interpolation=cv2.INTER_AREA)
        fx, fy = G.shape[1] / guidance.shape[1], G.shape[0] / guidance.shape[0]
        pre = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])
    out_to_g = pre @ np.linalg.inv(matrix) @ to_photo              # output px -> (resized) guidance px
    H, W = shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    img = cv2.warpPerspective(G, out_to_g, (W, H), flags=flags, borderMode=cv2.BORDER_CONSTANT)
    ones = np.full(G.shape[:2], 255, np.uint8)
    valid = cv2.warpPerspective(ones, out_to_g, (W, H), flags=flags, borderMode=cv2.BORDER_CONSTANT) == 255
    return img, valid


@dataclass
class Exposure:
    gain: np.ndarray   # float 3: per channel, photo = gain * guidance + bias (0..255 values)
    bias: np.ndarray

    def apply(self, a: np.ndarray) -> np.ndarray:
        return np.clip(np.round(a.astype(np.float32) * self.gain + self.bias), 0, 255).astype(np.uint8)


def exposure_match(warped: np.ndarray, valid: np.ndarray, image: np.ndarray, mask: np.ndarray,
                   width: int | None = None) -> Exposure:
    """Per-channel gain and bias that give the warped guidance the photo's mean and spread on the known ring
    around the hole (``width`` px, default a third of the hole's size, at least 4), where both are neither
    clipped nor outside the guidance. Mean and standard deviation, not least squares: a registration a pixel
    off would pull a regression's gain towards zero, the spreads stay right."""
    y0, x0, y1, x1 = _bbox(mask)
    width = width or max(4, max(y1 - y0, x1 - x0) // 3)
    k = np.ones((2 * width + 1,) * 2, np.uint8)
    ring = cv2.dilate(mask.astype(np.uint8), k).astype(bool) & ~mask & valid
    a, b = warped[ring].astype(np.float64), image[ring].astype(np.float64)
    ok = ((a > 3) & (a < 252) & (b > 3) & (b < 252)).all(1)
    if ok.sum() < 50:
        return Exposure(np.ones(3), np.zeros(3))
    a, b = a[ok], b[ok]
    gain = np.clip(b.mean(0) / np.maximum(a.mean(0), 1.0), 1 / 3, 3)
    return Exposure(gain, np.zeros(3))
