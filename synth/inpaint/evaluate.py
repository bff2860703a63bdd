"""Hole filling, measured on held-out photos only (never seen in training), in the Context Encoder paper's
table format: per mask type, mean L1 % and mean L2 % (errors on 0..1 pixel values, x100) and PSNR, all in
the hole, plus the hole's sharpness (mean gradient magnitude, as a ratio to the ground truth's: 1 = as sharp)
and milliseconds per image.

    python -m synth.evaluate inpainting               # 64x64 held-out crops, 32x32 centre hole etc.
    python -m synth.inpaint.evaluate                  # the same, this module directly
    python -m synth.evaluate inpainting --n 50 --methods telea "context-encoder L2"

With ``--sweep``: every hole shape of ``masks.SWEEP`` plus whole photos, on 128x128 crops of the photo pool's
held-out photos (``synth.inpaint.sweep``; ``--n`` items per class, default 200):

    python -m synth.evaluate inpainting --sweep --n 200 --out runs/sweep --sheets docs/inpainting
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from synth import data
from synth.metrics import hole_metrics

from . import REGISTRY, get_inpainter, masks


def evaluate(methods: list[str], n: int | None = None, seed: int = 0) -> dict[tuple[str, str], dict[str, float]]:
    images = data.load("photos", "heldout").images[:n]
    results = {}
    for kind in masks.MASK_KINDS:
        size = images.shape[1]
        mks = [masks.make_mask(kind, size, size, seed + i) for i in range(len(images))]
        for name in methods:
            ip = get_inpainter(name)
            rows, t = [], 0.0
            for im, m in zip(images, mks):
                t0 = time.perf_counter()
                out = ip.fill(im, m)
                t += time.perf_counter() - t0
                rows.append(hole_metrics(out, im, m))
            agg = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            agg["sharpness"] = agg["grad"] / max(agg["grad_gt"], 1e-9)
            agg["ms"] = 1000 * t / len(images)
            results[(kind, name)] = agg
            print(f"  {kind:13s} {name:36s} PSNR {agg['psnr']:5.2f} dB  {agg['ms']:7.1f} ms", file=sys.stderr,
                  flush=True)
    return results


def speed_256(methods: list[str]) -> dict[str, float]:
    """ms per 256x256 image (central 128x128 hole), mean over the bundled held-out examples."""
    ex = data.load("photos256", "heldout").images
    m = masks.central(256, 256)
    out = {}
    for name in methods:
        ip = get_inpainter(name)
        ip.fill(ex[0], m)  # warm-up (first call loads caches)
        t0 = time.perf_counter()
        for im in ex:
            ip.fill(im, m)
        out[name] = 1000 * (time.perf_counter() - t0) / len(ex)
    return out


def table(results, speed: dict[str, float] | None, n_images: int) -> str:
    lines = [f"Held-out photos: {n_images} crops of 64x64 from photos never used in training "
             f"(assets/data/photos/heldout.npz). Metrics inside the hole; L1/L2 on 0..1 values x100; "
             f"sharpness = mean gradient magnitude in the hole / the original's.", ""]
    for kind in masks.MASK_KINDS:
        lines += [f"### {kind}", "",
                  "| method | mean L1 % | mean L2 % | PSNR (dB) | sharpness | ms / 64x64 image |"
                  + (" ms / 256x256 image |" if speed else ""),
                  "|---|---:|---:|---:|---:|---:|" + ("---:|" if speed else "")]
        rows = sorted(((name, r) for (k, name), r in results.items() if k == kind), key=lambda t: -t[1]["psnr"])
        for name, r in rows:
            lines.append(f"| {name} | {r['l1']:.2f} | {r['l2']:.2f} | {r['psnr']:.2f} | {r['sharpness']:.2f} | "
                         f"{r['ms']:.1f} |" + (f" {speed[name]:.0f} |" if speed else ""))
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="synth.evaluate inpainting", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=list(REGISTRY), choices=list(REGISTRY), metavar="METHOD",
                   help=f"default: all of {list(REGISTRY)}")
    p.add_argument("--n", type=int, default=None,
                   help="first N held-out crops (default: all); --sweep: items per hole class (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-speed", action="store_true", help="skip the 256x256 timing column")
    p.add_argument("--sweep", action="store_true", help="holes of every shape on held-out photos of the pool")
    p.add_argument("--classes", nargs="+", default=None, metavar="CLASS",
                   help="--sweep: only these hole classes (default: all)")
    p.add_argument("--out", type=Path, default=None, help="--sweep: write results.csv and results.json here")
    p.add_argument("--sheets", type=Path, default=None, help="--sweep: write one contact sheet per class here")
    p.add_argument("--jobs", type=int, default=1, help="--sweep: classes run in this many processes")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.sweep:
        from . import sweep

        if args.n is not None and args.n < 1 or args.jobs < 1:
            p.error("--n and --jobs must be at least 1")
        unknown = set(args.classes or []) - set(sweep.class_names())
        if unknown:
            p.error(f"unknown hole classes {sorted(unknown)}; available: {sweep.class_names()}")
        sweep.report(args.methods, sweep.N_DEFAULT if args.n is None else args.n, args.seed, args.out,
                     args.sheets, args.classes, args.jobs)
        return
    results = evaluate(args.methods, args.n, args.seed)
    speed = None if args.no_speed else speed_256(args.methods)
    n = len(data.load("photos", "heldout").images[:args.n])
    print(table(results, speed, n))


if __name__ == "__main__":
    main()
