"""Results tab: a study's vote counts while it runs, its report tables and charts, and the report files.

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
import pandas as pd
from PIL import Image

from eval_studies import report as rpt
from eval_studies.study_file import STUDY_FILES, load_study
from eval_studies.vote_reader import load_votes

PASSWORD_HELP = ("**The Results tab is locked: no password is set.** Start the app with "
                 "`python app.py --results-password PASSWORD`, or set the environment variable "
                 "`SYNTH_RESULTS_PASSWORD`, then reload this page.")
REFRESH_S = 5.0
LOG_GLOB = "votes*.csv"     # votes.csv, plus votes-*.csv written by further server replicas


def list_studies(studies_root: Path) -> list[str]:
    """Study folders under the root: those with a vote log or a study file."""
    if not studies_root.is_dir():
        return []
    return sorted(p.name for p in studies_root.iterdir()
                  if p.is_dir() and (any(p.glob(LOG_GLOB)) or any((p / n).is_file() for n in STUDY_FILES)))


def _logs(studies_root: Path, name: str) -> list[Path]:
    if name not in list_studies(studies_root):   # only names offered in the list: no paths from the client
        raise gr.Error(f"unknown study {name!r}")
    return sorted((studies_root / name).glob(LOG_GLOB))


_counts_cache: dict[tuple, tuple[str, pd.DataFrame]] = {}   # shared by sessions: same logs, same counts


def live_counts(logs: list[Path]) -> tuple[str, pd.DataFrame]:
    """A one-line summary and the votes so far per cell (scored votes), or the log's problem.
    Recomputed only when a log's size or modification time changed."""
    empty = pd.DataFrame(columns=["task", "cell", "votes", "raters"])
    if not logs:
        return "No votes yet.", empty
    key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in logs)
    if key not in _counts_cache:
        if len(_counts_cache) > 32:
            _counts_cache.clear()
        _counts_cache[key] = _count(logs, empty)
    return _counts_cache[key]


def _count(logs: list[Path], empty: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    try:
        v = load_votes(logs)
    except ValueError as e:
        return f"The log cannot be read: {e}", empty
    f = v.frame
    s = v.scored
    cell = pd.Series(
        [f"{min(a, b)} vs {max(a, b)}" if t == "pairwise" else a
         for t, a, b in zip(s["task"], s["left_condition"], s["right_condition"])], index=s.index, dtype=object)
    counts = (s.assign(cell=cell).groupby(["task", "cell"])
              .agg(votes=("vote_id", "size"), raters=("rater_id", "nunique")).reset_index())
    ex = ", ".join(f"{n} {k}s" for k, n in v.exclusion_counts().items()) or "none"
    summary = (f"**{len(f)} votes** from {f['rater_id'].nunique()} raters in {len(logs)} log(s); "
               f"{len(s)} scored; set aside: {ex}.")
    return summary, counts


def _png(data: bytes | None):
    return None if data is None else Image.open(io.BytesIO(data))


def _study_natural(folder: Path, votes) -> str:
    """The study file's natural_condition, if the real-vs-fake votes use it ("" otherwise)."""
    try:
        name = load_study(folder).natural_condition or ""
    except ValueError:      # no study file, or one the Studies tab reports as broken: guess from names
        return ""
    shown = set(votes.frame.loc[votes.frame["task"] == "real_fake", "left_condition"])
    return name if name in shown else ""


def build_report(logs: list[Path], target: str, natural: str, out_dir: Path):
    """(markdown, table 1, table 2, 3 chart images, report files) for the tab."""
    v = load_votes(logs)
    natural = natural.strip() or _study_natural(logs[0].parent, v)
    rep = rpt.analyse(v, target=target.strip() or None, natural=natural or None)
    files: dict[Path, None] = {}      # ordered set: every format writes the same chart files
    for fmt in rpt.FORMATS:
        files.update(dict.fromkeys(rpt.write_report(rep, fmt, out_dir / f"report{rpt.SUFFIX[fmt]}")))
    png = rpt.charts(rep)
    md = rpt.render_markdown(rep, {})
    return (md, rep.wide("pairwise"), rep.wide("real_fake"), _png(png.get("pairwise")),
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
            names = list_studies(studies_root)
            return (True, gr.update(visible=False), gr.update(visible=True), "",
                    gr.update(choices=names, value=names[0] if names else None), gr.Timer(active=True))
        return (False, gr.update(), gr.update(visible=False), "Wrong password: the results stay locked.",
                gr.update(), gr.Timer(active=False))

    def _refresh_list(is_unlocked: bool, current: str | None):
        _check(is_unlocked)
        names = list_studies(studies_root)
        return gr.update(choices=names, value=current if current in names else (names[0] if names else None))

    def _counts(is_unlocked: bool, name: str | None):
        _check(is_unlocked)
        if not name:
            return f"No study with a vote log under {studies_root}.", None
        return live_counts(_logs(studies_root, name))

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
