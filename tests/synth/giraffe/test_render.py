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


# ---------------------------------------------------------------------------------------------- the bundled model

bundled = pytest.mark.skipif(not rd.has_checkpoint(rd.BUNDLED), reason="no bundled GIRAFFE checkpoint")


def frame(seed, n_objects, **controls) -> np.ndarray:
    """The 64 x 64 scene as floats (render's 256 x 256 is that frame in 4 x 4 blocks), elevation in the middle."""
    return rd.render(seed, n_objects, **{**rd.neutral_controls(), **controls}, folder=rd.BUNDLED)[::4, ::4].astype(float)


@bundled
def test_the_default_scene_turns_visibly():
    scene = rd.DEFAULT_SCENE
    still = frame(**scene)
    G, lat = rd.scene(**scene, **rd.neutral_controls(), folder=rd.BUNDLED)
    inside = rd.views(G, lat)["alphas"][0] > 127                  # object 1, where the controls act
    seed0 = np.abs(frame(0, 2, rotation=45) - frame(0, 2)).mean()
    for angle in (30, 45, 60, 135):
        change = np.abs(frame(**scene, rotation=angle) - still).mean(-1)
        assert change.mean() > 2.0, angle                           # /255 over the whole image
        assert change.mean() > 1.5 * seed0, angle                   # seed 0's object: 1.5 at 45 degrees
        assert change[inside].mean() > 5, angle                     # /255 inside the object
    for angle in (90, 180):                                         # the data's cubes look the same after a quarter turn
        assert np.abs(frame(**scene, rotation=angle) - still).mean() < 1.0, angle


@bundled
def test_in_frame_follows_the_object_along_the_circle_by_its_alpha_map():
    neutral = rd.neutral_controls()
    assert rd.in_frame(0, 2, **neutral, folder=rd.BUNDLED) == pytest.approx(1, abs=0.02)
    shares = [rd.in_frame(0, 2, **{**neutral, "circle": t}, folder=rd.BUNDLED) for t in np.arange(12) / 12]
    assert min(shares) < 0.05 and max(shares) > 0.95               # seed 0's object leaves and comes back
    # where in_frame says the object has left, the scene's own alpha map of it is empty; where it is in, it is not
    for t, share in zip(np.arange(12) / 12, shares):
        G, lat = rd.scene(0, 2, **{**neutral, "circle": float(t)}, folder=rd.BUNDLED)
        mass = rd.views(G, lat)["alphas"][0].astype(float).sum() / 255
        if share < 0.05:
            assert mass < 5, t
        if share > 0.95:
            assert mass > 50, t
    out = 6 / 12 if shares[6] < 0.05 else 5 / 12
    assert "has left the frame" in rd.frame_note(0, 2, **{**neutral, "circle": out}, folder=rd.BUNDLED)
    assert rd.frame_note(0, 2, **neutral, folder=rd.BUNDLED) == "Object 1 is in the frame."
    partly = next(t for t, s in zip(np.arange(12) / 12, shares) if 0.05 <= s < 0.95)
    assert "partly out of the frame" in rd.frame_note(0, 2, **{**neutral, "circle": float(partly)}, folder=rd.BUNDLED)
    with pytest.raises(ValueError, match="object must be a whole number"):
        rd.in_frame(0, 2, obj=3, folder=rd.BUNDLED)
