"""Sampling from the bundled generators: seeded samples, latent walks and a live architecture table.

    >>> from synth.gan import generate
    >>> imgs = generate.sample("dcgan", n=16, seed=0)        # uint8 16 x 64 x 64 x 1
    >>> strip = generate.interpolate("dcgan", 1, 2, steps=8, mode="slerp")

The Generate tab (ui/generate_tab.py) calls the functions under "For the tab" below: each checks the model
name, raises ValueError with a sentence a student understands, and returns what a widget shows.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from synth import checkpoint, data
from synth.gan.registry import GENERATORS, get_spec

CHECKPOINTS = data.ASSETS / "checkpoints"
MAX_SAMPLES = 64
INTERP_MODES = ("linear", "slerp")
DISPLAY = 112  # digits are tiny: shown at 112 px with nearest-neighbour upscaling (pixels stay visible)


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


# ---------------------------------------------------------------------------------------------- for the tab

def choices() -> list[tuple[str, str]]:
    """(title, name) of every generator the app lists, for a dropdown."""
    return [(GENERATORS[m].title, m) for m in available()]


def check_model(model: str) -> None:
    if model not in available():
        raise ValueError(f"Unknown model {model!r}. Choose one of: {', '.join(available())}.")


def enlarge(images: np.ndarray) -> list[np.ndarray]:
    """uint8 N x H x W x C -> N images about DISPLAY px wide (whole-pixel blocks; grey ones as H x W)."""
    out = []
    for im in images:
        im = im[..., 0] if im.shape[-1] == 1 else im
        k = max(1, DISPLAY // im.shape[0])
        out.append(np.kron(im, np.ones((k, k) + (1,) * (im.ndim - 2), dtype=np.uint8)))
    return out


def grid(images: np.ndarray, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """uint8 N x H x W x C -> one uint8 image, nrow per row, black padding."""
    n, h, w, c = images.shape
    rows = int(np.ceil(n / nrow))
    out = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), np.uint8)
    for i, im in enumerate(images):
        r, q = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = im
    return out[..., 0] if c == 1 else out


def sample_gallery(model: str, n: int, seed: int) -> list[np.ndarray]:
    """The tab's "Generate" button: sample(model, n, seed), enlarged for display."""
    check_model(model)
    return enlarge(sample(model, n, seed))


def walk_gallery(model: str, seed_a: int, seed_b: int, steps: int, mode: str = "linear") -> list[np.ndarray]:
    """The tab's "Walk" button: interpolate(...), enlarged for display."""
    check_model(model)
    return enlarge(interpolate(model, seed_a, seed_b, steps, mode))


def architecture_table(model: str) -> tuple[pd.DataFrame, str]:
    """The generator's layers as a table, and a line saying what it is and how long it trained."""
    check_model(model)
    df = pd.DataFrame(architecture(model))[["layer", "type", "output", "params"]]
    total = int(df["params"].sum())
    meta = checkpoint.read_config(checkpoint_dir(model))
    info = (f"**{get_spec(model).title}**: generator with {total:,} parameters; trained {meta.get('step', '?')} "
            f"steps ({meta.get('wall_time_s', 0) / 60:.0f} min on a 2-core CPU). Shapes are traced from the live "
            "model.")
    return df, info


def training_curves(model: str) -> str | None:
    """The bundled checkpoint's loss plot (a PNG path), or None when it has none."""
    path = checkpoint_dir(model) / "losses.png"
    return str(path) if path.exists() else None


def training_digit_picks(per_class: int = 3) -> np.ndarray:
    """Indices of the first ``per_class`` training digits of every class, in rows: row r holds the r-th 0, 1, ..., 9
    (the training file is sorted by class, so its first digits would all be zeros)."""
    labels = data.load("digits", "train").labels
    classes = np.unique(labels)
    picks = [np.flatnonzero(labels == c)[:per_class] for c in classes]
    if min(map(len, picks)) < per_class:
        raise ValueError(f"per_class must be at most {min(map(len, picks))} (the rarest class's count), got {per_class}")
    return np.stack(picks, 1).reshape(-1)                    # row-major: one column per class


def training_digits(per_class: int = 3) -> np.ndarray:
    """``per_class`` real training digits of every class as one grid image (a column per class), to compare the
    samples with."""
    ds = data.load("digits", "train")
    return grid(ds.images[training_digit_picks(per_class)], nrow=len(np.unique(ds.labels)))


def sample_caption(model: str, n: int, seed: int) -> str:
    """What the sample gallery's label says: which model drew the images, from which seed."""
    return f"{get_spec(model).title}: {int(n)} samples, seed {int(seed)}"


def walk_caption(model: str, seed_a: int, seed_b: int, steps: int, mode: str) -> str:
    return f"{get_spec(model).title}: {mode} walk from seed {int(seed_a)} to seed {int(seed_b)} in {int(steps)} steps"


def stray_pixels(images: np.ndarray) -> float:
    """Bright pixels (> 64) whose four neighbours are all dark (< 32), per image, on uint8 N x H x W x 1: the
    speckle that a generator with one output unit per pixel leaves and real digits almost never have."""
    x = images[..., 0].astype(np.int16)
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    neighbours = np.maximum.reduce([p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]])
    return float(((x > 64) & (neighbours < 32)).sum((1, 2)).mean())


@functools.lru_cache(maxsize=None)
def model_note(model: str) -> str:
    """One line under the model menu: what the generator draws and how it is shown, with its speckle measured
    on 64 samples (seed 0) against 64 real training digits."""
    check_model(model)
    g = load_generator(model)
    size = g.cfg.image_size
    k = max(1, DISPLAY // size)
    shown = f" (each pixel shown as a {k} x {k} block)" if k > 1 else ""
    stray = stray_pixels(sample(model, MAX_SAMPLES, 0))
    real = stray_pixels(data.load("digits", "train").images[training_digit_picks(MAX_SAMPLES // 10 + 1)])
    note = f"Draws {size} x {size} digits{shown}. Stray bright pixels: {stray:.1f} per sample, {real:.2f} per real digit"
    if stray > 1:
        note += (": the speckle is in the model's own output, not added by the display. Each of this MLP's "
                 f"{size * size} outputs is a separate unit, with no convolution tying neighbours together")
    return note + "."
