"""What the GIRAFFE tab shows, without Gradio: the feature image's PCA, and the errors the tab turns into
messages (the rendering itself is tested through the tab, on a trained checkpoint, in tests/ui)."""

import numpy as np
import pytest
import torch

from synth.giraffe import render as rd


def test_feature_pca_orders_components_by_variance():
    h = w = 16
    feat = torch.zeros(6, h, w)
    feat[0] = 10 * torch.linspace(-1, 1, w)[None].expand(h, w)         # strongest: left-right ramp
    feat[3] = 3 * torch.linspace(-1, 1, h)[:, None].expand(h, w)       # second: top-bottom ramp
    pic = rd.feature_pca(feat)
    assert pic.shape == (h, w, 3) and pic.dtype == np.uint8
    assert np.all(np.diff(pic[0, :, 0].astype(int)) > 0) and np.ptp(pic[:, 0, 0]) == 0
    assert np.all(np.abs(np.diff(pic[:, 0, 1].astype(int))) > 0) and np.ptp(pic[0, :, 1]) == 0


def test_missing_checkpoint_and_bad_values_raise_plain_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No GIRAFFE checkpoint"):
        rd.render(0, 2, folder=tmp_path / "empty")
    assert not rd.has_checkpoint(tmp_path)
    assert rd.as_whole(3.0) == 3 and isinstance(rd.as_whole(3.0), int) and rd.as_whole(2.5) == 2.5
    assert np.array_equal(rd.upscale(np.eye(2, dtype=np.uint8), 4), np.kron(np.eye(2), np.ones((2, 2))))
