"""GIRAFFE tab (Niemeyer and Geiger, CVPR 2021): a scene of objects moved one at a time with six controls.

Widgets only: every event calls one function of synth.giraffe.render (``render``, ``side_views``, ``animate``),
which loads the EMA generator exported to assets/checkpoints/giraffe (or the folder SYNTH_GIRAFFE_DIR names) and
does the rendering; their ValueError and FileNotFoundError become a gr.Error with the same sentence.
Without a checkpoint the tab says how to train one and shows nothing else: an untrained GIRAFFE draws noise.

Named endpoint ``/giraffe(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle)`` ->
the scene as a 256 x 256 PNG, the controls applied to object 1, in the units of CONTROL_RANGES. The tab's own
updates, the side views and the animation are private endpoints.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr

from synth import data
from synth.giraffe import render as giraffe_render
from synth.giraffe.controls import CONTROL_RANGES

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
    "`python -m synth.giraffe.scenes export --n 20000 --out assets/data/scenes --workers 2`, then "
    "`python -m synth.train giraffe --steps 12000 --out runs/giraffe --threads 2`, then "
    "`python -m synth.train giraffe --export runs/giraffe assets/checkpoints/giraffe` "
    "(about 1 to 1.5 hours on a 2-core CPU; see docs/giraffe.md).")


def _student_errors(fn):
    """fn, with its ValueError / FileNotFoundError shown to the student as a gr.Error (the same sentence)."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, FileNotFoundError) as e:
            raise gr.Error(str(e)) from e
    return call


render = _student_errors(giraffe_render.render)
side_views = _student_errors(giraffe_render.side_views)
animate = _student_errors(giraffe_render.animate)


# ---------------------------------------------------------------------------------------------- layout

def _slider_info(name: str) -> str:
    meaning = CONTROL_RANGES[name][2].replace(" (None: the seed's)", "")  # the tab always sets the elevation
    return meaning + (" (needs 2 objects or more)" if name == "circle" else "")


def build_tab(folder: Path | str | None = None) -> None:
    folder = Path(folder) if folder else giraffe_render.default_folder()
    if not giraffe_render.has_checkpoint(folder):
        shown = folder.resolve()
        root = data.ASSETS.parent
        gr.Markdown(NOT_TRAINED.format(folder=shown.relative_to(root) if shown.is_relative_to(root) else shown),
                    elem_id="giraffe-not-trained")
        return
    info = giraffe_render.checkpoint_info(folder)
    n_max = info["n_objects"]
    start = {"seed": 0, "n_objects": min(2, n_max), **giraffe_render.neutral_controls(), "obj": 1}

    gr.Markdown(
        "### GIRAFFE: a generated 3D scene you can edit\n"
        "GIRAFFE (Niemeyer and Geiger, CVPR 2021) draws a scene as a composition of 3D feature fields, one per "
        "object and one for the background, each with its own shape code, appearance code and pose. Editing "
        "one object's pose or appearance, or the camera, and rendering again moves that object alone: the six "
        "controls below are the paper's. Drag a control and release it to render; the seed draws the codes and "
        f"poses. Trained {info['step']} steps on procedural scenes of 1 to {n_max} objects "
        f"({info['minutes']:.0f} min on a CPU); it renders at 64 x 64, shown 4x larger.")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            seed = gr.Number(value=start["seed"], label="Seed (press Enter)", elem_id="giraffe-seed")
            n_objects = gr.Slider(1, n_max, value=start["n_objects"], step=1, label="Number of objects",
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
                             height=giraffe_render.DISPLAY + 40, elem_id="giraffe-image")
            with gr.Row():
                sweep = gr.Dropdown([(label, name) for name, (label, _) in CONTROLS.items()], value="rotation",
                                    label="Control to sweep", elem_id="giraffe-sweep")
                go = gr.Button("Animate", variant="primary", elem_id="giraffe-animate")
            gif = gr.Image(label=f"Animation ({giraffe_render.N_FRAMES} frames, looping GIF)", type="filepath",
                           interactive=False, height=giraffe_render.DISPLAY + 40, elem_id="giraffe-gif")
    gr.Markdown(
        "### Inside the scene\n"
        "Every camera ray is sampled at points in 3D; at each point the fields are **composed**: the objects' "
        "and the background's **densities add**, and the point's **feature is the density-weighted mean** of "
        f"the fields' features. **Volume rendering** along the rays gives a 16 x 16 image of {info['feat_dim']} "
        "feature channels (shown below by its first three principal components as red, green and blue), and a "
        "**2D neural renderer** (convolutions and upsampling) turns it into the 64 x 64 colour image. Each "
        "object's alpha map is its share of the rendered opacity (white: the pixel is that object, hidden parts "
        "excluded); the background view renders the same scene with every object removed.")
    alphas0, features0, background0 = side_views(**start, folder=folder)
    with gr.Row():
        alphas = gr.Gallery(alphas0, label="Alpha map of each object", columns=n_max, format="png",
                            height=giraffe_render.DISPLAY + 40, object_fit="contain", preview=False, scale=2,
                            elem_id="giraffe-alphas")
        features = gr.Image(features0, label="Feature image (16 x 16, first three principal components)",
                            format="png", interactive=False, height=giraffe_render.DISPLAY + 40, scale=1,
                            elem_id="giraffe-features")
        background = gr.Image(background0, label="Background alone", format="png", interactive=False,
                              height=giraffe_render.DISPLAY + 40, scale=1, elem_id="giraffe-background")
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
                       giraffe_render.N_FRAMES, folder)

    def giraffe(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle):
        """The seed's scene of n_objects objects (1..K) with the six controls applied to object 1 -> a 256 x
        256 PNG. rotation: degrees added to the object's angle; elevation: camera elevation in degrees;
        appearance: 0..1 towards another appearance code; depth, horizontal: scene units; circle: fraction
        of a turn around object 2."""
        return render(seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, 1, folder)

    def fit_object(n, current):
        """The object slider's range follows the number of objects (its value clamped into it)."""
        n, current = giraffe_render.as_whole(n), giraffe_render.as_whole(current)
        if not (isinstance(n, int) and 1 <= n <= n_max):
            return gr.update()                               # the render that follows says what is wrong
        return gr.update(maximum=n, value=min(current, n) if isinstance(current, int) else 1)

    private = dict(api_visibility="private", show_progress="minimal", trigger_mode="always_last")
    rerender = [seed.submit, seed.blur, obj.release, *[s.release for s in controls]]
    gr.on(rerender, show, inputs, image, preprocess=False, **private).success(
        show_side, inputs, [alphas, features, background], preprocess=False, **private)
    n_objects.release(fit_object, [n_objects, obj], obj, preprocess=False, **private).then(
        show, inputs, image, preprocess=False, **private).success(
        show_side, inputs, [alphas, features, background], preprocess=False, **private)
    reset.click(lambda: [giraffe_render.neutral_controls()[name] for name in CONTROLS], None, controls, **private).then(
        show, inputs, image, preprocess=False, **private).success(
        show_side, inputs, [alphas, features, background], preprocess=False, **private)
    go.click(show_animation, [sweep, *inputs], gif, preprocess=False, api_visibility="private")
    api_run.click(giraffe, [seed, n_objects, *controls], api_out, preprocess=False, api_name="giraffe")
