"""The Results tab in a real Chromium: locked without a password, refuses a wrong one, shows the tables."""

import os
from pathlib import Path
import re

import pytest
from playwright.sync_api import expect

from eval_studies import simulate

PASSWORD = "correct horse battery staple"
SHOT = os.environ.get("RESULTS_TAB_SCREENSHOT")   # set to a .png path to look at the tab


@pytest.fixture
def studies_root(tmp_path):
    root = tmp_path / "studies"
    simulate.write_log(simulate.simulate(simulate.LECTURE, raters=20, seed=0), root / "lecture" / "votes.csv")
    return root


def _open_results(page, app):
    page.goto(app.url)
    page.get_by_role("tab", name="Results").click()


@pytest.mark.e2e
def test_no_password_keeps_the_tab_locked(launch_app, studies_root, page):
    app = launch_app("--studies-root", str(studies_root), env={"SYNTH_RESULTS_PASSWORD": ""})
    _open_results(page, app)
    expect(page.get_by_text("no password is set")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("SYNTH_RESULTS_PASSWORD").first).to_be_visible()
    assert page.locator("#results-password").count() == 0
    assert "Retrieval (a)" not in page.content() and "lecture" not in page.content()


@pytest.mark.e2e
def test_wrong_then_right_password(launch_app, studies_root, page):
    app = launch_app("--studies-root", str(studies_root), env={"SYNTH_RESULTS_PASSWORD": PASSWORD})
    _open_results(page, app)
    box = page.locator("#results-password input")
    box.fill("guess")
    page.locator("#results-unlock").click()
    expect(page.locator("#results-refusal")).to_contain_text("Wrong password", timeout=30_000)
    expect(page.locator("#results-build")).to_be_hidden()
    assert "lecture" not in page.content()            # not even the study list before the password

    box.fill(PASSWORD)
    page.locator("#results-unlock").click()
    expect(page.locator("#results-build")).to_be_visible(timeout=30_000)
    # live counts of the picked study: 20 raters, the lecture's retrieval (a) study
    expect(page.get_by_text(re.compile(r"votes\*?\*? from 20 raters"))).to_be_visible(timeout=30_000)
    page.locator("#results-build").click()
    table1 = page.locator("#results-table1")
    expect(table1).to_contain_text("76%", timeout=60_000)
    expect(table1).to_contain_text("Retrieval (a)")
    expect(page.locator("#results-table2")).to_contain_text("97.7%")
    expect(page.locator("#results-status")).to_contain_text("Report built")
    if SHOT:
        page.screenshot(path=SHOT, full_page=True)


def test_tab_helpers_in_process(studies_root, tmp_path):
    """The functions behind the tab, without a browser: study list, live counts, report files."""
    from eval_studies import progress
    from ui import results_tab as results

    (studies_root / "empty-folder").mkdir()
    assert progress.result_folders(studies_root) == ["lecture"]
    logs = progress.study_logs(studies_root, "lecture")
    assert logs == sorted((studies_root / "lecture").glob("votes*.csv"))
    with pytest.raises(KeyError, match="unknown study"):
        progress.study_logs(studies_root, "../lecture")
    summary, counts = progress.live_counts(logs)
    assert "from 20 raters" in summary and "80 catch trials, 60 practice trials" in summary
    assert counts["votes"].sum() == 4600 and set(counts["votes"]) == {200, 1600}
    assert counts.set_index("cell").loc["hr vs ours", "raters"] == 20
    bad = tmp_path / "broken" / "votes.csv"
    bad.parent.mkdir()
    bad.write_bytes(b"")
    summary, _ = progress.live_counts([bad])
    assert "cannot be read" in summary and "line 1: the file is empty" in summary
    md, t1, t2, *_charts, files = results.build_report(logs, "", "", tmp_path / "out")
    assert t1.set_index("Study").loc["Retrieval (a)", "HR"] == "76%"
    assert t2.set_index("Study").loc["Retrieval (a)", "NI"] == "97.7%"
    assert sorted(Path(f).suffix for f in files if Path(f).stem == "report") == [".csv", ".html", ".md", ".tex"]
    assert len(files) == len(set(files))
