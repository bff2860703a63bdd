"""GAN (Goodfellow et al., 2014): multilayer perceptrons for G and D on flattened 28x28 digits.

The paper's MNIST nets used maxout units and dropout in D; here LeakyReLU + dropout (a common
modern substitute that trains in minutes on a CPU). Losses are in ``synth.gan.losses``.
"""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class GANConfig:
    nz: int = 100             # paper: uniform noise; here N(0, 1) of size 100, as in the DCGAN follow-up
    image_size: int = 28      # MNIST resolution
    nc: int = 1               # grey digits
    g_hidden: tuple = (256, 512, 1024)
    d_hidden: tuple = (512, 256)
    d_dropout: float = 0.3    # paper: dropout in D


class Generator(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        self.cfg = cfg
        layers, width = [], cfg.nz
        for h in cfg.g_hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(True)]
            width = h
        s = cfg.image_size
        layers += [nn.Linear(width, cfg.nc * s * s), nn.Tanh(), nn.Unflatten(1, (cfg.nc, s, s))]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: N x nz -> N x nc x 28 x 28 in [-1, 1]
        return self.net(z.flatten(1))


class Discriminator(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        layers, width = [nn.Flatten()], cfg.nc * cfg.image_size ** 2
        for h in cfg.d_hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, True), nn.Dropout(cfg.d_dropout)]
            width = h
        layers += [nn.Linear(width, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x nc x 28 x 28 -> N logits (D(x) = sigmoid(logit))
        return self.net(x).view(-1)
