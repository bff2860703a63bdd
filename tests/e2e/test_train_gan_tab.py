"""The Train a GAN tab in a real browser: training updates the picture and the numbers about once a second, Stop
stops it, a refused learning rate says why, and the stall preset fills the controls."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_number

pytestmark = pytest.mark.e2e
SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "train_gan.png"


def step_of(page) -> int:
    m = re.search(r"step ([\d,]+)", page.locator("#live-status").inner_text())
    return int(m.group(1).replace(",", "")) if m else -1


def test_train_watch_stop_and_refuse(page, full_app):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(full_app.url)
    page.get_by_role("tab", name="Train a GAN").click()
    expect(page.locator("#live-status")).to_contain_text("Not started")
    # 1. train: the status shows a growing step count and the grid appears, without any further click
    page.locator("#live-train").click()
    expect(page.locator("#live-status")).to_contain_text("training", timeout=30_000)
    expect(page.locator("#live-grid img")).to_have_count(1, timeout=30_000)
    first = step_of(page)
    page.wait_for_function("s => { const m = document.querySelector('#live-status').innerText.match(/step ([\\d,]+)/);"
                           " return m && parseInt(m[1].replace(/,/g, '')) > s; }", arg=first, timeout=30_000)
    first_grid = page.locator("#live-grid img").get_attribute("src")
    page.wait_for_timeout(2500)
    assert page.locator("#live-grid img").get_attribute("src") != first_grid   # the samples change as it learns
    page.wait_for_timeout(6000)
    page.screenshot(path=str(SHOT), full_page=True)
    # 2. stop: the step count stays put
    page.locator("#live-stop").click()
    expect(page.locator("#live-status")).to_contain_text("stopped", timeout=30_000)
    stopped = step_of(page)
    page.wait_for_timeout(2500)
    assert step_of(page) == stopped
    # 3. an absurd learning rate is refused with a message; the app keeps serving
    fill_number(page, "live-lr", 5)
    page.locator("#live-train").click()
    expect(page.get_by_text("learning rate must be between")).to_be_visible(timeout=15_000)
    # 4. the stall preset sets the paper's SGD, its learning rate and D's head start
    page.locator("#live-stall").click()
    expect(page.get_by_label("SGD with momentum (the GAN paper's)")).to_be_checked(timeout=15_000)
    page.locator("#live-reset").click()
    expect(page.locator("#live-status")).to_contain_text("Not started", timeout=15_000)
