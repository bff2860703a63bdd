"""The Studies tab (researcher): the studies under a folder, their votes so far, and how to serve each; and the
lecture's crowd experiment, offered ready to build and serve (eval_studies.build_experiment).

The rater app (``app.py --study DIR``) is ui.rater_app; what raters see is ui.rater_page.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from eval_studies import progress
from eval_studies.build_experiment import experiment_help


def build_tab(studies_root: Path) -> None:
    """Researcher view: the studies under studies_root, their votes so far, how to serve each, and how to build
    and serve the lecture's experiment (eval_studies.progress and build_experiment; folder names only, no server
    paths)."""
    studies_root = Path(studies_root)
    gr.Markdown("### Realism studies\nRaters judge pairs (which looks more real?) and single images "
                "(real or fake?). Each study is a folder with a study file and its stimuli.")
    table = gr.Dataframe(headers=progress.STUDY_COLUMNS, interactive=False, wrap=True, elem_id="studies-table")
    how = gr.Markdown()
    experiment = gr.Markdown(elem_id="studies-experiment")
    refresh = gr.Button("Refresh", size="sm")

    def overview():
        return (*progress.studies_overview(studies_root), experiment_help(studies_root))

    refresh.click(overview, outputs=[table, how, experiment], api_visibility="private")
    # filled on page load by a private event: a component's callable value= would add a public, unnamed
    # /lambda_N endpoint (Gradio 6.31 gives those no visibility setting) returning vote counts to anyone
    gr.context.Context.root_block.load(overview, outputs=[table, how, experiment], api_visibility="private")
