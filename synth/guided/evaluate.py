"""Guided inpainting, measured on held-out triplets only: the triplet generator (synth.guided.triplets) run on
the held-out photos (assets/data/photos/heldout.npz, never seen in training), originals and guidance
backgrounds alike, with the central 32x32 hole of the Context Encoder's evaluation.

For every method: PSNR and mean L1 % (errors on 0..1 values x100) inside the hole, the same on the triplets
whose guidance patch leaves part of the hole uncovered (the gap), and ms per image. For the guided models:
the localisation IoU (the patch box mapped into the guidance by the predicted transform against where it
was pasted; median, mean, share >= 0.5). Reference rows: the Context Encoder (if its checkpoints are
bundled), nearest-neighbour cut-paste and Telea (synth.inpaint's registry), and "true patch, copied": the
corrupted patch sampled at the TRUE placement, pasted as is (what perfect localisation without any
correction or synthesis gives), and "true patch, colour-corrected": the same with a per-channel gain and offset
fitted on the patch's ring of known pixels around the hole (perfect localisation plus the simplest correction:
a yardstick for what the guidance can give, not a method: it reads the true placement).

    python -m synth.evaluate guided                   # (python -m synth.guided.evaluate is the same)
    python -m synth.evaluate guided --n 100 --guided runs/guided --no-attention runs/guided_noattn
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from synth.metrics import hole_scores

from .inpainter import CHECKPOINTS, GuidedInpainter
from .model import box_corners, map_corners, sample_guidance
from .triplets import TripletSource, quad_iou, stack

REFERENCES = ["context-encoder L2", "context-encoder L2+adv", "nearest-neighbour", "telea"]
CE_FOLDERS = {"context-encoder L2": "context_encoder_l2", "context-encoder L2+adv": "context_encoder_l2adv"}


def heldout_triplets(n: int | None, seed: int, split: str = "heldout") -> dict[str, np.ndarray]:
    """Triplets with a central square hole from one split's crops (``split="train"``: a validation set of
    training-photo triplets, for choices that must not look at the held-out photos)."""
    src = TripletSource(split, seed=seed, hole_kind="square")
    return stack([src.triplet(i) for i in range(len(src) if n is None else min(n, len(src)))])


def ious(theta: np.ndarray, b: dict[str, np.ndarray], image_size: int = 64, guide_size: int = 96) -> np.ndarray:
    c = box_corners(torch.from_numpy(b["patch_box"]))
    pred = map_corners(torch.from_numpy(theta), c, image_size, guide_size).numpy()
    return np.array([quad_iou(p, q) for p, q in zip(pred, b["patch_quad"])])


def run_guided(model: GuidedInpainter, b: dict[str, np.ndarray], batch: int = 64) -> tuple[np.ndarray, np.ndarray, float]:
    """(predictions, the transformer's estimates N x K x 2 x 3 coarse to fine (the last is the one used), ms per
    image)."""
    preds, thetas = [], []
    t0 = time.perf_counter()
    for i in range(0, len(b["original"]), batch):
        out = model.forward(b["original"][i:i + batch], b["mask"][i:i + batch], b["guidance"][i:i + batch])
        preds.append(out["pred"])
        thetas.append(out["thetas"])
    ms = 1000 * (time.perf_counter() - t0) / len(b["original"])
    return np.concatenate(preds), np.concatenate(thetas), ms


def copy_true_patch(b: dict[str, np.ndarray]) -> np.ndarray:
    g = torch.from_numpy(b["guidance"]).permute(0, 3, 1, 2).float()
    aligned, _ = sample_guidance(g, torch.from_numpy(b["theta"]), b["original"].shape[1])
    aligned = aligned.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return np.where(b["mask"][..., None], aligned, b["original"])


def colour_correct_true_patch(b: dict[str, np.ndarray], ring: int = 1) -> np.ndarray:
    """The true-placement patch, each channel mapped by the least-squares gain and offset that best matches it
    to the original on the known pixels the patch covers (its box less the hole and a ``ring``-pixel border),
    pasted into the hole; where the patch leaves a gap the sampled background is corrected the same way."""
    g = torch.from_numpy(b["guidance"]).permute(0, 3, 1, 2).float()
    aligned, _ = sample_guidance(g, torch.from_numpy(b["theta"]), b["original"].shape[1])
    aligned = aligned.permute(0, 2, 3, 1).numpy().astype(np.float64)
    out = b["original"].copy()
    for i, (a, o, m, box) in enumerate(zip(aligned, b["original"], b["mask"], b["patch_box"].astype(int))):
        x0, y0, x1, y1 = box
        fit = np.zeros(m.shape, bool)
        fit[y0 + ring:y1 - ring, x0 + ring:x1 - ring] = True
        fit &= ~m
        pred = a.copy()
        if fit.sum() >= 8:
            for c in range(3):
                design = np.stack([a[fit, c], np.ones(int(fit.sum()))], 1)
                gain, offset = np.linalg.lstsq(design, o[fit, c].astype(np.float64), rcond=None)[0]
                pred[..., c] = a[..., c] * gain + offset
        out[i][m] = np.clip(np.round(pred[m]), 0, 255).astype(np.uint8)
    return out


def evaluate(guided: dict[str, Path], references: list[str], n: int | None = None, seed: int = 1000,
             split: str = "heldout", passes: int | None = None) -> dict:
    """``passes``: run every guided model with this many refinement passes instead of its config's."""
    from synth.inpaint import get_inpainter

    b = heldout_triplets(n, seed, split)
    gap = b["gap"].any((1, 2))
    rows = {}

    def score(name, preds, ms, iou=None, iou_stages=None):
        s = np.array([hole_scores(p, o, m) for p, o, m in zip(preds, b["original"], b["mask"])])
        rows[name] = {"psnr": s[:, 0].mean(), "l1": s[:, 1].mean(), "psnr_gap": s[gap, 0].mean() if gap.any()
                      else float("nan"), "l1_gap": s[gap, 1].mean() if gap.any() else float("nan"), "ms": ms,
                      "iou": iou, "iou_stages": iou_stages, "psnr_each": s[:, 0]}
        print(f"  {name:28s} PSNR {rows[name]['psnr']:5.2f} dB  {ms:7.1f} ms", file=sys.stderr, flush=True)

    for name, folder in guided.items():
        model = GuidedInpainter(folder, name=name)
        if passes is not None and model.model.refiner is not None:
            model.cfg.refine = passes          # the same config object the network reads
        preds, thetas, ms = run_guided(model, b)
        stages = [ious(thetas[:, k], b, model.cfg.image_size, model.cfg.guide_size) for k in range(thetas.shape[1])]
        score(name, preds, ms, stages[-1], stages)
    score("true patch, copied (reference)", copy_true_patch(b), float("nan"))
    score("true patch, colour-corrected (reference)", colour_correct_true_patch(b), float("nan"))
    for name in references:
        if name in CE_FOLDERS and not (CHECKPOINTS / CE_FOLDERS[name] / "config.json").exists():
            print(f"  {name}: no checkpoint bundled, skipped", file=sys.stderr)
            continue
        ip = get_inpainter(name)
        ip.fill(b["original"][0], b["mask"][0])  # warm-up: databases and weights load once
        t0 = time.perf_counter()
        preds = np.stack([ip.fill(o, m) for o, m in zip(b["original"], b["mask"])])
        score(name, preds, 1000 * (time.perf_counter() - t0) / len(preds))
    return {"rows": rows, "n": len(b["original"]), "n_gap": int(gap.sum()), "split": split}


def table(res: dict, pairs: list[tuple[str, str]] | None = None) -> str:
    """The markdown table and the floors; ``pairs`` (A, B): more paired comparisons of row A against row B."""
    rows, n = res["rows"], res["n"]
    what = ("Held-out triplets: {n} (from assets/data/photos/heldout.npz only, originals and guidance backgrounds)"
            if res.get("split", "heldout") == "heldout" else
            "VALIDATION triplets from the TRAINING photos: {n} (assets/data/photos/train.npz; for choices, not results)")
    lines = [what.format(n=n) + f", central 32x32 hole in 64x64; {res['n_gap']} of them have a gap (part of the hole "
             f"the guidance patch does not cover). Metrics inside the hole; L1 on 0..1 values x100. IoU: patch "
             f"box mapped into the guidance by the predicted transform vs where it was pasted.", "",
             "| method | PSNR (dB) | mean L1 % | PSNR, gap triplets | L1 %, gap triplets | IoU median | IoU mean "
             "| IoU >= 0.5 | ms / image |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in sorted(rows.items(), key=lambda t: -t[1]["psnr"]):
        iou = r["iou"]
        i = (f"{np.median(iou):.3f} | {iou.mean():.3f} | {100 * (iou >= 0.5).mean():.0f}%" if iou is not None
             else "- | - | -")
        ms = "-" if np.isnan(r["ms"]) else f"{r['ms']:.1f}"
        lines.append(f"| {name} | {r['psnr']:.2f} | {r['l1']:.2f} | {r['psnr_gap']:.2f} | {r['l1_gap']:.2f} | {i} "
                     f"| {ms} |")
    lines += ["", "Floors (issue 6):"]
    if "guided" in rows:
        g = rows["guided"]
        ce = [rows[k]["psnr"] for k in CE_FOLDERS if k in rows]
        if ce:
            d = g["psnr"] - max(ce)
            lines.append(f"- guided - best Context Encoder = {d:+.2f} dB (floor +3.00): {'met' if d >= 3 else 'NOT met'}")
        med = float(np.median(g["iou"]))
        lines.append(f"- median localisation IoU = {med:.3f} (floor 0.70): {'met' if med >= 0.7 else 'NOT met'}")
    for name, r in rows.items():
        if r.get("iou_stages") is not None and len(r["iou_stages"]) > 1:
            lines.append(f"- {name}: median IoU after each transformer stage (localisation network, then each "
                         f"refinement pass): " + " -> ".join(f"{np.median(i):.3f}" for i in r["iou_stages"]))
    pairs = [(ref, abl) for ref in rows if ref == "guided" for abl in ("guided no-attention", "guided no-STN")
             if abl in rows] + [tuple(pr) for pr in pairs or []]
    for ref, abl in pairs:
        if ref not in rows or abl not in rows:
            raise KeyError(f"--compare: no row {ref if ref not in rows else abl!r}; rows: {sorted(rows)}")
        diff = rows[ref]["psnr_each"] - rows[abl]["psnr_each"]       # paired, triplet by triplet
        d, half = diff.mean(), 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
        verdict = "worse" if d - half > 0 else ("NOT worse" if d <= 0 else "worse, but within noise")
        lines.append(f"- {ref} - {abl} = {d:+.2f} dB PSNR (paired 95% interval {d - half:+.2f}..{d + half:+.2f}; "
                     f"{abl} {verdict}), L1 {rows[abl]['l1'] - rows[ref]['l1']:+.2f} points, better on "
                     f"{100 * (diff > 0).mean():.0f}% of triplets")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="synth.evaluate guided", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None, help="first N held-out triplets (default: one per held-out crop)")
    p.add_argument("--seed", type=int, default=1000, help="triplet seed (training used 0)")
    p.add_argument("--split", choices=["heldout", "train"], default="heldout",
                   help="train: validation triplets from the training photos (to choose settings without looking "
                        "at the held-out photos; use another --seed than training's)")
    p.add_argument("--passes", type=int, default=None,
                   help="run the guided models with this many refinement passes instead of their config's")
    p.add_argument("--guided", type=Path, default=CHECKPOINTS / "guided")
    p.add_argument("--no-attention", type=Path, default=CHECKPOINTS / "guided_noattn", dest="no_attention")
    p.add_argument("--no-stn", type=Path, default=CHECKPOINTS / "guided_nostn", dest="no_stn")
    p.add_argument("--also", nargs="*", default=[], metavar="LABEL=FOLDER",
                   help="more guided checkpoints to measure, e.g. 'guided at 3000 steps=runs/guided/step_3000'")
    p.add_argument("--compare", nargs="*", default=[], metavar="A=B",
                   help="more paired comparisons, row label A against row label B (e.g. equally trained pairs)")
    p.add_argument("--references", nargs="*", default=REFERENCES, help=f"registry methods (default {REFERENCES})")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    guided = {name: folder for name, folder in (("guided", args.guided), ("guided no-attention", args.no_attention),
                                                ("guided no-STN", args.no_stn))
              if (Path(folder) / "config.json").exists()}
    for item in args.also:
        label, sep, folder = item.partition("=")
        if not sep or not (Path(folder) / "config.json").exists():
            p.error(f"--also wants LABEL=FOLDER with a checkpoint in FOLDER, got {item!r}")
        guided[label] = Path(folder)
    if not guided:
        print(f"no guided checkpoint at {args.guided}: train one (python -m synth.train guided) first",
              file=sys.stderr)
    torch.set_grad_enabled(False)
    pairs = []
    for item in args.compare:
        a, sep, b = item.partition("=")
        if not sep:
            p.error(f"--compare wants A=B (two row labels), got {item!r}")
        pairs.append((a, b))
    print(table(evaluate(guided, args.references, args.n, args.seed, args.split, args.passes), pairs))


if __name__ == "__main__":
    main()
