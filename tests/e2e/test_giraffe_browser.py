"""The GIRAFFE tab in real Chromium against the real app and its bundled checkpoint (assets/checkpoints/giraffe).

SYNTH_GIRAFFE_DIR, when set, points the app at another checkpoint (see synth/giraffe/render.py); the screenshot then goes
to out/ instead of docs/screenshots, so that the docs only ever show the bundled model.
"""

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from synth.giraffe import render as giraffe
from tests.e2e.projector import in_viewport, low_contrast
from tests.helpers import fill_number

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"

pytestmark = pytest.mark.e2e

# each slider moved away from where it is (the controls start neutral: 0, elevation in its middle)
MOVES = [("rotation", 90), ("elevation", 30), ("appearance", 1), ("depth", 1), ("horizontal", -1), ("circle", 0.25)]


@pytest.fixture(scope="module", autouse=True)
def checkpoint_present():
    folder = giraffe.default_folder()
    assert giraffe.has_checkpoint(folder), (
        f"no GIRAFFE checkpoint in {folder}: export one with python -m synth.train giraffe --export RUN {folder}")


def pixels(page, img) -> np.ndarray:
    """The pixels the browser was served for an <img> (fetched again from its src). A slider fires two renders
    (input, then release), so the src can change while it is fetched: the fetch is retried on the newest src
    (a replaced file's old src answers with an error, or with a body that is no image)."""
    for attempt in range(5):
        try:
            body = page.request.get(img.get_attribute("src")).body()
            return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
        except (PlaywrightError, UnidentifiedImageError):
            if attempt == 4:
                raise
            page.wait_for_timeout(300)


def set_slider(page, name: str, value) -> None:
    """Type into the slider's number box and leave it: the blur is the slider's release."""
    fill_number(page, f"giraffe-{name}", value, key="Tab")


def open_tab(page, url: str, width: int, height: int):
    """The GIRAFFE tab in a width x height window, once its scene is shown -> the scene's <img>."""
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.get_by_role("tab", name="GIRAFFE").click()
    image = page.locator("#giraffe-image img")
    expect(image).to_be_visible(timeout=30_000)
    return image


def test_six_controls_animation_and_screenshot(page, full_app):
    image = open_tab(page, full_app.url, 1400, 1000)
    expect(page.locator("#giraffe-alphas img")).to_have_count(2, timeout=30_000)   # 2 objects to start with
    assert pixels(page, image).shape == (256, 256, 3)

    # 1. every control, moved and released, changes the picture
    for name, value in MOVES:
        src, before = image.get_attribute("src"), pixels(page, image)
        set_slider(page, name, value)
        expect(image, f"moving {name} left the picture as it was").not_to_have_attribute("src", src,
                                                                                        timeout=30_000)
        assert not np.array_equal(pixels(page, image), before), name

    # 2. a third object: its alpha map appears, and the object slider reaches it
    set_slider(page, "n-objects", 3)
    expect(page.locator("#giraffe-alphas img")).to_have_count(3, timeout=30_000)
    expect(page.get_by_text("object 3", exact=True)).to_be_attached()
    src = image.get_attribute("src")
    set_slider(page, "object", 3)
    expect(image).not_to_have_attribute("src", src, timeout=30_000)

    # 3. Reset the six controls (the moves above may have taken object 3 out of view), then Animate: a looping
    #    GIF of the chosen control's sweep
    src, feat_src = image.get_attribute("src"), page.locator("#giraffe-features img").get_attribute("src")
    page.locator("#giraffe-reset").click()
    expect(image).not_to_have_attribute("src", src, timeout=30_000)
    expect(page.locator("#giraffe-features img")).not_to_have_attribute("src", feat_src, timeout=30_000)
    expect(page.locator("#giraffe-rotation input[type=number]")).to_have_value("0")
    page.locator("#giraffe-sweep input").click()
    page.get_by_role("option", name="(a) rotation", exact=True).click()
    page.locator("#giraffe-animate").click()
    gif = page.locator("#giraffe-gif img")
    expect(gif).to_have_attribute("src", re.compile(r"\.gif$"), timeout=60_000)
    body = page.request.get(gif.get_attribute("src")).body()
    with Image.open(io.BytesIO(body)) as im:
        assert im.format == "GIF" and im.n_frames > 1 and im.info["loop"] == 0
    page.wait_for_timeout(500)
    shot = SHOTS / "giraffe.png" if not os.environ.get(giraffe.FOLDER_ENV) else ROOT / "out" / "giraffe.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)

    # 4. a value out of range typed into a number box: the message names the control; the app keeps serving
    set_slider(page, "rotation", 500)
    expect(page.get_by_text(re.compile(r"rotation must be a number in \[-180, 180\]")).first).to_be_visible(
        timeout=30_000)
    src = image.get_attribute("src")
    set_slider(page, "rotation", -45)
    expect(image).not_to_have_attribute("src", src, timeout=30_000)


def served_equals(page, img, expected: np.ndarray, timeout_s: float = 30) -> bool:
    """Whether the <img> comes to show exactly ``expected`` within timeout_s (renders arrive one after another)."""
    for _ in range(int(timeout_s * 4)):
        if np.array_equal(pixels(page, img), expected):
            return True
        page.wait_for_timeout(250)
    return False


def test_projector_view_keyboard_and_the_frame_note(page, full_app):
    image = open_tab(page, full_app.url, 1280, 720)
    start = {**giraffe.DEFAULT_SCENE, **giraffe.neutral_controls()}
    assert np.array_equal(pixels(page, image), giraffe.render(**start))       # the default scene, as rendered
    expect(page.locator("#giraffe-frame-note")).to_have_text(giraffe.frame_note(**start))

    # 1. at 1280 x 720 the scene stays in view with each control in reach, and the help text is readable
    for part in ("seed", "n-objects", "object", *[name for name, _ in MOVES], "reset", "animate"):
        page.locator(f"#giraffe-{part}").scroll_into_view_if_needed()
        assert in_viewport(page, f"#giraffe-{part}"), f"{part} is cut off at 1280 x 720"
        assert in_viewport(page, "#giraffe-image"), f"the scene is out of view while {part} is in reach"

    # 2. arrow keys on a slider re-render (they fire `input`, not `release`)
    src = image.get_attribute("src")
    page.locator("#giraffe-rotation input[type=range]").focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#giraffe-rotation input[type=number]")).to_have_value("10")
    expect(image).not_to_have_attribute("src", src, timeout=30_000)
    assert served_equals(page, image, giraffe.render(**{**start, "rotation": 10.0}))

    # 3. the circle takes the object (most of it) out of the frame: the note under the scene says so
    set_slider(page, "circle", 0.3)
    moved = {**start, "rotation": 10.0, "circle": 0.3}
    expect(page.locator("#giraffe-frame-note")).to_have_text(giraffe.frame_note(**moved).replace("**", ""),
                                                             timeout=30_000)          # markdown bold, as shown
    expect(page.locator("#giraffe-frame-note")).to_contain_text("out of the frame")


def test_help_text_is_readable_on_a_projector(page, full_app):
    open_tab(page, full_app.url, 1280, 720)
    assert low_contrast(page, "body") == []            # WCAG contrast 4.5:1 or more, slider help and ranges included


def test_giraffe_endpoint_by_name_and_its_errors(full_app):
    from gradio_client import Client

    client = Client(full_app.url, verbose=False)
    api = client.view_api(return_format="dict", print_info=False)
    assert [p["parameter_name"] for p in api["named_endpoints"]["/giraffe"]["parameters"]] == [
        "seed", "n_objects", "rotation", "elevation", "appearance", "depth", "horizontal", "circle"]
    args = dict(seed=3, n_objects=2, rotation=0, elevation=40, appearance=0, depth=0, horizontal=0, circle=0)
    a = np.asarray(Image.open(client.predict(**args, api_name="/giraffe")))
    assert a.shape == (256, 256, 3)
    assert np.array_equal(a, np.asarray(Image.open(client.predict(**args, api_name="/giraffe"))))
    for bad, message in ((dict(depth=5), r"depth must be a number in \[-1.5, 1.5\]"),
                         (dict(seed=-2), "seed must be an integer"),
                         (dict(n_objects=1, circle=0.5), "circle needs at least 2 objects")):
        with pytest.raises(Exception, match=message):
            client.predict(**{**args, **bad}, api_name="/giraffe")
    assert client.predict(**args, api_name="/giraffe")                 # still serving
