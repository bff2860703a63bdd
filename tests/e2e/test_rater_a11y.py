"""The rater page's client-side pacing and accessibility in a real Chromium (a phone with touch): an answer is
not taken before the photos were on screen for the study's minimum time, counted from when they loaded; a held
key or a double tap gives one answer; new trials and feedback are announced (aria-live); focus is visible."""

from __future__ import annotations

import pytest

from eval_studies.assign import hash_rater, study_key
from eval_studies.study_file import load_study
from eval_studies.vote_writer import read_votes
from tests.conftest import AppProcess
from tests.e2e.rater import PHONES, build_study, field, next_screen, wait_answerable

# a listener after the page's own: notes when each photo loaded and when the buttons were enabled, and taps
# "Left" the moment a photo of trial 0 finishes loading (far sooner than the minimum time)
RECORD = """() => {
  window.rec = {loaded: [], enabled: [], early: 0};
  document.addEventListener('load', (e) => {
    if (!(e.target instanceof HTMLImageElement) || !e.target.closest('#study-stimuli')) return;
    window.rec.loaded.push(performance.now());
    const i = document.querySelector('#study-shown textarea, #study-shown input');
    if (i && i.value === '0' && !window.rec.early) { window.rec.early = 1; document.getElementById('study-left').click(); }
  }, true);
  new MutationObserver(() => { const b = document.getElementById('study-left');
    if (b && b.getAttribute('aria-disabled') === 'false') window.rec.enabled.push(performance.now()); })
    .observe(document.body, {subtree: true, attributes: true, attributeFilter: ['aria-disabled']});
}"""


@pytest.fixture(scope="module")
def paced(tmp_path_factory):
    study = build_study(tmp_path_factory.mktemp("paced"), 4, "--practice", "1", "--catch", "1")
    app = AppProcess("--study", str(study))
    yield study, app
    app.stop()


def my_votes(study, raw: str) -> list[dict]:
    log = study / "votes.csv"
    rid = hash_rater(raw, study_key(study))
    return [r for r in read_votes(log) if r["rater_id"] == rid] if log.exists() else []


@pytest.mark.e2e
def test_pacing_one_answer_per_trial_and_announcements(browser, paced):
    study, app = paced
    min_ms = load_study(study).min_exposure_ms
    width, height = PHONES["iphone-se"]
    ctx = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, is_mobile=True)
    page = ctx.new_page()
    raw = "pacing-rater-1"
    page.goto(f"{app.url}/?rater={raw}")
    page.locator("#study-start").wait_for(state="visible", timeout=30000)
    page.evaluate(RECORD)
    page.locator("#study-start").tap()

    # 1. the tap at image load is dropped; the buttons are enabled only min_ms after the last photo loaded
    assert next_screen(page, 0).startswith("trial:")
    wait_answerable(page)
    rec = page.evaluate("window.rec")
    assert rec["early"] == 1 and my_votes(study, raw) == [] and field(page, "study-shown") == "0"
    assert "longer" not in page.locator("#study-feedback").inner_text()  # the page, not the server, dropped it
    assert rec["enabled"][0] - max(t for t in rec["loaded"] if t < rec["enabled"][0]) >= min_ms - 20, rec
    announced = page.locator("#study-announce").inner_text()
    assert "Practice 1 of 1" in announced and "?" in announced, announced

    # 2. a held key (one press, then auto-repeats) and a second quick press: one answer
    page.keyboard.down("f")
    for _ in range(10):
        page.keyboard.down("f")  # repeat=true, as a held key sends
    page.keyboard.up("f")
    page.keyboard.press("f")
    next_screen(page, 1)
    page.wait_for_timeout(1200)
    assert [r["trial_index"] for r in my_votes(study, raw)] == ["0"] and field(page, "study-shown") == "1"
    announced = page.locator("#study-announce").inner_text()
    assert ("Correct" in announced or "Not quite" in announced) and "Trial 1 of" in announced, announced

    # 3. a double tap 100 ms apart: one answer
    wait_answerable(page)
    box = page.locator("#study-right").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.touchscreen.tap(x, y)
    page.wait_for_timeout(100)
    page.touchscreen.tap(x, y)
    lay = next_screen(page, 2)
    page.wait_for_timeout(1200)
    assert [r["trial_index"] for r in my_votes(study, raw)] == ["0", "1"], my_votes(study, raw)
    if lay.startswith("trial:"):
        assert field(page, "study-shown") == "2"
        assert "Trial 2 of" in page.locator("#study-announce").inner_text()
    ctx.close()


@pytest.mark.e2e
def test_focus_ring_is_visible(browser, paced):
    study, app = paced
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    page.goto(f"{app.url}/?rater=focus-rater")
    page.locator("#study-start").wait_for(state="visible", timeout=30000)
    page.locator("#study-start").click()
    next_screen(page, 0)
    for _ in range(40):  # Tab through the page until the first answer button has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "study-left":
            break
    else:
        pytest.fail("Tab never reached the answer buttons")
    ring = page.evaluate("() => { const s = getComputedStyle(document.activeElement);"
                         " return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }")
    assert ring[0] != "none" and ring[1] >= 2, ring
    page.close()
