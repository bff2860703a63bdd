"""A rater from link to completion code in a real Chromium, against `python app.py --study DIR`.

The study is built by the real build command from held-out photos, with condition names and file
names chosen to be unmistakable, so that any leak into what the browser receives can be found.
"""

from __future__ import annotations

import base64
import io
import re
import struct
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from PIL import Image

from eval_studies.assign import assign, completion_code, hash_rater, study_key
from eval_studies.build import encode_png, exported_fills, load_heldout, opencv_methods
from eval_studies.loadtest import RaterSession
from eval_studies.study_file import load_study
from eval_studies.vote_writer import read_votes
from tests.e2e.rater import next_screen, wait_answerable

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshots" / "study.png"
CONDITIONS = ("untouchedkq", "ourmethodzq", "baselinexv")
CODE = "DONE42XY"
MIN_S = 0.6  # above the default minimum time before an answer counts (500 ms)
N_ITEMS, TRIALS = 10, 6  # 2 items go to the practice/catch pool: 8 study items, 6 scored trials


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("study")
    src = tmp / "src"
    _, photos = load_heldout()
    photos = photos[:N_ITEMS]
    fills, _ = exported_fills(photos, opencv_methods(photos.shape[1]))
    for c in CONDITIONS:
        (src / c).mkdir(parents=True)
    for i, im in enumerate(photos):
        versions = {"untouchedkq": im, "ourmethodzq": fills["navier_stokes"][i], "baselinexv": fills["telea"][i]}
        for c, arr in versions.items():
            (src / c / f"origfile_{i:02d}.png").write_bytes(encode_png(arr, im.shape[0]))
    out = tmp / "e2e-study"
    subprocess.run([sys.executable, "-m", "eval_studies.build", "--from-folder", str(src), "--out", str(out),
                    "--natural", "untouchedkq", "--trials-per-rater", str(TRIALS), "--practice", "1",
                    "--catch", "1", "--completion-code", CODE, "--size", "256"],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    return out


FORBIDDEN = re.compile("|".join([*CONDITIONS, "origfile", "catch_real", "catch_broken", "navier", "telea"]),
                       re.IGNORECASE)


def png_chunks(data: bytes) -> list[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    out, pos = [], 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out.append(kind.decode("ascii"))
        pos += 12 + n
    return out


class Watch:
    """Everything the rater's browser receives: URLs, text bodies, image bytes."""

    def __init__(self, page):
        self.urls: list[str] = []
        self.texts: list[str] = []
        self.images: list[bytes] = []
        page.on("response", self.on_response)

    def on_response(self, response):
        self.urls.append(response.url)
        ctype = response.headers.get("content-type", "")
        if "event-stream" in ctype:
            return  # streamed; its payloads are checked over plain HTTP in test_no_leak_in_event_payloads
        try:
            body = response.body()
        except Exception:  # noqa: BLE001 - a redirect or aborted request has no body
            return
        if ctype.startswith("image/"):
            self.images.append(body)
        else:
            self.texts.append(body.decode("utf-8", "replace"))


def progress_text(page) -> str:
    return page.locator("#study-progress").inner_text().strip()


def current_index(page) -> int:
    return int(page.locator("#study-shown textarea, #study-shown input").first.input_value())


def wait_for_index(page, index: int) -> None:
    """Until trial `index` is on screen, its layout (one image or two) applied and an answer counts (the photos
    were shown for the study's minimum time); a break screen on the way is continued."""
    try:
        while next_screen(page, index) == "break":
            page.locator("#study-continue").click()
            page.wait_for_function("() => (document.querySelector('#study-layout textarea, #study-layout input')"
                                   " || {}).value !== 'break'")
        wait_answerable(page)
    except Exception as e:
        state = page.evaluate("""() => {
          const v = (id) => { const e = document.querySelector(`#${id} textarea, #${id} input`);
                              return e ? e.value : null; };
          const t = (id) => { const e = document.getElementById(id); return e ? e.innerText : null; };
          return {shown: v('study-shown'), layout: v('study-layout'), feedback: t('study-feedback'),
                  error: t('study-error'), progress: t('study-progress')};
        }""")
        raise AssertionError(f"trial {index} did not appear; the page shows {state}") from e


@pytest.mark.e2e
def test_rater_flow_keyboard_reload_completion(launch_app, page, study_dir):
    app = launch_app("--study", str(study_dir))
    study = load_study(study_dir)
    raw = "pidE2E01"
    rater = hash_rater(raw, study_key(study_dir))
    trials = assign(study, rater)
    watch = Watch(page)
    page.set_viewport_size({"width": 1000, "height": 760})
    page.goto(f"{app.url}/?PROLIFIC_PID={raw}&STUDY_ID=st1&SESSION_ID=se1")

    # 1. consent and instructions, then Start
    start = page.locator("#study-start")
    start.wait_for(state="visible", timeout=30000)
    assert page.locator("#study-decline").is_visible()
    htmls = [page.content()]
    start.click()
    wait_for_index(page, 0)
    assert trials[0].kind == "practice"
    assert "Practice 1 of 1" in progress_text(page)

    # 2. practice with feedback (keyboard F)
    page.keyboard.press("f")
    wait_for_index(page, 1)
    feedback = page.locator("#study-feedback").inner_text()
    f_means = "left" if trials[0].task == "pairwise" else "real"      # F: the left photo, or "real"
    expected = "Correct" if trials[0].answer == f_means else "Not quite"
    assert expected in feedback and "scored trials start now" in feedback

    # 3. scored trials: keyboard J, then the left button
    assert "Trial 1 of 7" in progress_text(page)
    page.keyboard.press("j")
    wait_for_index(page, 2)
    page.locator("#study-left").click()
    wait_for_index(page, 3)
    before = progress_text(page)
    assert "Trial 3 of 7" in before
    htmls.append(page.content())

    # 4. reload in the middle: same trial, same progress, nothing recorded twice
    page.reload()
    wait_for_index(page, 3)
    assert progress_text(page) == before
    assert "Welcome back" in page.locator("#study-feedback").inner_text()

    # 5. to the end, alternating keys and buttons; screenshot a pairwise trial (scored if one is left)
    later = [t for t in trials[3:] if t.task == "pairwise"]
    shot_at = next((t.index for t in later if t.kind == "scored"), later[0].index if later else 3)
    shot_taken = False
    for i in range(3, len(trials)):
        t = trials[i]
        if i == shot_at:
            page.locator("#study-img-left img").wait_for(state="visible")
            page.locator("#study-img-right img").wait_for(state="visible")
            page.wait_for_timeout(300)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
            shot_taken = True
        label = page.locator("#study-left").inner_text()
        assert ("Left" in label) == (t.task == "pairwise") and ("Real" in label) == (t.task == "real_fake")
        assert page.locator("#study-img-right").is_visible() == (t.task == "pairwise")
        htmls.append(page.content())
        if i % 2:
            page.keyboard.press("f")
        else:
            page.locator("#study-right").click()
        if i + 1 < len(trials):
            wait_for_index(page, i + 1)
    done = page.locator("#study-done")
    done.wait_for(state="visible", timeout=15000)
    code = page.locator("#study-code").inner_text().strip()
    assert code.startswith(CODE) and code == completion_code(study, study_key(study_dir), rater)
    assert not page.locator("#study-left").is_visible()
    htmls.append(page.content())
    assert shot_taken and SCREENSHOT.stat().st_size > 10_000

    # 6. the log: one row per trial, in order, hashed rater id, the server's answer key
    rows = read_votes(study_dir / "votes.csv")
    mine = [r for r in rows if r["rater_id"] == rater]
    assert len(mine) == len(trials) == 8
    assert [int(r["trial_index"]) for r in mine] == list(range(len(trials)))
    assert all(raw not in ",".join(r.values()) for r in rows)
    for r, t in zip(mine, trials):
        assert (r["trial_kind"], r["task"], r["item"], r["left_condition"], r["right_condition"]) == \
               (t.kind, t.task, t.item, t.left_condition, t.right_condition)
        assert r["correct"] == ("" if t.answer is None else str(int(r["choice"] == t.answer)))
    assert mine[1]["choice"] == ("right" if trials[1].task == "pairwise" else "fake")  # the J key

    # 7. nothing the browser received names a condition, an item or an original file
    for html in htmls:
        assert not FORBIDDEN.search(html), FORBIDDEN.search(html)
    for url in watch.urls:
        assert not FORBIDDEN.search(url), url
    for text in watch.texts:
        m = FORBIDDEN.search(text)
        assert not m, text[max(0, m.start() - 100):m.end() + 100]
    # stimuli arrive inline, as data:image/svg+xml URLs holding the PNG (eval_studies.stimuli): read them off the pages
    stim = [b for b in watch.images if b[:8] == b"\x89PNG\r\n\x1a\n"]
    for html in htmls:
        for svg in re.findall(r'src="data:image/svg\+xml,([^"]+)"', html):
            stim += [base64.b64decode(b) for b in re.findall(r"base64,([A-Za-z0-9+/=]+)", unquote(svg))]
    assert len(stim) >= len(trials)
    sizes = set()
    for data in stim:
        assert not FORBIDDEN.search(data.decode("latin-1"))
        chunks = set(png_chunks(data))
        assert chunks <= {"IHDR", "IDAT", "IEND"}, chunks  # no text, time, EXIF or colour-profile chunks
        with Image.open(io.BytesIO(data)) as im:
            sizes.add((im.size, im.mode))
            assert not im.info, im.info
    assert sizes == {((256, 256), "RGB")}
    for path in ("/config", "/gradio_api/info", "/gradio_api/info?all_endpoints=true"):
        body = page.request.get(app.url + path).text()
        assert not FORBIDDEN.search(body), path
    assert page.request.get(app.url + "/gradio_api/info").json() == {"named_endpoints": {}, "unnamed_endpoints": {}}


@pytest.mark.e2e
def test_second_tab_resumes_and_never_records_twice(launch_app, browser, study_dir):
    app = launch_app("--study", str(study_dir))
    url = f"{app.url}/?rater=tabs-rater-7"
    ctx = browser.new_context()
    tab1, tab2 = ctx.new_page(), ctx.new_page()
    tab1.goto(url)
    tab1.locator("#study-start").click()
    wait_for_index(tab1, 0)
    tab2.goto(url)  # the consent was given in tab 1 but no vote yet: tab 2 starts at consent too
    tab2.locator("#study-start").click()
    wait_for_index(tab2, 0)
    tab1.keyboard.press("f")
    wait_for_index(tab1, 1)
    tab2.keyboard.press("f")  # trial 0 again, from the stale tab: refused, tab 2 moves on
    wait_for_index(tab2, 1)
    assert "already answered" in tab2.locator("#study-feedback").inner_text()
    rater = hash_rater("tabs-rater-7", study_key(study_dir))
    mine = [r for r in read_votes(study_dir / "votes.csv") if r["rater_id"] == rater]
    assert [r["trial_index"] for r in mine] == ["0"]
    ctx.close()


@pytest.mark.e2e
def test_anonymous_rater_resumes_after_reload(launch_app, page, study_dir):
    app = launch_app("--study", str(study_dir))
    page.goto(app.url + "/")
    page.locator("#study-start").click()
    wait_for_index(page, 0)
    page.keyboard.press("j")
    wait_for_index(page, 1)
    page.reload()  # the random id lives in this browser's storage
    wait_for_index(page, 1)
    assert "Welcome back" in page.locator("#study-feedback").inner_text()


@pytest.mark.e2e
def test_bad_rater_id_gets_a_clear_message(launch_app, page, study_dir):
    app = launch_app("--study", str(study_dir))
    page.goto(app.url + "/?PROLIFIC_PID=" + "x" * 80)
    err = page.locator("#study-error")
    err.wait_for(state="visible", timeout=30000)
    assert "PROLIFIC_PID" in err.inner_text() and "1-64" in err.inner_text()
    assert not page.locator("#study-start").is_visible()


@pytest.mark.e2e
def test_no_leak_in_event_payloads_and_forged_votes_refused(launch_app, study_dir):
    """Through gradio_client, the endpoints the browser's clicks call: every event payload is checked for
    names, and a vote for a trial other than the one on screen records nothing."""
    app = launch_app("--study", str(study_dir))
    session = RaterSession(app.url, {"rater": "http-rater-3"})
    page = session.call("open", None)
    assert page["study-layout"] == "consent"
    token = page["study-token"]
    page = session.call("start", token)
    assert page["study-shown"] == "0"
    log = study_dir / "votes.csv"
    before = len(read_votes(log)) if log.exists() else 0
    # forged: claims trial 5 is on screen -> refused, the page shows trial 0 again
    time.sleep(MIN_S)
    page = session.call("vote_left", "5", token, None)
    assert page["study-shown"] == "0" and "earlier trial" in page["study-feedback"]
    assert (len(read_votes(log)) if log.exists() else 0) == before
    # honest votes to the end
    n = 0
    while page["study-layout"] != "done":
        if page["study-layout"] == "break":
            page = session.call("continue", token)
            continue
        time.sleep(MIN_S)  # the server refuses answers sooner than the study's minimum after the trial was sent
        page = session.call("vote_right", page["study-shown"], token, None)
        n += 1
    assert f'id="study-code">{CODE}-' in page["study-done-link"]
    rater = hash_rater("http-rater-3", study_key(study_dir))
    mine = [r for r in read_votes(log) if r["rater_id"] == rater]
    assert len(mine) == n == 8
    # a repeated vote after the end records nothing
    page = session.call("vote_right", "7", token, None)
    assert page["study-layout"] == "done"
    assert len([r for r in read_votes(log) if r["rater_id"] == rater]) == 8
    for text in session.received:
        m = FORBIDDEN.search(text)
        assert not m, text[max(0, m.start() - 100):m.end() + 100]
    # the study folder is not served: not the answer key, the log, the key or a stimulus by its name
    stimulus = next((study_dir / "stimuli").iterdir())
    for secret in (study_dir / "study.json", log, study_dir / ".rater_key", stimulus):
        r = httpx.get(f"{app.url}/gradio_api/file={secret}")
        assert r.status_code == 403, (secret, r.status_code)
    session.close()


@pytest.fixture(scope="module")
def timed_study_dir(study_dir, tmp_path_factory) -> Path:
    """The same photos with a 300 ms exposure and a redirect instead of a code."""
    out = tmp_path_factory.mktemp("timed") / "timed-study"
    subprocess.run([sys.executable, "-m", "eval_studies.build", "--from-folder", str(study_dir.parent / "src"),
                    "--out", str(out), "--natural", "untouchedkq", "--trials-per-rater", "2", "--practice", "0",
                    "--catch", "0", "--tasks", "real_fake", "--exposure-ms", "300",
                    "--redirect-url", "https://prolific.example/submissions/complete?cc=XYZ", "--size", "64"],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    return out


@pytest.mark.e2e
def test_timed_exposure_and_redirect(launch_app, page, timed_study_dir):
    app = launch_app("--study", str(timed_study_dir))
    page.route("https://prolific.example/**", lambda route: route.fulfill(body="<h1>back on the panel</h1>",
                                                                          content_type="text/html"))
    page.goto(f"{app.url}/?workerId=W123&assignmentId=A9")
    # every change of a stimulus' visibility, with its time
    page.locator("#study-start").wait_for(state="visible", timeout=30000)
    page.evaluate("""() => { window.seen = [];
      new MutationObserver((ms) => { for (const m of ms) if (m.target.closest && m.target.closest('#study-img-left'))
        window.seen.push([m.target.style.visibility, performance.now()]); })
        .observe(document.body, {subtree: true, attributes: true, attributeFilter: ['style']}); }""")
    page.locator("#study-start").click()
    wait_for_index(page, 0)
    # visible first, hidden after the exposure time; answering still works
    page.wait_for_function("() => window.seen.some(s => s[0] === 'hidden')", timeout=3000)
    seen = page.evaluate("window.seen")
    shown = next(t for v, t in seen if v == "visible")
    hidden = next(t for v, t in seen if v == "hidden" and t > shown)
    assert 250 <= hidden - shown <= 1000, seen
    page.keyboard.press("f")
    wait_for_index(page, 1)
    page.keyboard.press("j")
    page.locator("#study-done").wait_for(state="visible", timeout=15000)
    assert "returned to the study site" in page.locator("#study-done").inner_text()
    page.wait_for_url("https://prolific.example/**", timeout=15000)
    assert "back on the panel" in page.content()
