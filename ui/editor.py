"""The ImageEditor both inpainting tabs paint holes in, and what they read from the user, once: the editor's
value <-> (photo, hole mask), uploads (scaled down to the tabs' size limit), a mask image (white = hole) and an
uploaded image file; and how a refused input reaches the user (a sentence) and the server log (one line).

How a hole reaches the editor. A hole the server makes (a generated hole, a bundled example's) is drawn INTO
the editor's background (the photo with the hole in HOLE_RGB), never sent as a layer. Gradio 6.31's editor
creates a layer loaded from the server at the size of everything on its canvas, which includes its brush's
preview texture, sized at the first canvas (``canvas_size``) or the largest photo shown since, and centres a
smaller layer image in it: on a 256 px photo in the 512 px canvas the hole appeared (512 - 256) / 2 = 128 px
down and right of where it was stored. The brush's own strokes go on layers the size of the photo, at its
origin, and come back exactly.

So each session keeps (a gr.State) what the server last put in its editor, a ``Shown``: the photo, the hole
drawn into it, and the background the page was sent. ``read_editor`` puts the hole back together: the shown
hole plus the strokes painted on the layers. A click that reaches the server carrying the background that
the last update replaced (or an earlier one the server sent) was made before the page received the last
update ("Fill" right after "Make a hole"): it is read as what the page shows since, the new photo and hole.
The editor also fires its upload event for a background the server sent, and on a slow page that echo can
arrive after a later update: ``Shown`` keeps the last few backgrounds sent, so a late echo is not taken for a
new photo (it was: the hole vanished and the next Fill was refused, measured with the browser's CPU slowed 4x).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass

import gradio as gr
import numpy as np

from synth.inpaint import REGISTRY, as_mask, as_rgb
from synth.inpaint.base import pil_to_array
from synth.inpaint.display import HOLE_RGB, UPLOAD_LIMIT, fit_photo, show_hole

LOG = logging.getLogger(__name__)

# The editor's tool palette floats over its canvas's left edge (left 15 px, 32 px wide) and its zoom and undo
# bar over the top right: a stroke started under them went to them, not to the photo. The drawing surface
# starts beside and below them. Gallery captions wrap rather than being cut off. (launch(css=...) in app.py)
EDITOR_CSS = """
.hole-editor .pixi-target { top: 44px !important; left: 56px !important;
                            width: calc(100% - 56px) !important; height: calc(100% - 44px) !important; }
.hole-gallery .caption-label { white-space: normal !important; }
"""


def refuse(message: str) -> gr.Error:
    """A refused input: the sentence in the page, one line in the server log, no traceback."""
    LOG.warning("refused input: %s", message)
    return gr.Error(message, print_exception=False)


def user_error(e: Exception) -> gr.Error:
    """A ValueError's sentence, capitalised (unless it starts with a method's name) and ended with a full stop,
    as a refusal (``refuse``)."""
    text = str(e).rstrip(".")
    if not any(text.startswith(name) for name in REGISTRY):
        text = text[:1].upper() + text[1:]
    return refuse(text + ".")


@contextmanager
def as_user_errors():
    """Inside: a ValueError or FileNotFoundError of synth (a sentence for the user) reaches the page as one."""
    try:
        yield
    except (ValueError, FileNotFoundError) as e:
        raise user_error(e) from None


def hole_editor(elem_id: str, limit: int = UPLOAD_LIMIT) -> gr.ImageEditor:
    """A photo editor whose brush paints the hole (in HOLE_RGB). Values arrive as PIL images in their own mode
    (16-bit grey, CMYK: read with ``pil_to_array``); they leave as PNG, so the photo arrives exact."""
    brush = "#{:02x}{:02x}{:02x}".format(*HOLE_RGB)
    return gr.ImageEditor(
        label=f"Photo (up to {limit} px on the long side; larger ones are scaled down): paint the hole",
        type="pil", image_mode=None, format="png", sources=["upload", "clipboard"], layers=False, transforms=(),
        brush=gr.Brush(colors=[brush], color_mode="fixed", default_size=16), eraser=gr.Eraser(default_size=16),
        canvas_size=(limit, limit), height=480, elem_id=elem_id, elem_classes=["hole-editor"])


# ---------------------------------------------------------------------------------------------- the editor

SENT_KEPT = 4      # how many earlier backgrounds a Shown remembers (late echoes, clicks made before an update)


@dataclass
class Shown:
    """What the server last put in a session's editor (kept in a gr.State)."""

    photo: np.ndarray                # uint8 H x W x 3, the original
    hole: np.ndarray                 # bool H x W, drawn into the background
    background: np.ndarray           # uint8 H x W x 3, the photo with the hole in HOLE_RGB: what the page was sent
    replaced: np.ndarray | None      # the background this one replaced, as the server received it
    sent: tuple = ()                 # earlier backgrounds sent to this editor, the latest first (SENT_KEPT)

    def is_current(self, bg: np.ndarray) -> bool:
        """``bg`` is the background the page was sent last."""
        return same_picture(bg, self.background)

    def was_sent(self, bg: np.ndarray) -> bool:
        """``bg`` is a background the server sent this editor: the last one or one of the few before it."""
        return self.is_current(bg) or any(same_picture(bg, b) for b in self.sent)

    def is_earlier(self, bg: np.ndarray) -> bool:
        """``bg`` is one the page showed before the last update: the one it replaced or one sent earlier."""
        return same_picture(bg, self.replaced) or any(same_picture(bg, b) for b in self.sent)


def show(photo: np.ndarray, hole: np.ndarray | None = None, replaced=None,
         before: Shown | None = None) -> tuple[dict, Shown]:
    """(photo, hole) -> (the ImageEditor value showing them, the session's ``Shown``). ``replaced``: the editor
    background the event that shows them received; ``before``: the session's Shown until now."""
    hole = np.zeros(photo.shape[:2], bool) if hole is None else np.asarray(hole, bool)
    background = show_hole(photo, hole) if hole.any() else photo
    old = None if replaced is None else as_array(replaced)[..., :3]
    sent = () if before is None else (before.background, *before.sent)[:SENT_KEPT]
    return {"background": background, "layers": [], "composite": None}, Shown(photo, hole, background, old, sent)


def as_array(image) -> np.ndarray:
    """An editor image (PIL of any mode, or array) -> uint8 array (H x W, or H x W x 3 or 4)."""
    from PIL import Image

    return pil_to_array(image) if isinstance(image, Image.Image) else np.asarray(image)


def same_picture(a: np.ndarray, b: np.ndarray | None) -> bool:
    """The same picture, up to a browser's re-encoding: same size, under 0.1% of pixels off by more than 8."""
    if b is None or a.shape[:2] != b.shape[:2] or a.ndim != 3 or a.shape[2] < 3:
        return False
    return float((np.abs(a[..., :3].astype(np.int16) - b[..., :3]).max(axis=2) > 8).mean()) < 0.001


def painted(value: dict, shape: tuple[int, int]) -> np.ndarray:
    """The strokes painted on the editor's layers (their alpha), bool H x W."""
    h, w = shape
    mask = np.zeros((h, w), bool)
    for layer in value.get("layers") or []:
        if layer is None:
            continue
        layer = as_array(layer)
        if layer.shape[:2] != (h, w):
            raise refuse(f"The painted layer is {layer.shape[1]}x{layer.shape[0]} but the photo is {w}x{h}.")
        mask |= (layer[..., 3] > 0) if layer.ndim == 3 and layer.shape[2] == 4 else (layer.reshape(h, w, -1) > 0).any(2)
    return mask


def read_editor(value, shown: Shown | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ImageEditor value (+ the session's ``Shown``) -> (photo uint8 H x W x 3, hole bool H x W): the hole
    the server drew into the background plus what was painted on the layers; see the module's docstring."""
    if not value or value.get("background") is None:
        raise refuse("Upload or pick a photo first.")
    with as_user_errors():
        bg = as_array(value["background"])
    if shown is not None and shown.is_current(bg):
        return shown.photo, shown.hole | painted(value, bg.shape[:2])
    if shown is not None and shown.is_earlier(bg):
        return shown.photo, shown.hole.copy()       # a click made before the page got shown.background
    # a photo the server did not send nor see uploaded
    if max(bg.shape[:2]) > UPLOAD_LIMIT:
        raise refuse(f"The photo is {bg.shape[1]}x{bg.shape[0]} px; this tab works on photos up to "
                     f"{UPLOAD_LIMIT} px on the long side: upload it again to have it scaled down.")
    with as_user_errors():
        image = as_rgb(bg)
    return image, painted(value, image.shape[:2])


def take_upload(value, shown: Shown | None = None):
    """The editor's upload event -> (editor value, ``Shown``, message). A photo over UPLOAD_LIMIT is scaled
    down and the editor gets it back with a message saying so; else the editor keeps it (gr.skip()).

    The editor fires its upload event for a background the server sent too (Gradio 6.31): that echo of
    ``shown.background``, or of one sent earlier and arriving late, changes nothing (gr.skip() for all
    three, so a message shown stays)."""
    if not value or value.get("background") is None:
        raise refuse("The upload could not be read as an image.")
    bg = as_array(value["background"])
    if shown is not None and shown.was_sent(bg):
        return gr.skip(), gr.skip(), gr.skip()
    with as_user_errors():
        photo, message = fit_photo(bg)
    new_value, new_shown = show(photo, replaced=bg, before=shown)
    return (new_value if message else gr.skip()), new_shown, message


# ---------------------------------------------------------------------------------------------- API inputs

def mask_from_image(m: np.ndarray) -> np.ndarray:
    """A mask image (uint8 H x W, or H x W x 2, 3 or 4) -> bool H x W: white = hole (any colour channel over
    127). A mask with alpha (grey + alpha, RGBA) is read as laid over black: alpha 0 means "not painted", so
    a fully transparent pixel is not hole whatever its colour, and a white one is hole from alpha 128 on."""
    m = np.asarray(m)
    if m.ndim == 2:
        return m > 127
    c = m.shape[2]
    level = (m[..., :3].max(axis=2) if c >= 3 else m[..., 0]).astype(np.uint16)
    if c in (2, 4):
        level = level * m[..., c - 1] // 255
    return level > 127


def read_photo_and_mask(image, mask) -> tuple[np.ndarray, np.ndarray]:
    """An API call's photo (any RGB/RGBA/grey image, 16-bit grey and CMYK included: array, PIL or file) and
    mask image (``mask_from_image``: white = hole, alpha 0 = not hole) -> (uint8 HxWx3, bool HxW); a missing
    one or a ValueError (wrong size, ...) becomes the user's message."""
    if image is None:
        raise refuse("No image: send the photo to fill.")
    if mask is None:
        raise refuse("No mask: send a mask image, white where the hole is.")
    image, mask = read_image_file(image, "photo"), read_image_file(mask, "mask")
    with as_user_errors():
        img = as_rgb(image)
        return img, as_mask(mask_from_image(mask), img.shape[:2])


def read_image_file(path, what: str) -> np.ndarray:
    """An uploaded file (or an array, or a PIL image) -> uint8 array, any PIL mode read with ``pil_to_array``
    (16-bit grey scaled, CMYK converted), or a refusal naming the file that could not be read."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(path, (np.ndarray, Image.Image)):
        return as_array(path)
    try:
        with Image.open(path) as im:
            im.load()
            return pil_to_array(im)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise refuse(f"Could not read the {what} as an image (PNG, JPEG, WebP...): {type(e).__name__}.") from None
