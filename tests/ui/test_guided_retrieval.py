"""The guided tab's "find guidance for me" and the /retrieve_guidance endpoint (in process)."""

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from synth import photo_pool
from synth.guided import examples
from ui import guided_tab as tab


def editor_of_first_example():
    value, shown, _guidance, _note = tab.load_example(tab.FIRST_EXAMPLE)
    sent = {"background": Image.fromarray(value["background"]), "layers": [], "composite": None}
    return sent, shown


def test_find_guidance_returns_k_ranked_training_photos_and_picking_one_sets_the_guidance():
    value, shown = editor_of_first_example()
    train = {r["id"] for r in photo_pool.manifest("train")}
    for label in tab.SETTING_LABELS:
        gallery, images, note = tab.find_guidance(value, label, 4, shown)
        assert len(gallery) == len(images) == 4
        assert [c.split()[0] for _, c in gallery] == ["#1", "#2", "#3", "#4"]
        assert all(c.split()[1].rstrip(",") in train for _, c in gallery)
        assert "Top 4 of the training photos" in note
        evt = gr.SelectData(None, {"index": 2, "value": None})
        assert np.array_equal(tab.pick_guidance(images, evt), images[2])


def test_retrieve_guidance_endpoint_and_its_refusals():
    ex = examples.example(tab.FIRST_EXAMPLE)
    mask = (ex.mask * 255).astype(np.uint8)
    out = tab.retrieve_guidance(ex.image, mask, "b", 3.0)
    assert len(out) == 3 and out[0][1].startswith("#1 ")
    with pytest.raises(gr.Error, match="Unknown retrieval setting 'z'; choose one of: a = whole image"):
        tab.retrieve_guidance(ex.image, mask, "z", 3)
    for k in (0, 21, 2.5, None, "many"):
        with pytest.raises(gr.Error, match="(?i)k must be a whole number from 1 to 20"):
            tab.retrieve_guidance(ex.image, mask, "a", k)
    with pytest.raises(gr.Error, match="(?i)mask is empty"):
        tab.retrieve_guidance(ex.image, np.zeros_like(mask), "a", 3)
