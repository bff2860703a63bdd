import json
import math

import numpy as np
import pytest
import torch

from synth import checkpoint, data, scenes
from synth.models import giraffe as gi

TINY = {"hidden": 16, "n_blocks": 3, "skips": [1], "z_dim": 8, "z_dim_bg": 4, "bg_hidden": 8, "bg_blocks": 2,
        "feat_dim": 8, "render_feat": 8, "render_min_feat": 4, "ndf": 8, "n_samples": 8}


def tiny_cfg(**kw) -> gi.GiraffeConfig:
    return checkpoint.config_from_dict(gi.GiraffeConfig, {**TINY, **kw})


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
        bg = G(gi.background_only(lat))
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
    moved, _ = alpha_and_box(gi.translate_horizontal(lat, 0, 2.0))
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


def test_controls_edit_only_their_target():
    cfg = gi.GiraffeConfig()
    lat = gi.latents_for_seed(cfg, 3, n_objects=3)
    before = lat.clone()

    def changed(new):
        return {f for f in ("z_shape", "z_app", "z_shape_bg", "z_app_bg", "scale", "translation", "rotation",
                            "exists", "elevation") if not torch.equal(getattr(new, f), getattr(lat, f))}

    r = gi.rotate_object(lat, 1, 0.5)
    assert changed(r) == {"rotation"} and r.rotation[0, 1] == 0.5 and torch.equal(r.rotation[0, [0, 2]],
                                                                                  lat.rotation[0, [0, 2]])
    e = gi.set_elevation(lat, 0.7)
    assert changed(e) == {"elevation"} and e.elevation[0].item() == pytest.approx(0.7)
    target = torch.randn(cfg.z_dim)
    assert changed(gi.change_appearance(lat, 0, 0.0, target)) == set()
    app = gi.change_appearance(lat, 0, 1.0, target)
    assert changed(app) == {"z_app"} and torch.allclose(app.z_app[0, 0], target)
    assert torch.equal(app.z_app[0, 1:], lat.z_app[0, 1:])
    dep = gi.translate_depth(lat, 2, 0.4)
    assert changed(dep) == {"translation"}
    assert torch.allclose(dep.translation[0, 2] - lat.translation[0, 2], torch.tensor([0.4, 0, 0]))
    hor = gi.translate_horizontal(lat, 2, -0.3)
    assert torch.allclose(hor.translation[0, 2] - lat.translation[0, 2], torch.tensor([0, -0.3, 0]))
    # (f) circle: distance to the centre object kept; a full turn closes the path; half a turn mirrors
    c = lat.translation[0, 1, :2]
    radius = (lat.translation[0, 0, :2] - c).norm()
    for ang in np.linspace(0, 2 * np.pi, 9):
        moved = gi.circle_around(lat, 0, 1, float(ang))
        assert changed(moved) <= {"translation"}
        assert (moved.translation[0, 0, :2] - c).norm().item() == pytest.approx(radius.item(), rel=1e-5)
        assert torch.equal(moved.translation[0, 1:], lat.translation[0, 1:])
    assert torch.allclose(gi.circle_around(lat, 0, 1, 2 * math.pi).translation, lat.translation, atol=1e-5)
    assert torch.allclose(gi.circle_around(lat, 0, 1, math.pi).translation[0, 0, :2], 2 * c - lat.translation[0, 0, :2],
                          atol=1e-5)
    for name in ("z_shape", "z_app", "translation", "rotation", "elevation"):   # the input is never edited
        assert torch.equal(getattr(lat, name), getattr(before, name))
    with pytest.raises(ValueError, match="object slot must be 0..3, got 4"):
        gi.rotate_object(lat, 4, 0.0)
    with pytest.raises(ValueError, match="cannot circle around itself"):
        gi.circle_around(lat, 1, 1, 0.3)


def test_feature_pca_orders_components_by_variance():
    h = w = 16
    feat = torch.zeros(6, h, w)
    feat[0] = 10 * torch.linspace(-1, 1, w)[None].expand(h, w)         # strongest: left-right ramp
    feat[3] = 3 * torch.linspace(-1, 1, h)[:, None].expand(h, w)       # second: top-bottom ramp
    pic = gi.feature_pca(feat)
    assert pic.shape == (h, w, 3) and pic.dtype == np.uint8
    assert np.all(np.diff(pic[0, :, 0].astype(int)) > 0) and np.ptp(pic[:, 0, 0]) == 0
    assert np.all(np.abs(np.diff(pic[:, 0, 1].astype(int))) > 0) and np.ptp(pic[0, :, 1]) == 0


def test_config_validation_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="image_size must be 64"):
        gi.GiraffeConfig(image_size=32, feature_size=8)
    cfg = tiny_cfg()
    G = gi.Generator(cfg).eval()
    checkpoint.save_model(tmp_path, "giraffe", cfg, {"generator_ema": G}, step=1)
    from synth.train_giraffe import load_generator

    G2 = load_generator(tmp_path)
    assert G2.cfg == cfg
    lat = gi.latents_for_seed(cfg, 0, 2)
    with torch.no_grad():
        assert torch.equal(G(lat)["image"], G2(lat)["image"])


# ---------------------------------------------------------------------------------------------- the scene renderer

def test_scene_render_is_deterministic_and_labelled():
    s1, r1 = scenes.make(11)
    s2, r2 = scenes.make(11)
    assert np.array_equal(r1["image"], r2["image"]) and np.array_equal(r1["masks"], r2["masks"])
    assert not np.array_equal(r1["image"], scenes.make(12)[1]["image"])
    assert r1["image"].shape == (64, 64, 3) and r1["image"].dtype == np.uint8
    for n in (1, 2, 3, 4):
        sc, r = scenes.make(100 + n, n_objects=n)
        assert len(sc) == n and r["masks"].shape == (n, 64, 64)
        assert r["masks"].sum((1, 2)).min() >= scenes.SceneConfig().min_visible
        assert r["masks"].sum(0).max() <= 1                                  # disjoint
        assert np.allclose(sc.translation[:, 2], sc.scale)                   # resting on the plane
    with pytest.raises(ValueError, match="n_objects must be 1..4"):
        scenes.make(0, n_objects=5)


def test_visible_masks_against_each_object_alone():
    for seed in (3, 21, 40):
        sc, r = scenes.make(seed, n_objects=3)
        solo = []
        for k in range(len(sc)):
            one = scenes.Scene(sc.shape[[k]], sc.scale[[k]], sc.translation[[k]], sc.rotation[[k]],
                               sc.colour[[k]], sc.elevation, sc.seed, sc.attempt)
            solo.append(scenes.render(one)["coverage"][0])
        solo = np.stack(solo)
        assert np.all(r["masks"] <= (solo > 0.5))                           # others only ever occlude
        for k in range(len(sc)):
            alone = np.delete(solo, k, 0).sum(0) == 0                       # pixels no other object reaches
            assert np.array_equal(r["masks"][k] & alone, (solo[k] > 0.5) & alone)
        overlap = (solo > 0).sum(0) > 1
        assert overlap.sum() < (solo > 0).any(0).sum()                      # the check above had pixels to test


def test_single_sphere_pixel_colour_and_position():
    cfg = scenes.SceneConfig()
    sc = scenes.Scene(np.array([0]), np.array([0.5]), np.array([[0.0, 0.0, 0.5]]), np.array([0.0]),
                      np.array([[0.8, 0.2, 0.05]]), math.radians(40), seed=0)
    r = scenes.render(sc)
    col, row = scenes.project(sc.translation[0], sc.elevation, cfg.image_size)
    assert r["masks"][0, int(row), int(col)]
    # white light: a fully covered pixel's linear colour is the albedo times a grey factor
    lin = (r["image"][int(row), int(col)] / 255.0) ** 2.2
    cos = lin @ sc.colour[0] / np.linalg.norm(lin) / np.linalg.norm(sc.colour[0])
    assert cos > 0.995
    # analytic hits: straight down onto the sphere's top, and along -x onto its side
    t, n = scenes.intersect(0, 0.5, sc.translation[0], 0.0, np.array([[0.0, 0, 5]]), np.array([[0.0, 0, -1]]))
    assert t[0] == pytest.approx(4.0) and np.allclose(n[0], [0, 0, 1])
    t, n = scenes.intersect(1, 0.5, np.zeros(3), math.pi / 4, np.array([[5.0, 0, 0]]), np.array([[-1.0, 0, 0]]))
    assert t[0] == pytest.approx(5 - 0.5 * math.sqrt(2)) and abs(n[0, 2]) < 1e-9      # a cube's edge at 45 degrees
    t, n = scenes.intersect(2, 0.5, np.zeros(3), 0.0, np.array([[5.0, 0, 0.2]]), np.array([[-1.0, 0, 0]]))
    assert t[0] == pytest.approx(4.5) and np.allclose(n[0], [1, 0, 0])
    t, _ = scenes.intersect(2, 0.5, np.zeros(3), 0.0, np.array([[5.0, 0, 0.6]]), np.array([[-1.0, 0, 0]]))
    assert t[0] == np.inf                                                             # above the cylinder


def test_culled_intersection_equals_the_full_one():
    rng = np.random.default_rng(0)
    o = rng.uniform(-3, 3, (4000, 3))
    d = np.array([0.2, -0.1, 0.6]) + rng.normal(scale=0.8, size=(4000, 3)) - o     # aimed near the object
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    for kind in (0, 1, 2):
        full_t, full_n = scenes.intersect(kind, 0.6, np.array([0.2, -0.1, 0.6]), 0.7, o, d)
        cull_t, cull_n = scenes.intersect_culled(kind, 0.6, np.array([0.2, -0.1, 0.6]), 0.7, o, d)
        assert 300 < np.isfinite(full_t).sum() < 3700
        assert np.array_equal(full_t, cull_t)
        hit = np.isfinite(full_t)
        assert np.array_equal(full_n[hit], cull_n[hit])


def test_export_writes_the_data_format(tmp_path, capsys):
    out = tmp_path / "scenes"
    scenes.main(["export", "--n", "6", "--heldout", "2", "--out", str(out)])
    assert "images/s" in capsys.readouterr().out
    train = data.load("scenes", "train", root=tmp_path)
    held = data.load("scenes", "heldout", root=tmp_path)
    assert train.images.shape == (6, 64, 64, 3) and len(held) == 2
    lab = scenes.load_labels("train", out)
    assert np.array_equal(lab["n_objects"], train.labels) and lab["seed"].tolist() == list(range(6))
    assert set(scenes.load_labels("heldout", out)["seed"].tolist()) == {scenes.HELDOUT_SEED0, scenes.HELDOUT_SEED0 + 1}
    for i in range(6):
        sc, r = scenes.make(i)
        assert np.array_equal(train.images[i], r["image"])
        n = lab["n_objects"][i]
        assert np.array_equal(lab["masks"][i, :n], r["masks"]) and not lab["masks"][i, n:].any()
        assert np.all(lab["shape"][i, n:] == -1)
        assert np.allclose(lab["translation"][i, :n], sc.translation)
    two = scenes.render_many([4, 5], workers=2)                        # the output does not depend on workers
    assert np.array_equal(two["images"], train.images[4:6]) and np.array_equal(two["masks"], lab["masks"][4:6])
    with pytest.raises(SystemExit):
        scenes.main(["export", "--n", "0", "--out", str(out)])


# ---------------------------------------------------------------------------------------------- trainer

def test_trainer_smoke_resume_and_outputs(tmp_path, capsys):
    from synth import train_giraffe as tg

    scenes.export(16, tmp_path / "data" / "scenes", 0)
    run = tmp_path / "run"
    common = ["--out", str(run), "--data-root", str(tmp_path / "data"), "--batch", "4", "--threads", "1",
              "--log-every", "1", "--config", json.dumps(TINY)]
    tg.main(["--steps", "3", *common])
    for f in ("args.json", "config.json", "generator.safetensors", "generator_ema.safetensors",
              "discriminator.safetensors", "state.pt", "samples.png", "alpha.png", "losses.csv", "losses.png"):
        assert (run / f).exists(), f
    meta = checkpoint.read_config(run)
    assert meta["model"] == "giraffe" and meta["step"] == 3 and "n_samples" in meta["scaled"] and meta["batch"] == 4
    st = checkpoint.load_state(run / "state.pt")          # weights_only: nothing unpickled
    assert st["step"] == 3
    import pandas as pd

    log = pd.read_csv(run / "losses.csv")
    assert log["step"].tolist() == [1, 2, 3] and np.isfinite(log.drop(columns="step").to_numpy()).all()
    # the EMA moved towards the trained weights, by (1 - beta) per step
    G, G_ema = gi.Generator(tiny_cfg()), tg.load_generator(run)
    checkpoint.load_part(run, "generator", G)
    assert not torch.equal(G.object_field.fc_in.weight, G_ema.object_field.fc_in.weight)
    tg.main(["--steps", "4", "--resume", *common])
    assert "resumed" in capsys.readouterr().out
    assert checkpoint.read_config(run)["step"] == 4 and len(pd.read_csv(run / "losses.csv")) == 4
    dest = tg.main(["--export", str(run), str(tmp_path / "asset")])
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        ["generator_ema.safetensors", "TRAINING.md", *tg.EXPORT_FILES])
    assert "steps: 4 (batch 4)" in (dest / "TRAINING.md").read_text()
    with torch.no_grad():
        lat = gi.latents_for_seed(tiny_cfg(), 1, 2)
        assert torch.equal(tg.load_generator(dest)(lat)["image"], tg.load_generator(run)(lat)["image"])
    with pytest.raises(SystemExit, match="python -m synth.scenes export"):
        tg.main(["--steps", "1", "--out", str(tmp_path / "r2"), "--data-root", str(tmp_path / "nothing")])
    with pytest.raises(FileNotFoundError, match="--resume: no"):
        tg.main(["--steps", "1", "--resume", "--out", str(tmp_path / "r3"), "--data-root", str(tmp_path / "data")])


def test_ema_and_r1_numbers():
    from synth.train_giraffe import r1_penalty, update_ema

    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    wa, wb = a.weight.detach().clone(), b.weight.detach().clone()
    update_ema(a, b, 0.9)
    assert torch.allclose(a.weight, 0.9 * wa + 0.1 * wb)
    w = torch.randn(1, 3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    d = (x * w).sum((1, 2, 3)) + (x ** 2).sum((1, 2, 3))          # grad = w + 2x per sample
    expect = (w + 2 * x).pow(2).flatten(1).sum(1).mean()
    assert r1_penalty(d, x).item() == pytest.approx(expect.item(), rel=1e-5)


# ------------------------------------------------------------------------------------------- controls in slider units

def visible_objects_generator(cfg):
    torch.manual_seed(0)
    G = gi.Generator(cfg).eval()
    with torch.no_grad():                                   # untrained, but dense inside the boxes
        G.object_field.sigma_out.bias.fill_(5.0)
    return G


def test_controlled_latents_defaults_and_ranges():
    cfg = gi.GiraffeConfig()
    base = gi.latents_for_seed(cfg, 12, 3)
    same = gi.controlled_latents(cfg, 12, 3)
    for f in ("z_shape", "z_app", "scale", "translation", "rotation", "exists", "elevation"):
        assert torch.allclose(getattr(same, f).float(), getattr(base, f).float(), atol=1e-6), f
    moved = gi.controlled_latents(cfg, 12, 3, rotation=90, depth=0.5, horizontal=-0.5, elevation=30, obj=1)
    assert moved.rotation[0, 1].item() == pytest.approx(base.rotation[0, 1].item() + math.pi / 2, abs=1e-5)
    assert torch.allclose(moved.translation[0, 1] - base.translation[0, 1], torch.tensor([0.5, -0.5, 0.0]), atol=1e-6)
    assert torch.rad2deg(moved.elevation[0]).item() == pytest.approx(30.0)
    assert torch.equal(moved.translation[0, [0, 2]], base.translation[0, [0, 2]])
    full = gi.controlled_latents(cfg, 12, 3, circle=1.0)
    assert torch.allclose(full.translation, base.translation, atol=1e-5)
    for name, (lo, hi, _) in gi.CONTROL_RANGES.items():
        with pytest.raises(ValueError, match=f"{name} must be a number in \\[{lo:g}, {hi:g}\\]"):
            gi.controlled_latents(cfg, 1, 2, **{name: hi + 1})
    with pytest.raises(ValueError, match="rotation must be a number"):
        gi.controlled_latents(cfg, 1, 2, rotation="ten")
    with pytest.raises(ValueError, match="seed must be an integer"):
        gi.controlled_latents(cfg, -1, 2)
    with pytest.raises(ValueError, match="n_objects must be an integer 1..4"):
        gi.controlled_latents(cfg, 1, 0)
    with pytest.raises(ValueError, match="obj must be 0..1"):
        gi.controlled_latents(cfg, 1, 2, obj=2)
    with pytest.raises(ValueError, match="circle needs at least 2 objects"):
        gi.controlled_latents(cfg, 1, 1, circle=0.5)


def test_every_control_changes_the_picture_and_appearance_keeps_the_masks():
    cfg = tiny_cfg(n_samples=16)
    G = visible_objects_generator(cfg)
    ref = gi.views(G, gi.controlled_latents(cfg, 4, 2))
    assert ref["image"].shape == (64, 64, 3) and ref["image"].dtype == np.uint8
    assert ref["alphas"].shape == (2, 64, 64) and ref["features"].shape == (64, 64, 3)
    assert ref["background"].shape == (64, 64, 3) and ref["alphas"].max() > 0
    edits = {"rotation": 45.0, "elevation": 50.0, "appearance": 1.0, "depth": 1.0, "horizontal": 1.0, "circle": 0.25}
    for name, value in edits.items():
        v = gi.views(G, gi.controlled_latents(cfg, 4, 2, **{name: value}))
        assert not np.array_equal(v["image"], ref["image"]), name
        if name == "appearance":            # z_a never reaches the density: masks identical
            assert np.array_equal(v["alphas"], ref["alphas"])
        else:
            assert not np.array_equal(v["alphas"], ref["alphas"]), name
    again = gi.views(G, gi.controlled_latents(cfg, 4, 2))
    assert all(np.array_equal(again[k], ref[k]) for k in ref)


def test_sweep_values_loop_through_the_range():
    rot = gi.sweep_values("rotation", 8)
    assert rot[0] == -180 and rot[-1] < 180 and len(rot) == 8 and np.all(np.diff(rot) > 0)
    el = gi.sweep_values("elevation", 8)
    lo, hi, _ = gi.CONTROL_RANGES["elevation"]
    assert el[0] == pytest.approx(lo) and el[4] == pytest.approx(hi) and el[1] == pytest.approx(el[7])
    with pytest.raises(KeyError, match="unknown control 'zoom'"):
        gi.sweep_values("zoom", 8)


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


def test_controlled_latents_rejects_booleans_and_accepts_whole_floats():
    cfg = gi.GiraffeConfig()
    with pytest.raises(ValueError, match="rotation must be a number"):
        gi.controlled_latents(cfg, 1, 2, rotation=True)
    with pytest.raises(ValueError, match="seed must be an integer"):
        gi.controlled_latents(cfg, True, 2)
    assert torch.equal(gi.controlled_latents(cfg, 3.0, 2).z_app, gi.controlled_latents(cfg, 3, 2).z_app)
