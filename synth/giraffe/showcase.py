"""What the docs and the tab show of a GIRAFFE checkpoint, chosen by numbers: the appearance slider's contact sheet
and the ranking of seeds for the tab's opening scene.

    python -m synth.evaluate giraffe --sheet PNG [--giraffe RUN]     # appearance_sheet
    python -m synth.evaluate giraffe --pick-scene 150                # scene_picks, printed by picks_table
    python -m synth.evaluate giraffe --controls-sheet PNG            # controls_sheet: every slider at its ends
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from synth.giraffe import render as rd
from synth.giraffe.controls import CONTROL_RANGES, controlled_latents
from synth.giraffe.evaluate import alpha_maps, appearance_change, cat_latents, images
from synth.giraffe.model import load_giraffe


def tile(rows, scale: int = 2, pad: int = 2) -> Image.Image:
    """Rows of equal-sized uint8 H x W x 3 frames -> one PIL image, frames in a grid with grey gaps, scaled up."""
    h, w = rows[0][0].shape[:2]
    sheet = np.full((len(rows) * (h + pad) + pad, max(map(len, rows)) * (w + pad) + pad, 3), 128, np.uint8)
    for r, frames in enumerate(rows):
        for c, im in enumerate(frames):
            y, x = pad + r * (h + pad), pad + c * (w + pad)
            sheet[y:y + h, x:x + w] = im
    return Image.fromarray(sheet).resize((sheet.shape[1] * scale, sheet.shape[0] * scale), Image.NEAREST)


def appearance_sheet(folders: list[Path], seeds=(0, 1, 2, 3), n_frames: int = 5, scale: int = 2):
    """A contact sheet of the appearance slider: one row per (checkpoint, seed), frames 0..1 left to right,
    two-object scenes as the tab draws them (object 1 moves). -> PIL image (grey gaps between frames)."""
    rows = []
    for folder in folders:
        G = load_giraffe(folder)
        for seed in seeds:
            lat = cat_latents([controlled_latents(G.cfg, seed, 2, appearance=float(v))
                               for v in np.linspace(0, 1, n_frames)])
            rows.append(images(G, lat))
    return tile(rows, scale)


def sheet_columns() -> list[dict[str, float]]:
    """The controls sheet's columns, left to right: the scene as drawn; rotation 45 degrees (the data's objects look
    the same after a half turn, the slider's ends); elevation, depth and horizontal at each end of their sliders;
    appearance 1; circle a quarter and half a turn."""
    cols = [{}, {"rotation": 45.0}]
    for name in ("elevation", "depth", "horizontal"):
        lo, hi, _ = CONTROL_RANGES[name]
        cols += [{name: lo}, {name: hi}]
    return cols + [{"appearance": 1.0}, {"circle": 0.25}, {"circle": 0.5}]


def controls_sheet(folder: Path, scenes=((81, 2), (0, 2), (5, 3), (9, 4), (12, 2)), scale: int = 2):
    """Every slider at its ends, as the tab renders it (object 1 moves; other controls neutral): one row per
    (seed, objects), `sheet_columns` left to right, 64 x 64 frames. -> PIL image (grey gaps between frames)."""
    neutral = rd.neutral_controls()
    return tile([[rd.render(seed, k, **{**neutral, **edit}, folder=folder)[::4, ::4] for edit in sheet_columns()]
                 for seed, k in scenes], scale)


def scene_picks(folder: Path, seeds=range(150), angles=(30, 45, 60, 90, 135, 180), turn_steps: int = 12) -> list[dict]:
    """Candidates for the tab's opening scene (two objects, controls on object 1, elevation in the middle), per seed:
    "turn": the largest, over ``angles``, mean change of the 64 x 64 image (0-255, whole image) when object 1 turns
    (the largest: the data's cubes look the same after 90 degrees, its spheres and cylinders after any turn);
    "turn_inside": the same inside object 1's alpha mask; "colour": how far the appearance slider moves object 1's
    mean colour (0 -> 1, as in the appearance floor); "in_view": the smallest share of object 1 in the frame over
    ``turn_steps`` points of the circle (``render.in_frame``). Sorted by "turn", largest first."""
    G = rd.generator(folder)
    neutral = rd.neutral_controls()
    rows = []
    for seed in seeds:
        lats = [controlled_latents(G.cfg, seed, 2, **{**neutral, "rotation": float(a)}) for a in (0, *angles)]
        lats += [controlled_latents(G.cfg, seed, 2, **{**neutral, "appearance": 1.0})]
        lat = cat_latents(lats)
        im = images(G, lat).astype(float)
        masks = (alpha_maps(G, lat)[:, 0] > 0.5).numpy()
        turns = [np.abs(im[i] - im[0]).mean(-1) for i in range(1, len(angles) + 1)]
        inside = [t[masks[0]].mean() if masks[0].any() else 0.0 for t in turns]
        colour = appearance_change(im[0].astype(np.uint8), im[-1].astype(np.uint8), masks[0], masks[-1])["colour"]
        in_view = min(rd.in_frame(seed, 2, **{**neutral, "circle": float(t)}, folder=folder)
                      for t in np.arange(turn_steps) / turn_steps)
        rows.append({"seed": int(seed), "turn": float(max(t.mean() for t in turns)),
                     "turn_inside": float(max(inside)), "colour": float(colour), "in_view": float(in_view)})
    return sorted(rows, key=lambda r: -r["turn"])


def picks_table(rows: list[dict], top: int = 10) -> str:
    """Markdown: the ``top`` seeds of ``scene_picks`` for a visible turn, then the ``top`` for the circle in view."""
    lines, top = [], min(top, len(rows))
    for title, best in (("rotation visible", rows[:top]), ("circle in view", sorted(rows, key=lambda r: -r["in_view"])[:top])):
        lines += ["", f"Seeds {min(r['seed'] for r in rows)}..{max(r['seed'] for r in rows)}, two objects: the {top} "
                  f"best for {title}", "",
                  "| seed | turn (largest over angles, /255) | inside object | appearance colour | circle: least in view |",
                  "|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['seed']} | {r['turn']:.1f} | {r['turn_inside']:.1f} | {r['colour']:.1f} | {r['in_view']:.0%} |"
                  for r in best]
    return "\n".join(lines)
