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
  (``ServedStimuli``): every trial reads one file of the same size from the same place;
- each is that PNG inside a small SVG (``served_svg``). Gradio sends an SVG image to the browser inline, as a
  ``data:`` URL in the event's response, never as a URL naming its cache folder on the server; the SVG is padded
  with a comment so that every stimulus of a study arrives as a text of exactly one length.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import base64
import threading
from pathlib import Path
from urllib.parse import quote

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


def served_svg(png: bytes, width: int, height: int, length: int | None = None) -> str:
    """The served stimulus: the PNG inside an SVG of the same size. With `length`, a comment pads it so that the
    text Gradio sends for it (``urllib.parse.quote`` of the file, in a ``data:image/svg+xml,`` URL) has exactly
    that many characters; the base64 text quotes to different lengths for different pixels ('+' and '=' grow)."""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}"><image width="{width}" height="{height}" '
            f'xlink:href="data:image/png;base64,{base64.b64encode(png).decode()}"/><!--')
    tail = "--></svg>"
    if length is None:
        return head + tail
    pad = length - len(quote(head + tail))          # each pad character, "a", quotes to itself
    if pad < 0:
        raise ValueError(f"stimulus quotes to {length - pad} characters, over the study's {length}")
    return head + "a" * pad + tail


class ServedStimuli:
    """Each stimulus of a study as the file the rater app serves: ``path(stimulus)``, an SVG written by
    ``prepare`` (before raters arrive) under ``cache_dir/<HMAC of the pixels>/image.svg``, every one of them
    sent as a text of the same length."""

    def __init__(self, stimuli_dir: Path, key: bytes, cache_dir: str | Path):
        self.stimuli_dir = Path(stimuli_dir)
        self.key = key
        self.cache_dir = Path(cache_dir)
        self._paths: dict[str, str] = {}
        self._lock = threading.Lock()
        self.length: int | None = None   # the quoted length of every served stimulus (set by prepare)

    def _encode(self, stimulus: str) -> tuple[bytes, int, int]:
        rgb = read_rgb(self.stimuli_dir / stimulus)
        return served_png(rgb), rgb.shape[1], rgb.shape[0]

    def path(self, stimulus: str) -> str:
        with self._lock:
            found = self._paths.get(stimulus)
        if found is not None and Path(found).exists():
            return found
        if self.length is None:
            raise RuntimeError("call prepare(stimuli) first: the served length is the study's longest stimulus")
        png, w, h = self._encode(stimulus)
        data = served_svg(png, w, h, self.length).encode()
        name = hmac.new(self.key, png, hashlib.sha256).hexdigest()[:40]
        folder = self.cache_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / "image.svg"
        if not out.exists() or out.stat().st_size != len(data):
            tmp = folder / f".image.{threading.get_ident()}.tmp"
            tmp.write_bytes(data)
            tmp.replace(out)
        with self._lock:
            self._paths[stimulus] = str(out)
        return str(out)

    def prepare(self, stimuli) -> None:
        stimuli = list(stimuli)
        if self.length is None:
            self.length = max(len(quote(served_svg(*self._encode(s)))) for s in stimuli)
        for s in stimuli:
            self.path(s)
