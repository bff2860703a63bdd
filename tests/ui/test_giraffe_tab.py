"""The GIRAFFE tab's functions and its /giraffe endpoint, on a tiny checkpoint trained here for 2 steps."""

import json

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from synth.giraffe import render as rd
from synth.giraffe import scenes
from synth.giraffe import train as tg
from synth.giraffe.controls import CONTROL_RANGES
from tests.synth.giraffe.tiny import TINY
from ui import giraffe_tab as ui

NEUTRAL = {"seed": 0, "n_objects": 2, **rd.neutral_controls()}
MOVED = {"rotation": 90.0, "elevation": 25.0, "appearance": 1.0, "depth": 1.0, "horizontal": -1.0, "circle": 0.25}


@pytest.fixture(scope="session")
def folder(tmp_path_factory):
    """An exported checkpoint of a tiny GIRAFFE trained 2 steps on 16 rendered scenes (a few seconds)."""
    root = tmp_path_factory.mktemp("giraffe")
    scenes.export(16, root / "data" / "scenes", 0)
    run = tg.main(["--steps", "2", "--out", str(root / "run"), "--data-root", str(root / "data"), "--batch", "4",
                   "--threads", "1", "--config", json.dumps(TINY)])
    return tg.main(["--export", str(run), str(root / "asset")])


def test_render_is_a_256_px_image_the_same_for_the_same_seed(folder):
    img = ui.render(**NEUTRAL, folder=folder)
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8
    assert np.array_equal(img, ui.render(**NEUTRAL, folder=folder))
    assert not np.array_equal(img, ui.render(**{**NEUTRAL, "seed": 1}, folder=folder))
    # nearest-neighbour upscaling of the 64 x 64 frame: 4 x 4 blocks of one colour
    assert np.array_equal(img, rd.upscale(img[::4, ::4]))
    # a whole float (what a number box sends) is the same seed
    assert np.array_equal(img, ui.render(**{**NEUTRAL, "seed": 0.0, "n_objects": 2.0}, folder=folder))
    assert rd.generator(folder) is rd.generator(str(folder))               # loaded once


@pytest.mark.parametrize("control", list(ui.CONTROLS))
def test_each_control_changes_the_image(folder, control):
    before = ui.render(**NEUTRAL, folder=folder)
    after = ui.render(**{**NEUTRAL, control: MOVED[control]}, folder=folder)
    assert not np.array_equal(before, after), control
    # the controls act on the chosen object: moving object 2 is another picture than moving object 1
    if control not in ("elevation",):
        other = ui.render(**{**NEUTRAL, control: MOVED[control]}, obj=2, folder=folder)
        assert not np.array_equal(after, other), control


@pytest.mark.parametrize("name", list(CONTROL_RANGES))
def test_a_control_out_of_range_is_refused_by_name(folder, name):
    lo, hi, _ = CONTROL_RANGES[name]
    for bad in (hi + 1, lo - 1, "1", None if name != "elevation" else float("nan")):
        with pytest.raises(gr.Error) as e:
            ui.render(**{**NEUTRAL, name: bad}, folder=folder)
        assert e.value.message.startswith(f"{name} must be a number in [{lo:g}, {hi:g}]"), e.value.message
    if name == "elevation":                              # None: the seed's own camera (controlled_latents)
        assert ui.render(**{**NEUTRAL, name: None}, folder=folder).shape == (256, 256, 3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(seed=-1), "seed must be an integer"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(seed=None), "seed must be an integer"),
    (dict(n_objects=0), r"n_objects must be an integer 1\.\.4"),
    (dict(n_objects=5), r"n_objects must be an integer 1\.\.4"),
    (dict(n_objects=2.5), r"n_objects must be an integer 1\.\.4"),
    (dict(n_objects=1, circle=0.5), "circle needs at least 2 objects"),
    (dict(obj=3), r"object must be a whole number 1\.\.2 \(the scene has 2 objects\)"),
    (dict(obj=0), r"object must be a whole number 1\.\.2"),
])
def test_bad_values_are_clear_errors(folder, kwargs, message):
    with pytest.raises(gr.Error, match=message):
        ui.render(**{**NEUTRAL, **kwargs}, folder=folder)


def gif_frames(path) -> tuple[int, int, list[int]]:
    """(frames, loop, each frame's duration in ms) of a GIF file."""
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.size == (256, 256)
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
        return gif.n_frames, gif.info["loop"], durations


def test_animate_writes_a_looping_gif_with_the_requested_frames(folder):
    values = dict(NEUTRAL)
    # the camera's elevation changes every pixel of every frame: one GIF frame per requested frame
    path = ui.animate("elevation", **values, n_frames=6, folder=folder)
    n, loop, durations = gif_frames(path)
    assert (n, loop) == (6, 0) and durations == [rd.FRAME_MS] * 6
    # frame 0 is the scene at the sweep's first value, as render draws it (up to the GIF palette)
    with Image.open(path) as gif:
        first = np.asarray(gif.convert("RGB"), dtype=float)
    still = ui.render(**{**values, "elevation": CONTROL_RANGES["elevation"][0]}, folder=folder).astype(float)
    assert np.abs(first - still).mean() < 4
    # any control: the loop lasts n_frames x FRAME_MS (PIL merges identical neighbours into a longer frame)
    for control in ui.CONTROLS:
        n, loop, durations = gif_frames(ui.animate(control, **values, n_frames=8, folder=folder))
        assert loop == 0 and 2 <= n <= 8 and sum(durations) == 8 * rd.FRAME_MS, control
    with pytest.raises(gr.Error, match="Unknown control 'zoom'"):
        ui.animate("zoom", **values, folder=folder)
    with pytest.raises(gr.Error, match="circle needs at least 2 objects"):
        ui.animate("circle", **{**values, "n_objects": 1}, n_frames=4, folder=folder)


def test_side_views_one_alpha_map_per_object(folder):
    for n in range(1, 5):
        alphas, features, background = ui.side_views(**{**NEUTRAL, "n_objects": n}, folder=folder)
        assert [caption for _, caption in alphas] == [f"object {k}" for k in range(1, n + 1)]
        assert all(a.shape == (128, 128) and a.dtype == np.uint8 for a, _ in alphas)
        assert features.shape == background.shape == (256, 256, 3)
    # the background is rendered without the objects: moving an object leaves it as it was
    _, _, bg = ui.side_views(**NEUTRAL, folder=folder)
    _, _, bg_moved = ui.side_views(**{**NEUTRAL, "depth": 1.0, "rotation": 45.0}, folder=folder)
    assert np.array_equal(bg, bg_moved)


def test_the_folder_comes_from_the_environment_or_the_bundle(monkeypatch, tmp_path):
    monkeypatch.delenv(rd.FOLDER_ENV, raising=False)
    assert rd.default_folder() == rd.BUNDLED
    monkeypatch.setenv(rd.FOLDER_ENV, str(tmp_path))
    assert rd.default_folder() == tmp_path


def test_without_a_checkpoint_the_tab_only_says_how_to_train(tmp_path):
    with gr.Blocks() as demo:
        ui.build_tab(tmp_path / "empty")
    shown = [b for b in demo.blocks.values() if b is not demo]
    assert len(shown) == 1 and isinstance(shown[0], gr.Markdown)
    text = shown[0].value
    assert "not trained yet" in text and "python -m synth.train giraffe" in text
    assert not demo.fns                                                     # nothing to call either
    with pytest.raises(gr.Error, match="No GIRAFFE checkpoint"):
        ui.render(**NEUTRAL, folder=tmp_path / "empty")


@pytest.fixture(scope="module")
def client(folder):
    from tests.helpers import tab_client

    with tab_client(lambda: ui.build_tab(folder)) as c:
        yield c


def test_the_giraffe_endpoint_and_its_parameters(client, folder):
    api = client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/giraffe"] and not api["unnamed_endpoints"]  # the rest is private
    params = api["named_endpoints"]["/giraffe"]["parameters"]
    assert [p["parameter_name"] for p in params] == ["seed", "n_objects", "rotation", "elevation", "appearance",
                                                     "depth", "horizontal", "circle"]
    args = {**NEUTRAL, "rotation": 90.0}
    out = np.asarray(Image.open(client.predict(**args, api_name="/giraffe")).convert("RGB"))
    assert np.array_equal(out, ui.render(**args, folder=folder))           # a lossless PNG of render's pixels


@pytest.mark.parametrize("kwargs, message", [
    (dict(rotation=200), r"rotation must be a number in \[-180, 180\]"),
    (dict(seed=-1), "seed must be an integer"),
    (dict(n_objects=7), r"n_objects must be an integer 1\.\.4"),
    (dict(n_objects=1, circle=0.5), "circle needs at least 2 objects"),
])
def test_the_endpoint_refuses_bad_values_and_keeps_serving(client, kwargs, message):
    with pytest.raises(Exception, match=message):
        client.predict(**{**NEUTRAL, **kwargs}, api_name="/giraffe")
    assert client.predict(**NEUTRAL, api_name="/giraffe")


def test_typing_an_incomplete_value_leaves_the_pictures_while_release_says_what_is_wrong(folder):
    live = ui._unless_incomplete(lambda *v: ui.render(*v, folder=folder), 1)
    values = [NEUTRAL[k] for k in ("seed", "n_objects", *ui.CONTROLS)] + [1]
    assert np.array_equal(live(*values), ui.render(**NEUTRAL, folder=folder))
    values[2] = None                                   # the rotation box while "-" is typed
    skipped = live(*values)
    assert isinstance(skipped, dict) and skipped.get("__type__") == "update" and len(skipped) == 1
    with pytest.raises(gr.Error, match="rotation must be a number"):
        ui.render(*values, folder=folder)
    side = ui._unless_incomplete(ui.side_views, 4)(*values, folder)
    assert len(side) == 4 and all(s == skipped for s in side)


def test_the_tab_opens_on_the_default_scene_with_its_frame_note(folder):
    with gr.Blocks() as demo:
        ui.build_tab(folder)
    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert by_id["giraffe-seed"].value == rd.DEFAULT_SCENE["seed"]
    assert by_id["giraffe-n-objects"].value == rd.DEFAULT_SCENE["n_objects"]
    assert by_id["giraffe-image"].value is not None
    assert by_id["giraffe-frame-note"].value == rd.frame_note(**rd.DEFAULT_SCENE, **rd.neutral_controls(),
                                                              folder=folder)
    # every slider re-renders on input (arrow keys) as well as on release (mouse-up, leaving the number box)
    triggers = {(demo.blocks[block_id].elem_id, event) for fn in demo.fns.values() for block_id, event in fn.targets
                if block_id in demo.blocks}
    for name in ui.CONTROLS:
        assert {(f"giraffe-{name}", "input"), (f"giraffe-{name}", "release")} <= triggers, name
