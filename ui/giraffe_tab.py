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

CONTROLS = {             # name (controlled_latents' argument): (slider label, slider step, short help)
    "rotation": ("(a) rotation", 1.0, "degrees about the vertical"),
    "elevation": ("(b) camera elevation", 0.5, "degrees above the ground"),
    "appearance": ("(c) appearance", 0.01, "0: its own code, 1: another seed's"),
    "depth": ("(d) depth", 0.05, "towards (+) or away from (-) the camera"),
    "horizontal": ("(e) horizontal", 0.05, "to the right (+) or left (-)"),
    "circle": ("(f) circle", 0.01, "fraction of a turn around the next object"),
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
frame_note = _student_errors(giraffe_render.frame_note)
animate = _student_errors(giraffe_render.animate)


def _unless_incomplete(fn, n_outputs: int):
    """fn for `input` events: a value the student is still typing (a gr.Error) leaves the outputs unchanged."""
    @functools.wraps(fn)
    def call(*args):
        try:
            return fn(*args)
        except gr.Error:
            return gr.skip() if n_outputs == 1 else (gr.skip(),) * n_outputs
    return call


# ---------------------------------------------------------------------------------------------- layout

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
    start = {**giraffe_render.DEFAULT_SCENE, **giraffe_render.neutral_controls(), "obj": 1}
    start["n_objects"] = min(start["n_objects"], n_max)

    # At 1280 x 720 the scene and every control fit on one screen: the scene on the left, the controls in two
    # columns on the right, so that the picture stays in view while any slider moves.
    gr.Markdown(
        "### GIRAFFE: a generated 3D scene you can edit\n"
        "Each object has its own shape code, appearance code and pose (Niemeyer and Geiger, CVPR 2021). Move a "
        "control (drag, click, or arrow keys) and the scene renders again with that one object changed.",
        elem_id="giraffe-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            image = gr.Image(render(**start, folder=folder), label="Scene", format="png", interactive=False,
                             height=giraffe_render.DISPLAY + 40, elem_id="giraffe-image")
            note = gr.Markdown(frame_note(**start, folder=folder), elem_id="giraffe-frame-note")
        with gr.Column(scale=3):
            with gr.Row():
                seed = gr.Number(value=start["seed"], label="Seed (press Enter)", elem_id="giraffe-seed",
                                 min_width=100)
                n_objects = gr.Slider(1, n_max, value=start["n_objects"], step=1, label="Number of objects",
                                      elem_id="giraffe-n-objects", min_width=140)
                obj = gr.Slider(1, start["n_objects"], value=start["obj"], step=1, label="Object to move",
                                elem_id="giraffe-object", min_width=140)
            sliders = {}
            names = list(CONTROLS)
            for pair in zip(names[::2], names[1::2]):
                with gr.Row():
                    for name in pair:
                        label, step, help_text = CONTROLS[name]
                        lo, hi, _ = CONTROL_RANGES[name]
                        sliders[name] = gr.Slider(lo, hi, value=start[name], step=step, label=label,
                                                  info=help_text, elem_id=f"giraffe-{name}", min_width=200)
            with gr.Row():
                reset = gr.Button("Reset the six controls", elem_id="giraffe-reset", min_width=120)
                sweep = gr.Dropdown([(label, name) for name, (label, _, _) in CONTROLS.items()], value="rotation",
                                    show_label=False, container=False, elem_id="giraffe-sweep", min_width=120)
                go = gr.Button("Animate", variant="primary", elem_id="giraffe-animate", min_width=100)
    gr.Markdown(
        f"Trained {info['step']} steps on procedural scenes of 1 to {n_max} objects ({info['minutes']:.0f} min on "
        "a CPU); it renders at 64 x 64, shown 4x larger. The seed draws the codes and the poses; the controls "
        "move the chosen object (the circle turns it around the next one) and the camera, as in the paper's "
        "figures. The note under the scene says when a control has taken the object out of the frame.")
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
        gif = gr.Image(label=f"Animation ({giraffe_render.N_FRAMES} frames, looping GIF)", type="filepath",
                       interactive=False, height=giraffe_render.DISPLAY + 40, scale=1, elem_id="giraffe-gif")
        alphas = gr.Gallery(alphas0, label="Alpha map of each object", columns=n_max, format="png",
                            height=giraffe_render.DISPLAY + 40, object_fit="contain", preview=False, scale=2,
                            elem_id="giraffe-alphas")
    with gr.Row():
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
        values = (seed, n_objects, rotation, elevation, appearance, depth, horizontal, circle, obj, folder)
        return (*side_views(*values), frame_note(*values))

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

    # Sliders fire `release` on mouse-up and on leaving their number box, but arrow keys (and every step of a drag,
    # and every keystroke in the box) fire only `input`: both re-render. A value still being typed on `input` (an
    # empty box, "-") leaves the pictures as they are; its message comes on release. One render queue for the tab
    # (concurrency_id) and always_last: a held arrow key or a fast drag keeps at most one render waiting per visitor.
    side = [alphas, features, background, note]
    strict = dict(api_visibility="private", show_progress="minimal", trigger_mode="always_last",
                  concurrency_id="giraffe-render", preprocess=False)
    live = {**strict, "show_progress": "hidden"}
    show_live, show_side_live = _unless_incomplete(show, 1), _unless_incomplete(show_side, len(side))
    committed = [seed.submit, seed.blur, obj.release, *[s.release for s in controls]]
    gr.on(committed, show, inputs, image, **strict).success(show_side, inputs, side, **strict)
    gr.on([obj.input, *[s.input for s in controls]], show_live, inputs, image, **live).success(
        show_side_live, inputs, side, **live)
    n_objects.release(fit_object, [n_objects, obj], obj, **strict).then(
        show, inputs, image, **strict).success(show_side, inputs, side, **strict)
    n_objects.input(fit_object, [n_objects, obj], obj, **live).then(
        show_live, inputs, image, **live).success(show_side_live, inputs, side, **live)
    reset.click(lambda: [giraffe_render.neutral_controls()[name] for name in CONTROLS], None, controls,
                api_visibility="private").then(show, inputs, image, **strict).success(show_side, inputs, side, **strict)
    go.click(show_animation, [sweep, *inputs], gif, preprocess=False, api_visibility="private")
    api_run.click(giraffe, [seed, n_objects, *controls], api_out, preprocess=False, api_name="giraffe")
