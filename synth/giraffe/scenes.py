"""Procedural 3D scenes for GIRAFFE: 1-4 primitives on a ground plane, ray cast in numpy.

    python -m synth.giraffe.scenes export --n 20000 --out assets/data/scenes  # train + heldout, prints images/s
    python -m synth.giraffe.scenes preview --out scenes.png                   # a grid of 32 scenes
    python -m synth.giraffe.scenes bench                                      # render speed only

World frame: z up, ground plane z = 0. The camera sits on a circle of fixed radius in the x-z plane (azimuth 0),
at a random elevation, and looks at the origin; image right is world +y, so "depth" is world x (towards the
camera) and "horizontal" is world y. Every object is isotropic with half-extent ``s`` (sphere radius s; cube
half-side s; cylinder radius s and half-height s), rests on the plane (centre z = s) and may be rotated about the
vertical axis: its canonical frame is the box [-1, 1]^3 that GIRAFFE's pose maps it to
(p_canonical = R(theta)^T (p - t) / s).

Shading: Lambertian albedo under a square area light plus ambient; soft shadows from a few shadow rays per
pixel to jittered points on the light; 2x2 supersampling; gamma 2.2. Everything is seeded: a scene is a
function of its seed, so the data set is regenerated exactly rather than bundled.

Labels per image (``render`` returns them; ``export`` stores them in ``<out>/labels/<split>.npz``, slot k of
every array is object k, unused slots are -1 / 0 / False): shape (0 sphere, 1 cube, 2 cylinder), scale (s, s, s),
translation (x, y, z), rotation (radians about z), colour (linear RGB albedo in [0, 1]), visible masks (pixels
where the object covers more than half of the subsamples; disjoint by construction), camera elevation (radians)
and the seed. The image file's ``labels`` array is the number of objects.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SHAPES = ("sphere", "cube", "cylinder")
HELDOUT_SEED0 = 10_000_000  # held-out scenes use seeds from here: never the training seeds


@dataclass(frozen=True)
class SceneConfig:
    image_size: int = 64
    supersample: int = 2               # rays per pixel side (4 per pixel); masks come from the same subsamples
    camera_radius: float = 10.0
    fov_deg: float = 26.0              # full vertical (= horizontal) field of view
    elevation_deg: tuple = (25.0, 55.0)
    xy_range: float = 1.5              # object centres in [-xy_range, xy_range]^2
    size_range: tuple = (0.35, 0.65)   # half-extent s
    max_objects: int = 4
    gap: float = 0.1                   # minimum gap between objects' bounding circles
    light_centre: tuple = (3.0, 4.0, 9.0)
    light_size: float = 3.0            # side of the square area light (horizontal)
    shadow_rays: int = 8               # per subsample, to jittered points on the light
    ambient: float = 0.3
    ground_albedo: tuple = (0.5, 0.5, 0.48)
    min_visible: int = 12              # pixels each object must show; otherwise the scene is redrawn


@dataclass
class Scene:
    shape: np.ndarray        # int K
    scale: np.ndarray        # float K (half-extent s)
    translation: np.ndarray  # float K x 3
    rotation: np.ndarray     # float K, radians about +z
    colour: np.ndarray       # float K x 3, linear albedo
    elevation: float         # radians
    seed: int = -1
    attempt: int = 0
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.shape)


# ---------------------------------------------------------------------------------------------- camera

def camera_position(elevation: float, cfg: SceneConfig = SceneConfig()) -> np.ndarray:
    return cfg.camera_radius * np.array([np.cos(elevation), 0.0, np.sin(elevation)])


def camera_rays(elevation: float, size: int, cfg: SceneConfig = SceneConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre rays of a size x size image: origin (3,) and unit directions (size, size, 3), row 0 at the top."""
    origin = camera_position(elevation, cfg)
    forward = -origin / np.linalg.norm(origin)
    right = np.array([0.0, 1.0, 0.0])                  # cross(forward, z) for azimuth 0
    up = np.cross(right, forward)
    half = np.tan(np.radians(cfg.fov_deg) / 2)
    c = (np.arange(size) + 0.5) / size * 2 - 1         # -1 .. 1 at pixel centres
    u, v = np.meshgrid(c, -c)                           # u: right, v: up (row 0 = top)
    d = forward + half * (u[..., None] * right + v[..., None] * up)
    return origin, d / np.linalg.norm(d, axis=-1, keepdims=True)


def project(points: np.ndarray, elevation: float, size: int, cfg: SceneConfig = SceneConfig()) -> np.ndarray:
    """World points (..., 3) -> pixel coordinates (..., 2) as (column, row), pixel centres at +0.5."""
    origin = camera_position(elevation, cfg)
    forward = -origin / np.linalg.norm(origin)
    right = np.array([0.0, 1.0, 0.0])
    up = np.cross(right, forward)
    rel = points - origin
    z = rel @ forward
    half = np.tan(np.radians(cfg.fov_deg) / 2)
    u, v = (rel @ right) / z / half, (rel @ up) / z / half
    return np.stack([(u + 1) / 2 * size, (1 - v) / 2 * size], -1)


# ---------------------------------------------------------------------------------------------- sampling

def sample_scene(seed: int, n_objects: int | None = None, cfg: SceneConfig = SceneConfig(),
                 attempt: int = 0) -> Scene:
    """A random scene (no rendering): sizes, non-overlapping positions, rotations, colours, elevation."""
    if n_objects is not None and not 1 <= n_objects <= cfg.max_objects:
        raise ValueError(f"n_objects must be 1..{cfg.max_objects}, got {n_objects}")
    rng = np.random.default_rng([seed, attempt])
    n = int(rng.integers(1, cfg.max_objects + 1)) if n_objects is None else n_objects
    shape = rng.integers(0, len(SHAPES), n)
    scale = rng.uniform(*cfg.size_range, n)
    xy = np.zeros((n, 2))
    for k in range(n):  # rejection sampling: bounding circles (radius s*sqrt2 covers a rotated cube) stay apart
        for _ in range(1000):
            xy[k] = rng.uniform(-cfg.xy_range, cfg.xy_range, 2)
            dist = np.linalg.norm(xy[:k] - xy[k], axis=1)
            if np.all(dist > np.sqrt(2) * (scale[:k] + scale[k]) + cfg.gap):
                break
        else:
            return sample_scene(seed, n_objects, cfg, attempt + 1000)
    translation = np.concatenate([xy, scale[:, None]], 1)
    rotation = rng.uniform(0, 2 * np.pi, n)
    hsv = np.stack([rng.uniform(0, 1, n), rng.uniform(0.45, 0.9, n), rng.uniform(0.55, 0.95, n)], 1)
    colour = hsv_to_rgb(hsv) ** 2.2   # chosen in display space, stored linear
    elevation = np.radians(rng.uniform(*cfg.elevation_deg))
    return Scene(shape, scale, translation, rotation, colour, float(elevation), seed, attempt)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    h, s, v = hsv[..., 0] * 6, hsv[..., 1], hsv[..., 2]
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([np.stack(c, -1) for c in
                      [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]], 0)
    return np.take_along_axis(table, i[None, ..., None].repeat(3, -1), 0)[0]


# ---------------------------------------------------------------------------------------------- ray casting

def rot_z(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def intersect(kind: int, scale: float, centre: np.ndarray, theta: float, o: np.ndarray, d: np.ndarray,
              normals: bool = True):
    """Nearest hit t > 0 of rays o + t d (N x 3 each) with one object; inf where missed. Also world normals."""
    R = rot_z(theta)
    ol, dl = (o - centre) @ R, d @ R                     # into the object's frame (R^T x, row vectors)
    n_rays = len(d)
    inf = np.full(n_rays, np.inf)
    eps = 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == 0:                                    # sphere
            b = np.einsum("ij,ij->i", ol, dl)
            c = np.einsum("ij,ij->i", ol, ol) - scale ** 2
            disc = b * b - c                             # |d| = 1
            sq = np.sqrt(np.maximum(disc, 0))
            t0, t1 = -b - sq, -b + sq
            t = np.where(t0 > eps, t0, np.where(t1 > eps, t1, np.inf))
            t = np.where(disc >= 0, t, inf)
            nl = ol + np.where(np.isfinite(t), t, 0)[:, None] * dl if normals else None
        elif kind == 1:                                  # cube: slab test
            lo, hi = (-scale - ol) / dl, (scale - ol) / dl
            tmin, tmax = np.minimum(lo, hi).max(1), np.maximum(lo, hi).min(1)
            t = np.where((tmax >= tmin) & (tmax > eps), np.where(tmin > eps, tmin, tmax), inf)
            if normals:
                p = ol + np.where(np.isfinite(t), t, 0)[:, None] * dl
                axis = np.abs(p).argmax(1)
                nl = np.zeros_like(p)
                nl[np.arange(n_rays), axis] = np.sign(p[np.arange(n_rays), axis])
        else:                                            # cylinder, axis z, radius s, half-height s
            a = dl[:, 0] ** 2 + dl[:, 1] ** 2
            b = ol[:, 0] * dl[:, 0] + ol[:, 1] * dl[:, 1]
            c = ol[:, 0] ** 2 + ol[:, 1] ** 2 - scale ** 2
            disc = b * b - a * c
            sq = np.sqrt(np.maximum(disc, 0))
            best = inf.copy()
            for ts in ((-b - sq) / a, (-b + sq) / a):
                z = ol[:, 2] + ts * dl[:, 2]
                ok = (disc >= 0) & (a > 1e-12) & (ts > eps) & (np.abs(z) <= scale)
                best = np.where(ok & (ts < best), ts, best)
            for zc in (-scale, scale):
                ts = (zc - ol[:, 2]) / dl[:, 2]
                px, py = ol[:, 0] + ts * dl[:, 0], ol[:, 1] + ts * dl[:, 1]
                ok = (ts > eps) & (px * px + py * py <= scale ** 2)
                best = np.where(ok & (ts < best), ts, best)
            t = best
            if normals:
                p = ol + np.where(np.isfinite(t), t, 0)[:, None] * dl
                cap = np.abs(np.abs(p[:, 2]) - scale) < 1e-4 * max(scale, 1)
                nl = np.where(cap[:, None], np.stack([0 * p[:, 0], 0 * p[:, 0], np.sign(p[:, 2])], 1),
                              np.stack([p[:, 0], p[:, 1], 0 * p[:, 0]], 1))
    if not normals:
        return t, None
    nw = nl @ R.T
    nw /= np.maximum(np.linalg.norm(nw, axis=1, keepdims=True), 1e-12)
    return t, nw


def intersect_culled(kind: int, scale: float, centre: np.ndarray, theta: float, o: np.ndarray, d: np.ndarray,
                     normals: bool = True):
    """``intersect`` only for the rays that pass the object's bounding sphere (radius s sqrt 3, in front of the
    origin); the same answer, a fraction of the work (most rays miss most objects)."""
    oc = centre - o
    proj = np.einsum("ij,ij->i", oc, d)
    r2 = 3 * scale ** 2
    cand = np.flatnonzero((np.einsum("ij,ij->i", oc, oc) - proj ** 2 <= r2 * (1 + 1e-9)) & (proj > -np.sqrt(r2)))
    t = np.full(len(d), np.inf)
    n = np.zeros((len(d), 3)) if normals else None
    if len(cand):
        tc, nc = intersect(kind, scale, centre, theta, o[cand], d[cand], normals)
        t[cand] = tc
        if normals:
            n[cand] = nc
    return t, n


def render(scene: Scene, cfg: SceneConfig = SceneConfig(), size: int | None = None) -> dict:
    """Scene -> {"image": uint8 H x W x 3, "masks": bool K x H x W (visible), "coverage": float K x H x W}."""
    size = size or cfg.image_size
    ss = cfg.supersample
    fine = size * ss
    origin, d = camera_rays(scene.elevation, fine, cfg)
    d = d.reshape(-1, 3)
    o = np.broadcast_to(origin, d.shape)
    n_rays, k_obj = len(d), len(scene)

    # 1. primary rays: ground plane and every object; the nearest hit wins
    t_best = np.where(d[:, 2] < 0, -origin[2] / np.where(d[:, 2] < 0, d[:, 2], -1), np.inf)
    who = np.full(n_rays, -1)                   # -1: ground
    normal = np.tile([0.0, 0.0, 1.0], (n_rays, 1))
    for k in range(k_obj):
        t, nk = intersect_culled(int(scene.shape[k]), scene.scale[k], scene.translation[k], scene.rotation[k], o, d)
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        who = np.where(closer, k, who)
        normal = np.where(closer[:, None], nk, normal)
    hit = np.isfinite(t_best)
    p = o + np.where(hit, t_best, 0)[:, None] * d
    albedo = np.where(who[:, None] >= 0, scene.colour[np.maximum(who, 0)] if k_obj else 0,
                      np.asarray(cfg.ground_albedo))

    # 2. soft shadows: shadow rays to jittered points on the square area light, Lambert per light sample
    rng = np.random.default_rng([scene.seed, scene.attempt, 7])
    lc = np.asarray(cfg.light_centre)
    m = cfg.shadow_rays
    shade = np.zeros(n_rays)
    start = p + 1e-4 * normal
    for j in range(m):
        jitter = (rng.random((n_rays, 2)) + np.array([j % 4, j // 4 % 2])) / np.array([4, 2]) - 0.5  # stratified
        lp = lc + np.concatenate([jitter * cfg.light_size, np.zeros((n_rays, 1))], 1)
        to_l = lp - start
        dist = np.linalg.norm(to_l, axis=1)
        ld = to_l / dist[:, None]
        lam = np.maximum(np.einsum("ij,ij->i", normal, ld), 0)
        lit = lam > 0
        for k in range(k_obj):
            t, _ = intersect_culled(int(scene.shape[k]), scene.scale[k], scene.translation[k], scene.rotation[k],
                                    start, ld, normals=False)
            lit &= ~(t < dist)
        shade += lam * lit
    radiance = albedo * (cfg.ambient + (1 - cfg.ambient) * shade[:, None] / m)
    radiance = np.where(hit[:, None], radiance, 0.0)

    # 3. box-filter the subsamples, gamma-encode; masks from subsample coverage
    img = radiance.reshape(size, ss, size, ss, 3).mean((1, 3))
    image = np.clip(np.round(255 * np.clip(img, 0, 1) ** (1 / 2.2)), 0, 255).astype(np.uint8)
    who = who.reshape(size, ss, size, ss)
    coverage = np.stack([(who == k).mean((1, 3)) for k in range(k_obj)]) if k_obj else np.zeros((0, size, size))
    return {"image": image, "masks": coverage > 0.5, "coverage": coverage}


def make(seed: int, n_objects: int | None = None, cfg: SceneConfig = SceneConfig()) -> tuple[Scene, dict]:
    """Seed -> (scene, render), redrawn (next attempt) until every object shows at least ``min_visible`` pixels."""
    attempt = 0
    while True:
        scene = sample_scene(seed, n_objects, cfg, attempt)
        out = render(scene, cfg)
        if out["masks"].sum((1, 2)).min() >= cfg.min_visible:
            return scene, out
        attempt = scene.attempt + 1


# ---------------------------------------------------------------------------------------------- export

def render_many(seeds, cfg: SceneConfig = SceneConfig(), workers: int = 1) -> dict[str, np.ndarray]:
    """Seeds -> stacked arrays: images (N x H x W x 3 uint8) and the padded labels."""
    seeds = list(seeds)
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            results = pool.starmap(make, [(s, None, cfg) for s in seeds], chunksize=16)
    else:
        results = [make(s, None, cfg) for s in seeds]
    n, k, h = len(seeds), cfg.max_objects, cfg.image_size
    out = {"images": np.zeros((n, h, h, 3), np.uint8), "n_objects": np.zeros(n, np.int64),
           "shape": np.full((n, k), -1, np.int8), "scale": np.zeros((n, k, 3), np.float32),
           "translation": np.zeros((n, k, 3), np.float32), "rotation": np.zeros((n, k), np.float32),
           "colour": np.zeros((n, k, 3), np.float32), "masks": np.zeros((n, k, h, h), bool),
           "elevation": np.zeros(n, np.float32), "seed": np.asarray(seeds, np.int64)}
    for i, (scene, r) in enumerate(results):
        m = len(scene)
        out["images"][i] = r["image"]
        out["n_objects"][i] = m
        out["shape"][i, :m] = scene.shape
        out["scale"][i, :m] = scene.scale[:, None]
        out["translation"][i, :m] = scene.translation
        out["rotation"][i, :m] = scene.rotation
        out["colour"][i, :m] = scene.colour
        out["masks"][i, :m] = r["masks"]
        out["elevation"][i] = scene.elevation
    return out


def save_split(arrays: dict[str, np.ndarray], out: Path, split: str) -> tuple[Path, Path]:
    """Images via synth.data.save (labels = object count); every other label to <out>/labels/<split>.npz."""
    from synth import data

    out = Path(out)
    img_path = data.save(arrays["images"], arrays["n_objects"], out.name, split, root=out.parent)
    lab_path = out / "labels" / f"{split}.npz"
    lab_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(lab_path, **{k: v for k, v in arrays.items() if k != "images"})
    return img_path, lab_path


def load_labels(split: str, root: Path | None = None) -> dict[str, np.ndarray]:
    from synth import data

    path = Path(root or data.DATA_ROOT / "scenes") / "labels" / f"{split}.npz"
    if not path.exists():
        raise FileNotFoundError(f"no scene labels at {path}; run: python -m synth.giraffe.scenes export --n N "
                                f"--out {path.parent.parent}")
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def export(n: int, out: Path, n_heldout: int, cfg: SceneConfig = SceneConfig(), workers: int = 1) -> None:
    for split, seed0, count in (("train", 0, n), ("heldout", HELDOUT_SEED0, n_heldout)):
        if count <= 0:
            continue
        t = time.perf_counter()
        arrays = render_many(range(seed0, seed0 + count), cfg, workers)
        dt = time.perf_counter() - t
        paths = save_split(arrays, out, split)
        counts = np.bincount(arrays["n_objects"], minlength=cfg.max_objects + 1)[1:]
        print(f"{split}: {count} scenes in {dt:.1f} s ({count / dt:.1f} images/s, {workers} worker(s)); "
              f"objects 1..{cfg.max_objects}: {counts.tolist()}; {paths[0]} {paths[0].stat().st_size / 2**20:.1f} MiB, "
              f"{paths[1]} {paths[1].stat().st_size / 2**20:.1f} MiB", flush=True)


def preview(path: Path, n: int = 32, seed0: int = 0, cfg: SceneConfig = SceneConfig()) -> Path:
    from PIL import Image

    arrays = render_many(range(seed0, seed0 + n), cfg)
    cols = 8
    rows = -(-n // cols)
    s = cfg.image_size
    grid = np.full((rows * (s + 2), cols * (s + 2), 3), 255, np.uint8)
    for i, im in enumerate(arrays["images"]):
        r, c = divmod(i, cols)
        grid[r * (s + 2):r * (s + 2) + s, c * (s + 2):c * (s + 2) + s] = im
    Image.fromarray(grid).save(path)
    return Path(path)


def bench(n: int = 100, cfg: SceneConfig = SceneConfig()) -> float:
    make(0, None, cfg)  # warm-up
    t = time.perf_counter()
    render_many(range(1, n + 1), cfg)
    rate = n / (time.perf_counter() - t)
    print(f"| scenes | {cfg.image_size}x{cfg.image_size}, {cfg.supersample ** 2} rays/pixel, "
          f"{cfg.shadow_rays} shadow rays | {rate:.1f} images/s (one process) |")
    return rate


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="synth.giraffe.scenes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="render train (seeds 0..N-1) and heldout scenes to npz")
    e.add_argument("--n", type=int, required=True, help="training scenes")
    e.add_argument("--heldout", type=int, default=None, help="held-out scenes (default N/10, at least 1)")
    e.add_argument("--out", type=Path, required=True, help="data set folder, e.g. assets/data/scenes")
    e.add_argument("--workers", type=int, default=1, help="processes (the output does not depend on it)")
    v = sub.add_parser("preview", help="a PNG grid of scenes")
    v.add_argument("--out", type=Path, required=True)
    v.add_argument("--n", type=int, default=32)
    v.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("bench", help="render speed")
    b.add_argument("--n", type=int, default=100)
    a = p.parse_args(argv)
    if a.command == "export":
        if a.n < 1:
            p.error(f"--n must be at least 1, got {a.n}")
        export(a.n, a.out, max(1, a.n // 10) if a.heldout is None else a.heldout, workers=a.workers)
    elif a.command == "preview":
        print(preview(a.out, a.n, a.seed))
    else:
        bench(a.n)


if __name__ == "__main__":
    main()
