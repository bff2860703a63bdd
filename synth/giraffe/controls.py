"""The six GIRAFFE controls of the paper (Niemeyer and Geiger, CVPR 2021, fig. 1 and 5) as explicit edits of
the latents: (a) rotate_object, (b) set_elevation, (c) change_appearance, (d) translate_depth,
(e) translate_horizontal, (f) circle_around; background_only removes every object.

Each returns edited copies of the latents; ``obj`` is an object slot. Units: radians and scene units
(the ground square is [-xy_range, xy_range]^2; the camera looks along -x). ``controlled_latents`` applies all six
in the units a slider shows, ``sweep_values`` is a looping path through one control's range (the animation).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from synth.giraffe.model import GiraffeConfig, Latents, latents_for_seed, rotation_z
from synth.giraffe.scenes import SceneConfig

_SC = SceneConfig()

def _check_obj(lat: Latents, *objs: int) -> None:
    K = lat.z_shape.shape[1]
    for o in objs:
        if not 0 <= o < K:
            raise ValueError(f"object slot must be 0..{K - 1}, got {o}")


def rotate_object(lat: Latents, obj: int, angle: float) -> Latents:
    """(a) object rotation: set the object's angle about the vertical axis."""
    _check_obj(lat, obj)
    out = lat.clone()
    out.rotation[:, obj] = angle
    return out


def set_elevation(lat: Latents, elevation: float) -> Latents:
    """(b) camera elevation in radians (the training range is GiraffeConfig.elevation_deg)."""
    out = lat.clone()
    out.elevation[:] = elevation
    return out


def change_appearance(lat: Latents, obj: int, t: float, target: torch.Tensor) -> Latents:
    """(c) appearance: z_a moves linearly from its value (t = 0) to ``target`` (t = 1); shape and pose stay."""
    _check_obj(lat, obj)
    out = lat.clone()
    out.z_app[:, obj] = (1 - t) * lat.z_app[:, obj] + t * target.to(lat.z_app)
    return out


def translate_depth(lat: Latents, obj: int, offset: float) -> Latents:
    """(d) depth translation: move the object towards (+) or away from (-) the camera, along world x."""
    _check_obj(lat, obj)
    out = lat.clone()
    out.translation[:, obj, 0] += offset
    return out


def translate_horizontal(lat: Latents, obj: int, offset: float) -> Latents:
    """(e) horizontal translation: move the object to the image's right (+) or left (-), along world y."""
    _check_obj(lat, obj)
    out = lat.clone()
    out.translation[:, obj, 1] += offset
    return out


def circle_around(lat: Latents, obj: int, centre_obj: int, angle: float) -> Latents:
    """(f) circular translation: turn object ``obj`` by ``angle`` about the vertical axis through object
    ``centre_obj``; its distance to that object is kept, so angle = 2 pi closes the circle."""
    _check_obj(lat, obj, centre_obj)
    if obj == centre_obj:
        raise ValueError("an object cannot circle around itself: choose two different slots")
    out = lat.clone()
    c = lat.translation[:, centre_obj, :2]
    rel = lat.translation[:, obj, :2] - c
    R = rotation_z(torch.as_tensor(angle, dtype=rel.dtype))[:2, :2]
    out.translation[:, obj, :2] = c + rel @ R.T
    return out


def background_only(lat: Latents) -> Latents:
    """The same scene with every object slot switched off: the background field alone."""
    out = lat.clone()
    out.exists[:] = False
    return out


# The six controls as one call, in the units a slider shows. Offsets are relative to the seed's scene, so 0
# (and elevation None) is the scene as drawn. name: (low, high, meaning)
CONTROL_RANGES = {
    "rotation": (-180.0, 180.0, "degrees added to the object's angle about the vertical"),
    "elevation": (_SC.elevation_deg[0], _SC.elevation_deg[1], "camera elevation in degrees (None: the seed's)"),
    "appearance": (0.0, 1.0, "0: the object's own appearance code, 1: another seed's"),
    "depth": (-1.5, 1.5, "scene units towards (+) or away from (-) the camera"),
    "horizontal": (-1.5, 1.5, "scene units to the right (+) or left (-)"),
    "circle": (0.0, 1.0, "fraction of a full turn around the next object"),
}
MAX_SEED = 2 ** 31 - 1


def controlled_latents(cfg: GiraffeConfig, seed: int, n_objects: int, rotation: float = 0.0,
                       elevation: float | None = None, appearance: float = 0.0, depth: float = 0.0,
                       horizontal: float = 0.0, circle: float = 0.0, obj: int = 0) -> Latents:
    """The seed's scene with ``n_objects`` objects, then the six edits applied to object ``obj`` (circle: around
    object ``obj + 1``, wrapping). Values outside CONTROL_RANGES raise ValueError naming the control."""
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer 0..{MAX_SEED}, got {seed!r}")
    if isinstance(n_objects, bool) or not isinstance(n_objects, (int, np.integer)) or not 1 <= n_objects <= cfg.n_objects:
        raise ValueError(f"n_objects must be an integer 1..{cfg.n_objects}, got {n_objects!r}")
    values = dict(rotation=rotation, elevation=elevation, appearance=appearance, depth=depth,
                  horizontal=horizontal, circle=circle)
    for name, v in values.items():
        if v is None and name == "elevation":
            continue
        lo, hi, meaning = CONTROL_RANGES[name]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not lo <= float(v) <= hi:
            raise ValueError(f"{name} must be a number in [{lo:g}, {hi:g}] ({meaning}), got {v!r}")
    if not 0 <= obj < n_objects:
        raise ValueError(f"obj must be 0..{n_objects - 1} for a scene with {n_objects} objects, got {obj}")
    if circle and n_objects < 2:
        raise ValueError("circle needs at least 2 objects: one circles around another")
    lat = latents_for_seed(cfg, seed, n_objects)
    # 1. pose of the object: rotation, then translations; circle last (around where the other object is)
    lat = rotate_object(lat, obj, float(lat.rotation[0, obj]) + math.radians(rotation))
    lat = translate_depth(lat, obj, float(depth))
    lat = translate_horizontal(lat, obj, float(horizontal))
    if n_objects >= 2:
        lat = circle_around(lat, obj, (obj + 1) % n_objects, 2 * math.pi * float(circle))
    # 2. appearance towards a code drawn from another stream of the same seed
    target = torch.randn(cfg.z_dim, generator=torch.Generator().manual_seed(MAX_SEED - int(seed)))
    lat = change_appearance(lat, obj, float(appearance), target)
    # 3. camera
    if elevation is not None:
        lat = set_elevation(lat, math.radians(float(elevation)))
    return lat


def sweep_values(name: str, n_frames: int) -> list[float]:
    """A looping path through one control's range for an animation (first frame = last frame's successor)."""
    if name not in CONTROL_RANGES:
        raise KeyError(f"unknown control {name!r}; available: {sorted(CONTROL_RANGES)}")
    if n_frames < 2:
        raise ValueError(f"n_frames must be at least 2, got {n_frames}")
    lo, hi, _ = CONTROL_RANGES[name]
    phase = np.arange(n_frames) / n_frames
    if name in ("rotation", "circle"):                       # periodic: one full turn
        return (lo + (hi - lo) * phase).tolist()
    return (lo + (hi - lo) * (1 - np.cos(2 * np.pi * phase)) / 2).tolist()   # there and back, smoothly
