"""The Context Encoder behind the common interface: a context window around the hole at the model's
trained resolution (the hole in its middle half, as in training), one forward pass, paste back."""

from __future__ import annotations

from pathlib import Path

import torch

from synth import checkpoint
from synth.checkpoint import config_from_dict
from synth.data import ASSETS

from .base import Inpainter
from .context_encoder import ContextEncoder, ContextEncoderConfig, masked_input

CHECKPOINTS = ASSETS / "checkpoints"


class ContextEncoderInpainter(Inpainter):
    folder: str = ""

    def __init__(self, folder: Path | None = None):
        folder = Path(folder) if folder is not None else CHECKPOINTS / self.folder
        meta = checkpoint.read_config(folder)
        self.cfg: ContextEncoderConfig = config_from_dict(ContextEncoderConfig, meta["config"])
        self.mask_kind = meta.get("mask_kind", "central")
        self.meta = meta
        self.model = checkpoint.load_part(folder, "model", ContextEncoder(self.cfg)).eval()

    @torch.no_grad()
    def _fill(self, image, mask):
        s = self.cfg.image_size
        # 1. the context window at the trained resolution (the hole in its middle half)
        win = self.context_window(image, mask, s)
        small_mask = win.small_mask.copy()
        if self.mask_kind == "central":
            # trained on the central square: blank all of it (the hole's bounding box lies inside it)
            q = s // 4
            small_mask[q:s - q, q:s - q] = True
        x = torch.from_numpy(win.small).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        m = torch.from_numpy(small_mask)[None, None]
        # 2. predict; 3. back to the window's size and into the hole
        pred = self.model(masked_input(x, m), m)
        pred = pred[0].clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()
        return win.paste(image, mask, pred)


class ContextEncoderL2(ContextEncoderInpainter):
    name = "context-encoder L2"
    description = "Pathak et al. 2016, reconstruction (L2) loss only, central-hole model: blurry but close"
    folder = "context_encoder_l2"


class ContextEncoderL2Adv(ContextEncoderInpainter):
    name = "context-encoder L2+adv"
    description = "Pathak et al. 2016, joint loss 0.999 L2 + 0.001 adversarial, central-hole model: sharper"
    folder = "context_encoder_l2adv"


class ContextEncoderRandom(ContextEncoderInpainter):
    name = "context-encoder L2+adv random-mask"
    description = "Pathak et al. 2016, joint loss, trained on random blocks and random regions"
    folder = "context_encoder_random"
