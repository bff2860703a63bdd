import numpy as np
import pytest

from synth import evaluate


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
    assert evaluate.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0, 0.0])
    assert evaluate.frechet_distance(a, a + shift) == pytest.approx(5.0, rel=1e-6)  # |mu1 - mu2|^2
    # means m, 2m and covariances S, 4S: |m|^2 + tr(S + 4S - 2 sqrt(4 S^2)) = |m|^2 + tr(S)
    s = np.cov(a, rowvar=False)
    assert evaluate.frechet_distance(a, a * 2) == pytest.approx((a.mean(0) ** 2).sum() + np.trace(s), rel=1e-6)


def test_nearest_distances():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (20, 28, 28, 1), dtype=np.uint8)
    d = evaluate.nearest_distances(train[:3], train)
    assert np.allclose(d, 0, atol=1e-6)
    blank = np.zeros((1, 28, 28, 1), np.uint8)
    expected = np.sqrt(((train.reshape(20, -1) / 255.0) ** 2).mean(1)).min()
    assert evaluate.nearest_distances(blank, train)[0] == pytest.approx(expected, rel=1e-6)
