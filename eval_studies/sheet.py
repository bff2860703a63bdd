"""A contact sheet of a study's stimuli, to look at before raters do: one row per item, one column per condition.

    python -m eval_studies.sheet studies/retrieval-a --out docs/experiment/stimuli_a.jpg [--items 6] [--seed 0]

Reads the study file (``study.json``) and its ``stimuli/`` folder as the rater app serves them; the items are a
seeded sample of those every condition has. Columns follow the study's condition order (``natural`` first).
The sheet names the conditions, so it is a researcher's view: never serve it to raters.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

TILE, GAP, HEAD = 160, 6, 34


def sheet(folder: Path, n_items: int = 6, seed: int = 0, tile: int = TILE) -> Image.Image:
    """The contact sheet of the study in ``folder`` (rows: items, columns: conditions, labelled)."""
    from eval_studies.study_file import load_study

    folder = Path(folder)
    study = load_study(folder)
    conditions = dict(study.conditions)
    names = sorted(conditions, key=lambda c: (c != study.natural_condition, list(conditions).index(c)))
    shared = sorted(set.intersection(*(set(conditions[c]) for c in names)))
    if not shared:
        raise ValueError(f"no item has a stimulus in every condition of {folder / 'study.json'}")
    items = sorted(random.Random(seed).sample(shared, min(n_items, len(shared))))
    width = GAP + len(names) * (tile + GAP) + 110
    out = Image.new("RGB", (width, HEAD + len(items) * (tile + GAP) + GAP), "white")
    draw = ImageDraw.Draw(out)
    for j, name in enumerate(names):
        draw.text((110 + GAP + j * (tile + GAP), 10), name, fill="black")
    for i, item in enumerate(items):
        y = HEAD + i * (tile + GAP)
        draw.text((GAP, y + tile // 2 - 6), item, fill="black")
        for j, name in enumerate(names):
            im = Image.open(folder / "stimuli" / conditions[name][item]).convert("RGB")
            im.thumbnail((tile, tile), Image.Resampling.LANCZOS)
            out.paste(im, (110 + GAP + j * (tile + GAP), y))
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="eval_studies.sheet", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", type=Path, help="a study folder (study.json and stimuli/)")
    p.add_argument("--out", type=Path, required=True, help="the sheet (.jpg or .png)")
    p.add_argument("--items", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.items < 1:
        p.error(f"--items must be at least 1, got {args.items}")
    try:
        im = sheet(args.study, args.items, args.seed)
    except (OSError, ValueError) as e:
        p.error(str(e))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    im.save(args.out, quality=88)
    print(f"wrote {args.out} ({im.width}x{im.height})")


if __name__ == "__main__":
    main()
