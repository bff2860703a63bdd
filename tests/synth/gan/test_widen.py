"""Net2WiderNet for the DCGAN: a widened G and D compute what the narrow ones did, and training goes on from them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from synth import checkpoint
from synth.gan import dcgan
from synth.gan.widen import channel_map, widen_discriminator, widen_generator

ROOT = Path(__file__).resolve().parents[3]


def _randomise_batchnorm(*nets):
    """Non-trivial statistics and affine parameters, so a wrong copy of them shows."""
    gen = torch.Generator().manual_seed(0)
    for net in nets:
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.data.copy_(1 + 0.2 * torch.randn(m.num_features, generator=gen))
                m.bias.data.copy_(torch.randn(m.num_features, generator=gen))


@pytest.mark.parametrize("ngf,ndf", [(12, 13), (16, 16), (8, 8)])
def test_widened_nets_compute_the_same_function(ngf, ndf):
    torch.manual_seed(0)
    cfg = dcgan.DCGANConfig(ngf=8, ndf=8)
    G, D = dcgan.Generator(cfg), dcgan.Discriminator(cfg)
    _randomise_batchnorm(G, D)
    G2, D2 = widen_generator(G, ngf, noise=0.0), widen_discriminator(D, cfg, ndf, noise=0.0)
    assert G2.cfg.ngf == ngf and D2.convs[0].out_channels == ndf
    assert sum(p.numel() for p in G2.parameters()) > sum(p.numel() for p in G.parameters()) or ngf == 8
    z, x = torch.randn(6, cfg.nz), torch.randn(6, 1, 64, 64)
    with torch.no_grad():
        for train in (False, True):            # running statistics, and batch statistics
            for m in (G, G2, D, D2):
                m.train(train)
            torch.testing.assert_close(G2(z), G(z), atol=1e-5, rtol=0)
            torch.testing.assert_close(D2(x), D(x), atol=1e-5, rtol=0)


def test_noise_separates_the_copies_and_keeps_the_function_close():
    torch.manual_seed(0)
    cfg = dcgan.DCGANConfig(ngf=8, ndf=8)
    G = dcgan.Generator(cfg).eval()
    exact, noisy = widen_generator(G, 16, noise=0.0).eval(), widen_generator(G, 16, noise=0.05).eval()
    w_exact, w_noisy = exact.convs[0].weight, noisy.convs[0].weight     # in x out: copies are outputs 4..7
    assert torch.equal(w_exact[:, :4], w_noisy[:, :4])                   # the original channels are untouched
    assert not torch.equal(w_exact[:, 4:], w_noisy[:, 4:])               # the copies are perturbed
    z = torch.randn(8, cfg.nz)
    with torch.no_grad():
        change = (noisy(z) - G(z)).abs().mean()
    assert 0 < change < 0.05


def test_channel_map_and_refusals():
    m = channel_map(4, 7, torch.Generator().manual_seed(0))
    assert m[:4].tolist() == [0, 1, 2, 3] and len(m) == 7 and int(m.max()) < 4
    with pytest.raises(ValueError, match="can only widen"):
        channel_map(8, 4, torch.Generator())


def test_widen_a_run_and_train_on(tmp_path):
    src, dst = tmp_path / "narrow", tmp_path / "wide"
    tiny = ["--max-images", "128", "--threads", "1", "--sample-every", "2", "--log-every", "1", "--ema", "0.9"]

    def run(*args):
        out = subprocess.run([sys.executable, "-m", "synth.train", *args], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return out

    run("dcgan", "--steps", "3", "--out", str(src), "--config", '{"ngf": 8, "ndf": 8}', *tiny)
    run("widen", str(src), str(dst), "--ngf", "12", "--ndf", "12")
    st = checkpoint.load_state(dst / "state.pt")
    assert st["step"] == 3 and st["opt_g"]["state"] == {}                  # fresh optimisers, the old step
    assert st["generator"]["project.0.weight"].shape == (12 * 8 * 16, 100)
    assert json.loads((dst / "widened_from.json").read_text())["ngf"] == 12
    r = run("dcgan", "--steps", "5", "--resume", "--out", str(dst), "--config", '{"ngf": 12, "ndf": 12}', *tiny)
    assert "resumed" in r.stderr
    meta = checkpoint.read_config(dst)
    assert meta["step"] == 5 and meta["config"]["ngf"] == 12
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run([sys.executable, "-m", "synth.train", "widen", str(src), str(tmp_path / "x"), "--ngf", "4",
                        "--ndf", "8"], cwd=ROOT, capture_output=True, check=True, timeout=300)
