import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from synth.inpaint import REGISTRY

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
N_RESULTS = len(REGISTRY) + 2  # every method, the hole and the original

pytestmark = pytest.mark.e2e



def pick_example(page, name: str) -> None:
    page.locator("#inpaint-example input").click()
    page.get_by_role("option", name=name, exact=True).click()


def canvas_box(page):
    canvas = page.locator("#inpaint-editor canvas").first
    expect(canvas).to_be_visible(timeout=30_000)
    return canvas.bounding_box()


def test_paint_a_stroke_and_get_every_method(page, full_app):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(full_app.url)
    page.get_by_role("tab", name="Hole filling").click()
    pick_example(page, "chelsea")
    page.wait_for_timeout(1500)

    # 1. nothing painted yet: a clear message, and the app keeps serving
    page.locator("#inpaint-run").click()
    expect(page.get_by_text(re.compile("Paint a hole first")).first).to_be_visible(timeout=90_000)

    # 2. paint a stroke across the middle of the photo with the brush
    box = canvas_box(page)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 60, cy)
    page.mouse.down()
    for i in range(13):
        page.mouse.move(cx - 60 + 10 * i, cy + (i % 3) * 4, steps=2)
    page.mouse.up()
    page.wait_for_timeout(800)
    page.locator("#inpaint-run").click()
    gallery = page.locator("#inpaint-gallery img")
    expect(gallery).to_have_count(N_RESULTS, timeout=120_000)
    for name in REGISTRY:
        expect(page.get_by_text(re.compile(re.escape(name) + r": PSNR \d+\.\d dB")).first).to_be_attached()
    expect(page.locator("#inpaint-candidates img").first).to_be_visible()
    page.locator("#inpaint-candidates img").nth(2).click()     # pick candidate #2
    expect(page.locator("#inpaint-chosen img")).to_be_visible(timeout=30_000)
    # the painted hole is small: a few percent of the photo
    hole = page.get_by_text(re.compile(r"the hole \((\d+\.\d)% of the photo\)")).first
    pct = float(re.search(r"(\d+\.\d)%", hole.text_content()).group(1))
    assert 0.1 < pct < 15

    # 3. the mask generator: a central hole is a quarter of the photo
    page.get_by_label("central").check()
    page.locator("#inpaint-make").click()
    page.wait_for_timeout(1500)
    page.locator("#inpaint-run").click()
    expect(page.get_by_text("the hole (25.0% of the photo)").first).to_be_attached(timeout=120_000)
    expect(gallery).to_have_count(N_RESULTS, timeout=120_000)
    page.wait_for_timeout(1000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "inpaint.png"), full_page=True)


def test_inpaint_endpoint_and_bad_input(full_app, tmp_path):
    import numpy as np
    from gradio_client import Client, handle_file
    from PIL import Image

    from ui.inpaint_tab import EXAMPLES

    client = Client(full_app.url + "/", verbose=False)
    img = EXAMPLES["china"]
    Image.fromarray(img).save(tmp_path / "img.png")
    Image.fromarray(img[..., 0]).save(tmp_path / "grey.png")
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[100:140, 60:120] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    for name, arr in {"small": np.zeros((64, 64), np.uint8), "empty": np.zeros_like(mask),
                      "full": np.full_like(mask, 255)}.items():
        Image.fromarray(arr).save(tmp_path / f"{name}.png")
    (tmp_path / "broken.png").write_bytes(b"not a png at all")

    def call(image, m, method):
        return client.predict(handle_file(str(tmp_path / image)), handle_file(str(tmp_path / m)), method,
                              api_name="/inpaint")

    hole = mask > 127
    for method in ("context-encoder L2+adv", "telea"):
        out = np.asarray(Image.open(call("img.png", "mask.png", method)).convert("RGB"))
        assert np.array_equal(out[~hole], img[~hole])          # lossless PNG: exact outside the hole
        assert not np.array_equal(out[hole], img[hole])
    out = np.asarray(Image.open(call("grey.png", "mask.png", "mean-colour")).convert("RGB"))
    assert np.array_equal(out[~hole, 1], img[~hole, 0])        # grey in, RGB out
    out = np.asarray(Image.open(call("img.png", "empty.png", "telea")).convert("RGB"))
    assert np.array_equal(out, img)                            # empty mask: the image back
    for image, m, method, message in [("img.png", "small.png", "telea", "same size"),
                                      ("img.png", "full.png", "telea", "covers the whole image"),
                                      ("img.png", "mask.png", "photoshop", "photoshop"),
                                      ("broken.png", "mask.png", "telea", "Could not read the photo as an image")]:
        with pytest.raises(Exception, match=message):
            call(image, m, method)
    # still serving
    out = np.asarray(Image.open(call("img.png", "mask.png", "navier-stokes")).convert("RGB"))
    assert np.array_equal(out[~hole], img[~hole])
