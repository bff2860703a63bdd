import numpy as np
import pytest

from synth import metrics
from synth.gan import evaluate


def test_inception_score_known_cases():
    confident = np.eye(10)[np.arange(1000) % 10] * (1 - 1e-9) + 1e-10
    assert evaluate.inception_score(confident)[0] == pytest.approx(10, rel=1e-3)  # 10 classes, each sure
    one_class = np.tile(np.eye(10)[3], (500, 1))
    assert evaluate.inception_score(one_class)[0] == pytest.approx(1, abs=1e-6)   # mode collapse
    uniform = np.full((500, 10), 0.1)
    assert evaluate.inception_score(uniform)[0] == pytest.approx(1, abs=1e-6)     # no confident image


def test_frechet_distance_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 4))
    assert metrics.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0, 0.0])
    assert metrics.frechet_distance(a, a + shift) == pytest.approx(5.0, rel=1e-6)  # |mu1 - mu2|^2
    # means m, 2m and covariances S, 4S: |m|^2 + tr(S + 4S - 2 sqrt(4 S^2)) = |m|^2 + tr(S)
    s = np.cov(a, rowvar=False)
    assert metrics.frechet_distance(a, a * 2) == pytest.approx((a.mean(0) ** 2).sum() + np.trace(s), rel=1e-6)


def test_nearest_distances():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (20, 28, 28, 1), dtype=np.uint8)
    d = evaluate.nearest_distances(train[:3], train)
    assert np.allclose(d, 0, atol=1e-6)
    blank = np.zeros((1, 28, 28, 1), np.uint8)
    expected = np.sqrt(((train.reshape(20, -1) / 255.0) ** 2).mean(1)).min()
    assert evaluate.nearest_distances(blank, train)[0] == pytest.approx(expected, rel=1e-6)


def test_upsampling_matrix_is_the_training_resize():
    import torch

    from synth import data

    rng = np.random.default_rng(2)
    digits = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    u = evaluate.upsampling_matrix(64)
    x = data.to_tensor(digits).double()
    assert u.shape == (64, 28)
    assert torch.allclose(u @ x @ u.T, data.to_tensor(digits, 64).double(), atol=1e-5)


def test_digits_survive_the_trip_to_64_and_back():
    """The DCGAN is judged at 28x28: its 64x64 form of a real digit must come back unchanged (one grey
    level of rounding), where an antialiased downsample would blur it."""
    import torch

    from synth import data

    digits = data.load("digits", "heldout").images[:200]
    up = data.to_uint8(data.to_tensor(digits, 64))                       # what the DCGAN trains on
    back = evaluate.to_28(up)
    err = (back - data.to_tensor(digits)).abs().max().item() * 127.5    # grey levels
    assert err <= 1.5
    blurred = torch.nn.functional.interpolate(data.to_tensor(up), size=(28, 28), mode="bilinear",
                                              antialias=True, align_corners=False)
    assert (blurred - data.to_tensor(digits)).abs().max().item() * 127.5 > 20


def test_classifier_features_ignore_the_round_trip():
    from synth import data

    net = evaluate.load_classifier()
    digits = data.load("digits", "heldout").images[:300]
    _, f28 = evaluate.classify(net, digits)
    _, f64 = evaluate.classify(net, data.to_uint8(data.to_tensor(digits, 64)))
    assert metrics.frechet_distance(f28, f64) < 1.0


def test_to_28_rejects_non_square_images():
    with pytest.raises(ValueError, match="square"):
        evaluate.to_28(np.zeros((1, 28, 30, 1), np.uint8))
