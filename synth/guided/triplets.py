"""Self-supervised training data for guided inpainting (Zhao et al., WACV 2019, section 3.4): triplets of
(original photo, hole, guidance image), with the true placement of the guidance patch kept as a label.

From an original 64x64 crop (the *frame*):

1. Hole: a centred region whose bounding box's longer side is half the frame (32 px), as the tab's context
   window puts every painted hole: a square, a rectangle, or an irregular blob inside the central square.
2. Patch: a square of the original larger than the hole (36..52 px) around it, its centre a few px off the
   hole's; in a ``gap_prob`` share of triplets it is shifted further so a strip of the hole is not covered
   (the *gap*: the guidance holds unrelated content there and the network must synthesise it).
3. Corruption of the patch: colour gain per channel, brightness, contrast, gamma, blur, noise and a small
   perspective warp (corner jitter), so copying it pixel for pixel is never the answer.
4. Guidance: the corrupted patch pasted into an unrelated photo (another source photo, 96x96) at a random
   scale (0.8..1.25), rotation (+-15 degrees) and position, wholly inside the guidance image.

Labels: the similarity transform frame -> guidance as the affine ``theta`` of ``F.affine_grid`` (normalised
coordinates, ``align_corners=False``), the patch box in the frame and its four corners in the guidance,
and the gap mask. Coordinates: *edge* coordinates, pixel i covers [i, i + 1] (x right, y down); pixel
centres are at i + 0.5. Held-out triplets come only from held-out photos (``split="heldout"``).
Same (split, seed, index), same triplet.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth import data

FRAME = 64      # the original's side (the model's working resolution)
GUIDE = 96      # the guidance image's side: larger than the frame, so the patch can be anywhere in it
HOLE = 32       # the hole's bounding box, longer side (half the frame, as in the Context Encoder)
HOLE_KINDS = ("square", "rectangle", "blob")


@dataclass
class TripletConfig:
    patch_min: int = 36           # patch side in the frame, px (always larger than the hole's 32)
    patch_max: int = 52
    jitter: int = 4               # patch centre offset from the hole's centre, +- px
    gap_prob: float = 0.25        # share of triplets whose patch leaves part of the hole uncovered
    gap_shift: tuple[int, int] = (6, 12)   # extra shift of the patch in those triplets, px
    scale: tuple[float, float] = (0.8, 1.25)
    rotation: float = 15.0        # degrees, +-
    corrupt: bool = True
    gain: float = 0.1             # per-channel colour gain 1 +- gain
    brightness: float = 10.0      # +- on 0..255
    contrast: float = 0.15        # 1 +- contrast
    gamma: float = 0.15           # exp(+- log(1 + gamma))
    blur: float = 1.0             # Gaussian sigma up to this (half of the patches)
    noise: float = 4.0            # Gaussian noise sigma up to this, on 0..255
    warp: float = 1.5             # perspective warp: corner jitter up to this, px
    hole_kinds: tuple[str, ...] = HOLE_KINDS


@dataclass
class Triplet:
    original: np.ndarray        # uint8 FRAME x FRAME x 3
    mask: np.ndarray            # bool FRAME x FRAME, True = hole
    guidance: np.ndarray        # uint8 GUIDE x GUIDE x 3
    theta: np.ndarray           # float32 2 x 3: frame -> guidance, normalised coords (affine_grid convention)
    patch_box: tuple[int, int, int, int]   # (x0, y0, x1, y1) of the patch in the frame, edge coords
    patch_quad: np.ndarray      # float32 4 x 2: the patch's corners (x, y) in the guidance, edge coords
    gap: np.ndarray             # bool FRAME x FRAME: hole pixels the pasted patch does not cover
    original_index: int         # row of the original in the split's photos
    background_index: int       # row of the unrelated photo the guidance was built on
    scale: float
    rotation: float             # degrees


# ---------------------------------------------------------------------------------------------- geometry

def similarity(scale: float, degrees: float) -> np.ndarray:
    r = np.deg2rad(degrees)
    return scale * np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])


def theta_from_similarity(a: np.ndarray, c_frame: np.ndarray, c_guide: np.ndarray,
                          frame: int = FRAME, guide: int = GUIDE) -> np.ndarray:
    """X_g = A (X_f - c_frame) + c_guide in edge coords -> theta mapping normalised frame coords u_f to
    normalised guidance coords u_g = theta @ [u_f, 1] (u = 2 X / side - 1)."""
    lin = a * (frame / guide)
    t = (a @ (np.array([frame / 2, frame / 2]) - c_frame) + c_guide) * (2 / guide) - 1
    return np.concatenate([lin, t[:, None]], 1).astype(np.float32)


def map_points(theta: np.ndarray, pts: np.ndarray, frame: int = FRAME, guide: int = GUIDE) -> np.ndarray:
    """Frame edge coords (N x 2, x y) -> guidance edge coords through ``theta``."""
    u = 2 * np.asarray(pts, np.float64) / frame - 1
    ug = u @ np.asarray(theta, np.float64)[:, :2].T + np.asarray(theta, np.float64)[:, 2]
    return (ug + 1) * guide / 2


def box_corners(box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex quadrilaterals (4 x 2, any consistent winding)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    area_a, area_b = abs(cv2.contourArea(a)), abs(cv2.contourArea(b))
    inter, _ = cv2.intersectConvexConvex(a, b)
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


# ---------------------------------------------------------------------------------------------- pieces

def make_hole(kind: str, rng: np.random.Generator, frame: int = FRAME, hole: int = HOLE) -> np.ndarray:
    """bool frame x frame; the hole's bounding box is centred with its longer side ``hole``."""
    m = np.zeros((frame, frame), bool)
    lo = (frame - hole) // 2
    if kind == "square":
        m[lo:lo + hole, lo:lo + hole] = True
    elif kind == "rectangle":
        short = int(rng.integers(hole // 2, hole + 1))
        off = (hole - short) // 2
        if rng.random() < 0.5:
            m[lo + off:lo + off + short, lo:lo + hole] = True
        else:
            m[lo:lo + hole, lo + off:lo + off + short] = True
    elif kind == "blob":
        from synth.inpaint import masks

        blob = masks.random_region(hole, hole, seed=int(rng.integers(2 ** 31)), cover=0.5, smooth=0.2)
        # stretched so its bounding box's longer side is ``hole``, as the tab's window scales a painted hole
        ys, xs = np.nonzero(blob)
        blob = blob[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.uint8)
        k = hole / max(blob.shape)
        h, w = min(hole, max(1, round(blob.shape[0] * k))), min(hole, max(1, round(blob.shape[1] * k)))
        blob = cv2.resize(blob, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        y, x = (frame - h) // 2, (frame - w) // 2
        m[y:y + h, x:x + w] = blob
    else:
        raise KeyError(f"unknown hole kind {kind!r}; available: {list(HOLE_KINDS)}")
    return m


def corrupt_patch(patch: np.ndarray, cfg: TripletConfig, rng: np.random.Generator) -> np.ndarray:
    """Colour, contrast, gamma, blur, noise and a small perspective warp (float32 0..255 out)."""
    x = patch.astype(np.float32)
    if not cfg.corrupt:
        return x
    p = x.shape[0]
    # 1. small warp: jitter the corners, warp, mirror the border
    src = box_corners((0, 0, p, p)).astype(np.float32) - 0.5
    dst = src + rng.uniform(-cfg.warp, cfg.warp, size=src.shape).astype(np.float32)
    x = cv2.warpPerspective(x, cv2.getPerspectiveTransform(src, dst), (p, p), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    # 2. blur for half of the patches
    if rng.random() < 0.5:
        x = cv2.GaussianBlur(x, (0, 0), sigmaX=float(rng.uniform(0.3, cfg.blur)))
    # 3. colour: contrast around the mean, per-channel gain, brightness, gamma
    mean = x.mean((0, 1), keepdims=True)
    x = (x - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + mean
    x = x * rng.uniform(1 - cfg.gain, 1 + cfg.gain, size=3).astype(np.float32)
    x = x + rng.uniform(-cfg.brightness, cfg.brightness)
    g = float(np.exp(rng.uniform(-1, 1) * np.log1p(cfg.gamma)))
    x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** g
    # 4. sensor noise
    x = x + rng.normal(0, rng.uniform(0, cfg.noise), size=x.shape).astype(np.float32)
    return np.clip(x, 0, 255)


def upscale_background(photo: np.ndarray, guide: int = GUIDE) -> np.ndarray:
    if photo.shape[0] == guide:
        return photo.copy()
    return cv2.resize(photo, (guide, guide), interpolation=cv2.INTER_CUBIC)


def paste(background: np.ndarray, patch: np.ndarray, a: np.ndarray, c_guide: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``patch`` (p x p, float) into ``background`` with X_g = A (X_p - p/2) + c_guide (edge coords).
    Returns the composite (uint8) and the patch's coverage (float 0..1, antialiased edges)."""
    g = background.shape[0]
    p = patch.shape[0]
    inv = np.linalg.inv(a)
    # pixel centres: x_p = inv (x_g + 0.5 - c_guide) + p/2 - 0.5
    m = np.concatenate([inv, (inv @ (0.5 - c_guide) + p / 2 - 0.5)[:, None]], 1)
    warped = cv2.warpAffine(patch, m, (g, g), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    # coverage: a warped all-ones patch (bilinear, so the patch's edge is antialiased like a photo's)
    alpha = cv2.warpAffine(np.ones((p, p), np.float32), m, (g, g), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = warped * alpha[..., None] + background.astype(np.float32) * (1 - alpha[..., None])
    return np.clip(np.round(out), 0, 255).astype(np.uint8), alpha


# ---------------------------------------------------------------------------------------------- triplets

def make_triplet(originals: np.ndarray, labels: np.ndarray, index: int, rng: np.random.Generator,
                 cfg: TripletConfig | None = None, hole_kind: str | None = None,
                 backgrounds: np.ndarray | None = None, background_labels: np.ndarray | None = None) -> Triplet:
    """One triplet from ``originals[index]``; the guidance is built on a photo with another label (another
    source photo). ``backgrounds`` defaults to ``originals`` (same split)."""
    cfg = cfg or TripletConfig()
    if backgrounds is None:
        backgrounds, background_labels = originals, labels
    original = originals[index]
    f = original.shape[0]
    if original.shape[:2] != (FRAME, FRAME):
        raise ValueError(f"originals must be {FRAME}x{FRAME}, got {original.shape[:2]}")
    # 1. the hole
    kind = hole_kind or cfg.hole_kinds[int(rng.integers(len(cfg.hole_kinds)))]
    mask = make_hole(kind, rng)
    # 2. the patch: larger than the hole, around it; sometimes shifted to leave a gap
    p = int(rng.integers(cfg.patch_min, cfg.patch_max + 1))
    centre = np.array([f / 2, f / 2]) + rng.integers(-cfg.jitter, cfg.jitter + 1, size=2)
    if rng.random() < cfg.gap_prob:
        p = min(p, FRAME - HOLE // 2 - cfg.gap_shift[1])   # small enough to leave the hole inside the frame
        centre = np.array([f / 2, f / 2]) + rng.integers(-cfg.jitter, cfg.jitter + 1, size=2)
        axis = int(rng.integers(2))
        need = (p - HOLE) / 2       # shift at which the patch's edge reaches the hole's edge
        centre[axis] += rng.choice([-1, 1]) * (need + rng.uniform(*cfg.gap_shift) / 2 + cfg.jitter)
    x0 = int(np.clip(round(centre[0] - p / 2), 0, f - p))
    y0 = int(np.clip(round(centre[1] - p / 2), 0, f - p))
    box = (x0, y0, x0 + p, y0 + p)
    # the corruption draws from its own generator: with or without it, the geometry is the same
    patch = corrupt_patch(original[y0:y0 + p, x0:x0 + p], cfg, np.random.default_rng(rng.integers(2 ** 63)))
    # 3. the placement in the guidance: scale, rotation, a position keeping the whole patch inside
    s = float(rng.uniform(*cfg.scale))
    deg = float(rng.uniform(-cfg.rotation, cfg.rotation))
    r = np.deg2rad(deg)
    half = s * p * (abs(np.cos(r)) + abs(np.sin(r))) / 2     # half-extent of the rotated patch
    if half > GUIDE / 2 - 1:
        s *= (GUIDE / 2 - 1) / half
        half = GUIDE / 2 - 1
    c_guide = rng.uniform(half + 1, GUIDE - half - 1, size=2)
    a = similarity(s, deg)
    # 4. an unrelated photo (another source photo) as the rest of the guidance
    others = np.flatnonzero(background_labels != labels[index])
    if len(others) == 0:
        raise ValueError("the guidance needs a photo from another source photo; only one source is given")
    b = int(others[rng.integers(len(others))])
    guidance, alpha = paste(upscale_background(backgrounds[b]), patch, a, c_guide)
    # 5. labels: frame -> guidance transform, the patch's corners there, the uncovered part of the hole
    c_frame = np.array([x0 + p / 2, y0 + p / 2])
    theta = theta_from_similarity(a, c_frame, c_guide)
    quad = (box_corners(box) - c_frame) @ a.T + c_guide
    covered = np.zeros((f, f), bool)
    covered[y0:y0 + p, x0:x0 + p] = True
    return Triplet(original=original.copy(), mask=mask, guidance=guidance, theta=theta, patch_box=box,
                   patch_quad=quad.astype(np.float32), gap=mask & ~covered, original_index=int(index),
                   background_index=b, scale=s, rotation=deg)


class TripletSource:
    """Triplets from one split of the bundled photos (``assets/data/photos``). ``triplet(i)`` is a pure
    function of (split, seed, i): the i-th original is ``i mod N``, the randomness comes from (seed, i)."""

    def __init__(self, split: str = "train", seed: int = 0, cfg: TripletConfig | None = None,
                 hole_kind: str | None = None, limit: int | None = None, images: np.ndarray | None = None,
                 labels: np.ndarray | None = None):
        if images is None:
            ds = data.load("photos", split)
            images, labels = ds.images, ds.labels
        self.images = images[:limit]
        self.labels = labels[:limit]
        self.split, self.seed, self.cfg, self.hole_kind = split, seed, cfg or TripletConfig(), hole_kind

    def __len__(self) -> int:
        return len(self.images)

    def triplet(self, i: int) -> Triplet:
        rng = np.random.default_rng([self.seed, i])
        return make_triplet(self.images, self.labels, i % len(self.images), rng, self.cfg, self.hole_kind)

    def batch(self, indices) -> dict[str, np.ndarray]:
        """Stacked arrays of several triplets (what the trainer and the evaluation read)."""
        ts = [self.triplet(int(i)) for i in indices]
        return stack(ts)


def stack(ts: list[Triplet]) -> dict[str, np.ndarray]:
    return {
        "original": np.stack([t.original for t in ts]),
        "mask": np.stack([t.mask for t in ts]),
        "guidance": np.stack([t.guidance for t in ts]),
        "theta": np.stack([t.theta for t in ts]),
        "patch_box": np.array([t.patch_box for t in ts], np.float32),
        "patch_quad": np.stack([t.patch_quad for t in ts]),
        "gap": np.stack([t.gap for t in ts]),
    }
