import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_number

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.e2e



def set_number(page, elem_id: str, value) -> None:
    fill_number(page, elem_id, value)


def test_generate_walk_and_error(page, full_app):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(full_app.url)
    expect(page.get_by_role("tab", name="Generate")).to_be_visible(timeout=30_000)

    # 1. generate five images
    set_number(page, "n-images", 5)
    page.locator("#generate-btn").click()
    expect(page.locator("#samples img")).to_have_count(5, timeout=30_000)
    first = page.locator("#samples img").first.get_attribute("src")

    # the same seed gives the same images, another seed different ones
    page.locator("#generate-btn").click()
    page.wait_for_timeout(1500)
    expect(page.locator("#samples img")).to_have_count(5)
    set_number(page, "seed", 7)
    page.locator("#generate-btn").click()
    expect(page.locator("#samples img").first).not_to_have_attribute("src", first, timeout=30_000)
    SHOTS.mkdir(parents=True, exist_ok=True)

    # 2. latent walk: 8 steps by default
    page.locator("#walk-btn").click()
    expect(page.locator("#walk img")).to_have_count(8, timeout=30_000)
    page.screenshot(path=str(SHOTS / "generate.png"), full_page=True)

    # 3. a non-integer seed gives a clear error and the app keeps serving
    set_number(page, "seed", 1.5)
    page.locator("#generate-btn").click()
    expect(page.get_by_text(re.compile("seed must be an integer"))).to_be_visible(timeout=30_000)
    set_number(page, "seed", 3)
    set_number(page, "n-images", 2)
    page.locator("#generate-btn").click()
    expect(page.locator("#samples img")).to_have_count(2, timeout=30_000)


def test_architecture_panel_reads_the_live_model(page, full_app):
    page.goto(full_app.url)
    page.get_by_text("Architecture and training").click()
    expect(page.get_by_text("1 x 64 x 64").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("256 x 4 x 4").first).to_be_visible()
