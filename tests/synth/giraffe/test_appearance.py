"""The appearance code (issue 20): the colour probe, the InfoGAN-style training term, its measurement, and the
bundled checkpoint still loading and rendering as it did."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from synth import checkpoint, data
from synth.giraffe import evaluate as eg
from synth.giraffe import model as gi
from synth.giraffe import scenes
from synth.giraffe import train as tg
from synth.training import write_grid
from tests.synth.giraffe.tiny import TINY, tiny_cfg

BUNDLED = data.ASSETS / "checkpoints" / "giraffe"


def test_object_colours_are_alpha_weighted_means():
    image = -torch.ones(1, 3, 64, 64)
    image[0, 0, :32] = 1.0                          # top half red, bottom half black
    alpha = torch.zeros(1, 3, 16, 16)               # two objects, then the background
    alpha[0, 0, :8] = 1.0                           # object 0 covers the top half
    alpha[0, 1, 6:10] = 0.5                         # object 1 straddles the edge, half opaque
    colour, area = gi.object_colours(image, alpha)
    assert torch.allclose(colour[0, 0], torch.tensor([1.0, -1.0, -1.0]))
    assert torch.allclose(colour[0, 1], torch.tensor([0.0, -1.0, -1.0]))   # half red rows, half black
    assert area[0].tolist() == [128.0, 32.0]


def test_appearance_term_reaches_z_a_and_leaves_the_alpha_alone():
    torch.manual_seed(0)
    G, Q = gi.Generator(tiny_cfg()).train(), gi.AppearanceDecoder(3)
    lat = gi.sample_latents(G.cfg, 4, torch.Generator().manual_seed(0), n_objects=2)
    lat.z_app.requires_grad_(True)
    out = G(lat)
    loss = tg.appearance_loss(out, lat, Q, 3)
    (g_app,) = torch.autograd.grad(loss, lat.z_app, retain_graph=True)
    assert g_app[lat.exists].abs().sum() > 0                       # the term moves the appearance codes' colour
    assert g_app[~lat.exists].abs().sum() == 0                     # and nothing for slots that do not exist
    # the alpha enters detached: the term has no gradient through it
    out["alpha"].retain_grad()
    tg.appearance_loss(out, lat, Q, 3).backward()
    assert out["alpha"].grad is None
    # Q's target is the first n entries of z_a
    col, area = gi.object_colours(out["image"], out["alpha"])
    ok = lat.exists & (area >= 1)
    expect = torch.nn.functional.mse_loss(Q(col[ok]), lat.z_app[ok][:, :3])
    assert loss.item() == pytest.approx(expect.item(), rel=1e-6)


def _colour_shift(G: gi.Generator, lat: gi.Latents, field: str) -> float:
    """Mean distance (0-255) of object 0's alpha-weighted colour when its z_app or z_shape is swapped for
    object 1's (the alpha at the original codes)."""
    other = lat.clone()
    getattr(other, field)[:, 0] = getattr(lat, field)[:, 1]
    with torch.no_grad():
        a, b = G(lat), G(other)
    c0, area = gi.object_colours(a["image"], a["alpha"])
    c1, _ = gi.object_colours(b["image"], a["alpha"])
    return float(((c0 - c1)[:, 0].norm(dim=-1) * 127.5)[area[:, 0] >= 1].mean())


def test_the_term_makes_colour_follow_z_a_and_cannot_move_shapes():
    """A tiny generator, 40 RMSprop steps (lr 5e-3) on the trainer's appearance term alone: swapping z_a then
    changes the object's colour several times more than before, and the alpha maps are bit-identical (the term
    reaches no density). That z_s stops driving colour needs the GAN loss beside it (a short fine-tune of the
    bundled checkpoint: docs/giraffe.md); on its own the term first widens every colour change."""
    torch.manual_seed(0)
    G, Q = gi.Generator(tiny_cfg()).eval(), gi.AppearanceDecoder(3)   # eval: no density noise, same alphas
    opt_g, opt_q = torch.optim.RMSprop(G.parameters(), lr=5e-3), torch.optim.RMSprop(Q.parameters(), lr=5e-3)
    probe = gi.sample_latents(G.cfg, 32, torch.Generator().manual_seed(5), n_objects=2)
    with torch.no_grad():
        alpha0 = G(probe)["alpha"]
    app0 = _colour_shift(G, probe, "z_app")
    g = torch.Generator().manual_seed(1)
    for _ in range(40):
        lat = gi.sample_latents(G.cfg, 16, g)
        opt_g.zero_grad(set_to_none=True)
        opt_q.zero_grad(set_to_none=True)
        tg.backward_appearance(G(lat), lat, G, Q, 1.0)
        opt_g.step()
        opt_q.step()
    with torch.no_grad():
        assert torch.equal(G(probe)["alpha"], alpha0)
    app1 = _colour_shift(G, probe, "z_app")
    assert app1 > 3 * app0 and app1 > 5, (app0, app1)


def test_appearance_change_on_known_images():
    im0 = np.zeros((8, 8, 3), np.uint8)
    im1 = im0.copy()
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:4] = True
    im1[mask] = (30, 40, 0)                                     # the object turns from black to (30, 40, 0)
    im1[7, 7] = (8, 8, 8)                                       # one pixel outside changes by 8
    r = eg.appearance_change(im0, im1, mask, mask)
    assert r["colour"] == pytest.approx(50.0) and r["iou"] == 1.0
    assert r["outside"] == pytest.approx(8 / 60)                # 60 pixels outside the mask, mean over channels
    r = eg.appearance_change(im0, im0, mask, np.roll(mask, 1, 0))
    assert r["colour"] == 0.0 and r["iou"] == pytest.approx(2 / 6) and r["outside"] == 0.0


def test_instrument_on_the_renderers_own_scenes():
    real = eg.appearance_renders(n_seeds=3)
    assert np.all(real["colour"] > 20) and np.all(real["iou"] == 1.0) and np.all(real["outside"] < 0.5)


@pytest.mark.skipif(not (BUNDLED / "config.json").exists(), reason="no bundled GIRAFFE checkpoint")
def test_bundled_checkpoint_loads_and_renders_its_own_samples(tmp_path):
    """The bundled config.json (no appearance-term keys) still builds the generator, its weights load strictly,
    and the fixed latents render the samples.png the trainer wrote when it saved them."""
    G = gi.load_giraffe(BUNDLED)
    assert not any("appearance" in k for k in G.state_dict())
    with torch.no_grad():
        write_grid(G(tg.fixed_latents(G.cfg))["image"], tmp_path / "samples.png", nrow=8)
    ours = np.asarray(Image.open(tmp_path / "samples.png"), dtype=int)
    bundled = np.asarray(Image.open(BUNDLED / "samples.png"), dtype=int)
    assert ours.shape == bundled.shape and np.abs(ours - bundled).max() <= 2


def test_init_from_starts_a_new_run_from_a_trained_generator(tmp_path, capsys):
    scenes.export(8, tmp_path / "data" / "scenes", 0)
    common = ["--data-root", str(tmp_path / "data"), "--batch", "2", "--threads", "1", "--log-every", "1"]
    first = tmp_path / "first"
    tg.main(["--steps", "2", "--out", str(first), "--config", json.dumps(TINY), "--app-weight", "0", *common])
    second = tmp_path / "second"
    tg.main(["--steps", "1", "--out", str(second), "--init-from", str(first), "--d-warmup", "2", "--app-weight", "1",
             *common])
    assert "initialised from" in capsys.readouterr().out
    meta = checkpoint.read_config(second)
    assert meta["config"] == checkpoint.read_config(first)["config"] and meta["init_from"] == "first (step 2)"
    assert meta["step"] == 1 and meta["app_weight"] == 1.0 and meta["app_dims"] == 3
    st = checkpoint.load_state(second / "state.pt")
    assert {"Q", "opt_q"} <= set(st)
    tg.main(["--steps", "2", "--out", str(second), "--init-from", str(first), "--resume", "--app-weight", "1",
             *common])
    assert checkpoint.read_config(second)["step"] == 2
    with pytest.raises(SystemExit):
        tg.main(["--steps", "1", "--out", str(tmp_path / "x"), "--init-from", str(first), "--config", '{"hidden": 8}', *common])


def test_a_fine_tune_from_an_asset_warms_a_fresh_adam_discriminator_up_first(tmp_path, capsys):
    # an asset folder holds no discriminator: the fine-tune trains a fresh one alone first, here with Adam and
    # no R1 during the warm-up (what a fresh discriminator needs against a trained generator, docs/giraffe.md)
    scenes.export(8, tmp_path / "data" / "scenes", 0)
    common = ["--data-root", str(tmp_path / "data"), "--batch", "2", "--threads", "1", "--log-every", "1"]
    first = tmp_path / "first"
    tg.main(["--steps", "2", "--out", str(first), "--config", json.dumps(TINY), *common])
    asset = tg.main(["--export", str(first), str(tmp_path / "asset")])
    assert not (asset / "discriminator.safetensors").exists()
    run = tmp_path / "tune"
    tg.main(["--steps", "1", "--out", str(run), "--init-from", str(asset), "--d-warmup", "3", "--d-optim", "adam",
             "--lr-d", "2e-4", "--warmup-r1-gamma", "0", "--r1-gamma", "1", *common])
    out = capsys.readouterr().out
    assert "3 discriminator-only steps first" in out and "warm-up 3/3: loss_d" in out
    meta = checkpoint.read_config(run)
    assert meta["d_optim"] == "adam" and meta["r1_gamma"] == 1.0
    opt_d = checkpoint.load_state(run / "state.pt")["opt_d"]
    assert all("exp_avg" in v for v in opt_d["state"].values()) and opt_d["state"]       # Adam's moments
    with pytest.raises(SystemExit):
        tg.main(["--steps", "1", "--out", str(run), "--d-optim", "sgd", *common])
