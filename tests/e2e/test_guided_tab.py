import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from synth.guided import examples

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"



def pick(page, elem: str, name: str) -> None:
    page.locator(f"#{elem} input").click()
    page.get_by_role("option", name=name, exact=True).click()


@pytest.mark.e2e
def test_bundled_example_and_lighting_demo(page, full_app):
    page.set_viewport_size({"width": 1500, "height": 1100})
    page.goto(full_app.url)
    page.get_by_role("tab", name="Guided inpainting").click()

    # 1. the first look: the first bundled example, already filled, without a click
    for elem in ("guided-result", "guided-ce", "guided-aligned", "guided-attention", "guided-where"):
        expect(page.locator(f"#{elem} img").first).to_be_visible(timeout=180_000)
    expect(page.locator("#guided-guidance img").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"guided \d+\.\d dB, Context Encoder \d+\.\d dB")).first).to_be_visible()
    first_src = page.locator("#guided-result img").first.get_attribute("src")

    # 2. another bundled example: photo, hole and guidance arrive together; fill
    name = list(examples.EXAMPLES)[1]
    pick(page, "guided-example", name)
    expect(page.locator("#guided-guidance img").first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1000)
    page.locator("#guided-run").click()
    expect(page.locator("#guided-result img").first).not_to_have_attribute("src", first_src, timeout=120_000)
    for elem in ("guided-result", "guided-ce", "guided-aligned", "guided-attention", "guided-where"):
        expect(page.locator(f"#{elem} img").first).to_be_visible(timeout=120_000)
    expect(page.get_by_text(re.compile(r"guided \d+\.\d dB, Context Encoder \d+\.\d dB")).first).to_be_visible()
    # the result is served as a lossless PNG
    src = page.locator("#guided-result img").first.get_attribute("src")
    assert ".png" in src

    # 3. the lighting limitation: four guidance images, and per lighting guided alone and guided + DH
    page.get_by_text("Limitation: lighting").click()
    page.locator("#guided-lighting-run").click()
    expect(page.locator("#guided-lighting-results img")).to_have_count(8, timeout=120_000)
    expect(page.locator("#guided-lighting-guides img")).to_have_count(4)
    for light, _, _ in examples.LIGHTING:
        expect(page.get_by_text(re.compile(re.escape(light) + r", guided: \d+\.\d dB")).first).to_be_attached()
        expect(page.get_by_text(re.compile(re.escape(light) + r", guided \+ DH: \d+\.\d dB")).first).to_be_attached()
    page.wait_for_timeout(1000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "guided.png"), full_page=True)


@pytest.fixture(scope="module")
def client():
    from tests.helpers import tab_client
    from ui import guided_tab as guided

    with tab_client(guided.build_tab) as c:
        yield c


def test_endpoint_round_trip_and_bad_input(client, tmp_path):
    from gradio_client import handle_file

    ex = examples.example(next(iter(examples.EXAMPLES)))
    paths = {}
    for key, arr in (("image", ex.image), ("mask", ex.mask.astype(np.uint8) * 255), ("guidance", ex.guidance)):
        paths[key] = tmp_path / f"{key}.png"
        Image.fromarray(arr).save(paths[key])
    result, aligned, attention = client.predict(handle_file(str(paths["image"])), handle_file(str(paths["mask"])),
                                                handle_file(str(paths["guidance"])), api_name="/guided_inpaint")
    for p in (result, aligned, attention):
        assert Path(p).suffix == ".png"
    out = np.asarray(Image.open(result).convert("RGB"))
    assert out.shape == ex.image.shape
    assert np.array_equal(out[~ex.mask], ex.image[~ex.mask])         # lossless, outside the hole unchanged
    assert not np.array_equal(out[ex.mask], ex.image[ex.mask])
    assert np.asarray(Image.open(aligned)).shape[:2] == (128, 128)   # the model's window: twice the 64 px hole

    def error_of(image, mask, guidance) -> str:
        with pytest.raises(Exception) as e:
            client.predict(*(handle_file(str(p)) for p in (image, mask, guidance)), api_name="/guided_inpaint")
        return str(e.value)

    small_mask = tmp_path / "small_mask.png"
    Image.fromarray(np.full((100, 100), 255, np.uint8)).save(small_mask)
    assert "must be the same size" in error_of(paths["image"], small_mask, paths["guidance"])
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros(ex.mask.shape, np.uint8)).save(empty)
    assert "mask is empty" in error_of(paths["image"], empty, paths["guidance"])
    grey = tmp_path / "grey.png"
    Image.fromarray(ex.guidance[..., 1]).save(grey)
    assert "greyscale" in error_of(paths["image"], paths["mask"], grey)
    tiny = tmp_path / "tiny.png"
    Image.fromarray(ex.guidance[:20, :20]).save(tiny)
    assert "too small" in error_of(paths["image"], paths["mask"], tiny)
    # still serving
    assert client.predict(handle_file(str(paths["image"])), handle_file(str(paths["mask"])),
                          handle_file(str(paths["guidance"])), api_name="/guided_inpaint")


@pytest.mark.e2e
def test_the_photo_itself_as_guidance_gives_the_hole_its_own_pixels_back(page, full_app):
    """One click makes the editor's photo its own guidance; the fill registers it and copies the hole back."""
    page.set_viewport_size({"width": 1500, "height": 1100})
    page.goto(full_app.url)
    page.get_by_role("tab", name="Guided inpainting").click()
    expect(page.locator("#guided-result img").first).to_be_visible(timeout=180_000)
    first_src = page.locator("#guided-result img").first.get_attribute("src")
    page.locator("#guided-itself").click()
    expect(page.get_by_text("The guidance is now the photo itself").first).to_be_visible(timeout=60_000)
    page.wait_for_timeout(1000)
    page.locator("#guided-run").click()
    expect(page.locator("#guided-result img").first).not_to_have_attribute("src", first_src, timeout=120_000)
    note = page.get_by_text(re.compile(r"guided \d+\.\d dB, Context Encoder \d+\.\d dB")).first
    expect(note).to_be_visible(timeout=60_000)
    guided_db = float(re.search(r"guided (\d+\.\d) dB", note.inner_text()).group(1))
    assert guided_db >= 40, note.inner_text()
