"""The guided tab's real-photo examples and its "use the photo itself as guidance" button (in process)."""

import numpy as np
from PIL import Image

from synth.guided import examples
from ui import guided_tab as tab


def as_sent(value):
    return {"background": Image.fromarray(value["background"]), "layers": [], "composite": None}


def test_every_example_is_offered_and_the_real_photo_ones_load():
    assert tab.FIRST_EXAMPLE == next(iter(examples.EXAMPLES))        # the tab still opens on a triplet example
    assert examples.NAMES[-len(examples.PHOTO_EXAMPLES):] == list(examples.PHOTO_EXAMPLES)
    for name in examples.PHOTO_EXAMPLES:
        value, shown, guidance, note = tab.load_example(name)
        ex = examples.example(name)
        assert np.array_equal(shown.photo, ex.image) and np.array_equal(shown.hole, ex.mask)
        assert np.array_equal(guidance, ex.guidance) and note == ex.note


def test_the_photo_itself_as_guidance_button_and_the_fill_it_gives():
    name = "the photo itself as guidance (Hawa Mahal)"
    value, shown, _guidance, _note = tab.load_example(examples.NAMES[0])   # another example's guidance first
    value, shown, _guidance, _note = tab.load_example(name)
    guidance, note = tab.photo_as_guidance(as_sent(value), shown)
    # the photo as it was before the hole was drawn into the editor's background
    assert np.array_equal(guidance, shown.photo) and "photo itself" in note
    assert not np.array_equal(guidance, value["background"])
    result, aligned, attention, where, ce, note = tab.fill(as_sent(value), guidance, shown)
    assert np.array_equal(result, shown.photo)                       # registration gives the hole back
    assert "**Registration used**" in note and "guided **100.0 dB**" in note


def test_the_flower_pair_reports_its_registration_and_beats_the_context_encoder():
    name = "two photos of one flower: the guidance rotated 8 degrees, zoomed out"
    value, shown, guidance, _ = tab.load_example(name)
    result, aligned, attention, where, ce, note = tab.fill(as_sent(value), guidance, shown)
    assert "**Registration used**" in note and "turned +8.0 degrees" in note
    guided_db, ce_db = (float(note.split(f"{k} **")[1].split(" dB")[0]) for k in ("guided", "Context Encoder"))
    assert guided_db > ce_db + 8                                     # measured: 36.8 against 18.4 (L2+adv)
    assert where.shape == guidance.shape and aligned.shape[:2] == attention.shape[:2]
