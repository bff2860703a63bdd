"""Build a study folder: a study file plus stimuli that carry nothing but pixels.

    python -m eval_studies.build --demo --out studies/demo
    python -m eval_studies.build --from-folder SRC --out studies/mine [--natural natural]
    python -m eval_studies.build --experiment --out studies [--retrieval a|b|both] [--items N]

``--experiment`` builds the lecture's crowd experiment, one study per retrieval setting (OUT/retrieval-a,
OUT/retrieval-b); eval_studies.build_experiment explains it.

Every stimulus is re-encoded to an 8-bit RGB PNG with no metadata chunks, resized to one common
size, and stored under a random 32-hex-digit name (secrets.token_hex): the file name, URL, image size,
colour mode and PNG header say nothing about its condition. Only study.json, on the server, maps
names to conditions.

``--from-folder SRC`` reads SRC/<condition>/<item>.<png|jpg|jpeg|webp|bmp>; every condition must have
the same items (matched by file stem). 16-bit greyscale images are scaled to 8 bits (not clipped to white);
non-square images are centre-cropped to a square (``--fit squash`` stretches them instead, as before); an image
smaller than ``--size`` is upscaled with a note, and one needing more than MAX_UPSCALE x is refused unless
``--allow-upscale`` (a 1 x 1 "photo" is a mistake, not a stimulus).
Practice and catch trials use photos of the natural condition
(``--natural``) set aside for that: the untouched photo against the same photo cut into shuffled tiles.

``--demo`` builds from held-out photos (assets/data/photos, else the digits), never seen in training,
each with a central hole (half of each side: the Context Encoder's training hole; at 40% it fills grey squares):
  natural        the held-out photo itself
  telea          the hole filled by OpenCV's fast-marching inpainting (Telea 2004)
  navier_stokes  the hole filled by OpenCV's Navier-Stokes inpainting (Bertalmio et al. 2001)
plus the project's own hole fillers named in DEMO_METHODS (the lecture's Context Encoder with joint
loss, the L2-only one, and patch-based fill). Every fill comes from synth.inpaint's registry, and
eval_studies never imports torch nor synth, so they run in a subprocess:
``python -m synth.export_stimuli --request request.json --out DIR`` (its docstring has the format).
A method that cannot run (no checkpoint) is left out with a note; if the exporter fails as a whole,
the build stops with its last line of output.
When the first of DEMO_METHODS is there, the pairwise task compares it with every other condition
(the lecture's "ours vs each baseline"); otherwise every pair of conditions.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from eval_studies.assign import study_key
from eval_studies.study_file import NAME_RE, STIMULI_DIR, load_study

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "assets" / "data"
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
DEFAULT_SIZE = 256
MAX_UPSCALE = 8.0  # more than this needs --allow-upscale (the demo enlarges 64 px photos 4x)
FITS = ("crop", "squash")
EXPORTER = "synth.export_stimuli"


def encode_png(image: np.ndarray | Image.Image, size: int) -> bytes:
    """Pixels only: RGB 8-bit, size x size (Lanczos), PNG without text, time, gamma or EXIF chunks."""
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        image = Image.fromarray(arr)
    rgb = image.convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
    clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())  # a fresh image: no .info carried over
    buf = io.BytesIO()
    clean.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def to_rgb8(im: Image.Image) -> np.ndarray:
    """uint8 H x W x 3 from any image PIL reads; 16- and 32-bit greyscale is scaled, not clipped (Pillow's
    convert("RGB") clips a 16-bit value above 255 to white)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        g = np.clip(np.round(a / top * 255), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        g = np.clip(np.round(a * (255 if a.max(initial=0) <= 1 else 1)), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def centre_crop(arr: np.ndarray) -> np.ndarray:
    """The largest centred square of an H x W (x C) array."""
    h, w = arr.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return arr[y:y + side, x:x + side]


def write_stimulus(folder: Path, image, size: int) -> str:
    stim = folder / STIMULI_DIR
    stim.mkdir(parents=True, exist_ok=True)
    while True:
        name = f"{secrets.token_hex(16)}.png"
        if not (stim / name).exists():
            break
    (stim / name).write_bytes(encode_png(image, size))
    return name


def broken(image: np.ndarray, seed: int) -> np.ndarray:
    """An obviously broken version for catch trials: the photo cut into 4x4 tiles, shuffled."""
    h, w = image.shape[:2]
    th, tw = h // 4, w // 4
    img = image[:th * 4, :tw * 4]
    tiles = [img[y * th:(y + 1) * th, x * tw:(x + 1) * tw] for y in range(4) for x in range(4)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(16)
    while (order == np.arange(16)).sum() > 2:  # make sure most tiles move
        order = rng.permutation(16)
    rows = [np.concatenate([tiles[order[y * 4 + x]] for x in range(4)], axis=1) for y in range(4)]
    return np.concatenate(rows, axis=0)


def _check_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--out {out} exists and is not empty; choose a new folder (a study's votes are "
                         f"never overwritten)")


def write_study(out: Path, spec: dict, conditions: dict[str, dict[str, np.ndarray]],
                pool: dict[str, np.ndarray], size: int) -> Path:
    """conditions: condition -> item -> image; pool: item -> untouched photo (broken made here)."""
    out.mkdir(parents=True, exist_ok=True)
    # write the stimuli in a random order, so file times and directory order say nothing either
    jobs = [(c, item) for c, imgs in conditions.items() for item in imgs]
    jobs = [jobs[i] for i in np.random.default_rng(secrets.randbits(32)).permutation(len(jobs))]
    names: dict[str, dict[str, str]] = {c: {} for c in conditions}
    for c, item in jobs:
        names[c][item] = write_stimulus(out, conditions[c][item], size)
    catch_pool = {}
    for k, (item, img) in enumerate(sorted(pool.items())):
        catch_pool[item] = {"real": write_stimulus(out, img, size),
                            "broken": write_stimulus(out, broken(img, seed=k), size)}
    spec = {**spec, "conditions": {c: dict(sorted(v.items())) for c, v in names.items()},
            "catch_pool": catch_pool}
    path = out / "study.json"
    path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    study_key(out)
    load_study(out)  # the built study must pass its own validation
    return path


# -- demo ---------------------------------------------------------------------------------------

def load_heldout() -> tuple[str, np.ndarray]:
    """Held-out photos (uint8 NxHxWx3), read with numpy: synth.data would import torch."""
    for name in ("photos", "digits"):
        path = DATA / name / "heldout.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as f:
                images = f["images"]
            if images.shape[-1] == 1:
                images = np.repeat(images, 3, axis=-1)
            return name, images
    raise FileNotFoundError(f"no held-out photos under {DATA} (expected photos/ or digits/heldout.npz)")


# The lecture's method first (the pairwise target), then the baselines worth a rater's time.
DEMO_METHODS = ("context-encoder L2+adv", "context-encoder L2", "patch-based")
DEMO_HOLE = {"kind": "central", "frac": 0.5}  # a centred square, half of each side: the Context Encoder's own hole


def condition_name(method: str) -> str:
    """A registry name as a condition name: 'context-encoder L2+adv' -> 'context-encoder_L2_adv'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", method).strip("_")


def opencv_methods(side: int) -> list[dict]:
    """Exporter requests for OpenCV's fills, Telea 2004 and Navier-Stokes (Bertalmio et al. 2001), with the
    demo's radius: 1/16 of the photo's side, at least 3 px."""
    radius = max(3, side // 16)
    return [{"name": "telea", "condition": "telea", "options": {"radius": radius}},
            {"name": "navier-stokes", "condition": "navier_stokes", "options": {"radius": radius}}]


def exporter_name(command: list[str] | None) -> str:
    return EXPORTER if not command or command[-1] == EXPORTER else " ".join(command)


def run_exporter(tmp: Path, request: dict, command: list[str] | None = None, timeout: float = 900) -> Path:
    """Write ``request`` to tmp/request.json and run the exporter on it (``command`` defaults to ``python -m
    synth.export_stimuli``; ``--request FILE --out DIR`` are appended). Returns its output folder, tmp/fills;
    raises ValueError with its last line of output when it fails as a whole or takes longer than ``timeout``."""
    command = command or [sys.executable, "-m", EXPORTER]
    name = exporter_name(command)
    req, out = Path(tmp) / "request.json", Path(tmp) / "fills"
    req.write_text(json.dumps(request), encoding="utf-8")
    try:
        proc = subprocess.run([*command, "--request", str(req), "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ValueError(f"{name} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise ValueError(f"{name} failed ({tail[0]})")
    return out


def exported_fills(images: np.ndarray, methods: list[dict], hole: dict = DEMO_HOLE,
                   command: list[str] | None = None,
                   timeout: float = 900) -> tuple[dict[str, np.ndarray], list[str]]:
    """Fill ``hole`` in every photo with each of ``methods``, in a subprocess (see the module docstring).

    ``command`` defaults to ``python -m synth.export_stimuli``; ``--request FILE --out DIR`` are appended.
    Returns ({condition: uint8 N x H x W x 3}, notes saying what happened); raises ValueError when the
    exporter fails as a whole.
    """
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "images.npz", images=images)
        out = run_exporter(Path(tmp), {"images": "images.npz", "mask": hole, "methods": methods}, command, timeout)
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        found: dict[str, np.ndarray] = {}
        skipped = []
        for condition, file in manifest["fills"].items():
            fills = None
            if NAME_RE.match(condition) and (out / Path(file).name).is_file():
                with np.load(out / Path(file).name, allow_pickle=False) as f:
                    fills = f["images"]
            if fills is None or fills.shape != images.shape or fills.dtype != np.uint8:
                skipped.append(condition)
                continue
            found[condition] = fills
    note = f"{exporter_name(command)} gave {sorted(found) or 'no methods'}"
    if skipped:
        note += f"; skipped {skipped} (bad name, missing images or wrong size)"
    return found, [note, *(f"{m!r} cannot run ({why})" for m, why in manifest["skipped"].items())]


def build_demo(out: Path, n_items: int = 60, n_pool: int = 12, size: int = DEFAULT_SIZE, seed: int = 0,
               exporter: list[str] | None = None) -> tuple[Path, list[str]]:
    out = Path(out)
    _check_out(out)
    notes = []
    dataset, images = load_heldout()
    if len(images) < n_items + n_pool:
        raise ValueError(f"{dataset} has {len(images)} held-out photos; the demo needs {n_items + n_pool}")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(images), size=n_items + n_pool, replace=False)
    study_imgs, pool_imgs = images[pick[:n_items]], images[pick[n_items:]]
    items = [f"{dataset}-{i:04d}" for i in pick[:n_items]]
    conditions: dict[str, dict[str, np.ndarray]] = {"natural": dict(zip(items, study_imgs))}
    learned = [{"name": m, "condition": condition_name(m)} for m in DEMO_METHODS]
    fills, more = exported_fills(study_imgs, opencv_methods(study_imgs.shape[1]) + learned, command=exporter)
    notes += more
    opencv = [c for c in ("telea", "navier_stokes") if c in fills]
    for method in [*opencv, *sorted(set(fills) - set(opencv))]:  # OpenCV's first, then the rest by name
        if method in conditions:
            notes.append(f"exported method {method!r} clashes with a built-in condition; skipped")
            continue
        conditions[method] = dict(zip(items, fills[method]))
    target = condition_name(DEMO_METHODS[0])
    if target in conditions:  # the lecture's design: our method against each baseline
        pairs = [[target, c] for c in conditions if c != target]
    else:
        names = sorted(conditions)
        pairs = [[a, b] for i, a in enumerate(names) for b in names[i + 1:]]
    n_pairs = len(pairs)
    pairwise = n_pairs * max(1, 12 // n_pairs)  # whole rounds of pairs
    real_fake = len(conditions) * max(1, 12 // len(conditions))
    if pairwise + real_fake > n_items:
        raise ValueError(f"{len(conditions)} conditions need {pairwise + real_fake} items per rater; "
                         f"the demo has {n_items}")
    spec = {
        "id": f"demo-{dataset}-holes",
        "title": "Which photo looks real?",
        "tasks": ["pairwise", "real_fake"],
        "natural_condition": "natural",
        "pairs": pairs,
        "trials_per_rater": {"pairwise": pairwise, "real_fake": real_fake},
        "practice_trials": 2,
        "catch_trials": 4,
        "completion_code": secrets.token_hex(4).upper(),
    }
    pool = {f"catch-{dataset}-{i:04d}": im for i, im in zip(pick[n_items:], pool_imgs)}
    path = write_study(out, spec, conditions, pool, size)
    notes.append(f"{len(conditions)} conditions {sorted(conditions)}, {n_items} items, "
                 f"{pairwise} pairwise + {real_fake} real/fake scored trials per rater"
                 + (f", pairs: {target} against each other condition" if target in conditions else ""))
    return path, notes


# -- from a folder --------------------------------------------------------------------------------

def item_name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.-") or "item"
    return name[:128]


def read_folder(src: Path) -> dict[str, dict[str, Path]]:
    src = Path(src)
    if not src.is_dir():
        raise ValueError(f"--from-folder {src} is not a folder")
    conditions: dict[str, dict[str, Path]] = {}
    for sub in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not NAME_RE.match(sub.name):
            raise ValueError(f"condition folder {sub.name!r}: names are 1-64 letters, digits, '_', '.', '-'")
        files = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise ValueError(f"condition folder {sub} has no images ({', '.join(IMAGE_EXTS)})")
        items: dict[str, Path] = {}
        for f in files:
            it = item_name(f.stem)
            if it in items:
                raise ValueError(f"{sub}: {items[it].name} and {f.name} are both item {it!r}")
            items[it] = f
        conditions[sub.name] = items
    if not conditions:
        raise ValueError(f"{src} has no sub-folders: expected one folder of images per condition")
    all_items = set().union(*(set(v) for v in conditions.values()))
    for c, items in conditions.items():
        missing = sorted(all_items - set(items))
        if missing:
            raise ValueError(f"condition {c!r} has no image for item(s) {missing[:5]}: every condition "
                             f"needs one image per item (matched by file name)")
    return conditions


def build_from_folder(src: Path, out: Path, *, study_id: str | None = None, tasks=("pairwise", "real_fake"),
                      natural: str | None = None, trials_per_rater: int | None = None, practice: int = 2,
                      catch: int = 2, size: int = DEFAULT_SIZE, completion_code: str | None = None,
                      redirect_url: str | None = None, exposure_ms: int | None = None,
                      title: str | None = None, seed: int = 0, fit: str = "crop",
                      allow_upscale: bool = False) -> tuple[Path, list[str]]:
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    out = Path(out)
    _check_out(out)
    files = read_folder(src)
    if natural is None and "natural" in files:
        natural = "natural"
    if natural is not None and natural not in files:
        raise ValueError(f"--natural {natural!r} is not a condition folder; folders: {sorted(files)}")
    items = sorted(next(iter(files.values())))
    n_pool = practice + catch
    pool_items: list[str] = []
    if n_pool:
        if natural is None:
            raise ValueError("practice and catch trials use untouched photos: name the natural condition "
                             "with --natural, or pass --practice 0 --catch 0")
        if n_pool >= len(items):
            raise ValueError(f"{len(items)} items cannot spare {n_pool} for practice and catch trials")
        rng = np.random.default_rng(seed)
        pool_items = sorted(items[i] for i in rng.choice(len(items), size=n_pool, replace=False))
    study_items = [it for it in items if it not in pool_items]

    shapes: dict[Path, tuple[int, int]] = {}

    def load(path: Path) -> np.ndarray:
        try:
            with Image.open(path) as im:
                im.load()
                arr = to_rgb8(im)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            raise ValueError(f"{path}: not a readable image ({e})") from None
        shapes[path] = arr.shape[:2]
        return centre_crop(arr) if fit == "crop" else arr

    conditions = {c: {it: load(files[c][it]) for it in study_items} for c in files}
    pool = {f"catch-{it}": load(files[natural][it]) for it in pool_items}
    notes = _size_notes(shapes, size, fit, allow_upscale)
    n = trials_per_rater if trials_per_rater is not None else len(study_items)
    spec = {"id": study_id or item_name(Path(out).name), "tasks": list(tasks), "trials_per_rater": n,
            "practice_trials": practice, "catch_trials": catch}
    if title:
        spec["title"] = title
    if natural:
        spec["natural_condition"] = natural
    spec["completion_code"] = completion_code or (None if redirect_url else secrets.token_hex(4).upper())
    if spec["completion_code"] is None:
        del spec["completion_code"]
    if redirect_url:
        spec["redirect_url"] = redirect_url
    if exposure_ms:
        spec["exposure_ms"] = exposure_ms
    path = write_study(out, spec, conditions, pool, size)
    return path, notes + [f"{len(files)} conditions {sorted(files)}, {len(study_items)} items, "
                          f"{len(pool_items)} set aside for practice/catch"]


def _size_notes(shapes: dict[Path, tuple[int, int]], size: int, fit: str, allow_upscale: bool) -> list[str]:
    """Notes on what resizing does to the source images; ValueError for a large upscale not allowed."""
    notes = []
    side = {p: min(hw) for p, hw in shapes.items()}  # the shorter side limits the square either way
    small = sorted((s, p) for p, s in side.items() if s < size)
    if small:
        s0, p0 = small[0]
        if size / s0 > MAX_UPSCALE and not allow_upscale:
            raise ValueError(f"{len(small)} image(s) are smaller than --size {size}, the smallest {p0} "
                             f"({shapes[p0][1]}x{shapes[p0][0]}): upscaling it {size / s0:.0f}x would show raters a "
                             "blur. Use a smaller --size, better images, or --allow-upscale")
        notes.append(f"warning: {len(small)} image(s) are upscaled to {size}x{size} (smallest: {p0.name}, "
                     f"{shapes[p0][1]}x{shapes[p0][0]})")
    non_square = [p for p, (h, w) in shapes.items() if h != w]
    if non_square:
        how = "centre-cropped to a square" if fit == "crop" else "stretched to a square (--fit squash)"
        notes.append(f"{len(non_square)} non-square image(s) {how}, e.g. {non_square[0].name}")
    return notes


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--demo", action="store_true", help="build the demo study from held-out photos")
    src.add_argument("--from-folder", type=Path, help="folder with one sub-folder of images per condition")
    src.add_argument("--experiment", action="store_true",
                     help="the lecture's crowd experiment: OUT/retrieval-a and OUT/retrieval-b (eval_studies."
                          "build_experiment)")
    p.add_argument("--out", type=Path, required=True, help="new study folder (--experiment: the folder to hold "
                                                           "retrieval-a and retrieval-b)")
    p.add_argument("--retrieval", choices=("a", "b", "both"), default="both",
                   help="--experiment: the retrieval setting(s) of the guidance, one study each (default both)")
    p.add_argument("--items", type=int, help="--experiment: held-out photos per study (default 42, the most)")
    p.add_argument("--accept-defects", action="store_true",
                   help="--experiment: build even when the picture check finds flat or off-colour fills (listed)")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help="side of every stimulus in pixels")
    p.add_argument("--id", dest="study_id", help="study id (default: the --out folder's name)")
    p.add_argument("--title", help="title the raters see (must not name a condition)")
    p.add_argument("--tasks", default="pairwise,real_fake", help="comma-separated: pairwise, real_fake")
    p.add_argument("--natural", help="the condition of untouched photos (default: 'natural' if present)")
    p.add_argument("--trials-per-rater", type=int, help="scored trials per rater (default: one per item)")
    p.add_argument("--practice", type=int, default=2)
    p.add_argument("--catch", type=int, default=2)
    p.add_argument("--completion-code")
    p.add_argument("--redirect-url")
    p.add_argument("--exposure-ms", type=int)
    p.add_argument("--fit", choices=FITS, default="crop",
                   help="non-square images: centre crop (default) or squash to a square")
    p.add_argument("--allow-upscale", action="store_true",
                   help=f"build even when an image must be enlarged more than {MAX_UPSCALE:g}x")
    args = p.parse_args(argv)
    if not 16 <= args.size <= 2048:
        p.error(f"--size must be in 16..2048, got {args.size}")
    if args.experiment:
        return _experiment(args)
    created = not args.out.exists()
    try:
        if args.demo:
            path, notes = build_demo(args.out, size=args.size)
        else:
            path, notes = build_from_folder(
                args.from_folder, args.out, study_id=args.study_id, tasks=tuple(args.tasks.split(",")),
                natural=args.natural, trials_per_rater=args.trials_per_rater, practice=args.practice,
                catch=args.catch, size=args.size, completion_code=args.completion_code,
                redirect_url=args.redirect_url, exposure_ms=args.exposure_ms, title=args.title, fit=args.fit,
                allow_upscale=args.allow_upscale)
    except (ValueError, FileNotFoundError) as e:
        if created and args.out.is_dir():
            shutil.rmtree(args.out, ignore_errors=True)  # leave no half-built study behind
        sys.exit(f"error: {e}")
    for n in notes:
        print(n)
    print(f"study written to {path}")
    print(f"serve it to raters:  python app.py --study {path.parent} --port 7861")


def _experiment(args) -> None:
    from eval_studies import build_experiment as experiment

    try:
        n_items = experiment.DEFAULT_ITEMS if args.items is None else args.items
        paths, notes = experiment.build_experiment(args.out, args.retrieval, n_items, size=args.size,
                                                   accept_defects=args.accept_defects)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    for n in notes:
        print(n)
    for i, path in enumerate(paths):
        print(f"study written to {path}; serve it:  python app.py --study {path.parent} --port {7861 + i}")


if __name__ == "__main__":
    main()
