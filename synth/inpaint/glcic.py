"""Globally and Locally Consistent Image Completion (Iizuka, Simo-Serra and Ishikawa, SIGGRAPH 2017).

Completion network (the paper's table 1, channels scaled by ``nf / 64``): a fully convolutional
encoder-decoder that halves the resolution twice, then four dilated 3x3 convolutions (dilation 2, 4, 8, 16)
widen the receptive field so that every hole pixel sees context far beyond the hole, then two
up-convolutions back to full size. Batch norm and ReLU after every layer but the last.

Two discriminators (the paper's table 2, scaled): the global one sees the whole completed image, the
local one a square around the hole (half the image's side), each a stack of strided 5x5 convolutions
ending in a fully connected layer; their features are concatenated and one fully connected layer gives
the real/fake logit.

Training (the paper's section 3.3): MSE on the hole alone for the first phase, then the discriminators
alone, then both with L = MSE + alpha * GAN loss (alpha 0.0004).

Input. The paper fills the hole with the training set's mean pixel value and appends the mask
(``prefill="mean"``). Additions to the paper, for training on a CPU, where the network predicts a residual on
top of a classic first fill (its last layer starts near zero, so an untrained network returns about that fill):
``prefill="telea"`` fills the hole with OpenCV's Telea fast marching first (the method the paper's
post-processing used), ``prefill="pushpull"`` with a pull-push interpolation of the known pixels.

Post-processing (the paper's section 3.4): the completion is blended into the photo with Poisson image
editing (the seam's colour follows the surroundings, the content keeps the network's gradients);
``synth.inpaint.blend``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class GLCICConfig:
    image_size: int = 128          # training crops (paper: 256 with holes of 96..128 px)
    nf: int = 16                   # paper: 64 first-layer channels (256 in the middle); 16 -> 64 here
    ndf: int = 16                  # paper: 64 in the discriminators' first layer
    dilations: tuple[int, ...] = (2, 4, 8, 16)   # paper
    prefill: str = "telea"         # "mean" (paper), "telea" or "pushpull" (additions: residual on a classic fill)
    alpha: float = 0.0004          # paper: weight of the GAN loss in the joint phase
    max_radius: float = 24.0       # largest hole "radius" (px of distance to the nearest known pixel) the
                                   # inference runs at; larger holes are filled at a coarser scale


def _block(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    pad = dilation * (k - 1) // 2
    return [nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(True)]


class CompletionNetwork(nn.Module):
    """N x 3 x H x W image in [-1, 1] + N x 1 x H x W mask (1 = hole) -> N x 3 x H x W completion in [-1, 1].
    H and W must be multiples of 4."""

    def __init__(self, cfg: GLCICConfig):
        super().__init__()
        self.cfg = cfg
        a, b, c = cfg.nf, 2 * cfg.nf, 4 * cfg.nf
        layers = _block(4, a, 5)                                    # H
        layers += _block(a, b, 3, 2) + _block(b, b, 3)              # H/2
        layers += _block(b, c, 3, 2) + _block(c, c, 3) + _block(c, c, 3)   # H/4
        for d in cfg.dilations:
            layers += _block(c, c, 3, dilation=d)                   # dilated: receptive field
        layers += _block(c, c, 3) + _block(c, c, 3)
        layers += [nn.ConvTranspose2d(c, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]  # H/2
        layers += _block(b, b, 3)
        layers += [nn.ConvTranspose2d(b, a, 4, 2, 1, bias=False), nn.BatchNorm2d(a), nn.ReLU(True)]  # H
        layers += _block(a, a // 2, 3)
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(a // 2, 3, 3, 1, 1)
        if cfg.prefill in RESIDUAL:          # residual on the classic fill: start close to it. Not exactly
            nn.init.normal_(self.out.weight, 0.0, 1e-3)   # zero: with a zero last layer the body gets no
            nn.init.zeros_(self.out.bias)                 # gradient, Adam random-walks it and its ReLUs die

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.float()
        if self.cfg.prefill == "telea":
            base = telea_fill(image, m)
        elif self.cfg.prefill == "pushpull":
            base = pushpull_fill(image, m)
        elif self.cfg.prefill == "mean":
            base = image * (1 - m)           # [-1, 1] data: 0 is the mean pixel value
        else:
            raise ValueError(f"unknown prefill {self.cfg.prefill!r}")
        y = self.out(self.body(torch.cat([base, m], 1)))
        if self.cfg.prefill in RESIDUAL:
            return (base + y).clamp(-1, 1)
        return torch.tanh(y)


RESIDUAL = ("telea", "pushpull")


def telea_fill(image: torch.Tensor, mask: torch.Tensor, radius: int = 5) -> torch.Tensor:
    """The hole filled by OpenCV's Telea (2004) fast marching, image by image (no gradient; an input)."""
    import cv2
    import numpy as np

    x = image.detach().clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    m = (mask.detach()[:, 0] > 0.5).cpu().numpy().astype(np.uint8) * 255
    filled = np.stack([cv2.inpaint(np.ascontiguousarray(a), b, radius, cv2.INPAINT_TELEA) for a, b in zip(x, m)])
    t = torch.from_numpy(filled).to(image.device).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    return image * (1 - mask) + t * mask


def pushpull_fill(image: torch.Tensor, mask: torch.Tensor, levels: int = 12) -> torch.Tensor:
    """The hole filled by pull-push interpolation (Gortler et al. 1996): average the known pixels down a
    pyramid (each level weighted by how much of it is known), then fill each level's gaps from the coarser
    one on the way up. Smooth, boundary-following, any hole shape, no learning."""
    known = 1 - mask
    pyr = [(image * known, known)]
    for _ in range(levels):
        x, w = pyr[-1]
        if min(x.shape[-2:]) <= 1:
            break
        pyr.append((F.avg_pool2d(x, 2, ceil_mode=True), F.avg_pool2d(w, 2, ceil_mode=True)))
    x, w = pyr[-1]
    filled = x / w.clamp_min(1e-6)
    for xs, ws in reversed(pyr[:-1]):
        up = F.interpolate(filled, size=xs.shape[-2:], mode="bilinear", align_corners=False)
        own = xs / ws.clamp_min(1e-6)
        a = ws.clamp(0, 1)
        filled = a * own + (1 - a) * up
    return image * known + filled * mask


class _Trunk(nn.Sequential):
    def __init__(self, ndf: int, n: int, size: int, out: int = 1024):
        layers, cin = [], 3
        for i in range(n):
            cout = ndf * 2 ** min(i, 3)
            layers += [nn.Conv2d(cin, cout, 5, 2, 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
            cin = cout
        side = size // 2 ** n
        layers += [nn.Flatten(), nn.Linear(cin * side * side, out)]
        super().__init__(*layers)


class Discriminators(nn.Module):
    """(completed image N x 3 x S x S, local patch N x 3 x S/2 x S/2) -> N logits (real = 1)."""

    def __init__(self, cfg: GLCICConfig):
        super().__init__()
        s = cfg.image_size
        self.global_d = _Trunk(cfg.ndf, 6 if s >= 256 else 5, s, 256)      # paper: 6 convs + fc 1024 at 256
        self.local_d = _Trunk(cfg.ndf, 5 if s >= 256 else 4, s // 2, 256)   # paper: 5 convs + fc 1024 at 128
        self.fc = nn.Linear(512, 1)

    def forward(self, image: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([self.global_d(image), self.local_d(patch)], 1)).view(-1)


def local_boxes(mask: torch.Tensor, size: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """A size x size box per image (y0, x0) containing the hole's centre (the paper's local discriminator
    sees the area around the completed region), clipped to the image."""
    n, _, h, w = mask.shape
    boxes = torch.empty(n, 2, dtype=torch.long)
    for i in range(n):
        ys, xs = torch.nonzero(mask[i, 0], as_tuple=True)
        cy, cx = (int(ys.float().mean()), int(xs.float().mean())) if len(ys) else (h // 2, w // 2)
        boxes[i, 0] = min(max(cy - size // 2, 0), h - size)
        boxes[i, 1] = min(max(cx - size // 2, 0), w - size)
    return boxes


def crop_boxes(x: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    return torch.stack([x[i, :, y:y + size, z:z + size] for i, (y, z) in enumerate(boxes.tolist())])


def hole_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The paper's weighted MSE: squared error on the hole's pixels only."""
    m = mask.float()
    return ((pred - target).pow(2) * m).sum() / (m.sum() * pred.shape[1]).clamp_min(1.0)


def hole_log_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each image's MSE over its own hole, then the mean of their logarithms: minus the mean PSNR up to a
    constant. Not in the paper (its MSE pools every hole pixel of the batch, so big holes dominate); with it a
    thin stroke counts as much as a big square, as in the evaluation's mean PSNR."""
    m = mask.float()
    per = ((pred - target).pow(2) * m).sum((1, 2, 3)) / (m.sum((1, 2, 3)) * pred.shape[1]).clamp_min(1.0)
    return torch.log(per + eps).mean()
