"""Train a GAN: press Train and watch a small GAN learn digits, as on the lecture's training slides.

Every browser session trains its own model in a background thread (synth.gan.live.LivePool); at most
MAX_RUNNING run at once and the next visitor is told to wait. Closing the page deletes the session's state,
whose delete callback stops that training: no orphan threads.
"""

from __future__ import annotations

import uuid
from functools import partial

import gradio as gr

from synth.gan import live

MAX_RUNNING = 2
POOL = live.LivePool(max_running=MAX_RUNNING)
OBJECTIVES = {
    "non-saturating: J(G) = -log D(G(z))": False,
    "minimax: J(G) = -J(D) (stalls)": True,
}
OPTIMIZERS = {"Adam (the DCGAN paper's)": "adam", "SGD with momentum (the GAN paper's)": "sgd"}
DEFAULTS = live.LiveSettings()


def preset(minimax: bool):
    """The stall setting (the GAN paper's SGD, D trained alone first) with either J(G)."""
    names = {v: k for k, v in OBJECTIVES.items()}
    opt = {v: k for k, v in OPTIMIZERS.items()}
    return names[minimax], live.STALL["lr"], opt[live.STALL["optimizer"]], live.STALL["d_first"]


def defaults():
    return (next(iter(OBJECTIVES)), DEFAULTS.lr, next(iter(OPTIMIZERS)), DEFAULTS.d_first)

HELP = f"""
A discriminator D learns to tell real digits (D(x) near 1) from the generator's fakes (D(G(z)) near 0) by
minimising **J(D) = -log D(x) - log(1 - D(G(z)))**; the generator G is penalised when D spots its fakes.
With the **minimax** objective G minimises -J(D), whose gradient vanishes when D wins early: J(D) falls to 0,
D(fake) to 0, and the samples stay noise. The **non-saturating** J(G) = -log D(G(z)) keeps G learning.
To see it, press **Minimax from a confident D** (the GAN paper's SGD, and D trained alone first until it rejects
G's samples), then **Non-saturating, same start**, and Train after each.

Each press of Train starts a fresh model (multilayer perceptrons, 28x28 digits) for this browser tab only; at
most {MAX_RUNNING} trainings run on this machine at once. The grid shows the same 64 noise vectors every update.
"""


def start(key: str | None, lr: float, steps: float, objective: str, optimizer: str, d_first: float):
    key = key or uuid.uuid4().hex
    try:
        settings = live.LiveSettings(lr=lr, steps_per_update=steps, minimax=OBJECTIVES.get(objective, False),
                                     optimizer=OPTIMIZERS.get(optimizer, optimizer), d_first=d_first)
        POOL.start(key, settings)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    except live.PoolFull as e:
        gr.Warning(str(e))
        return key, gr.Timer(active=False)
    return key, gr.Timer(active=True)


def stop(key: str | None):
    if key:
        POOL.stop(key)
    return show(key)[:-1] + (gr.Timer(active=False),)


def reset(key: str | None):
    if key:
        POOL.reset(key)
    return show(key)[:-1] + (gr.Timer(active=False),)


def show(key: str | None):
    snap = POOL.snapshot(key) if key else None
    if snap is None:
        return None, None, None, live.status_text(None), gr.Timer()
    return (snap.grid, live.curves_table(snap), live.d_outputs_table(snap), live.status_text(snap),
            gr.Timer(active=snap.running))


def build_tab() -> None:
    gr.Markdown(HELP)
    key = gr.State(None, delete_callback=lambda k: POOL.reset(k) if k else None)
    timer = gr.Timer(1.0, active=False)
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            objective = gr.Radio(list(OBJECTIVES), value=next(iter(OBJECTIVES)), label="Generator's loss J(G)")
            optimizer = gr.Radio(list(OPTIMIZERS), value=next(iter(OPTIMIZERS)), label="Optimiser")
            d_first = gr.Slider(*live.D_FIRST_RANGE, value=DEFAULTS.d_first, step=100,
                                label="D trains alone first (steps)")
            lr = gr.Number(value=live.LiveSettings.lr, elem_id="live-lr",
                           label="Learning rate (" + "; ".join(f"{name}: {lo:g} to {hi:g}"
                                                             for name, (lo, hi) in live.LR_RANGES.items()) + ")")
            steps = gr.Slider(*live.STEPS_RANGE, value=live.LiveSettings.steps_per_update, step=1,
                              label="Steps per update")
            with gr.Row():
                stall_btn = gr.Button("Minimax from a confident D", size="sm", elem_id="live-stall")
                recover_btn = gr.Button("Non-saturating, same start", size="sm")
                default_btn = gr.Button("Defaults", size="sm")
            with gr.Row():
                train_btn = gr.Button("Train", variant="primary", elem_id="live-train")
                stop_btn = gr.Button("Stop", elem_id="live-stop")
                reset_btn = gr.Button("Reset", elem_id="live-reset")
            status = gr.Markdown(live.status_text(None), elem_id="live-status")
        with gr.Column(scale=2):
            grid = gr.Image(label="G(z) for 64 fixed noise vectors", type="numpy", image_mode="L", height=300,
                            interactive=False, elem_id="live-grid")
    with gr.Row():
        curves = gr.LinePlot(x="step", y="value", color="curve", label="J(D) (blue) and J(G) (orange)", height=260,
                             color_map={"J(D)": "#1f77b4", "J(G)": "#ff7f0e", "J(G) (minimax)": "#ff7f0e"})
        outputs = gr.BarPlot(x="D(x)", y="images", color="batch", height=260,
                             label="D's outputs on the last batches: real digits (blue), G's fakes (orange)",
                             color_map={"real digits": "#1f77b4", "G's fakes": "#ff7f0e"})
    views = [grid, curves, outputs, status, timer]
    settings = [objective, lr, optimizer, d_first]
    stall_btn.click(partial(preset, True), None, settings, api_visibility="private")
    recover_btn.click(partial(preset, False), None, settings, api_visibility="private")
    default_btn.click(defaults, None, settings, api_visibility="private")
    train_btn.click(start, [key, lr, steps, objective, optimizer, d_first], [key, timer], api_visibility="private")
    stop_btn.click(stop, key, views, api_visibility="private")
    reset_btn.click(reset, key, views, api_visibility="private")
    timer.tick(show, key, views, api_visibility="private", show_progress="hidden")
