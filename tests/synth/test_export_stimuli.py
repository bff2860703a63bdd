"""synth.export_stimuli: the study builder's way to the registry's hole fillers, as a real module."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synth.export_stimuli import export, inpainter, read_request
from synth.inpaint import get_inpainter
from synth.inpaint.masks import central

ROOT = Path(__file__).resolve().parents[2]


def request(tmp_path: Path, methods: list[dict], **fields) -> Path:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "images.npz", images=rng.integers(0, 256, (3, 48, 48, 3), dtype=np.uint8))
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"images": "images.npz", "mask": {"kind": "central", "frac": 0.4},
                                "methods": methods, **fields}))
    return path


def test_fills_masks_and_manifest(tmp_path):
    methods = [{"name": "telea", "condition": "telea", "options": {"radius": 3}},
               {"name": "mean-colour", "condition": "mean"},
               {"name": "no-such-method", "condition": "nope"}]
    images, masks, specs = read_request(request(tmp_path, methods))
    np.testing.assert_array_equal(masks, np.stack([central(48, 48, frac=0.4)] * 3))
    manifest = export(images, masks, specs, tmp_path / "out")
    assert manifest["fills"] == {"telea": "telea.npz", "mean": "mean.npz"}
    assert "unknown model 'no-such-method'" in manifest["skipped"]["no-such-method"]
    fills = np.load(tmp_path / "out" / "mean.npz")["images"]
    expected = [get_inpainter("mean-colour").fill(im, m) for im, m in zip(images, masks)]
    np.testing.assert_array_equal(fills, np.stack(expected))
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "masks.npz")["masks"], masks)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest


def test_options_override_declared_attributes_only():
    method = inpainter("telea", {"radius": 4})
    assert method.radius == 4 and method is not get_inpainter("telea") and get_inpainter("telea").radius != 4
    with pytest.raises(ValueError, match="has no option 'colour'"):
        inpainter("telea", {"colour": 1})


def test_command_line_refuses_a_malformed_request(tmp_path):
    bad = request(tmp_path, [{"name": "telea", "condition": "bad name"}])
    proc = subprocess.run([sys.executable, "-m", "synth.export_stimuli", "--request", str(bad), "--out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "condition must be 1-64 letters" in proc.stderr
    assert not (tmp_path / "out").exists()


# -- experiment mode: the lecture's crowd experiment ---------------------------------------------------------

from synth import experiment_stimuli as experiment  # noqa: E402
from synth.export_stimuli import CONDITION_RE  # noqa: E402
from synth.inpaint import REGISTRY  # noqa: E402


def experiment_spec(**fields) -> dict:
    spec = {"items": 2, "pool": 1, "size": 64, "seed": 0, "settings": ["a", "b"],
            "methods": [{"name": "telea", "condition": "telea"}]}
    return experiment.parse({**spec, **fields}, CONDITION_RE)


def test_experiment_holes_are_one_compact_off_centre_square_per_item():
    masks = experiment.holes(12, 256, seed=0, min_frac=0.35, max_frac=0.45)
    np.testing.assert_array_equal(masks, experiment.holes(12, 256, seed=0, min_frac=0.35, max_frac=0.45))
    sides = []
    for m in masks:
        ys, xs = np.nonzero(m)
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert h == w and m.sum() == h * w  # one filled square
        assert 0.35 * 256 - 1 <= h <= 0.45 * 256 + 1
        centre = np.array([ys.min() + ys.max(), xs.min() + xs.max()]) / 2
        assert np.abs(centre - 127.5).max() >= 0.25 * (256 - h) - 1  # off-centre
        sides.append(h)
    assert len(set(sides)) > 3  # the side is drawn per item


def test_experiment_names_resolve_to_the_first_that_exists():
    assert experiment.resolve(["no-such-method", "glcic"]) == "glcic"
    assert experiment.resolve("image melding") == "image melding"
    ce = experiment.resolve(["context-encoder any-hole", "context-encoder L2+adv random-mask"])
    assert ce in REGISTRY
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        experiment.resolve("nope")


def test_experiment_request_is_checked():
    assert experiment_spec()["hole"] == {"kind": "square", "min_frac": 0.35, "max_frac": 0.45}
    for bad, message in [({"settings": ["c"]}, "experiment.settings"), ({"items": 0}, "experiment.items"),
                         ({"hole": {"kind": "strokes"}}, "experiment.hole"),
                         ({"methods": [{"name": "telea", "condition": "natural"}]}, "not 'natural'"),
                         ({"methods": [{"name": "telea", "condition": "x"}, {"name": "glcic", "condition": "x"}]},
                          "named twice")]:
        with pytest.raises(ValueError, match=message):
            experiment_spec(**bad)


def test_picture_check_flags_a_flat_fill():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = central(64, 64, frac=0.4)
    flat = photo.copy()
    flat[mask] = photo[~mask].mean(axis=0).astype(np.uint8)
    dark = photo.copy()
    dark[mask] = 0
    found = experiment.picture_check(np.stack([photo, flat, dark]), np.stack([photo] * 3), np.stack([mask] * 3))
    assert found == [[], ["flat"], ["flat", "off_colour"]]


def test_experiment_export_shares_registry_fills_drops_failing_items_and_records_guidance(tmp_path, monkeypatch):
    """Two items, both settings: the registry fill is made once for both; a guided method failing on the second
    item of setting (b) drops it there only; an unknown method is skipped."""
    calls = []

    class Flaky:
        def fill(self, image, mask, guidance):
            calls.append(guidance.shape)
            if len(calls) == 4:  # (a) items 1, 2; (b) item 1, then this one
                raise RuntimeError("cannot place the guidance")
            out = image.copy()
            out[mask] = guidance.reshape(-1, 3).mean(axis=0).astype(np.uint8)  # the guidance's mean colour
            return out

    monkeypatch.setitem(experiment.GUIDED, "flaky guided", Flaky)
    spec = experiment_spec(methods=[{"name": "telea", "condition": "telea"},
                                    {"name": "flaky guided", "condition": "ours"},
                                    {"name": ["not-a-method"], "condition": "gone"}])
    m = experiment.export_experiment(spec, tmp_path)
    assert m["methods"] == {"telea": "telea", "ours": "flaky guided"} and "not-a-method" in m["skipped"]["gone"]
    items = np.load(tmp_path / "items.npz")
    names = list(items["names"])
    assert items["images"].shape == (2, 64, 64, 3) and items["pool"].shape == (1, 64, 64, 3)
    assert len(set(names) | set(items["pool_names"])) == 3  # three different held-out photos
    a, b = m["settings"]["a"], m["settings"]["b"]
    assert a["items"] == names and a["dropped"] == {}
    assert b["items"] == names[:1] and "cannot place the guidance" in b["dropped"][names[1]]
    for entry, n in ((a, 2), (b, 1)):
        for c in ("telea", "ours"):
            f = np.load(tmp_path / entry["fills"][c])
            assert f["images"].shape == (n, 64, 64, 3) and list(f["items"]) == entry["items"]
        guides = np.load(tmp_path / entry["guidance_file"])
        assert sorted(guides.files) == sorted(entry["items"]) == sorted(entry["guidance"])
    telea = get_inpainter("telea").fill(items["images"][0], items["masks"][0])
    np.testing.assert_array_equal(np.load(tmp_path / b["fills"]["telea"])["images"][0], telea)
    assert a["guidance"][names[0]]["photo"] and len(a["guidance"][names[0]]["box"]) == 4
    outside = ~items["masks"][0]
    np.testing.assert_array_equal(np.load(tmp_path / a["fills"]["ours"])["images"][0][outside],
                                  items["images"][0][outside])


def test_experiment_command_line_refuses_too_many_items(tmp_path):
    req = tmp_path / "request.json"
    req.write_text(json.dumps({"experiment": {"items": 48, "pool": 6, "methods": [{"name": "telea",
                                                                                 "condition": "telea"}]}}))
    proc = subprocess.run([sys.executable, "-m", "synth.export_stimuli", "--request", str(req), "--out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "need 54 held-out photos; the photo pool holds 48" in proc.stderr
