"""Detail at full resolution (beyond the paper): the guidance sampled by the model's own transform at the hole
window's pixel size, and the high frequencies the 64x64 model cannot carry.

The model samples a 96x96 copy of the guidance, padded to a square with black bars (``inpainter.
square_guidance``), with ``theta`` (2 x 3, frame -> guidance, ``F.affine_grid``'s normalised coordinates with
``align_corners=False``). Those coordinates do not depend on resolution, so the same ``theta`` applied to the
FULL-resolution padded square gives the same sample at any output size (``sample_full``). ``high_pass`` is what
the model's resolution loses: the sample minus itself taken down to 64 px and back up, by the path the model's
prediction takes to the window.

    python -m synth.evaluate guided-detail [--n 20] [--setting b] [--sheet docs/guided/detail.jpg]

measures it on items like the lecture experiment's (held-out photos at 256 px, one off-centre square hole of
35-45% of the side, the retrieval setting's top guidance, from another photo, so registration fails): PSNR in
the hole and a sharpness ratio (mean gradient magnitude in the hole over the same in the true photo's hole),
guided inpainting and DH, without and with the detail.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from synth.metrics import gradient_magnitude, psnr_in_hole


def sample_full(guidance: np.ndarray, theta: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 guidance h x w x 3, theta 2 x 3 -> (float32 side x side x 3 on 0..255: the guidance as the
    transformer samples it, bilinear; 127.5 outside the padded square, as grid_sample's zeros on [-1, 1] data,
    float32 side x side: the share of the guidance's own pixels, 0 on the black bars and outside)."""
    h, w = guidance.shape[:2]
    s = max(h, w)
    sq = np.zeros((s, s, 4), np.uint8)                    # state size. s x s x (RGB + the guidance's extent)
    y, x = (s - h) // 2, (s - w) // 2
    sq[y:y + h, x:x + w, :3] = guidance
    sq[y:y + h, x:x + w, 3] = 255
    A, t = theta[:, :2].astype(np.float64), theta[:, 2].astype(np.float64)
    # 1. pre-shrink (area) where one output pixel spans 1.4 guidance pixels or more, so bilinear does not alias
    step = np.sqrt(abs(np.linalg.det(A))) * s / side      # guidance px per output px
    if step > 1.4:
        n = max(1, round(s / step))
        sq = cv2.resize(sq, (n, n), interpolation=cv2.INTER_AREA)
    n = sq.shape[0]
    # 2. output pixel j (centre) -> u = (2j + 1) / side - 1 -> g = A u + t -> source px ((g + 1) n - 1) / 2
    c = np.full(2, 1 / side - 1)
    M = np.hstack([A * (n / side), ((n / 2) * (A @ c + t + 1) - 0.5)[:, None]])
    out = cv2.warpAffine(sq.astype(np.float32), M, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(127.5, 127.5, 127.5, 0))
    return out[..., :3], out[..., 3] / 255


def high_pass(a: np.ndarray, size: int) -> np.ndarray:
    """float side x side x 3 -> a minus its trip to size x size (area) and back (cubic): the detail a
    size x size prediction cannot hold."""
    side = a.shape[0]
    low = cv2.resize(cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA), (side, side),
                     interpolation=cv2.INTER_CUBIC)
    return a - low


def sharpness(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean gradient magnitude of the grey image inside ``mask``."""
    return float(gradient_magnitude(image)[mask].mean())


# ------------------------------------------------------------------------------------------ measurement

def items(n: int, size: int = 256, seed: int = 0, setting: str = "b"):
    """The experiment's first ``n`` items (held-out photos, off-centre square holes of 35-45%) with the
    retrieval setting's top guidance: [(id, photo, mask, guidance)]."""
    from synth import experiment_stimuli as es
    from synth.guided.retrieval import retrieve

    ids, crops, _, _ = es.photos(n, 0, size, seed)
    masks = es.holes(n, size, seed, 0.35, 0.45)
    return [(i, c, m, retrieve(c, m, setting=setting, k=1)[0].image) for i, c, m in zip(ids, crops, masks)]


def measure(n: int = 20, sheet: Path | None = None, setting: str = "b", log=print) -> dict:
    from synth.guided.harmonize import DeepHarmonization, Harmonizer
    from synth.guided.inpainter import default_inpainter

    g = default_inpainter()
    h = Harmonizer()
    dh = {False: DeepHarmonization(g, h, detail=False), True: DeepHarmonization(g, h, detail=True)}
    rows, tiles = [], []
    for k, (item, photo, mask, guide) in enumerate(items(n, setting=setting)):
        truth = sharpness(photo, mask)
        row = {"item": item}
        outs = {}
        for on in (False, True):
            r = g.run(photo, mask, guide, detail=on)
            outs[("ours", on)] = r.result
            outs[("DH", on)] = dh[on].fill(photo, mask, guide)
            row["registered"] = r.registered
            # how many guidance px the window spans: at most ~64, the model already holds all there is
            row["span"] = np.sqrt(abs(np.linalg.det(r.theta[:, :2]))) * max(guide.shape[:2])
            row["side"] = r.window[2]
        for (m, on), o in outs.items():
            row[m, on] = (psnr_in_hole(o, photo, mask), sharpness(o, mask) / truth)
        rows.append(row)
        if sheet is not None and k < 6:
            tiles.append(np.hstack([outs["ours", False], outs["ours", True], outs["DH", False], outs["DH", True],
                                    photo]))
        if log and (k + 1) % 5 == 0:
            log(f"  {k + 1}/{n} items")
    if sheet is not None:
        sheet = Path(sheet)
        sheet.parent.mkdir(parents=True, exist_ok=True)
        grid = np.vstack([np.pad(t, ((2, 2), (0, 0), (0, 0)), constant_values=255) for t in tiles])
        cv2.imwrite(str(sheet), grid[..., ::-1])
    return {"rows": rows, "setting": setting}


def report(r: dict) -> str:
    rows = r["rows"]
    reg = sum(x["registered"] for x in rows)
    span, side = np.array([x["span"] for x in rows]), np.array([x["side"] for x in rows])
    lines = [f"{len(rows)} experiment items (held-out photos, 256 px, square holes 35-45%, retrieval setting "
             f"({r['setting']})'s top guidance); registered: {reg}. PSNR in the hole; sharpness = mean gradient "
             "magnitude in the hole / the true photo's. The window spans a median "
             f"{np.median(span):.0f} guidance px (range {span.min():.0f}..{span.max():.0f}) for a median "
             f"{np.median(side):.0f} px window.", "",
             "| method | detail | PSNR (dB) | sharpness ratio |", "|---|---|---:|---:|"]
    for m in ("ours", "DH"):
        for on in (False, True):
            v = np.array([x[m, on] for x in rows])
            lines.append(f"| {'guided inpainting' if m == 'ours' else 'DH'} | {'on' if on else 'off'} | "
                         f"{v[:, 0].mean():.2f} | {v[:, 1].mean():.2f} |")
    for m in ("ours", "DH"):
        d = np.array([x[m, True][0] - x[m, False][0] for x in rows])
        lines.append(f"- {m}: detail on - off = {d.mean():+.2f} dB (min {d.min():+.2f}, max {d.max():+.2f}), "
                     f"higher on {np.mean(d > 0):.0%} of items")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="synth.evaluate guided-detail", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20, help="items (1..48)")
    p.add_argument("--setting", choices=("a", "b"), default="b", help="retrieval setting of the guidance")
    p.add_argument("--sheet", type=Path, default=None, help="a contact sheet of the first 6 items (PNG): ours "
                   "without / with the detail, DH without / with, the original")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if not 1 <= args.n <= 48:
        p.error(f"--n must be 1..48 (the held-out photos), got {args.n}")
    print(report(measure(args.n, args.sheet, args.setting)))


if __name__ == "__main__":
    main()
