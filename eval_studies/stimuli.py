"""Stimuli as the rater's browser gets them: readable images, all of one size, all served at one byte size.

What a browser can measure of an image is its pixels, its dimensions, its byte size and how long it took to
arrive. Only the pixels may differ between conditions, so:
- every stimulus of a study must decode and have the same width and height (``check_images``, at load and at
  build; a study that fails names the field and the files);
- the server sends each stimulus as an *uncompressed* PNG (zlib stored blocks; chunks IHDR, IDAT, IEND only):
  its byte size is a function of the dimensions alone, so equal dimensions give equal sizes
  (``served_png``; 256 x 256 RGB is 196,993 bytes). PNG compression would make byte size follow content,
  which told the inpainting method from the photo in every pair;
- the served files are written once, before raters arrive, under names that are an HMAC of the pixels
  (``ServedStimuli``): every trial reads one file of the same size from the same place.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import threading
from pathlib import Path

import numpy as np
from PIL import Image

_sizes: dict[tuple, tuple[int, int]] = {}  # (path, size, mtime) -> (width, height): a study is loaded often
_sizes_lock = threading.Lock()


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of a fully decodable image; ValueError saying why it is not one."""
    path = Path(path)
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _sizes_lock:
        if key in _sizes:
            return _sizes[key]
    try:
        with Image.open(path) as im:
            im.load()  # decode every pixel: a truncated file fails here, not in front of a rater
            size = im.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"not a readable image ({type(e).__name__}: {e})") from None
    with _sizes_lock:
        if len(_sizes) > 100_000:
            _sizes.clear()
        _sizes[key] = size
    return size


def check_images(files: dict[str, Path], source: str) -> tuple[int, int] | None:
    """Every file decodes and all have the same dimensions; returns them. ``files`` maps the study field that
    names a file to its path. Raises ValueError naming the field and file, or the files of each size."""
    by_size: dict[tuple[int, int], list[str]] = {}
    for fld, path in files.items():
        try:
            size = image_size(path)
        except ValueError as e:
            raise ValueError(f"{source}: field {fld!r}: stimulus {Path(path).name!r} is {e}") from None
        by_size.setdefault(size, []).append(Path(path).name)
    if len(by_size) > 1:
        parts = []
        for (w, h), names in sorted(by_size.items(), key=lambda kv: -len(kv[1])):
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            parts.append(f"{w}x{h}: {', '.join(names[:3])}{more}")
        raise ValueError(f"{source}: the stimuli differ in size ({'; '.join(parts)}); every stimulus of a study "
                         "must have the same width and height, or a rater's browser could tell the conditions "
                         "apart. Rebuild the study with python -m eval_studies.build, which resizes them all.")
    return next(iter(by_size), None)


def served_png(rgb: np.ndarray) -> bytes:
    """An uncompressed 8-bit RGB PNG of ``rgb`` (H x W x 3 uint8): no metadata, size fixed by H and W."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an H x W x 3 uint8 array, got {rgb.dtype} {rgb.shape}")
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


class ServedStimuli:
    """Each stimulus of a study as the file the rater app serves: ``path(stimulus)``, written on first use
    (``prepare`` writes them all) under ``cache_dir/<HMAC of the pixels>/image.png``."""

    def __init__(self, stimuli_dir: Path, key: bytes, cache_dir: str | Path):
        self.stimuli_dir = Path(stimuli_dir)
        self.key = key
        self.cache_dir = Path(cache_dir)
        self._paths: dict[str, str] = {}
        self._lock = threading.Lock()

    def path(self, stimulus: str) -> str:
        with self._lock:
            found = self._paths.get(stimulus)
        if found is not None and Path(found).exists():
            return found
        data = served_png(read_rgb(self.stimuli_dir / stimulus))
        name = hmac.new(self.key, data, hashlib.sha256).hexdigest()[:40]
        folder = self.cache_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / "image.png"
        if not out.exists() or out.stat().st_size != len(data):
            tmp = folder / f".image.{threading.get_ident()}.tmp"
            tmp.write_bytes(data)
            tmp.replace(out)
        with self._lock:
            self._paths[stimulus] = str(out)
        return str(out)

    def prepare(self, stimuli) -> None:
        for s in stimuli:
            self.path(s)
