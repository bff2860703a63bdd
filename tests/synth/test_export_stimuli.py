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
