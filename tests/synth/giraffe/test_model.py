"""GIRAFFE's model: pose transforms, composition, volume rendering, the generator, the latents."""

import math

import numpy as np
import pytest
import torch

from synth import checkpoint
from synth.giraffe import controls as ctl
from synth.giraffe import model as gi
from synth.giraffe import scenes
from tests.synth.giraffe.tiny import tiny_cfg


# ---------------------------------------------------------------------------------------------- pose transforms

def test_pose_round_trip_and_known_points():
    g = torch.Generator().manual_seed(0)
    B, K = 3, 4
    s = 0.2 + torch.rand(B, K, 1, generator=g).expand(B, K, 3)
    t = torch.randn(B, K, 3, generator=g)
    r = 2 * math.pi * torch.rand(B, K, generator=g)
    p = torch.randn(B, K, 5, 7, 3, generator=g)
    q = gi.to_canonical(p, s, t, r)
    assert torch.allclose(gi.from_canonical(q, s, t, r), p, atol=1e-5)
    assert torch.allclose(gi.to_canonical(t[:, :, None], s, t, r), torch.zeros(B, K, 1, 3), atol=1e-6)
    # an object turned by 90 degrees: its canonical +x axis points along world +y
    s1, t1 = torch.full((1, 1, 3), 0.5), torch.tensor([[[1.0, 2.0, 0.5]]])
    r1 = torch.tensor([[math.pi / 2]])
    world = t1 + torch.tensor([0.0, 0.5, 0.0])
    assert torch.allclose(gi.to_canonical(world[:, :, None], s1, t1, r1)[0, 0, 0], torch.tensor([1.0, 0, 0]),
                          atol=1e-6)
    R = gi.rotation_z(r)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3).expand(B, K, 3, 3), atol=1e-6)


def test_canonical_frame_is_the_renderers_object_box():
    # points on a rendered cube's surface map onto the canonical box surface (inf-norm 1)
    sc = scenes.Scene(shape=np.array([1]), scale=np.array([0.5]), translation=np.array([[0.3, -0.4, 0.5]]),
                      rotation=np.array([0.6]), colour=np.ones((1, 3)) * 0.5, elevation=math.radians(40), seed=0)
    origin, d = scenes.camera_rays(sc.elevation, 32)
    d = d.reshape(-1, 3)
    t, _ = scenes.intersect(1, 0.5, sc.translation[0], 0.6, np.broadcast_to(origin, d.shape), d)
    hit = np.isfinite(t)
    assert hit.sum() > 20
    pts = torch.from_numpy(origin + t[hit, None] * d[hit]).float()[None, None]
    q = gi.to_canonical(pts, torch.full((1, 1, 3), 0.5), torch.tensor(sc.translation, dtype=torch.float32)[None],
                        torch.tensor([[0.6]]))
    assert torch.allclose(q.abs().amax(-1), torch.ones(1), atol=1e-4)


def test_camera_rays_match_the_scene_renderer():
    cfg = gi.GiraffeConfig()
    el = torch.tensor([math.radians(25), math.radians(40), math.radians(55)], dtype=torch.float64)
    origin, dirs = gi.camera_rays(el, 16, cfg)
    for i, e in enumerate(el.tolist()):
        o_np, d_np = scenes.camera_rays(e, 16)
        assert np.allclose(origin[i].numpy(), o_np) and np.allclose(dirs[i].numpy(), d_np.reshape(-1, 3))
    # the config's prior is the data's
    sc = scenes.SceneConfig()
    assert (cfg.camera_radius, cfg.fov_deg, cfg.xy_range) == (sc.camera_radius, sc.fov_deg, sc.xy_range)
    assert tuple(cfg.size_range) == sc.size_range and tuple(cfg.elevation_deg) == sc.elevation_deg


# ---------------------------------------------------------------------------------------------- composition, rendering

def test_composition_of_two_overlapping_densities():
    sigma = torch.tensor([[2.0, 0.0, 3.0], [6.0, 0.0, 0.0]])            # 2 fields x 3 samples
    feat = torch.tensor([[[1.0, 0.0]] * 3, [[0.0, 1.0]] * 3])           # field 0 says (1, 0), field 1 (0, 1)
    total, mean, w = gi.composite(sigma, feat)
    assert torch.allclose(total, torch.tensor([8.0, 0.0, 3.0]))
    assert torch.allclose(mean, torch.tensor([[0.25, 0.75], [0.0, 0.0], [1.0, 0.0]]))
    assert torch.allclose(w, torch.tensor([[0.25, 0.0, 1.0], [0.75, 0.0, 0.0]]))


def test_sparse_composition_equals_dense():
    g = torch.Generator().manual_seed(1)
    B, K, R, S, Fd = 2, 3, 5, 4, 6
    sig_bg, f_bg = torch.rand(B, R, S, generator=g), torch.randn(B, R, S, Fd, generator=g)
    index = torch.randperm(B * K * R * S, generator=g)[:40].sort().values
    sig_o, f_o = torch.rand(40, generator=g), torch.randn(40, Fd, generator=g)
    dense_s = torch.zeros(B * K * R * S).index_copy(0, index, sig_o).view(B, K, R, S).permute(1, 0, 2, 3)
    dense_f = torch.zeros(B * K * R * S, Fd).index_copy(0, index, f_o).view(B, K, R, S, Fd).permute(1, 0, 2, 3, 4)
    sigma, feat = torch.cat([dense_s, sig_bg[None]]), torch.cat([dense_f, f_bg[None]])
    total, mean, w = gi.composite(sigma, feat)
    total2, mean2, alpha_of = gi.composite_sparse(sig_bg, f_bg, sig_o, f_o, index, (B, K, R, S))
    assert torch.allclose(total, total2) and torch.allclose(mean, mean2, atol=1e-6)
    weights = torch.rand(B, R, S, generator=g)
    assert torch.allclose(alpha_of(weights), (weights[None] * w).sum(-1).permute(1, 0, 2), atol=1e-6)


def test_volume_rendering_analytic_cases():
    depth = torch.linspace(0, 10, 1001)                                   # spacing 0.01
    inside = (depth >= 4) & (depth < 6)
    feat = torch.where(inside[:, None], torch.tensor([0.3, -0.7]), torch.tensor([5.0, 5.0]))
    # 1. an opaque slab: alpha ~ 1, the slab's feature, the slab's front depth
    w = gi.volume_weights(depth, torch.where(inside, 1e3, 0.0), last_dist=0.0)
    assert w.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose((w[:, None] * feat).sum(0), torch.tensor([0.3, -0.7]), atol=1e-5)
    assert (w * depth).sum().item() == pytest.approx(4.0, abs=0.01)
    # 2. a semi-transparent slab: alpha = 1 - exp(-sigma * thickness)
    w = gi.volume_weights(depth, torch.where(inside, 0.5, 0.0), last_dist=0.0)
    assert w.sum().item() == pytest.approx(1 - math.exp(-1.0), abs=1e-4)
    # 3. empty space: nothing
    assert gi.volume_weights(depth, torch.zeros(1001)).abs().max().item() == 0.0
    # 4. the last sample stands for everything beyond: any density there makes it opaque
    w = gi.volume_weights(depth, torch.zeros(1001).index_fill(0, torch.tensor([1000]), 0.1))
    assert w.sum().item() == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------------------------------------- generator

def test_generator_shapes_determinism_and_alpha():
    cfg = tiny_cfg()
    torch.manual_seed(0)
    G = gi.Generator(cfg).eval()
    lat = gi.sample_latents(cfg, 4, torch.Generator().manual_seed(5), n_objects=torch.tensor([1, 2, 3, 4]))
    with torch.no_grad():
        out = G(lat)
        again = G(gi.sample_latents(cfg, 4, torch.Generator().manual_seed(5), n_objects=torch.tensor([1, 2, 3, 4])))
        other = G(gi.sample_latents(cfg, 4, torch.Generator().manual_seed(6), n_objects=torch.tensor([1, 2, 3, 4])))
    assert out["image"].shape == (4, 3, 64, 64) and out["feature"].shape == (4, 8, 16, 16)
    assert out["alpha"].shape == (4, cfg.n_objects + 1, 16, 16)
    assert torch.equal(out["image"], again["image"]) and not torch.equal(out["image"], other["image"])
    assert out["image"].min() >= -1 and out["image"].max() <= 1 and torch.isfinite(out["feature"]).all()
    a = out["alpha"]
    assert a.min() >= 0 and a.sum(1).max() <= 1 + 1e-5
    # slots beyond an image's object count are not rendered
    for b in range(4):
        assert a[b, b + 1:cfg.n_objects].abs().sum() == 0
    with torch.no_grad():
        bg = G(ctl.background_only(lat))
    assert bg["alpha"][:, :-1].abs().max() == 0


def test_training_mode_is_seeded_and_differentiable():
    cfg = tiny_cfg()
    torch.manual_seed(0)
    G = gi.Generator(cfg).train()
    lat = gi.sample_latents(cfg, 2, torch.Generator().manual_seed(3), n_objects=2)
    a = G(lat, torch.Generator().manual_seed(9))["image"]
    b = G(lat, torch.Generator().manual_seed(9))["image"]
    c = G(lat, torch.Generator().manual_seed(10))["image"]
    assert torch.equal(a, b) and not torch.equal(a, c)       # jittered depths and density noise follow the seed
    a.mean().backward()
    for name in ("object_field.fc_z.weight", "background_field.fc_in.weight", "renderer.convs.0.weight"):
        assert dict(G.named_parameters())[name].grad.abs().sum() > 0, name


def test_object_alpha_stays_in_its_box_and_follows_it():
    cfg = tiny_cfg(n_samples=32)
    torch.manual_seed(0)
    G = gi.Generator(cfg).eval()
    with torch.no_grad():                                   # an untrained field, made dense inside the box
        G.object_field.sigma_out.bias.fill_(5.0)
    lat = gi.sample_latents(cfg, 1, torch.Generator().manual_seed(2), n_objects=1)
    lat.translation[0, 0, :2] = torch.tensor([0.0, -1.0])

    def alpha_and_box(l):
        with torch.no_grad():
            a = G(l)["alpha"][0, 0]
        corners = torch.tensor([[x, y, z] for x in (-1.1, 1.1) for y in (-1.1, 1.1) for z in (-1.1, 1.1)])
        world = gi.from_canonical(corners[None, None], l.scale, l.translation, l.rotation)[0, 0].double().numpy()
        px = scenes.project(world, float(l.elevation[0]), cfg.feature_size)
        return a, px

    a, px = alpha_and_box(lat)
    rows, cols = np.nonzero(a.numpy() > 0)
    assert len(rows) > 0
    assert cols.min() >= np.floor(px[:, 0].min()) and cols.max() <= np.ceil(px[:, 0].max())
    assert rows.min() >= np.floor(px[:, 1].min()) and rows.max() <= np.ceil(px[:, 1].max())
    # (e) horizontal translation: the alpha mass moves right
    col = lambda al: (al.sum(0) * torch.arange(al.shape[1])).sum() / al.sum()  # noqa: E731
    moved, _ = alpha_and_box(ctl.translate_horizontal(lat, 0, 2.0))
    assert col(moved) > col(a) + 3


# ---------------------------------------------------------------------------------------------- latents and controls

def test_sample_latents_follow_the_scene_prior():
    cfg = gi.GiraffeConfig()
    lat = gi.sample_latents(cfg, 256, torch.Generator().manual_seed(0))
    n = lat.exists.sum(1)
    assert set(n.tolist()) == {1, 2, 3, 4}
    assert torch.equal(lat.exists, torch.arange(4)[None] < n[:, None])
    s = lat.scale[..., 0]
    assert s.min() >= cfg.size_range[0] and s.max() <= cfg.size_range[1]
    assert torch.equal(lat.translation[..., 2], s)                      # resting on the ground
    assert lat.translation[..., :2].abs().max() <= cfg.xy_range
    el = torch.rad2deg(lat.elevation)
    assert el.min() >= cfg.elevation_deg[0] and el.max() <= cfg.elevation_deg[1]
    d = (lat.translation[:, :, None, :2] - lat.translation[:, None, :, :2]).norm(dim=-1)
    need = math.sqrt(2) * (s[:, :, None] + s[:, None])
    pair = lat.exists[:, :, None] & lat.exists[:, None] & ~torch.eye(4, dtype=torch.bool)
    assert ((d < need) & pair).any(-1).any(-1).float().mean() < 0.02     # boxes apart in nearly every scene
    assert torch.equal(gi.latents_for_seed(cfg, 7, 3).z_app, gi.latents_for_seed(cfg, 7, 3).z_app)
    with pytest.raises(ValueError, match="n_objects must be 1..4"):
        gi.sample_latents(cfg, 2, n_objects=5)

def test_config_validation_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="image_size must be 64"):
        gi.GiraffeConfig(image_size=32, feature_size=8)
    cfg = tiny_cfg()
    G = gi.Generator(cfg).eval()
    checkpoint.save_model(tmp_path, "giraffe", cfg, {"generator_ema": G}, step=1)
    G2 = gi.load_giraffe(tmp_path)
    assert G2.cfg == cfg
    lat = gi.latents_for_seed(cfg, 0, 2)
    with torch.no_grad():
        assert torch.equal(G(lat)["image"], G2(lat)["image"])

def test_rgb_upsampling_keeps_flat_colour_and_smooths_a_step():
    flat = torch.full((1, 3, 4, 4), 0.3)
    assert torch.allclose(gi.NeuralRenderer.upsample_rgb(flat), torch.full((1, 3, 8, 8), 0.3))
    step = torch.zeros(1, 1, 4, 4)
    step[..., 2:] = 1.0
    up = gi.NeuralRenderer.upsample_rgb(step)[0, 0, 0]
    assert torch.all(up.diff() >= 0) and 0 < up[3] < 1 and 0 < up[4] < 1    # monotone, no hard edge


def test_adding_an_object_keeps_the_others():
    cfg = gi.GiraffeConfig()
    same = 0
    for seed in range(30):
        a, b = gi.latents_for_seed(cfg, seed, 2), gi.latents_for_seed(cfg, seed, 3)
        # codes, sizes, angles, background and camera never depend on the count
        for name in ("z_shape", "z_app", "scale", "rotation"):
            assert torch.equal(getattr(a, name)[:, :2], getattr(b, name)[:, :2]), name
        for name in ("z_shape_bg", "z_app_bg", "elevation"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
        same += torch.equal(a.translation[:, :2], b.translation[:, :2])
    assert same >= 25  # positions move only when the new object would overlap and a crowded redraw is needed
