"""Results tab: a study's vote counts while it runs (eval_studies.progress), its report tables and charts, and
the report files.

Behind a password (app.py: --results-password or SYNTH_RESULTS_PASSWORD). Every handler checks the
session's unlocked flag on the server, so calling an event directly does not get past the gate. The
analysis is eval_studies.report; this module only lays it out.
"""

from __future__ import annotations

import hmac
import io
import tempfile
from pathlib import Path

import gradio as gr
from PIL import Image

from eval_studies import progress
from eval_studies import report as rpt
from eval_studies.vote_reader import load_votes

PASSWORD_HELP = ("**The Results tab is locked: no password is set.** Start the app with "
                 "`python app.py --results-password PASSWORD`, or set the environment variable "
                 "`SYNTH_RESULTS_PASSWORD`, then reload this page.")
REFRESH_S = 5.0


def _logs(studies_root: Path, name: str) -> list[Path]:
    try:
        return progress.study_logs(studies_root, name)   # only names offered in the list: no client paths
    except KeyError:
        raise gr.Error(f"unknown study {name!r}") from None


def _png(data: bytes | None):
    return None if data is None else Image.open(io.BytesIO(data))


def build_report(logs: list[Path], target: str, natural: str, out_dir: Path):
    """(markdown, table 1, table 2, 3 chart images, report files) for the tab."""
    v = load_votes(logs)
    natural = natural.strip() or progress.natural_condition(logs[0].parent, v)
    rep = rpt.analyse(v, target=target.strip() or None, natural=natural or None)
    files: dict[Path, None] = {}      # ordered set: every format writes the same chart files
    for fmt in rpt.FORMATS:
        files.update(dict.fromkeys(rpt.write_report(rep, fmt, out_dir / f"report{rpt.SUFFIX[fmt]}")))
    png = rpt.charts(rep)
    md = rpt.render_markdown(rep, {})
    return (md, rep.wide("pairwise", intervals=True), rep.wide("real_fake", intervals=True), _png(png.get("pairwise")),
            _png(png.get("realism")), _png(png.get("ranking")), [str(f) for f in files])


def build_tab(studies_root: Path, password: str | None) -> None:
    studies_root = Path(studies_root)
    if password is None:
        gr.Markdown(PASSWORD_HELP)
        return
    unlocked = gr.State(False)
    with gr.Column() as gate:
        pw = gr.Textbox(label="Results password", type="password", elem_id="results-password")
        unlock = gr.Button("Unlock", variant="primary", elem_id="results-unlock")
        refusal = gr.Markdown(elem_id="results-refusal")
    with gr.Column(visible=False) as body:
        with gr.Row():
            study = gr.Dropdown(label="Study", choices=[], elem_id="results-study")
            refresh = gr.Button("Refresh list", size="sm")
        summary = gr.Markdown()
        counts = gr.Dataframe(label=f"Scored votes per cell (updates every {REFRESH_S:g} s)", interactive=False)
        with gr.Row():
            target = gr.Textbox(label="Target method", placeholder="automatic: the condition in every pair")
            natural = gr.Textbox(label="Natural images condition", placeholder="automatic: natural, real, ...")
        build = gr.Button("Build report", variant="primary", elem_id="results-build")
        status = gr.Markdown(elem_id="results-status")
        table1 = gr.Dataframe(label="Table 1: % of votes preferring the target over each baseline",
                              interactive=False, elem_id="results-table1")
        table2 = gr.Dataframe(label="Table 2: % of votes judging the image real", interactive=False,
                              elem_id="results-table2")
        with gr.Row():
            chart1 = gr.Image(label="Table 1 with 95% intervals", type="pil", interactive=False)
            chart2 = gr.Image(label="Table 2 with 95% intervals", type="pil", interactive=False)
            chart3 = gr.Image(label="Bradley-Terry ranking", type="pil", interactive=False)
        downloads = gr.File(label="Report files (md, csv, latex, html, charts)", file_count="multiple",
                            interactive=False)
        full = gr.Markdown()
    timer = gr.Timer(REFRESH_S, active=False)

    def _check(is_unlocked: bool):
        if not is_unlocked:
            raise gr.Error("The Results tab is locked: enter the password first.")

    def _unlock(given: str):
        if hmac.compare_digest((given or "").encode(), password.encode()):
            names = progress.result_folders(studies_root)
            return (True, gr.update(visible=False), gr.update(visible=True), "",
                    gr.update(choices=names, value=names[0] if names else None), gr.Timer(active=True))
        return (False, gr.update(), gr.update(visible=False), "Wrong password: the results stay locked.",
                gr.update(), gr.Timer(active=False))

    def _refresh_list(is_unlocked: bool, current: str | None):
        _check(is_unlocked)
        names = progress.result_folders(studies_root)
        return gr.update(choices=names, value=current if current in names else (names[0] if names else None))

    def _counts(is_unlocked: bool, name: str | None):
        _check(is_unlocked)
        if not name:
            return "No study with a vote log yet.", None
        return progress.live_counts(_logs(studies_root, name))

    def _build(is_unlocked: bool, name: str | None, tgt: str, nat: str):
        _check(is_unlocked)
        if not name:
            raise gr.Error("Pick a study first.")
        logs = _logs(studies_root, name)
        if not logs:
            return ("This study has no votes yet.",) + (None,) * 6 + ("",)
        try:
            md, t1, t2, c1, c2, c3, files = build_report(logs, tgt or "", nat or "",
                                                         Path(tempfile.mkdtemp(prefix="report-")))
        except ValueError as e:
            return (f"**The report cannot be built:** {e}",) + (None,) * 6 + ("",)
        return ("Report built from " + ", ".join(p.name for p in logs) + ".", t1, t2, c1, c2, c3, files, md)

    priv = {"api_visibility": "private"}
    unlock.click(_unlock, pw, [unlocked, gate, body, refusal, study, timer], **priv)
    pw.submit(_unlock, pw, [unlocked, gate, body, refusal, study, timer], **priv)
    refresh.click(_refresh_list, [unlocked, study], study, **priv)
    study.change(_counts, [unlocked, study], [summary, counts], **priv)
    timer.tick(_counts, [unlocked, study], [summary, counts], show_progress="hidden", **priv)
    build.click(_build, [unlocked, study, target, natural],
                [status, table1, table2, chart1, chart2, chart3, downloads, full], **priv)
