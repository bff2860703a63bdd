"""What the GIRAFFE tab shows, as plain functions a script or a notebook can call without Gradio.

The tab (ui/giraffe_tab.py) only wires widgets to these: the EMA generator exported to assets/checkpoints/giraffe
(``python -m synth.train giraffe --export RUN DEST``), loaded once per folder; the seed's scene with the six
controls applied (``scene``, ``render``); the side views (each object's visible alpha map, the feature image's
first three principal components, the background alone: ``side_views``); and a looping GIF of one control's sweep
(``animate``). Bad values raise ValueError with a sentence naming the control and its range; a folder without a
checkpoint raises FileNotFoundError.

The environment variable SYNTH_GIRAFFE_DIR, when set, names another checkpoint folder to use instead of the
bundled one (a run being trained, or a few-step smoke checkpoint while working on the tab).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from synth import checkpoint, data
from synth.giraffe.controls import CONTROL_RANGES, background_only, controlled_latents, sweep_values
from synth.giraffe.model import Generator, Latents, composite_sparse, load_giraffe, volume_weights

FOLDER_ENV = "SYNTH_GIRAFFE_DIR"
BUNDLED = data.ASSETS / "checkpoints" / "giraffe"
DISPLAY = 256            # the 64 x 64 scene, 4x nearest-neighbour upscaled (its pixels stay visible)
ALPHA_DISPLAY = 128
N_FRAMES = 24            # frames of an animation
FRAME_MS = 80            # per frame: 24 frames loop in about 2 s
GIF_MAX_AGE_S = 3600     # older animations are deleted from the temp folder (gradio has its own copy)
WIDE = 4                 # in_frame renders the object alone through a camera 4x as wide: its centre quarter is the frame


# ---------------------------------------------------------------------------------------------- the checkpoint

def default_folder() -> Path:
    return Path(os.environ.get(FOLDER_ENV) or BUNDLED)


def has_checkpoint(folder: Path) -> bool:
    return (Path(folder) / "config.json").exists() and (Path(folder) / "generator_ema.safetensors").exists()


@lru_cache(maxsize=4)
def _load(folder: str) -> Generator:
    return load_giraffe(Path(folder))


@lru_cache(maxsize=4)
def _wide(folder: str) -> Generator:
    """The same weights seen through a camera WIDE times as wide, with WIDE / 2 times as many rays a side, so that
    its centre rays are every other one of the frame's (a shallow copy: only the config differs)."""
    G = _load(folder)
    half = math.tan(math.radians(G.cfg.fov_deg) / 2)
    wide = copy.copy(G)
    wide.cfg = dataclasses.replace(G.cfg, fov_deg=math.degrees(2 * math.atan(WIDE * half)),
                                   feature_size=WIDE * G.cfg.feature_size // 2)  # half the rays: a share, not a picture
    return wide


def generator(folder: Path | str | None = None) -> Generator:
    """The EMA generator of ``folder`` (default: default_folder()), loaded once per folder, in eval mode."""
    folder = Path(folder or default_folder()).resolve()
    if not has_checkpoint(folder):
        raise FileNotFoundError(f"No GIRAFFE checkpoint in {folder}: train and export one first (docs/giraffe.md).")
    return _load(str(folder))


def checkpoint_info(folder: Path | str | None = None) -> dict:
    """What the tab says about the checkpoint: object slots, feature channels, training steps and minutes."""
    G = generator(folder)
    meta = checkpoint.read_config(Path(folder or default_folder()))
    return {"n_objects": G.cfg.n_objects, "feat_dim": G.cfg.feat_dim, "step": meta.get("step", "?"),
            "minutes": meta.get("wall_time_s", 0) / 60}


# The scene the tab opens on, picked with `python -m synth.evaluate giraffe --pick-scene 150` (scene_picks): of seeds
# 0-149, seed 81's object 1 (a large box) turns most visibly: by 30, 45, 60 or 135 degrees it changes the bundled
# model's 64 x 64 image by 2.3 to 3.3 / 255 on average (7 to 11 / 255 inside the object; seed 0: 1.0 to 1.5), and
# by 90 or 180 degrees by 0.4 (a cube looks the same after a quarter turn, as in the data). Its appearance slider
# moves the box's colour by 115 / 255. Its circle takes it partly out of the frame, which the tab says (frame_note).
DEFAULT_SCENE = {"seed": 81, "n_objects": 2}


def neutral_controls() -> dict[str, float]:
    """The seed's scene as drawn, seen from the middle of the camera's elevation range."""
    lo, hi, _ = CONTROL_RANGES["elevation"]
    return {"rotation": 0.0, "elevation": (lo + hi) / 2, "appearance": 0.0, "depth": 0.0, "horizontal": 0.0,
            "circle": 0.0}


def upscale(image: np.ndarray, size: int = DISPLAY) -> np.ndarray:
    """Nearest-neighbour upscaling of a square uint8 image (H x W or H x W x C) to size x size."""
    k = size // image.shape[0]
    return np.repeat(np.repeat(image, k, 0), k, 1)


# ---------------------------------------------------------------------------------------------- the scene

def as_whole(v):
    """Number boxes and sliders send floats: a whole float becomes an int; anything else is passed on as it is
    for controlled_latents to refuse with a message naming the argument."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def scene(seed, n_objects, rotation=0.0, elevation=None, appearance=0.0, depth=0.0, horizontal=0.0, circle=0.0,
          obj=1, folder=None) -> tuple[Generator, Latents]:
    """The generator and the latents of the seed's scene with the six controls applied to object ``obj``
    (1-based, as the tab shows it). Bad values raise ValueError with controlled_latents' message."""
    G = generator(folder)
    seed, n_objects, obj = as_whole(seed), as_whole(n_objects), as_whole(obj)
    n_ok = isinstance(n_objects, (int, np.integer)) and 1 <= n_objects <= G.cfg.n_objects
    if n_ok and not (isinstance(obj, (int, np.integer)) and 1 <= obj <= n_objects):
        raise ValueError(f"object must be a whole number 1..{n_objects} (the scene has {n_objects} object"
                         f"{'s' if n_objects > 1 else ''}), got {obj!r}")
    lat = controlled_latents(G.cfg, seed, n_objects, rotation=rotation, elevation=elevation,
                             appearance=appearance, depth=depth, horizontal=horizontal, circle=circle,
                             obj=obj - 1 if n_ok else 0)   # a bad n_objects: its own message comes first
    return G, lat.to(G.device)


def _frame(G: Generator, lat: Latents) -> np.ndarray:
    with torch.no_grad():
        return data.to_uint8(G(lat)["image"])[0]             # uint8 64 x 64 x 3


def render(seed, n_objects, rotation=0.0, elevation=None, appearance=0.0, depth=0.0, horizontal=0.0, circle=0.0,
           obj=1, folder=None) -> np.ndarray:
    """The controlled scene as uint8 256 x 256 x 3 (64 x 64 upscaled)."""
    G, lat = scene(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj, folder)
    return upscale(_frame(G, lat))


def side_views(seed, n_objects, rotation=0.0, elevation=None, appearance=0.0, depth=0.0, horizontal=0.0,
               circle=0.0, obj=1, folder=None) -> tuple[list[tuple[np.ndarray, str]], np.ndarray, np.ndarray]:
    """(each object's visible alpha map captioned "object k", the feature image's first three principal
    components, the background rendered alone): uint8, alpha maps 128 x 128, the others 256 x 256 x 3."""
    G, lat = scene(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj, folder)
    v = views(G, lat)
    alphas = [(upscale(a, ALPHA_DISPLAY), f"object {k + 1}") for k, a in enumerate(v["alphas"])]
    return alphas, upscale(v["features"]), upscale(v["background"])


def in_frame(seed, n_objects, rotation=0.0, elevation=None, appearance=0.0, depth=0.0, horizontal=0.0,
             circle=0.0, obj=1, folder=None) -> float:
    """The share (0..1) of object ``obj``'s opacity that falls inside the frame, from the model's alpha map: the
    object is rendered alone (the others removed) through a camera WIDE times as wide whose centre is the frame,
    and its alpha inside that centre is divided by its alpha in the whole wide view. 1: wholly in view; 0: it has
    left the frame. Objects hidden behind another still count as in the frame."""
    G, lat = scene(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj, folder)
    k = as_whole(obj) - 1                                    # scene() has checked it
    alone = lat.clone()
    alone.exists[:] = False
    alone.exists[0, k] = True
    wide = _wide(str(Path(folder or default_folder()).resolve()))
    r = G.cfg.feature_size // 2
    c = (WIDE - 1) * r // 2                                  # the frame: rows and columns c..c+r
    with torch.no_grad():  # Generator.forward's alpha, without the 2D renderer (only the opacity is needed)
        f = wide.fields(alone)
        total, _, alpha_of = composite_sparse(f["sigma_bg"], f["feat_bg"], f["sigma_obj"], f["feat_obj"],
                                              f["index"], tuple(f["shape"].tolist()))
        alpha = alpha_of(volume_weights(f["depth"], total))[0, k].reshape(WIDE * r, WIDE * r)
    total = float(alpha.sum())
    return float(alpha[c:c + r, c:c + r].sum()) / total if total > 1e-6 else 0.0


def frame_note(seed, n_objects, rotation=0.0, elevation=None, appearance=0.0, depth=0.0, horizontal=0.0,
               circle=0.0, obj=1, folder=None) -> str:
    """One sentence under the scene saying whether object ``obj`` is in the frame (in_frame), so that an object
    that a control took out of view is not mistaken for one the model lost."""
    share = in_frame(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj, folder)
    k = as_whole(obj)
    if share >= 0.95:
        return f"Object {k} is in the frame."
    if share >= 0.05:
        return f"Object {k} is partly out of the frame: {share:.0%} of it is in view."
    return (f"**Object {k} has left the frame**: none of it is in view. The circle, depth or horizontal control "
            "brings it back.")


def _gif_path() -> str:
    folder = Path(tempfile.gettempdir()) / "synth-giraffe"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.gif"):
        try:
            if time.time() - old.stat().st_mtime > GIF_MAX_AGE_S:
                old.unlink()
        except FileNotFoundError:                            # another request removed it first
            pass
    fd, path = tempfile.mkstemp(prefix="giraffe-", suffix=".gif", dir=folder)
    os.close(fd)
    return path


def animate(control, seed, n_objects, rotation=0.0, elevation=None, appearance=0.0, depth=0.0, horizontal=0.0,
            circle=0.0, obj=1, n_frames=N_FRAMES, folder=None) -> str:
    """Sweep one control along sweep_values(control, n_frames), the others as given -> the path of a looping
    animated GIF (256 x 256, FRAME_MS per frame) in the temp folder."""
    if control not in CONTROL_RANGES:
        raise ValueError(f"Unknown control {control!r}; choose one of: {', '.join(CONTROL_RANGES)}.")
    path_values = sweep_values(control, int(n_frames))
    values = dict(rotation=rotation, elevation=elevation, appearance=appearance, depth=depth,
                  horizontal=horizontal, circle=circle)
    frames = []
    for v in path_values:
        G, lat = scene(seed, n_objects, **{**values, control: v}, obj=obj, folder=folder)
        frames.append(Image.fromarray(upscale(_frame(G, lat))))
    path = _gif_path()
    # identical consecutive frames are merged by PIL (their durations add up), so the timing stays exact
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=FRAME_MS, loop=0)
    return path


# ---------------------------------------------------------------------------------------------- inside the scene

@torch.no_grad()
def views(G: Generator, lat: Latents) -> dict[str, np.ndarray]:
    """One scene (batch 1) -> uint8 pictures: "image" 64 x 64 x 3, "alphas" K x 64 x 64 (each existing object's
    visible alpha, nearest-upsampled), "features" 64 x 64 x 3 (feature_pca, nearest-upsampled), "background"
    64 x 64 x 3 (the same scene rendered without objects)."""
    if len(lat) != 1:
        raise ValueError(f"views renders one scene, got a batch of {len(lat)}")
    G.eval()
    lat = lat.to(G.device)
    out, bg = G(lat), G(background_only(lat))
    size = G.cfg.image_size
    up = lambda a: F.interpolate(a, size=(size, size), mode="nearest")  # noqa: E731
    to_u8 = lambda x: data.to_uint8(x[None].cpu())[0]  # noqa: E731
    alphas = up(out["alpha"][:, :-1])[0][lat.exists[0]]
    feat = feature_pca(out["feature"][0])
    feat = np.repeat(np.repeat(feat, size // feat.shape[0], 0), size // feat.shape[1], 1)
    return {"image": to_u8(out["image"][0]), "alphas": (alphas.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy(),
            "features": feat, "background": to_u8(bg["image"][0])}


def feature_pca(feature: torch.Tensor) -> np.ndarray:
    """One feature image F x H x W -> uint8 H x W x 3: its first three principal components as RGB, each
    stretched to 0..255 (signs fixed so the largest loading is positive: stable across frames)."""
    f = feature.detach().float().flatten(1).T                       # HW x F
    f = f - f.mean(0)
    _, _, v = torch.linalg.svd(f, full_matrices=False)
    v = v[:3]
    v = v * torch.sign(v.gather(1, v.abs().argmax(1, keepdim=True)))
    pc = f @ v.T                                                    # HW x 3
    lo, hi = pc.min(0).values, pc.max(0).values
    pc = (pc - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    if pc.shape[1] < 3:
        pc = torch.cat([pc, torch.zeros(len(pc), 3 - pc.shape[1])], 1)
    return (pc * 255).round().to(torch.uint8).reshape(*feature.shape[1:], 3).cpu().numpy()
