"""GIRAFFE (Niemeyer and Geiger, CVPR 2021): compositional generative neural feature fields.

Every object k has a shape code z_s, an appearance code z_a and a pose (scale s, translation t, rotation
R(theta) about the vertical axis). A scene point p is mapped into the object's canonical box,
p_k = R^T (p - t) / s, and one shared MLP feature field h(gamma(p_k), gamma(d_k), z_s, z_a) gives a density
sigma_k and a feature f_k (gamma: sine/cosine positional encoding; d_k: the view direction in the object's frame;
density is zero outside the box [-1.1, 1.1]^3 as in the reference code). The background is a second, smaller
field of world points with its own codes. Composition (paper eq. 5): densities add, features are the
density-weighted mean. Volume rendering of the composed field along camera rays gives a 16 x 16 feature image;
a 2D neural renderer (3x3 convolutions, nearest upsampling, RGB skips at every scale) turns it into 64 x 64 RGB.
The discriminator is DCGAN-like (strided 4x4 convolutions, LeakyReLU, no normalisation: R1 is applied to it).

Scene prior and camera are those of ``synth.giraffe.scenes`` (z up, camera on a circle in the x-z plane at azimuth 0,
image right = world +y), so "depth" edits x and "horizontal" edits y. Differences from the reference code,
besides the sizes in ``GiraffeConfig`` (each commented):
- object densities are evaluated only at samples inside the object's box (the reference evaluates every sample
  and then zeroes those outside: same result, a fraction of the cost);
- an image holds 1..n_objects objects drawn uniformly (the reference's CLEVR-2345 setting hard-codes its data's
  counts), and box centres are resampled a few times so that boxes do not overlap (the data never overlaps);
- ``alpha`` returns each field's share of the rendered opacity in the composed image (visible alpha: occlusion
  included); the reference's alpha map renders each object alone.

The six controls that edit the latents are in ``synth.giraffe.controls``; what the tab draws (views, feature
PCA, animation) in ``synth.giraffe.render``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from synth import checkpoint
from synth.giraffe.scenes import SceneConfig

_SC = SceneConfig()


@dataclass
class GiraffeConfig:
    # scene prior and camera: the data's (synth.giraffe.scenes.SceneConfig)
    image_size: int = _SC.image_size                    # 64
    camera_radius: float = _SC.camera_radius
    fov_deg: float = _SC.fov_deg
    elevation_deg: tuple = _SC.elevation_deg
    xy_range: float = _SC.xy_range
    size_range: tuple = _SC.size_range
    n_objects: int = _SC.max_objects                    # object slots; paper CLEVR-2345: 5
    scene_extent: float = 3.6                           # rays are sampled at depths radius +- this
    # volume rendering
    feature_size: int = 16                              # paper: 16 x 16 feature image
    n_samples: int = 32                                 # paper: 64 per ray; 32 for CPU (the background field
                                                        # runs at every sample and dominates the cost)
    box_padding: float = 0.1                            # paper: density is zero outside [-1.1, 1.1]^3
    sigma_noise: float = 1.0                            # paper: N(0, 1) added to densities while training
    # object feature field (shared by all objects)
    # (objects are evaluated only inside their boxes, about 1% of the samples: the paper's CLEVR sizes are cheap)
    z_dim: int = 64                                     # paper: 256 (64 on CLEVR)
    hidden: int = 64                                    # paper: 128 (64 on CLEVR)
    n_blocks: int = 8                                   # paper: 8 layers, shape code and points again at 4
    skips: tuple = (4,)
    n_freq: int = 6                                     # paper: 10 frequencies for points; 2^5 pi already
                                                        # resolves a sixth of an object at 16 x 16, and the
                                                        # background field pays for each at every sample
    n_freq_view: int = 4                                # paper: 4 for view directions
    feat_dim: int = 32                                  # paper: 128 feature channels; 32 for CPU
    obj_downscale: float = 2.0                          # paper: canonical points divided by 2 before encoding
    # background feature field
    z_dim_bg: int = 32                                  # paper: 128 (32 on CLEVR)
    bg_hidden: int = 32                                 # paper: 64 (32 on CLEVR)
    bg_blocks: int = 4                                  # paper: 4
    bg_downscale: float = 12.0                          # paper: world points divided by 12
    # 2D neural renderer
    render_feat: int = 64                               # paper: 128 channels at 16x16, halved per upsampling
    render_min_feat: int = 16                           # paper: 32
    # discriminator
    ndf: int = 32                                       # paper: 64-128-256-512 channels; 32-64-128-256 here

    def __post_init__(self):
        if self.image_size % self.feature_size or (self.image_size // self.feature_size) & (
                self.image_size // self.feature_size - 1):
            raise ValueError(f"image_size / feature_size must be a power of two, got {self.image_size}/"
                             f"{self.feature_size}")
        if self.image_size != 64:
            raise ValueError(f"image_size must be 64 (four stride-2 discriminator layers), got {self.image_size}")
        if self.n_objects < 1:
            raise ValueError(f"n_objects must be at least 1, got {self.n_objects}")


# ---------------------------------------------------------------------------------------------- latents

@dataclass
class Latents:
    """Everything that defines one batch of scenes. Object slots whose ``exists`` is False are not rendered."""
    z_shape: torch.Tensor      # B x K x z_dim
    z_app: torch.Tensor        # B x K x z_dim
    z_shape_bg: torch.Tensor   # B x z_dim_bg
    z_app_bg: torch.Tensor     # B x z_dim_bg
    scale: torch.Tensor        # B x K x 3
    translation: torch.Tensor  # B x K x 3
    rotation: torch.Tensor     # B x K, radians about +z
    exists: torch.Tensor       # B x K bool
    elevation: torch.Tensor    # B, radians

    def clone(self) -> "Latents":
        return Latents(**{f.name: getattr(self, f.name).clone() for f in fields(self)})

    def to(self, device) -> "Latents":
        return Latents(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def __getitem__(self, idx) -> "Latents":
        return Latents(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def __len__(self) -> int:
        return len(self.elevation)


def sample_latents(cfg: GiraffeConfig, batch: int, generator: torch.Generator | None = None,
                   n_objects: int | torch.Tensor | None = None, overlap_rounds: int = 100) -> Latents:
    """Codes ~ N(0, 1); poses and camera from the scene prior. ``n_objects``: one count for all, a tensor of
    counts, or None for uniform 1..K. Slots 0..n-1 exist."""
    g = generator
    K = cfg.n_objects
    rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    if n_objects is None:
        n = torch.randint(1, K + 1, (batch,), generator=g)
    else:
        n = torch.as_tensor(n_objects, dtype=torch.long).expand(batch)
        if n.min() < 1 or n.max() > K:
            raise ValueError(f"n_objects must be 1..{K}, got {n.unique().tolist()}")
    exists = torch.arange(K)[None] < n[:, None]
    # Every slot's codes, size, start position and angle, the background codes and the camera are drawn before
    # the overlap redraws (whose number depends on the count): one more object leaves the others as they were.
    lo, hi = cfg.size_range
    s = lo + (hi - lo) * rand(batch, K)
    xy = (2 * rand(batch, K, 2) - 1) * cfg.xy_range
    randn = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    z_shape, z_app = randn(batch, K, cfg.z_dim), randn(batch, K, cfg.z_dim)
    z_shape_bg, z_app_bg = randn(batch, cfg.z_dim_bg), randn(batch, cfg.z_dim_bg)
    rotation = 2 * math.pi * rand(batch, K)
    el_lo, el_hi = (math.radians(e) for e in cfg.elevation_deg)
    elevation = el_lo + (el_hi - el_lo) * rand(batch)
    # boxes apart: slots that touch an earlier existing slot are redrawn (bounding circles of radius s*sqrt2);
    # every 10th round, every slot of a scene that still clashes (a crowded start may leave no room)
    need = math.sqrt(2) * (s[:, :, None] + s[:, None])
    pairs = exists[:, :, None] & exists[:, None] & (torch.arange(K)[:, None] > torch.arange(K)[None])  # j < i
    for r in range(overlap_rounds):
        dist = (xy[:, :, None] - xy[:, None]).norm(dim=-1)
        clash = (dist < need) & pairs
        bad = clash.any(-1)
        if not bad.any():
            break
        if r % 10 == 9:
            bad = bad.any(-1, keepdim=True).expand(batch, K)
        xy = torch.where(bad[..., None], (2 * rand(batch, K, 2) - 1) * cfg.xy_range, xy)
    translation = torch.cat([xy, s[..., None]], -1)          # resting on the plane: centre height = s
    return Latents(z_shape=z_shape, z_app=z_app, z_shape_bg=z_shape_bg, z_app_bg=z_app_bg,
                   scale=s[..., None].expand(batch, K, 3).clone(), translation=translation,
                   rotation=rotation, exists=exists, elevation=elevation)


def latents_for_seed(cfg: GiraffeConfig, seed: int, n_objects: int | None = None) -> Latents:
    """One scene (batch 1), a pure function of the seed."""
    return sample_latents(cfg, 1, torch.Generator().manual_seed(int(seed)), n_objects)


# ---------------------------------------------------------------------------------------------- geometry

def rotation_z(theta: torch.Tensor) -> torch.Tensor:
    """... -> ... x 3 x 3 rotation about +z (columns: the rotated x, y, z axes)."""
    c, s = torch.cos(theta), torch.sin(theta)
    z, o = torch.zeros_like(theta), torch.ones_like(theta)
    return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1), torch.stack([z, z, o], -1)], -2)


def to_canonical(p: torch.Tensor, scale: torch.Tensor, translation: torch.Tensor, rotation: torch.Tensor
                 ) -> torch.Tensor:
    """World points p (B x K x ... x 3) -> each object's box frame R^T (p - t) / s. Pose tensors B x K (x 3)."""
    extra = p.ndim - 3
    view = lambda x: x.reshape(*x.shape[:2], *([1] * extra), *x.shape[2:])  # noqa: E731
    R = view(rotation_z(rotation))                                          # B x K x 1.. x 3 x 3
    rel = p - view(translation)
    return (rel.unsqueeze(-2) @ R).squeeze(-2) / view(scale)                # row vector @ R = R^T x


def from_canonical(q: torch.Tensor, scale: torch.Tensor, translation: torch.Tensor, rotation: torch.Tensor
                   ) -> torch.Tensor:
    """Inverse of ``to_canonical``: R (s q) + t."""
    extra = q.ndim - 3
    view = lambda x: x.reshape(*x.shape[:2], *([1] * extra), *x.shape[2:])  # noqa: E731
    R = view(rotation_z(rotation))
    return (R @ (q * view(scale)).unsqueeze(-1)).squeeze(-1) + view(translation)


def camera_rays(elevation: torch.Tensor, size: int, cfg: GiraffeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Elevations B -> camera origins B x 3 and unit ray directions B x (size*size) x 3 (row-major, row 0 on
    top): the same pixel-centre rays as synth.giraffe.scenes.camera_rays."""
    c, s = torch.cos(elevation), torch.sin(elevation)
    z = torch.zeros_like(c)
    origin = cfg.camera_radius * torch.stack([c, z, s], -1)
    forward = -torch.stack([c, z, s], -1)
    right = torch.tensor([0.0, 1.0, 0.0], device=elevation.device).expand_as(forward)
    up = torch.stack([-s, z, c], -1)                                   # cross(right, forward)
    half = math.tan(math.radians(cfg.fov_deg) / 2)
    u = (torch.arange(size, device=elevation.device) + 0.5) / size * 2 - 1
    v, u = torch.meshgrid(-u, u, indexing="ij")                       # v: up, u: right
    d = forward[:, None, None] + half * (u[None, ..., None] * right[:, None, None]
                                         + v[None, ..., None] * up[:, None, None])
    d = d / d.norm(dim=-1, keepdim=True)
    return origin, d.reshape(len(elevation), size * size, 3)


# ---------------------------------------------------------------------------------------------- fields

def positional_encoding(x: torch.Tensor, n_freq: int) -> torch.Tensor:
    """... x 3 -> ... x 6 n_freq: sin and cos of 2^i pi x (the reference's ordering)."""
    return torch.cat([torch.cat([torch.sin((2 ** i) * math.pi * x), torch.cos((2 ** i) * math.pi * x)], -1)
                      for i in range(n_freq)], -1)


class FeatureField(nn.Module):
    """(point, view direction, z_shape, z_app) -> (density, feature). The shape code enters the density branch
    at the input and at the skips; the appearance code and the view direction only the feature branch."""

    def __init__(self, hidden: int, n_blocks: int, skips: tuple, n_freq: int, n_freq_view: int, z_dim: int,
                 feat_dim: int, downscale: float):
        super().__init__()
        self.n_freq, self.n_freq_view, self.downscale, self.skips = n_freq, n_freq_view, downscale, tuple(skips)
        dim_p, dim_d = 6 * n_freq, 6 * n_freq_view
        self.fc_in = nn.Linear(dim_p, hidden)
        self.fc_z = nn.Linear(z_dim, hidden)
        self.blocks = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(n_blocks - 1)])
        n_skips = sum(i in self.skips for i in range(1, n_blocks - 1))
        self.fc_z_skips = nn.ModuleList([nn.Linear(z_dim, hidden) for _ in range(n_skips)])
        self.fc_p_skips = nn.ModuleList([nn.Linear(dim_p, hidden) for _ in range(n_skips)])
        self.sigma_out = nn.Linear(hidden, 1)
        self.feat_view = nn.Linear(hidden, hidden)
        self.fc_z_view = nn.Linear(z_dim, hidden)
        self.fc_view = nn.Linear(dim_d, hidden)
        self.feat_out = nn.Linear(hidden, feat_dim)

    def feature_branch_parameters(self) -> list[nn.Parameter]:
        """What turns the trunk, z_app and the view into the feature (the density has none of them)."""
        return [p for m in (self.feat_view, self.fc_z_view, self.fc_view, self.feat_out) for p in m.parameters()]

    def forward(self, p: torch.Tensor, d: torch.Tensor, z_shape: torch.Tensor, z_app: torch.Tensor):
        # p, d: ... x 3; codes broadcast against them (... x z_dim)
        pe = positional_encoding(p / self.downscale, self.n_freq)
        net = F.relu(self.fc_in(pe) + self.fc_z(z_shape))                    # ... x hidden
        k = 0
        for i, layer in enumerate(self.blocks):
            net = F.relu(layer(net))
            if (i + 1) in self.skips and i < len(self.blocks) - 1:
                net = net + self.fc_z_skips[k](z_shape) + self.fc_p_skips[k](pe)
                k += 1
        sigma = self.sigma_out(net).squeeze(-1)                              # ...
        d = d / d.norm(dim=-1, keepdim=True)
        view = self.fc_view(positional_encoding(d, self.n_freq_view))
        net = F.relu(self.feat_view(net) + self.fc_z_view(z_app) + view)
        return sigma, self.feat_out(net)                                     # ..., ... x feat_dim


# ---------------------------------------------------------------------------------------------- composition, rendering

def composite(sigma: torch.Tensor, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fields M x ... (densities >= 0) and M x ... x F -> total density ..., mean feature ... x F weighted by
    density, and each field's weight M x ... (sigma_k / sum; 0 where nothing is dense)."""
    total = sigma.sum(0)
    w = sigma / torch.where(total > 0, total, torch.full_like(total, 1e-4))
    return total, (w.unsqueeze(-1) * feat).sum(0), w


def composite_sparse(sigma_bg: torch.Tensor, feat_bg: torch.Tensor, sigma_obj: torch.Tensor,
                     feat_obj: torch.Tensor, index: torch.Tensor, shape: tuple[int, int, int, int]):
    """``composite`` for a dense background (B x R x S, B x R x S x F) plus objects known only at some samples
    (values n and n x F at flat positions ``index`` into B x K x R x S; zero density elsewhere), without
    building the K dense object fields. Returns the total density, the weighted mean feature, and
    ``alpha_of(weights B x R x S) -> B x (K+1) x R``: each field's share sum_i weights_i sigma_k,i / sum_k sigma_k,i
    (objects first, background last)."""
    B, K, R, S = shape
    b, rs = index // (K * R * S), index % (R * S)
    at = b * (R * S) + rs                                                # the sample's place in B x R x S
    total = sigma_bg.reshape(-1).index_add(0, at, sigma_obj)
    num = (sigma_bg.unsqueeze(-1) * feat_bg).reshape(B * R * S, -1).index_add(0, at, sigma_obj[:, None] * feat_obj)
    denom = torch.where(total > 0, total, torch.full_like(total, 1e-4))
    mean_feat = (num / denom[:, None]).reshape(*feat_bg.shape)

    def alpha_of(weights: torch.Tensor) -> torch.Tensor:
        w = weights.reshape(-1) / denom
        obj = torch.zeros(B * K * R, device=w.device, dtype=w.dtype).index_add(0, index // S, w[at] * sigma_obj)
        bg = (w * sigma_bg.reshape(-1)).reshape(B, R, S).sum(-1)
        return torch.cat([obj.reshape(B, K, R), bg[:, None]], 1)

    return total.reshape(B, R, S), mean_feat, alpha_of


def volume_weights(depth: torch.Tensor, sigma: torch.Tensor, last_dist: float = 1e10) -> torch.Tensor:
    """Depths and densities ... x S along unit rays -> rendering weights alpha_i prod_{j<i} (1 - alpha_j)."""
    dists = torch.cat([depth[..., 1:] - depth[..., :-1], torch.full_like(depth[..., :1], last_dist)], -1)
    alpha = 1 - torch.exp(-F.relu(sigma) * dists)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[..., :1]), 1 - alpha + 1e-10], -1), -1)[..., :-1]
    return alpha * trans


def sample_depths(n_rays_shape: tuple, cfg: GiraffeConfig, jitter: bool, generator=None, device=None) -> torch.Tensor:
    """Evenly spaced depths in [radius - extent, radius + extent]; with ``jitter`` one uniform sample per
    interval between midpoints (the reference's stratified noise)."""
    near, far = cfg.camera_radius - cfg.scene_extent, cfg.camera_radius + cfg.scene_extent
    d = torch.linspace(near, far, cfg.n_samples, device=device).expand(*n_rays_shape, cfg.n_samples)
    if jitter:
        mid = 0.5 * (d[..., 1:] + d[..., :-1])
        hi, lo = torch.cat([mid, d[..., -1:]], -1), torch.cat([d[..., :1], mid], -1)
        d = lo + (hi - lo) * torch.rand(d.shape, generator=generator, device=device)
    return d.contiguous()


# ---------------------------------------------------------------------------------------------- 2D networks

class NeuralRenderer(nn.Module):
    """Feature image F x 16 x 16 -> RGB 3 x 64 x 64 in [-1, 1]: per scale a nearest-upsampled 3x3 convolution
    (LeakyReLU 0.2) and an RGB skip: rgb = up(rgb) + conv_rgb(features) (bilinear and blurred RGB upsampling)."""

    def __init__(self, cfg: GiraffeConfig):
        super().__init__()
        n_up = int(math.log2(cfg.image_size // cfg.feature_size))
        nf = cfg.render_feat
        widths = [max(nf // 2 ** (i + 1), cfg.render_min_feat) for i in range(n_up)]
        self.conv_in = nn.Conv2d(cfg.feat_dim, nf, 1) if cfg.feat_dim != nf else nn.Identity()
        self.convs = nn.ModuleList([nn.Conv2d(a, b, 3, 1, 1) for a, b in zip([nf, *widths[:-1]], widths)])
        self.to_rgb = nn.ModuleList([nn.Conv2d(cfg.feat_dim, 3, 3, 1, 1)] + [nn.Conv2d(w, 3, 3, 1, 1) for w in widths])

    @staticmethod
    def upsample_rgb(rgb: torch.Tensor) -> torch.Tensor:
        """x2 bilinear, then the reference's [1 2 1] x [1 2 1] / 16 blur (edges replicated)."""
        rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
        k = torch.tensor([1.0, 2.0, 1.0], device=rgb.device, dtype=rgb.dtype)
        k = (k[:, None] * k[None] / 16).expand(rgb.shape[1], 1, 3, 3)
        return F.conv2d(F.pad(rgb, (1, 1, 1, 1), mode="replicate"), k, groups=rgb.shape[1])

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        net = self.conv_in(feat)                                                  # nf x 16 x 16
        rgb = self.upsample_rgb(self.to_rgb[0](feat))                             # 3 x 32 x 32
        for i, conv in enumerate(self.convs):
            net = F.leaky_relu(conv(F.interpolate(net, scale_factor=2, mode="nearest")), 0.2)  # halves, x2 size
            rgb = rgb + self.to_rgb[i + 1](net)
            if i < len(self.convs) - 1:
                rgb = self.upsample_rgb(rgb)
        return torch.sigmoid(rgb) * 2 - 1                                         # 3 x 64 x 64


class Discriminator(nn.Module):
    def __init__(self, cfg: GiraffeConfig):
        super().__init__()
        d = cfg.ndf
        self.convs = nn.Sequential(
            nn.Conv2d(3, d, 4, 2, 1), nn.LeakyReLU(0.2, True),              # d x 32 x 32
            nn.Conv2d(d, 2 * d, 4, 2, 1), nn.LeakyReLU(0.2, True),          # 2d x 16 x 16
            nn.Conv2d(2 * d, 4 * d, 4, 2, 1), nn.LeakyReLU(0.2, True),      # 4d x 8 x 8
            nn.Conv2d(4 * d, 8 * d, 4, 2, 1), nn.LeakyReLU(0.2, True),      # 8d x 4 x 4
            nn.Conv2d(8 * d, 1, 4, 1, 0),                                   # 1 x 1 x 1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x).view(-1)


# ---------------------------------------------------------------------------------------------- appearance code

def object_colours(image: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each object's mean colour in the rendered image, weighted by its visible alpha: image B x 3 x H x W and
    alpha B x (K+1) x h x w (objects, then background) -> colours B x K x 3 (the image's range) and each object's
    visible area B x K in alpha pixels. The image is average-pooled to the alpha's resolution (a feature pixel
    is a 4 x 4 block of the 64 x 64 image)."""
    small = F.adaptive_avg_pool2d(image, alpha.shape[-2:])                   # B x 3 x h x w
    a = alpha[:, :-1]                                                         # B x K x h x w
    area = a.sum((-2, -1))
    return torch.einsum("bkhw,bchw->bkc", a, small) / area.clamp_min(1e-6)[..., None], area


class AppearanceDecoder(nn.Module):
    """Q of InfoGAN (Chen et al. 2016) for the appearance code: an object's mean colour (3) -> the first
    ``n_dims`` entries of its z_a. Trained with the generator (synth.giraffe.train, --app-weight); not part of
    the generator, so a checkpoint's generator is the same with or without it."""

    def __init__(self, n_dims: int = 3, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_dims))

    def forward(self, colour: torch.Tensor) -> torch.Tensor:
        return self.net(colour)


# ---------------------------------------------------------------------------------------------- generator

class Generator(nn.Module):
    def __init__(self, cfg: GiraffeConfig):
        super().__init__()
        self.cfg = cfg
        self.object_field = FeatureField(cfg.hidden, cfg.n_blocks, cfg.skips, cfg.n_freq, cfg.n_freq_view,
                                         cfg.z_dim, cfg.feat_dim, cfg.obj_downscale)
        self.background_field = FeatureField(cfg.bg_hidden, cfg.bg_blocks, (), cfg.n_freq, cfg.n_freq_view,
                                             cfg.z_dim_bg, cfg.feat_dim, cfg.bg_downscale)
        self.renderer = NeuralRenderer(cfg)

    def sample(self, batch: int, seed: int | None = None, n_objects=None) -> Latents:
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        return sample_latents(self.cfg, batch, g, n_objects).to(self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def fields(self, lat: Latents, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Densities and features along the rays. Background: every sample (B x R x S, B x R x S x F).
        Objects: only the samples inside existing boxes, as flat lists with their index into B x K x R x S."""
        cfg = self.cfg
        B, K, res, S = len(lat), lat.z_shape.shape[1], cfg.feature_size, cfg.n_samples
        noise = cfg.sigma_noise if self.training else 0.0
        origin, dirs = camera_rays(lat.elevation, res, cfg)                     # B x 3, B x R x 3
        R = dirs.shape[1]
        depth = sample_depths((B, R), cfg, jitter=self.training, generator=generator, device=origin.device)
        p = origin[:, None, None] + depth[..., None] * dirs[:, :, None]           # B x R x S x 3

        # 1. objects: each ray in each object's canonical frame (origin R^T (o - t) / s, direction R^T d / s),
        #    points along it at the shared depths, evaluated only inside existing boxes
        oc = to_canonical(origin[:, None, None].expand(B, K, 1, 3), lat.scale, lat.translation, lat.rotation)
        dc = (dirs[:, None].unsqueeze(-2) @ rotation_z(lat.rotation)[:, :, None]).squeeze(-2)  # B x K x R x 3
        dc = dc / lat.scale[:, :, None]
        pc = oc[:, :, :, None] + depth[:, None, :, :, None] * dc[:, :, :, None]             # B x K x R x S x 3
        inside = (pc.abs() <= 1 + cfg.box_padding).all(-1) & lat.exists[:, :, None, None]     # B x K x R x S
        sel = inside.reshape(-1).nonzero().squeeze(1)
        bk = sel // (R * S)                                                      # which (image, object)
        s_obj, f_obj = self.object_field(pc.reshape(-1, 3)[sel], dc.reshape(-1, 3)[sel // S],
                                         lat.z_shape.reshape(B * K, -1)[bk], lat.z_app.reshape(B * K, -1)[bk])
        # 2. background: world points, every sample
        s_bg, f_bg = self.background_field(p, dirs[:, :, None], lat.z_shape_bg[:, None, None],  # view: per ray
                                           lat.z_app_bg[:, None, None])
        if noise:  # as in NeRF and the reference: noisy densities while training
            s_obj = s_obj + noise * torch.randn(s_obj.shape, generator=generator, device=s_obj.device)
            s_bg = s_bg + noise * torch.randn(s_bg.shape, generator=generator, device=s_bg.device)
        return {"depth": depth, "sigma_bg": F.relu(s_bg), "feat_bg": f_bg, "sigma_obj": F.relu(s_obj),
                "feat_obj": f_obj, "index": sel, "shape": torch.tensor([B, K, R, S])}

    def forward(self, lat: Latents, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Latents -> {"image": B x 3 x 64 x 64 in [-1, 1], "feature": B x F x 16 x 16,
        "alpha": B x (K+1) x 16 x 16 (each object's, then the background's share of the opacity)}."""
        res = self.cfg.feature_size
        f = self.fields(lat, generator)
        B = len(lat)
        total, mean_feat, alpha_of = composite_sparse(f["sigma_bg"], f["feat_bg"], f["sigma_obj"], f["feat_obj"],
                                                     f["index"], tuple(f["shape"].tolist()))
        weights = volume_weights(f["depth"], total)                       # B x R x S
        feature = (weights[..., None] * mean_feat).sum(-2)                # B x R x F
        feature = feature.permute(0, 2, 1).reshape(B, -1, res, res)       # B x F x 16 x 16
        alpha = alpha_of(weights).reshape(B, -1, res, res)                # B x (K+1) x 16 x 16
        return {"image": self.renderer(feature), "feature": feature, "alpha": alpha}


def load_giraffe(folder: Path, ema: bool = True) -> Generator:
    """A trained generator from a run or asset folder (the EMA weights by default), in eval mode."""
    meta = checkpoint.read_config(folder)
    if meta.get("model") != "giraffe":
        raise ValueError(f"{folder} holds a {meta.get('model')!r} checkpoint, not giraffe")
    G = Generator(checkpoint.config_from_dict(GiraffeConfig, meta["config"]))
    return checkpoint.load_part(folder, "generator_ema" if ema else "generator", G).eval()
