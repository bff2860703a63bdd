"""Sampling from the bundled generators: seeded samples, latent walks and a live architecture table.

    >>> from synth import generate
    >>> imgs = generate.sample("dcgan", n=16, seed=0)        # uint8 16 x 64 x 64 x 1
    >>> strip = generate.interpolate("dcgan", 1, 2, steps=8, mode="slerp")
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synth import checkpoint, data
from synth.models import GENERATORS, get_spec

CHECKPOINTS = data.ASSETS / "checkpoints"
MAX_SAMPLES = 64
INTERP_MODES = ("linear", "slerp")


def checkpoint_dir(model: str) -> Path:
    get_spec(model)
    return CHECKPOINTS / model


def available() -> list[str]:
    """Registered generators shown in the app that have a bundled checkpoint."""
    return [m for m, spec in GENERATORS.items()
            if spec.in_app and (CHECKPOINTS / m / "generator.safetensors").exists()]


@functools.lru_cache(maxsize=None)
def load_generator(model: str, folder: Path | None = None) -> nn.Module:
    spec = get_spec(model)
    folder = Path(folder) if folder is not None else checkpoint_dir(model)
    meta = checkpoint.read_config(folder)
    if meta["model"] != model:
        raise ValueError(f"{folder} holds a {meta['model']!r} checkpoint, not {model!r}")
    g = spec.generator_cls(checkpoint.config_from_dict(spec.config_cls, meta["config"]))
    checkpoint.load_part(folder, "generator", g)
    return g.eval()


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) and not (
            isinstance(seed, float) and float(seed).is_integer()):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return seed


def latents(nz: int, n: int, seed: int) -> torch.Tensor:
    """The same seed gives the same z on every machine (CPU generator)."""
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(check_seed(seed)))


@torch.no_grad()
def decode(model: str, z: torch.Tensor) -> np.ndarray:
    return data.to_uint8(load_generator(model)(z))


def sample(model: str, n: int, seed: int) -> np.ndarray:
    """n images (uint8 n x H x W x C) from the bundled generator; same (model, n, seed) -> same pixels."""
    if isinstance(n, bool) or not float(n).is_integer() or not 1 <= int(n) <= MAX_SAMPLES:
        raise ValueError(f"n must be an integer from 1 to {MAX_SAMPLES}, got {n!r}")
    g = load_generator(model)
    return decode(model, latents(g.cfg.nz, int(n), seed))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016), falling back to linear when a and b are (anti)parallel."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.arccos((a_n * b_n).sum(-1, keepdim=True).clamp(-1, 1))
    so = torch.sin(omega)
    lin = (1 - t) * a + t * b
    sph = torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b
    return torch.where(so.abs() < 1e-6, lin, sph)


def interpolate(model: str, seed_a: int, seed_b: int, steps: int, mode: str = "linear") -> np.ndarray:
    """Latent walk from z(seed_a) to z(seed_b) in `steps` images (both ends included)."""
    if mode not in INTERP_MODES:
        raise ValueError(f"mode must be one of {INTERP_MODES}, got {mode!r}")
    if isinstance(steps, bool) or not float(steps).is_integer() or not 2 <= int(steps) <= 16:
        raise ValueError(f"steps must be an integer from 2 to 16, got {steps!r}")
    g = load_generator(model)
    za, zb = latents(g.cfg.nz, 1, seed_a), latents(g.cfg.nz, 1, seed_b)
    t = torch.linspace(0, 1, int(steps)).view(-1, 1)
    z = (1 - t) * za + t * zb if mode == "linear" else slerp(za, zb, t)
    return decode(model, z)


def architecture(model: str) -> list[dict]:
    """The generator's layers with the output shape after each and parameter counts, traced live."""
    g = load_generator(model)
    rows, hooks = [], []
    leaves = [(name, m) for name, m in g.named_modules() if not list(m.children())]

    def hook(name, m):
        def fn(_, __, out):
            shape = tuple(out.shape[1:])
            rows.append({"layer": name, "type": type(m).__name__, "output": " x ".join(map(str, shape)),
                         "params": sum(p.numel() for p in m.parameters())})
        return fn

    for name, m in leaves:
        hooks.append(m.register_forward_hook(hook(name, m)))
    try:
        with torch.no_grad():
            g(latents(g.cfg.nz, 2, 0))
    finally:
        for h in hooks:
            h.remove()
    return [{"layer": "z", "type": "input", "output": str(g.cfg.nz), "params": 0}, *rows]
