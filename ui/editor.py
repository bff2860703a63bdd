"""The ImageEditor both inpainting tabs paint holes in, and what they read from the user, once: the editor's
value <-> (photo, hole mask), a mask image (white = hole) and an uploaded image file; and how a ValueError of
synth reaches the user.

The hole is what was painted on the editor's layers (their alpha); a generated hole is drawn on a layer in
synth.inpaint.display.HOLE_RGB.
"""

from __future__ import annotations

from contextlib import contextmanager

import gradio as gr
import numpy as np

from synth.inpaint import as_mask, as_rgb
from synth.inpaint.display import HOLE_RGB


def user_error(e: Exception) -> gr.Error:
    """A ValueError's sentence, capitalised and ended with a full stop, as a message in the page."""
    text = str(e).rstrip(".")
    return gr.Error(text[:1].upper() + text[1:] + ".")


def hole_editor(canvas_size: tuple[int, int], elem_id: str) -> gr.ImageEditor:
    """A photo editor whose brush paints the hole (in HOLE_RGB; PNG, so the photo arrives exact)."""
    brush = "#{:02x}{:02x}{:02x}".format(*HOLE_RGB)
    return gr.ImageEditor(
        label="Photo: paint the hole with the brush", type="numpy", image_mode="RGBA", format="png",
        sources=["upload", "clipboard"], layers=False, transforms=(),
        brush=gr.Brush(colors=[brush], color_mode="fixed", default_size=16),
        eraser=gr.Eraser(default_size=16), canvas_size=canvas_size, elem_id=elem_id)


@contextmanager
def as_user_errors():
    """Inside: a ValueError or FileNotFoundError of synth (a sentence for the user) reaches the page as one."""
    try:
        yield
    except (ValueError, FileNotFoundError) as e:
        raise user_error(e)


def editor_value(image: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """(photo, hole) -> an ImageEditor value: the photo as background, the hole painted on one layer."""
    layers = []
    if mask is not None:
        layer = np.zeros((*mask.shape, 4), np.uint8)
        layer[mask] = (*HOLE_RGB, 255)
        layers = [layer]
    return {"background": image, "layers": layers, "composite": None}


def read_editor(value) -> tuple[np.ndarray, np.ndarray]:
    """ImageEditor value -> (original uint8 HxWx3, hole bool HxW). The hole is what was painted on the layers."""
    if not value or value.get("background") is None:
        raise gr.Error("Upload or pick a photo first.")
    try:
        image = as_rgb(np.asarray(value["background"]))
    except ValueError as e:
        raise user_error(e)
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


def read_photo_and_mask(image, mask) -> tuple[np.ndarray, np.ndarray]:
    """An API call's photo (any RGB/RGBA/grey image: array or file) and mask image (white = hole: any colour
    channel over 127) -> (uint8 HxWx3, bool HxW); a missing one or a ValueError (wrong size, ...) becomes the
    user's message."""
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
        return img, as_mask(m > 127, img.shape[:2])
    except ValueError as e:
        raise user_error(e)


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
