"""The stimuli of the lecture's crowd experiment (guided inpainting, Zhao et al.): held-out photos with one hole
each, filled by guided inpainting and the baselines, once per retrieval setting of the guidance.

synth.export_stimuli runs this for a request holding ``"experiment"`` (its docstring has the format and the
output). What happens, in order:

1. Photos. The held-out split of the photo pool (``synth.photo_pool.photos("heldout")``, never in any training
   set or retrieval database), in a seeded order: the first ``items`` are the study's items, the next ``pool``
   the untouched photos of practice and catch trials. Each is cut to its largest centred square and
   area-resized to ``size`` x ``size``.
2. Holes. One per item, of one shape class for every item: an off-centre square (``synth.inpaint.masks.square``)
   whose side is a seeded uniform fraction of the crop's side in [min_frac, max_frac].
3. Methods. Each is built once; one that cannot be built (no checkpoint) is skipped with its reason. Methods of
   synth.inpaint's registry see no guidance, so they fill each item once for every setting; the guided ones
   (``GUIDED``) fill each item once per setting, with that setting's top-1 retrieved guidance
   (``synth.guided.retrieval.retrieve``: the training photos only).
4. Drops. A method (or the retrieval) that raises on an item drops the item from every condition of that
   setting (a registry method's failure drops it from every setting), with the reason.
5. Picture check. Every fill of a kept item goes through ``picture_check`` (``synth.metrics.fill_defects``:
   flat or off-colour holes); the manifest lists each defect, and the study builder refuses to build on any.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from synth.inpaint import REGISTRY, get_inpainter
from synth.inpaint import masks as hole_masks
from synth.metrics import fill_defects

SETTINGS = ("a", "b")
MAX_ITEMS = 1000
ROOT = Path(__file__).resolve().parent.parent


def _why(e: Exception) -> str:
    """An exception as a reason for the manifest, with paths relative to the repository (no server paths)."""
    return f"{type(e).__name__}: {e}".replace(f"{ROOT}/", "")


def _guided_inpainting():
    from synth.guided.inpainter import default_inpainter

    return default_inpainter()


def _image_melding():
    from synth.guided.melding import ImageMelding

    return ImageMelding(seed=0)


def _deep_harmonization():
    from synth.guided.harmonize import DeepHarmonization

    return DeepHarmonization()  # needs assets/checkpoints/harmonizer (and the guided model, its aligner)


# Guided hole fillers, ``fill(image, mask, guidance)``: not in synth.inpaint's registry (a third argument).
GUIDED = {"guided inpainting": _guided_inpainting, "image melding": _image_melding,
          "deep harmonization": _deep_harmonization}


def setting_folder(setting: str) -> str:
    return f"retrieval-{setting}"


def parse(spec: dict, condition_re) -> dict:
    """The request's ``experiment`` object, checked and with defaults; ValueError naming the field."""
    if not isinstance(spec, dict):
        raise ValueError(f"experiment must be an object, got {type(spec).__name__}")
    out = {"items": spec.get("items", 40), "pool": spec.get("pool", 6), "size": spec.get("size", 256),
           "seed": spec.get("seed", 0), "settings": spec.get("settings", list(SETTINGS))}
    for key, lo, hi in (("items", 1, MAX_ITEMS), ("pool", 0, MAX_ITEMS), ("size", 32, 2048), ("seed", 0, 2**32 - 1)):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"experiment.{key} must be a whole number in {lo}..{hi}, got {v!r}")
    if not isinstance(out["settings"], list) or not out["settings"] or len(set(out["settings"])) != len(
            out["settings"]) or any(s not in SETTINGS for s in out["settings"]):
        raise ValueError(f"experiment.settings must list distinct settings from {list(SETTINGS)}, "
                         f"got {out['settings']!r}")
    hole = spec.get("hole") or {}
    lo, hi = hole.get("min_frac", 0.35), hole.get("max_frac", 0.45)
    if hole.get("kind", "square") != "square" or not all(isinstance(f, (int, float)) for f in (lo, hi)) \
            or not 0.05 <= lo <= hi <= 0.9:
        raise ValueError(f"experiment.hole must be {{'kind': 'square', 'min_frac': F, 'max_frac': G}} with "
                         f"0.05 <= F <= G <= 0.9, got {hole!r}")
    out["hole"] = {"kind": "square", "min_frac": float(lo), "max_frac": float(hi)}
    methods = spec.get("methods")
    if not isinstance(methods, list) or not methods:
        raise ValueError("experiment.methods must be a non-empty list of {name, condition}")
    conditions = [m.get("condition") if isinstance(m, dict) else None for m in methods]
    for m, c in zip(methods, conditions):
        if not isinstance(c, str) or not condition_re.match(c) or c == "natural":
            raise ValueError(f"experiment.methods: condition must be 1-64 letters, digits, '_', '.', '-' and not "
                             f"'natural' (the untouched photos), got {c!r}")
        names = m.get("name")
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ValueError(f"experiment.methods: {c!r} needs a name or a list of alternative names")
    if len(set(conditions)) != len(conditions):
        raise ValueError(f"experiment.methods: a condition is named twice: {conditions}")
    out["methods"] = methods
    return out


def resolve(names) -> str:
    """The first of ``names`` (one name or alternatives, e.g. an old and a new registry name) that is a guided
    method or in synth.inpaint's registry; KeyError naming what exists otherwise."""
    names = [names] if isinstance(names, str) else list(names)
    for n in names:
        if n in GUIDED or n in REGISTRY:
            return n
    raise KeyError(f"unknown method {' / '.join(map(repr, names))}; available: guided {sorted(GUIDED)}, "
                   f"registry {sorted(REGISTRY)}")


def square_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The largest centred square of a photo, area-resized to size x size (uint8 RGB)."""
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    square = np.ascontiguousarray(image[y:y + side, x:x + side])
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    return square if side == size else cv2.resize(square, (size, size), interpolation=interp)


def photos(n_items: int, n_pool: int, size: int, seed: int):
    """(item ids, crops, pool ids, pool crops) from the held-out photos, in a seeded order."""
    from synth import photo_pool

    held = photo_pool.photos("heldout")
    if n_items + n_pool > len(held):
        raise ValueError(f"{n_items} items and {n_pool} practice/catch photos need {n_items + n_pool} held-out "
                         f"photos; the photo pool holds {len(held)}")
    order = np.random.default_rng(seed).permutation(len(held))
    pick = [held[i] for i in order[:n_items + n_pool]]
    crops = np.stack([square_crop(im, size) for _, im in pick]) if pick else np.zeros((0, size, size, 3), np.uint8)
    ids = [pid for pid, _ in pick]
    return ids[:n_items], crops[:n_items], ids[n_items:], crops[n_items:]


def holes(n: int, size: int, seed: int, min_frac: float, max_frac: float) -> np.ndarray:
    """bool n x size x size: item k's off-centre square, its side a uniform fraction in [min_frac, max_frac]."""
    out = np.zeros((n, size, size), bool)
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        frac = float(rng.uniform(min_frac, max_frac))
        out[k] = hole_masks.square(size, size, frac, seed=int(rng.integers(2**31)), centred=False)
    return out


def picture_check(fills: np.ndarray, originals: np.ndarray, masks: np.ndarray) -> list[list[str]]:
    """Per item, the defects of its fill that the eye catches (synth.metrics.fill_defects: "flat",
    "off_colour"); an empty list for a good fill."""
    return [[k for k, bad in fill_defects(f, o, m).items() if bad] for f, o, m in zip(fills, originals, masks)]


def export_experiment(spec: dict, out: Path) -> dict:
    """Run the experiment request ``spec`` (parsed) and write everything to ``out``; returns the manifest."""
    out = Path(out)
    items, crops, pool_ids, pool = photos(spec["items"], spec["pool"], spec["size"], spec["seed"])
    hole = spec["hole"]
    masks = holes(len(items), spec["size"], spec["seed"], hole["min_frac"], hole["max_frac"])
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "items.npz", names=np.array(items, dtype=str), images=crops, masks=masks,
             pool_names=np.array([f"catch-{p}" for p in pool_ids], dtype=str), pool=pool)
    manifest: dict = {"mode": "experiment", "items_file": "items.npz", "size": spec["size"], "seed": spec["seed"],
                      "hole": hole, "methods": {}, "skipped": {}, "seconds": {}, "settings": {}}
    # 3. build every method once; one that cannot be built is skipped
    plain, guided = {}, {}
    for m in spec["methods"]:
        c = m["condition"]
        try:
            name = resolve(m["name"])
            method = GUIDED[name]() if name in GUIDED else get_inpainter(name)
        except Exception as e:  # noqa: BLE001 - no checkpoint, unknown name: skip this method, keep the rest
            manifest["skipped"][c] = f"{m['name']!r}: {_why(e)}"
            continue
        manifest["methods"][c] = name
        manifest["seconds"][c] = 0.0
        (guided if name in GUIDED else plain)[c] = method
    # 4. registry methods: one fill per item, shared by every setting
    dropped_all: dict[str, str] = {}
    plain_fills: dict[str, dict[int, np.ndarray]] = {c: {} for c in plain}
    for k, item in enumerate(items):
        for c, method in plain.items():
            t0 = time.perf_counter()
            try:
                plain_fills[c][k] = method.fill(crops[k], masks[k])
            except Exception as e:  # noqa: BLE001 - this item cannot be shown in every condition: drop it
                dropped_all.setdefault(item, f"{c}: {_why(e)}")
            manifest["seconds"][c] += time.perf_counter() - t0
    for s in spec["settings"]:
        manifest["settings"][s] = _setting(s, items, crops, masks, plain_fills, guided, dropped_all, manifest, out)
    manifest["seconds"] = {c: round(v, 2) for c, v in manifest["seconds"].items()}
    return manifest


def _setting(setting, items, crops, masks, plain_fills, guided, dropped_all, manifest, out: Path) -> dict:
    """One retrieval setting: guidance, guided fills, drops, files and the picture check."""
    folder = setting_folder(setting)
    (out / folder).mkdir(parents=True, exist_ok=True)
    dropped = dict(dropped_all)
    record, guides, guided_fills = {}, {}, {c: {} for c in guided}
    if guided:
        from synth.guided.retrieval import retrieve

    for k, item in enumerate(items):
        if item in dropped or not guided:
            continue
        t0 = time.perf_counter()
        try:
            match = retrieve(crops[k], masks[k], setting=setting, k=1)[0]
        except Exception as e:  # noqa: BLE001
            dropped[item] = f"retrieval: {_why(e)}"
            continue
        manifest["seconds"]["retrieval"] = manifest["seconds"].get("retrieval", 0.0) + time.perf_counter() - t0
        guides[item] = match.image
        record[item] = {"photo": match.photo_id, "box": list(match.box), "distance": round(match.distance, 4)}
        for c, method in guided.items():
            t0 = time.perf_counter()
            try:
                guided_fills[c][k] = method.fill(crops[k], masks[k], match.image)
            except Exception as e:  # noqa: BLE001 - drop the item from every condition of this setting
                dropped[item] = f"{c}: {_why(e)}"
                break
            finally:
                manifest["seconds"][c] += time.perf_counter() - t0
    keep = [k for k, item in enumerate(items) if item not in dropped]
    kept = [items[k] for k in keep]
    fills, defects = {}, {}
    for c, by_item in {**plain_fills, **guided_fills}.items():
        images = np.stack([by_item[k] for k in keep]) if keep else np.zeros((0, *crops.shape[1:]), np.uint8)
        np.savez(out / folder / f"{c}.npz", images=images, items=np.array(kept, dtype=str))
        fills[c] = f"{folder}/{c}.npz"
        found = picture_check(images, crops[keep], masks[keep])
        bad = {item: d for item, d in zip(kept, found) if d}
        if bad:
            defects[c] = bad
    np.savez(out / folder / "guidance.npz", **{item: guides[item] for item in kept if item in guides})
    return {"folder": folder, "items": kept, "dropped": dropped, "fills": fills,
            "guidance_file": f"{folder}/guidance.npz", "guidance": {i: record[i] for i in kept if i in record},
            "defects": defects}


def write_manifest(manifest: dict, out: Path, name: str) -> None:
    (Path(out) / name).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
