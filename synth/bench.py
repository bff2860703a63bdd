"""Speed of every bundled model on this machine, as a table.

    python -m synth.bench [--repeats 20] [--skip-inpainting] [--only-photo]

Generators: milliseconds to draw 64 samples (one batch). Hole fillers: milliseconds per 256x256 image with a
central 128x128 hole, and per 1024x768 held-out photo of the photo pool with a 10% blob hole (at most 5
repeats there), where the learned fills, Telea and Navier-Stokes together must take under 2 s (the floor;
PASS/FAIL). Medians over the repeats, after one warm-up call; torch uses its default CPU threads.
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
    p.add_argument("--only-photo", action="store_true", help="only the 1024x768 photo rows")
    a = p.parse_args(argv)
    print(f"CPU: {platform.processor() or platform.machine()}, torch threads: {torch.get_num_threads()}\n")
    print("| model | task | ms (median) |")
    print("|---|---|---|")
    if a.only_photo:
        return photo_rows(a.repeats)
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
    photo_rows(a.repeats)


def photo_rows(repeats: int, floor_ms: float = 2000.0) -> None:
    """Every hole filler on a 1024x768 held-out photo with a 10% blob hole; the learned fills (REGISTRY names
    starting with context-encoder or glcic), Telea and Navier-Stokes first, their sum against ``floor_ms``."""
    import cv2

    from synth import photo_pool
    from synth.inpaint import REGISTRY, get_inpainter
    from synth.inpaint.sweep import blob, is_learned

    # the pool stores held-out photos at 800 px on the long side: the first 4:3 one, upscaled to 1024x768
    row = next(r for r in photo_pool.manifest("heldout") if r["w"] * 3 == r["h"] * 4)
    image = cv2.resize(photo_pool.load_photo(row["id"]), (1024, 768), interpolation=cv2.INTER_CUBIC)
    mask = blob(768, 1024, 0.10 * 768 * 1024, np.random.default_rng(0))
    task = f"1024x768 photo ({row['id']}, {row['w']}x{row['h']} upscaled), {100 * mask.mean():.1f}% blob hole"
    fast = [n for n in REGISTRY if is_learned(n)] + ["telea", "navier-stokes"]
    total = 0.0
    for name in fast + [n for n in REGISTRY if n not in fast]:
        inp = get_inpainter(name)
        try:
            ms = median_ms(lambda: inp.fill(image, mask), min(repeats, 5))
        except ValueError as e:
            print(f"| {name} | {task} | refused: {e} |")
            continue
        total += ms if name in fast else 0.0
        print(f"| {name} | {task} | {ms:.1f} |")
        if name == fast[-1]:
            verdict = "PASS" if total < floor_ms else "FAIL"
            print(f"| learned + telea + navier-stokes (sum) | floor: under {floor_ms:.0f} ms | {total:.1f} {verdict} |")


if __name__ == "__main__":
    main()
