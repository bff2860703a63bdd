"""Guided image inpainting (Yinan Zhao, Brian Price, Scott Cohen and Danna Gurari: "Guided Image Inpainting:
Replacing an Image Region by Pulling Content from Another Image", WACV 2019), at 64x64 on a CPU.

The four steps of the paper, in ``GuidedInpainting.forward``:

1. Localisation: a spatial transformer. Its localisation network sees the incomplete image with its hole
   mask (64x64) and the guidance image (96x96), each through a strided CNN (with two coordinate channels,
   CoordConv, so positions are easy to regress) and, not in the paper, a feature correlation volume (Rocco
   et al. 2017: cosine similarity of every known image cell with every guidance cell at stride 8), and a
   fully connected head predicts the 6 affine parameters ``theta`` mapping the frame's normalised coordinates into the guidance. ``affine_grid`` and
   ``grid_sample`` then sample the guidance *aligned with the frame*: the aligned patch lands where the hole
   is. The head starts at the centre crop (theta = diag(64/96)); the ``use_stn=False`` ablation keeps it
   there (an identity crop, no transformer). With ``refine`` > 0 (not in the paper), the transformer then
   corrects itself ``refine`` times: a small network compares the known pixels with the guidance as sampled
   so far over a local window of shifts (a cost volume, as in coarse-to-fine optical flow) and composes a
   correction onto ``theta`` (``Refinement``); the localisation loss supervises every estimate.
2. Fusion: high-level features of the aligned patch (its own encoder, with a validity channel marking where
   the sample fell inside the guidance) are fused with features of the incomplete image concatenated with
   the binary hole mask, at every scale of a U-Net-like decoder.
3. Attention: a branch on both feature streams predicts, per location, how far the aligned patch is
   inconsistent with the image's context (alpha in [0, 1]; 1 = do not copy, synthesise). The patch features
   and the aligned patch itself enter the decoder multiplied by (1 - alpha), and alpha is given to every
   decoder stage, so the decoder knows where to invent instead of copy. ``use_attention=False`` removes it.
4. Decoding: the fused features are decoded to the completed image (tanh); the known pixels are pasted back.
   With ``copy_residual`` the last layer gives two things instead, mixed by the attention: a correction added
   to the aligned patch (colour, blur) where alpha says copy, and new content (tanh) where it says synthesise:
   pred = (1 - alpha) (aligned + r) + alpha tanh(s).

Losses (paper: reconstruction + adversarial): an L1 reconstruction loss on the hole and a band of known
pixels around it, and a PatchGAN critic (Isola et al. 2017) on the completed image with the non-saturating
GAN loss. Not in the paper, both switchable (weight 0): an auxiliary localisation loss (the triplet
generator knows where the patch was pasted: L1 between the patch box's corners mapped by the predicted and
the true transform) so the transformer converges within a CPU budget, and an auxiliary attention loss
(binary cross-entropy against the part of the hole the pasted patch does not cover).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from synth.inpaint.context_encoder import init_weights as dcgan_init


@dataclass
class GuidedConfig:
    image_size: int = 64        # paper: 256x256; 64 here (CPU), the hole's bounding box is 32
    guide_size: int = 96        # the guidance is larger than the frame, so the patch can be anywhere in it
    nf: int = 32                # first-layer channels (the paper's networks are wider; CPU budget)
    loc_hidden: int = 256       # localisation head's hidden units
    correlation: bool = True    # localisation also sees a feature correlation volume (Rocco et al. 2017)
    use_stn: bool = True        # False: the ablation without the transformer (fixed centre crop)
    use_attention: bool = True  # False: the ablation without the attention branch
    overlap: int = 4            # known band around the hole that the reconstruction loss also covers, px
    overlap_weight: float = 2.0
    lambda_rec: float = 1.0     # L1 reconstruction
    lambda_adv: float = 0.01    # adversarial (generator side)
    lambda_loc: float = 1.0     # auxiliary localisation loss (not in the paper; 0 switches it off)
    lambda_attn: float = 0.1    # auxiliary attention loss (not in the paper; 0 switches it off)
    refine: int = 0             # refinement passes of the transformer on a local cost volume (not in the paper)
    refine_radius: int = 3      # the cost volume's displacements, +- cells at S/2 (3: +-6 px at 64)
    copy_residual: bool = False  # the decoder outputs a correction of the aligned patch where it copies and
                                 # new content where the attention says synthesise (0 = a plain tanh image)

    @property
    def base_scale(self) -> float:
        return self.image_size / self.guide_size


def init_weights(m: nn.Module) -> None:
    """The Context Encoder's (DCGAN's) initialisation, linear layers included."""
    dcgan_init(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))


def down(cin: int, cout: int, norm: bool = True) -> nn.Sequential:
    """4x4 stride-2 convolution: halves the side."""
    layers = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers)


def conv(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(True))


def coords(x: torch.Tensor) -> torch.Tensor:
    """N x 2 x H x W: normalised x and y of every pixel (CoordConv)."""
    n, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy])[None].expand(n, 2, h, w)


def encoder_depth(size: int, final: int) -> int:
    n, s = 0, size
    while s > final:
        if s % 2:
            raise ValueError(f"size {size} does not halve down to {final}")
        s //= 2
        n += 1
    if s != final:
        raise ValueError(f"size {size} does not halve down to {final}")
    return n


class Localisation(nn.Module):
    """(incomplete image + mask, guidance) -> theta N x 2 x 3 (frame -> guidance, normalised coords)."""

    def __init__(self, cfg: GuidedConfig):
        super().__init__()
        nf = cfg.nf
        self.cfg = cfg

        def stream(cin: int, size: int) -> tuple[nn.Sequential, int]:
            n = encoder_depth(size, size // 16)
            chans = [cin] + [min(nf * 2 ** i, 4 * nf) for i in range(n)]
            layers = [down(a, b, norm=i > 0) for i, (a, b) in enumerate(zip(chans, chans[1:]))]
            return nn.Sequential(*layers), chans[-1] * (size // 16) ** 2

        self.image_net, n_img = stream(3 + 1 + 2, cfg.image_size)   # state size. 4nf x 4 x 4
        self.guide_net, n_gd = stream(3 + 2, cfg.guide_size)        # state size. 4nf x 6 x 6
        n_corr = 0
        if cfg.correlation:
            # one trunk for both images (input: colour x known, known), stride 8
            self.trunk = nn.Sequential(down(4, nf, norm=False), down(nf, 2 * nf), down(2 * nf, 4 * nf))
            cells = (cfg.image_size // 8) ** 2                         # image positions: the volume's channels
            self.regress = nn.Sequential(
                nn.Conv2d(cells, 2 * nf, 3, 1, 1, bias=False), nn.BatchNorm2d(2 * nf), nn.ReLU(True),
                nn.Conv2d(2 * nf, nf, 4, 2, 1, bias=False), nn.BatchNorm2d(nf), nn.ReLU(True))
            n_corr = nf * (cfg.guide_size // 16) ** 2                   # state size. nf x 6 x 6
        self.head = nn.Sequential(nn.Linear(n_img + n_gd + n_corr, cfg.loc_hidden), nn.ReLU(True),
                                  nn.Linear(cfg.loc_hidden, 6))
        self.apply(init_weights)
        # start at the centre crop (the spatial transformer's identity initialisation)
        nn.init.zeros_(self.head[-1].weight)
        with torch.no_grad():
            self.head[-1].bias.copy_(base_theta(cfg, 1).view(6))

    def forward(self, incomplete: torch.Tensor, mask: torch.Tensor, guidance: torch.Tensor) -> torch.Tensor:
        a = self.image_net(torch.cat([incomplete, mask, coords(incomplete)], 1)).flatten(1)
        b = self.guide_net(torch.cat([guidance, coords(guidance)], 1)).flatten(1)
        feats = [a, b]
        if self.cfg.correlation:
            feats.append(self.regress(self.correlate(incomplete, mask, guidance)).flatten(1))
        return self.head(torch.cat(feats, 1)).view(-1, 2, 3)

    def correlate(self, incomplete, mask, guidance) -> torch.Tensor:
        """Cosine similarity of every known image cell with every guidance cell: N x (S/8)^2 x G/8 x G/8, each
        channel one image position (cells in the hole weighted by how much of them is known)."""
        known = 1 - mask
        fi = F.normalize(self.trunk(torch.cat([incomplete * known, known], 1)), dim=1)       # N x C x 8 x 8
        fg = F.normalize(self.trunk(torch.cat([guidance, torch.ones_like(guidance[:, :1])], 1)), dim=1)  # 12 x 12
        w = F.adaptive_avg_pool2d(known, fi.shape[-1]).flatten(1)                           # N x 64
        corr = torch.einsum("nci,ncj->nij", fi.flatten(2), fg.flatten(2)) * w[:, :, None]   # N x 64 x 144
        return F.relu(corr).view(fi.shape[0], -1, *fg.shape[-2:])


class Refinement(nn.Module):
    """One refinement pass of the transformer (not in the paper; in the spirit of coarse-to-fine flow
    networks, PWC-Net, Sun et al. 2018): features of the incomplete image (known pixels only) and of the guidance
    as sampled by the current ``theta`` are compared over a local window of displacements at S/2 (a cost
    volume: cosine similarity for each shift of +-``refine_radius`` cells, counted only where the image is
    known), and a small CNN reads it (with coordinate channels, so scale and rotation errors, which shift
    the sample differently across the frame, are visible) into a correction ``delta`` in the frame's own
    coordinates: theta' = theta o delta. ``delta`` starts at the identity (zero-initialised head)."""

    def __init__(self, cfg: GuidedConfig):
        super().__init__()
        nf, r = cfg.nf, cfg.refine_radius
        self.radius = r
        self.trunk = nn.Sequential(nn.Conv2d(4, nf, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                   nn.Conv2d(nf, 2 * nf, 4, 2, 1), nn.LeakyReLU(0.2, True),
                                   nn.Conv2d(2 * nf, 2 * nf, 3, 1, 1))          # state size. 2nf x S/2 x S/2
        cin = (2 * r + 1) ** 2 + 1 + 2                                           # costs, known, coords
        self.read = nn.Sequential(down(cin, 2 * nf, norm=False),                 # S/4
                                  down(2 * nf, 4 * nf), down(4 * nf, 4 * nf),    # S/16
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                  nn.Linear(16 * nf, cfg.loc_hidden), nn.ReLU(True),
                                  nn.Linear(cfg.loc_hidden, 6))
        self.apply(init_weights)
        nn.init.zeros_(self.read[-1].weight)
        nn.init.zeros_(self.read[-1].bias)

    def cost_volume(self, fi: torch.Tensor, fa: torch.Tensor) -> torch.Tensor:
        """N x (2r+1)^2 x H x W: <fi(x), fa(x + d)> for every shift d (fa zero-padded)."""
        r = self.radius
        h, w = fi.shape[-2:]
        pad = F.pad(fa, (r, r, r, r))
        return torch.stack([(fi * pad[:, :, dy:dy + h, dx:dx + w]).sum(1)
                            for dy in range(2 * r + 1) for dx in range(2 * r + 1)], 1)

    def forward(self, incomplete, mask, aligned, valid, theta) -> torch.Tensor:
        known = 1 - mask
        fi = F.normalize(self.trunk(torch.cat([incomplete * known, known], 1)), dim=1)
        fa = F.normalize(self.trunk(torch.cat([aligned * valid, valid], 1)), dim=1)
        k = F.adaptive_avg_pool2d(known, fi.shape[-1])
        cost = self.cost_volume(fi, fa) * k
        d = self.read(torch.cat([cost, k, coords(k)], 1)).view(-1, 2, 3)
        lin = theta[:, :, :2] @ (torch.eye(2, device=d.device, dtype=d.dtype) + d[:, :, :2])
        t = theta[:, :, 2:] + theta[:, :, :2] @ d[:, :, 2:]
        return torch.cat([lin, t], 2)


def base_theta(cfg: GuidedConfig, n: int, device=None) -> torch.Tensor:
    """The centre crop of the guidance at the frame's scale: N x 2 x 3."""
    s = cfg.base_scale
    return torch.tensor([[s, 0.0, 0.0], [0.0, s, 0.0]], device=device).expand(n, 2, 3).clone()


def sample_guidance(guidance: torch.Tensor, theta: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable sampling: (aligned N x 3 x size x size, valid N x 1 x size x size). ``valid`` is 1 where
    the sample fell inside the guidance image (bilinear, zeros outside)."""
    n = guidance.shape[0]
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    aligned = F.grid_sample(guidance, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    ones = torch.ones_like(guidance[:, :1])
    valid = F.grid_sample(ones, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return aligned, valid


class Encoder(nn.Module):
    """4 channels x S -> features at S/2 (nf), S/4 (2nf), S/8 (4nf)."""

    def __init__(self, nf: int):
        super().__init__()
        self.d1 = down(4, nf, norm=False)
        self.d2 = down(nf, 2 * nf)
        self.d3 = down(2 * nf, 4 * nf)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        e1 = self.d1(x)          # state size. nf x 32 x 32
        e2 = self.d2(e1)         # state size. 2nf x 16 x 16
        e3 = self.d3(e2)         # state size. 4nf x 8 x 8
        return [e1, e2, e3]


class Residual(nn.Module):
    def __init__(self, c: int, dilation: int):
        super().__init__()
        self.body = nn.Sequential(conv(c, c, dilation),
                                  nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(x + self.body(x))


class Attention(nn.Module):
    """Both feature streams -> alpha N x 1 x S/4 x S/4 in [0, 1]: how inconsistent the aligned patch is."""

    def __init__(self, nf: int):
        super().__init__()
        self.coarse = nn.Sequential(nn.Conv2d(8 * nf, 2 * nf, 3, 1, 1), nn.LeakyReLU(0.2, True))
        self.fine = nn.Sequential(nn.Conv2d(4 * nf + 2 * nf + 1, nf, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(nf, 1, 3, 1, 1))

    def forward(self, e2, p2, e3, p3, mask16):
        h = F.interpolate(self.coarse(torch.cat([e3, p3], 1)), scale_factor=2, mode="nearest")
        return torch.sigmoid(self.fine(torch.cat([e2, p2, h, mask16], 1)))


class GuidedInpainting(nn.Module):
    """(image with the hole zeroed N x 3 x S x S, mask N x 1 x S x S, guidance N x 3 x G x G) in [-1, 1] ->
    dict: ``pred`` N x 3 x S x S (tanh), ``aligned`` (the sampled guidance), ``valid``, ``theta``,
    ``attention`` N x 1 x S x S (zeros without the attention branch)."""

    def __init__(self, cfg: GuidedConfig):
        super().__init__()
        self.cfg = cfg
        nf = cfg.nf
        self.image_enc = Encoder(nf)               # incomplete image + mask
        self.patch_enc = Encoder(nf)               # aligned patch + validity
        self.attention = Attention(nf) if cfg.use_attention else None
        self.fuse = nn.Sequential(nn.Conv2d(8 * nf + 1, 4 * nf, 1, bias=False), nn.BatchNorm2d(4 * nf),
                                  nn.ReLU(True), Residual(4 * nf, 1), Residual(4 * nf, 2), Residual(4 * nf, 1))
        self.up2 = conv(4 * nf + 2 * nf + 2 * nf + 1, 2 * nf)     # 16: up(fused), e2, p2 * (1 - a), a
        self.up1 = conv(2 * nf + nf + nf + 1, nf)                  # 32: up(d2), e1, p1 * (1 - a), a
        # 64: up(d1), aligned * (1 - a), image, mask, a -> an image (tanh), or with ``copy_residual`` a
        # correction of the aligned patch (3) and new content (3), mixed by the attention
        self.up0 = nn.Sequential(conv(nf + 3 + 3 + 1 + 1, nf),
                                 nn.Conv2d(nf, 6 if cfg.copy_residual else 3, 3, 1, 1))
        self.apply(init_weights)
        # after init_weights: both keep their identity start
        self.loc = Localisation(cfg) if cfg.use_stn else None
        self.refiner = Refinement(cfg) if cfg.use_stn and cfg.refine > 0 else None

    def localise(self, incomplete, mask, guidance) -> list[torch.Tensor]:
        """The transformer's estimates, coarse to fine: [theta] from the localisation network, then one more
        per refinement pass (the same refinement weights each pass)."""
        if self.loc is None:
            return [base_theta(self.cfg, incomplete.shape[0], incomplete.device)]
        thetas = [self.loc(incomplete, mask, guidance)]
        for _ in range(self.cfg.refine if self.refiner is not None else 0):
            aligned, valid = sample_guidance(guidance, thetas[-1], self.cfg.image_size)
            thetas.append(self.refiner(incomplete, mask, aligned, valid, thetas[-1]))
        return thetas

    def forward(self, incomplete: torch.Tensor, mask: torch.Tensor, guidance: torch.Tensor) -> dict:
        s = self.cfg.image_size
        mask = mask.float()
        # 1. localisation: where in the guidance is the content for the hole? sample it aligned with the frame
        thetas = self.localise(incomplete, mask, guidance)
        theta = thetas[-1]
        aligned, valid = sample_guidance(guidance, theta, s)                 # N x 3 x 64 x 64, N x 1 x 64 x 64
        # 2. two feature streams: the incomplete image with its mask, the aligned patch with its validity
        e1, e2, e3 = self.image_enc(torch.cat([incomplete, mask], 1))
        p1, p2, p3 = self.patch_enc(torch.cat([aligned, valid], 1))
        # 3. attention: inconsistency of the aligned patch with the context, at S/4; 0 without the branch
        mask16 = F.adaptive_avg_pool2d(mask, e2.shape[-1])
        if self.attention is not None:
            a16 = self.attention(e2, p2, e3, p3, mask16)                     # N x 1 x 16 x 16
        else:
            a16 = torch.zeros_like(mask16)
        a8 = F.avg_pool2d(a16, 2)
        a32 = F.interpolate(a16, scale_factor=2, mode="bilinear", align_corners=False)
        a64 = F.interpolate(a16, scale_factor=4, mode="bilinear", align_corners=False)
        # 4. fusion at S/8, then decoding with both streams' skips, the patch gated by (1 - alpha)
        f = self.fuse(torch.cat([e3, p3 * (1 - a8), a8], 1))                # 4nf x 8 x 8
        d2 = self.up2(torch.cat([F.interpolate(f, scale_factor=2), e2, p2 * (1 - a16), a16], 1))    # 2nf x 16
        d1 = self.up1(torch.cat([F.interpolate(d2, scale_factor=2), e1, p1 * (1 - a32), a32], 1))   # nf x 32
        out = self.up0(torch.cat([F.interpolate(d1, scale_factor=2), aligned * (1 - a64), incomplete, mask,
                                  a64], 1))                                  # 3 (or 6) x 64 x 64
        if self.cfg.copy_residual:
            # copy where the attention trusts the patch (corrected), synthesise where it does not
            pred = (1 - a64) * (aligned + out[:, :3]) + a64 * torch.tanh(out[:, 3:])
            pred = pred if self.training else pred.clamp(-1, 1)
        else:
            pred = torch.tanh(out)
        return {"pred": pred, "aligned": aligned, "valid": valid, "theta": theta, "thetas": thetas,
                "attention": a64, "attention16": a16}


class PatchDiscriminator(nn.Module):
    """PatchGAN critic (Isola et al. 2017): N x 3 x 64 x 64 -> N x 1 x 8 x 8 logits, each judging a patch."""

    def __init__(self, cfg: GuidedConfig):
        super().__init__()
        nf = cfg.nf
        self.net = nn.Sequential(down(3, nf, norm=False),         # nf x 32 x 32
                                 down(nf, 2 * nf),                # 2nf x 16 x 16
                                 down(2 * nf, 4 * nf),            # 4nf x 8 x 8
                                 nn.Conv2d(4 * nf, 1, 3, 1, 1))   # 1 x 8 x 8
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ---------------------------------------------------------------------------------------------- losses

def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The image with the hole set to 0 (the mean of [-1, 1] data)."""
    return image * (1 - mask.float())


def composite(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.float()
    return pred * m + image * (1 - m)


def reconstruction_loss(pred, target, mask, overlap: int, overlap_weight: float) -> torch.Tensor:
    """Weighted L1 over the hole (weight 1) and the band of known pixels around it (``overlap_weight``)."""
    m = mask.float()
    band = (F.max_pool2d(m, 2 * overlap + 1, stride=1, padding=overlap) > 0).float() - m if overlap > 0 else 0 * m
    w = m + overlap_weight * band
    return ((pred - target).abs() * w).sum() / ((w > 0).float().sum() * pred.shape[1]).clamp_min(1.0)


def map_corners(theta: torch.Tensor, corners: torch.Tensor, image_size: int, guide_size: int) -> torch.Tensor:
    """Frame edge coords N x K x 2 (x, y) -> guidance edge coords through theta N x 2 x 3."""
    u = corners * (2.0 / image_size) - 1
    ug = u @ theta[:, :, :2].transpose(1, 2) + theta[:, None, :, 2]
    return (ug + 1) * (guide_size / 2.0)


def box_corners(boxes: torch.Tensor) -> torch.Tensor:
    """N x 4 (x0, y0, x1, y1) -> N x 4 x 2 corners (x, y)."""
    x0, y0, x1, y1 = boxes.unbind(1)
    return torch.stack([torch.stack([x0, y0], 1), torch.stack([x1, y0], 1), torch.stack([x1, y1], 1),
                        torch.stack([x0, y1], 1)], 1)


def localisation_loss(theta, theta_true, boxes, cfg: GuidedConfig) -> torch.Tensor:
    """Mean L1 distance (in guidance pixels / guide_size) between the patch box's corners mapped by the
    predicted and the true transform."""
    c = box_corners(boxes)
    a = map_corners(theta, c, cfg.image_size, cfg.guide_size)
    b = map_corners(theta_true, c, cfg.image_size, cfg.guide_size)
    return (a - b).abs().mean() / cfg.guide_size


def attention_target(gap: torch.Tensor, size: int) -> torch.Tensor:
    """The share of each attention cell that lies in the uncovered part of the hole: N x 1 x size x size."""
    return F.adaptive_avg_pool2d(gap.float(), size)
