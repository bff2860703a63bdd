"""A bundled pool of real photographs for hole filling, split by whole photo into train and held-out.

Each photo's origin (Debian package and version, the path inside the package or inside a Qt resource
container), licence and credit is a row of ``assets/data/photo_pool/manifest.csv``. Photos of one scene
(variants, crops, the same picture used twice) share a ``group`` and therefore a split.

Rebuild (Debian 12 "bookworm" packages; the versions used are written to the manifest):

    mkdir -p SRC && cd SRC
    apt-get download gcompris-qt-data scratch tuxpaint-data plasma-workspace-wallpapers mate-backgrounds
    for d in *.deb; do p=${d%%_*}; mkdir -p $p; dpkg-deb -x $d $p; done
    python -m synth.photo_pool build --src SRC

Versions used: gcompris-qt-data 3.1-2, scratch 1.4.0.6~dfsg1-6.1, tuxpaint-data 1:0.9.28-sdl2-1,
plasma-workspace-wallpapers 4:5.27.5-2, mate-backgrounds 1.26.0-1 (lomiri-wallpapers 20.04.0-2 gives nothing:
its one image is a render). ``synth.data.PHOTO_SOURCES``' training photos join the train split; its four
held-out photos stay out (smaller than 640 x 480, and in train they would leak into older evaluations).
"""
from __future__ import annotations

import argparse
import collections
import csv
import functools
import gzip
import io
import json
import posixpath
import re
import struct
import zlib
from pathlib import Path

import numpy as np

POOL_ROOT = Path(__file__).resolve().parent.parent / "assets" / "data" / "photo_pool"
FIELDS = "id split file package package_version source_path licence credit orig_w orig_h w h group".split()
ALLOWED_LICENCES = {
    "PD", "CC0-1.0", "CC-BY-2.0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-2.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
    "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "LGPL-3.0",  # + the project's older photos:
    "LicenseRef-no-known-copyright-restrictions", "LicenseRef-scikit-image-data", "LicenseRef-gradio-Apache-2.0"}
MIN_SHORT = 240                   # any photo
HELD_MIN = (640, 480)             # held-out originals: long side, short side
TRAIN_LONG, HELD_LONG = 320, 800  # stored sizes (long side); 320 and quality 85 keep the pool under 9 MiB
N_HELDOUT, SEED, QUALITY = 48, 0, 85
HASH_BITS_MAX = 10                # pHash Hamming distance that marks the same scene (checked in the README)

# Not photographs (drawings, renders, paintings, maps, text, cut-outs on a flat background); picked by eye
# from a contact sheet of every candidate. Matched against source_path.
NOT_PHOTOS = re.compile("|".join([
    r"/lang/resource/words_sample/", r"/paintings/", r"/solar_system/", r"/digital_electricity/", r"/hangman/",
    r"/babyshapes/resource/image/", r"/details/(?!.*(Chenonceau|EgeskovSlotSpejling)_background)",
    r"/louis-braille/resource/(braille_ball|chart|louis|night_printing)\.", r"(alphabets|numbers)\.webp$",
    r"/Backgrounds/.*/(chalkboard|party-room|room\d|spotlight-stage|woods-and-bench|graffiti|school2)\.jpg$",
    r"/wallpapers/(?!(BytheWater|ColdRipple|ColorfulCups|DarkestHour|EveningGlow|FallenLeaf|Kite|OneStandsOut"
    r"|Path|summer_1am)/)", r"/mate/(abstract|desktop)/"]))
_NKCR, _MIDDLEBURY, _GRADIO = ("LicenseRef-no-known-copyright-restrictions", "LicenseRef-scikit-image-data",
                               ("LicenseRef-gradio-Apache-2.0", "in gradio; photographer not documented"))
OLD_LICENCES = {  # synth.data.PHOTO_SOURCES (train split only), see docs/inpainting.md#data
    "astronaut": ("PD", "NASA (Eileen Collins)"), "coffee": ("CC0-1.0", "Rachel Michetti"),
    "hubble_deep_field": ("PD", "NASA/ESA Hubble"), "immunohistochemistry": (_NKCR, "scikit-image sample"),
    "motorcycle_left": (_MIDDLEBURY, "Middlebury 2014 stereo data set (Scharstein et al.)"),
    "motorcycle_right": (_MIDDLEBURY, "Middlebury 2014 stereo data set (Scharstein et al.)"),
    "flower": ("CC-BY-2.0", "Flickr user vultilion"), "grace_hopper": ("PD", "US Navy photograph"),
    "cheetah": _GRADIO, "cheetah2": _GRADIO, "tower": _GRADIO, "camera": ("CC0-1.0", "Lav Varshney"),
    "coins": (_NKCR, "Brooklyn Museum via scikit-image"), "moon": ("PD", "scikit-image sample"),
    "brick": ("CC0-1.0", "CC0Textures"), "grass": ("CC0-1.0", "DeviantArt user linolafett"),
    "gravel": ("CC0-1.0", "CC0Textures"),
}
OLD_PACKAGES = {"skimage": "scikit-image", "sklearn": "scikit-learn", "matplotlib": "matplotlib",
                "gradio": "gradio"}


def rcc_entries(buf: bytes):
    """Files of a Qt ``.rcc`` resource container -> (path, bytes). Entries flagged zlib hold a 4-byte
    big-endian length and a zlib stream (qCompress); zstd entries are skipped (bytes None)."""
    if buf[:4] != b"qres":
        raise ValueError("not a Qt rcc container")
    version, tree, data, names = struct.unpack(">IIII", buf[4:20])
    node = 14 if version == 1 else 22  # v2+ nodes carry a last-modified time

    def name(off):
        (n,) = struct.unpack(">H", buf[names + off:names + off + 2])
        return buf[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(i, prefix):
        p = tree + i * node
        name_off, flags = struct.unpack(">IH", buf[p:p + 6])
        here = name(name_off) if i else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", buf[p + 6:p + 14])
            for c in range(first, first + count):
                yield from walk(c, f"{prefix}{here}/" if i else "")
            return
        (off,) = struct.unpack(">I", buf[p + 10:p + 14])
        (size,) = struct.unpack(">I", buf[data + off:data + off + 4])
        raw = buf[data + off + 4:data + off + 4 + size]
        yield prefix + here, (zlib.decompress(raw[4:]) if flags & 1 else None if flags & 4 else raw)

    yield from walk(0, "")


def normalise_licence(text: str) -> str | None:
    """A licence as written in a credit file -> SPDX-like id; None when unknown or not accepted (GFDL)."""
    t = text.strip().lower().replace("licence", "license")
    if not t or "gfdl" in t or "free documentation" in t:
        return None
    if "public domain" in t or t == "public-domain":
        return "PD"
    if t.startswith("cc0"):
        return "CC0-1.0"
    if m := re.match(r"cc[- ]?by(?:[- ]?(sa))?[- ]?(\d\.\d)", t):
        return f"CC-BY-{'SA-' if m.group(1) else ''}{m.group(2)}"
    if m := re.match(r"gpl[- ]?v?(\d)(?:\.0)?\s*(\+|or later|-or-later)?", t):
        return f"GPL-{m.group(1)}.0-{'or-later' if m.group(2) else 'only'}"
    return "LGPL-3.0" if t in ("lgplv3", "lgpl-3", "lgpl-3.0") else None


def parse_credits(text: str) -> dict[str, dict]:
    """gcompris credit README (blocks of Copyright/Source/License/Files) -> {relative file: fields}."""
    out = {}
    for block in re.split(r"\n\s*\n", text.replace("\r", "")):
        info, files, key = {}, [], None
        for line in block.split("\n"):  # keys cut to 4 letters: copy, auth, sour, lice, comm, file
            m = re.match(r"\s*(Copyright|Authors?|Source|Licen[cs]e|Comments?|Files?)\s*:\s*(.*)$", line, re.I)
            key = m.group(1).lower()[:4] if m else key
            if key == "file":  # "Files:" and the lines after it
                files += (m.group(2) if m else line).split()
            elif m:
                info[key] = m.group(2).strip()
        out.update(dict.fromkeys(files, info))
    return out


def deb_version(root: Path, package: str) -> str:
    with gzip.open(root / "usr/share/doc" / package / "changelog.Debian.gz", "rt") as f:
        return re.match(r"\S+ \((\S+)\)", f.readline()).group(1)


def gcompris_candidates(root: Path):
    version = deb_version(root, "gcompris-qt-data")
    for rcc in sorted((root / "usr/share/gcompris-qt/rcc").glob("*.rcc")):
        entries = dict(rcc_entries(rcc.read_bytes()))
        credits = {posixpath.dirname(p): parse_credits(b.decode("utf-8", "replace"))
                   for p, b in entries.items() if b and posixpath.basename(p).lower() == "readme"}
        for path, raw in sorted(entries.items()):
            if raw is None or not path.lower().endswith((".webp", ".png", ".jpg", ".jpeg")):
                continue
            info, d = None, posixpath.dirname(path)
            while info is None and d:  # the nearest README that lists this file
                info = credits.get(d, {}).get(posixpath.relpath(path, d))
                d = posixpath.dirname(d)
            info = info or {}  # no credit: licence None, dropped by build()
            credit = "; ".join(v for v in (info.get("copy") or info.get("auth"), info.get("sour")) if v)
            yield dict(package="gcompris-qt-data", package_version=version, credit=credit, raw=raw,
                       licence=normalise_licence(info.get("lice", "")), key=info.get("sour") or path,
                       source_path=f"usr/share/gcompris-qt/rcc/{rcc.name}:{path}")


def file_candidates(root: Path, package: str, pattern: str, licence: str, credit: str = ""):
    version = deb_version(root, package)
    for f in sorted(root.glob(pattern)):
        rel = f.relative_to(root).as_posix()
        yield dict(package=package, package_version=version, licence=licence, credit=credit,
                   source_path=rel, raw=f.read_bytes(), key=rel)


def plasma_candidates(root: Path):
    """One image per wallpaper (its largest landscape size); licence and author from its metadata.json."""
    version = deb_version(root, "plasma-workspace-wallpapers")
    for d in sorted((root / "usr/share/wallpapers").iterdir()):
        images = [(int(m.group(1)) * int(m.group(2)), f) for f in (d / "contents/images").glob("*")
                  if (m := re.match(r"(\d+)x(\d+)\.", f.name)) and int(m.group(1)) > int(m.group(2))]
        if not images or not (d / "metadata.json").exists():
            continue
        meta, f = json.loads((d / "metadata.json").read_text())["KPlugin"], max(images)[1]
        yield dict(package="plasma-workspace-wallpapers", package_version=version, raw=f.read_bytes(), key=d.name,
                   licence=normalise_licence(meta.get("License", "")), source_path=f.relative_to(root).as_posix(),
                   credit=", ".join(a["Name"] for a in meta.get("Authors", [])))


def candidates(src: Path):
    """Every image of the packages, with its licence (None when unknown); build() filters them."""
    yield from gcompris_candidates(src / "gcompris-qt-data")
    yield from file_candidates(src / "scratch", "scratch", "usr/share/scratch/Media/Backgrounds/*/*.jpg",
                               "CC-BY-SA-3.0", "Massachusetts Institute of Technology (Scratch media)")
    yield from file_candidates(src / "tuxpaint-data", "tuxpaint-data", "usr/share/tuxpaint/templates/*.jpg",
                               "GPL-2.0-or-later", "Tux Paint contributors")
    yield from plasma_candidates(src / "plasma-workspace-wallpapers")
    yield from file_candidates(src / "mate-backgrounds", "mate-backgrounds", "usr/share/backgrounds/mate/*/*.jpg",
                               "GPL-2.0-or-later", "MATE Backgrounds authors (see the package's AUTHORS)")


def old_candidates():
    """The training photos of synth.data.PHOTO_SOURCES, read from their installed packages."""
    from importlib.metadata import version

    from synth.data import PHOTO_SOURCES, read_photo

    for name, rel, _ in (s for s in PHOTO_SOURCES if s[2] == "train"):
        dist = OLD_PACKAGES[rel.split("/")[0]]
        licence, credit = OLD_LICENCES[name]
        yield dict(package=dist, package_version=version(dist), licence=licence, credit=credit,
                   source_path=rel, image=read_photo(rel), key=name.replace("_left", "").replace("_right", ""))


def phash(image: np.ndarray) -> int:
    """64-bit DCT hash: grey 32x32 (area), the 8x8 lowest frequencies against their median."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    low = cv2.dct(cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA))[:8, :8].ravel()
    return sum(1 << k for k, b in enumerate(low > np.median(low[1:])) if b)


def family(key: str) -> str:
    """File-name family: the same name up to a size suffix, a trailing digit/letter variant or left/right."""
    stem = posixpath.splitext(posixpath.basename(key))[0].lower()
    stem = re.sub(r"(_\d+x\d+|_(left|right)|[-_]?(\d+|[ab])|_background)$", "", stem)
    return posixpath.dirname(key) + "/" + stem


def group_ids(rows: list[dict], hashes: list[int], max_bits: int = HASH_BITS_MAX) -> list[int]:
    """Union of: the same credited source, the same file-name family within a package, a pHash distance
    <= max_bits. Returns a group number per row."""
    from scipy.sparse.csgraph import connected_components

    keys = [r["key"] for r in rows]
    families = [(r["package"], family(r["key"])) for r in rows]
    bits = np.array([[(h >> k) & 1 for k in range(64)] for h in hashes], np.int32)
    dist = (bits[:, None, :] != bits[None, :, :]).sum(-1)
    same = (dist <= max_bits) | (np.array(keys)[:, None] == np.array(keys)[None, :])
    same |= np.array([[a == b for b in families] for a in families])
    return connected_components(same, directed=False)[1].tolist()


def choose_heldout(rows: list[dict], groups: list[int], n: int = N_HELDOUT, seed: int = SEED) -> set[int]:
    """Whole groups, all of whose photos are big enough, drawn round-robin over strata (package, and the
    activity for gcompris) in a seeded order, until n photos are held out."""
    rng = np.random.default_rng(seed)
    members = collections.defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)

    big = [not r["old"] and max(r["orig_w"], r["orig_h"]) >= HELD_MIN[0]
           and min(r["orig_w"], r["orig_h"]) >= HELD_MIN[1] for r in rows]
    strata: dict[str, list[int]] = {}
    for g, idx in sorted(members.items()):
        if all(big[i] for i in idx):
            r = rows[idx[0]]
            s = r["package"] + (":" + r["source_path"].split(":")[0] if ":" in r["source_path"] else "")
            strata.setdefault(s, []).append(g)
    order = [list(rng.permutation(v)) for _, v in sorted(strata.items())]
    held: set[int] = set()
    while len(held) < n and any(order):
        for k in rng.permutation(len(order)):
            if order[k] and len(held) < n:
                held.update(members[int(order[k].pop())])
    return held


def resize_long(image: np.ndarray, long_side: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    s = long_side / max(h, w)
    return image if s >= 1 else cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))),
                                           interpolation=cv2.INTER_AREA)


def build(src: Path, out: Path = POOL_ROOT, quality: int = QUALITY) -> list[dict]:
    from PIL import Image

    rows, dropped = [], collections.Counter()
    for c in list(candidates(src)) + list(old_candidates()):
        raw, image = c.pop("raw", None), c.pop("image", None)
        why = ("licence unknown or not accepted" if c["licence"] not in ALLOWED_LICENCES else
               "not a photograph" if NOT_PHOTOS.search(c["source_path"]) else None)
        if why is None:
            image = _read(raw) if image is None else image
            why = "short side < 240" if min(image.shape[:2]) < MIN_SHORT else None
        if why:
            dropped[why] += 1
            continue
        rows.append(dict(c, image=image, orig_h=image.shape[0], orig_w=image.shape[1],
                         old=c["package"] in OLD_PACKAGES.values()))
    groups = group_ids(rows, [phash(r["image"]) for r in rows])
    held = choose_heldout(rows, groups)
    prefix = {"gcompris-qt-data": "gc", "scratch": "scratch", "tuxpaint-data": "tux",
              "plasma-workspace-wallpapers": "plasma", "mate-backgrounds": "mate"}
    counters: dict[str, int] = {}
    for split in ("train", "heldout"):
        (out / split).mkdir(parents=True, exist_ok=True)
        for old in (out / split).glob("*.jpg"):
            old.unlink()
    manifest = []
    for i, r in enumerate(rows):
        p = prefix.get(r["package"], "pkg")
        counters[p] = counters.get(p, 0) + 1
        pid = f"{p}_{posixpath.splitext(posixpath.basename(r['source_path']))[0]}" if r["old"] \
            else f"{p}_{counters[p]:04d}"
        split = "heldout" if i in held else "train"
        image = resize_long(r["image"], HELD_LONG if split == "heldout" else TRAIN_LONG)
        file = f"{split}/{pid}.jpg"
        Image.fromarray(image).save(out / file, quality=quality, optimize=True)
        manifest.append({**{k: r[k] for k in FIELDS if k in r}, "id": pid, "split": split, "file": file,
                         "group": f"g{groups[i]:04d}", "w": image.shape[1], "h": image.shape[0]})
    with open(out / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(manifest)
    print("dropped:", dropped)
    return manifest


@functools.lru_cache(maxsize=None)
def _manifest(root: str) -> tuple[dict, ...]:
    with open(Path(root) / "manifest.csv", newline="") as f:
        return tuple(dict(r, **{k: int(r[k]) for k in ("orig_w", "orig_h", "w", "h")}) for r in csv.DictReader(f))


def manifest(split: str | None = None, root: Path = POOL_ROOT) -> list[dict]:
    """Rows of manifest.csv (ints for sizes), all or one split's, in file order."""
    if split not in (None, "train", "heldout"):
        raise ValueError(f"split must be None, 'train' or 'heldout', got {split!r}")
    return [dict(r) for r in _manifest(str(root)) if split is None or r["split"] == split]


def _read(src: Path | bytes) -> np.ndarray:
    """A file (or an image file's bytes) -> uint8 H x W x 3 RGB."""
    from PIL import Image

    with Image.open(io.BytesIO(src) if isinstance(src, bytes) else src) as im:
        return np.asarray(im.convert("RGB"))


@functools.lru_cache(maxsize=512)
def _load(root: str, pid: str) -> np.ndarray:
    rows = [r for r in _manifest(root) if r["id"] == pid]
    if not rows:
        raise KeyError(f"unknown photo {pid!r}")
    image = _read(Path(root) / rows[0]["file"])
    image.flags.writeable = False
    return image


def load_photo(pid: str, root: Path = POOL_ROOT) -> np.ndarray:
    """One pool photo -> uint8 H x W x 3 RGB (cached, read-only)."""
    return _load(str(root), pid)


def photos(split: str, root: Path = POOL_ROOT) -> list[tuple[str, np.ndarray]]:
    """(id, image) for every photo of one split; only that split's files are opened."""
    return [(r["id"], load_photo(r["id"], root)) for r in manifest(split, root)]


def crop_pool(n: int, size: int, seed: int = 0, split: str = "train", min_frac: float = 0.15,
              max_frac: float = 1.0, root: Path = POOL_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random square crops of one split's photos -> (uint8 n x size x size x 3, int64 n index into
    ``manifest(split)``). A crop's side is a uniform fraction in [min_frac, max_frac] of its photo's short
    side, area-resized to size; crops per photo are proportional to sqrt(area) (largest remainders)."""
    import cv2

    if not 0 < min_frac <= max_frac <= 1:
        raise ValueError(f"need 0 < min_frac <= max_frac <= 1, got {min_frac}, {max_frac}")
    rows = manifest(split, root)
    weight = np.sqrt([r["w"] * r["h"] for r in rows])
    share = n * weight / weight.sum()
    counts = np.floor(share).astype(int)
    counts[np.argsort(counts - share)[:n - counts.sum()]] += 1
    rng = np.random.default_rng(seed)
    crops = np.empty((n, size, size, 3), np.uint8)
    index = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
    for k, i in enumerate(index):
        image = load_photo(rows[i]["id"], root)  # cached: each photo is read once
        h, w = image.shape[:2]
        side = max(1, min(min(h, w), round(min(h, w) * rng.uniform(min_frac, max_frac))))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crops[k] = cv2.resize(image[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
    return crops, index


def heldout_crops(n: int, size: int, seed: int = 0, root: Path = POOL_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation's crops: ``crop_pool`` over the held-out photos."""
    return crop_pool(n, size, seed, split="heldout", root=root)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--src", type=Path, required=True, help="folder with one dpkg-deb -x folder per package")
    parser.add_argument("--out", type=Path, default=POOL_ROOT)
    parser.add_argument("--quality", type=int, default=QUALITY)
    args = parser.parse_args(argv)
    rows = build(args.src, args.out, args.quality)
    print({split: sum(r["split"] == split for r in rows) for split in ("train", "heldout")})


if __name__ == "__main__":
    main()
