"""Results tab: the researcher's view of a study's votes, behind a password."""

from __future__ import annotations

import hmac
from pathlib import Path

import gradio as gr
import pandas as pd

PASSWORD_HELP = ("The Results tab is locked because no password is set. Start the app with "
                 "`--results-password PASSWORD` or set the environment variable `SYNTH_RESULTS_PASSWORD`.")


def list_studies(studies_root: Path) -> list[str]:
    if not studies_root.is_dir():
        return []
    return sorted(p.name for p in studies_root.iterdir() if p.is_dir() and any(p.glob("votes*.csv")))


def vote_counts(study_dir: Path) -> pd.DataFrame:
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted(study_dir.glob("votes*.csv"))]
    if not frames:
        return pd.DataFrame(columns=["task", "trial_kind", "left_condition", "right_condition", "votes"])
    df = pd.concat(frames, ignore_index=True)
    return (df.groupby(["task", "trial_kind", "left_condition", "right_condition"]).size()
            .rename("votes").reset_index())


def build_tab(studies_root: Path, password: str | None) -> None:
    studies_root = Path(studies_root)
    if password is None:
        gr.Markdown(PASSWORD_HELP)
        return
    with gr.Column() as gate:
        pw = gr.Textbox(label="Password", type="password")
        unlock = gr.Button("Unlock", variant="primary")
        refusal = gr.Markdown()
    with gr.Column(visible=False) as body:
        study = gr.Dropdown(label="Study", choices=[])
        counts = gr.Dataframe(label="Votes per cell")

    def _unlock(given: str):
        if hmac.compare_digest(given.encode(), password.encode()):
            names = list_studies(studies_root)
            return (gr.update(visible=False), gr.update(visible=True), "",
                    gr.update(choices=names, value=names[0] if names else None))
        return gr.update(), gr.update(visible=False), "Wrong password.", gr.update()

    unlock.click(_unlock, pw, [gate, body, refusal, study], api_visibility="private")
    study.change(lambda name: vote_counts(studies_root / name) if name else None, study, counts,
                 api_visibility="private")
