"""Fill the holes of a set of photos with registered hole fillers, for a realism study's stimuli.

    python -m synth.export_stimuli --request FILE --out DIR

eval_studies never imports torch nor synth, so its study builder runs this module in a subprocess.
FILE is JSON:

    {"images": "images.npz",                      # relative to FILE's folder, or absolute
     "mask": {"kind": "central", "frac": 0.4},    # only when the npz holds no "masks"
     "methods": [{"name": "telea", "condition": "telea", "options": {"radius": 4}},
                 {"name": "context-encoder L2+adv", "condition": "context-encoder_L2_adv"}]}

The images file holds ``images`` (uint8 N x H x W x 3, RGB) and, optionally, ``masks`` (bool N x H x W,
True = hole); without masks, ``mask`` names a kind of synth.inpaint.masks (``central`` takes ``frac``, the
other kinds take the photo's index as seed). Every method is a name in synth.inpaint.REGISTRY; ``options``
override attributes its class declares (the OpenCV radius, say); ``condition`` names its output.

DIR gets ``masks.npz`` (``masks``: the holes used), one ``<condition>.npz`` (``images``: uint8 N x H x W x 3)
per method that ran, and ``manifest.json``: {"masks": file, "fills": {condition: file},
"skipped": {method: why}}. A method that cannot run (unknown, no checkpoint) is skipped with its reason;
a malformed request exits with status 2 and the reason on stderr.

Experiment mode: the lecture's crowd experiment (guided inpainting against its baselines, Zhao et al.), whose
photos, holes and guidance the exporter picks itself (synth.experiment_stimuli explains each step). FILE is

    {"experiment": {"items": 40, "pool": 6, "size": 256, "seed": 0, "settings": ["a", "b"],
                    "hole": {"kind": "square", "min_frac": 0.35, "max_frac": 0.45},
                    "methods": [{"name": "guided inpainting", "condition": "ours"},
                                {"name": "nearest-neighbour", "condition": "hr"},
                                {"name": ["context-encoder any-hole", "context-encoder L2+adv random-mask"],
                                 "condition": "ce"}, ...]}}

``items`` held-out photos (cut to their centred square, ``size`` px) get one off-centre square hole each, its
side a seeded fraction in [min_frac, max_frac] of the crop's; ``pool`` more held-out photos are left untouched
for practice and catch trials. A method's ``name`` is a guided method (``guided inpainting``, ``image
melding``, ``deep harmonization``: filled with the setting's top-1 retrieved guidance) or a registry name; a
list gives alternatives, the first that exists is used. ``settings`` are retrieval settings of the guidance.
DIR gets ``items.npz`` (``names``, ``images`` the untouched crops, ``masks``, ``pool_names``, ``pool``), per
setting a folder ``retrieval-<s>/`` with one ``<condition>.npz`` (``images`` uint8 K x size x size x 3 and
``items``, the K items kept) per method that ran and ``guidance.npz`` (each kept item's guidance image, by item
name), and ``manifest.json``: {"mode": "experiment", "items_file", "size", "seed", "hole", "methods": {condition:
method used}, "skipped": {condition: why}, "seconds": {condition: total}, "settings": {s: {"folder", "items"
(kept), "dropped": {item: why}, "fills": {condition: file}, "guidance_file", "guidance": {item: {"photo", "box",
"distance"}}, "defects": {condition: {item: ["flat" | "off_colour", ...]}}}}}. A method that cannot be built (no
checkpoint) is skipped; one that raises on an item drops that item from every condition of the setting.
Every fill is checked for flat and off-colour holes (``defects``); the study builder refuses to build on any.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from synth import experiment_stimuli
from synth.inpaint import REGISTRY, Inpainter, get_inpainter
from synth.inpaint import masks as hole_masks

CONDITION_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MANIFEST = "manifest.json"


def read_request(path: Path) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(images uint8 N x H x W x 3, masks bool N x H x W, method specs) from a request file."""
    request = json.loads(Path(path).read_text(encoding="utf-8"))
    images_file = Path(path).parent / request["images"]
    with np.load(images_file, allow_pickle=False) as f:
        images = f["images"]
        masks = f["masks"] if "masks" in f.files else None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 N x H x W x 3, got {images.dtype} {images.shape}")
    if masks is None:
        masks = np.stack([hole_mask(request.get("mask") or {}, *im.shape[:2], seed=i)
                          for i, im in enumerate(images)])
    elif masks.dtype != bool or masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be bool {images.shape[:3]}, got {masks.dtype} {masks.shape}")
    methods = request.get("methods") or []
    for spec in methods:
        if not CONDITION_RE.match(spec.get("condition", "")):
            raise ValueError(f"method {spec.get('name')!r}: condition must be 1-64 letters, digits, '_', '.', "
                             f"'-', got {spec.get('condition')!r}")
    return images, masks, methods


def hole_mask(spec: dict, h: int, w: int, seed: int = 0) -> np.ndarray:
    """A synth.inpaint.masks hole: {"kind": "central", "frac": F} or {"kind": K} (seeded by ``seed``)."""
    kind = spec.get("kind", "central")
    if kind == "central":
        return hole_masks.central(h, w, frac=float(spec.get("frac", 0.5)))
    return hole_masks.make_mask(kind, h, w, seed=seed)


def inpainter(name: str, options: dict | None = None) -> Inpainter:
    """The registry's method; with options, a fresh instance with those class attributes overridden."""
    if not options:
        return get_inpainter(name)
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {sorted(REGISTRY)}")
    method = REGISTRY[name]()
    for key, value in options.items():
        if key.startswith("_") or not hasattr(type(method), key):
            raise ValueError(f"{name!r} has no option {key!r}")
        setattr(method, key, value)
    return method


def export(images: np.ndarray, masks: np.ndarray, methods: list[dict], out: Path) -> dict:
    """Write every method's fills, the masks and the manifest to ``out``; returns the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "masks.npz", masks=masks)
    manifest: dict = {"masks": "masks.npz", "fills": {}, "skipped": {}}
    for spec in methods:
        name = spec["name"]
        try:
            method = inpainter(name, spec.get("options"))
            fills = np.stack([method.fill(im, m) for im, m in zip(images, masks)])
        except Exception as e:  # noqa: BLE001 - one method that cannot run (no checkpoint) does not stop the rest
            manifest["skipped"][name] = f"{type(e).__name__}: {e}"
            continue
        file = f"{spec['condition']}.npz"
        np.savez(out / file, images=fills)
        manifest["fills"][spec["condition"]] = file
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--request", type=Path, required=True, help="JSON request (see above)")
    p.add_argument("--out", type=Path, required=True, help="folder for the fills, masks and manifest")
    args = p.parse_args(argv)
    try:
        request = json.loads(args.request.read_text(encoding="utf-8"))
        if isinstance(request, dict) and "experiment" in request:
            spec = experiment_stimuli.parse(request["experiment"], CONDITION_RE)
        else:
            images, masks, methods = read_request(args.request)
    except (OSError, KeyError, ValueError) as e:
        p.error(f"{args.request}: {type(e).__name__}: {e}")
    if isinstance(request, dict) and "experiment" in request:
        _experiment(spec, args.out)
        return
    manifest = export(images, masks, methods, args.out)
    for name, why in manifest["skipped"].items():
        print(f"skipped {name!r}: {why}", file=sys.stderr)
    print(f"wrote {sorted(manifest['fills'])} for {len(images)} photos to {args.out}")


def _experiment(spec: dict, out: Path) -> None:
    try:
        manifest = experiment_stimuli.export_experiment(spec, out)
    except ValueError as e:  # e.g. more items than held-out photos
        sys.exit(f"error: {e}")
    experiment_stimuli.write_manifest(manifest, out, MANIFEST)
    for c, why in manifest["skipped"].items():
        print(f"skipped {c!r}: {why}", file=sys.stderr)
    for s, entry in manifest["settings"].items():
        bad = sum(len(v) for v in entry["defects"].values())
        print(f"retrieval ({s}): {sorted(entry['fills'])} for {len(entry['items'])} items, "
              f"{len(entry['dropped'])} dropped, {bad} defective fills")


if __name__ == "__main__":
    main()
