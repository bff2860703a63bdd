import math

import pytest
import torch

from synth.gan import dcgan, gan, losses
from synth.gan.classifier import ClassifierConfig, DigitClassifier
from synth.gan.registry import GENERATORS, get_spec


def test_dcgan_shapes_follow_the_lecture():
    cfg = dcgan.DCGANConfig(ngf=8, ndf=8)
    g, d = dcgan.Generator(cfg), dcgan.Discriminator(cfg)
    x = g(torch.randn(5, cfg.nz))
    assert x.shape == (5, 1, 64, 64)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert g.project(torch.randn(2, cfg.nz)).shape == (2, 8 * cfg.ngf, 4, 4)  # project and reshape
    convts = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convts) == 4 and all(m.stride == (2, 2) for m in convts)  # four fractionally-strided convs
    assert d(x).shape == (5,)
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in d.modules())  # no pooling
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, torch.nn.LeakyReLU))


def test_dcgan_colour_config():
    cfg = dcgan.DCGANConfig(ngf=8, ndf=8, nc=3)
    assert dcgan.Generator(cfg)(torch.randn(2, cfg.nz)).shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match="image_size must be 64"):
        dcgan.Generator(dcgan.DCGANConfig(image_size=32))


def test_gan_shapes():
    cfg = gan.GANConfig(g_hidden=(16, 32), d_hidden=(16,))
    g, d = gan.Generator(cfg), gan.Discriminator(cfg)
    x = g(torch.randn(3, cfg.nz))
    assert x.shape == (3, 1, 28, 28) and d(x).shape == (3,)
    assert all(isinstance(m, (torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.ReLU, torch.nn.Tanh, torch.nn.Unflatten))
               for m in g.net)


def test_classifier_shapes():
    net = DigitClassifier(ClassifierConfig(width=8, features=16))
    x = torch.randn(4, 1, 28, 28)
    assert net(x).shape == (4, 10) and net.features(x).shape == (4, 16)


def test_registry_error_names_choices():
    assert set(GENERATORS) == {"gan", "dcgan", "dcgan_scenes"}
    with pytest.raises(KeyError, match=r"unknown model 'vae'; available: \['dcgan', 'dcgan_scenes', 'gan'\]"):
        get_spec("vae")


def test_losses_on_known_logits():
    # D(x) = sigmoid(0) = 1/2 everywhere: J(D) = -1/2 log 1/2 - 1/2 log 1/2 = log 2
    zero = torch.zeros(7)
    assert losses.discriminator_loss(zero, zero).item() == pytest.approx(math.log(2))
    assert losses.generator_loss(zero).item() == pytest.approx(0.5 * math.log(2))
    # against the formulas with probabilities
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    dr, df = torch.sigmoid(real), torch.sigmoid(fake)
    jd = -0.5 * torch.log(dr).mean() - 0.5 * torch.log(1 - df).mean()
    assert losses.discriminator_loss(real, fake).item() == pytest.approx(jd.item(), rel=1e-6)
    assert losses.generator_loss(fake).item() == pytest.approx((-0.5 * torch.log(df).mean()).item(), rel=1e-6)
    # minimax: J(G) = -J(D); the G-dependent part is 1/2 E log(1 - D(G(z)))
    assert losses.generator_loss(fake, minimax=True).item() == pytest.approx(
        (0.5 * torch.log(1 - df).mean()).item(), rel=1e-6)


def test_minimax_gradient_vanishes_when_d_rejects_samples():
    # the lecture's point: with D(G(z)) ~ 0 the minimax loss gives G almost no gradient
    fake = torch.full((4,), -8.0, requires_grad=True)
    losses.generator_loss(fake, minimax=True).backward()
    g_minimax = fake.grad.abs().mean().item()
    fake.grad = None
    losses.generator_loss(fake).backward()
    assert g_minimax < 1e-3 < fake.grad.abs().mean().item()


def test_losses_finite_for_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(losses.discriminator_loss(big, -big))
    assert torch.isfinite(losses.generator_loss(big)) and torch.isfinite(losses.generator_loss(-big, minimax=True))


def test_scene_dcgan_is_the_dcgan_in_colour():
    spec = get_spec("dcgan_scenes")
    cfg = spec.config_cls(ngf=8, ndf=8)
    assert spec.dataset == "scenes" and cfg.nc == 3 and spec.generator_cls is dcgan.Generator
    assert not spec.in_app  # an evaluation baseline: the Generate tab does not list it
    from synth.gan import generate
    assert "dcgan_scenes" not in generate.available()
    g, d = spec.generator_cls(cfg), spec.discriminator_cls(cfg)
    x = g(torch.randn(2, cfg.nz))
    assert x.shape == (2, 3, 64, 64) and d(x).shape == (2,)
