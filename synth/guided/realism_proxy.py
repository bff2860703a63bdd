"""A machine proxy for "does this fill look real?": a real-vs-fake classifier of photos with a filled hole,
trained on the photo pool's TRAINING photos only. It stands in for the crowd's real-vs-fake votes where no
crowd has voted; it is not a crowd result.

The classifier is told where the hole is (as a rater who knows where to look) and judges what is there
against its surroundings: hand-made features of the hole and of the ring of known pixels around it
(``features``), then a logistic regression. Why features and not a small CNN: the training set is a few
hundred fills made on the spot (every fill costs a method's run time, image melding about a second), too few
to train a CNN from scratch on one CPU thread in minutes; a dozen ratios of well-understood statistics
(colour, sharpness, noise, texture energy, the seam, copied pixels) learn from that and say what they judge.

    proxy = RealismProxy.fit(training_set(methods, size=256))
    proxy.p_real(images, masks)      # uint8 N x H x W x 3, bool N x H x W (True = hole) -> P(real) per image

Training set (``training_set``): each training photo's centred square crop with one off-centre square hole
(``synth.experiment_stimuli.holes``, the experiment's hole shape, other seeds) is one REAL example (the
untouched crop, judged at the place of the hole) and ``fakes_per_photo`` FAKE examples: the same crop filled
by the experiment's methods in turn; a guided method gets the top retrieved guidance among training photos
of another scene group (never the photo itself, its mirror image or a variant of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FEATURE_SIZE = 128   # every image is judged at 128 px: the experiment's 256 px crops of large held-out photos
#                      and the ~240 px training photos (upscaled to 256 by the crop) look alike at this size
RING = 6             # px (at FEATURE_SIZE): the known pixels the hole is compared with
SEAM = 2             # px each side of the hole's border
NN_PATCH, NN_SAMPLES = 7, 32   # px (at FEATURE_SIZE), patches sampled per image: ``self_similarity``
DUP_PATCH = 5        # px (at the image's own size): a hole patch found bit for bit outside the hole is copied
FEATURE_NAMES = (
    [f"|mean {c} hole - ring|" for c in "Lab"]
    + [f"log std {c} hole/ring" for c in "Lab"]
    + ["log gradient hole/ring", "log gradient p90 hole/ring", "log laplacian hole/ring",
       "log noise (median |laplacian|) hole/ring", "log gradient seam/around", "flat share hole - ring",
       "a,b histogram chi2 hole vs ring", "texture energy distance hole vs ring"]
    + [f"log gabor {k} hole/ring" for k in range(8)]
    + ["copied patch share", "log nearest-twin distance hole/known"])


def _log_ratio(a: float, b: float, eps: float = 1e-3) -> float:
    return float(np.log((a + eps) / (b + eps)))


def copied_share(image: np.ndarray, mask: np.ndarray, p: int = DUP_PATCH) -> float:
    """Share of the textured p x p patches inside the hole that occur bit for bit in the known image (patch-
    copying fills: patch-based, PatchMatch); ~0 for a photo, whose noise makes every patch unique."""
    win = sliding_window_view(np.ascontiguousarray(image), (p, p, 3))[:, :, 0]          # H' x W' x p x p x 3
    flat = win.reshape(win.shape[0] * win.shape[1], -1)
    textured = win.reshape(len(flat), -1).astype(np.float32).std(1) > 2
    hole_any = sliding_window_view(mask, (p, p)).any((2, 3)).ravel()
    hole_all = sliding_window_view(mask, (p, p)).all((2, 3)).ravel()
    inside = hole_all & textured
    if not inside.any():
        return 0.0
    keys = np.ascontiguousarray(flat).view(np.dtype((np.void, flat.shape[1]))).ravel()
    known = set(keys[~hole_any & textured].tolist())
    return float(np.mean([k in known for k in keys[inside].tolist()]))


def self_similarity(grey: np.ndarray, hole: np.ndarray, n: int = NN_SAMPLES, p: int = NN_PATCH) -> float:
    """log of (median over hole patches of the distance to their nearest known patch) / (the same for known
    patches near the hole, their own neighbourhood excluded). A fill stitched from the photo's own patches
    (PatchMatch blends them, so they are close but not bit for bit) has near twins outside the hole; a photo's
    hidden part is about as far from the rest as the rest is from itself: about 0."""
    r = p // 2
    h, w = grey.shape
    touched = cv2.dilate(hole.astype(np.uint8), np.ones((p, p), np.uint8)) > 0      # patch centres touching the hole
    valid = np.zeros_like(hole)
    valid[r:h - r, r:w - r] = True
    sources = (valid & ~touched)[r:h - r, r:w - r]                                    # known patches, as SSD map
    near = cv2.dilate(hole.astype(np.uint8), np.ones((4 * p + 1,) * 2, np.uint8)) > 0
    rng = np.random.default_rng(0)

    def nn(centres):
        ys, xs = np.nonzero(centres)
        pick = rng.choice(len(ys), min(n, len(ys)), replace=False) if len(ys) else []
        out = []
        for k in pick:
            y, x = int(ys[k]), int(xs[k])
            d = cv2.matchTemplate(grey, grey[y - r:y + r + 1, x - r:x + r + 1], cv2.TM_SQDIFF)
            ok = sources.copy()
            ok[max(0, y - p - r):y + p - r + 1, max(0, x - p - r):x + p - r + 1] = False  # not itself
            if ok.any():
                out.append(float(d[ok].min()) / (p * p))
        return float(np.median(out)) if out else 0.0

    inner = hole & valid & (cv2.erode(hole.astype(np.uint8), np.ones((p, p), np.uint8)) > 0)
    return _log_ratio(nn(inner), nn(valid & near & ~touched), 0.05)


def features(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 RGB, bool H x W (True = the hole, or where it would be) -> float32 (len(FEATURE_NAMES),)."""
    from synth.guided.retrieval import energy_maps

    mask = np.asarray(mask, bool)
    if not mask.any() or mask.all():
        raise ValueError("the mask must mark a hole: not empty and not the whole image")
    dup = copied_share(image, mask)
    # 1. one scale for every image: area-resized to FEATURE_SIZE; the hole is what stays mostly hole
    small = cv2.resize(image, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
    hole = cv2.resize(mask.astype(np.float32), (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA) > 0.5
    if not hole.any():
        hole = cv2.resize(mask.astype(np.float32), (FEATURE_SIZE,) * 2, interpolation=cv2.INTER_AREA) > 0
    grow = lambda m, r: cv2.dilate(m.astype(np.uint8), np.ones((2 * r + 1,) * 2, np.uint8)) > 0  # noqa: E731
    ring = grow(hole, RING) & ~hole
    seam = grow(hole, SEAM) & ~(cv2.erode(hole.astype(np.uint8), np.ones((2 * SEAM + 1,) * 2, np.uint8)) > 0)
    around = grow(hole, RING + SEAM) & ~seam
    if not ring.any():
        raise ValueError("the hole leaves no known pixels around it to compare with")
    # 2. colour (Lab, L in 0..100)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    f = [abs(float(lab[hole, c].mean() - lab[ring, c].mean())) for c in range(3)]
    f += [_log_ratio(lab[hole, c].std(), lab[ring, c].std(), 0.5) for c in range(3)]
    # 3. sharpness, noise, the seam (a pasted region's border), flat areas (a smooth, blurry fill)
    grey = lab[..., 0]
    grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))
    lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1))
    f += [_log_ratio(grad[hole].mean(), grad[ring].mean(), 0.1),
          _log_ratio(np.percentile(grad[hole], 90), np.percentile(grad[ring], 90), 0.1),
          _log_ratio(lap[hole].mean(), lap[ring].mean(), 0.05),
          _log_ratio(np.median(lap[hole]), np.median(lap[ring]), 0.05),
          _log_ratio(grad[seam].mean(), grad[around].mean(), 0.1),
          float((grad[hole] < 0.5).mean() - (grad[ring] < 0.5).mean())]
    # 4. colour histogram (a, b: 8 x 8 bins) and texture energy (8 Gabor channels) of hole against ring
    hist = [np.histogram2d(lab[m, 1], lab[m, 2], bins=8, range=[[-60, 60], [-60, 60]])[0].ravel() + 0.5
            for m in (hole, ring)]
    hist = [h / h.sum() for h in hist]
    f.append(float(((hist[0] - hist[1]) ** 2 / (hist[0] + hist[1])).sum()))
    gabor = energy_maps(small)[..., :8]
    eh, er = gabor[hole].mean(0), gabor[ring].mean(0)
    f.append(float(np.abs(eh / (eh.sum() + 1e-6) - er / (er.sum() + 1e-6)).sum()))
    f += [_log_ratio(a, b, 1e-3) for a, b in zip(eh, er)]
    # 5. pixels copied bit for bit
    f.append(dup)
    f.append(self_similarity(grey, hole))
    return np.asarray(f, np.float32)


def feature_matrix(images, masks) -> np.ndarray:
    return np.stack([features(im, m) for im, m in zip(images, masks)]) if len(images) else \
        np.zeros((0, len(FEATURE_NAMES)), np.float32)


@dataclass
class ProxyData:
    """The classifier's training examples: features, label (1 = real), the photo, the condition that made it."""

    x: np.ndarray
    y: np.ndarray
    photos: list[str]
    sources: list[str]                       # "real" or the condition whose fill it is
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)   # sample -> why it could not be made


def guidance_for_training(image, mask, setting: str, photo: str, group_of: dict[str, str]):
    """The best retrieved guidance for a TRAINING photo from another scene group: the database holds the
    training photos, so the photo itself (and its mirror image, and variants in its group) must be skipped."""
    from synth.guided.retrieval import MAX_K, retrieve

    for m in retrieve(image, mask, setting=setting, k=MAX_K):
        base = m.photo_id.replace(", mirrored", "")
        if group_of.get(base) != group_of[photo]:
            return m
    raise ValueError(f"no guidance for {photo} outside its own group among the top {MAX_K}")


def training_set(methods: dict, size: int = 256, seed: int = 0, settings=("a", "b"), n_photos: int | None = None,
                 fakes_per_photo: int = 2, guided=()) -> ProxyData:
    """Real crops and fills of the TRAINING photos (see the module docstring).

    ``methods``: condition -> a built method, ``fill(image, mask)`` or, for conditions in ``guided``,
    ``fill(image, mask, guidance)``. Methods take turns, so each makes about the same number of fakes; guided
    ones alternate the retrieval ``settings``. A fill that raises is skipped with its reason."""
    import time

    from synth import photo_pool
    from synth.experiment_stimuli import holes, square_crop

    rows = photo_pool.manifest("train")
    group_of = {r["id"]: r["group"] for r in rows}
    order = np.random.default_rng(seed).permutation(len(rows))[:n_photos]
    ids = [rows[i]["id"] for i in order]
    masks = holes(len(ids), size, seed + 1, 0.35, 0.45)
    conds = list(methods)
    xs, ys, photos, sources, seconds, skipped = [], [], [], [], {c: 0.0 for c in conds}, {}
    turn = 0
    for k, pid in enumerate(ids):
        crop = square_crop(np.asarray(photo_pool.load_photo(pid)), size)
        xs.append(features(crop, masks[k]))
        ys.append(1)
        photos.append(pid)
        sources.append("real")
        for _ in range(fakes_per_photo):
            c = conds[turn % len(conds)]
            setting = settings[(turn // len(conds)) % len(settings)]
            turn += 1
            t0 = time.perf_counter()
            try:
                if c in guided:
                    g = guidance_for_training(crop, masks[k], setting, pid, group_of)
                    fill = methods[c].fill(crop, masks[k], g.image)
                else:
                    fill = methods[c].fill(crop, masks[k])
            except Exception as e:  # noqa: BLE001 - one fake fewer, with its reason
                skipped[f"{pid}/{c}"] = f"{type(e).__name__}: {e}"
                continue
            finally:
                seconds[c] += time.perf_counter() - t0
            xs.append(features(fill, masks[k]))
            ys.append(0)
            photos.append(pid)
            sources.append(c)
    return ProxyData(np.stack(xs), np.asarray(ys), photos, sources, seconds, skipped)


class RealismProxy:
    """Standardised features -> logistic regression (classes weighted to count alike); real when P(real) > 0.5."""

    def __init__(self, model, train_photos: list[str]):
        self.model = model
        self.train_photos = sorted(set(train_photos))   # every photo an example was made from (all "train")

    @classmethod
    def fit(cls, data: ProxyData, c: float = 1.0) -> RealismProxy:
        return cls(_pipeline(c).fit(data.x, data.y), data.photos)

    def p_real_features(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)[:, 1] if len(x) else np.zeros(0)

    def p_real(self, images, masks) -> np.ndarray:
        return self.p_real_features(feature_matrix(images, masks))


def _pipeline(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000))


def grouped_cv(data: ProxyData, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Cross-validated accuracy on the training set, folds by photo (a photo's real and fakes together):
    share of real crops called real, and of fills called fake."""
    from sklearn.model_selection import GroupKFold

    pred = np.zeros(len(data.y))
    groups = np.asarray(data.photos)
    for tr, te in GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(data.x, data.y, groups):
        pred[te] = _pipeline(1.0).fit(data.x[tr], data.y[tr]).predict_proba(data.x[te])[:, 1]
    real = data.y == 1
    return {"real_called_real": float((pred[real] > 0.5).mean()),
            "fake_called_fake": float((pred[~real] <= 0.5).mean())}
