"""DCGAN (Radford, Metz and Chintala, ICLR 2016).

Generator: project and reshape z to 4x4x(8*ngf), then four fractionally-strided convolutions
(batch norm + ReLU, tanh at the output) up to 64x64. Discriminator: the mirror image, strided
convolutions with LeakyReLU 0.2, batch norm everywhere but the input layer, no pooling, and a
linear read-out of the last 4x4 map. Weights start from N(0, 0.02) as in the paper.
"""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class DCGANConfig:
    nz: int = 100       # paper: 100-d uniform z; here N(0, 1)
    ngf: int = 32       # paper: 128 (1024 channels at 4x4); 32 here so it trains on a 2-core CPU
    ndf: int = 32       # paper: 128; 32 here for the same reason
    nc: int = 1         # grey digits (3 for colour data sets)
    image_size: int = 64  # the lecture's answer: 64x64
    kernel: int = 4     # paper: 5x5; 4x4 with stride 2 avoids checkerboard overlap and the output padding


@dataclass
class DCGANScenesConfig(DCGANConfig):
    nc: int = 3         # the procedural 3D scenes are RGB


def init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        if cfg.image_size != 64:
            raise ValueError(f"image_size must be 64 (four stride-2 layers from 4x4), got {cfg.image_size}")
        self.cfg = cfg
        c = cfg.ngf * 8
        # 1. project and reshape: z -> (ngf*8) x 4 x 4
        # batch norm per channel after the reshape (as in the paper's "project and reshape"); a per-feature
        # BatchNorm1d before the reshape normalises every position separately and the generator never recovers
        self.project = nn.Sequential(nn.Linear(cfg.nz, c * 16, bias=False), nn.Unflatten(1, (c, 4, 4)),
                                     nn.BatchNorm2d(c), nn.ReLU(True))  # state size. (ngf*8) x 4 x 4
        k = cfg.kernel

        def up(cin, cout):
            return [nn.ConvTranspose2d(cin, cout, k, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        # 2. four fractionally-strided convolutions
        self.convs = nn.Sequential(
            *up(c, c // 2),        # state size. (ngf*4) x 8 x 8
            *up(c // 2, c // 4),   # state size. (ngf*2) x 16 x 16
            *up(c // 4, c // 8),   # state size. ngf x 32 x 32
            nn.ConvTranspose2d(c // 8, cfg.nc, k, 2, 1, bias=False),
            nn.Tanh(),             # state size. nc x 64 x 64
        )
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.convs(self.project(z.flatten(1)))


class Discriminator(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        d, k = cfg.ndf, cfg.kernel
        self.convs = nn.Sequential(
            nn.Conv2d(cfg.nc, d, k, 2, 1), nn.LeakyReLU(0.2, True),                                   # d x 32 x 32
            nn.Conv2d(d, d * 2, k, 2, 1, bias=False), nn.BatchNorm2d(d * 2), nn.LeakyReLU(0.2, True),      # 16 x 16
            nn.Conv2d(d * 2, d * 4, k, 2, 1, bias=False), nn.BatchNorm2d(d * 4), nn.LeakyReLU(0.2, True),  # 8 x 8
            nn.Conv2d(d * 4, d * 8, k, 2, 1, bias=False), nn.BatchNorm2d(d * 8), nn.LeakyReLU(0.2, True),  # 4 x 4
        )
        self.head = nn.Linear(d * 8 * 16, 1)  # mirror of the generator's projection
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x nc x 64 x 64 -> N logits
        return self.head(self.convs(x).flatten(1)).view(-1)
