"""The Studies tab (researcher: list studies, how to serve them) and the rater app (``app.py --study DIR``).

The rater app is a thin layer over eval_studies.vote_writer.StudyServer. What reaches the rater's browser:
pixels (the stimulus arrays, PNG-encoded by Gradio's own encoder under its cache names, a hash of the
pixels), the study's title and texts, button labels and progress. Condition names, stimulus file names and the answer key stay on the server:
the vote handlers take only the choice and the index of the trial on screen.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from pathlib import Path

import gradio as gr
from gradio import processing_utils

from eval_studies.assign import new_anonymous_id, rater_from_params
from eval_studies.study_file import list_studies
from eval_studies.vote_writer import StudyServer, VoteLog, VoteRefused

# F = left / real, J = right / fake; timed exposure; auto-redirect on the completion page.
RATER_JS = """
<script>
(() => {
  const visible = (el) => el && el.offsetParent !== null && !el.disabled;
  document.addEventListener('keydown', (e) => {
    if (e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    const k = e.key.toLowerCase();
    const id = k === 'f' ? 'study-left' : k === 'j' ? 'study-right' : null;
    if (!id) return;
    const btn = document.getElementById(id);
    if (visible(btn)) { e.preventDefault(); btn.click(); }
  });
  document.addEventListener('load', (e) => {
    const img = e.target;
    if (!(img instanceof HTMLImageElement) || !img.closest('#study-stimuli')) return;
    img.style.visibility = 'visible';
    const ex = document.getElementById('study-exposure');
    const ms = ex ? parseInt(ex.dataset.ms || '0', 10) : 0;
    if (ms > 0) {
      const src = img.src;
      setTimeout(() => { if (img.src === src) img.style.visibility = 'hidden'; }, ms);
    }
  }, true);
  let redirecting = false;
  setInterval(() => {
    const a = document.getElementById('study-redirect');
    if (a && !redirecting && a.href) { redirecting = true; setTimeout(() => { window.location.href = a.href; }, 4000); }
  }, 500);
})();
</script>
"""

RATER_CSS = """
#study-stimuli img { width: 100%; height: 100%; object-fit: contain; }
.study-bar { height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; }
.study-bar > div { height: 100%; background: #2563eb; }
footer { display: none !important; }
"""

# launch() settings of the rater app: no API page, no footer links, no run history in the browser,
# no monitoring dashboard, no MCP server.
RATER_LAUNCH_KWARGS = {
    "footer_links": [],
    "run_history": False,
    "enable_monitoring": False,
    "mcp_server": False,
    "show_error": False,
    "head": RATER_JS,
    "css": RATER_CSS,
}

PROMPTS = {
    "pairwise": "### Which photo looks more real?",
    "real_fake": "### Is this photo real or fake?",
}
LABELS = {
    "pairwise": ("◀ Left  (F)", "Right ▶  (J)"),
    "real_fake": ("Real  (F)", "Fake  (J)"),
}
WARM_LIMIT = 2000  # stimuli encoded before the app starts
CHOICE_OF_BUTTON = {"pairwise": ("left", "right"), "real_fake": ("real", "fake")}


def _progress_html(server: StudyServer, trial, trials) -> str:
    exposure = server.study.exposure_ms or 0
    tag = f'<span id="study-exposure" data-ms="{exposure}"></span>'
    if trial.kind == "practice":
        practice = [t for t in trials if t.kind == "practice"]
        k = practice.index(trial) + 1
        return f"{tag}<p><b>Practice {k} of {len(practice)}</b> (not scored; you will see if you were right)</p>"
    counted = [t for t in trials if t.kind != "practice"]
    k = counted.index(trial) + 1
    pct = round(100 * (k - 1) / len(counted))
    return (f'{tag}<div class="study-bar" role="progressbar" aria-valuenow="{k - 1}" '
            f'aria-valuemax="{len(counted)}"><div style="width:{pct}%"></div></div>'
            f"<p>Trial {k} of {len(counted)}</p>")


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
            done_html = gr.HTML()

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
            return page(st, f"trial:{trial.task}", prog=_progress_html(server, trial, trials), fb=notice,
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

        demo.load(on_load, inputs=[anon], outputs=[*outputs, anon], api_visibility="private")
        start.click(on_start, inputs=[state], outputs=outputs, api_visibility="private")

        def vote_left(st, shown_index, anon_id, request: gr.Request):
            return on_vote(0, st, shown_index, anon_id, request)

        def vote_right(st, shown_index, anon_id, request: gr.Request):
            return on_vote(1, st, shown_index, anon_id, request)

        btn_left.click(vote_left, inputs=[state, shown, anon], outputs=outputs, api_visibility="private")
        btn_right.click(vote_right, inputs=[state, shown, anon], outputs=outputs, api_visibility="private")
        layout.change(apply_layout, inputs=[layout],
                      outputs=[col_error, col_consent, col_trial, col_done, img_right],
                      api_visibility="private")
    # several raters vote at once; the log serialises writes itself
    demo.queue(default_concurrency_limit=8)
    # Gradio recomputes a pandas summary of all past events after every event, for its monitoring
    # page (off here); at thousands of votes that dominated the vote latency. Compute it never.
    demo._queue.ANAYLTICS_CACHE_FREQUENCY = 2**62
    return demo


# -- researcher side (full app) ---------------------------------------------------------------

STUDY_COLUMNS = ["folder", "id", "tasks", "conditions", "trials per rater", "votes", "raters", "status"]


def study_rows(studies_root: Path) -> list[list]:
    rows = []
    for folder, study, error in list_studies(studies_root):
        if study is None:
            rows.append([folder.name, "", "", "", "", "", "", f"invalid: {error}"])
            continue
        votes, raters = VoteLog(folder, study.id).counts()
        rows.append([folder.name, study.id, ", ".join(study.tasks), ", ".join(sorted(study.conditions)),
                     study.total_trials, votes, raters, "running" if votes else "ready"])
    return rows


def serve_help(studies_root: Path) -> str:
    found = list_studies(studies_root)
    if not found:
        return (f"No studies under `{studies_root}` yet. Build the demo study with\n\n"
                f"    python -m eval_studies.build --demo --out {Path(studies_root) / 'demo'}\n\n"
                "or one from your own images with `--from-folder SRC` (see docs/studies.md).")
    lines = ["Serve a study to raters (its own process and port; raters see only the study):", ""]
    for folder, study, _ in found:
        if study is not None:
            lines += [f"**{study.id}**", "", f"    python app.py --study {folder} --host 0.0.0.0 --port 7861", ""]
    lines += ["Rater links: `http://HOST:7861/?rater=ID`; on Prolific "
              "`http://HOST:7861/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}"
              "&SESSION_ID={{%SESSION_ID%}}`; on MTurk `?workerId=...&assignmentId=...`. "
              "Votes go to `votes.csv` in the study folder; the Results tab reads them."]
    return "\n".join(lines)


def build_tab(studies_root: Path) -> None:
    """Researcher view: the studies under studies_root, their votes so far, and how to serve each."""
    studies_root = Path(studies_root)
    gr.Markdown("### Realism studies\nRaters judge pairs (which looks more real?) and single images "
                "(real or fake?). Each study is a folder with a study file and its stimuli.")
    table = gr.Dataframe(value=lambda: study_rows(studies_root), headers=STUDY_COLUMNS,
                         interactive=False, wrap=True, elem_id="studies-table")
    how = gr.Markdown(value=lambda: serve_help(studies_root))
    refresh = gr.Button("Refresh", size="sm")
    refresh.click(lambda: (study_rows(studies_root), serve_help(studies_root)), outputs=[table, how],
                  api_visibility="private")

