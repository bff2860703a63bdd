"""The trained guided-inpainting model at any image size, with its inner workings for display.

    from synth.guided.inpainter import GuidedInpainter
    g = GuidedInpainter()                              # assets/checkpoints/guided
    out = g.fill(image, mask, guidance)                # uint8 HxWx3 RGB, bool HxW (True = hole), uint8 RGB
    r = g.run(image, mask, guidance)                   # r.result, r.aligned, r.attention, r.guidance_box ...

Like every learned hole filler, through the base class's context window (synth.inpaint.base:
``Inpainter.context_window``): a square window twice the hole's size, centred on it, goes to the model's 64x64
frame; the prediction comes back to the window's size and only the hole's pixels change, bit for bit. The
guidance image is padded to a square (black bars; the transformer samples zeros outside the guidance anyway)
and resized to 96x96. Neither an ``Inpainter`` subclass nor in synth.inpaint's registry: its ``fill`` needs a
third argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from synth import checkpoint
from synth.checkpoint import config_from_dict
from synth.data import ASSETS
from synth.guided.model import GuidedConfig, GuidedInpainting, masked_input
from synth.inpaint.base import Inpainter, as_mask, as_rgb, hole_bbox, resize

CHECKPOINTS = ASSETS / "checkpoints"
VARIANTS = {"guided": "guided", "guided no-attention": "guided_noattn", "guided no-STN": "guided_nostn"}
MIN_GUIDANCE = 32   # px, the guidance's shorter side


@dataclass
class GuidedResult:
    result: np.ndarray        # uint8 H x W x 3: the image with the hole filled
    aligned: np.ndarray       # uint8 side x side x 3: the guidance as the transformer sampled it, on the window
    attention: np.ndarray     # float32 side x side in [0, 1]: inconsistency of the aligned patch (1 = synthesise)
    window: tuple[int, int, int]   # (y0, x0, side) of the context window in the image
    guidance_box: np.ndarray  # float32 4 x 2: the hole's bounding box mapped into the guidance (x, y), its px
    theta: np.ndarray         # float32 2 x 3: the predicted transform (frame -> guidance, normalised coords)
    stage_boxes: np.ndarray | None = None   # float32 K x 4 x 2: guidance_box after each transformer stage,
                                            # coarse to fine (K = 1 + refinement passes; the last is guidance_box)
    scale: float = 1.0        # theta read as a student would: its scale relative to the centre crop's,
    rotation: float = 0.0     # and its rotation in degrees (describe_transform)


def as_guidance(guidance) -> np.ndarray:
    """A colour guidance image of any size from 32 px up -> uint8 H x W x 3 (alpha dropped). Grey images are
    refused: the model pulls colour content from the guidance."""
    if not isinstance(guidance, np.ndarray):
        from PIL import Image

        if not isinstance(guidance, Image.Image):
            raise ValueError(f"the guidance must be a numpy array or PIL image, got {type(guidance).__name__}")
        guidance = np.asarray(guidance.convert("RGB") if guidance.mode not in ("L", "LA", "1", "I", "F")
                              else guidance.convert("L"))
    g = guidance
    if g.dtype != np.uint8:
        raise ValueError(f"the guidance image must be uint8 (0..255), got dtype {g.dtype}")
    if g.ndim == 2 or (g.ndim == 3 and g.shape[2] in (1, 2)):
        raise ValueError("the guidance image is greyscale: guided inpainting copies colour content from it, "
                         "so give it a colour photo")
    if g.ndim != 3 or g.shape[2] not in (3, 4):
        raise ValueError(f"the guidance image must be H x W x 3 (RGB) or 4 (RGBA), got shape {g.shape}")
    if min(g.shape[:2]) < MIN_GUIDANCE:
        raise ValueError(f"the guidance image is {g.shape[1]}x{g.shape[0]} px: too small, its shorter side must "
                         f"be at least {MIN_GUIDANCE} px")
    g = np.ascontiguousarray(g[..., :3])
    if (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all():
        raise ValueError("the guidance image is greyscale (its red, green and blue are equal everywhere): "
                         "guided inpainting copies colour content from it, so give it a colour photo")
    return g


def square_guidance(g: np.ndarray, size: int) -> np.ndarray:
    """Pad to a square with black bars (centred), resize to size x size."""
    h, w = g.shape[:2]
    s = max(h, w)
    out = np.zeros((s, s, 3), np.uint8)
    y, x = (s - h) // 2, (s - w) // 2
    out[y:y + h, x:x + w] = g
    return resize(out, size)


def guidance_placement(shape: tuple[int, int], size: int) -> tuple[float, float, float]:
    """(scale, x offset, y offset): a point (x, y) in the size x size square is (x * scale - x offset,
    y * scale - y offset) in the original guidance."""
    h, w = shape
    s = max(h, w)
    return s / size, (s - w) / 2, (s - h) / 2


class GuidedInpainter:
    """``fill(image, mask, guidance)``: uint8 H x W x 3 RGB, bool H x W (True = hole), uint8 RGB guidance of
    any size -> uint8 H x W x 3 whose pixels outside the hole are the input's, bit for bit."""

    def __init__(self, folder: Path | str | None = None, name: str = "guided"):
        folder = Path(folder) if folder is not None else CHECKPOINTS / VARIANTS[name]
        meta = checkpoint.read_config(folder)
        if meta.get("model") != "guided":
            raise ValueError(f"{folder} holds a {meta.get('model')!r} checkpoint, not a guided-inpainting one")
        self.cfg: GuidedConfig = config_from_dict(GuidedConfig, meta["config"])
        self.meta, self.name, self.folder = meta, name, folder
        model = GuidedInpainting(self.cfg)
        self.model = checkpoint.load_part(folder, "model", model).float().eval()

    @torch.no_grad()
    def forward(self, frames: np.ndarray, masks_: np.ndarray, guides: np.ndarray) -> dict[str, np.ndarray]:
        """Batched, at the model's resolution: uint8 N x 64 x 64 x 3, bool N x 64 x 64, uint8 N x 96 x 96 x 3
        -> pred (uint8, known pixels pasted back), aligned (uint8), attention (float), theta."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        g = torch.from_numpy(np.ascontiguousarray(guides)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        m = torch.from_numpy(np.ascontiguousarray(masks_))[:, None].float()
        out = self.model(masked_input(x, m), m, g)
        to8 = lambda t: t.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()  # noqa: E731
        pred = to8(out["pred"])
        pred = np.where(masks_[..., None], pred, frames)
        return {"pred": pred, "aligned": to8(out["aligned"]), "attention": out["attention"][:, 0].numpy(),
                "theta": out["theta"].numpy(), "thetas": torch.stack(out["thetas"], 1).numpy()}

    def run(self, image, mask, guidance) -> GuidedResult:
        image = as_rgb(image)
        mask = as_mask(mask, image.shape[:2])
        guidance = as_guidance(guidance)
        if not mask.any():
            raise ValueError("the mask is empty: paint the hole to fill")
        if mask.all():
            raise ValueError("the mask covers the whole image: nothing is left to fill the hole from")
        s, gs = self.cfg.image_size, self.cfg.guide_size
        # 1. the context window (the hole in its middle half), at the model's resolution
        win = Inpainter.context_window(image, mask, s)
        side = win.side
        guide = square_guidance(guidance, gs)
        # 2. the model
        out = self.forward(win.small[None], win.small_mask[None], guide[None])
        # 3. back to the window's size; only the hole changes
        result = win.paste(image, mask, out["pred"][0])
        aligned = resize(out["aligned"][0], side)
        attention = cv2.resize(out["attention"][0], (side, side), interpolation=cv2.INTER_LINEAR)
        # 4. where the transformer looked: the hole's bounding box (window coords) mapped into the guidance
        by0, bx0, by1, bx1 = hole_bbox(win.mask)
        corners = np.array([[bx0, by0], [bx1, by0], [bx1, by1], [bx0, by1]], np.float64) * (s / side)
        u = 2 * corners / s - 1
        sc, ox, oy = guidance_placement(guidance.shape[:2], gs)
        boxes = np.stack([(u @ t[:, :2].T + t[:, 2] + 1) * gs / 2 * sc - np.array([ox, oy])
                          for t in out["thetas"][0]]).astype(np.float32)
        scale, rotation = self.describe_transform(out["theta"][0])
        return GuidedResult(result=result, aligned=aligned, attention=attention.astype(np.float32),
                            window=(win.y0, win.x0, side), guidance_box=boxes[-1], theta=out["theta"][0],
                            stage_boxes=boxes, scale=scale, rotation=rotation)

    def describe_transform(self, theta: np.ndarray) -> tuple[float, float]:
        """The transformer's 2 x 3 estimate decoded: (its scale relative to the fixed centre crop's, its
        rotation in degrees)."""
        scale = np.sqrt(abs(np.linalg.det(theta[:, :2]))) / self.cfg.base_scale
        return float(scale), float(np.degrees(np.arctan2(theta[1, 0], theta[0, 0])))

    def fill(self, image, mask, guidance) -> np.ndarray:
        return self.run(image, mask, guidance).result

    __call__ = fill


@lru_cache(maxsize=1)
def default_inpainter() -> GuidedInpainter:
    """The bundled model (assets/checkpoints/guided), loaded once and shared."""
    if not (CHECKPOINTS / "guided" / "config.json").exists():
        raise FileNotFoundError("no guided-inpainting checkpoint is bundled (assets/checkpoints/guided): train one "
                                "with python -m synth.train guided and export it")
    return GuidedInpainter()
