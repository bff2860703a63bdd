"""Grow a trained DCGAN to more channels without changing what it computes (Net2WiderNet, Chen, Goodfellow and
Shlens, ICLR 2016), then train on: a wider model starts where the narrow one stopped instead of from noise.

Each new channel copies an existing one (its producing filter, its batch-norm parameters and statistics); the
layer that reads the channels divides the weights of every copied channel by its number of copies, so G(z) and D(x)
are unchanged. A little noise on the copies' producing filters lets them drift apart once training resumes.

    python -m synth.train widen runs/dcgan_mnist runs/dcgan_mnist_w48 --ngf 48 --ndf 48
    python -m synth.train dcgan --resume --out runs/dcgan_mnist_w48 --config '{"ngf": 48, "ndf": 48}' ...

The new run's state.pt holds the widened generator, its EMA and discriminator, fresh Adam states and the old run's
step (the loss log and snapshots go on from there).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch
from torch import nn

from synth import checkpoint
from synth.gan.dcgan import DCGANConfig, Discriminator, Generator
from synth.gan.registry import get_spec
from synth.training import save_training_state


def channel_map(old: int, new: int, gen: torch.Generator) -> torch.Tensor:
    """new -> old channel index: every old channel once, then (new - old) random copies."""
    if new < old:
        raise ValueError(f"can only widen: {old} channels -> {new}")
    return torch.cat([torch.arange(old), torch.randint(old, (new - old,), generator=gen)])


def _producer(w: torch.Tensor, dim: int, g: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    """Rows of the new channels (copies of g's), copies perturbed by `noise` x the weights' std."""
    out = w.index_select(dim, g).clone()
    copies = torch.arange(len(g)) >= w.shape[dim]          # channel_map puts the copies after the old channels
    if noise and copies.any():
        shape = [1] * w.dim()
        shape[dim] = len(g)
        eps = torch.randn(out.shape, generator=gen) * noise * float(w.std())
        out += eps * copies.view(shape)
    return out


def _consumer(w: torch.Tensor, dim: int, g: torch.Tensor, group: int = 1) -> torch.Tensor:
    """Weights that read the channels: each copy gets its source's weights / number of copies. `group` inputs per
    channel (a flattened C x 4 x 4 map read by a linear layer has 16)."""
    counts = torch.bincount(g).to(w.dtype)[g]
    shape = list(w.shape)
    w = w.unflatten(dim, (shape[dim] // group, group))
    out = w.index_select(dim, g) / counts.view([-1 if i == dim else 1 for i in range(w.dim())])
    return out.flatten(dim, dim + 1)


def _batchnorm(old: nn.BatchNorm2d, new: nn.BatchNorm2d, g: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(new, name).copy_(getattr(old, name)[g])
    new.num_batches_tracked.copy_(old.num_batches_tracked)


@torch.no_grad()
def widen_generator(old: Generator, ngf: int, noise: float = 0.01, seed: int = 0) -> Generator:
    """G with ngf channels (the same channel copies for the same seed, whatever the noise)."""
    cfg = dataclasses.replace(old.cfg, ngf=ngf)
    new = Generator(cfg)
    gen, noise_gen = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    c_old, c_new = old.cfg.ngf * 8, ngf * 8
    g = channel_map(c_old, c_new, gen)
    lin_o, lin_n = old.project[0], new.project[0]          # nz -> C*16, read as C x 4 x 4
    lin_n.weight.copy_(_producer(lin_o.weight.unflatten(0, (c_old, 16)), 0, g, noise, noise_gen).flatten(0, 1))
    _batchnorm(old.project[2], new.project[2], g)
    convs_o = [m for m in old.convs if isinstance(m, nn.ConvTranspose2d)]
    convs_n = [m for m in new.convs if isinstance(m, nn.ConvTranspose2d)]
    bns_o = [m for m in old.convs if isinstance(m, nn.BatchNorm2d)]
    bns_n = [m for m in new.convs if isinstance(m, nn.BatchNorm2d)]
    for i, (co, cn) in enumerate(zip(convs_o, convs_n)):      # ConvTranspose2d weight: in x out x k x k
        w = _consumer(co.weight, 0, g)
        if i < len(bns_o):
            g = channel_map(co.out_channels, cn.out_channels, gen)
            w = _producer(w, 1, g, noise, noise_gen)
            _batchnorm(bns_o[i], bns_n[i], g)
        cn.weight.copy_(w)
    return new


@torch.no_grad()
def widen_discriminator(old: Discriminator, cfg: DCGANConfig, ndf: int, noise: float = 0.01,
                        seed: int = 1) -> Discriminator:
    """D (built from cfg) with ndf channels."""
    cfg = dataclasses.replace(cfg, ndf=ndf)
    new = Discriminator(cfg)
    gen, noise_gen = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    convs_o = [m for m in old.convs if isinstance(m, nn.Conv2d)]
    convs_n = [m for m in new.convs if isinstance(m, nn.Conv2d)]
    bns_o = [None] + [m for m in old.convs if isinstance(m, nn.BatchNorm2d)]   # no batch norm after the input layer
    bns_n = [None] + [m for m in new.convs if isinstance(m, nn.BatchNorm2d)]
    g = torch.arange(cfg.nc)
    for i, (co, cn) in enumerate(zip(convs_o, convs_n)):      # Conv2d weight: out x in x k x k
        w = _consumer(co.weight, 1, g)
        g = channel_map(co.out_channels, cn.out_channels, gen)
        cn.weight.copy_(_producer(w, 0, g, noise, noise_gen))
        if co.bias is not None:
            cn.bias.copy_(co.bias[g])
        if bns_o[i] is not None:
            _batchnorm(bns_o[i], bns_n[i], g)
    new.head.weight.copy_(_consumer(old.head.weight, 1, g, group=16))
    new.head.bias.copy_(old.head.bias)
    return new


def widen_run(src: Path, dst: Path, ngf: int, ndf: int, noise: float = 0.01, lr: float = 2e-4,
              beta1: float = 0.5) -> Path:
    """src's state.pt (a DCGAN run) -> dst/state.pt with the widened nets and fresh optimisers."""
    src, dst = Path(src), Path(dst)
    meta = checkpoint.read_config(src)
    spec = get_spec(meta["model"])
    cfg = checkpoint.config_from_dict(spec.config_cls, meta["config"])
    st = checkpoint.load_state(src / "state.pt")
    G, D = spec.generator_cls(cfg), spec.discriminator_cls(cfg)
    G.load_state_dict(st["generator"])
    D.load_state_dict(st["discriminator"])
    G_new, D_new = widen_generator(G, ngf, noise, seed=0), widen_discriminator(D, cfg, ndf, noise, seed=1)
    parts = {"generator": G_new, "discriminator": D_new,
             "opt_g": torch.optim.Adam(G_new.parameters(), lr=lr, betas=(beta1, 0.999)),
             "opt_d": torch.optim.Adam(D_new.parameters(), lr=lr, betas=(beta1, 0.999))}
    if "generator_ema" in st:
        G.load_state_dict(st["generator_ema"])
        parts["generator_ema"] = widen_generator(G, ngf, noise=0.0, seed=0)   # the same channel map as G's
    dst.mkdir(parents=True, exist_ok=True)
    save_training_state(dst / "state.pt", parts, step=st["step"], wall_time=st["wall_time"])
    if (src / "losses.csv").exists():
        (dst / "losses.csv").write_text((src / "losses.csv").read_text())
    (dst / "widened_from.json").write_text(json.dumps(
        {"source": str(src), "step": st["step"], "config": dataclasses.asdict(cfg), "ngf": ngf, "ndf": ndf,
         "noise": noise}, indent=2) + "\n")
    return dst


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="synth.train widen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", type=Path, help="a DCGAN run folder with state.pt and config.json")
    p.add_argument("dst", type=Path)
    p.add_argument("--ngf", type=int, required=True)
    p.add_argument("--ndf", type=int, required=True)
    p.add_argument("--noise", type=float, default=0.01, help="noise on the copied filters, x the layer's std")
    a = p.parse_args(argv)
    print(widen_run(a.src, a.dst, a.ngf, a.ndf, a.noise) / "state.pt")


if __name__ == "__main__":
    main()
