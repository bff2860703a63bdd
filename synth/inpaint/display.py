"""What the two inpainting tabs show: the photo as the tabs take it, the hole drawn on it, the example photos,
which methods can fill a given hole, and every method that can side by side with its PSNR against the original.

    from synth.inpaint import display
    photo, message = display.fit_photo(upload)    # any PIL mode or uint8 array -> RGB, long side <= 1024 px
    plan = display.plan_methods(mask)             # the methods that run on this hole, and why the others don't
    c = display.compare_methods(photo, mask)      # uint8 HxWx3 RGB, bool HxW (True = hole)
    c.gallery                                     # [(image, caption)]: the hole, the original, every method run
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from synth import data
from synth.metrics import psnr_in_hole

from . import REGISTRY, get_inpainter
from .base import as_rgb, hole_bbox, pil_to_array

HOLE_RGB = (255, 0, 255)   # how a hole is drawn: on the photo here and in the tabs' editor
UPLOAD_LIMIT = 1024        # px, the long side of a photo in the tabs: larger uploads are scaled down to it
COMPACT_FILL = 0.6         # a compact hole covers at least this fraction of its bounding box (a disc: 0.79)
COMPACT_ASPECT = 1.5       # ... and its bounding box is at most this much longer than wide


def show_hole(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 with the hole's pixels painted HOLE_RGB."""
    out = image.copy()
    out[mask] = HOLE_RGB
    return out


def example_photos() -> dict[str, np.ndarray]:
    """The held-out photos' 256x256 views: never seen by any trained model or the nearest-neighbour database."""
    ex = data.load("photos256", "heldout")
    return {data.PHOTO_SOURCES[int(i)][0]: im for im, i in zip(ex.images, ex.labels)}


def fit_photo(image, limit: int = UPLOAD_LIMIT) -> tuple[np.ndarray, str]:
    """A photo as the tabs work on it -> (uint8 H x W x 3 RGB, message).

    ``image``: a PIL image of any mode (16-bit grey is scaled from its own range, CMYK converted:
    ``base.pil_to_array``) or a uint8 array (grey, grey + alpha, RGB, RGBA; alpha dropped). A photo whose long
    side is over ``limit`` px is scaled down (area filter) to ``limit`` px on its long side, and the message
    says so; otherwise the message is "". ValueError, naming the problem, for what no method can fill (sides
    under 32 px, a dtype other than uint8)."""
    import cv2
    from PIL import Image

    if isinstance(image, Image.Image):
        image = pil_to_array(image)
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim not in (2, 3):
        return as_rgb(a), ""                                  # as_rgb's message names what is wrong
    h, w = a.shape[:2]
    if max(h, w) <= limit:
        return as_rgb(a), ""
    s = limit / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(a, (nw, nh), interpolation=cv2.INTER_AREA)
    message = (f"The photo is {w}x{h} px; this tab works on photos up to {limit} px on the long side, so it was "
               f"scaled down to {nw}x{nh} px.")
    return as_rgb(small), message


# ---------------------------------------------------------------------------------------------- which methods

@dataclass
class HoleShape:
    pieces: int       # connected parts (8-connected)
    fill: float       # fraction of the bounding box (of all parts) that is hole
    aspect: float     # bounding box: longer side / shorter side
    why_not: str      # "" for a compact hole, else why it is not one (a phrase)

    @property
    def compact(self) -> bool:
        return not self.why_not


def hole_shape(mask: np.ndarray) -> HoleShape:
    """Is the hole one compact hole, like the centred square the central-hole models were trained on? One
    connected part, clear of the photo's border, covering at least COMPACT_FILL of its bounding box, whose
    sides differ by at most COMPACT_ASPECT times (a square, a disc, a blob painted in a few strokes)."""
    import cv2

    mask = np.asarray(mask, bool)
    if not mask.any():
        return HoleShape(0, 0.0, 1.0, "the mask is empty")
    pieces = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1
    y0, x0, y1, x1 = hole_bbox(mask)
    bh, bw = y1 - y0, x1 - x0
    fill, aspect = float(mask.sum()) / (bh * bw), max(bh, bw) / min(bh, bw)
    h, w = mask.shape
    if pieces > 1:
        why = f"it is {pieces} separate holes"
    elif y0 == 0 or x0 == 0 or y1 == h or x1 == w:
        why = "it touches the photo's border (they were trained with context all around the hole)"
    elif aspect > COMPACT_ASPECT:
        why = f"it is {bw}x{bh} px, not roughly square"
    elif fill < COMPACT_FILL:
        why = f"it covers only {fill:.0%} of its bounding box (a stroke or a ragged shape)"
    else:
        why = ""
    return HoleShape(pieces, fill, aspect, why)


def central_hole_only(name: str) -> bool:
    """True for a model trained on one centred square hole only: its checkpoint says ``mask_kind`` "central".
    Only learned methods (those with a checkpoint ``folder``) have one; weight-free methods fill any hole."""
    if not getattr(REGISTRY[name], "folder", ""):
        return False
    return getattr(get_inpainter(name), "mask_kind", None) == "central"


def any_hole_models() -> list[str]:
    """The learned methods trained on holes of any shape and place."""
    return [n for n, cls in REGISTRY.items() if getattr(cls, "folder", "") and not central_hole_only(n)]


@dataclass
class MethodPlan:
    run: list[str]             # REGISTRY order
    left_out: dict[str, str]   # name -> why it does not run on this photo and hole (a sentence)


def plan_methods(mask: np.ndarray) -> MethodPlan:
    """Which registered methods run on a hole (bool H x W, True = hole, on a photo of the same size), so
    that no method runs silently outside what it can do:

    - a method whose ``max_side`` the photo exceeds is left out with the method's own message;
    - a central-hole model (``central_hole_only``) runs only on a compact hole (``hole_shape``); for any
      other hole it is left out with why, naming the models trained on any hole."""
    mask = np.asarray(mask, bool)
    h, w = mask.shape
    shape = hole_shape(mask)
    run, left_out = [], {}
    for name, cls in REGISTRY.items():
        if max(h, w) > cls.max_side:
            try:   # the method refuses before any work; its message says why
                get_inpainter(name).fill(np.broadcast_to(np.uint8(0), (h, w, 3)), mask)
                raise AssertionError(f"{name} accepted a photo over its max_side")
            except ValueError as e:
                left_out[name] = str(e).rstrip(".") + "."
        elif central_hole_only(name) and not shape.compact:
            left_out[name] = (f"trained on one centred square hole only, and this hole is not one ({shape.why_not}); "
                              f"the models trained on any hole fill it: {', '.join(any_hole_models())}.")
        else:
            run.append(name)
    return MethodPlan(run, left_out)


def methods_markdown() -> str:
    """Every registered method named and explained (from its ``description``), in REGISTRY order."""
    lines = []
    for name, cls in REGISTRY.items():
        only = " Runs only on a single compact hole." if central_hole_only(name) else ""
        lines.append(f"- **{name}**: {cls.description}.{only}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- comparison

@dataclass
class MethodComparison:
    gallery: list[tuple[np.ndarray, str]]      # the hole, the original, then every method run with its PSNR
    candidates: list[tuple[np.ndarray, str]]   # per nearest-neighbour candidate: its completion, its source scene
    completions: list[np.ndarray]              # the candidates' completions, best first
    note: str                                  # markdown: what the numbers mean, the methods left out and why
    fills: dict[str, np.ndarray]               # name -> fill, for every method run
    left_out: dict[str, str]                   # name -> why it did not run (plan_methods)


def compare_methods(image: np.ndarray, mask: np.ndarray, progress: Callable | None = None) -> MethodComparison:
    """Every registered method that can fill this hole (``plan_methods``) on it (``image`` uint8 H x W x 3 RGB,
    ``mask`` bool H x W, True = hole, neither empty nor full), with the PSNR in the hole against ``image``, and
    the nearest-neighbour candidates. ``progress(fraction, desc=...)`` is called before each method with its
    name (gradio's gr.Progress fits). Captions are short ("name: 23.4 dB") so a projector shows them whole."""
    plan = plan_methods(mask)
    gallery = [(show_hole(image, mask), f"the hole ({100 * mask.mean():.1f}% of the photo)"),
               (image, "original (ground truth)")]
    steps = len(plan.run) + 1
    fills = {}
    for i, name in enumerate(plan.run):
        if progress is not None:
            progress(i / steps, desc=name)
        fills[name] = out = get_inpainter(name).fill(image, mask)
        gallery.append((out, f"{name}: {psnr_in_hole(out, image, mask):.1f} dB"))
    cand_gallery, completions = [], []
    if "nearest-neighbour" in fills:
        if progress is not None:
            progress(len(plan.run) / steps, desc="nearest-neighbour candidates")
        for i, c in enumerate(get_inpainter("nearest-neighbour").candidates(image, mask)):
            cand_gallery.append((c.image, f"#{i + 1}: {psnr_in_hole(c.image, image, mask):.1f} dB"))
            cand_gallery.append((c.source, f"#{i + 1}: its scene (crop {c.index})"))
            completions.append(c.image)
    note = (f"{mask.sum()} hole pixels. PSNR (dB, under each fill) is measured inside the hole against the photo "
            "before the hole was painted. Higher is closer to the original, not necessarily more plausible.")
    if plan.left_out:
        note += "\n\n**Left out for this photo and hole:**\n" + "\n".join(
            f"- **{name}**: {why}" for name, why in plan.left_out.items())
    return MethodComparison(gallery, cand_gallery, completions, note, fills, plan.left_out)
