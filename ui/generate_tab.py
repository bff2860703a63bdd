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


def architecture_table(model: str) -> tuple[pd.DataFrame, str]:
    with _shown_to_the_user():
        return generate.architecture_table(model)


def build_tab() -> None:
    models = generate.available()
    if not models:
        gr.Markdown("No generator checkpoints found in assets/checkpoints: run `python -m synth.train dcgan` first.")
        return
    default = "dcgan" if "dcgan" in models else models[0]
    gr.Markdown("Draw images from a GAN and a DCGAN trained on handwritten digits. The same seed always gives "
                "the same images.")
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            model = gr.Dropdown(generate.choices(), value=default, label="Model")
            n = gr.Slider(1, generate.MAX_SAMPLES, value=16, step=1, label="Number of images", elem_id="n-images")
            seed = gr.Number(value=0, label="Seed", elem_id="seed")
            go = gr.Button("Generate", variant="primary", elem_id="generate-btn")
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="Samples", columns=8, height="auto", elem_id="samples",
                                 format="png", preview=False)
    gr.Markdown("### Latent walk\nWalk in a straight line (linear) or along the sphere (slerp) from one seed's "
                "z to another's, as in the DCGAN paper.")
    with gr.Row():
        seed_a = gr.Number(value=1, label="Seed A")
        seed_b = gr.Number(value=2, label="Seed B")
        steps = gr.Slider(2, 16, value=8, step=1, label="Steps")
        mode = gr.Radio(list(generate.INTERP_MODES), value="slerp", label="Interpolation")
        walk = gr.Button("Walk", elem_id="walk-btn")
    strip = gr.Gallery(label="Latent walk", columns=8, height="auto", elem_id="walk", format="png", preview=False)
    with gr.Accordion("Architecture and training", open=False):
        df0, info0 = architecture_table(default)
        info = gr.Markdown(info0)
        with gr.Row():
            layers = gr.Dataframe(df0, label="Generator layers (output shape after each)", interactive=False)
            with gr.Column():
                curves = gr.Image(generate.training_curves(default), label="Training losses", type="filepath",
                                  interactive=False)
                real = gr.Image(value=generate.training_digits(32), label="Real training digits",
                                interactive=False, format="png")
    go.click(generate_images, [model, n, seed], gallery, api_name="generate")
    walk.click(interpolate_images, [model, seed_a, seed_b, steps, mode], strip, api_name="interpolate")
    model.change(architecture_table, model, [layers, info], api_visibility="private").then(
        generate.training_curves, model, curves, api_visibility="private")
