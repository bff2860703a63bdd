"""What every inpainter shares: input normalisation, the context window, pasting the known pixels back.

Conventions for every method: ``image`` is uint8 H x W x 3, RGB channel order; ``mask`` is bool H x W,
True = hole (the pixels to invent). The result is uint8 H x W x 3 whose pixels outside the hole are the
input's, bit for bit. Sides from 32 to 4000 px; a method that cannot work on photos that large says so
(``Inpainter.max_side``) with a clear error.

A method that works at a fixed resolution (the Context Encoder, nearest-neighbour scene matching, guided
inpainting) takes its input through ``Inpainter.context_window`` and gives its prediction back through
``ContextWindow.paste``: the one place where the window around the hole is cut, resized and pasted back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SIDE, MAX_SIDE = 32, 4000


def as_rgb(image) -> np.ndarray:
    """uint8 H x W (grey), H x W x 1, H x W x 2 (grey + alpha), H x W x 3 or H x W x 4 (alpha dropped) ->
    uint8 H x W x 3. PIL images are accepted too."""
    if not isinstance(image, np.ndarray):
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover - pillow is a dependency
            Image = None
        if Image is not None and isinstance(image, Image.Image):
            image = pil_to_array(image)
        else:
            raise ValueError(f"image must be a numpy array or PIL image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (0..255), got dtype {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image must be H x W, H x W x 1, 3 or 4 (grey, RGB, RGBA), got shape {image.shape}")
    h, w = image.shape[:2]
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ValueError(f"image sides must be {MIN_SIDE}..{MAX_SIDE} px, got {w}x{h} (width x height)")
    c = image.shape[2]
    if c in (1, 2):
        image = np.repeat(image[..., :1], 3, axis=2)
    elif c == 4:
        image = image[..., :3]
    return np.ascontiguousarray(image)


def pil_to_array(im) -> np.ndarray:
    """A PIL image of any mode -> uint8 H x W x 3 or 4. 16- and 32-bit greyscale and float images are scaled
    from their own range (PIL's plain conversion clips them to white); CMYK, palette and the rest go through
    PIL's RGB(A) conversion."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(a.max()), 1.0)
        if im.mode == "F" and a.max() <= 1.0:
            top = 1.0
        return np.round(np.clip(a / top, 0, 1) * 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    has_alpha = "A" in im.getbands() or (im.mode == "P" and "transparency" in im.info)
    return np.asarray(im.convert("RGBA" if has_alpha else "RGB"))


def as_mask(mask, shape: tuple[int, int]) -> np.ndarray:
    """bool H x W, True = hole. Integer masks: non-zero = hole; H x W x C masks: any channel non-zero."""
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask.any(axis=2) if mask.dtype == bool else (mask != 0).any(axis=2)
    if mask.ndim != 2:
        raise ValueError(f"mask must be H x W, got shape {mask.shape}")
    if mask.shape != tuple(shape):
        raise ValueError(f"mask is {mask.shape[0]}x{mask.shape[1]} but the image is {shape[0]}x{shape[1]}: "
                         "they must be the same size")
    return mask.astype(bool) if mask.dtype == bool else mask != 0


class Inpainter:
    """``fill(image, mask)``: uint8 H x W x 3 RGB, bool H x W (True = hole) -> uint8 H x W x 3.

    Subclasses implement ``_fill`` on normalised input with a non-empty, non-full mask; the base class
    checks and normalises the input and pastes every known pixel back, so they come out bit-identical."""

    name: str = ""
    description: str = ""
    max_side: int = MAX_SIDE      # the largest photo side the method can fill in reasonable time and memory

    def fill(self, image, mask) -> np.ndarray:
        image = as_rgb(image)
        mask = as_mask(mask, image.shape[:2])
        h, w = image.shape[:2]
        if max(h, w) > self.max_side:
            raise ValueError(f"{self.name} works on photos up to {self.max_side} px a side; this one is {w}x{h} "
                             "(width x height): downscale it first")
        if not mask.any():
            return image.copy()
        if mask.all():
            raise ValueError("the mask covers the whole image: nothing is left to fill the hole from")
        out = np.asarray(self._fill(image, mask))
        if out.shape != image.shape:
            raise RuntimeError(f"{self.name}: produced {out.shape}, expected {image.shape}")
        out = np.clip(out, 0, 255).astype(np.uint8) if out.dtype != np.uint8 else out
        return np.where(mask[..., None], out, image)

    __call__ = fill

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def context_window(image: np.ndarray, mask: np.ndarray, size: int, scale: float = 2.0) -> ContextWindow:
        """The hole's surroundings at a model's resolution ``size``, for every method trained on fixed-size
        crops (normalised ``image`` and a non-empty ``mask``, as ``_fill`` gets them)."""
        # 1. a square ``scale`` times the hole's size, centred on it (2: the hole in its middle half, as in the
        #    Context Encoder's training); mirrored where it leaves the image
        y0, x0, side = window_around(mask, scale)
        win = crop_padded(image, y0, x0, side)
        win_mask = crop_padded(mask, y0, x0, side)
        # 2. to the model's resolution; the hole grows to every pixel it touches (area or bilinear weights:
        #    a cubic filter's overshoot would grow it by pixels it does not touch)
        small = resize(win, size)
        small_mask = cv2_resize_mask(win_mask, size)
        return ContextWindow(y0, x0, side, win, win_mask, small, small_mask)


@dataclass
class ContextWindow:
    """A square window around the hole, at full resolution and at a model's (``Inpainter.context_window``)."""

    y0: int                  # top-left corner in the image (may be negative: the window can leave the image)
    x0: int
    side: int                # px, in the image
    image: np.ndarray        # uint8 side x side x 3: the window, mirrored at the image border
    mask: np.ndarray         # bool side x side, True = hole
    small: np.ndarray        # uint8 size x size x 3: the window at the model's resolution
    small_mask: np.ndarray   # bool size x size: the hole, grown to every pixel it touches

    def paste(self, image: np.ndarray, mask: np.ndarray, patch: np.ndarray) -> np.ndarray:
        """3. A prediction for the window (size x size, or already side x side) back to the window's size and
        into ``image``: only the pixels of the hole (``mask``) change."""
        out = paste_window(image, resize(patch, self.side), self.y0, self.x0)
        return np.where(mask[..., None], out, image)


def hole_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1), exclusive ends."""
    ys, xs = np.nonzero(mask)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def window_around(mask: np.ndarray, scale: float = 2.0, min_side: int = 16) -> tuple[int, int, int]:
    """A square (y0, x0, side) centred on the hole's bounding box, ``scale`` times its longer side, so the
    hole sits in the middle half as in the Context Encoder's training. It may reach outside the image."""
    y0, x0, y1, x1 = hole_bbox(mask)
    side = max(min_side, int(np.ceil(max(y1 - y0, x1 - x0) * scale)))
    side += side % 2
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    return int(round(cy - side / 2)), int(round(cx - side / 2)), side


def crop_padded(a: np.ndarray, y0: int, x0: int, side: int) -> np.ndarray:
    """a[y0:y0+side, x0:x0+side], mirrored at the image border where the window reaches outside."""
    h, w = a.shape[:2]
    top, left = max(0, -y0), max(0, -x0)
    bottom, right = max(0, y0 + side - h), max(0, x0 + side - w)
    if top or left or bottom or right:
        pad = [(top, bottom), (left, right)] + [(0, 0)] * (a.ndim - 2)
        a = np.pad(a, pad, mode="symmetric")
        y0, x0 = y0 + top, x0 + left
    return a[y0:y0 + side, x0:x0 + side]


def paste_window(dst: np.ndarray, patch: np.ndarray, y0: int, x0: int) -> np.ndarray:
    """Write ``patch`` at (y0, x0) into a copy of ``dst``, clipping what falls outside."""
    out = dst.copy()
    h, w = dst.shape[:2]
    s = patch.shape[0]
    ys, xs = max(0, y0), max(0, x0)
    ye, xe = min(h, y0 + s), min(w, x0 + s)
    out[ys:ye, xs:xe] = patch[ys - y0:ye - y0, xs - x0:xe - x0]
    return out


def resize(a: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if a.shape[0] == size and a.shape[1] == size:
        return a
    interp = cv2.INTER_AREA if a.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(a, (size, size), interpolation=interp)


def cv2_resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """bool side x side -> bool size x size, True wherever the resampling weights touch a hole pixel."""
    import cv2

    if mask.shape == (size, size):
        return mask.copy()
    interp = cv2.INTER_AREA if mask.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(mask.astype(np.float32), (size, size), interpolation=interp) > 0


def known_band(mask: np.ndarray, width: int) -> np.ndarray:
    """Known pixels within ``width`` px of the hole."""
    import cv2

    k = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool) & ~mask
