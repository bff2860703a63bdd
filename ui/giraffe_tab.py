"""GIRAFFE tab (Niemeyer and Geiger, CVPR 2021): a scene of objects moved one at a time with six controls.

A thin layer over synth.models.giraffe (``controlled_latents``, ``sweep_values``, ``views``) and the EMA
generator exported to assets/checkpoints/giraffe (``python -m synth.train_giraffe --export RUN DEST``).
Without a checkpoint the tab says how to train one and shows nothing else: an untrained GIRAFFE draws noise.

The environment variable SYNTH_GIRAFFE_DIR, when set, names another checkpoint folder to use instead of the
bundled one (a run being trained, or a few-step smoke checkpoint while working on the tab).

Named endpoint ``/giraffe(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle)`` ->
the scene as a 256 x 256 PNG, the controls applied to object 1, in the units of CONTROL_RANGES. The tab's own
updates, the side views and the animation are private endpoints.
"""

from __future__ import annotations

import os
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from synth import checkpoint, data
from synth.models.giraffe import CONTROL_RANGES, Generator, Latents, controlled_latents, sweep_values, views
from synth.train_giraffe import load_generator

FOLDER_ENV = "SYNTH_GIRAFFE_DIR"
BUNDLED = data.ASSETS / "checkpoints" / "giraffe"
DISPLAY = 256            # the 64 x 64 scene, 4x nearest-neighbour upscaled (its pixels stay visible)
ALPHA_DISPLAY = 128
N_FRAMES = 24            # frames of an animation
FRAME_MS = 80            # per frame: 24 frames loop in about 2 s
GIF_MAX_AGE_S = 3600     # older animations are deleted from the temp folder (gradio has its own copy)

CONTROLS = {             # name (controlled_latents' argument): (slider label, slider step)
    "rotation": ("(a) rotation", 1.0),
    "elevation": ("(b) camera elevation", 0.5),
    "appearance": ("(c) appearance", 0.01),
    "depth": ("(d) depth", 0.05),
    "horizontal": ("(e) horizontal", 0.05),
    "circle": ("(f) circle around the next object", 0.01),
}

NOT_TRAINED = (
    "**GIRAFFE is not trained yet**: there is no checkpoint in `{folder}`, and an untrained GIRAFFE draws "
    "noise, so this tab shows nothing until one exists. Render the scenes, train and export with "
    "`python -m synth.scenes export --n 20000 --out assets/data/scenes --workers 2`, then "
    "`python -m synth.train_giraffe --steps 12000 --out runs/giraffe --threads 2`, then "
    "`python -m synth.train_giraffe --export runs/giraffe assets/checkpoints/giraffe` "
    "(about 1 to 1.5 hours on a 2-core CPU; see docs/giraffe.md).")


def default_folder() -> Path:
    return Path(os.environ.get(FOLDER_ENV) or BUNDLED)


def has_checkpoint(folder: Path) -> bool:
    return (Path(folder) / "config.json").exists() and (Path(folder) / "generator_ema.safetensors").exists()


@lru_cache(maxsize=4)
def _load(folder: str) -> Generator:
    return load_generator(Path(folder))


def generator(folder: Path | str | None = None) -> Generator:
    """The EMA generator of ``folder`` (default: default_folder()), loaded once per folder, in eval mode."""
    folder = Path(folder or default_folder()).resolve()
    if not has_checkpoint(folder):
        raise gr.Error(f"No GIRAFFE checkpoint in {folder}: train and export one first (docs/giraffe.md).")
    return _load(str(folder))


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

def _whole(v):
    """Number boxes and sliders send floats: a whole float becomes an int; anything else is passed on as it is
    for controlled_latents to refuse with a message naming the argument."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def scene(seed, n_objects, rotation=0.0, elevation=None, appearance=0.0, depth=0.0, horizontal=0.0, circle=0.0,
          obj=1, folder=None) -> tuple[Generator, Latents]:
    """The generator and the latents of the seed's scene with the six controls applied to object ``obj``
    (1-based, as the tab shows it). Bad values raise gr.Error with controlled_latents' message."""
    G = generator(folder)
    seed, n_objects, obj = _whole(seed), _whole(n_objects), _whole(obj)
    n_ok = isinstance(n_objects, (int, np.integer)) and 1 <= n_objects <= G.cfg.n_objects
    if n_ok and not (isinstance(obj, (int, np.integer)) and 1 <= obj <= n_objects):
        raise gr.Error(f"object must be a whole number 1..{n_objects} (the scene has {n_objects} object"
                       f"{'s' if n_objects > 1 else ''}), got {obj!r}")
    try:
        lat = controlled_latents(G.cfg, seed, n_objects, rotation=rotation, elevation=elevation,
                                 appearance=appearance, depth=depth, horizontal=horizontal, circle=circle,
                                 obj=obj - 1 if n_ok else 0)   # a bad n_objects: its own message comes first
    except ValueError as e:
        raise gr.Error(str(e)) from e
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
        raise gr.Error(f"Unknown control {control!r}; choose one of: {', '.join(CONTROL_RANGES)}.")
    try:
        path_values = sweep_values(control, int(n_frames))
    except ValueError as e:
        raise gr.Error(str(e)) from e
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


# ---------------------------------------------------------------------------------------------- layout

def _slider_info(name: str) -> str:
    meaning = CONTROL_RANGES[name][2].replace(" (None: the seed's)", "")  # the tab always sets the elevation
    return meaning + (" (needs 2 objects or more)" if name == "circle" else "")


def build_tab(folder: Path | str | None = None) -> None:
    folder = Path(folder) if folder else default_folder()
    if not has_checkpoint(folder):
        shown = folder.resolve()
        root = data.ASSETS.parent
        gr.Markdown(NOT_TRAINED.format(folder=shown.relative_to(root) if shown.is_relative_to(root) else shown),
                    elem_id="giraffe-not-trained")
        return
    G = generator(folder)
    cfg, meta = G.cfg, checkpoint.read_config(folder)
    start = {"seed": 0, "n_objects": min(2, cfg.n_objects), **neutral_controls(), "obj": 1}

    gr.Markdown(
        "### GIRAFFE: a generated 3D scene you can edit\n"
        "GIRAFFE (Niemeyer and Geiger, CVPR 2021) draws a scene as a composition of 3D feature fields, one per "
        "object and one for the background, each with its own shape code, appearance code and pose. Editing "
        "one object's pose or appearance, or the camera, and rendering again moves that object alone: the six "
        "controls below are the paper's. Drag a control and release it to render; the seed draws the codes and "
        f"poses. Trained {meta.get('step', '?')} steps on procedural scenes of 1 to {cfg.n_objects} objects "
        f"({meta.get('wall_time_s', 0) / 60:.0f} min on a CPU); it renders at 64 x 64, shown 4x larger.")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            seed = gr.Number(value=start["seed"], label="Seed (press Enter)", elem_id="giraffe-seed")
            n_objects = gr.Slider(1, cfg.n_objects, value=start["n_objects"], step=1, label="Number of objects",
                                  elem_id="giraffe-n-objects")
            obj = gr.Slider(1, start["n_objects"], value=start["obj"], step=1, label="object",
                            info="which object the controls move (the circle turns it around the next one)",
                            elem_id="giraffe-object")
            sliders = {}
            for name, (label, step) in CONTROLS.items():
                lo, hi, _ = CONTROL_RANGES[name]
                sliders[name] = gr.Slider(lo, hi, value=start[name], step=step, label=label,
                                          info=_slider_info(name), elem_id=f"giraffe-{name}")
            reset = gr.Button("Reset the six controls", elem_id="giraffe-reset")
        with gr.Column(scale=2):
            image = gr.Image(render(**start, folder=folder), label="Scene", format="png", interactive=False,
                             height=DISPLAY + 40, elem_id="giraffe-image")
            with gr.Row():
                sweep = gr.Dropdown([(label, name) for name, (label, _) in CONTROLS.items()], value="rotation",
                                    label="Control to sweep", elem_id="giraffe-sweep")
                go = gr.Button("Animate", variant="primary", elem_id="giraffe-animate")
            gif = gr.Image(label=f"Animation ({N_FRAMES} frames, looping GIF)", type="filepath",
                           interactive=False, height=DISPLAY + 40, elem_id="giraffe-gif")
    gr.Markdown(
        "### Inside the scene\n"
        "Every camera ray is sampled at points in 3D; at each point the fields are **composed**: the objects' "
        "and the background's **densities add**, and the point's **feature is the density-weighted mean** of "
        f"the fields' features. **Volume rendering** along the rays gives a 16 x 16 image of {cfg.feat_dim} "
        "feature channels (shown below by its first three principal components as red, green and blue), and a "
        "**2D neural renderer** (convolutions and upsampling) turns it into the 64 x 64 colour image. Each "
        "object's alpha map is its share of the rendered opacity (white: the pixel is that object, hidden parts "
        "excluded); the background view renders the same scene with every object removed.")
    alphas0, features0, background0 = side_views(**start, folder=folder)
    with gr.Row():
        alphas = gr.Gallery(alphas0, label="Alpha map of each object", columns=cfg.n_objects, format="png",
                            height=DISPLAY + 40, object_fit="contain", preview=False, scale=2,
                            elem_id="giraffe-alphas")
        features = gr.Image(features0, label="Feature image (16 x 16, first three principal components)",
                            format="png", interactive=False, height=DISPLAY + 40, scale=1,
                            elem_id="giraffe-features")
        background = gr.Image(background0, label="Background alone", format="png", interactive=False,
                              height=DISPLAY + 40, scale=1, elem_id="giraffe-background")
    with gr.Accordion("One call (the /giraffe API)", open=False):
        gr.Markdown(
            "The scene with the controls above applied to **object 1**, as `gradio_client` users get it:\n"
            "```python\nfrom gradio_client import Client\n"
            "Client(\"http://127.0.0.1:7860\").predict(seed=0, n_objects=2, rotation=90, elevation=40, "
            "appearance=0, depth=0, horizontal=0, circle=0, api_name=\"/giraffe\")   # a PNG path\n```\n"
            "Units and ranges are those of the sliders; a value outside them is refused with a message naming it.")
        api_run = gr.Button("Call /giraffe with the values above", elem_id="giraffe-api-run")
        api_out = gr.Image(label="/giraffe result", format="png", interactive=False, elem_id="giraffe-api-out")

    # The handlers get the raw numbers (preprocess=False): they check every value themselves, so an
    # out-of-range API value is refused with controlled_latents' message, which names the control, rather
    # than gr.Slider's "Value 200 is greater than maximum value 180."
    controls = [sliders[name] for name in CONTROLS]
    inputs = [seed, n_objects, *controls, obj]

    def show(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj):
        return render(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj, folder)

    def show_side(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj):
        return side_views(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj, folder)

    def show_animation(control, seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj):
        return animate(control, seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj,
                       N_FRAMES, folder)

    def giraffe(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle):
        """The seed's scene of n_objects objects (1..K) with the six controls applied to object 1 -> a 256 x
        256 PNG. rotation: degrees added to the object's angle; elevation: camera elevation in degrees;
        appearance: 0..1 towards another appearance code; depth, horizontal: scene units; circle: fraction
        of a turn around object 2."""
        return render(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, 1, folder)

    def fit_object(n, current):
        """The object slider's range follows the number of objects (its value clamped into it)."""
        n, current = _whole(n), _whole(current)
        if not (isinstance(n, int) and 1 <= n <= cfg.n_objects):
            return gr.update()                               # the render that follows says what is wrong
        return gr.update(maximum=n, value=min(current, n) if isinstance(current, int) else 1)

    private = dict(api_visibility="private", show_progress="minimal", trigger_mode="always_last")
    rerender = [seed.submit, seed.blur, obj.release, *[s.release for s in controls]]
    gr.on(rerender, show, inputs, image, preprocess=False, **private).success(
        show_side, inputs, [alphas, features, background], preprocess=False, **private)
    n_objects.release(fit_object, [n_objects, obj], obj, preprocess=False, **private).then(
        show, inputs, image, preprocess=False, **private).success(
        show_side, inputs, [alphas, features, background], preprocess=False, **private)
    reset.click(lambda: [neutral_controls()[name] for name in CONTROLS], None, controls, **private).then(
        show, inputs, image, preprocess=False, **private).success(
        show_side, inputs, [alphas, features, background], preprocess=False, **private)
    go.click(show_animation, [sweep, *inputs], gif, preprocess=False, api_visibility="private")
    api_run.click(giraffe, [seed, n_objects, *controls], api_out, preprocess=False, api_name="giraffe")
