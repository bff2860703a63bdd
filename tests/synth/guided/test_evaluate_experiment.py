import math

import numpy as np
import pytest

from synth import photo_pool
from synth.guided import evaluate_experiment as ee
from synth.guided import realism_proxy as rp


@pytest.fixture(scope="module")
def tiny():
    """Two held-out items at 64 px, both settings, the proxy trained on 16 training photos."""
    return ee.run(items=2, size=64, seed=0, proxy_photos=16, extra_real=8, n_boot=200, log=lambda m: None)


@pytest.mark.slow
def test_tiny_run_tables_every_method_and_finite_numbers(tiny):
    text = ee.tables(tiny)
    for s in ("a", "b"):
        assert f"### Retrieval setting {s} (2 items kept)" in text
        rows = [r for r in tiny["rows"] if r["setting"] == s]
        for c in ee.ORDER:
            mine = [r for r in rows if r["condition"] == c]
            assert [r["item"] for r in mine] == tiny["items"], c
            assert all(math.isfinite(r["psnr"]) and math.isfinite(r["l1"]) and 0 <= r["p_real"] <= 1 for r in mine)
        assert len([r for r in rows if r["condition"] == ee.NATURAL]) == 2
        assert all(math.isfinite(v) for c in ee.ORDER[1:] for v in tiny["diffs"][s, c])
    # every method has a table row, in the lecture's order, NI last
    table = text.split("### Retrieval setting a")[1].split("### Retrieval setting b")[0]
    labels = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")][1:]
    assert labels == ["Ours", "HR", "PB", "DH", "CAF", "CE", "IM", "GLCIC", "NI"]
    assert "not a crowd result" in text and "reward fidelity" in text and "synth.evaluate harmonizer" in text
    inst = tiny["instrument"]
    assert inst["heldout_real_n"] == 2 + 8 and inst["heldout_fills_n"] == 2 * 2 * 8
    assert 0 <= inst["heldout_real_called_real"] <= 1 and 0 <= inst["heldout_fills_called_fake"] <= 1
    assert all(tiny["ms"][c] > 0 for c in ee.ORDER)


@pytest.mark.slow
def test_floors_say_pass_fail_or_skip(tiny):
    lines = ee.floors(tiny)
    assert lines[:2] == ["PASS every method ran on every held-out item, setting a (2/2 items)",
                         "PASS every method ran on every held-out item, setting b (2/2 items)"]
    assert all(line.startswith("SKIP") for line in lines[2:])    # 64 px, 2 items: not the floors' setting
    at256 = {**tiny, "size": 256, "items": [f"i{k}" for k in range(ee.DEFAULT_ITEMS)], "export_s": 901.0,
             "ms": {**tiny["ms"], "im": 4999.0, "caf": 5001.0, "pb": 999.0, "ce": 1000.0}}
    lines = ee.floors(at256)
    assert "PASS IM under 5 s per 256 x 256 image: 4999 ms (one thread)" in lines
    assert "FAIL CAF under 5 s per 256 x 256 image: 5001 ms (one thread)" in lines
    assert "PASS PB under 1 s per 256 x 256 image: 999 ms (one thread)" in lines
    assert "FAIL CE under 1 s per 256 x 256 image: 1000 ms (one thread)" in lines
    assert lines[-1].startswith("FAIL the stimuli export") and "took 901 s" in lines[-1]
    dropped = {**tiny, "manifest": {**tiny["manifest"], "settings": {
        **tiny["manifest"]["settings"], "b": {**tiny["manifest"]["settings"]["b"], "dropped": {"x": "im: boom"}}}}}
    assert ee.floors(dropped)[1].startswith("FAIL every method ran on every held-out item, setting b")


@pytest.mark.slow
def test_proxy_is_trained_on_training_photos_only(tiny):
    held = {r["id"] for r in photo_pool.manifest("heldout")}
    train = {r["id"] for r in photo_pool.manifest("train")}
    used = set(tiny["train_photos"])
    assert len(used) == 16 and used <= train and not used & held
    assert not used & set(tiny["items"])


def test_training_guidance_never_comes_from_the_photo_or_its_group():
    rows = photo_pool.manifest("train")
    group_of = {r["id"]: r["group"] for r in rows}
    shared = [r["id"] for r in rows if sum(g == r["group"] for g in group_of.values()) > 1][:2]
    from synth.experiment_stimuli import holes, square_crop

    mask = holes(1, 96, 0, 0.35, 0.45)[0]
    for pid in shared:
        crop = square_crop(np.asarray(photo_pool.load_photo(pid)), 96)
        for s in ("a", "b"):
            m = rp.guidance_for_training(crop, mask, s, pid, group_of)
            assert group_of[m.photo_id.replace(", mirrored", "")] != group_of[pid]


@pytest.mark.slow
def test_csv_round_trips(tiny, tmp_path):
    path = tmp_path / "out" / "experiment_items.csv"
    ee.write_csv(tiny["rows"], path)
    back = ee.read_csv(path)
    assert len(back) == len(tiny["rows"])
    for a, b in zip(back, tiny["rows"]):
        for k in ee.CSV_FIELDS:
            if isinstance(b[k], float) and math.isnan(b[k]):
                assert math.isnan(a[k])
            else:
                assert a[k] == b[k], k


@pytest.mark.parametrize("argv, message", [
    (["--items", "0"], "--items must be in 2..42, got 0"),
    (["--items", "43"], "held-out photos"),
    (["--size", "16"], "--size must be in 64..512, got 16"),
    (["--settings", "c"], "--settings must be distinct retrieval settings from ['a', 'b'], got ['c']"),
    (["--settings", "a", "a"], "--settings must be distinct"),
    (["--boot", "5"], "--boot must be in 200..100000, got 5"),
    (["--proxy-photos", "3"], "--proxy-photos must be in 10..100000, got 3"),
])
def test_bad_flags_give_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        ee.parse_args(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_copied_share_finds_pixels_copied_bit_for_bit():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[24:44, 24:44] = True
    assert rp.copied_share(image, mask) == 0.0                    # noise: no patch occurs twice
    copied = image.copy()
    copied[24:44, 24:44] = image[0:20, 0:20]                       # the hole filled from known pixels
    assert rp.copied_share(copied, mask) > 0.9
    f = rp.features(copied, mask)
    assert f.shape == (len(rp.FEATURE_NAMES),) and np.isfinite(f).all()
    with pytest.raises(ValueError, match="mask must mark a hole"):
        rp.features(image, np.zeros((64, 64), bool))
