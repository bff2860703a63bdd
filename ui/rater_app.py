"""The rater app (``app.py --study DIR``): the study alone, for raters. Its page (script, style, wording) is
ui.rater_page; the researcher's Studies tab is ui.studies_tab.

The rater app is a thin layer over eval_studies.vote_writer.StudyServer. What reaches the rater's browser:
pixels (the stimulus arrays, PNG-encoded by Gradio's own encoder under its cache names, a hash of the
pixels), the study's title and texts, button labels and progress. Condition names, stimulus file names and the answer key stay on the server:
the vote handlers take only the choice and the index of the trial on screen.

The rater app's events are its API (RATER_API; gradio_client.Client(url).predict(..., api_name=...)):
``/open`` (page load; input: the browser's random id or None), ``/start``, ``/vote_left`` and
``/vote_right`` (inputs: the index of the trial on screen, the browser's random id or None) and
``/layout`` (input: the layout value). The rater is the link's query string (``?rater=ID``, Prolific's
or MTurk's parameters), sent with the call. Every output is named by its component's elem_id in the
app's config: ``study-layout`` ("consent", "trial:pairwise", "trial:real_fake", "done" or "error"),
``study-shown`` (the trial index on screen), ``study-feedback``, ``study-error``, ``study-done``, ...
(eval_studies.loadtest reads them so). The events are "undocumented": callable by name, but the API
page stays empty, so a rater who looks finds nothing to learn there.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
from gradio import processing_utils

from eval_studies.assign import new_anonymous_id, rater_from_params
from eval_studies.vote_writer import StudyServer, VoteRefused
from ui import rater_page
from ui.rater_page import LABELS, PROMPTS

# launch() settings of the rater app: no API page, no footer links, no run history in the browser,
# no monitoring dashboard, no MCP server.
RATER_LAUNCH_KWARGS = {
    "footer_links": [],
    "run_history": False,
    "enable_monitoring": False,
    "mcp_server": False,
    "show_error": False,
    "head": rater_page.RATER_JS,
    "css": rater_page.RATER_CSS,
}

RATER_API = {name: {"api_name": name, "api_visibility": "undocumented"}
             for name in ("open", "start", "vote_left", "vote_right", "layout")}
WARM_LIMIT = 2000  # stimuli encoded before the app starts
CHOICE_OF_BUTTON = {"pairwise": ("left", "right"), "real_fake": ("real", "fake")}


def build_rater_app(study_dir: Path) -> gr.Blocks:
    """The study alone, for raters. Raises ValueError (naming the field) for a malformed study.

    Speed: Gradio rebuilds a component for every ``gr.update`` it returns, so the frequent events
    (page load, start, vote) return plain values only. Which panel shows, and one image or two, is
    one hidden ``layout`` value; its change event, a few times per rater, applies the visibility.
    """
    server = StudyServer(Path(study_dir))
    study = server.study

    with gr.Blocks(title=study.title) as demo:
        gr.Markdown(f"## {study.title}")
        state = gr.State(None)  # {"rater": hashed id, "shown": trial index on screen, "t": time shown}
        # a random id for links without one, kept in the browser (encrypted with a secret derived from
        # the study key, so it survives server restarts) so that a reload resumes
        anon = gr.BrowserState(None, storage_key=f"study-rater-{study.id}",
                               secret=hmac.new(server.key, b"browser-state", "sha256").hexdigest())
        layout = gr.Textbox(visible="hidden", elem_id="study-layout")
        shown = gr.Textbox(visible="hidden", elem_id="study-shown")  # index of the trial on screen
        with gr.Column(visible=False) as col_error:
            err_md = gr.Markdown(elem_id="study-error")
        with gr.Column(visible=False) as col_consent:
            gr.Markdown(study.instructions)
            gr.Markdown("---")
            gr.Markdown(study.consent)
            start = gr.Button("I agree: start", variant="primary", elem_id="study-start")
        with gr.Column(visible=False) as col_trial:
            progress = gr.HTML(elem_id="study-progress")
            feedback = gr.Markdown(elem_id="study-feedback")
            prompt = gr.Markdown(elem_id="study-prompt")
            with gr.Row(elem_id="study-stimuli", equal_height=True):
                img_left = gr.Image(type="numpy", format="png", interactive=False, show_label=False,
                                    buttons=[], height=320, elem_id="study-img-left")
                img_right = gr.Image(type="numpy", format="png", interactive=False, show_label=False,
                                     buttons=[], height=320, elem_id="study-img-right")
            with gr.Row():
                btn_left = gr.Button(LABELS["pairwise"][0], variant="primary", elem_id="study-left")
                btn_right = gr.Button(LABELS["pairwise"][1], variant="primary", elem_id="study-right")
        with gr.Column(visible=False) as col_done:
            done_md = gr.Markdown(elem_id="study-done")
            done_html = gr.HTML(elem_id="study-done-link")

        png_paths: dict[str, str] = {}

        def png(stimulus: str) -> str:
            """The stimulus re-encoded by Gradio's own encoder into its cache (named by a hash of the
            pixels), once per stimulus rather than once per trial: PNG encoding was most of a vote's time."""
            path = png_paths.get(stimulus)
            if path is None or not os.path.exists(path):
                path = processing_utils.save_img_array_to_cache(server.image(stimulus), img_left.GRADIO_CACHE,
                                                                format="png")
                png_paths[stimulus] = path
            return path

        # encode the stimuli now, before raters arrive (about 10 ms each); past WARM_LIMIT the rest
        # in the background, so that a huge study still starts quickly
        stimuli = [s for c in study.conditions.values() for s in c.values()]
        stimuli += [s for pair in study.catch_pool.values() for s in pair.values()]
        for stim in stimuli[:WARM_LIMIT]:
            png(stim)
        if len(stimuli) > WARM_LIMIT:
            threading.Thread(target=lambda: [png(x) for x in stimuli[WARM_LIMIT:]], daemon=True,
                             name="study-png-cache").start()

        outputs = [state, layout, err_md, progress, feedback, prompt, img_left, img_right, shown, done_md,
                   done_html, btn_left, btn_right]

        def page(st, lay, err="", prog="", fb="", pr="", left=None, right=None, idx="", done="", html=""):
            labels = LABELS[lay.removeprefix("trial:") if lay.startswith("trial:") else "pairwise"]
            return [st, lay, err, prog, fb, pr, left, right, idx, done, html, *labels]

        def show_error(message: str):
            return page(None, "error", err=f"**This link cannot be used.** {message}")

        def show_current(st: dict, notice: str = ""):
            trials = server.trials(st["rater"])
            trial = server.current(st["rater"])
            if trial is None:
                lines = ["### Thank you: you have finished."]
                html = ""
                if study.completion_code:
                    lines.append(f"Your completion code is **{study.completion_code}**.")
                if study.redirect_url:
                    lines.append(f"You will be returned to the study site in a few seconds; if not, "
                                 f"[continue here]({study.redirect_url}).")
                    html = f'<a id="study-redirect" href="{study.redirect_url}">Continue</a>'
                return page({**st, "shown": None}, "done", done="\n\n".join(lines), html=html)
            st = {**st, "shown": trial.index, "t": time.monotonic()}
            single = trial.task == "real_fake"
            return page(st, f"trial:{trial.task}", prog=rater_page.progress_html(study.exposure_ms or 0, trial, trials), fb=notice,
                        pr=PROMPTS[trial.task], left=png(trial.left_stimulus),
                        right=None if single else png(trial.right_stimulus), idx=str(trial.index))

        def identify(anon_id, request: gr.Request) -> tuple[dict | None, str, str | None]:
            """(state, error, anon id) from the link's parameters, or the browser's random id."""
            try:
                found = rater_from_params(dict(request.query_params))
            except ValueError as e:
                return None, f"{e}. Please contact the researcher.", anon_id
            if found is None:  # no id in the link: a random one, kept in this browser to resume
                if not isinstance(anon_id, str) or not anon_id.startswith("anon-"):
                    anon_id = new_anonymous_id()
                raw = anon_id
            else:
                raw = found[0]
            try:
                return {"rater": server.rater_id(raw), "shown": None, "t": None}, "", anon_id
            except ValueError as e:
                return None, str(e), anon_id

        def on_load(anon_id, request: gr.Request):
            st, error, anon_id = identify(anon_id, request)
            if st is None:
                return [*show_error(error), anon_id]
            if server.log.next_index(st["rater"]) == 0:
                return [*page(st, "consent"), anon_id]
            return [*show_current(st, "Welcome back: you continue where you left off."), anon_id]

        def on_start(st):
            if not st:
                return show_error("The page did not load properly; please reload it.")
            return show_current(st)

        def on_vote(button: int, st, shown_index, anon_id, request: gr.Request):
            if not st or st.get("shown") is None:
                # the server restarted under this page (its session is gone): find the rater again
                # from the link and show their current trial; the unrecorded answer is asked again
                st, error, _ = identify(anon_id, request)
                if st is None:
                    return show_error(error)
                return show_current(st, "The connection was interrupted: please answer this one (again).")
            trial = server.trials(st["rater"])[st["shown"]]
            if str(st["shown"]) != str(shown_index):
                return show_current(st, "That answer was for an earlier trial; here is your current one.")
            ms = int(round((time.monotonic() - st["t"]) * 1000))
            choice = CHOICE_OF_BUTTON[trial.task][button]
            try:
                server.vote(st["rater"], trial.index, choice, ms)
            except VoteRefused:
                return show_current(st, "This trial was already answered (perhaps in another tab); "
                                        "here is your next one.")
            notice = ""
            if trial.kind == "practice":
                right = {"left": "the left photo is the real one", "right": "the right photo is the real one",
                         "real": "this photo is real", "fake": "this photo is fake"}[trial.answer]
                notice = (f"**Correct**: {right}." if choice == trial.answer
                          else f"**Not quite**: {right}.")
                nxt = server.current(st["rater"])
                if nxt is not None and nxt.kind != "practice":
                    notice += " Practice is over: the scored trials start now."
            return show_current(st, notice)

        def apply_layout(lay: str):
            panel = {"error": col_error, "consent": col_consent, "done": col_done}.get(lay, col_trial)
            return [*(gr.update(visible=c is panel) for c in (col_error, col_consent, col_trial, col_done)),
                    gr.update(visible=lay != "trial:real_fake")]

        # RATER_API: named, callable by gradio_client, absent from the API page (see the module docstring)
        demo.load(on_load, inputs=[anon], outputs=[*outputs, anon], **RATER_API["open"])
        start.click(on_start, inputs=[state], outputs=outputs, **RATER_API["start"])

        def vote_left(st, shown_index, anon_id, request: gr.Request):
            return on_vote(0, st, shown_index, anon_id, request)

        def vote_right(st, shown_index, anon_id, request: gr.Request):
            return on_vote(1, st, shown_index, anon_id, request)

        btn_left.click(vote_left, inputs=[state, shown, anon], outputs=outputs, **RATER_API["vote_left"])
        btn_right.click(vote_right, inputs=[state, shown, anon], outputs=outputs, **RATER_API["vote_right"])
        layout.change(apply_layout, inputs=[layout],
                      outputs=[col_error, col_consent, col_trial, col_done, img_right], **RATER_API["layout"])
    # several raters vote at once; the log serialises writes itself
    with analytics_summary_off():
        demo.queue(default_concurrency_limit=8)
    return demo


@contextmanager
def analytics_summary_off():
    """While a queue is created, Gradio's per-event analytics summary is set to never recompute.

    Gradio's queue recomputes a pandas summary of all past events after every event, for its monitoring
    page (off in the rater app); at thousands of votes that dominated the vote latency. gradio 6.31 has
    no launch() or queue() setting for it: queueing.Queue reads GRADIO_ANALYTICS_CACHE_FREQUENCY from the
    environment when it is created, so that variable is set for that moment only.
    tests/ui/test_study_tab.py pins that Gradio still reads it.
    """
    key = "GRADIO_ANALYTICS_CACHE_FREQUENCY"
    before = os.environ.get(key)
    os.environ[key] = str(2**62)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before
