"""GLCIC (synth.inpaint.glcic): the networks' shapes, the first fills, the losses, the trainer."""

import numpy as np
import pytest
import torch

from synth.inpaint import glcic, train_glcic
from synth.inpaint.glcic import CompletionNetwork, Discriminators, GLCICConfig


def batch(n=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    m = torch.zeros(n, 1, size, size)
    m[:, :, size // 4:size // 2, size // 3:2 * size // 3] = 1
    return x, m


@pytest.mark.parametrize("prefill", ["telea", "pushpull", "mean"])
def test_completion_network_any_multiple_of_four_and_known_pixels_kept(prefill):
    net = CompletionNetwork(GLCICConfig(nf=8, prefill=prefill)).eval()
    for h, w in ((64, 64), (36, 92)):
        x, _ = batch(2, 96)
        x, m = x[:, :, :h, :w], torch.zeros(2, 1, h, w)
        m[:, :, 8:20, 10:30] = 1
        with torch.no_grad():
            y = net(x, m)
        assert y.shape == x.shape and y.abs().max() <= 1
        if prefill != "mean":      # a residual on the first fill: outside the hole the input comes back
            assert torch.allclose(y * (1 - m), x * (1 - m), atol=1e-5)


def test_an_untrained_residual_network_returns_about_its_first_fill():
    x, m = batch()
    net = CompletionNetwork(GLCICConfig(nf=8, prefill="telea")).eval()
    with torch.no_grad():
        y, base = net(x, m), glcic.telea_fill(x, m)
    assert (y - base).abs().max() < 0.05
    body = dict(net.named_parameters())["out.weight"]
    assert body.abs().max() > 0           # not exactly zero: the body must get a gradient from the first step


def test_first_fills_fill_the_hole_and_only_the_hole():
    x, m = batch()
    for fill in (glcic.telea_fill, glcic.pushpull_fill):
        y = fill(x, m)
        assert torch.equal(y * (1 - m), x * (1 - m))
        inside = y[m.expand_as(y) > 0]
        assert inside.std() > 0 and inside.abs().max() <= 1
    const = torch.full((1, 3, 32, 32), 0.25)
    hole = torch.zeros(1, 1, 32, 32)
    hole[..., 5:25, 5:25] = 1
    assert torch.allclose(glcic.pushpull_fill(const, hole), const, atol=1e-5)   # a flat photo stays flat


def test_losses_weigh_holes_as_the_paper_and_as_the_evaluation_do():
    x, m = batch()
    pred = x.clone()
    pred[0] += 0.5 * m[0]                                  # image 0 wrong in its hole, image 1 right
    assert glcic.hole_mse(pred, x, m).item() == pytest.approx(0.125)
    per = glcic.hole_log_mse(pred, x, m).item()
    assert per == pytest.approx((np.log(0.25 + 1e-5) + np.log(1e-5)) / 2, rel=1e-4)


def test_discriminators_and_local_boxes():
    cfg = GLCICConfig(ndf=4)
    d = Discriminators(cfg)
    x = torch.rand(3, 3, 128, 128)
    m = torch.zeros(3, 1, 128, 128)
    m[0, :, 0:10, 0:10] = 1                                # at a corner: the box stays inside the image
    m[1, :, 100:128, 90:128] = 1
    m[2, :, 50:60, 60:70] = 1
    boxes = glcic.local_boxes(m, 64)
    assert ((boxes >= 0) & (boxes <= 64)).all()
    for b, (y, x0) in zip(m, boxes.tolist()):
        ys, xs = torch.nonzero(b[0], as_tuple=True)
        assert y <= int(ys.float().mean()) < y + 64 and x0 <= int(xs.float().mean()) < x0 + 64
    assert d(x, glcic.crop_boxes(x, boxes, 64)).shape == (3,)


def test_trainer_runs_every_phase_resumes_and_exports(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    monkeypatch.setattr(train_glcic, "training_pool",
                        lambda n, size, seed: rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8))
    run = tmp_path / "run"
    flags = ["--out", str(run), "--pool", "8", "--masks", "8", "--batch", "2", "--nf", "8", "--size", "64",
             "--tc", "2", "--td", "1", "--threads", "1"]
    train_glcic.main(flags + ["--steps", "4"])
    train_glcic.main(flags + ["--steps", "5", "--resume", "--lr", "1e-4"])
    log = (run / "losses.csv").read_text().splitlines()
    assert log[0].startswith("step,") and len(log) >= 2
    dest = train_glcic.export(run, tmp_path / "exp")
    record = (dest / "TRAINING.md").read_text()
    command = record.split("command: `")[1].split("`")[0]
    assert "steps: 5" in record and "--resume" not in command and "--lr 0.0001" in command
    from synth.inpaint.learned import GLCIC

    img = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)
    mask = np.zeros((70, 90), bool)
    mask[10:30, 20:60] = True
    out = GLCIC(dest).fill(img, mask)
    assert np.array_equal(out[~mask], img[~mask])
