"""Context Encoder (Pathak, Kraehenbuehl, Donahue, Darrell and Efros, CVPR 2016).

Encoder: strided 4x4 convolutions (batch norm + LeakyReLU 0.2) down to a 4x4 map. Bottleneck: the
paper's channel-wise fully connected layer (each channel's 4x4 map is connected to itself only, so
information propagates within a channel, m*n^4 weights instead of m^2*n^4) followed by a 1x1
convolution that mixes the channels. Decoder: up-convolutions (batch norm + ReLU, tanh at the output).

Loss (the paper's eq. 1-3): L = lambda_rec * L_rec + lambda_adv * L_adv with L_rec a masked L2 on the
hole, where the band of known pixels just outside the hole (the "overlap") is predicted too and
weighted ``overlap_weight`` (10x in the paper) to make the prediction agree with its surroundings.
Input: the image in [-1, 1] with the hole set to 0 (the data's mean), as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ContextEncoderConfig:
    image_size: int = 64        # paper: 128 with a 64x64 hole; 64 with a 32x32 hole here (CPU inference)
    nf: int = 32                # paper: 64 first-layer channels (512 at the bottleneck); 32 -> 256 here
    mask_channel: bool = False  # not in the paper: feed the mask as a 4th channel (random-mask models)
    overlap: int = 4            # paper: 4 px of overlap at 128 (overlapPred); 4 px here at 64 too
    overlap_weight: float = 10.0  # paper: overlap region's L2 weighted 10x
    lambda_rec: float = 0.999   # paper: joint loss weights
    lambda_adv: float = 0.001   # paper; 0 trains the L2-only model
    dropout: float = 0.5        # paper: dropout in the channel-wise fully connected layer


def init_weights(m: nn.Module, layers: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.ConvTranspose2d)) -> None:
    """DCGAN's initialisation (Radford et al. 2016): weights of ``layers`` N(0, 0.02), BatchNorm scales
    N(1, 0.02), biases 0."""
    if isinstance(m, layers):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class ChannelWiseFC(nn.Module):
    """Fully connected within each channel: C x (H*W) -> C x (H*W), weights C x HW x HW."""

    def __init__(self, channels: int, size: int, dropout: float):
        super().__init__()
        n = size * size
        self.weight = nn.Parameter(torch.randn(channels, n, n) * (1.0 / n) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(channels, n))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = torch.einsum("bci,cij->bcj", x.reshape(b, c, h * w), self.weight) + self.bias
        return self.drop(y).reshape(b, c, h, w)


def _n_down(image_size: int) -> int:
    n = 0
    s = image_size
    while s > 4:
        if s % 2:
            raise ValueError(f"image_size must be 4 * 2^k, got {image_size}")
        s //= 2
        n += 1
    if s != 4 or n < 2:
        raise ValueError(f"image_size must be 4 * 2^k with k >= 2 (16, 32, 64, 128), got {image_size}")
    return n


class ContextEncoder(nn.Module):
    """N x 3 x S x S image (hole zeroed) [+ N x 1 x S x S mask] -> N x 3 x S x S prediction in [-1, 1]."""

    def __init__(self, cfg: ContextEncoderConfig):
        super().__init__()
        self.cfg = cfg
        n = _n_down(cfg.image_size)
        chans = [cfg.nf * 2 ** i for i in range(n)]   # 64: 32, 64, 128, 256
        cin = 4 if cfg.mask_channel else 3
        enc = [nn.Conv2d(cin, chans[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]   # nf x S/2
        for a, b in zip(chans, chans[1:]):
            enc += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        self.encoder = nn.Sequential(*enc)                                    # state size. chans[-1] x 4 x 4
        c = chans[-1]
        self.bottleneck = nn.Sequential(
            ChannelWiseFC(c, 4, cfg.dropout),                                 # within-channel, 4x4 -> 4x4
            nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU(True),             # mix channels (1x1, stride 1)
        )
        dec = []
        rev = chans[::-1]
        for a, b in zip(rev, rev[1:]):
            dec += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        dec += [nn.ConvTranspose2d(rev[-1], 3, 4, 2, 1), nn.Tanh()]           # state size. 3 x S x S
        self.decoder = nn.Sequential(*dec)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.cfg.mask_channel:
            if mask is None:
                raise ValueError("this model was trained with the mask as an input channel: pass mask")
            x = torch.cat([x, mask.float()], 1)
        return self.decoder(self.bottleneck(self.encoder(x)))


class Discriminator(nn.Module):
    """The adversarial critic: N x 3 x S x S (the completed image) -> N logits (real = 1).

    The paper's critic sees the predicted patch alone for the central hole; ours sees the whole completed
    image so the same critic serves random-shaped holes and also judges the seam."""

    def __init__(self, cfg: ContextEncoderConfig):
        super().__init__()
        n = _n_down(cfg.image_size)
        chans = [cfg.nf * 2 ** i for i in range(n)]
        layers = [nn.Conv2d(3, chans[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for a, b in zip(chans, chans[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(chans[-1], 1, 4, 1, 0)]                          # 4x4 -> 1x1
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


def overlap_band(mask: torch.Tensor, overlap: int) -> torch.Tensor:
    """Known pixels within ``overlap`` px (Chebyshev) of the hole: N x 1 x H x W bool."""
    m = mask.float()
    if overlap <= 0:
        return torch.zeros_like(mask, dtype=torch.bool)
    grown = F.max_pool2d(m, 2 * overlap + 1, stride=1, padding=overlap) > 0
    return grown & ~mask.bool()


def reconstruction_weights(mask: torch.Tensor, overlap: int, overlap_weight: float) -> torch.Tensor:
    """Per-pixel L2 weights: 1 in the hole, ``overlap_weight`` in the overlap band, 0 elsewhere."""
    band = overlap_band(mask, overlap)
    return mask.float() + overlap_weight * band.float()


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, overlap: int,
                        overlap_weight: float) -> torch.Tensor:
    """Weighted mean squared error over the predicted region (hole plus overlap band), as in the paper's
    code: sum(w * (pred - target)^2) / (channels * number of predicted pixels)."""
    w = reconstruction_weights(mask, overlap, overlap_weight)         # N x 1 x H x W
    region = (w > 0).float()
    err = (pred - target).pow(2) * w
    return err.sum() / (region.sum() * pred.shape[1]).clamp_min(1.0)


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The network's input: the image with the hole set to 0 (the mean of [-1, 1] data)."""
    return image * (~mask.bool()).float()


def composite(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.float()
    return pred * m + image * (1 - m)
