"""Every metric the tabs and the evaluations report, defined once.

Images are uint8 (0..255) unless a docstring says [0, 1] floats; masks are bool, True = hole.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def _hole_diff(out: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """out - original over the hole's pixels, in [0, 1] units (uint8 images are 0..255, floats [0, 1])."""
    out, original = np.asarray(out), np.asarray(original)
    if out.dtype == original.dtype == np.uint8:
        return (out.astype(np.float64) - original.astype(np.float64))[mask] / 255.0
    as01 = [a.astype(np.float64) / (255.0 if a.dtype == np.uint8 else 1.0) for a in (out, original)]
    return (as01[0] - as01[1])[mask]


def psnr_in_hole(out: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB) over the hole's pixels only (all channels), the MSE floored at 1e-10 (so at most 100 dB);
    nan for an empty hole. uint8 images are read as 0..255, float images as [0, 1]."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return float("nan")
    d = _hole_diff(out, original, mask)
    return float(10 * np.log10(1.0 / max(float(np.mean(d ** 2)), 1e-10)))


def l1_in_hole(out: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error over the hole's pixels, in percent of the full range."""
    mask = np.asarray(mask, bool)
    return float(np.abs(_hole_diff(out, original, np.asarray(mask, bool))).mean()) * 100


def hole_scores(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(PSNR in dB, L1 in %) over the hole: the evaluations' per-image pair."""
    return psnr_in_hole(pred, gt, mask), l1_in_hole(pred, gt, mask)


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Per-pixel gradient magnitude of the grey image (the sharpness measure of the hole-filling table)."""
    g = np.asarray(image).astype(np.float32).mean(2)
    gy, gx = np.gradient(g)
    return np.hypot(gx, gy)


def hole_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Everything the hole-filling table reports for one image: L1 and L2 (%), PSNR, and the mean gradient
    magnitude in the hole of the fill and of the truth."""
    mask = np.asarray(mask, bool)
    d = (pred.astype(np.float64) - gt.astype(np.float64))[mask] / 255.0
    mse = float((d ** 2).mean())
    return {
        "l1": float(np.abs(d).mean()) * 100,
        "l2": mse * 100,
        "psnr": 10 * np.log10(1.0 / max(mse, 1e-10)),
        "grad": float(gradient_magnitude(pred)[mask].mean()),
        "grad_gt": float(gradient_magnitude(gt)[mask].mean()),
    }


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples), as in FID."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    if not np.isfinite(covmean).all():
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def fill_defects(fill: np.ndarray, original: np.ndarray, mask: np.ndarray, ring: int | None = None) -> dict[str, bool]:
    """What the eye catches in a fill, as numbers (uint8 HxWx3 images, bool mask, True = hole):
    - flat: the hole's grey levels vary by under 3 (standard deviation) where the original's vary by over 15;
    - off_colour: the hole's mean grey level is more than 40 away from the ring of known pixels around it
      (`ring` px wide; default 1/32 of the image side, at least 2)."""
    from scipy import ndimage

    mask = np.asarray(mask, bool)
    width = ring or max(2, mask.shape[0] // 32)
    band = ndimage.binary_dilation(mask, iterations=width) & ~mask
    grey, grey_orig = np.asarray(fill, np.float64).mean(2), np.asarray(original, np.float64).mean(2)
    return {"flat": bool(grey[mask].std() < 3 and grey_orig[mask].std() > 15),
            "off_colour": bool(abs(grey[mask].mean() - grey[band].mean()) > 40)}
