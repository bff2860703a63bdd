"""The harmonization network and the DH baseline (synth.guided.harmonize)."""

import numpy as np
import torch

from synth.guided import harmonize
from synth.guided.harmonize import HarmonizationNet, HarmonizerConfig, perturb


def test_an_untrained_network_returns_the_composite_and_never_touches_outside_the_region():
    net = HarmonizationNet(HarmonizerConfig(nf=8)).eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    r = torch.zeros(2, 1, 64, 64)
    r[:, :, 10:30, 20:50] = 1
    assert torch.allclose(net(x, r), x)                       # zero-initialised output layer
    torch.nn.init.normal_(net.out.weight, 0, 0.5)
    y = net(x, r)
    assert torch.equal(y[:, :, :10], x[:, :, :10]) and not torch.allclose(y[:, :, 10:30, 20:50], x[:, :, 10:30, 20:50])
    odd = harmonize.harmonize_tensor(net, x[:, :, :37, :53], r[:, :, :37, :53])
    assert odd.shape == (2, 3, 37, 53)


def test_perturb_changes_the_region_only_and_is_seeded():
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    r = torch.zeros(4, 1, 32, 32)
    r[:, :, 8:24, 8:24] = 1
    a = perturb(x, r, torch.Generator().manual_seed(1))
    b = perturb(x, r, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert torch.equal(a * (1 - r), x * (1 - r))
    assert (a - x).abs()[:, :, 8:24, 8:24].mean() > 0.02


def test_trainer_runs_resumes_and_exports(tmp_path):
    from synth.guided import train_harmonize

    run = tmp_path / "run"
    train_harmonize.main(["--out", str(run), "--steps", "3", "--pool", "24", "--batch", "4", "--nf", "8",
                          "--threads", "1"])
    train_harmonize.main(["--out", str(run), "--steps", "4", "--pool", "24", "--batch", "4", "--nf", "8",
                          "--threads", "1", "--resume"])
    dest = train_harmonize.export(run, tmp_path / "exp")
    h = harmonize.Harmonizer(dest)
    img = np.random.default_rng(0).integers(0, 255, (90, 70, 3), dtype=np.uint8)
    region = np.zeros((90, 70), bool)
    region[20:50, 10:40] = True
    out = h.harmonize(img, region)
    assert out.shape == img.shape and np.array_equal(out[~region], img[~region])
    assert "--resume" not in (dest / "TRAINING.md").read_text() and h.meta["steps"] == 4
    from synth.guided import evaluate_harmonize

    r = evaluate_harmonize.evaluate(n=6, seed=0, folder=dest)
    assert r["n"] == 6 and r["lo"] <= r["diff"] <= r["hi"] and 0 <= r["better"] <= 1


def test_cluster_interval_resamples_whole_photos():
    from synth.guided.evaluate_harmonize import cluster_interval

    diff = np.array([1.0, 1.0, 1.0, -1.0])
    groups = np.array([0, 0, 0, 1])
    mean, lo, hi = cluster_interval(diff, groups, n_boot=500)
    assert mean == 0.5 and lo == -1.0 and hi == 1.0          # one photo decides: the interval spans both
    assert cluster_interval(np.full(5, 2.0), np.arange(5)) == (2.0, 2.0, 2.0)
