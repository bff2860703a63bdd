"""Hole filling tab: paint a hole (or generate one), see every method fill it, with PSNR against the original.

A thin layer over synth.inpaint (the methods, synth.inpaint.display's comparison) and synth.inpaint.masks
(the mask generators); ui.editor reads the editor and the uploads. Named endpoint
``/inpaint(image, mask, method)``: mask white = hole. Every image leaves as lossless PNG.
"""

from __future__ import annotations

import gradio as gr

from synth.inpaint import REGISTRY, display, get_inpainter, masks
from ui.editor import as_user_errors, editor_value, hole_editor, read_editor, read_photo_and_mask

METHODS = list(REGISTRY)
EXAMPLES = display.example_photos()


def fill_all(value, progress=gr.Progress()):
    """Every method on the painted hole -> (gallery of (image, caption), nearest-neighbour candidates, note)."""
    image, mask = read_editor(value)
    if not mask.any():
        raise gr.Error("Paint a hole first (or press 'Make a hole'): the mask is empty.")
    if mask.all():
        raise gr.Error("The hole covers the whole photo: leave some of it to fill the hole from.")
    with as_user_errors():
        c = display.compare_methods(image, mask, progress)
    return c.gallery, c.candidates, c.note, c.completions, None


def pick_candidate(completions: list, evt: gr.SelectData):
    """A click on a candidate (or on the scene it was cut from) shows that completion large."""
    if not completions:
        raise gr.Error("Fill a hole first.")
    return completions[min(evt.index // 2, len(completions) - 1)]


def make_hole(value, kind: str, seed: float):
    """The editor's photo with a generated hole (synth.inpaint.masks) on its layer."""
    image, _ = read_editor(value)
    h, w = image.shape[:2]
    return editor_value(image, masks.make_mask(kind, h, w, int(seed)))


def load_example(name: str):
    if name not in EXAMPLES:
        raise gr.Error(f"Unknown example {name!r}; pick one of {sorted(EXAMPLES)}.")
    return editor_value(EXAMPLES[name])


def inpaint(image, mask, method: str):
    """The API: image (any RGB/RGBA/grey photo), mask (white = hole, same size), method name -> filled image."""
    if method not in REGISTRY:
        raise gr.Error(f"Unknown method {method!r}; available: {', '.join(METHODS)}.")
    img, m = read_photo_and_mask(image, mask)
    with as_user_errors():
        return get_inpainter(method).fill(img, m)


def build_tab() -> None:
    gr.Markdown(
        "### Filling a hole\n"
        "Many things may plausibly fit the hole, and at most one is the ground truth. Paint a hole on a photo "
        "(or generate one) and compare: **nearest-neighbour cut-paste** (Hays & Efros 2007: paste a similar "
        "scene from the training photos, Poisson-blended), **patch-based** exemplar fill (Criminisi 2004), "
        "OpenCV's **Telea** and **Navier-Stokes**, **biharmonic** smoothing, the **mean colour**, and the "
        "**Context Encoder** (Pathak et al. 2016) trained with the L2 loss alone (blurry) or with the joint "
        "loss 0.999 L2 + 0.001 adversarial (sharper). The example photos were never seen in training.")
    with gr.Row():
        with gr.Column(scale=1):
            editor = hole_editor((512, 512), "inpaint-editor")
            with gr.Row():
                example = gr.Dropdown(sorted(EXAMPLES), label="Example photo (held out)", value=None,
                                      elem_id="inpaint-example")
            with gr.Row():
                kind = gr.Radio(list(masks.MASK_KINDS), value="central", label="Mask generator")
                seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)
            with gr.Row():
                make = gr.Button("Make a hole", elem_id="inpaint-make")
                run = gr.Button("Fill with every method", variant="primary", elem_id="inpaint-run")
        with gr.Column(scale=2):
            note = gr.Markdown()
            gallery = gr.Gallery(label="Every method (PSNR in the hole against the original)", columns=4,
                                 format="png", height="auto", elem_id="inpaint-gallery")
            cands = gr.Gallery(label="Nearest-neighbour candidates: completion and the scene it was cut from "
                               "(click one to pick it)", columns=4, format="png", height="auto",
                               elem_id="inpaint-candidates")
            chosen = gr.Image(label="Picked nearest-neighbour completion", type="numpy", format="png",
                              interactive=False, elem_id="inpaint-chosen")
            completions = gr.State([])
    with gr.Accordion("One method at a time (the /inpaint API)", open=False):
        with gr.Row():
            # files, not gr.Image: an unreadable upload then gets our message, not a preprocessing failure
            api_image = gr.File(label="Photo", file_types=["image"], type="filepath")
            api_mask = gr.File(label="Mask (white = hole)", file_types=["image"], type="filepath")
            api_out = gr.Image(label="Filled", type="numpy", format="png", interactive=False)
        api_method = gr.Dropdown(METHODS, value="context-encoder L2+adv", label="Method")
        api_run = gr.Button("Fill")

    example.change(load_example, example, editor, api_visibility="private")
    make.click(make_hole, [editor, kind, seed], editor, api_visibility="private")
    run.click(fill_all, editor, [gallery, cands, note, completions, chosen], api_visibility="private")
    cands.select(pick_candidate, completions, chosen, api_visibility="private")
    api_run.click(inpaint, [api_image, api_mask, api_method], api_out, api_name="inpaint")
