"""The hole-filling tab's functions (and the editor's, shared with the guided tab): where a made hole is drawn
and read back, "Fill" right after "Make a hole", uploads over the size limit, 16-bit, CMYK and alpha-mask
input, refused input as one log line, and the first look."""

import logging
import re

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from synth.inpaint import REGISTRY, display, masks
from ui import editor as ed
from ui import guided_tab as guided
from ui import inpaint_tab as tab

PHOTO = tab.EXAMPLES["china"]


def loaded(name="china"):
    """The editor value and Shown after picking an example (what the page sends back: PIL images)."""
    value, shown, note = tab.load_example(name)
    assert note == ""
    return as_sent(value), shown


def as_sent(value, layers=()):
    """An editor value as the page sends it back (ImageEditor(type="pil", image_mode=None) preprocessing)."""
    return {"background": Image.fromarray(value["background"]), "layers": [Image.fromarray(a) for a in layers],
            "composite": None}


def stroke_layer(h, w, y0, y1, x0, x1):
    layer = np.zeros((h, w, 4), np.uint8)
    layer[y0:y1, x0:x1] = (*display.HOLE_RGB, 255)
    return layer


# ---------------------------------------------------------------------------------------------- the editor

@pytest.mark.parametrize("kind", masks.MASK_KINDS)
def test_make_hole_draws_the_hole_exactly_where_it_is_stored(kind):
    value, shown = loaded()
    new, shown2 = tab.make_hole(value, kind, 3, shown)
    mask = masks.make_mask(kind, *PHOTO.shape[:2], 3)
    drawn = (new["background"] == display.HOLE_RGB).all(axis=2)
    assert np.array_equal(drawn, mask) and new["layers"] == []          # in the background, never a layer
    assert np.array_equal(new["background"][~mask], PHOTO[~mask])
    photo, hole = ed.read_editor(as_sent(new), shown2)
    assert np.array_equal(photo, PHOTO) and np.array_equal(hole, mask)  # the original comes back, not the drawing


def test_painted_strokes_add_to_a_made_hole_and_a_wrong_sized_layer_is_refused():
    value, shown = loaded()
    new, shown2 = tab.make_hole(value, "central", 0, shown)
    _, hole = ed.read_editor(as_sent(new, [stroke_layer(256, 256, 5, 15, 5, 40)]), shown2)
    assert hole[5:15, 5:40].all() and hole[masks.central(256, 256)].all()
    assert hole.sum() == masks.central(256, 256).sum() + 10 * 35
    with pytest.raises(gr.Error, match="painted layer is 100x100 but the photo is 256x256"):
        ed.read_editor(as_sent(new, [stroke_layer(100, 100, 0, 5, 0, 5)]), shown2)


def test_fill_right_after_make_a_hole_uses_the_new_hole():
    # the click on Fill carried the editor as it was before "Make a hole" came back (old hole, old strokes)
    value, shown = loaded()
    before, shown1 = tab.make_hole(value, "central", 0, shown)
    clicked = as_sent(before, [stroke_layer(256, 256, 0, 10, 0, 10)])
    after, shown2 = tab.make_hole(clicked, "random block", 2, shown1)
    new_mask = masks.make_mask("random block", 256, 256, 2)
    gallery, *_ = tab.fill_all(clicked, shown2)
    assert gallery[0][1] == f"the hole ({100 * new_mask.mean():.1f}% of the photo)"
    assert np.array_equal((gallery[0][0] == display.HOLE_RGB).all(axis=2), new_mask)
    # once the page has the new hole, the same: what is on screen
    gallery2, *_ = tab.fill_all(as_sent(after), shown2)
    assert gallery2[0][1] == gallery[0][1]


def test_a_photo_the_server_did_not_send_is_read_as_it_comes():
    _, shown = loaded("china")
    other = tab.EXAMPLES["lion"]
    photo, hole = ed.read_editor(as_sent({"background": other}, [stroke_layer(256, 256, 20, 30, 20, 30)]), shown)
    assert np.array_equal(photo, other) and hole.sum() == 100
    with pytest.raises(gr.Error, match="Upload or pick a photo first"):
        ed.read_editor({"background": None, "layers": [], "composite": None}, shown)


def test_remove_the_hole():
    value, shown = loaded()
    new, shown2 = tab.make_hole(value, "central", 0, shown)
    plain, shown3 = tab.remove_hole(as_sent(new), shown2)
    assert np.array_equal(plain["background"], PHOTO) and not shown3.hole.any()
    with pytest.raises(gr.Error, match="Paint a hole first"):
        tab.fill_all(as_sent(plain), shown3)


# ---------------------------------------------------------------------------------------------- uploads

def test_an_upload_over_the_limit_is_scaled_down_at_upload_with_a_message():
    big = np.random.default_rng(0).integers(0, 256, (2000, 3000, 3), dtype=np.uint8)
    value, shown, message = ed.take_upload({"background": Image.fromarray(big), "layers": [], "composite": None})
    assert value["background"].shape == (683, 1024, 3) and np.array_equal(shown.photo, value["background"])
    assert "3000x2000 px" in message and "scaled down to 1024x683 px" in message
    # the page then sends the scaled photo back: read as the shown one
    photo, hole = ed.read_editor(as_sent(value), shown)
    assert photo.shape == (683, 1024, 3) and not hole.any()
    # a click made before the scaled photo arrived (the big one): read as what the page shows since
    photo, _ = ed.read_editor({"background": Image.fromarray(big), "layers": []}, shown)
    assert photo.shape == (683, 1024, 3)
    # a photo within the limit stays as it is in the editor
    value, shown, message = ed.take_upload({"background": Image.fromarray(PHOTO), "layers": []})
    assert value == gr.skip() and message == "" and np.array_equal(shown.photo, PHOTO)


def test_the_upload_event_the_editor_fires_for_a_background_the_server_sent_changes_nothing():
    # Gradio's editor fires "upload" after loading a background the server sent: the echo must not make the
    # drawn hole part of the photo
    value, shown = loaded()
    new, shown2 = tab.make_hole(value, "central", 0, shown)
    assert ed.take_upload(as_sent(new), shown2) == (gr.skip(), gr.skip(), gr.skip())
    big = np.zeros((2000, 1500, 3), np.uint8)
    scaled, shown3, message = ed.take_upload({"background": Image.fromarray(big), "layers": []}, shown2)
    assert ed.take_upload(as_sent(scaled), shown3) == (gr.skip(), gr.skip(), gr.skip())   # the message stays


def test_a_late_echo_of_an_earlier_background_neither_takes_the_hole_away_nor_becomes_the_photo():
    # on a slow page the echo of the first look's background arrives after "Make a hole" was answered: it is
    # not a new upload (it was: the made hole vanished and the next Fill was refused as "the mask is empty")
    first, shown = tab.first_look()[:2]
    value = as_sent(first)
    new, shown2 = tab.make_hole(value, "random block", 0, shown)
    assert ed.take_upload(value, shown2) == (gr.skip(), gr.skip(), gr.skip())
    mask = masks.make_mask("random block", *shown.photo.shape[:2], 0)
    for sent in (new, first):              # Fill with the new background, or clicked before it arrived
        photo, hole = ed.read_editor(as_sent(sent), shown2)
        assert np.array_equal(photo, shown.photo) and np.array_equal(hole, mask)
    # the Shown remembers a few earlier backgrounds, not every one
    for seed in range(1, ed.SENT_KEPT + 3):
        new, shown2 = tab.make_hole(as_sent(new), "random block", seed, shown2)
    assert len(shown2.sent) == ed.SENT_KEPT
    # a photo nobody sent is still a new upload
    other = tab.EXAMPLES[sorted(tab.EXAMPLES)[-1]]
    _, shown3, _ = ed.take_upload({"background": Image.fromarray(other), "layers": []}, shown2)
    assert np.array_equal(shown3.photo, other) and not shown3.hole.any()


def test_an_upload_in_16_bit_grey_or_cmyk_reads_right_and_a_tiny_one_is_refused():
    ramp = (np.arange(256 * 256).reshape(256, 256)).astype(np.uint16)
    _, shown, _ = ed.take_upload({"background": Image.fromarray(ramp), "layers": []})
    assert shown.photo[-1, -1, 0] == 255 and shown.photo[0, 0, 0] == 0     # scaled, not clipped to white
    _, shown, _ = ed.take_upload({"background": Image.new("CMYK", (64, 48), (0, 0, 255, 0)), "layers": []})
    assert tuple(shown.photo[0, 0]) == (255, 255, 0)                         # yellow
    with pytest.raises(gr.Error, match=r"32\.\.4000 px, got 20x20"):
        ed.take_upload({"background": Image.new("RGB", (20, 20)), "layers": []})


# ---------------------------------------------------------------------------------------------- the API

@pytest.fixture
def files(tmp_path):
    def save(name, arr_or_image, **kw):
        im = arr_or_image if isinstance(arr_or_image, Image.Image) else Image.fromarray(arr_or_image)
        im.save(tmp_path / name, **kw)
        return str(tmp_path / name)
    return save


def test_api_reads_16_bit_grey_and_cmyk_photos(files):
    grey16 = (PHOTO[..., 1].astype(np.uint16) * 257)                       # 0..65535
    mask = np.zeros((256, 256), np.uint8)
    mask[100:140, 60:120] = 255
    hole = mask > 127
    out = tab.inpaint(files("grey16.png", Image.fromarray(grey16)), files("mask.png", mask), "telea")
    assert np.array_equal(out[~hole, 0], PHOTO[~hole, 1])                    # the 8-bit values, not white
    cmyk = Image.fromarray(PHOTO).convert("CMYK")
    out = tab.inpaint(files("photo.jpg", cmyk, quality=95), files("mask.png", mask), "mean-colour")
    assert out.shape == (256, 256, 3) and np.abs(out[~hole].astype(int) - PHOTO[~hole]).mean() < 6


def test_api_mask_alpha_0_means_not_hole(files):
    photo = files("photo.png", PHOTO)
    clear_white = np.zeros((256, 256, 4), np.uint8)
    clear_white[..., :3] = 255                                               # white everywhere, alpha 0
    out = tab.inpaint(photo, files("clear.png", clear_white), "telea")
    assert np.array_equal(out, PHOTO)                                        # nothing painted: nothing filled
    painted = clear_white.copy()
    painted[50:80, 50:90, 3] = 255                                           # painted: opaque white
    painted[150:160, 150:160, 3] = 128                                       # half transparent white: hole
    painted[200:210, 200:210, 3] = 100                                       # mostly transparent: not hole
    m = ed.mask_from_image(np.asarray(Image.open(files("painted.png", painted))))
    expected = np.zeros((256, 256), bool)
    expected[50:80, 50:90] = expected[150:160, 150:160] = True
    assert np.array_equal(m, expected)
    la = np.stack([np.full((256, 256), 255, np.uint8), (expected * 255).astype(np.uint8)], axis=2)
    assert np.array_equal(ed.mask_from_image(np.asarray(Image.open(files("la.png", Image.fromarray(la, "LA"))))),
                          expected)
    out = tab.inpaint(photo, files("painted.png", painted), "telea")
    assert np.array_equal(out[~expected], PHOTO[~expected]) and not np.array_equal(out[expected], PHOTO[expected])


def test_api_photo_over_a_methods_limit_is_refused_with_its_sentence(files):
    big = np.zeros((40, 1100, 3), np.uint8)
    with pytest.raises(gr.Error, match="biharmonic works on photos up to 1024 px a side; this one is 1100x40"):
        tab.inpaint(files("big.png", big), files("m.png", np.eye(40, 1100, dtype=np.uint8) * 255), "biharmonic")


def test_api_runs_a_central_hole_model_only_on_a_compact_hole(files):
    photo = files("photo.png", PHOTO)
    square = files("square.png", masks.square(256, 256, 0.3, seed=1, centred=False).astype(np.uint8) * 255)
    strokes = files("strokes.png", masks.strokes(256, 256, seed=1).astype(np.uint8) * 255)
    for name in REGISTRY:
        if display.central_hole_only(name):
            assert not np.array_equal(tab.inpaint(photo, square, name), PHOTO)
            with pytest.raises(gr.Error, match=re.escape(name) + ": trained on one centred square hole only.*glcic"):
                tab.inpaint(photo, strokes, name)


def test_a_refused_input_is_one_log_line_and_no_traceback(caplog):
    with caplog.at_level(logging.WARNING, logger="ui.editor"):
        with pytest.raises(gr.Error) as e:
            tab.inpaint(None, None, "telea")
    assert e.value.print_exception is False                  # gradio prints no traceback for it
    assert [r.getMessage() for r in caplog.records] == ["refused input: No image: send the photo to fill."]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ui.editor"):
        with pytest.raises(gr.Error) as e:
            tab.fill_all(*loaded())                          # no hole
    assert e.value.print_exception is False and len(caplog.records) == 1
    assert "\n" not in caplog.records[0].getMessage()


def test_the_server_logs_a_refusal_as_one_line(capfd, caplog, tmp_path):
    from gradio_client import Client, handle_file

    from tests.helpers import tab_client

    Image.fromarray(PHOTO).save(tmp_path / "photo.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    with tab_client(tab.build_tab) as client:
        assert isinstance(client, Client)
        capfd.readouterr()
        with caplog.at_level(logging.WARNING, logger="ui.editor"):
            with pytest.raises(Exception, match="same size"):
                client.predict(handle_file(str(tmp_path / "photo.png")), handle_file(str(tmp_path / "small.png")),
                               "telea", api_name="/inpaint")
        err = capfd.readouterr().err
    assert "Traceback" not in err and "Error" not in err
    lines = [r.getMessage() for r in caplog.records if r.name == "ui.editor"]
    assert len(lines) == 1 and lines[0].startswith("refused input: Mask is 10x10 but the image is 256x256")


# ---------------------------------------------------------------------------------------------- what is shown

def test_fill_all_on_strokes_leaves_out_the_central_hole_models_with_why():
    value, shown = loaded()
    new, shown2 = tab.make_hole(value, "free-form strokes", 1, shown)
    gallery, cands, note, completions, chosen = tab.fill_all(as_sent(new), shown2)
    central = [n for n in REGISTRY if display.central_hole_only(n)]
    assert len(gallery) == 2 + len(REGISTRY) - len(central)
    for name in central:
        assert f"- **{name}**: trained on one centred square hole only" in note
    assert chosen is None and len(cands) == 2 * len(completions)


def test_the_tab_opens_on_its_first_example_filled():
    value, shown, photo_note, gallery, cands, note, completions, chosen = tab.first_look()
    mask = masks.make_mask(tab.FIRST_KIND, 256, 256, tab.FIRST_SEED)
    assert np.array_equal(shown.photo, tab.EXAMPLES[tab.FIRST_EXAMPLE]) and np.array_equal(shown.hole, mask)
    assert np.array_equal((value["background"] == display.HOLE_RGB).all(axis=2), mask)
    assert len(gallery) == 2 + len(REGISTRY)                # a central hole: every method runs
    assert [c for _, c in gallery[2:]] == [c for _, c in gallery[2:] if c.split(": ")[0] in REGISTRY]
    assert "hole pixels" in note and cands and photo_note == ""


def test_the_guided_tab_opens_on_its_first_example_filled():
    from synth.guided import examples

    value, shown, guidance, result, aligned, attention, where, ce, note = guided.first_look()
    ex = examples.example(guided.FIRST_EXAMPLE)
    assert np.array_equal((value["background"] == display.HOLE_RGB).all(axis=2), ex.mask)
    assert np.array_equal(shown.photo, ex.image) and np.array_equal(guidance, ex.guidance)
    assert result.shape == ex.image.shape and not np.array_equal(result[ex.mask], ex.image[ex.mask])
    assert "guided" in note and ce.shape == ex.image.shape
    # the editor reads the example's hole back, and the fill is the first look's
    out = guided.fill(as_sent(value), guidance, shown)
    assert np.array_equal(out[0], result)
