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

Beyond the paper: registration first (synth.guided.register). The network regresses one transform from
thumbnails and was trained on synthetic triplets; on two real photos of one scene it can land in the wrong
place. So ``run`` first registers the guidance to the photo with local features of the photo's known pixels
(RANSAC; refused when the evidence is weak). When that succeeds:

1. the guidance is warped into the photo's frame and given the photo's exposure (gain and bias per channel,
   fitted on the known ring around the hole);
2. the model gets the window's region enlarged by 96/64 of that registered guidance, so its transformer's
   centre-crop start is already right and its refinement passes only correct it;
3. the fill is, at FULL resolution, the registered guidance wherever it reaches and the model's prediction
   (enlarged from 64x64) where it does not, Poisson-blended into the hole's border (synth.inpaint.scales.
   poisson_blend, as the hole-filling tab). Not the model's attention: measured, mixing by it gained nothing
   on real pairs, and its false alarms turned the photo-itself example's exact copy into 30.7 dB (docs/guided.md).

Otherwise (``register=False``, or a guidance of another scene) the model's 64x64 prediction enlarged to the
window, which ``GuidedResult.note`` says; with ``detail`` (beyond the paper, synth.guided.fullres) plus the
guidance's high frequencies, sampled at full resolution by the model's own ``theta``, where it copies:
``fill = up(pred) + (1 - up(a)) * (aligned_full - lowpass(aligned_full))``, then the Poisson blend.
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
from synth.guided import fullres
from synth.guided import register as registration
from synth.guided.model import GuidedConfig, GuidedInpainting, masked_input
from synth.inpaint.base import Inpainter, as_mask, as_rgb, hole_bbox, resize
from synth.inpaint.scales import poisson_blend

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
    registered: bool = False  # the guidance was registered to the photo by features (synth.guided.register)
    inliers: int = 0          # the registration's consistent feature matches
    registration: str = ""    # a sentence: the registration found, or why there is none
    note: str = ""            # how the fill was made (full resolution copy, or the model's prediction enlarged)


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
        -> pred (uint8, known pixels pasted back), raw (the same before pasting), aligned (uint8), attention
        (float), theta."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        g = torch.from_numpy(np.ascontiguousarray(guides)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        m = torch.from_numpy(np.ascontiguousarray(masks_))[:, None].float()
        out = self.model(masked_input(x, m), m, g)
        to8 = lambda t: t.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()  # noqa: E731
        raw = to8(out["pred"])
        pred = np.where(masks_[..., None], raw, frames)
        return {"pred": pred, "raw": raw, "aligned": to8(out["aligned"]), "attention": out["attention"][:, 0].numpy(),
                "theta": out["theta"].numpy(), "thetas": torch.stack(out["thetas"], 1).numpy()}

    def run(self, image, mask, guidance, register: bool = True, match_colour: bool = True,
            detail: bool | None = None) -> GuidedResult:
        """The fill and what the tab shows of it. ``register``: try feature registration first;
        ``match_colour``: Poisson-blend the fill into the hole's border, and with a registration first give the
        guidance the photo's exposure (see the module's docstring). ``detail``: without a registration, add the
        guidance's full-resolution detail where the model copies (``r.aligned`` is then that full-resolution
        sample); None = on, except when ``register`` and ``match_colour`` are both False: the paper's method
        alone, bit for bit as before."""
        image = as_rgb(image)
        mask = as_mask(mask, image.shape[:2])
        guidance = as_guidance(guidance)
        if not mask.any():
            raise ValueError("the mask is empty: paint the hole to fill")
        if mask.all():
            raise ValueError("the mask covers the whole image: nothing is left to fill the hole from")
        # 1. the context window (the hole in its middle half), at the model's resolution
        win = Inpainter.context_window(image, mask, self.cfg.image_size)
        reg = registration.register(image, mask, guidance) if register else None
        if reg is not None and reg.ok:
            return self._run_registered(image, mask, guidance, win, reg, match_colour)
        detail = (register or match_colour) if detail is None else detail
        r = self._run_model(image, mask, guidance, win, match_colour, detail)
        r.registration = reg.reason if reg is not None else "registration not tried"
        return r

    def _run_model(self, image, mask, guidance, win, match_colour: bool, detail: bool) -> GuidedResult:
        """Without registration: the whole guidance, padded square, at 96x96; the prediction enlarged."""
        s, gs, side = self.cfg.image_size, self.cfg.guide_size, win.side
        guide = square_guidance(guidance, gs)
        out = self.forward(win.small[None], win.small_mask[None], guide[None])
        attention = self._attention(out["attention"][0], side)
        aligned = resize(out["aligned"][0], side)
        how = f"the model's {s}x{s} prediction" + (f", enlarged {side / s:.1f}x to the hole's window ({side} px)"
                                                     if side > s else "")
        # the model copies the guidance's colours (the paper's stated limitation: lighting): with match_colour
        # its raw prediction is Poisson-blended into the hole's border, as the hole-filling tab blends its fills
        pred = out["raw"][0] if match_colour else out["pred"][0]
        up = (cv2.resize(pred, (side, side), interpolation=cv2.INTER_CUBIC if side > s else cv2.INTER_AREA)
              if match_colour else resize(pred, side))
        if detail and side > s:
            # beyond the paper (synth.guided.fullres): the guidance sampled by the same theta at the window's
            # size, its detail finer than 64 px added where the model copies (1 - a) from the guidance itself
            full, valid = fullres.sample_full(guidance, out["theta"][0], side)
            weight = (1 - attention) * valid                                  # side x side
            up = up + weight[..., None] * fullres.high_pass(full, s)
            aligned = np.clip(np.round(full), 0, 255).astype(np.uint8)
            how += "; the guidance's detail added at full resolution where the model copies"
        if match_colour:
            up = poisson_blend(up.astype(np.float64), win.image.astype(np.float64), win.mask)
            how += "; Poisson-blended into the hole's border"
        result = win.paste(image, mask, np.clip(np.round(up), 0, 255).astype(np.uint8))
        sc, ox, oy = guidance_placement(guidance.shape[:2], gs)
        to_guidance = np.array([[sc, 0, -ox], [0, sc, -oy], [0, 0, 1]])       # 96-square px -> guidance px
        boxes = self._stage_boxes(win, out["thetas"][0], to_guidance)
        scale, rotation = self.describe_transform(out["theta"][0])
        return GuidedResult(result=result, aligned=aligned, attention=attention, window=(win.y0, win.x0, side),
                            guidance_box=boxes[-1], theta=out["theta"][0], stage_boxes=boxes, scale=scale,
                            rotation=rotation, note=how)

    def _run_registered(self, image, mask, guidance, win, reg: registration.Registration,
                        match_colour: bool) -> GuidedResult:
        s, gs, side = self.cfg.image_size, self.cfg.guide_size, win.side
        # 1. the registered guidance on the window, full resolution, with the photo's exposure
        copy, valid = registration.warp(guidance, reg.matrix, (side, side), offset=(win.x0, win.y0))
        exposure = (registration.exposure_match(copy, valid, win.image, win.mask) if match_colour
                    else registration.Exposure(np.ones(3), np.zeros(3)))
        copy = exposure.apply(copy)
        # 2. the model's guidance: the window's region enlarged by 96/64 around it, so the transformer's
        #    centre-crop start (theta = diag(64/96)) is the window itself
        big = side * gs / s
        lo = (big - side) / 2
        g96, v96 = registration.warp(guidance, reg.matrix, (gs, gs), offset=(win.x0 - lo, win.y0 - lo),
                                     scale=gs / big)
        g96 = np.where(v96[..., None], exposure.apply(g96), 0).astype(np.uint8)
        out = self.forward(win.small[None], win.small_mask[None], g96[None])
        # 3. full resolution: the registered guidance wherever it reaches, the model's prediction where it does
        #    not (a 3 px feathered edge); Poisson-blended into the hole's border. The model's attention is shown,
        #    not used here (see the module's docstring)
        reach = cv2.GaussianBlur(valid.astype(np.float32), (0, 0), 1.5) * valid
        alpha = (1 - reach)[..., None]
        raw = cv2.resize(out["raw"][0], (side, side), interpolation=cv2.INTER_CUBIC if side > s else cv2.INTER_AREA)
        mix = (1 - alpha) * copy + alpha * raw.astype(np.float64)
        if match_colour:
            mix = poisson_blend(mix, win.image.astype(np.float64), win.mask)
        result = win.paste(image, mask, np.clip(np.round(mix), 0, 255).astype(np.uint8))
        # where the transformer looked: 96-crop px -> photo px -> guidance px
        to_photo = np.array([[big / gs, 0, win.x0 - lo - 0.5], [0, big / gs, win.y0 - lo - 0.5], [0, 0, 1]])
        centre_to_edge = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
        boxes = self._stage_boxes(win, out["thetas"][0], centre_to_edge @ np.linalg.inv(reg.matrix) @ to_photo)
        share = float(valid[win.mask].mean())
        scale, rotation = self.describe_transform(out["theta"][0])     # the transformer's correction
        note = (f"the registered guidance copied at full resolution on {share:.0%} of the hole"
                + (f" (its exposure matched: gain {', '.join(f'{g:.2f}' for g in exposure.gain)})" if match_colour
                   else "") + f", the model's {s}x{s} prediction" + (f" enlarged {side / s:.1f}x" if side > s else "")
                + " elsewhere" + ("; Poisson-blended into the hole's border" if match_colour else ""))
        return GuidedResult(result=result, aligned=copy, attention=self._attention(out["attention"][0], side),
                            window=(win.y0, win.x0, side), guidance_box=boxes[-1], theta=out["theta"][0],
                            stage_boxes=boxes, scale=scale, rotation=rotation, registered=True,
                            inliers=reg.inliers, registration=reg.reason, note=note)

    @staticmethod
    def _attention(a: np.ndarray, side: int) -> np.ndarray:
        return cv2.resize(a, (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float32)

    def _stage_boxes(self, win, thetas: np.ndarray, to_guidance: np.ndarray) -> np.ndarray:
        """The hole's bounding box (window coords) through each transformer estimate into the 96x96 guidance,
        then by ``to_guidance`` (3 x 3, 96-square px -> guidance px): float32 K x 4 x 2 (x, y)."""
        s, gs, side = self.cfg.image_size, self.cfg.guide_size, win.side
        by0, bx0, by1, bx1 = hole_bbox(win.mask)
        corners = np.array([[bx0, by0], [bx1, by0], [bx1, by1], [bx0, by1]], np.float64) * (s / side)
        u = 2 * corners / s - 1
        out = []
        for t in thetas:
            p = (u @ t[:, :2].T + t[:, 2] + 1) * gs / 2                         # 96-square px (edges)
            out.append(cv2.perspectiveTransform(p[None], to_guidance)[0])
        return np.stack(out).astype(np.float32)

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
