"""Speed of every bundled model on this machine, as a table.

    python -m synth.bench [--repeats 20]

Generators: milliseconds to draw 64 samples (one batch). Hole fillers: milliseconds per 256x256 image with a
central 128x128 hole. Medians over the repeats, after one warm-up call; torch uses its default CPU threads.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from synth import data
from synth.gan import generate


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="synth.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--skip-inpainting", action="store_true")
    a = p.parse_args(argv)
    print(f"CPU: {platform.processor() or platform.machine()}, torch threads: {torch.get_num_threads()}\n")
    print("| model | task | ms (median) |")
    print("|---|---|---|")
    for m in generate.available():
        seeds = iter(range(10 ** 6))
        print(f"| {m} | 64 samples | {median_ms(lambda: generate.sample(m, 64, next(seeds)), a.repeats):.1f} |")
    if a.skip_inpainting:
        return
    from synth.inpaint import REGISTRY, get_inpainter

    photos = data.load("photos256", "heldout").images if (data.DATA_ROOT / "photos256").exists() else None
    image = photos[0] if photos is not None else np.random.default_rng(0).integers(0, 256, (256, 256, 3), np.uint8)
    image = image[:256, :256]
    mask = np.zeros(image.shape[:2], bool)
    mask[64:192, 64:192] = True
    for name in REGISTRY:
        inp = get_inpainter(name)
        reps = a.repeats if name not in ("patch-based", "nearest-neighbour", "biharmonic") else 3
        print(f"| {name} | 256x256, 128x128 hole | {median_ms(lambda: inp.fill(image, mask), reps):.1f} |")


if __name__ == "__main__":
    main()
