"""Generate tab: samples from the bundled GAN and DCGAN, a latent walk, and the generator's architecture."""

from __future__ import annotations

from contextlib import contextmanager

import gradio as gr
import numpy as np
import pandas as pd

from synth.gan import generate


@contextmanager
def _shown_to_the_user():
    """synth never imports gradio: its ValueError becomes a gr.Error, whose sentence the page shows."""
    try:
        yield
    except ValueError as e:
        raise gr.Error(str(e)) from e


def generate_images(model: str, n: float, seed: float) -> list[np.ndarray]:
    with _shown_to_the_user():
        return generate.sample_gallery(model, n, seed)


def interpolate_images(model: str, seed_a: float, seed_b: float, steps: float,
                       mode: str = "linear") -> list[np.ndarray]:
    with _shown_to_the_user():
        return generate.walk_gallery(model, seed_a, seed_b, steps, mode)


# The named endpoints return the images alone (what gradio_client users get); the label naming the model is set
# by a private step right after, or together with the images when the model changes.

def samples_label(model: str, n: float, seed: float) -> gr.Gallery:
    return gr.Gallery(label=generate.sample_caption(model, n, seed))


def walk_label(model: str, seed_a: float, seed_b: float, steps: float, mode: str) -> gr.Gallery:
    return gr.Gallery(label=generate.walk_caption(model, seed_a, seed_b, steps, mode))


def labelled_samples(model: str, n: float, seed: float) -> gr.Gallery:
    return gr.Gallery(generate_images(model, n, seed), label=generate.sample_caption(model, n, seed))


def labelled_walk(model: str, seed_a: float, seed_b: float, steps: float, mode: str) -> gr.Gallery:
    return gr.Gallery(interpolate_images(model, seed_a, seed_b, steps, mode),
                      label=generate.walk_caption(model, seed_a, seed_b, steps, mode))


def architecture_table(model: str) -> tuple[pd.DataFrame, str]:
    with _shown_to_the_user():
        return generate.architecture_table(model)


def model_note(model: str) -> str:
    with _shown_to_the_user():
        return generate.model_note(model)


def build_tab() -> None:
    models = generate.available()
    if not models:
        gr.Markdown("No generator checkpoints found in assets/checkpoints: run `python -m synth.train dcgan` first.")
        return
    default = "dcgan" if "dcgan" in models else models[0]
    shown = dict(columns=8, height="auto", format="png", preview=False, show_label=True)
    start = {"n": 16, "seed": 0, "seed_a": 1, "seed_b": 2, "steps": 8, "mode": "slerp"}
    gr.Markdown("Draw images from a GAN and a DCGAN trained on handwritten digits. The same seed always gives "
                "the same images; changing the model draws again with the new one.")
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            model = gr.Dropdown(generate.choices(), value=default, label="Model", elem_id="model")
            note = gr.Markdown(model_note(default), elem_id="model-note")
            n = gr.Slider(1, generate.MAX_SAMPLES, value=start["n"], step=1, label="Number of images",
                          elem_id="n-images")
            seed = gr.Number(value=start["seed"], label="Seed", elem_id="seed")
            go = gr.Button("Generate", variant="primary", elem_id="generate-btn")
        with gr.Column(scale=3):
            # the first view: the default model's samples, labelled like every later one
            gallery = gr.Gallery(generate.sample_gallery(default, start["n"], start["seed"]),
                                 label=generate.sample_caption(default, start["n"], start["seed"]), **shown,
                                 elem_id="samples")
    gr.Markdown("### Latent walk\nWalk in a straight line (linear) or along the sphere (slerp) from one seed's "
                "z to another's, as in the DCGAN paper.")
    with gr.Row():
        seed_a = gr.Number(value=start["seed_a"], label="Seed A")
        seed_b = gr.Number(value=start["seed_b"], label="Seed B")
        steps = gr.Slider(2, 16, value=start["steps"], step=1, label="Steps")
        mode = gr.Radio(list(generate.INTERP_MODES), value=start["mode"], label="Interpolation")
        walk = gr.Button("Walk", elem_id="walk-btn")
    walk0 = [default, start["seed_a"], start["seed_b"], start["steps"], start["mode"]]
    strip = gr.Gallery(generate.walk_gallery(*walk0), label=generate.walk_caption(*walk0), **shown, elem_id="walk")
    with gr.Accordion("Architecture and training", open=False):
        df0, info0 = architecture_table(default)
        info = gr.Markdown(info0)
        with gr.Row():
            layers = gr.Dataframe(df0, label="Generator layers (output shape after each)", interactive=False)
            with gr.Column():
                curves = gr.Image(generate.training_curves(default), label="Training losses", type="filepath",
                                  interactive=False)
                real = gr.Image(value=generate.training_digits(3), elem_id="real-digits", interactive=False,
                                label="Real training digits (3 of every class, one column per class)", format="png")
    # a new model draws again at once, its name on the images, so that what is on screen is always the named model's
    private = dict(api_visibility="private", trigger_mode="always_last")
    walk_inputs = [model, seed_a, seed_b, steps, mode]
    go.click(generate_images, [model, n, seed], gallery, api_name="generate").success(
        samples_label, [model, n, seed], gallery, show_progress="hidden", **private)
    walk.click(interpolate_images, walk_inputs, strip, api_name="interpolate").success(
        walk_label, walk_inputs, strip, show_progress="hidden", **private)
    model.change(labelled_samples, [model, n, seed], gallery, **private).then(
        labelled_walk, walk_inputs, strip, **private).then(
        model_note, model, note, **private).then(
        architecture_table, model, [layers, info], **private).then(
        generate.training_curves, model, curves, **private)
