"""What the guided-inpainting tab shows: the result beside the aligned guidance patch, the attention map over
the hole, where the transformer looked in the guidance, the Context Encoder's fill, and the lighting demo.

    from synth.guided import display
    c = display.compare_with_context_encoder(image, mask, guidance)   # uint8 RGB, bool (True = hole), uint8 RGB
    c.result, c.aligned, c.attention, c.where, c.context_encoder, c.note

Every function takes the model as ``model=`` (default: the bundled one, loaded once).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synth.inpaint import get_inpainter
from synth.inpaint.base import as_rgb, crop_padded
from synth.inpaint.display import show_hole
from synth.metrics import psnr_in_hole

from . import examples
from .inpainter import GuidedInpainter, GuidedResult, as_guidance, default_inpainter

CE_NAME = "context-encoder L2+adv"   # the unguided fill shown for comparison


def heat(a: np.ndarray) -> np.ndarray:
    """float H x W in [0, 1] -> uint8 H x W x 3 (OpenCV's inferno colour map)."""
    return cv2.cvtColor(cv2.applyColorMap(np.clip(a * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO),
                        cv2.COLOR_BGR2RGB)


def attention_picture(image: np.ndarray, mask: np.ndarray, r: GuidedResult) -> np.ndarray:
    """The attention map over the context window: colour inside the hole (bright = synthesise, dark = copy
    the aligned patch), the image greyed outside it, the hole's outline in white."""
    y0, x0, side = r.window
    win = crop_padded(image, y0, x0, side)
    win_mask = crop_padded(mask, y0, x0, side)
    grey = np.repeat(cv2.cvtColor(win, cv2.COLOR_RGB2GRAY)[..., None], 3, 2) // 2
    out = np.where(win_mask[..., None], heat(r.attention), grey).astype(np.uint8)
    contours, _ = cv2.findContours(win_mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 255), max(1, side // 128))
    return out


def guidance_picture(guidance: np.ndarray, r: GuidedResult) -> np.ndarray:
    """The guidance with the region the transformer sampled for the hole's bounding box outlined: green for
    its final estimate, yellow for the localisation network's first estimate where refinement passes moved it."""
    out = np.ascontiguousarray(as_guidance(guidance).copy())
    t = max(1, min(out.shape[:2]) // 128)
    stages = r.stage_boxes if r.stage_boxes is not None else r.guidance_box[None]
    if len(stages) > 1:
        cv2.polylines(out, [np.round(stages[0] - 0.5).astype(np.int32)], True, (255, 220, 0), t)
    cv2.polylines(out, [np.round(r.guidance_box - 0.5).astype(np.int32)], True, (0, 255, 0), t)
    return out


def registration_note(r: GuidedResult) -> str:
    """A sentence for the tab: whether the guidance was registered to the photo by features (beyond the paper)."""
    if r.registered:
        return (f"**Registration used** (beyond the paper): {r.registration}; the model got the guidance "
                "already aligned, and the hole takes the registered guidance's own pixels.")
    return (f"**No registration** ({r.registration}): the model alone looked for the content in the whole "
            "guidance, as in the paper.")


def guided_fill(image, mask: np.ndarray, guidance, model: GuidedInpainter | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(result, aligned guidance patch, attention picture): what the /guided_inpaint endpoint returns."""
    image = as_rgb(np.asarray(image))
    r = (model or default_inpainter()).run(image, mask, np.asarray(guidance))
    return r.result, r.aligned, attention_picture(image, mask, r)


@dataclass
class GuidedComparison:
    result: np.ndarray            # the guided fill
    aligned: np.ndarray           # the guidance patch as the transformer sampled it, on the context window
    attention: np.ndarray         # attention_picture
    where: np.ndarray             # guidance_picture
    context_encoder: np.ndarray   # the Context Encoder's fill of the same hole
    note: str                     # markdown: PSNR of both in the hole, the transform's scale and rotation


def compare_with_context_encoder(image: np.ndarray, mask: np.ndarray, guidance,
                                 model: GuidedInpainter | None = None) -> GuidedComparison:
    """The guided fill of a hole and everything the tab shows about it, beside the Context Encoder's fill."""
    r = (model or default_inpainter()).run(image, mask, np.asarray(guidance))
    ce = get_inpainter(CE_NAME).fill(image, mask)
    note = (f"{int(mask.sum())} hole pixels. PSNR in the hole against the photo before the hole was painted: "
            f"guided **{psnr_in_hole(r.result, image, mask):.1f} dB**, Context Encoder "
            f"**{psnr_in_hole(ce, image, mask):.1f} dB** (higher is closer to the original). "
            + registration_note(r) + f" The transformer's transform: scale {r.scale:.2f} of the centre crop's, "
            f"rotation {r.rotation:+.0f} degrees. The fill: {r.note}.")
    return GuidedComparison(r.result, r.aligned, attention_picture(image, mask, r), guidance_picture(guidance, r),
                            ce, note)


def lighting(model: GuidedInpainter | None = None
             ) -> tuple[np.ndarray, list[tuple[np.ndarray, str]], list[tuple[np.ndarray, str]]]:
    """The bundled limitation demo: (the original with its hole, the four relit guidance images with captions,
    per lighting the synthesis and the synthesis harmonized by DH's network, with their PSNR in the hole).
    The paper's method alone (no registration, no blending): the limitation is the paper's."""
    from synth.guided.harmonize import Harmonizer, harmonize_hole

    model = model or default_inpainter()
    harmonizer = Harmonizer()
    ex, lights = examples.lighting_demo()
    guides, results = [], []
    for name, g in lights:
        r = model.run(ex.image, ex.mask, g, register=False, match_colour=False)   # the paper's method
        both = harmonize_hole(r.result, ex.mask, harmonizer)
        guides.append((g, f"guidance: {name}"))
        results.append((r.result, f"{name}, guided: {psnr_in_hole(r.result, ex.image, ex.mask):.1f} dB"))
        results.append((both, f"{name}, guided + DH: {psnr_in_hole(both, ex.image, ex.mask):.1f} dB"))
    return show_hole(ex.image, ex.mask), guides, results
