"""Guided inpainting tab (Zhao et al., WACV 2019): fill a hole with content pulled from a second image.

A thin layer over synth.guided (the model, the bundled examples). Shows the result beside what the spatial
transformer sampled (the aligned guidance patch, and where it looked in the guidance), the attention map
over the hole, and the Context Encoder's result. Named endpoint ``/guided_inpaint(image, mask, guidance)`` ->
(result, aligned guidance, attention map); mask white = hole. Every image leaves as lossless PNG.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import gradio as gr
import numpy as np

from synth.guided import examples
from synth.guided.inpainter import CHECKPOINTS, GuidedInpainter, GuidedResult, as_guidance
from synth.inpaint import as_mask, as_rgb, get_inpainter
from ui.inpaint_tab import editor_value, read_editor  # the same ImageEditor value <-> (photo, hole) mapping

HOLE_RGBA = (255, 0, 255, 255)
CE_NAME = "context-encoder L2+adv"


def _error(e: Exception) -> gr.Error:
    return gr.Error(str(e)[0].upper() + str(e).rstrip(".")[1:] + ".")


@lru_cache(maxsize=1)
def model() -> GuidedInpainter:
    if not (CHECKPOINTS / "guided" / "config.json").exists():
        raise gr.Error("No guided-inpainting checkpoint is bundled (assets/checkpoints/guided): train one with "
                       "python -m synth.train_guided and export it.")
    return GuidedInpainter()


def psnr_in_hole(out: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    mse = float(((out.astype(np.float64) - original.astype(np.float64))[mask] ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


# ---------------------------------------------------------------------------------------------- pictures

def heat(a: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.applyColorMap(np.clip(a * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO),
                        cv2.COLOR_BGR2RGB)


def attention_picture(image: np.ndarray, mask: np.ndarray, r: GuidedResult) -> np.ndarray:
    """The attention map over the context window: colour inside the hole (bright = synthesise, dark = copy
    the aligned patch), the image greyed outside it, the hole's outline in white."""
    from synth.inpaint.base import crop_padded

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


def show_hole(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = image.copy()
    out[mask] = HOLE_RGBA[:3]
    return out


# ---------------------------------------------------------------------------------------------- handlers

def run_guided(image: np.ndarray, mask: np.ndarray, guidance) -> GuidedResult:
    if guidance is None:
        raise gr.Error("No guidance image: upload or pick the photo to pull the hole's content from.")
    if not mask.any():
        raise gr.Error("The mask is empty: paint the hole first (in a mask image, white = hole).")
    try:
        return model().run(image, mask, np.asarray(guidance))
    except ValueError as e:
        raise _error(e)


def fill(value, guidance):
    """Editor + guidance -> (result, aligned patch, attention, guidance with the sampled region, Context
    Encoder's result, note)."""
    image, mask = read_editor(value)
    r = run_guided(image, mask, guidance)
    ce = get_inpainter(CE_NAME).fill(image, mask)
    note = (f"{int(mask.sum())} hole pixels. PSNR in the hole against the photo before the hole was painted: "
            f"guided **{psnr_in_hole(r.result, image, mask):.1f} dB**, Context Encoder "
            f"**{psnr_in_hole(ce, image, mask):.1f} dB** (higher is closer to the original). The transformer's "
            f"transform: scale {np.sqrt(abs(np.linalg.det(r.theta[:, :2]))) / model().cfg.base_scale:.2f} of the "
            f"centre crop's, rotation {np.degrees(np.arctan2(r.theta[1, 0], r.theta[0, 0])):+.0f} degrees.")
    return (r.result, r.aligned, attention_picture(image, mask, r), guidance_picture(guidance, r), ce, note)


def guided_inpaint(image, mask, guidance):
    """The API: image (RGB/RGBA/grey photo), mask (white = hole, same size), guidance (a colour photo of any
    size) -> (result, aligned guidance patch, attention map over the hole)."""
    if image is None:
        raise gr.Error("No image: send the photo to fill.")
    if mask is None:
        raise gr.Error("No mask: send a mask image, white where the hole is.")
    try:
        img = as_rgb(np.asarray(image))
        m = np.asarray(mask)
        if m.ndim == 3:
            m = m[..., :3].max(axis=2) if m.shape[2] >= 3 else m[..., 0]
        m = as_mask(m > 127, img.shape[:2])
    except ValueError as e:
        raise _error(e)
    if m.all():
        raise gr.Error("The hole covers the whole image: leave some of it to fill the hole from.")
    r = run_guided(img, m, guidance)
    return r.result, r.aligned, attention_picture(img, m, r)


def load_example(name: str):
    if name not in examples.EXAMPLES:
        raise gr.Error(f"Unknown example {name!r}; pick one of {sorted(examples.EXAMPLES)}.")
    ex = examples.example(name)
    return editor_value(ex.image, ex.mask), ex.guidance, ex.note


def lighting():
    """The bundled limitation demo: one original, the same guidance under four lightings, four syntheses."""
    ex, lights = examples.lighting_demo()
    guides, results = [], []
    for name, g in lights:
        r = model().run(ex.image, ex.mask, g)
        guides.append((g, f"guidance: {name}"))
        results.append((r.result, f"{name}: PSNR {psnr_in_hole(r.result, ex.image, ex.mask):.1f} dB"))
    return show_hole(ex.image, ex.mask), guides, results


# ---------------------------------------------------------------------------------------------- layout

def build_tab() -> None:
    gr.Markdown(
        "### Guided inpainting: replace a region with content pulled from another image\n"
        "The Context Encoder decides alone what goes into the hole. Guided inpainting (Zhao et al., WACV 2019) "
        "takes a **guidance image** from you and works in four steps: **localisation** (a spatial transformer "
        "finds the matching region in the guidance and samples it aligned with the hole), **fusion** (features "
        "of that aligned patch are fused with features of the incomplete image and its hole mask), "
        "**attention** (a branch marks where the patch does not fit the surroundings, so the network "
        "synthesises there instead of copying) and **decoding**. It was trained self-supervised: a patch of "
        "the photo, corrupted (colour, blur, noise, warp), pasted at a random place, size and angle into an "
        "unrelated photo. The example photos were never seen in training. The model works at 64x64 (trained "
        "10 minutes on a GPU, then an hour on a CPU): the hole's surroundings are scaled down to it and back. "
        "The transformer refines its first estimate (yellow) by comparing the hole's surroundings with what it "
        "sampled (green: the final estimate).")
    with gr.Row():
        with gr.Column(scale=1):
            editor = gr.ImageEditor(
                label="Photo: paint the hole with the brush", type="numpy", image_mode="RGBA", format="png",
                sources=["upload", "clipboard"], layers=False, transforms=(),
                brush=gr.Brush(colors=["#ff00ff"], color_mode="fixed", default_size=16),
                eraser=gr.Eraser(default_size=16), canvas_size=(examples.SIDE, examples.SIDE),
                elem_id="guided-editor")  # the examples' size: a hole set as a layer shows where it is
            guidance = gr.Image(label="Guidance image (a colour photo holding what belongs in the hole)",
                                type="numpy", format="png", image_mode="RGB", sources=["upload", "clipboard"],
                                elem_id="guided-guidance")
            example = gr.Dropdown(list(examples.EXAMPLES), label="Bundled example (photo, hole and guidance)",
                                  value=None, elem_id="guided-example")
            run = gr.Button("Fill the hole from the guidance", variant="primary", elem_id="guided-run")
        with gr.Column(scale=2):
            note = gr.Markdown(elem_id="guided-note")
            with gr.Row():
                result = gr.Image(label="Guided inpainting result", format="png", interactive=False,
                                  elem_id="guided-result")
                ce = gr.Image(label="Context Encoder (L2+adv), for comparison", format="png", interactive=False,
                              elem_id="guided-ce")
            with gr.Row():
                aligned = gr.Image(label="Aligned guidance patch (what the transformer sampled, on the hole's "
                                         "surroundings)", format="png", interactive=False, elem_id="guided-aligned")
                attention = gr.Image(label="Attention over the hole (bright = synthesise, dark = copy)",
                                     format="png", interactive=False, elem_id="guided-attention")
                where = gr.Image(label="Where the transformer looked in the guidance (green; yellow: its first "
                                       "estimate, before the refinement passes)", format="png",
                                 interactive=False, elem_id="guided-where")
    with gr.Accordion("Limitation: lighting (the same guidance under four lightings)", open=False):
        gr.Markdown("One original, one guidance photo relit four ways (gain, gamma, colour casts). The network "
                    "copies the patch's colours along with its content: it does not account for lighting, so "
                    "the fill follows the guidance's lighting, not the photo's.")
        light_run = gr.Button("Run the lighting demo", elem_id="guided-lighting-run")
        with gr.Row():
            light_orig = gr.Image(label="Original with its hole", format="png", interactive=False, scale=1)
            light_guides = gr.Gallery(label="Four guidance images", columns=4, format="png", height="auto",
                                      scale=4, elem_id="guided-lighting-guides")
        light_results = gr.Gallery(label="Four syntheses, side by side", columns=4, format="png", height="auto",
                                   elem_id="guided-lighting-results")
    with gr.Accordion("One call (the /guided_inpaint API)", open=False):
        with gr.Row():
            api_image = gr.Image(label="Photo", type="numpy", format="png", image_mode=None)
            api_mask = gr.Image(label="Mask (white = hole)", type="numpy", format="png", image_mode=None)
            api_guide = gr.Image(label="Guidance", type="numpy", format="png", image_mode=None)
        with gr.Row():
            api_out = gr.Image(label="Result", format="png", interactive=False)
            api_aligned = gr.Image(label="Aligned guidance", format="png", interactive=False)
            api_att = gr.Image(label="Attention map", format="png", interactive=False)
        api_run = gr.Button("Fill")

    example.change(load_example, example, [editor, guidance, note], api_visibility="private")
    run.click(fill, [editor, guidance], [result, aligned, attention, where, ce, note], api_visibility="private")
    light_run.click(lighting, None, [light_orig, light_guides, light_results], api_visibility="private")
    api_run.click(guided_inpaint, [api_image, api_mask, api_guide], [api_out, api_aligned, api_att],
                  api_name="guided_inpaint")
