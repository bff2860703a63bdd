"""The learned fills behind the common interface.

Context Encoders: the central-hole models (the lecture's figure) take one context window around the hole at
the model's trained resolution (the hole in its middle half, as in training); the any-hole model covers the
hole with tiles sized to it (``synth.inpaint.scales.tiles``), all in one batch. GLCIC is fully convolutional:
each group of holes is filled at the scale where its radius is one it was trained on, then Poisson-blended
(``synth.inpaint.scales.fill_fully_convolutional``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synth import checkpoint
from synth.checkpoint import config_from_dict
from synth.data import ASSETS

from . import scales
from .base import Inpainter
from .context_encoder import ContextEncoder, ContextEncoderConfig, masked_input
from .glcic import CompletionNetwork, GLCICConfig

CHECKPOINTS = ASSETS / "checkpoints"


class ContextEncoderInpainter(Inpainter):
    folder: str = ""

    def __init__(self, folder: Path | None = None, blend: bool = True):
        folder = Path(folder) if folder is not None else CHECKPOINTS / self.folder
        meta = checkpoint.read_config(folder)
        self.blend = blend            # any-hole model: Poisson-blend each tile (not in the paper)
        self.cfg: ContextEncoderConfig = config_from_dict(ContextEncoderConfig, meta["config"])
        self.mask_kind = meta.get("mask_kind", "central")
        self.meta = meta
        self.model = checkpoint.load_part(folder, "model", ContextEncoder(self.cfg)).eval()

    @torch.no_grad()
    def _fill(self, image, mask):
        if self.mask_kind != "central":
            return scales.fill_by_tiles(image, mask, self._run_batch, self.cfg.image_size, blend=self.blend,
                                        min_side=self.cfg.image_size)
        s = self.cfg.image_size
        q = s // 4
        # 1. the context window at the trained resolution, the hole in its middle half; the model was trained
        #    to fill exactly the central square, so if resampling grows the hole past it, the window widens by
        #    1/16 (a hole pixel outside the square would be either a hole the model never saw or a leak)
        win = self.context_window(image, mask, s)
        outside = win.small_mask.copy()
        outside[q:s - q, q:s - q] = False
        if outside.any():
            win = self.context_window(image, mask, s, scale=2.125)
        small_mask = win.small_mask.copy()
        small_mask[q:s - q, q:s - q] = True          # blank all of the central square, as in training
        x = torch.from_numpy(win.small).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        m = torch.from_numpy(small_mask)[None, None]
        # 2. predict; 3. back to the window's size and into the hole
        pred = self.model(masked_input(x, m), m)
        pred = pred[0].clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()
        return win.paste(image, mask, pred)

    @torch.no_grad()
    def _run_batch(self, windows: np.ndarray, holes: np.ndarray, chunk: int = 256) -> np.ndarray:
        out = []
        for i in range(0, len(windows), chunk):
            x = torch.from_numpy(windows[i:i + chunk]).permute(0, 3, 1, 2).float().div(127.5).sub(1)
            m = torch.from_numpy(holes[i:i + chunk])[:, None]
            pred = self.model(masked_input(x, m), m)
            out.append(pred.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy())
        return np.concatenate(out)


class ContextEncoderL2(ContextEncoderInpainter):
    name = "context-encoder L2"
    description = "Pathak et al. 2016, reconstruction (L2) loss only, central-hole model: blurry but close"
    folder = "context_encoder_l2"


class ContextEncoderL2Adv(ContextEncoderInpainter):
    name = "context-encoder L2+adv"
    description = "Pathak et al. 2016, joint loss 0.999 L2 + 0.001 adversarial, central-hole model: sharper"
    folder = "context_encoder_l2adv"


class ContextEncoderAnyHole(ContextEncoderInpainter):
    name = "context-encoder any-hole"
    description = ("Pathak et al. 2016, joint loss, mask as an input channel, trained here on blocks, regions, "
                   "free-form strokes and several holes; tiles sized to the hole, each Poisson-blended")
    folder = "context_encoder_any"


class GLCIC(Inpainter):
    name = "glcic"
    description = ("Iizuka et al. 2017: dilated fully convolutional completion network with global and local "
                   "discriminators, trained here on random holes and free-form strokes, Poisson-blended")
    folder = "glcic"

    def __init__(self, folder: Path | None = None, blend: bool = True):
        folder = Path(folder) if folder is not None else CHECKPOINTS / self.folder
        meta = checkpoint.read_config(folder)
        self.cfg: GLCICConfig = config_from_dict(GLCICConfig, meta["config"])
        self.meta, self.blend = meta, blend
        self.model = checkpoint.load_part(folder, "model", CompletionNetwork(self.cfg)).float().eval()

    @torch.no_grad()
    def _run(self, region: np.ndarray, hole: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(region).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        m = torch.from_numpy(hole)[None, None].float()
        pred = self.model(x, m)
        return pred[0].clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()

    def _fill(self, image, mask):
        return scales.fill_fully_convolutional(image, mask, self._run, self.cfg.max_radius, blend=self.blend)
