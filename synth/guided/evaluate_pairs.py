"""Guided inpainting on real photo pairs: two views of one held-out photo, not the training's synthetic triplets.

    python -m synth.evaluate guided-pairs [--n 72] [--seed 0]

Pairs (``make_pair``), from the photo pool's HELD-OUT photos only (``synth.photo_pool.photos("heldout")``):

- ``crops``: the photo is a square crop of a held-out photo; the guidance another square crop of the same
  photo around a shifted centre, its content at another scale (0.8..1.25), rotated (5..15 degrees either
  way) and shot again (``reshoot``: gain 0.7..1.3, +-5% per channel, a tone curve x ** 0.9..1.1, sensor
  noise, JPEG) - two snapshots of one scene.
- ``whole``: the photo is the whole held-out photo; the guidance the whole photo rotated (5..15 degrees),
  cut to (95% of) its largest upright rectangle of the same shape (no black corners), resized by 0.8..1.25
  and shot again (``reshoot``) - the same photo turned and zoomed, as the issue's two flower photos.

Each at a side of 256, 512 or 1024 px (the held-out photos are 800 px long: 1024 is upscaled) with one
rectangular hole whose longer side is 12, 22 or 35% of the photo's shorter side, placed where the guidance
covers it. The ground truth is the photo itself.

Methods: guided inpainting with registration (synth.guided.register, the default), the same model without it
(the guidance as the user gave it), the any-hole Context Encoder, Telea, and "copy the registered guidance"
(the registered, exposure-matched guidance pasted into the hole; where registration failed or the guidance
does not reach, the guided fill): a reference for what registration alone gives. PSNR and L1 in the hole; the
paired difference guided with registration minus the Context Encoder with a 95% bootstrap interval that
resamples whole photos.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SIZES = (256, 512, 1024)
HOLE_FRACS = (0.12, 0.22, 0.35)
KINDS = ("crops", "whole")


@dataclass
class Pair:
    image: np.ndarray      # uint8 H x W x 3 (the ground truth: the hole's pixels are known)
    mask: np.ndarray       # bool H x W, True = hole
    guidance: np.ndarray   # uint8 h x w x 3
    truth: np.ndarray      # float64 3 x 3: guidance px -> photo px
    photo: str             # held-out photo id
    kind: str              # "crops" or "whole"
    angle: float           # degrees, the guidance's content rotation
    zoom: float            # guidance px per photo px
    gain: float


def similarity(centre_src, centre_dst, angle: float, scale: float) -> np.ndarray:
    """3 x 3: dst px -> src px, rotating by ``angle`` degrees and scaling by ``scale`` (src px per dst px)
    about the two centres (pixel centres at integer coordinates)."""
    a = np.radians(angle)
    R = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    M = np.eye(3)
    M[:2, :2] = R
    M[:2, 2] = np.asarray(centre_src, float) - R @ np.asarray(centre_dst, float)
    return M


def render(photo: np.ndarray, out_to_photo: np.ndarray, w: int, h: int) -> np.ndarray:
    """The view whose pixel (x, y) is the photo's at out_to_photo (x, y, 1); area-filtered when it shrinks."""
    s = np.sqrt(abs(np.linalg.det(out_to_photo[:2, :2])))    # photo px per output px
    src, pre = photo, np.eye(3)
    if s > 1.4:
        f = 1 / s
        src = cv2.resize(photo, (round(photo.shape[1] * f), round(photo.shape[0] * f)), interpolation=cv2.INTER_AREA)
        fx, fy = src.shape[1] / photo.shape[1], src.shape[0] / photo.shape[0]
        pre = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])
    M = (pre @ out_to_photo)[:2]
    return cv2.warpAffine(src, M, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT_101)


def inside(photo_shape, out_to_photo: np.ndarray, w: int, h: int) -> bool:
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [w - 1, h - 1, 1], [0, h - 1, 1]], float) @ out_to_photo.T
    H, W = photo_shape[:2]
    return bool((corners[:, 0] >= -0.5).all() and (corners[:, 0] <= W - 0.5).all()
                and (corners[:, 1] >= -0.5).all() and (corners[:, 1] <= H - 0.5).all())


def reshoot(image: np.ndarray, gains: np.ndarray, gamma: float, rng) -> np.ndarray:
    """Another camera's rendering of the same view: exposure (per-channel gain and a tone curve), sensor noise
    (sigma 2 of 255) and JPEG compression (quality 85)."""
    x = 255 * gains * (image.astype(np.float32) / 255) ** gamma + rng.normal(0, 2, image.shape)
    x = np.clip(np.round(x), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", x[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def make_pair(photo: np.ndarray, photo_id: str, kind: str, size: int, hole_frac: float, seed: int) -> Pair:
    """One pair (see the module's docstring); same arguments, same pixels."""
    rng = np.random.default_rng(seed)
    H, W = photo.shape[:2]
    angle = float(rng.uniform(5, 15) * rng.choice([-1, 1]))
    zoom = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))    # guidance px per photo px
    gain = float(rng.uniform(0.7, 1.3))
    gains = gain * rng.uniform(0.95, 1.05, 3)
    gamma = float(rng.uniform(0.9, 1.1))
    for _ in range(200):
        if kind == "crops":
            # the photo: a square of 55..75% of the short side; the guidance: the same scene rotated, zoomed
            side = rng.uniform(0.55, 0.75) * min(H, W)
            c = np.array([rng.uniform(side / 2, W - side / 2), rng.uniform(side / 2, H - side / 2)])
            img_to_photo = similarity(c, ((size - 1) / 2,) * 2, 0.0, side / size)
            gw = gh = size
            shift = rng.uniform(-0.15, 0.15, 2) * side
            g_to_photo = similarity(c + shift, ((gw - 1) / 2,) * 2, angle, side / size / zoom)
        elif kind == "whole":
            img_to_photo, (iw, ih), g_to_photo, (gw, gh) = whole_views(photo.shape, size, angle, zoom)
            g_to_photo[:2, 2] += rng.uniform(-0.02, 0.02, 2) * np.array([W, H])
        else:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if inside(photo.shape, g_to_photo, gw, gh) and inside(photo.shape, img_to_photo,
                                                              *((size, size) if kind == "crops" else (iw, ih))):
            break
        zoom = 1 + (zoom - 1) * 0.9
    else:
        raise RuntimeError(f"no pair of views fits in photo {photo_id}")
    iw, ih = (size, size) if kind == "crops" else (iw, ih)
    image = render(photo, img_to_photo, iw, ih)
    guidance = reshoot(render(photo, g_to_photo, gw, gh), gains, gamma, rng)
    truth = np.linalg.inv(img_to_photo) @ g_to_photo               # guidance px -> photo px -> image px
    mask = hole_where_covered(ih, iw, hole_frac, truth, gw, gh, rng)
    return Pair(image, mask, guidance, truth, photo_id, kind, angle, zoom, gain)


def whole_views(shape, size: int, angle: float, zoom: float):
    """The whole photo at ``size`` px (longer side) and the photo rotated by ``angle`` degrees, cut to 95% of
    its largest upright rectangle of the same shape, at ``zoom`` guidance px per photo px ->
    (image px -> photo px 3 x 3, (w, h), guidance px -> photo px, (w, h))."""
    H, W = shape[:2]
    iw, ih = (size, round(size * H / W)) if W >= H else (round(size * W / H), size)
    img_to_photo = similarity(((W - 1) / 2, (H - 1) / 2), ((iw - 1) / 2, (ih - 1) / 2), 0.0, W / iw)
    a = np.radians(abs(angle))
    k = 0.95 * min(W / (W * np.cos(a) + H * np.sin(a)), H / (W * np.sin(a) + H * np.cos(a)))
    gw, gh = round(iw * k * zoom), round(ih * k * zoom)
    g_to_photo = similarity(((W - 1) / 2, (H - 1) / 2), ((gw - 1) / 2, (gh - 1) / 2), angle, W / iw / zoom)
    return img_to_photo, (iw, ih), g_to_photo, (gw, gh)


def make_view(photo: np.ndarray, size: int, angle: float, zoom: float, gain: float, seed: int = 0):
    """(the whole photo at ``size`` px, the same photo turned, zoomed and shot again as ``whole_views`` and
    ``reshoot`` make it, one exposure gain for all channels and no tone change): a fixed whole-photo pair."""
    img_to_photo, (iw, ih), g_to_photo, (gw, gh) = whole_views(photo.shape, size, angle, zoom)
    guidance = reshoot(render(photo, g_to_photo, gw, gh), np.full(3, gain), 1.0, np.random.default_rng(seed))
    return render(photo, img_to_photo, iw, ih), guidance


def hole_where_covered(h: int, w: int, frac: float, truth: np.ndarray, gw: int, gh: int, rng) -> np.ndarray:
    """A rectangle (aspect 0.6..1, longer side ``frac`` of the short side) whose corners the guidance covers,
    at least 4 px inside the image."""
    inv = np.linalg.inv(truth)
    for _ in range(500):
        a = frac * min(h, w)
        bw, bh = (a, a * rng.uniform(0.6, 1)) if rng.random() < 0.5 else (a * rng.uniform(0.6, 1), a)
        bw, bh = max(4, round(bw)), max(4, round(bh))
        x0, y0 = int(rng.integers(4, w - bw - 4)), int(rng.integers(4, h - bh - 4))
        c = np.array([[x0, y0, 1], [x0 + bw, y0, 1], [x0 + bw, y0 + bh, 1], [x0, y0 + bh, 1]], float) @ inv.T
        if (c[:, 0] >= 2).all() and (c[:, 0] <= gw - 3).all() and (c[:, 1] >= 2).all() and (c[:, 1] <= gh - 3).all():
            m = np.zeros((h, w), bool)
            m[y0:y0 + bh, x0:x0 + bw] = True
            return m
    raise RuntimeError("no hole position is covered by the guidance")


def pairs(n: int, seed: int = 0) -> list[Pair]:
    """``n`` pairs over the held-out photos in a seeded order; kinds, sizes and hole sizes cycle."""
    from synth import photo_pool

    held = photo_pool.photos("heldout")
    order = np.random.default_rng(seed).permutation(len(held))
    out = []
    for i in range(n):
        pid, photo = held[order[i % len(held)]]
        out.append(make_pair(photo, pid, KINDS[i % 2], SIZES[(i // 2) % 3], HOLE_FRACS[(i // 6) % 3],
                             seed=seed * 100003 + i))
    return out


def copy_registered(image: np.ndarray, mask: np.ndarray, guidance: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The reference "copy the registered guidance": the registered, exposure-matched guidance pasted into the
    hole as it is; ``fallback``'s pixels where registration failed or the guidance does not reach."""
    from .register import exposure_match, register, warp

    reg = register(image, mask, guidance)
    if not reg.ok:
        return fallback
    g, valid = warp(guidance, reg.matrix, mask.shape)
    g = exposure_match(g, valid, image, mask).apply(g)
    return np.where((mask & valid)[..., None], g, fallback)


def registration_error(p: Pair, matrix: np.ndarray | None) -> float:
    """The largest distance (guidance px) between where the hole's pixels map by the estimate and by the truth."""
    if matrix is None:
        return float("nan")
    ys, xs = np.nonzero(p.mask)
    pts = np.stack([xs, ys, np.ones_like(xs)], 1).astype(np.float64)
    a, b = pts @ np.linalg.inv(p.truth).T, pts @ np.linalg.inv(matrix).T
    return float(np.abs(a[:, :2] / a[:, 2:] - b[:, :2] / b[:, 2:]).max())


METHODS = ("guided, registered", "guided, no registration (the paper's path)",
           "guided, no registration, blended", "context-encoder any-hole", "telea",
           "copy the registered guidance (reference)")


def evaluate(n: int = 72, seed: int = 0, log=print) -> dict:
    from synth.inpaint import get_inpainter
    from synth.metrics import hole_scores

    from .inpainter import default_inpainter
    from .register import register

    g, ce, telea = default_inpainter(), get_inpainter("context-encoder any-hole"), get_inpainter("telea")
    scores = {m: [] for m in METHODS}
    seconds = {m: 0.0 for m in METHODS}
    rows, shown = [], []
    for i, p in enumerate(pairs(n, seed)):
        t0 = time.perf_counter()
        r = g.run(p.image, p.mask, p.guidance)
        seconds[METHODS[0]] += time.perf_counter() - t0
        outs = {METHODS[0]: r.result}
        others = {METHODS[1]: lambda: g.run(p.image, p.mask, p.guidance, register=False, match_colour=False).result,
                  METHODS[2]: lambda: g.run(p.image, p.mask, p.guidance, register=False).result,
                  METHODS[3]: lambda: ce.fill(p.image, p.mask),
                  METHODS[4]: lambda: telea.fill(p.image, p.mask),
                  METHODS[5]: lambda: copy_registered(p.image, p.mask, p.guidance, r.result)}
        for m, fill in others.items():
            t0 = time.perf_counter()
            outs[m] = fill()
            seconds[m] += time.perf_counter() - t0
        for m, o in outs.items():
            scores[m].append(hole_scores(o, p.image, p.mask))
        if i < SHEET_ROWS:
            shown.append((p, {m: outs[m] for m in SHEET_METHODS}))
        reg = register(p.image, p.mask, p.guidance)
        rows.append({"photo": p.photo, "kind": p.kind, "side": max(p.image.shape[:2]),
                     "hole": int(p.mask.sum()), "registered": r.registered,
                     "error_px": registration_error(p, reg.matrix if reg.ok else None)})
        if log and (i + 1) % 12 == 0:
            log(f"  {i + 1}/{n} pairs")
    return {"n": n, "seed": seed, "scores": {m: np.array(v) for m, v in scores.items()},
            "ms": {m: 1000 * s / n for m, s in seconds.items()}, "rows": rows, "shown": shown}


def report(r: dict) -> str:
    from synth.inpaint.sweep import cluster_bootstrap

    rows, sc = r["rows"], r["scores"]
    kind = np.array([x["kind"] for x in rows])
    side = np.array([x["side"] for x in rows])
    photos = [x["photo"] for x in rows]
    reg = np.array([x["registered"] for x in rows])
    err = np.array([x["error_px"] for x in rows])
    lines = [f"{r['n']} pairs from {len(set(photos))} held-out photos (seed {r['seed']}): "
             f"{int((kind == 'crops').sum())} two-crop pairs, {int((kind == 'whole').sum())} whole-photo pairs; sides "
             f"{', '.join(str(s) for s in SIZES)} px (longer side for whole photos), holes' longer side "
             f"{', '.join(f'{f:.0%}' for f in HOLE_FRACS)} of the shorter side. Metrics in the hole; L1 on 0..1 x100.",
             f"Registered: {reg.sum()} of {len(reg)} pairs ({reg.mean():.0%}); registration error (the hole's pixels "
             f"mapped into the guidance, largest distance from the truth): median {np.nanmedian(err):.2f} px, "
             f"max {np.nanmax(err):.2f} px.", "",
             "| method | PSNR (dB) | L1 % | PSNR, two crops | PSNR, whole photo | PSNR, 256 px | PSNR, 1024 px "
             "| ms / pair |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in METHODS:
        p, l1 = sc[m][:, 0], sc[m][:, 1]
        lines.append(f"| {m} | {p.mean():.2f} | {l1.mean():.2f} | {p[kind == 'crops'].mean():.2f} | "
                     f"{p[kind == 'whole'].mean():.2f} | {p[side <= 256].mean():.2f} | {p[side >= 1024].mean():.2f} "
                     f"| {r['ms'][m]:.0f} |")
    lines.append("")
    for a, b in ((METHODS[0], METHODS[3]), (METHODS[0], METHODS[1]), (METHODS[2], METHODS[3]),
                 (METHODS[1], METHODS[3])):
        d = sc[a][:, 0] - sc[b][:, 0]
        mean, lo, hi = cluster_bootstrap(d, photos)
        dl1 = sc[b][:, 1] - sc[a][:, 1]
        lines.append(f"- {a} - {b} = {mean:+.2f} dB PSNR (paired 95% interval {lo:+.2f}..{hi:+.2f}, bootstrap over "
                     f"photos; {'above 0' if lo > 0 else 'NOT above 0'}), L1 {dl1.mean():+.2f} points better, "
                     f"better on {np.mean(d > 0):.0%} of pairs")
    return "\n".join(lines)


SHEET_ROWS, SHEET_TILE = 6, 150
SHEET_METHODS = (METHODS[0], METHODS[1], METHODS[3], METHODS[4])


def contact_sheet(shown: list) -> "Image.Image":
    """The first pairs (rows): the photo with its hole (magenta), the guidance, the fills of SHEET_METHODS with
    their PSNR in the hole, and the photo itself; every picture fitted into a SHEET_TILE square."""
    from PIL import Image, ImageDraw

    from synth.inpaint.display import show_hole
    from synth.metrics import psnr_in_hole

    heads = ["photo and hole", "guidance", *SHEET_METHODS, "original"]
    t, gap, head = SHEET_TILE, 6, 40
    out = Image.new("RGB", (gap + len(heads) * (t + gap), head + len(shown) * (t + 22)), "white")
    draw = ImageDraw.Draw(out)
    for j, h in enumerate(heads):
        draw.text((gap + j * (t + gap), 4), "\n".join(textwrap.wrap(h, 24)), fill="black")
    for i, (p, fills) in enumerate(shown):
        y = head + i * (t + 22)
        cells = [(show_hole(p.image, p.mask), f"{p.kind}, {max(p.image.shape[:2])} px"),
                 (p.guidance, f"turned {p.angle:+.0f} deg, gain {p.gain:.2f}"),
                 *[(f, f"{psnr_in_hole(f, p.image, p.mask):.1f} dB") for f in fills.values()],
                 (p.image, p.photo)]
        for j, (im, caption) in enumerate(cells):
            pic = Image.fromarray(im)
            pic.thumbnail((t, t), Image.Resampling.LANCZOS)
            out.paste(pic, (gap + j * (t + gap), y))
            draw.text((gap + j * (t + gap), y + t + 4), caption, fill="black")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="synth.evaluate guided-pairs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=72, help="pairs (kinds, sizes and hole sizes cycle)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sheet", type=Path, default=None,
                   help=f"write a contact sheet of the first {SHEET_ROWS} pairs here (.jpg or .png)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.n < 1:
        p.error(f"--n must be at least 1, got {args.n}")
    r = evaluate(args.n, args.seed)
    print(report(r))
    if args.sheet is not None:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        contact_sheet(r["shown"]).save(args.sheet, quality=85)
        print(f"contact sheet: {args.sheet}")


if __name__ == "__main__":
    main()
