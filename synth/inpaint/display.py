"""What the two inpainting tabs show: the hole drawn on the photo, the example photos, and every registered
method side by side on one hole with its PSNR against the original.

    from synth.inpaint import display
    c = display.compare_methods(image, mask)     # uint8 HxWx3 RGB, bool HxW (True = hole)
    c.gallery                                     # [(image, caption)]: the hole, the original, every method
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from synth import data
from synth.metrics import psnr_in_hole

from . import REGISTRY, get_inpainter

HOLE_RGB = (255, 0, 255)   # how a hole is drawn: on the photo here, on the editor's layer in the tabs


def show_hole(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 with the hole's pixels painted HOLE_RGB."""
    out = image.copy()
    out[mask] = HOLE_RGB
    return out


def example_photos() -> dict[str, np.ndarray]:
    """The held-out photos' 256x256 views: never seen by any trained model or the nearest-neighbour database."""
    ex = data.load("photos256", "heldout")
    return {data.PHOTO_SOURCES[int(i)][0]: im for im, i in zip(ex.images, ex.labels)}


@dataclass
class MethodComparison:
    gallery: list[tuple[np.ndarray, str]]      # the hole, the original, then every method with its PSNR
    candidates: list[tuple[np.ndarray, str]]   # per nearest-neighbour candidate: its completion, its source scene
    completions: list[np.ndarray]              # the candidates' completions, best first
    note: str                                  # markdown: what the numbers mean


def compare_methods(image: np.ndarray, mask: np.ndarray, progress: Callable | None = None) -> MethodComparison:
    """Every registered method on one hole (``image`` uint8 H x W x 3 RGB, ``mask`` bool H x W, True = hole,
    neither empty nor full), with the PSNR in the hole against ``image``, and the nearest-neighbour
    candidates. ``progress(fraction, desc=...)`` is called before each method (gradio's gr.Progress fits)."""
    methods = list(REGISTRY)
    gallery = [(show_hole(image, mask), f"the hole ({100 * mask.mean():.1f}% of the photo)"),
               (image, "original (ground truth)")]
    for i, name in enumerate(methods):
        if progress is not None:
            progress(i / (len(methods) + 1), desc=name)
        out = get_inpainter(name).fill(image, mask)
        gallery.append((out, f"{name}: PSNR {psnr_in_hole(out, image, mask):.1f} dB"))
    if progress is not None:
        progress(len(methods) / (len(methods) + 1), desc="nearest-neighbour candidates")
    cands = get_inpainter("nearest-neighbour").candidates(image, mask)
    cand_gallery = []
    for i, c in enumerate(cands):
        cand_gallery.append((c.image, f"#{i + 1}: PSNR {psnr_in_hole(c.image, image, mask):.1f} dB"))
        cand_gallery.append((c.source, f"#{i + 1}: scene it was cut from (training crop {c.index})"))
    note = (f"{mask.sum()} hole pixels. PSNR is measured inside the hole against the photo before the hole "
            "was painted. Higher is closer to the original, not necessarily more plausible.")
    return MethodComparison(gallery, cand_gallery, [c.image for c in cands], note)
