"""Deep image harmonization (Tsai, Shen, Lin, Sunkavalli, Lu and Yang, CVPR 2017), at our scale, and the DH
baseline of the lecture's experiment: paste the guidance patch aligned to the hole, then harmonize it.

Network: the paper's encoder-decoder with skip connections (an image-to-image network that sees the
composite and the foreground mask and outputs the harmonized image), channels scaled for a CPU; the paper's
scene-parsing branch is left out (no segmentation labels ship here). Trained self-supervised as in the paper:
a region of a training photo (a blob, a rectangle or a stroke) gets its colour and exposure perturbed (per
channel gain and bias, gamma, saturation), and the network learns to undo it from the rest of the photo; the
loss is the paper's Euclidean (L2) loss on the whole image.

    from synth.guided.harmonize import Harmonizer
    h = Harmonizer()                            # assets/checkpoints/harmonizer
    out = h.harmonize(composite, region)        # uint8 HxWx3, bool HxW: the pasted region to fix
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class HarmonizerConfig:
    image_size: int = 64    # training crops (paper: 512)
    nf: int = 16            # paper: 64 first-layer channels
    depth: int = 4          # down-sampling steps (paper: 5)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4 if stride == 2 else 3, stride, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ELU(inplace=True))


class HarmonizationNet(nn.Module):
    """(composite N x 3 x H x W in [-1, 1], region N x 1 x H x W) -> harmonized N x 3 x H x W. The output is
    the composite plus a predicted correction inside the region only (outside it the composite is kept)."""

    def __init__(self, cfg: HarmonizerConfig):
        super().__init__()
        self.cfg = cfg
        ch = [cfg.nf * 2 ** min(i, 3) for i in range(cfg.depth + 1)]
        self.inp = _conv(4, ch[0])
        self.down = nn.ModuleList(_conv(ch[i], ch[i + 1], 2) for i in range(cfg.depth))
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(ch[i + 1], ch[i], 4, 2, 1, bias=False), nn.BatchNorm2d(ch[i]),
                          nn.ELU(inplace=True)) for i in reversed(range(cfg.depth)))
        self.fuse = nn.ModuleList(_conv(2 * ch[i], ch[i]) for i in reversed(range(cfg.depth)))
        self.out = nn.Conv2d(ch[0], 3, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, composite: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        m = region.float()
        x = self.inp(torch.cat([composite, m], 1))
        skips = [x]
        for d in self.down:
            x = d(x)
            skips.append(x)
        skips.pop()
        for up, fuse in zip(self.up, self.fuse):
            x = up(x)
            x = fuse(torch.cat([x, skips.pop()], 1))
        return (composite + self.out(x) * m).clamp(-1, 1)


def perturb(x: torch.Tensor, region: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The region of each image with its colour and exposure changed: per-channel gain 0.6..1.5 and bias
    +-0.25, gamma 0.6..1.6 and saturation 0.5..1.5 (images in [-1, 1]); outside the region unchanged."""
    n = x.shape[0]
    r = lambda *s: torch.rand(*s, generator=gen, device=x.device)  # noqa: E731
    v = (x + 1) / 2
    grey = v.mean(1, keepdim=True)
    v = grey + (v - grey) * (0.5 + r(n, 1, 1, 1))
    v = v.clamp(0, 1) ** (0.6 + r(n, 1, 1, 1))
    v = v * (0.6 + 0.9 * r(n, 3, 1, 1)) + 0.5 * (r(n, 3, 1, 1) - 0.5)
    y = v.clamp(0, 1) * 2 - 1
    m = region.float()
    return y * m + x * (1 - m)


def harmonize_tensor(net: HarmonizationNet, composite: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Any size: padded to a multiple of 2^depth (reflection), run, cropped back."""
    k = 2 ** net.cfg.depth
    h, w = composite.shape[-2:]
    ph, pw = (-h) % k, (-w) % k
    if ph or pw:
        composite = F.pad(composite, (0, pw, 0, ph), mode="reflect")
        region = F.pad(region.float(), (0, pw, 0, ph))
    return net(composite, region)[..., :h, :w]


class Harmonizer:
    """The bundled harmonization network (assets/checkpoints/harmonizer), on any size of composite."""

    def __init__(self, folder=None):
        from pathlib import Path

        from synth import checkpoint
        from synth.checkpoint import config_from_dict
        from synth.data import ASSETS

        folder = Path(folder) if folder is not None else ASSETS / "checkpoints" / "harmonizer"
        meta = checkpoint.read_config(folder)
        self.cfg = config_from_dict(HarmonizerConfig, meta["config"])
        self.meta = meta
        self.net = checkpoint.load_part(folder, "model", HarmonizationNet(self.cfg)).float().eval()

    @torch.no_grad()
    def harmonize(self, composite: np.ndarray, region: np.ndarray, max_side: int | None = None) -> np.ndarray:
        """uint8 H x W x 3 composite, bool H x W region (the pasted pixels) -> uint8 H x W x 3; only the
        region changes. Composites larger than ``max_side`` (default: the training crops' side, the scale the
        network learned) are harmonized at that size and the correction (not the image) is scaled back, so
        the region keeps its full-resolution detail."""
        import cv2

        max_side = max_side or self.cfg.image_size
        h, w = region.shape
        s = min(1.0, max_side / max(h, w))
        small = composite if s == 1 else cv2.resize(composite, (max(16, round(w * s)), max(16, round(h * s))),
                                                    interpolation=cv2.INTER_AREA)
        small_region = region if s == 1 else cv2.resize(region.astype(np.float32), small.shape[1::-1],
                                                        interpolation=cv2.INTER_AREA) > 0
        x = torch.from_numpy(small).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        m = torch.from_numpy(small_region)[None, None].float()
        y = harmonize_tensor(self.net, x, m)
        delta = (y - x)[0].permute(1, 2, 0).numpy() * 127.5
        if s != 1:
            delta = cv2.resize(delta, (w, h), interpolation=cv2.INTER_LINEAR)
        out = np.clip(np.round(composite.astype(np.float32) + delta), 0, 255).astype(np.uint8)
        return np.where(region[..., None], out, composite)


def harmonize_hole(filled: np.ndarray, mask: np.ndarray, harmonizer: Harmonizer) -> np.ndarray:
    """A filled hole harmonized to its surroundings: the window twice the hole's size around it goes through
    the harmonizer with the hole as the region; only the hole's pixels change."""
    from synth.inpaint.base import crop_padded, paste_window, window_around

    y0, x0, side = window_around(mask, scale=2.0)
    win, hole = crop_padded(filled, y0, x0, side), crop_padded(mask, y0, x0, side)
    out = paste_window(filled, harmonizer.harmonize(win, hole), y0, x0)
    return np.where(mask[..., None], out, filled)


class DeepHarmonization:
    """DH, the lecture's baseline: the guidance patch, aligned to the hole by the guided model's spatial
    transformer, pasted into the hole, then harmonized to its surroundings by the harmonization network.
    ``fill(image, mask, guidance)`` like synth.guided.inpainter.GuidedInpainter."""

    name = "deep harmonization"
    description = ("Tsai et al. 2017: paste the guidance patch aligned to the hole (the guided model's "
                   "transformer finds it), then an encoder-decoder harmonizes its colour and exposure")

    def __init__(self, aligner=None, harmonizer: Harmonizer | None = None, detail: bool = True):
        from synth.guided.inpainter import default_inpainter

        self.aligner = aligner or default_inpainter()
        self.harmonizer = harmonizer or Harmonizer()
        self.detail = detail   # paste the full-resolution guidance (False: the transformer's 96x96 sample enlarged)

    def paste(self, image, mask, guidance) -> tuple[np.ndarray, np.ndarray]:
        """(the image with the aligned guidance pasted into the hole, the normalised mask): plain pasting. The
        alignment is the transformer's (no feature registration, no colour matching: the baseline), applied to
        the guidance at full resolution (synth.guided.fullres.sample_full) with ``detail``."""
        from synth.inpaint.base import as_mask, as_rgb, crop_padded, paste_window

        image = as_rgb(image)
        mask = as_mask(mask, image.shape[:2])
        r = self.aligner.run(image, mask, guidance, register=False, match_colour=False,   # the transformer's
                             detail=self.detail)
        y0, x0, side = r.window
        pasted = paste_window(crop_padded(image, y0, x0, side), r.aligned, 0, 0)
        full = paste_window(image, pasted, y0, x0)
        return np.where(mask[..., None], full, image), mask

    def fill(self, image, mask, guidance) -> np.ndarray:
        pasted, mask = self.paste(image, mask, guidance)
        return harmonize_hole(pasted, mask, self.harmonizer)

    __call__ = fill
