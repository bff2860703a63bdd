"""Guidance by retrieval (synth.guided.retrieval): settings a and b, ranks, the database's split, bad input."""

import numpy as np
import pytest

from synth import photo_pool
from synth.guided import retrieval
from synth.inpaint import masks


def scene(seed, h=120, w=160):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / 100.0
    base = rng.uniform(40, 200, 3)
    img = base + 50 * np.sin(x * rng.uniform(3, 20) + rng.uniform(0, 6))[..., None] * rng.uniform(-1, 1, 3)
    img += 30 * np.cos(y * rng.uniform(3, 20))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def db():
    return retrieval.GuidanceDatabase([(f"p{i}", scene(i)) for i in range(12)])


def test_a_photo_retrieves_itself_first_in_both_settings(db):
    img = scene(7)
    # a hole in the middle half of one of the database's windows: its context window is that window
    _, boxes = retrieval.window_descriptors(img, retrieval.WINDOW_FRACS[1])
    y, x, side = boxes[len(boxes) // 2]
    m = np.zeros(img.shape[:2], bool)
    m[y + side // 4:y + side - side // 4, x + side // 4:x + side - side // 4] = True
    for setting in "ab":
        r = db.retrieve(img, m, setting, k=4)
        assert [x.rank for x in r] == [1, 2, 3, 4]
        assert r[0].photo_id == "p7"
        assert np.all(np.diff([x.distance for x in r]) >= 0)
        assert len({x.photo_id.replace(", mirrored", "") for x in r}) == 4      # one match per photo


def test_setting_b_returns_the_matched_window_of_the_photo(db):
    img = scene(3)
    m = np.zeros(img.shape[:2], bool)
    m[40:60, 60:80] = True
    top = db.retrieve(img, m, "b", k=1)[0]
    y0, x0, y1, x1 = top.box
    src = dict(db.photos)[top.photo_id]
    assert 0 <= y0 < y1 <= src.shape[0] and 0 <= x0 < x1 <= src.shape[1]
    assert np.array_equal(top.image, src[y0:y1, x0:x1])
    assert top.image.shape[0] == top.image.shape[1]


def test_window_descriptors_match_describing_each_window():
    img = scene(5, 200, 260)
    d, boxes = retrieval.window_descriptors(img, 0.5)
    assert len(d) == len(boxes) > 4
    for i in (0, len(d) // 2, len(d) - 1):
        y, x, side = boxes[i]
        direct = retrieval.describe(img[y:y + side, x:x + side])
        assert np.abs(d[i] - direct).mean() < 0.35 * np.abs(direct).mean()


def test_bad_input_gets_clear_messages(db):
    img = scene(1)
    m = masks.square(*img.shape[:2], 0.3)
    with pytest.raises(ValueError, match="unknown retrieval setting 'c'; choose one of: a = whole image"):
        db.retrieve(img, m, "c", 3)
    for k in (0, 21, 2.5, True):
        with pytest.raises(ValueError, match="k must be a whole number from 1 to 20"):
            db.retrieve(img, m, "a", k)
    with pytest.raises(ValueError, match="the mask is empty"):
        db.retrieve(img, np.zeros(img.shape[:2], bool), "a", 3)
    with pytest.raises(ValueError, match="covers the whole image"):
        db.retrieve(img, np.ones(img.shape[:2], bool), "a", 3)
    with pytest.raises(ValueError, match="same size"):
        db.retrieve(img, np.zeros((10, 10), bool), "a", 3)
    with pytest.raises(ValueError, match="retrieval database is empty"):
        retrieval.GuidanceDatabase([])
    with pytest.raises(ValueError, match="no colour photo .2 greyscale photos left out"):
        retrieval.GuidanceDatabase([("g1", np.repeat(img[..., :1], 3, 2)), ("g2", np.repeat(img[..., 1:2], 3, 2))])
    grey = img[..., 0]                                     # greyscale queries are accepted
    assert len(db.retrieve(grey, m, "a", 2)) == 2


def test_the_bundled_database_holds_training_photos_only_and_never_answers_with_a_heldout_one():
    db = retrieval.default_database()
    train = {r["id"] for r in photo_pool.manifest("train")}
    assert {pid.replace(", mirrored", "") for pid, _ in db.photos} | set(db.left_out) == train
    assert not any(retrieval.is_grey(im) for _, im in db.photos)      # every guidance it can give is in colour
    for pid, im in photo_pool.photos("heldout")[:4]:
        m = masks.several_holes(*im.shape[:2], 2)
        for setting in "ab":
            r = retrieval.retrieve(im, m, setting, k=5)
            assert len(r) == 5 and all(x.photo_id.replace(", mirrored", "") in train for x in r)


def test_greyscale_photos_are_left_out_of_the_database_they_could_not_guide():
    photos = [(f"p{i}", scene(i)) for i in range(4)] + [("grey", np.repeat(scene(5)[..., :1], 3, 2))]
    db = retrieval.GuidanceDatabase(photos)
    assert db.left_out == ["grey"] and len(db.photos) == 8
