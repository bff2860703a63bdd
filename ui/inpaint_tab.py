"""Hole filling tab: paint a hole (or generate one), see every method fill it, with PSNR against the original.

A thin layer over synth.inpaint (the methods) and synth.masks (the mask generators). Named endpoint
``/inpaint(image, mask, method)``: mask white = hole. Every image leaves as lossless PNG.
"""

from __future__ import annotations

import numpy as np
import gradio as gr

from synth import data, masks
from synth.inpaint import REGISTRY, as_mask, as_rgb, get_inpainter
from synth.inpaint.nearest import NearestNeighbour

METHODS = list(REGISTRY)
HOLE_RGBA = (255, 0, 255, 255)  # how a generated hole is drawn on the editor's layer


def example_photos() -> dict[str, np.ndarray]:
    """The held-out photos' 256x256 views: never seen by any trained model or the nearest-neighbour database."""
    ex = data.load("photos256", "heldout")
    return {data.PHOTO_SOURCES[int(i)][0]: im for im, i in zip(ex.images, ex.labels)}


EXAMPLES = example_photos()


def _error(e: Exception) -> gr.Error:
    return gr.Error(str(e).rstrip(".") + ".")


def psnr_in_hole(out: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    mse = float(((out.astype(np.float64) - original.astype(np.float64))[mask] ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def editor_value(image: np.ndarray, mask: np.ndarray | None = None) -> dict:
    layers = []
    if mask is not None:
        layer = np.zeros((*mask.shape, 4), np.uint8)
        layer[mask] = HOLE_RGBA
        layers = [layer]
    return {"background": image, "layers": layers, "composite": None}


def read_editor(value) -> tuple[np.ndarray, np.ndarray]:
    """ImageEditor value -> (original uint8 HxWx3, hole bool HxW). The hole is what was painted on the layers."""
    if not value or value.get("background") is None:
        raise gr.Error("Upload or pick a photo first.")
    try:
        image = as_rgb(np.asarray(value["background"]))
    except ValueError as e:
        raise _error(e)
    h, w = image.shape[:2]
    mask = np.zeros((h, w), bool)
    for layer in value.get("layers") or []:
        if layer is None:
            continue
        layer = np.asarray(layer)
        if layer.shape[:2] != (h, w):
            raise gr.Error(f"The painted layer is {layer.shape[1]}x{layer.shape[0]} but the photo is {w}x{h}.")
        mask |= (layer[..., 3] > 0) if layer.ndim == 3 and layer.shape[2] == 4 else (layer.reshape(h, w, -1) > 0).any(2)
    return image, mask


def show_hole(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = image.copy()
    out[mask] = HOLE_RGBA[:3]
    return out


def fill_all(value, progress=gr.Progress()):
    """Every method on the painted hole -> (gallery of (image, caption), nearest-neighbour candidates, note)."""
    image, mask = read_editor(value)
    if not mask.any():
        raise gr.Error("Paint a hole first (or press 'Make a hole'): the mask is empty.")
    if mask.all():
        raise gr.Error("The hole covers the whole photo: leave some of it to fill the hole from.")
    gallery = [(show_hole(image, mask), f"the hole ({100 * mask.mean():.1f}% of the photo)"),
               (image, "original (ground truth)")]
    for i, name in enumerate(METHODS):
        progress(i / (len(METHODS) + 1), desc=name)
        try:
            out = get_inpainter(name).fill(image, mask)
        except ValueError as e:
            raise _error(e)
        gallery.append((out, f"{name}: PSNR {psnr_in_hole(out, image, mask):.1f} dB"))
    progress(len(METHODS) / (len(METHODS) + 1), desc="nearest-neighbour candidates")
    nn: NearestNeighbour = get_inpainter("nearest-neighbour")
    cands = nn.candidates(as_rgb(image), mask)
    cand_gallery = []
    for i, c in enumerate(cands):
        cand_gallery.append((c.image, f"#{i + 1}: PSNR {psnr_in_hole(c.image, image, mask):.1f} dB"))
        cand_gallery.append((c.source, f"#{i + 1}: scene it was cut from (training crop {c.index})"))
    note = (f"{mask.sum()} hole pixels. PSNR is measured inside the hole against the photo before the hole "
            "was painted. Higher is closer to the original, not necessarily more plausible.")
    return gallery, cand_gallery, note, [c.image for c in cands], None


def pick_candidate(completions: list, evt: gr.SelectData):
    """A click on a candidate (or on the scene it was cut from) shows that completion large."""
    if not completions:
        raise gr.Error("Fill a hole first.")
    return completions[min(evt.index // 2, len(completions) - 1)]


def make_hole(value, kind: str, seed: float):
    image, _ = read_editor(value)
    h, w = image.shape[:2]
    return editor_value(image, masks.make_mask(kind, h, w, int(seed)))


def load_example(name: str):
    if name not in EXAMPLES:
        raise gr.Error(f"Unknown example {name!r}; pick one of {sorted(EXAMPLES)}.")
    return editor_value(EXAMPLES[name])


def read_image_file(path, what: str) -> np.ndarray:
    """An uploaded file -> uint8 array, or a gr.Error naming the file that could not be read."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(path, np.ndarray):
        return path
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "LA", "RGB", "RGBA"):
                im = im.convert("RGBA" if "A" in im.getbands() or im.mode == "P" else "RGB")
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise gr.Error(f"Could not read the {what} as an image (PNG, JPEG, WebP...): {type(e).__name__}.")


def inpaint(image, mask, method: str):
    """The API: image (any RGB/RGBA/grey photo), mask (white = hole, same size), method name -> filled image."""
    if method not in REGISTRY:
        raise gr.Error(f"Unknown method {method!r}; available: {', '.join(METHODS)}.")
    if image is None:
        raise gr.Error("No image: send the photo to fill.")
    if mask is None:
        raise gr.Error("No mask: send a mask image, white where the hole is.")
    image, mask = read_image_file(image, "photo"), read_image_file(mask, "mask")
    try:
        img = as_rgb(np.asarray(image))
        m = np.asarray(mask)
        if m.ndim == 3:
            m = m[..., :3].max(axis=2) if m.shape[2] >= 3 else m[..., 0]
        m = as_mask(m > 127, img.shape[:2])
        return get_inpainter(method).fill(img, m)
    except ValueError as e:
        raise _error(e)


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
            editor = gr.ImageEditor(
                label="Photo: paint the hole with the brush", type="numpy", image_mode="RGBA", format="png",
                sources=["upload", "clipboard"], layers=False, transforms=(),
                brush=gr.Brush(colors=["#ff00ff"], color_mode="fixed", default_size=16),
                eraser=gr.Eraser(default_size=16), canvas_size=(512, 512), elem_id="inpaint-editor")
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
