"""No side channel in what the rater's browser downloads: the bytes of every stimulus served in a real Chromium,
mapped to conditions through the vote log, must not tell any condition from the others (AUC of byte size,
condition vs the rest, within 0.4-0.6 over at least 50 trials)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from eval_studies.assign import hash_rater, study_key
from eval_studies.study_file import load_study
from eval_studies.vote_writer import read_votes
from tests.conftest import AppProcess
from tests.e2e.rater import build_study, next_screen, wait_answerable

RATERS, TRIALS = 3, 14  # + 2 practice + 2 catch each: 54 trials (no rater sees an item twice)


def auc(pos: list[int], neg: list[int]) -> float:
    """P(a random `pos` size > a random `neg` size), ties counting one half (the Mann-Whitney AUC)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.e2e
def test_served_bytes_do_not_tell_conditions_apart(browser, tmp_path):
    # fast pacing settings so that 60 trials take seconds; the page still waits for every image to load
    study = build_study(tmp_path, TRIALS, "--practice", "2", "--catch", "2", items=18,
                        fields={"min_exposure_ms": 50, "max_votes_per_minute": 600})
    app = AppProcess("--study", str(study))
    try:
        size_of: dict[str, int] = {}
        shown: list[tuple[str, int, list[str]]] = []  # (raw rater, trial index, image URLs left to right)
        for r in range(RATERS):
            raw = f"bytes-rater-{r}"
            ctx = browser.new_context(viewport={"width": 1000, "height": 800})
            page = ctx.new_page()
            page.on("response", lambda resp: size_of.__setitem__(resp.url, len(resp.body()))
                    if resp.headers.get("content-type", "").startswith("image/") else None)
            page.goto(f"{app.url}/?rater={raw}")
            page.locator("#study-start").click(timeout=30000)
            i = 0
            while (lay := next_screen(page, i)) != "done":
                if lay == "break":
                    page.locator("#study-continue").click()
                    page.wait_for_function("() => (document.querySelector('#study-layout textarea, "
                                           "#study-layout input') || {}).value !== 'break'")
                    continue
                wait_answerable(page)
                urls = page.evaluate("() => [...document.querySelectorAll('#study-stimuli img')]"
                                     ".filter(i => i.offsetParent !== null).map(i => i.src)")
                shown.append((raw, i, urls))
                page.keyboard.press("f" if i % 2 else "j")
                i += 1
            ctx.close()
    finally:
        app.stop()

    rows = {(r["rater_id"], int(r["trial_index"])): r for r in read_votes(study / "votes.csv")}
    key = study_key(study)
    sizes: dict[str, list[int]] = defaultdict(list)
    for raw, i, urls in shown:
        row = rows[(hash_rater(raw, key), i)]
        conditions = [row["left_condition"], row["right_condition"]][:len(urls)]
        for url, condition in zip(urls, conditions):
            # stimuli arrive inline (a data: URL in the event's response, eval_studies.stimuli): what the browser
            # can measure is that text's length; anything fetched by URL is measured by its response body
            sizes[condition].append(len(url) if url.startswith("data:") else size_of[url])
    assert len(shown) >= 50 and len(sizes) >= 3, (len(shown), sorted(sizes))
    assert all(u.startswith("data:image/svg+xml,") for _, _, urls in shown for u in urls)  # no server path
    aucs = {c: auc(s, [x for d, t in sizes.items() if d != c for x in t]) for c, s in sizes.items()}
    print({c: (len(sizes[c]), sorted(set(sizes[c])), round(a, 3)) for c, a in aucs.items()})
    assert all(0.4 <= a <= 0.6 for a in aucs.values()), aucs

    # the measure has the power to fail: the same AUC on the study's stored (compressed) PNG files, which are
    # never served as they are, tells the natural photos apart by size (0.62 for these photos)
    stored = {c: [(study / "stimuli" / f).stat().st_size for f in items.values()]
              for c, items in load_study(study).conditions.items()}
    stored_aucs = {c: auc(s, [x for d, t in stored.items() if d != c for x in t]) for c, s in stored.items()}
    assert max(abs(a - 0.5) for a in stored_aucs.values()) > 0.1, stored_aucs
