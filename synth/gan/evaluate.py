"""The generation table: how good, how varied and how new the bundled GAN's and DCGAN's digits are.

    python -m synth.evaluate generation [--samples 640] [--seed 0]
    python -m synth.evaluate snapshots runs/dcgan/snapshots [--model dcgan]   (model selection on training data only)

Generation metrics use a small digit classifier trained only on held-out digits (assets/checkpoints/classifier):

- score: Inception-style exp(E KL(p(y|x) || p(y))), 10 max; +- the std over 10 bootstrap resamples
- frechet: Frechet distance between classifier features of the images and of the 4,000 training digits
- coverage: share of each digit class among the samples (floor: every class >= 3%)
- memorisation: median distance (28x28, [0, 1] pixels) from each image to its nearest training digit; samples
  should be no closer to the training set than held-out digits are
- ms/64: median wall time to draw 64 samples (batch of 64, this CPU)

The reference row is the 300 held-out digits that neither the classifier nor any generator saw.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from synth import checkpoint, data
from synth.gan import generate
from synth.gan.classifier import ClassifierConfig, DigitClassifier, classifier_splits
from synth.gan.registry import get_spec
from synth.metrics import frechet_distance

CLASSIFIER_DIR = data.ASSETS / "checkpoints" / "classifier"


def load_classifier(folder=CLASSIFIER_DIR) -> DigitClassifier:
    meta = checkpoint.read_config(folder)
    net = DigitClassifier(checkpoint.config_from_dict(ClassifierConfig, meta["config"]))
    checkpoint.load_part(folder, "classifier", net)
    return net.eval()


def upsampling_matrix(size: int, src: int = 28) -> torch.Tensor:
    """The size x src matrix U of ``data.to_tensor``'s bilinear resize src -> size along one axis: a digit X
    (src x src) becomes U X U^T, the form in which the 64x64 DCGAN saw its training digits."""
    basis = torch.eye(src, dtype=torch.float64).reshape(1, src, src, 1)   # one channel per unit vector
    # (antialias only acts when shrinking, so plain bilinear is the same map as data.to_tensor's when enlarging)
    return F.interpolate(basis, size=(size, 1), mode="bilinear", align_corners=False)[0, :, :, 0].T


def to_28(images: np.ndarray) -> torch.Tensor:
    """uint8 N x H x W x 1 at any size -> N x 1 x 28 x 28 in [-1, 1], the classifier's input.

    Larger images (the DCGAN's 64x64) are brought back by the least-squares inverse of the bilinear
    upsampling that made their training digits, X = U^+ Y U^+T: a real digit survives the trip 28 -> 64 -> 28
    within one grey level, so a 64x64 model is judged on what it learned and not on a resampling blur.
    (An antialiased downsample instead blurs real digits enough to move their Frechet distance from about 10
    to about 73: more than the gap between the models.) Smaller images are enlarged bilinearly."""
    size = images.shape[1]
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"square images expected, got {images.shape[1]}x{images.shape[2]}")
    if size <= 28:
        return data.to_tensor(images, 28)
    inv = torch.linalg.pinv(upsampling_matrix(size))                       # 28 x size
    x = data.to_tensor(images).double()
    return (inv @ x @ inv.T).clamp(-1, 1).float()


@torch.no_grad()
def classify(net: DigitClassifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities N x 10, features N x F)"""
    x = to_28(images)
    probs, feats = [], []
    for i in range(0, len(x), 256):
        f = net.features(x[i:i + 256])
        feats.append(f)
        probs.append(F.softmax(net.head(f), 1))
    return torch.cat(probs).double().numpy(), torch.cat(feats).double().numpy()


def inception_score(probs: np.ndarray, resamples: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) over all images, and the std over bootstrap resamples of the images.
    (Splitting a few hundred images into 10 parts, as done for 50,000, would bias p(y) and the score.)"""

    def score(p: np.ndarray) -> float:
        py = p.mean(0, keepdims=True)
        return float(np.exp((p * (np.log(p + 1e-12) - np.log(py + 1e-12))).sum(1).mean()))

    rng = np.random.default_rng(seed)
    boots = [score(probs[rng.integers(0, len(probs), len(probs))]) for _ in range(resamples)]
    return score(probs), float(np.std(boots))


def nearest_distances(images: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Per image: L2 distance (per-pixel RMS, [0, 1] scale, 28x28) to its nearest training image."""
    a = (to_28(images).flatten(1).double() + 1) / 2
    b = (to_28(train).flatten(1).double() + 1) / 2
    d2 = (a * a).sum(1, keepdim=True) - 2 * a @ b.T + (b * b).sum(1)
    return (d2.clamp_min(0).min(1).values / a.shape[1]).sqrt().numpy()


def ms_per_64(model: str, repeats: int = 20) -> float:
    generate.sample(model, 64, 0)  # warm-up
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        generate.sample(model, 64, r)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def generation_table(n_samples: int = 640, seed: int = 0) -> list[dict]:
    net = load_classifier()
    train = data.load("digits", "train").images
    held = data.load("digits", "heldout")
    _, ref_idx = classifier_splits()
    reference = held.images[ref_idx]
    _, f_train = classify(net, train)
    rows = []

    def row(name: str, images: np.ndarray, ms: float | None, dataset: str = "digits"):
        """The copying check compares a model with ITS training images (the held-out digits' distance to the
        same images is the yardstick: a larger set is nearer to everything)."""
        probs, feats = classify(net, images)
        score, score_std = inception_score(probs)
        share = np.bincount(probs.argmax(1), minlength=10) / len(probs)
        own = train if dataset == "digits" else data.load(dataset, "train").images
        rows.append({
            "images": name, "n": len(images), "score": score, "score_std": score_std,
            "frechet": frechet_distance(feats, f_train),
            "min_class_pct": 100 * share.min(), "classes_ge_3pct": int((share >= 0.03).sum()),
            "trained_on": dataset,
            "nn_dist_median": float(np.median(nearest_distances(images, own))),
            "heldout_nn_dist_median": float(np.median(nearest_distances(reference, own))),
            "ms_per_64": ms,
        })

    row("real held-out digits (reference)", reference, None)
    for model in [m for m in generate.available() if get_spec(m).dataset == "digits"]:
        dataset = checkpoint.read_config(generate.checkpoint_dir(model)).get("dataset") or "digits"
        row(model, generate.sample(model, min(n_samples, 64), seed) if n_samples <= 64 else np.concatenate(
            [generate.sample(model, 64, seed + i) for i in range(int(np.ceil(n_samples / 64)))])[:n_samples],
            ms_per_64(model), dataset)
    return rows


def snapshot_table(folder: Path, model: str, n_samples: int = 640) -> list[dict]:
    """Model selection on training data only: score and Frechet distance to the TRAINING digits of every
    generator snapshot in folder/step_*/ (held-out digits are not touched)."""
    net = load_classifier()
    _, f_train = classify(net, data.load("digits", "train").images)
    spec = get_spec(model)
    rows = []
    for snap in sorted(Path(folder).glob("step_*")):
        meta = checkpoint.read_config(snap)
        g = spec.generator_cls(checkpoint.config_from_dict(spec.config_cls, meta["config"]))
        checkpoint.load_part(snap, "generator", g).eval()
        with torch.no_grad():
            imgs = np.concatenate([data.to_uint8(g(generate.latents(g.cfg.nz, 64, s)))
                                   for s in range(int(np.ceil(n_samples / 64)))])[:n_samples]
        probs, feats = classify(net, imgs)
        rows.append({"snapshot": snap.name, "step": meta["step"], "score": inception_score(probs)[0],
                     "frechet": frechet_distance(feats, f_train)})
    return rows


def markdown(rows: list[dict]) -> str:
    head = ("| images | n | score (10 max) | Frechet dist. to train | min class % | classes >= 3% | trained on "
            "| NN dist. to its training images (median) | held-out digits' NN dist. to the same | ms / 64 samples |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        ms = f"{r['ms_per_64']:.1f}" if r["ms_per_64"] is not None else "-"
        lines.append(f"| {r['images']} | {r['n']} | {r['score']:.2f} +- {r['score_std']:.2f} | {r['frechet']:.2f} "
                     f"| {r['min_class_pct']:.1f} | {r['classes_ge_3pct']}/10 | {r['trained_on']} "
                     f"| {r['nn_dist_median']:.4f} | {r['heldout_nn_dist_median']:.4f} | {ms} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """`python -m synth.evaluate generation [--samples 640] [--seed 0]`: print the generation table."""
    q = argparse.ArgumentParser(prog="synth.evaluate generation")
    q.add_argument("--samples", type=int, default=640)
    q.add_argument("--seed", type=int, default=0)
    a = q.parse_args(argv)
    torch.manual_seed(a.seed)
    print(markdown(generation_table(a.samples, a.seed)))


def snapshots_main(argv: list[str] | None = None) -> None:
    """`python -m synth.evaluate snapshots FOLDER [--model dcgan]`: print the snapshot table."""
    q = argparse.ArgumentParser(prog="synth.evaluate snapshots")
    q.add_argument("folder", type=Path)
    q.add_argument("--model", default="dcgan")
    a = q.parse_args(argv)
    print("| snapshot | step | score | Frechet dist. to train |\n|---|---|---|---|")
    for r in snapshot_table(a.folder, a.model):
        print(f"| {r['snapshot']} | {r['step']} | {r['score']:.2f} | {r['frechet']:.2f} |")
