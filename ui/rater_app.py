"""The rater app (``app.py --study DIR``): the study alone, for raters. Its page (script, style, wording) is
ui.rater_page; the researcher's Studies tab is ui.studies_tab.

The rater app is a thin layer over eval_studies.rater_server.StudyServer. What reaches the rater's browser:
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
import itertools
import json
import os
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from eval_studies.assign import new_anonymous_id, rater_from_params
from eval_studies.rater_server import BOUND_PARAMS, PacingRefused, StudyServer
from eval_studies.vote_writer import VoteRefused
from ui import rater_page
from ui.rater_page import PROMPTS

# launch() settings of the rater app: no API page, no footer links, no run history in the browser,
# no monitoring dashboard, no MCP server, no uploads.
RATER_LAUNCH_KWARGS = {
    "footer_links": [],
    "run_history": False,
    "enable_monitoring": False,
    "mcp_server": False,
    "show_error": False,
    "max_file_size": 0,  # no uploads: every upload (of one byte or more) is refused with 413
    "head": rater_page.RATER_HEAD,
    "css": rater_page.RATER_CSS,
}

RATER_API = {name: {"api_name": name, "api_visibility": "undocumented"}
             for name in ("open", "start", "decline", "vote_left", "vote_right", "continue", "withdraw",
                          "report_problem", "session_info", "layout")}
PACING_NOTICES = {"too_fast": "Please look at the photos a little longer before you answer.",
                  "rate_limit": "You are answering very fast: please take a moment over each photo."}
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
        gr.Markdown(f"# {study.title}", elem_id="study-title")
        gr.HTML(rater_page.ANNOUNCER_HTML, js_on_load=None)  # aria-live: the page script says each new trial
        state = gr.State(None)  # {"rater": hashed id, "shown": trial index on screen, "t": time shown}
        # a random id for links without one, kept in the browser (encrypted with a secret derived from
        # the study key, so it survives server restarts) so that a reload resumes
        anon = gr.BrowserState(None, storage_key=f"study-rater-{study.id}",
                               secret=hmac.new(server.key, b"browser-state", "sha256").hexdigest())
        layout = gr.Textbox(visible="hidden", elem_id="study-layout")
        shown = gr.Textbox(visible="hidden", elem_id="study-shown")  # index of the trial on screen
        token = gr.Textbox(visible="hidden", elem_id="study-token")  # the rater's vote token
        timing = gr.Textbox(visible="hidden", elem_id="study-timing")  # JSON: min_ms, exposure_ms, spent, seq
        client = gr.Textbox(visible="hidden", elem_id="study-client")  # JSON the page writes: device, screen...
        with gr.Column(visible=False) as col_error:
            err_md = gr.Markdown(elem_id="study-error")
        with gr.Column(visible=False) as col_consent:
            gr.Markdown(study.instructions)
            gr.HTML(rater_page.HOW_TO_ANSWER_HTML, js_on_load=None)
            gr.Markdown("---")
            gr.Markdown(study.consent)
            with gr.Row(elem_classes="study-choices"):
                start = gr.Button("I agree: start", variant="primary", elem_id="study-start")
                decline = gr.Button("I do not agree", variant="secondary", elem_id="study-decline")
        with gr.Column(visible=False, elem_id="study-trial") as col_trial:
            progress = gr.HTML(elem_id="study-progress")
            feedback = gr.Markdown(elem_id="study-feedback")
            prompt = gr.Markdown(elem_id="study-prompt")
            with gr.Row(elem_id="study-stimuli"):
                img_left = gr.Image(type="numpy", format="png", interactive=False, show_label=False,
                                    buttons=[], container=False, elem_id="study-img-left")
                img_right = gr.Image(type="numpy", format="png", interactive=False, show_label=False,
                                     buttons=[], container=False, elem_id="study-img-right")
            for img in (img_left, img_right):
                # Stimuli are SVG files (eval_studies.stimuli: sent inline, no server path). Gradio would send
                # the rater a "cannot watermark an SVG" warning with each unless the watermark is None.
                img.watermark = None
            # the visible answer buttons are the page's own (rater_page.ANSWER_HTML): its script forwards
            # a click, once the photos were on screen long enough, to these hidden ones, which vote
            gr.HTML(rater_page.ANSWER_HTML, js_on_load=None)
            btn_left = gr.Button("Left", visible="hidden", elem_id="study-vote-left")
            btn_right = gr.Button("Right", visible="hidden", elem_id="study-vote-right")
        with gr.Column(visible=False) as col_break:
            break_md = gr.Markdown(elem_id="study-break")
            cont = gr.Button("Continue", variant="primary", elem_id="study-continue")
        with gr.Column(visible=False) as col_more:  # shown with the trial and break panels
            with gr.Accordion("Report a problem, or withdraw", open=False, elem_id="study-more"):
                problem = gr.Textbox(label="Describe the problem (no personal details, please)", lines=2,
                                     max_lines=6, elem_id="study-problem")
                problem_send = gr.Button("Send report", elem_id="study-problem-send")
                problem_status = gr.Markdown(elem_id="study-problem-status")
                withdraw = gr.Button("Withdraw from the study", elem_id="study-withdraw")
        with gr.Column(visible=False) as col_done:
            done_md = gr.Markdown(elem_id="study-done")
            done_html = gr.HTML(elem_id="study-done-link")
            gr.HTML(rater_page.COPY_HTML, js_on_load=None)

        # every stimulus as an uncompressed PNG of one byte size (eval_studies.stimuli), written before
        # raters arrive, under names that are an HMAC of the pixels
        server.serve_into(img_left.GRADIO_CACHE)
        seq = itertools.count(1)  # study-timing's "seq": changes with every response, so the page can unlock

        outputs = [state, layout, err_md, progress, feedback, prompt, img_left, img_right, shown, done_md,
                   done_html, token, timing, break_md]

        def page(st, lay, err="", prog="", fb="", pr="", left=None, right=None, idx="", done="", html="",
                 brk="", min_ms=None, exposure_ms=0, spent=False):
            tim = json.dumps({"min_ms": study.min_exposure_ms if min_ms is None else min_ms,
                              "exposure_ms": exposure_ms or 0, "spent": spent, "seq": next(seq)})
            return [st, lay, err, prog, fb, pr, left, right, idx, done, html, (st or {}).get("token", ""), tim, brk]

        def show_error(message: str, st=None):
            return page(st, "error", err=f"**This link cannot be used.** {message}")

        def show_done(st: dict, lines: list[str], code: str | None, url: str | None):
            html = ""
            if code:
                html += f'<p>Your code: <code id="study-code">{code}</code></p>'
            if url:
                lines.append("You will be returned to the study site in a few seconds; if not, "
                             f"[continue here]({url}).")
                html += f'<a id="study-redirect" href="{url}">Continue</a>'
            return page({**st, "shown": None}, "done", done="\n\n".join(lines), html=html)

        def show_withdrawn(st: dict):
            kept = "kept" if study.withdrawn_votes == "keep" else "left out of the analysis"
            return show_done(st, ["## You have withdrawn from the study.",
                                  f"Your answers so far will be {kept}, as the study information said. You may "
                                  "close this page; please also return the study on the site you came from."],
                             study.no_consent_code, study.no_consent_url)

        def show_current(st: dict, notice: str = ""):
            rid = st["rater"]
            if server.withdrawn(rid):
                return show_withdrawn(st)
            trial = server.current(rid)
            if trial is None:
                server.finished(rid, st["session"])
                return show_done(st, ["## Thank you: you have finished.",
                                      "Copy your completion code below into the study site."],
                                 server.completion_code(rid), study.redirect_url)
            on = server.show(rid, trial, st["session"])
            if on.spent:
                notice = " ".join(x for x in (notice, "The photos were shown for a limited time and are not shown "
                                                       "again: answer from what you saw.") if x)
            single = trial.task == "real_fake"
            left = None if on.spent else server.image_path(trial.left_stimulus)
            right = None if on.spent or single else server.image_path(trial.right_stimulus)
            return page({**st, "shown": trial.index}, f"trial:{trial.task}",
                        prog=rater_page.progress_html(on.exposure_ms or 0, trial, server.trials(rid)), fb=notice,
                        pr=PROMPTS[trial.task], left=left, right=right, idx=str(trial.index), min_ms=on.min_ms,
                        exposure_ms=on.exposure_ms, spent=on.spent)

        def identify(anon_id, request: gr.Request) -> tuple[dict | None, str, str | None]:
            """(state, error, anon id) from the link's parameters, or the browser's random id."""
            params = dict(request.query_params)
            try:
                found = rater_from_params(params)
            except ValueError as e:
                return None, f"{e}. Please contact the researcher.", anon_id
            if found is None:  # no id in the link: a random one, kept in this browser to resume
                if not isinstance(anon_id, str) or not anon_id.startswith("anon-"):
                    anon_id = new_anonymous_id()
                raw = anon_id
            else:
                raw = found[0]
            try:
                rid = server.rater_id(raw)
            except ValueError as e:
                return None, str(e), anon_id
            bound = {k: params[k] for k in BOUND_PARAMS if params.get(k)}
            return {"rater": rid, "shown": None, "params": bound, "token": server.issue_token(rid, bound),
                    "session": request.session_hash or ""}, "", anon_id

        def authorised(st, tok) -> bool:
            return bool(st) and server.check_token(st["rater"], st["params"], tok)

        def on_load(anon_id, request: gr.Request):
            st, error, anon_id = identify(anon_id, request)
            if st is None:
                return [*show_error(error), anon_id]
            server.opened(st["rater"], st["session"])
            if server.withdrawn(st["rater"]):
                return [*show_withdrawn(st), anon_id]
            if server.log.next_index(st["rater"]) == 0:
                return [*page(st, "consent"), anon_id]
            return [*show_current(st, "Welcome back: you continue where you left off."), anon_id]

        def on_start(st, tok):
            if not authorised(st, tok):
                return show_error("The page did not load properly; please reload it.")
            server.event(st["rater"], st["session"], "consent")
            return show_current(st)

        def on_decline(st, tok):
            if not authorised(st, tok):
                return show_error("The page did not load properly; please reload it.")
            server.event(st["rater"], st["session"], "declined")
            return show_done(st, ["## You chose not to take part.", "Thank you for considering it. Nothing "
                                  "was recorded but this choice; you may close this page."],
                             study.no_consent_code, study.no_consent_url)

        def on_withdraw(st, tok):
            if not authorised(st, tok):
                return show_error("The page did not load properly; please reload it.")
            if not server.withdrawn(st["rater"]):
                server.withdraw(st["rater"], st["session"])
            return show_withdrawn(st)

        def on_continue(st, tok):
            if not authorised(st, tok):
                return show_error("The page did not load properly; please reload it.")
            return show_current(st)

        def on_vote(button: int, st, shown_index, tok, anon_id, request: gr.Request):
            if not st or st.get("shown") is None:
                # the server restarted under this page (its session is gone): find the rater again
                # from the link and show their current trial; the unrecorded answer is asked again
                st, error, _ = identify(anon_id, request)
                if st is None:
                    return show_error(error)
                return show_current(st, "The connection was interrupted: please answer this one (again).")
            if str(st["shown"]) != str(shown_index):
                return show_current(st, "That answer was for an earlier trial; here is your current one.")
            trial = server.trials(st["rater"])[st["shown"]]
            choice = CHOICE_OF_BUTTON[trial.task][button]
            try:
                server.vote(st["rater"], trial.index, choice, st["session"], st["params"], tok)
            except PacingRefused as e:
                return show_current(st, PACING_NOTICES[e.reason])
            except VoteRefused as e:
                if "token" in str(e):
                    return show_error("This page's session is no longer valid: please reload the page.", st)
                return show_current(st, "This trial was already answered (perhaps in another tab); "
                                        "here is your next one.")
            notice = ""
            nxt = server.current(st["rater"])
            if trial.kind == "practice":
                right = {"left": "the left photo is the real one", "right": "the right photo is the real one",
                         "real": "this photo is real", "fake": "this photo is fake"}[trial.answer]
                notice = f"**Correct**: {right}." if choice == trial.answer else f"**Not quite**: {right}."
                if nxt is not None and nxt.kind != "practice":
                    notice += " Practice is over: the scored trials start now."
            if nxt is not None and server.starts_block(st["rater"], nxt.index):
                trials = server.trials(st["rater"])
                blocks = len({t.task for t in trials})
                done = len({t.task for t in trials if t.index < nxt.index})
                return page({**st, "shown": None}, "break",
                            brk=f"## Part {done} of {blocks} is done.\n\nTake a short break if you like. The next part "
                                "asks a different question; press **Continue** when you are ready.")
            return show_current(st, notice)

        def on_problem(st, text, tok):
            if not authorised(st, tok):
                return text, "The page did not load properly; please reload it."
            try:
                server.report_problem(st["rater"], st["session"], st.get("shown") or "", text)
            except ValueError as e:
                return text, f"{str(e).capitalize()}."
            return "", "Thank you: your report was sent to the researcher."

        def on_client(st, payload, tok):
            if authorised(st, tok) and payload:
                try:
                    server.client_report(st["rater"], st["session"], payload)
                except ValueError:
                    pass  # a malformed report is dropped; it never blocks the study

        panels = (col_error, col_consent, col_trial, col_break, col_done)

        def apply_layout(lay: str):
            panel = {"error": col_error, "consent": col_consent, "break": col_break, "done": col_done}.get(
                lay, col_trial)
            return [*(gr.update(visible=c is panel) for c in panels),
                    gr.update(visible=panel in (col_trial, col_break)), gr.update(visible=lay != "trial:real_fake")]

        # RATER_API: named, callable by gradio_client, absent from the API page (see the module docstring)
        demo.load(on_load, inputs=[anon], outputs=[*outputs, anon], **RATER_API["open"])
        start.click(on_start, inputs=[state, token], outputs=outputs, **RATER_API["start"])
        decline.click(on_decline, inputs=[state, token], outputs=outputs, **RATER_API["decline"])
        withdraw.click(on_withdraw, inputs=[state, token], outputs=outputs, **RATER_API["withdraw"])
        cont.click(on_continue, inputs=[state, token], outputs=outputs, **RATER_API["continue"])

        def vote_left(st, shown_index, tok, anon_id, request: gr.Request):
            return on_vote(0, st, shown_index, tok, anon_id, request)

        def vote_right(st, shown_index, tok, anon_id, request: gr.Request):
            return on_vote(1, st, shown_index, tok, anon_id, request)

        btn_left.click(vote_left, inputs=[state, shown, token, anon], outputs=outputs, **RATER_API["vote_left"])
        btn_right.click(vote_right, inputs=[state, shown, token, anon], outputs=outputs, **RATER_API["vote_right"])
        problem_send.click(on_problem, inputs=[state, problem, token], outputs=[problem, problem_status],
                           **RATER_API["report_problem"])
        client.change(on_client, inputs=[state, client, token], outputs=None, **RATER_API["session_info"])
        layout.change(apply_layout, inputs=[layout],
                      outputs=[*panels, col_more, img_right], **RATER_API["layout"])
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
