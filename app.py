"""Image synthesis, seen and measured: the lecture's generators and hole fillers, and realism studies.

    python app.py                      # every tab, http://127.0.0.1:7860
    python app.py --study DIR          # raters only: the study tab for one study, nothing else
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import gradio as gr

ROOT = Path(__file__).resolve().parent
RESULTS_PASSWORD_ENV = "SYNTH_RESULTS_PASSWORD"


def theme() -> gr.themes.Base:
    """Gradio's default theme with help text and slider ranges dark enough for a projector (4.5:1 or more;
    the default's subdued grey is 1.9:1)."""
    return gr.themes.Default().set(body_text_color_subdued="*neutral_600", block_info_text_color="*neutral_600")


def build_full_app(studies_root: Path, results_password: str | None) -> gr.Blocks:
    from ui import generate_tab, giraffe_tab, guided_tab, inpaint_tab, results_tab, studies_tab, train_gan_tab

    with gr.Blocks(title="Image synthesis: see it, measure it") as demo:
        gr.Markdown("# Image synthesis: see it, measure it")
        with gr.Tab("Generate", id="generate"):
            generate_tab.build_tab()
        with gr.Tab("Train a GAN", id="train_gan"):
            train_gan_tab.build_tab()
        with gr.Tab("GIRAFFE", id="giraffe"):
            giraffe_tab.build_tab()
        with gr.Tab("Hole filling", id="inpaint"):
            inpaint_tab.build_tab()
        with gr.Tab("Guided inpainting", id="guided"):
            guided_tab.build_tab()
        with gr.Tab("Studies", id="studies"):
            studies_tab.build_tab(studies_root)
        with gr.Tab("Results", id="results"):
            results_tab.build_tab(studies_root, results_password)
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 for a class network)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--study", type=Path, default=None,
                   help="serve raters only: the study in this folder and no other tab")
    p.add_argument("--studies-root", type=Path, default=ROOT / "studies",
                   help="folder of study folders listed by the full app")
    p.add_argument("--results-password", default=None,
                   help=f"password of the Results tab (or set {RESULTS_PASSWORD_ENV})")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.study is not None:
        from ui import rater_app

        try:
            demo = rater_app.build_rater_app(args.study)
        except (ValueError, FileNotFoundError) as e:
            sys.exit(f"error: {e}")
        demo.launch(server_name=args.host, server_port=args.port, theme=theme(), **rater_app.RATER_LAUNCH_KWARGS)
        return
    password = args.results_password or os.environ.get(RESULTS_PASSWORD_ENV) or None
    demo = build_full_app(args.studies_root, password)
    demo.queue(default_concurrency_limit=4)
    from ui.editor import EDITOR_CSS

    demo.launch(server_name=args.host, server_port=args.port, theme=theme(), css=EDITOR_CSS)


if __name__ == "__main__":
    main()
