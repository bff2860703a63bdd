"""Hole filling on holes of every shape, on held-out photos only (docs/inpainting.md, "Holes of every shape").

    python -m synth.evaluate inpainting --sweep [--n 200] [--methods ...] [--out DIR] [--sheets docs/inpainting]

Items: per hole class of ``masks.SWEEP``, ``n`` 128x128 crops of the photo pool's held-out photos (the same
crops for every class; each item its own mask seed), and ``WHOLE``: the held-out photos at their stored size,
cycled in a seeded order, each time with another hole of 5..15% of the image (``whole_photo_mask``).
Per class and method: PSNR and L1 in the hole, SSIM around it, ms per fill, and the paired PSNR difference
against Telea with a cluster-bootstrap interval over photos. A ValueError from a method is reported as refused.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import textwrap
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from synth import photo_pool
from synth.metrics import l1_in_hole, psnr_in_hole

from . import get_inpainter, masks
from .base import hole_bbox
from .display import plan_methods, show_hole

WHOLE = "whole photo (640+ px)"
CROP = 128                          # crop side, px
N_DEFAULT = 200                     # items per class (the issue: at least 200 for the reported table)
REFERENCE = "telea"                 # the paired differences are against this method
LEARNED = ("context-encoder", "glcic")
FLOOR_DB = 0.5                      # floor: best learned >= Telea - 0.5 dB
GROW = 8                            # SSIM window: the hole's bounding box grown by this many px
N_BOOT = 2000
SHEET_ROWS, SHEET_BYTES = 6, 250_000
TILE = {"crop": (128, 128), "whole": (192, 144)}   # contact-sheet tile (w, h) px; whole photos fit inside
GAP, HEAD_LINES, FONT_SIZE, LINE = 6, 3, 13, 15


def class_names() -> list[str]:
    return [*masks.SWEEP, WHOLE]


def is_learned(name: str) -> bool:
    return name.startswith(LEARNED)


def mask_seed(seed: int, cls: str, i: int) -> int:
    """Each item's own mask seed, stable under reordering of the classes."""
    return int(np.random.SeedSequence([seed, zlib.crc32(cls.encode()), i]).generate_state(1)[0])


# ---------------------------------------------------------------- holes for whole photos
def blob(h: int, w: int, area: float, rng: np.random.Generator) -> np.ndarray:
    """One star-shaped blob of about ``area`` px: a stretched, rotated circle whose radius wobbles with
    2..5 random harmonics, placed at random (clipped at the border)."""
    t = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    r = 1 + sum(rng.uniform(0, 0.3 / k) * np.cos(k * t + rng.uniform(0, 2 * np.pi)) for k in range(2, 6))
    sx, sy, rot = rng.uniform(0.6, 1.6), rng.uniform(0.6, 1.6), rng.uniform(0, np.pi)
    x, y = r * np.cos(t) * sx, r * np.sin(t) * sy
    x, y = x * np.cos(rot) - y * np.sin(rot), x * np.sin(rot) + y * np.cos(rot)
    scale = np.sqrt(area / (0.5 * np.sum(r ** 2) * (2 * np.pi / len(t)) * sx * sy))
    x, y = x * scale, y * scale
    cx = rng.uniform(min(-x.min(), w / 2), max(w + -x.max(), w / 2))
    cy = rng.uniform(min(-y.min(), h / 2), max(h + -y.max(), h / 2))
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(np.stack([x + cx, y + cy], 1)).astype(np.int32)], 1)
    return m.astype(bool)


def rectangle(h: int, w: int, area: float, rng: np.random.Generator) -> np.ndarray:
    """An axis-aligned rectangle of about ``area`` px, aspect 0.4..2.5, anywhere inside the image."""
    aspect = np.exp(rng.uniform(np.log(0.4), np.log(2.5)))
    rh = int(np.clip(round(np.sqrt(area / aspect)), 4, h - 1))
    rw = int(np.clip(round(area / rh), 4, w - 1))
    y, x = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
    m = np.zeros((h, w), bool)
    m[y:y + rh, x:x + rw] = True
    return m


def thick_stroke(h: int, w: int, area: float, rng: np.random.Generator) -> np.ndarray:
    """A brush stroke 3..6% of the short side wide, 2..4 segments, as long as ``area`` needs."""
    width = max(3, int(round(min(h, w) * rng.uniform(0.03, 0.06))))
    segments = int(rng.integers(2, 5))
    seg = area / width / segments
    m = np.zeros((h, w), np.uint8)
    y, x, angle = rng.uniform(0.2 * h, 0.8 * h), rng.uniform(0.2 * w, 0.8 * w), rng.uniform(0, 2 * np.pi)
    for _ in range(segments):
        angle += rng.uniform(-np.pi / 2, np.pi / 2)
        y2, x2 = float(np.clip(y + seg * np.sin(angle), 0, h - 1)), float(np.clip(x + seg * np.cos(angle), 0, w - 1))
        cv2.line(m, (int(x), int(y)), (int(x2), int(y2)), 1, width)
        cv2.circle(m, (int(x2), int(y2)), width // 2, 1, -1)
        y, x = y2, x2
    return m.astype(bool)


def whole_photo_mask(h: int, w: int, seed: int, lo: float = 0.05, hi: float = 0.15) -> np.ndarray:
    """Holes covering a seeded target of ``lo``..``hi`` of the image: 1..3 pieces, each a blob, a thick stroke
    or a rectangle, added until the target is reached; a piece that would pass ``hi`` is drawn again."""
    rng = np.random.default_rng(seed)
    target, pieces = rng.uniform(lo, hi) * h * w, int(rng.integers(1, 4))
    m = np.zeros((h, w), bool)
    for _ in range(200):
        left = target - m.sum()
        if left <= 0:
            return m
        area = max(left if pieces <= 1 else left * rng.uniform(0.3, 0.7), 0.01 * h * w)
        piece = (blob, thick_stroke, rectangle)[int(rng.integers(0, 3))](h, w, area, rng)
        if (m | piece).sum() <= hi * h * w:
            m |= piece
            pieces -= 1
    if m.sum() < lo * h * w:
        raise RuntimeError(f"no hole of {lo:.0%}..{hi:.0%} found for a {w}x{h} photo with seed {seed}")
    return m


# ---------------------------------------------------------------- items and scores
@dataclass
class Item:
    photo: str            # held-out photo id (the bootstrap's cluster)
    image: np.ndarray     # uint8 H x W x 3
    mask: np.ndarray      # bool H x W, True = hole
    seed: int             # the mask's seed


def items(cls: str, n: int, seed: int = 0) -> list[Item]:
    """The ``n`` items of one class (crop classes share the crops; every item has its own mask seed)."""
    rows = photo_pool.manifest("heldout")
    seeds = [mask_seed(seed, cls, i) for i in range(n)]
    if cls == WHOLE:
        order = np.random.default_rng(seed).permutation(len(rows))
        ids = [rows[order[i % len(rows)]]["id"] for i in range(n)]
        photos = [photo_pool.load_photo(pid) for pid in ids]
        return [Item(pid, im, whole_photo_mask(*im.shape[:2], s), s) for pid, im, s in zip(ids, photos, seeds)]
    if cls not in masks.SWEEP:
        raise KeyError(f"unknown hole class {cls!r}; available: {class_names()}")
    crops, index = photo_pool.heldout_crops(n, CROP, seed)
    return [Item(rows[j]["id"], c, masks.SWEEP[cls](CROP, CROP, s), s) for c, j, s in zip(crops, index, seeds)]


def ssim_around_hole(out: np.ndarray, original: np.ndarray, mask: np.ndarray, grow: int = GROW) -> float:
    """SSIM (skimage, 7x7 uniform window, channel_axis=-1, data_range=255) over the hole's bounding box grown
    by ``grow`` px, clipped to the image."""
    from skimage.metrics import structural_similarity

    y0, x0, y1, x1 = hole_bbox(mask)
    h, w = mask.shape
    y0, x0, y1, x1 = max(0, y0 - grow), max(0, x0 - grow), min(h, y1 + grow), min(w, x1 + grow)
    win = min(7, (min(y1 - y0, x1 - x0) - 1) // 2 * 2 + 1)
    return float(structural_similarity(out[y0:y1, x0:x1], original[y0:y1, x0:x1], channel_axis=-1,
                                       data_range=255, win_size=win))


def cluster_bootstrap(diff: np.ndarray, clusters: list[str], n_boot: int = N_BOOT, seed: int = 0
                      ) -> tuple[float, float, float]:
    """Mean of ``diff`` and its 95% percentile interval, resampling whole clusters (photos) with replacement."""
    diff = np.asarray(diff, np.float64)
    _, inv = np.unique(np.asarray(clusters), return_inverse=True)
    sums, counts = np.bincount(inv, weights=diff), np.bincount(inv)
    pick = np.random.default_rng(seed).integers(0, len(sums), (n_boot, len(sums)))
    means = sums[pick].sum(1) / counts[pick].sum(1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(lo), float(hi)


@dataclass
class Sweep:
    n: int
    seed: int
    methods: list[str]
    classes: dict = field(default_factory=dict)     # class -> {"photos", "items", "methods": {name: row}}
    examples: dict = field(default_factory=dict)    # class -> rows of contact-sheet tiles
    seconds: dict = field(default_factory=dict)     # method -> seconds of fill, whole sweep
    wall_s: float = 0.0
    jobs: int = 1


def example_rows(photos: list[str], k: int = SHEET_ROWS) -> list[int]:
    """``k`` items of distinct photos, spread over the class's items."""
    first = [i for i, p in enumerate(photos) if p not in photos[:i]]
    picks = np.unique(np.round(np.linspace(0, len(first) - 1, min(k, len(first)))).astype(int))
    return [first[j] for j in picks]


def run(methods: list[str], n: int = N_DEFAULT, seed: int = 0, classes: list[str] | None = None,
        jobs: int = 1) -> Sweep:
    """Fill every item of every class with every method (``REFERENCE`` is always run: it is the baseline).
    ``jobs`` > 1 runs classes in that many processes (each method's ms then shares the machine)."""
    methods = list(dict.fromkeys([REFERENCE, *methods]))
    classes = classes or class_names()
    sw = Sweep(n, seed, methods, seconds=dict.fromkeys(methods, 0.0), jobs=jobs)
    t_start = time.perf_counter()
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        order = sorted(classes, key=lambda c: c != WHOLE)            # the longest first
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            k = len(order)
            done = dict(zip(order, pool.map(run_class, order, [methods] * k, [n] * k, [seed] * k)))
        parts = [done[c] for c in classes]
    else:
        parts = [run_class(c, methods, n, seed) for c in classes]
    for cls, (res, examples, seconds) in zip(classes, parts):
        sw.classes[cls], sw.examples[cls] = res, examples
        for k, v in seconds.items():
            sw.seconds[k] += v
    sw.wall_s = time.perf_counter() - t_start
    return sw


def run_class(cls: str, methods: list[str], n: int, seed: int) -> tuple[dict, list[dict], dict[str, float]]:
    """One class: (results, contact-sheet rows, seconds of fill per method)."""
    its = items(cls, n, seed)
    corner = np.zeros((CROP, CROP), bool)
    corner[:16, :16] = True
    for name in methods:                   # first calls load weights and databases: not timed
        try:
            get_inpainter(name).fill(its[0].image[:CROP, :CROP], corner)
        except ValueError:
            pass
    photos = [it.photo for it in its]
    shown = example_rows(photos)
    kind = "whole" if cls == WHOLE else "crop"
    examples = [{"photo": its[i].photo, "cover": float(its[i].mask.mean()),
                 "hole": tile(show_hole(its[i].image, its[i].mask), kind),
                 "original": tile(its[i].image, kind), "fills": {}} for i in shown]
    res = {"photos": len(set(photos)), "methods": {},
           "items": [{"photo": it.photo, "seed": it.seed, "cover": round(float(it.mask.mean()), 4)} for it in its]}
    seconds = {}
    tab_runs = [set(plan_methods(it.mask).run) for it in its]   # what the tab would show on each hole
    for name in methods:
        ip, psnr, l1, ssim, ms, refused = get_inpainter(name), [], [], [], [], {}
        for i, it in enumerate(its):
            t0 = time.perf_counter()
            try:
                out = ip.fill(it.image, it.mask)
            except ValueError as e:
                refused[i] = str(e)
                psnr.append(np.nan), l1.append(np.nan), ssim.append(np.nan)
                if i in shown:
                    examples[shown.index(i)]["fills"][name] = (None, str(e))
                continue
            ms.append(1000 * (time.perf_counter() - t0))
            psnr.append(psnr_in_hole(out, it.image, it.mask))
            l1.append(l1_in_hole(out, it.image, it.mask))
            ssim.append(ssim_around_hole(out, it.image, it.mask))
            if i in shown:
                examples[shown.index(i)]["fills"][name] = (tile(out, kind), psnr[-1])
        seconds[name] = sum(ms) / 1000
        row = res["methods"][name] = summarise(psnr, l1, ssim, ms, refused)
        row["per_item_psnr"] = psnr                                # NaN: refused
        row["tab_shows"] = [name in run for run in tab_runs]
        print(f"  {cls:24s} {name:36s} PSNR {row['psnr']:6.2f} dB  {row['ms']:8.1f} ms"
              + (f"  refused {row['n_refused']}" if refused else ""), file=sys.stderr, flush=True)
    paired(res, photos, seed)
    res["floors"] = floors(res["methods"])
    return res, examples, seconds


def summarise(psnr, l1, ssim, ms, refused: dict[int, str]) -> dict:
    ok = ~np.isnan(np.asarray(psnr, np.float64))
    mean = (lambda v: float(np.mean(np.asarray(v)[ok]))) if ok.any() else (lambda v: float("nan"))
    return {"n_filled": int(ok.sum()), "n_refused": len(refused), "psnr": mean(psnr), "l1": mean(l1),
            "ssim": mean(ssim), "ms": float(np.mean(ms)) if ms else float("nan"),
            "refused_message": next(iter(refused.values()), "")}


def paired(res: dict, photos: list[str], seed: int) -> None:
    """Each method's PSNR minus Telea's on the items both filled, with the cluster-bootstrap interval."""
    ref = np.asarray(res["methods"][REFERENCE]["per_item_psnr"], np.float64)
    for row in res["methods"].values():
        d = np.asarray(row["per_item_psnr"], np.float64) - ref
        ok = ~np.isnan(d)
        row["d_psnr"], row["d_lo"], row["d_hi"] = (
            cluster_bootstrap(d[ok], [p for p, k in zip(photos, ok) if k], seed=seed) if ok.any()
            else (float("nan"),) * 3)


def floors(rows: dict[str, dict]) -> list[tuple[str, str]]:
    """The check list under a class's table: (PASS | FAIL | n/a | met | not met, what was checked)."""
    psnr = {k: r["psnr"] for k, r in rows.items() if r["n_filled"]}
    learned = {k: v for k, v in psnr.items() if is_learned(k)}
    if not learned:
        return [("n/a", "floors: no learned fill in this run (or every item refused)")]
    best = max(learned, key=learned.get)
    out = []
    if REFERENCE in psnr:
        ok = learned[best] >= psnr[REFERENCE] - FLOOR_DB
        out.append(("PASS" if ok else "FAIL", f"floor: best learned ({best}, {learned[best]:.2f} dB) >= "
                    f"{REFERENCE} - {FLOOR_DB} dB ({psnr[REFERENCE] - FLOOR_DB:.2f} dB)"))
    worst, mc = min(learned, key=learned.get), psnr.get("mean-colour")
    out.append(("n/a", "floor: every learned fill >= mean-colour (mean-colour not run)") if mc is None else
               ("PASS" if learned[worst] >= mc else "FAIL",
                f"floor: every learned fill >= mean-colour ({mc:.2f} dB); lowest: {worst}, {learned[worst]:.2f} dB"))
    if mc is not None and "per_item_psnr" in rows["mean-colour"]:   # the learned fills the tab shows
        ref = np.asarray(rows["mean-colour"]["per_item_psnr"], np.float64)    # (display.plan_methods), on the holes
        gaps = {}
        for k in learned:
            on = np.asarray(rows[k].get("tab_shows", []), bool)   # it shows them on
            if on.any():
                gaps[k] = float(np.nanmean(np.asarray(rows[k]["per_item_psnr"], np.float64)[on]) - np.nanmean(ref[on]))
        if gaps:
            low = min(gaps, key=gaps.get)
            out.append(("PASS" if gaps[low] >= 0 else "FAIL", f"floor: every learned fill the tab shows >= mean-colour "
                        f"on the holes it shows it on; lowest margin: {low}, {gaps[low]:+.2f} dB"))
    bars = {k: psnr[k] for k in (REFERENCE, "biharmonic") if k in psnr}
    ok = all(learned[best] >= v for v in bars.values())
    out.append(("met" if ok else "not met", f"aim: best learned ({learned[best]:.2f} dB) >= "
                + " and ".join(f"{k} ({v:.2f} dB)" for k, v in bars.items())
                + ("" if "biharmonic" in bars else " (biharmonic not run)")))
    return out


# ---------------------------------------------------------------- reports
def table(sw: Sweep) -> str:
    lines = [f"Held-out photos of the photo pool only; {sw.n} items per class (128x128 crops, the same for every "
             f"crop class; or whole photos at their stored size with 5-15% holes), seed {sw.seed}. PSNR and L1 (% "
             f"of the range) inside the hole, means of per-image values; SSIM over the hole's bounding box grown by "
             f"{GROW} px (skimage structural_similarity, 7x7 window, channel_axis=-1, data_range=255); ms per fill; "
             f"d PSNR = PSNR minus {REFERENCE}'s on the same items, 95% percentile interval from a cluster bootstrap "
             f"over held-out photos ({N_BOOT} resamples of photos with replacement: crops of a photo are not "
             f"independent).", ""]
    for cls, res in sw.classes.items():
        lines += [f"### {cls} ({sw.n} items from {res['photos']} held-out photos)", "",
                  f"| method | PSNR (dB) | L1 % | SSIM | ms / image | d PSNR vs {REFERENCE} (dB) [95% CI] |",
                  "|---|---:|---:|---:|---:|---|"]
        rows = sorted(res["methods"].items(), key=lambda t: -np.nan_to_num(t[1]["psnr"], nan=-1e9))
        for name, r in rows:
            if not r["n_filled"]:
                lines.append(f"| {name} | refused: {r['refused_message']} | | | | |")
                continue
            note = f" (refused {r['n_refused']}/{sw.n}: {r['refused_message']})" if r["n_refused"] else ""
            lines.append(f"| {name}{note} | {r['psnr']:.2f} | {r['l1']:.2f} | {r['ssim']:.3f} | {r['ms']:.1f} | "
                         f"{r['d_psnr']:+.2f} [{r['d_lo']:+.2f}, {r['d_hi']:+.2f}] |")
        lines += [""] + [f"- {s}: {text}" for s, text in res["floors"]] + [""]
    lines.append(f"Fill time, whole sweep: {sum(sw.seconds.values()):.0f} s of {sw.wall_s:.0f} s wall, "
                 f"{sw.jobs} process(es) (" + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(sw.seconds.items(), key=lambda t: -t[1])) + ")")
    return "\n".join(lines)


def write(sw: Sweep, out: Path) -> None:
    """results.csv (one row per class and method) and results.json (the same, the floors and every item)."""
    out.mkdir(parents=True, exist_ok=True)
    cols = ["n_filled", "n_refused", "psnr", "l1", "ssim", "ms", "d_psnr", "d_lo", "d_hi", "refused_message"]
    with open(out / "results.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["class", "method", *cols])
        for cls, res in sw.classes.items():
            for name, r in res["methods"].items():
                wr.writerow([cls, name, *[round(r[c], 4) if isinstance(r[c], float) else r[c] for c in cols]])
    meta = {"n": sw.n, "seed": sw.seed, "methods": sw.methods, "reference": REFERENCE, "crop": CROP,
            "bootstrap": N_BOOT, "ssim_grow_px": GROW, "wall_s": round(sw.wall_s, 1), "jobs": sw.jobs,
            "fill_seconds": {k: round(v, 1) for k, v in sw.seconds.items()}}
    (out / "results.json").write_text(json.dumps({"meta": meta, "classes": _no_nan(sw.classes)}, indent=1))


def _no_nan(v):
    """NaN (a method that filled nothing) -> null, so the JSON is standard; floats to 4 decimals."""
    if isinstance(v, dict):
        return {k: _no_nan(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_no_nan(x) for x in v]
    if isinstance(v, float):
        return None if np.isnan(v) else round(v, 4)
    return v


def tile(image: np.ndarray, kind: str) -> np.ndarray:
    """The image fitted into a TILE[kind] box (area filter; crops fill it), letterboxed on dark grey."""
    bw, bh = TILE[kind]
    h, w = image.shape[:2]
    s = min(bw / w, bh / h)
    th, tw = max(1, round(h * s)), max(1, round(w * s))
    small = image if (th, tw) == (h, w) else cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
    out = np.full((bh, bw, 3), 40, np.uint8)
    y, x = (bh - th) // 2, (bw - tw) // 2
    out[y:y + th, x:x + tw] = small
    return out


def sheet_size(n_rows: int, n_cols: int, box: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a contact sheet: a header of HEAD_LINES lines, rows of tile + one caption line."""
    return GAP + n_cols * (box[0] + GAP), GAP + HEAD_LINES * LINE + n_rows * (box[1] + LINE + GAP)


def contact_sheet(sw: Sweep, cls: str) -> "Image.Image":
    """Rows: held-out examples; columns: the photo with the hole in a flat colour, each method, the original;
    the method's PSNR in the hole under each fill."""
    from PIL import Image, ImageDraw, ImageFont

    rows = sw.examples[cls]
    bw, bh = TILE["whole" if cls == WHOLE else "crop"]
    cols = ["hole", *sw.methods, "original"]
    im = Image.new("RGB", sheet_size(len(rows), len(cols), (bw, bh)), (255, 255, 255))
    draw, font = ImageDraw.Draw(im), ImageFont.load_default(size=FONT_SIZE)
    chars = max(8, int(bw / (0.6 * FONT_SIZE)))
    for c, name in enumerate(cols):
        for k, line in enumerate(textwrap.wrap(name, chars)[:HEAD_LINES]):
            draw.text((GAP + c * (bw + GAP), GAP + k * LINE), line, fill=(0, 0, 0), font=font)
    for r, row in enumerate(rows):
        y = GAP + HEAD_LINES * LINE + r * (bh + LINE + GAP)
        for c, name in enumerate(cols):
            x = GAP + c * (bw + GAP)
            if name == "hole":
                pix, caption = row["hole"], f"{row['photo']} {100 * row['cover']:.0f}%"
            elif name == "original":
                pix, caption = row["original"], "original"
            else:
                pix, value = row["fills"].get(name, (None, "not run"))
                caption = f"{value:.2f} dB" if pix is not None else "refused"
            if pix is not None:
                im.paste(Image.fromarray(pix), (x, y))
            else:
                draw.rectangle([x, y, x + bw - 1, y + bh - 1], fill=(200, 200, 200))
                for k, line in enumerate(textwrap.wrap(str(value), chars)[:bh // LINE]):
                    draw.text((x + 2, y + 2 + k * LINE), line, fill=(0, 0, 0), font=font)
            draw.text((x, y + bh + 1), caption[:chars + 4], fill=(0, 0, 0), font=font)
    return im


def write_sheets(sw: Sweep, folder: Path) -> list[Path]:
    """One JPEG per class, sweep_<class slug>.jpg, each under SHEET_BYTES: the JPEG quality goes down from 90
    to 60, then the sheet shrinks by 10% steps, until it fits."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for cls in sw.classes:
        im, path = contact_sheet(sw, cls), folder / f"sweep_{slug(cls)}.jpg"
        for quality in [*range(90, 60, -5), *[60] * 10]:
            im.save(path, quality=quality, optimize=True)
            if path.stat().st_size < SHEET_BYTES:
                break
            if quality == 60:
                im = im.resize((round(im.width * 0.9), round(im.height * 0.9)), resample=3)   # bicubic
        paths.append(path)
    return paths


def slug(cls: str) -> str:
    """'square 15% centred' -> 'square_15pc_centred'."""
    return re.sub(r"[^a-z0-9]+", "_", cls.lower().replace("%", "pc")).strip("_")


def report(methods: list[str], n: int = N_DEFAULT, seed: int = 0, out: Path | None = None,
           sheets: Path | None = None, classes: list[str] | None = None, jobs: int = 1) -> Sweep:
    """What ``python -m synth.evaluate inpainting --sweep`` does: run, print the table, write files."""
    sw = run(methods, n, seed, classes, jobs)
    print(table(sw))
    if out is not None:
        write(sw, Path(out))
    if sheets is not None:
        for p in write_sheets(sw, Path(sheets)):
            print(f"contact sheet: {p} ({p.stat().st_size // 1000} KB)", file=sys.stderr)
    return sw
