"""DH's own test: on held-out photos whose regions were perturbed in colour and exposure, does the
harmonization network beat plain pasting (leaving the perturbed region as it is)?

    python -m synth.evaluate harmonizer [--n 400] [--seed 0]
    python -m synth.evaluate harmonizer --lighting      # the lecture's limitation: guided alone vs guided + DH

Items: ``n`` 64x64 crops of the photo pool's HELD-OUT photos, each with a region (the training generator's
shapes, 5-40% of the crop) perturbed by ``harmonize.perturb`` with a fixed seed. PSNR in the region against
the original, for the perturbed composite ("paste") and for the harmonized one ("DH"); the paired difference
with a 95% interval from a cluster bootstrap over held-out photos (crops of one photo are not independent).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from synth import photo_pool
from synth.metrics import psnr_in_hole

from .harmonize import Harmonizer, harmonize_tensor, perturb
from .train_harmonize import region_bank


def cluster_interval(diff: np.ndarray, groups: np.ndarray, n_boot: int = 2000, seed: int = 0):
    """Mean of ``diff`` and its 95% percentile interval, resampling whole groups (photos) with replacement."""
    rng = np.random.default_rng(seed)
    ids = np.unique(groups)
    per = {g: diff[groups == g] for g in ids}
    boots = []
    for _ in range(n_boot):
        pick = rng.choice(ids, len(ids))
        boots.append(np.concatenate([per[g] for g in pick]).mean())
    return float(diff.mean()), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


@torch.no_grad()
def evaluate(n: int = 400, seed: int = 0, folder=None) -> dict:
    h = Harmonizer(folder)
    size = h.cfg.image_size
    crops, photo = photo_pool.heldout_crops(n, size, seed=seed)
    regions = region_bank(n, size, seed + 1).float()
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    comp = perturb(x, regions, torch.Generator().manual_seed(seed + 2))
    out = torch.cat([harmonize_tensor(h.net, comp[i:i + 64], regions[i:i + 64]) for i in range(0, n, 64)])
    to8 = lambda t: t.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()  # noqa: E731
    comp8, out8 = to8(comp), to8(out)
    m = regions[:, 0].numpy() > 0
    paste = np.array([psnr_in_hole(c, o, k) for c, o, k in zip(comp8, crops, m)])
    dh = np.array([psnr_in_hole(c, o, k) for c, o, k in zip(out8, crops, m)])
    mean, lo, hi = cluster_interval(dh - paste, photo, seed=seed)
    return {"n": n, "photos": int(len(np.unique(photo))), "paste": float(paste.mean()), "dh": float(dh.mean()),
            "diff": mean, "lo": lo, "hi": hi, "better": float((dh > paste).mean())}


def lighting_table(harmonizer: Harmonizer | None = None) -> list[dict]:
    """The lighting demo (synth.guided.examples.lighting_demo): per lighting of the guidance, PSNR in the hole
    of guided inpainting alone and of guided inpainting followed by the harmonizer."""
    from synth.guided import examples
    from synth.guided.harmonize import harmonize_hole
    from synth.guided.inpainter import default_inpainter

    h = harmonizer or Harmonizer()
    ex, lights = examples.lighting_demo()
    rows = []
    for name, g in lights:
        guided = default_inpainter().run(ex.image, ex.mask, g, register=False, match_colour=False).result  # paper's
        both = harmonize_hole(guided, ex.mask, h)
        rows.append({"lighting": name, "guided": psnr_in_hole(guided, ex.image, ex.mask),
                     "guided + DH": psnr_in_hole(both, ex.image, ex.mask)})
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="synth.evaluate harmonizer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lighting", action="store_true", help="the lighting demo: guided alone vs guided + DH")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.lighting:
        print("The lighting demo: one photo, the same guidance under four lightings; PSNR in the hole (dB)")
        print("| lighting | guided | guided + DH |\n|---|---:|---:|")
        for r in lighting_table():
            print(f"| {r['lighting']} | {r['guided']:.2f} | {r['guided + DH']:.2f} |")
        return
    r = evaluate(args.n, args.seed)
    print(f"{r['n']} held-out crops from {r['photos']} photos, perturbed regions; PSNR in the region")
    print("| method | PSNR (dB) |\n|---|---:|")
    print(f"| plain pasting (the perturbed region) | {r['paste']:.2f} |\n| DH (harmonized) | {r['dh']:.2f} |")
    print(f"DH - paste: {r['diff']:+.2f} dB, 95% interval {r['lo']:+.2f}..{r['hi']:+.2f} (cluster bootstrap over "
          f"photos); DH better on {100 * r['better']:.0f}% of items")


if __name__ == "__main__":
    main()
