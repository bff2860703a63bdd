import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from synth.gan import generate
from tests.e2e.projector import in_viewport, low_contrast
from tests.helpers import fill_number

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.e2e



def set_number(page, elem_id: str, value) -> None:
    fill_number(page, elem_id, value)


def test_first_view_is_the_default_models_labelled_samples_and_a_new_model_draws_again(page, full_app):
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(full_app.url)
    samples = page.locator("#samples img")
    # 1. before any click: 16 samples of the default model, labelled with it, next to their controls
    expect(samples).to_have_count(16, timeout=30_000)
    dcgan, gan = generate.GENERATORS["dcgan"].title, generate.GENERATORS["gan"].title
    label = page.locator("#samples [data-testid=block-label]")
    expect(label).to_have_text(generate.sample_caption("dcgan", 16, 0))
    expect(page.locator("#walk img")).to_have_count(8)
    for part in ("#model", "#model-note", "#n-images", "#seed", "#generate-btn", "#samples"):
        assert in_viewport(page, part), f"{part} is out of view at 1280 x 720"
    # 2. another model: its own samples, its name on them, and its note (the GAN's speckle is its own)
    first = samples.first.get_attribute("src")
    page.locator("#model input").click()
    page.get_by_role("option", name=gan, exact=True).click()
    expect(label).to_have_text(generate.sample_caption("gan", 16, 0), timeout=30_000)
    expect(samples.first).not_to_have_attribute("src", first)
    expect(page.locator("#walk [data-testid=block-label]")).to_contain_text(gan)
    expect(page.locator("#model-note")).to_contain_text("in the model's own output")
    body = page.request.get(samples.first.get_attribute("src")).body()
    shown = np.asarray(Image.open(io.BytesIO(body)).convert("L"))
    assert np.array_equal(shown, generate.sample_gallery("gan", 16, 0)[0])    # served as drawn, 4 x 4 blocks
    page.locator("#model input").click()
    page.get_by_role("option", name=dcgan, exact=True).click()
    expect(label).to_have_text(generate.sample_caption("dcgan", 16, 0), timeout=30_000)
    # 3. the real digits: three of every class, one column each
    page.get_by_text("Architecture and training").click()
    real = page.locator("#real-digits img")
    expect(real).to_be_visible(timeout=30_000)
    grid = np.asarray(Image.open(io.BytesIO(page.request.get(real.get_attribute("src")).body())).convert("L"))
    assert np.array_equal(grid, generate.training_digits(3))


def test_help_text_is_readable_on_a_projector(page, full_app):
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(full_app.url)
    expect(page.locator("#samples img")).to_have_count(16, timeout=30_000)
    assert low_contrast(page, "body") == []            # WCAG contrast 4.5:1 or more, slider ranges included


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
    expect(page.locator("#walk [data-testid=block-label]")).to_have_text(
        generate.walk_caption("dcgan", 1, 2, 8, "slerp"))
    expect(page.locator("#samples [data-testid=block-label]")).to_have_text(generate.sample_caption("dcgan", 5, 7))
    page.wait_for_timeout(500)
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
    ngf = generate.load_generator("dcgan").cfg.ngf              # the projection's channels follow the bundled width
    expect(page.get_by_text(f"{ngf * 8} x 4 x 4").first).to_be_visible()
