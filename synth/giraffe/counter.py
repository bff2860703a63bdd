"""The judge of the GIRAFFE evaluation: a small CNN that counts the objects of a 64x64 scene and tells which
shapes it holds. Its penultimate layer is the feature space of the scene Frechet distance.

    python -m synth.train scene_counter [--n 8000] [--epochs 8] [--out runs/scene_counter]
    python -m synth.train export runs/scene_counter assets/checkpoints/scene_counter --parts counter

It is trained on its own renders, seeds from COUNTER_SEED0 (``assets/data/scenes/counter.npz``, rendered on
first use): never the generators' training scenes (seeds 0..N-1) and never the held-out scenes
(seeds from 10,000,000) that the Frechet distance compares against. Its accuracy on those held-out scenes is
printed by ``python -m synth.evaluate giraffe`` as the reference row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synth import checkpoint, data
from synth.giraffe import scenes

COUNTER_SEED0 = 20_000_000
DEFAULT_DIR = data.ASSETS / "checkpoints" / "scene_counter"


@dataclass
class CounterConfig:
    width: int = 24          # channels of the first block, doubled per block
    features: int = 128      # penultimate layer: the Frechet distance's feature space
    max_objects: int = scenes.SceneConfig().max_objects
    n_shapes: int = len(scenes.SHAPES)
    dropout: float = 0.2


class SceneCounter(nn.Module):
    """64x64 RGB in [-1, 1] -> logits of the count (1..max_objects) and of each shape's presence."""

    def __init__(self, cfg: CounterConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(True),
                    nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(True), nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(3, w), *block(w, 2 * w), *block(2 * w, 4 * w), *block(4 * w, 4 * w),  # 4x4
                                  nn.Flatten(), nn.Dropout(cfg.dropout), nn.Linear(4 * w * 16, cfg.features),
                                  nn.ReLU(True))
        self.count_head = nn.Linear(cfg.features, cfg.max_objects)
        self.shape_head = nn.Linear(cfg.features, cfg.n_shapes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return self.count_head(f), self.shape_head(f)


def targets(labels: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(count index 0..K-1, shape presence N x 3 float) from the scene labels."""
    count = torch.as_tensor(labels["n_objects"] - 1)
    shape = torch.as_tensor(labels["shape"]).long()
    present = torch.stack([(shape == k).any(1) for k in range(len(scenes.SHAPES))], 1).float()
    return count, present


def counter_split(n: int, root: Path = data.DATA_ROOT / "scenes", workers: int = 1) -> tuple[np.ndarray, dict]:
    """The counter's own scenes (seeds COUNTER_SEED0..+n), rendered once and cached as the 'counter' split."""
    path = Path(root) / "counter.npz"
    if path.exists():
        labels = scenes.load_labels("counter", root)
        if len(labels["seed"]) >= n and labels["seed"][0] == COUNTER_SEED0:
            images = data.load("scenes", "counter", Path(root).parent).images
            return images[:n], {k: v[:n] for k, v in labels.items()}
    t = time.perf_counter()
    arrays = scenes.render_many(range(COUNTER_SEED0, COUNTER_SEED0 + n), workers=workers)
    scenes.save_split(arrays, Path(root), "counter")
    print(f"rendered {n} counter scenes in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return arrays["images"], {k: v for k, v in arrays.items() if k != "images"}


def to_input(images: np.ndarray) -> torch.Tensor:
    return data.to_tensor(images, 64)


def load(folder: Path = DEFAULT_DIR) -> SceneCounter:
    meta = checkpoint.read_config(folder)
    net = SceneCounter(checkpoint.config_from_dict(CounterConfig, meta["config"]))
    checkpoint.load_part(folder, "counter", net)
    return net.eval()


@torch.no_grad()
def predict(net: SceneCounter, images: np.ndarray, batch: int = 256) -> dict[str, np.ndarray]:
    """uint8 N x 64 x 64 x 3 -> {"count": N (1..K), "count_probs": N x K, "shape_probs": N x 3, "features": N x F}."""
    x = to_input(images)
    out = {"count_probs": [], "shape_probs": [], "features": []}
    for i in range(0, len(x), batch):
        f = net.features(x[i:i + batch])
        out["features"].append(f)
        out["count_probs"].append(F.softmax(net.count_head(f), 1))
        out["shape_probs"].append(torch.sigmoid(net.shape_head(f)))
    res = {k: torch.cat(v).double().numpy() for k, v in out.items()}
    res["count"] = res["count_probs"].argmax(1) + 1
    return res


def train(argv=None) -> Path:
    p = argparse.ArgumentParser(prog="synth.train scene_counter", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=8000, help="counter scenes to render and train on")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--out", type=Path, default=Path("runs/scene_counter"))
    p.add_argument("--data-root", type=Path, default=data.DATA_ROOT / "scenes")
    p.add_argument("--workers", type=int, default=1, help="processes rendering the counter scenes")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images, labels = counter_split(args.n, args.data_root, args.workers)
    x = to_input(images)
    count, present = targets(labels)
    cfg = CounterConfig()
    net = SceneCounter(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps = args.epochs * (len(x) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(args.seed)
    t0, step = time.time(), 0
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x), generator=gen)
        net.train()
        tot = 0.0
        for i in range(0, len(x) - args.batch_size + 1, args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb = x[idx]
            # mirror half the batch: counts and shapes do not change (the light's side does, which is fine)
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            lc, ls = net(xb)
            loss = F.cross_entropy(lc, count[idx]) + F.binary_cross_entropy_with_logits(ls, present[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
            step += 1
        print(f"epoch {epoch + 1}/{args.epochs}: loss {tot / (len(x) // args.batch_size):.4f} "
              f"({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    net.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint.save_model(args.out, "scene_counter", cfg, {"counter": net}, steps=step, epochs=args.epochs,
                          n_scenes=args.n, seeds=f"{COUNTER_SEED0}..{COUNTER_SEED0 + args.n - 1}",
                          wall_time_s=round(time.time() - t0, 1),
                          command=" ".join(["python -m synth.train scene_counter", *(argv or sys.argv[1:])]))
    # accuracy on held-out scenes, written beside the checkpoint (the evaluation prints it again)
    try:
        held = data.load("scenes", "heldout", Path(args.data_root).parent)
        pred = predict(net, held.images)
        acc = float((pred["count"] == held.labels).mean())
        meta = checkpoint.read_config(args.out)
        meta["heldout_count_accuracy"] = round(acc, 4)
        (args.out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(f"held-out count accuracy {acc:.3f} on {len(held)} scenes", file=sys.stderr)
    except FileNotFoundError as e:
        print(f"no held-out scenes to check against: {e}", file=sys.stderr)
    return args.out


main = train
