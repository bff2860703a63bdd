import numpy as np
import pytest
import torch

from synth import data
from synth.inpaint import REGISTRY, get_inpainter, masks
from synth.inpaint.base import Inpainter, as_rgb, crop_padded, window_around
from synth.inpaint.context_encoder import (ContextEncoder, ContextEncoderConfig, Discriminator, overlap_band,
                                           reconstruction_loss, reconstruction_weights)

METHODS = sorted(REGISTRY)


@pytest.fixture(scope="module")
def photo():
    return data.load("photos256", "heldout").images[0]


# ---------------------------------------------------------------------------------------------- data

def test_photo_split_is_by_source_photo():
    train, held = data.load("photos", "train"), data.load("photos", "heldout")
    assert set(train.labels) & set(held.labels) == set()
    assert not data.fingerprints(train.images) & data.fingerprints(held.images)
    for label in set(held.labels):
        assert data.PHOTO_SOURCES[label][2] == "heldout"
    for label in set(train.labels):
        assert data.PHOTO_SOURCES[label][2] == "train"
    # motorcycle left/right show the same scene: they must share a split
    split = {name: s for name, _, s in data.PHOTO_SOURCES}
    assert split["motorcycle_left"] == split["motorcycle_right"]
    ex = data.load("photos256", "heldout")
    assert set(ex.labels) <= set(held.labels)


# ---------------------------------------------------------------------------------------------- every method

@pytest.mark.parametrize("name", METHODS)
def test_outside_pixels_unchanged_and_hole_filled(name, photo):
    img = photo[:96, :128].copy()
    mask = masks.random_region(96, 128, seed=1)
    out = get_inpainter(name).fill(img, mask)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.array_equal(out[~mask], img[~mask])
    assert not np.array_equal(out[mask], np.full_like(out[mask], 0))
    # the hole is filled with something near the photo's colours, not left untouched garbage
    assert abs(float(out[mask].mean()) - float(img[~mask].mean())) < 60


@pytest.mark.parametrize("name", METHODS)
def test_odd_modes_and_sizes(name, photo):
    ip = get_inpainter(name)
    grey = photo[:33, :47, 0].copy()                           # odd sizes, H x W grey
    m = np.zeros((33, 47), bool)
    m[10:20, 15:30] = True
    out = ip.fill(grey, m)
    assert out.shape == (33, 47, 3)
    assert np.array_equal(out[~m], np.repeat(grey[..., None], 3, 2)[~m])
    rgba = np.dstack([photo[:65, :65], np.full((65, 65), 128, np.uint8)])
    m2 = masks.central(65, 65)
    out = ip.fill(rgba, m2.astype(np.uint8) * 255)             # 0/255 mask works as a hole mask
    assert np.array_equal(out[~m2], rgba[..., :3][~m2])


@pytest.mark.parametrize("name", METHODS)
def test_empty_mask_returns_image_and_full_mask_is_refused(name, photo):
    ip = get_inpainter(name)
    img = photo[:64, :64]
    out = ip.fill(img, np.zeros((64, 64), bool))
    assert np.array_equal(out, img)
    with pytest.raises(ValueError, match="covers the whole image"):
        ip.fill(img, np.ones((64, 64), bool))


def test_bad_input_messages(photo):
    ip = get_inpainter("telea")
    with pytest.raises(ValueError, match="same size"):
        ip.fill(photo, np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match=r"32\.\.4000 px, got 300x20 \(width x height\)"):
        ip.fill(np.zeros((20, 300, 3), np.uint8), np.zeros((20, 300), bool))
    with pytest.raises(ValueError, match=r"biharmonic works on photos up to 1024 px a side; this one is 1100x40"):
        get_inpainter("biharmonic").fill(np.zeros((40, 1100, 3), np.uint8), np.eye(40, 1100, dtype=bool))
    with pytest.raises(ValueError, match="uint8"):
        ip.fill(photo.astype(np.float32), np.zeros(photo.shape[:2], bool))
    with pytest.raises(ValueError, match="grey, RGB, RGBA"):
        as_rgb(np.zeros((40, 40, 5), np.uint8))


def test_registry_unknown_name():
    with pytest.raises(KeyError) as e:
        get_inpainter("photoshop")
    assert "unknown model 'photoshop'; available: " in str(e.value)
    assert "telea" in str(e.value) and "context-encoder L2" in str(e.value)


def test_mean_colour_is_the_mean_of_the_surroundings():
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, :32] = (200, 100, 0)
    img[:, 32:] = (0, 100, 200)
    m = masks.central(64, 64)
    out = get_inpainter("mean-colour").fill(img, m)
    assert np.array_equal(out[32, 32], [100, 100, 100])        # symmetric band: the halves average


def test_patch_based_copies_existing_texture():
    # stripes: the exemplar fill should continue them exactly (every patch exists outside the hole)
    x = np.arange(64)
    img = np.repeat(np.where((x // 4) % 2 == 0, 220, 30).astype(np.uint8)[None, :, None], 64, 0).repeat(3, 2)
    m = np.zeros((64, 64), bool)
    m[24:40, 24:40] = True
    out = get_inpainter("patch-based").fill(img, m)
    assert np.abs(out.astype(int) - img).max() == 0


def test_patch_based_large_hole_copies_full_resolution_pixels():
    # a 200 px hole is matched on a shrunk copy; the hole's pixels are still copied, not interpolated
    rng = np.random.default_rng(0)
    palette = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200]], np.uint8)
    img = palette[rng.integers(0, 3, (100, 100))].repeat(4, 0).repeat(4, 1)   # 400x400 blocks of 3 colours
    m = masks.central(400, 400)
    ip = get_inpainter("patch-based")
    assert ip.max_hole < 200
    out = ip.fill(img, m)
    assert np.array_equal(out[~m], img[~m])
    copied = (out[m][:, None, :] == palette[None]).all(2).any(1)
    assert copied.mean() > 0.95


def test_nearest_neighbour_candidates(photo):
    nn = get_inpainter("nearest-neighbour")
    m = masks.central(128, 128)
    cands = nn.candidates(photo[:128, :128].copy(), m, 3)
    assert len(cands) == 3
    assert len({c.index for c in cands}) == 3
    assert [c.placement_ssd for c in cands] == sorted(c.placement_ssd for c in cands)
    for c in cands:
        assert np.array_equal(c.image[~m], photo[:128, :128][~m])
    # the database is the training split only (+ mirrors)
    train = data.load("photos", "train").images
    assert len(nn.db) == 2 * len(train)


def test_context_window_centres_the_hole():
    m = np.zeros((100, 100), bool)
    m[40:60, 30:50] = True
    y0, x0, side = window_around(m)
    assert side == 40 and (y0, x0) == (30, 20)
    img = np.arange(100 * 100).reshape(100, 100)
    assert np.array_equal(crop_padded(img, y0, x0, side), img[30:70, 20:60])
    # outside the image: mirrored, still side x side
    assert crop_padded(img, -10, 90, 40).shape == (40, 40)



def test_context_window_at_a_models_resolution_and_back():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)
    m = np.zeros((100, 120), bool)
    m[5:25, 90:118] = True                                     # near a corner: the window leaves the image
    w = Inpainter.context_window(img, m, 32)
    assert w.image.shape == (w.side, w.side, 3) and w.mask.shape == (w.side, w.side)
    assert w.mask.sum() >= m.sum()                            # mirrored at the border: the hole too
    assert w.small.shape == (32, 32, 3) and w.small_mask.shape == (32, 32) and w.small_mask.any()
    # the window itself pasted back is the image; any prediction changes the hole's pixels only
    assert np.array_equal(w.paste(img, m, w.image), img)
    out = w.paste(img, m, np.zeros((32, 32, 3), np.uint8))
    assert np.array_equal(out[~m], img[~m]) and (out[m] == 0).all()


def test_compare_methods_shows_every_method_with_its_psnr(photo):
    from synth.inpaint import display

    img = photo[:64, :64].copy()
    m = masks.central(64, 64)
    seen = []
    c = display.compare_methods(img, m, lambda frac, desc: seen.append(desc))
    assert len(c.gallery) == len(REGISTRY) + 2 and seen[:len(REGISTRY)] == list(REGISTRY)
    assert (c.gallery[0][0][m] == display.HOLE_RGB).all() and np.array_equal(c.gallery[1][0], img)
    for (out, caption), name in zip(c.gallery[2:], REGISTRY):
        assert caption.startswith(f"{name}: ") and caption.endswith(" dB") and np.array_equal(out[~m], img[~m])
    assert len(c.candidates) == 2 * len(c.completions) and "hole pixels" in c.note


# ---------------------------------------------------------------------------------------------- masks

@pytest.mark.parametrize("h,w", [(64, 64), (128, 96)])
def test_mask_coverage_statistics(h, w):
    assert masks.central(h, w).mean() == pytest.approx(0.25, abs=0.01)
    c = masks.central(h, w)
    ys, xs = np.nonzero(c)
    assert (ys.min() + ys.max()) / 2 == pytest.approx((h - 1) / 2, abs=0.5)
    blocks = np.array([masks.random_block(h, w, seed=s).mean() for s in range(100)])
    assert blocks.max() <= 0.25 and blocks.min() > 0.05 and 0.15 < blocks.mean() < 0.25
    regions = np.array([masks.random_region(h, w, seed=s).mean() for s in range(100)])
    assert np.all(np.abs(regions - 0.25) < 0.01)


def test_masks_seeded_and_different():
    for kind in ("random block", "random region"):
        a, b = masks.make_mask(kind, 64, 64, 3), masks.make_mask(kind, 64, 64, 3)
        assert np.array_equal(a, b)
        assert not np.array_equal(a, masks.make_mask(kind, 64, 64, 4))
    with pytest.raises(KeyError, match="unknown mask kind"):
        masks.make_mask("star", 64, 64)


# ---------------------------------------------------------------------------------------------- Context Encoder

@pytest.mark.parametrize("size,mask_channel", [(64, False), (32, True)])
def test_context_encoder_shapes(size, mask_channel):
    cfg = ContextEncoderConfig(image_size=size, nf=8, mask_channel=mask_channel)
    g, d = ContextEncoder(cfg), Discriminator(cfg)
    x = torch.randn(2, 3, size, size)
    m = torch.zeros(2, 1, size, size, dtype=torch.bool)
    y = g(x, m)
    assert y.shape == (2, 3, size, size) and y.abs().max() <= 1
    assert d(y).shape == (2,)
    bottleneck = g.encoder(torch.cat([x, m.float()], 1) if mask_channel else x)
    assert bottleneck.shape == (2, 8 * 2 ** (len(g.encoder) // 3), 4, 4)


def test_channel_wise_fc_keeps_channels_apart():
    cfg = ContextEncoderConfig(nf=8, dropout=0.0)
    fc = ContextEncoder(cfg).bottleneck[0].eval()
    x = torch.randn(1, fc.weight.shape[0], 4, 4)
    y = fc(x)
    x2 = x.clone()
    x2[:, 0] += 1.0                                            # change channel 0 only
    diff = (fc(x2) - y).abs().sum((0, 2, 3))
    assert diff[0] > 0 and torch.all(diff[1:] == 0)


def test_reconstruction_loss_overlap_weighting():
    m = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    m[..., 6:10, 6:10] = True
    w = reconstruction_weights(m, overlap=2, overlap_weight=10.0)
    band = overlap_band(m, 2)
    assert band.sum() == 8 * 8 - 4 * 4                         # ring of 2 px around a 4x4 hole
    assert torch.all(w[m] == 1) and torch.all(w[band] == 10) and w[~(m | band)].sum() == 0
    target = torch.zeros(1, 3, 16, 16)
    # the same unit error in the band costs 10x what it costs in the hole; outside both it is free
    e_hole, e_band, e_far = (torch.zeros_like(target) for _ in range(3))
    e_hole[..., 7, 7] = 1
    e_band[..., 5, 7] = 1
    e_far[..., 0, 0] = 1
    l_hole = reconstruction_loss(e_hole, target, m, 2, 10.0)
    l_band = reconstruction_loss(e_band, target, m, 2, 10.0)
    assert l_band == pytest.approx(10 * l_hole)
    assert reconstruction_loss(e_far, target, m, 2, 10.0) == 0
    assert l_hole == pytest.approx(3 / (3 * 64))               # mean over the 8x8 predicted region


def test_config_loss_weights_follow_the_paper():
    cfg = ContextEncoderConfig()
    assert (cfg.lambda_rec, cfg.lambda_adv, cfg.overlap_weight) == (0.999, 0.001, 10.0)


def test_trainer_smoke_and_resume(tmp_path):
    from synth import checkpoint
    from synth.inpaint import train as train_inpaint

    out = tmp_path / "run"
    args = ["--variant", "l2adv", "--steps", "3", "--batch", "4", "--nf", "8", "--limit-data", "16",
            "--out", str(out), "--device", "cpu"]
    train_inpaint.main(args)
    assert checkpoint.read_config(out)["steps"] == 3
    st = checkpoint.load_state(out / "state.pt")
    assert st["step"] == 3
    train_inpaint.main([*args[:3], "5", *args[4:], "--resume"])
    assert checkpoint.load_state(out / "state.pt")["step"] == 5
    assert (out / "samples.png").exists() and (out / "losses.csv").read_text().startswith("step,")
    dest = tmp_path / "asset"
    train_inpaint.main(["--export", str(out), str(dest)])
    from synth.inpaint.learned import ContextEncoderInpainter

    ip = ContextEncoderInpainter(dest)
    assert ip.cfg.nf == 8
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    m = masks.central(64, 64)
    assert np.array_equal(ip.fill(img, m)[~m], img[~m])


def test_trainer_loss_falls():
    from synth.inpaint.train import augment

    torch.manual_seed(0)
    cfg = ContextEncoderConfig(image_size=32, nf=8, dropout=0.0)
    g = ContextEncoder(cfg)
    opt = torch.optim.Adam(g.parameters(), lr=2e-3)
    x = torch.from_numpy(data.load("photos", "train").images[:8, ::2, ::2]).permute(0, 3, 1, 2).float() / 127.5 - 1
    gen = torch.Generator().manual_seed(0)
    assert augment(x, gen).shape == x.shape
    m = torch.from_numpy(masks.central(32, 32))[None, None].expand(8, 1, 32, 32)
    losses = []
    for _ in range(30):
        loss = reconstruction_loss(g(x * ~m), x, m, 2, 10.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_trainer_init_starts_from_a_checkpoint_and_checks_its_shape(tmp_path):
    from synth import checkpoint
    from synth.inpaint import train as train_inpaint

    base = ["--variant", "l2", "--steps", "1", "--batch", "2", "--limit-data", "4", "--device", "cpu"]
    train_inpaint.main([*base, "--nf", "8", "--out", str(tmp_path / "a")])
    train_inpaint.main(["--export", str(tmp_path / "a"), str(tmp_path / "a_asset")])
    # zero steps of fine-tuning: the new run's weights are the init's (fp16 in the asset)
    train_inpaint.main([*base[:3], "0", *base[4:], "--nf", "8", "--init", str(tmp_path / "a_asset"),
                        "--out", str(tmp_path / "b")])
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "a_asset" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k].float(), b[k].float()) for k in a)
    with pytest.raises(ValueError, match="nf/mask channel differ"):
        train_inpaint.main([*base, "--nf", "16", "--init", str(tmp_path / "a_asset"), "--out", str(tmp_path / "c")])
    assert checkpoint.read_config(tmp_path / "b")["steps"] == 0
