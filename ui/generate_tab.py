"""Generate tab: samples from the bundled GAN and DCGAN, a latent walk, and the generator's architecture."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from synth import data, generate
from synth.models import GENERATORS

DISPLAY = 112  # digits are tiny: show them at 112 px with nearest-neighbour upscaling (pixels stay visible)


def _display(images: np.ndarray) -> list[np.ndarray]:
    out = []
    for im in images:
        im = im[..., 0] if im.shape[-1] == 1 else im
        k = max(1, DISPLAY // im.shape[0])
        out.append(np.kron(im, np.ones((k, k) + (1,) * (im.ndim - 2), dtype=np.uint8)))
    return out


def grid(images: np.ndarray, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """uint8 N x H x W x C -> one uint8 image, nrow per row, black padding."""
    n, h, w, c = images.shape
    rows = int(np.ceil(n / nrow))
    out = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), np.uint8)
    for i, im in enumerate(images):
        r, q = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = im
    return out[..., 0] if c == 1 else out


def _check_model(model: str) -> None:
    if model not in generate.available():
        raise gr.Error(f"Unknown model {model!r}. Choose one of: {', '.join(generate.available())}.")


def generate_images(model: str, n: float, seed: float) -> list[np.ndarray]:
    _check_model(model)
    try:
        return _display(generate.sample(model, n, seed))
    except ValueError as e:
        raise gr.Error(str(e)) from e


def interpolate_images(model: str, seed_a: float, seed_b: float, steps: float,
                       mode: str = "linear") -> list[np.ndarray]:
    _check_model(model)
    try:
        return _display(generate.interpolate(model, seed_a, seed_b, steps, mode))
    except ValueError as e:
        raise gr.Error(str(e)) from e


def architecture_table(model: str) -> tuple[pd.DataFrame, str]:
    _check_model(model)
    rows = generate.architecture(model)
    df = pd.DataFrame(rows)[["layer", "type", "output", "params"]]
    total = int(df["params"].sum())
    spec = GENERATORS[model]
    meta = generate.checkpoint.read_config(generate.checkpoint_dir(model))
    info = (f"**{spec.title}**: generator with {total:,} parameters; trained {meta.get('step', '?')} steps "
            f"({meta.get('wall_time_s', 0) / 60:.0f} min on a 2-core CPU). Shapes are traced from the live model.")
    return df, info


def training_curves(model: str) -> str | None:
    path = generate.checkpoint_dir(model) / "losses.png"
    return str(path) if path.exists() else None


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
            model = gr.Dropdown([(GENERATORS[m].title, m) for m in models], value=default, label="Model")
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
                curves = gr.Image(training_curves(default), label="Training losses", type="filepath",
                                  interactive=False)
                real = gr.Image(value=grid(data.load("digits", "train").images[:32]), label="Real training digits",
                                interactive=False, format="png")
    go.click(generate_images, [model, n, seed], gallery, api_name="generate")
    walk.click(interpolate_images, [model, seed_a, seed_b, steps, mode], strip, api_name="interpolate")
    model.change(architecture_table, model, [layers, info], api_visibility="private").then(
        training_curves, model, curves, api_visibility="private")
