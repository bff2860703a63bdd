"""The six controls as edits of the latents, and in the units a slider shows."""

import math

import numpy as np
import pytest
import torch

from synth.giraffe import controls as ctl
from synth.giraffe import model as gi
from synth.giraffe import render as rd
from tests.synth.giraffe.tiny import tiny_cfg


def test_controls_edit_only_their_target():
    cfg = gi.GiraffeConfig()
    lat = gi.latents_for_seed(cfg, 3, n_objects=3)
    before = lat.clone()

    def changed(new):
        return {f for f in ("z_shape", "z_app", "z_shape_bg", "z_app_bg", "scale", "translation", "rotation",
                            "exists", "elevation") if not torch.equal(getattr(new, f), getattr(lat, f))}

    r = ctl.rotate_object(lat, 1, 0.5)
    assert changed(r) == {"rotation"} and r.rotation[0, 1] == 0.5 and torch.equal(r.rotation[0, [0, 2]],
                                                                                  lat.rotation[0, [0, 2]])
    e = ctl.set_elevation(lat, 0.7)
    assert changed(e) == {"elevation"} and e.elevation[0].item() == pytest.approx(0.7)
    target = torch.randn(cfg.z_dim)
    assert changed(ctl.change_appearance(lat, 0, 0.0, target)) == set()
    app = ctl.change_appearance(lat, 0, 1.0, target)
    assert changed(app) == {"z_app"} and torch.allclose(app.z_app[0, 0], target)
    assert torch.equal(app.z_app[0, 1:], lat.z_app[0, 1:])
    dep = ctl.translate_depth(lat, 2, 0.4)
    assert changed(dep) == {"translation"}
    assert torch.allclose(dep.translation[0, 2] - lat.translation[0, 2], torch.tensor([0.4, 0, 0]))
    hor = ctl.translate_horizontal(lat, 2, -0.3)
    assert torch.allclose(hor.translation[0, 2] - lat.translation[0, 2], torch.tensor([0, -0.3, 0]))
    # (f) circle: distance to the centre object kept; a full turn closes the path; half a turn mirrors
    c = lat.translation[0, 1, :2]
    radius = (lat.translation[0, 0, :2] - c).norm()
    for ang in np.linspace(0, 2 * np.pi, 9):
        moved = ctl.circle_around(lat, 0, 1, float(ang))
        assert changed(moved) <= {"translation"}
        assert (moved.translation[0, 0, :2] - c).norm().item() == pytest.approx(radius.item(), rel=1e-5)
        assert torch.equal(moved.translation[0, 1:], lat.translation[0, 1:])
    assert torch.allclose(ctl.circle_around(lat, 0, 1, 2 * math.pi).translation, lat.translation, atol=1e-5)
    assert torch.allclose(ctl.circle_around(lat, 0, 1, math.pi).translation[0, 0, :2], 2 * c - lat.translation[0, 0, :2],
                          atol=1e-5)
    for name in ("z_shape", "z_app", "translation", "rotation", "elevation"):   # the input is never edited
        assert torch.equal(getattr(lat, name), getattr(before, name))
    with pytest.raises(ValueError, match="object slot must be 0..3, got 4"):
        ctl.rotate_object(lat, 4, 0.0)
    with pytest.raises(ValueError, match="cannot circle around itself"):
        ctl.circle_around(lat, 1, 1, 0.3)

def visible_objects_generator(cfg):
    torch.manual_seed(0)
    G = gi.Generator(cfg).eval()
    with torch.no_grad():                                   # untrained, but dense inside the boxes
        G.object_field.sigma_out.bias.fill_(5.0)
    return G


def test_controlled_latents_defaults_and_ranges():
    cfg = gi.GiraffeConfig()
    base = gi.latents_for_seed(cfg, 12, 3)
    same = ctl.controlled_latents(cfg, 12, 3)
    for f in ("z_shape", "z_app", "scale", "translation", "rotation", "exists", "elevation"):
        assert torch.allclose(getattr(same, f).float(), getattr(base, f).float(), atol=1e-6), f
    moved = ctl.controlled_latents(cfg, 12, 3, rotation=90, depth=0.5, horizontal=-0.5, elevation=30, obj=1)
    assert moved.rotation[0, 1].item() == pytest.approx(base.rotation[0, 1].item() + math.pi / 2, abs=1e-5)
    assert torch.allclose(moved.translation[0, 1] - base.translation[0, 1], torch.tensor([0.5, -0.5, 0.0]), atol=1e-6)
    assert torch.rad2deg(moved.elevation[0]).item() == pytest.approx(30.0)
    assert torch.equal(moved.translation[0, [0, 2]], base.translation[0, [0, 2]])
    full = ctl.controlled_latents(cfg, 12, 3, circle=1.0)
    assert torch.allclose(full.translation, base.translation, atol=1e-5)
    for name, (lo, hi, _) in ctl.CONTROL_RANGES.items():
        with pytest.raises(ValueError, match=f"{name} must be a number in \\[{lo:g}, {hi:g}\\]"):
            ctl.controlled_latents(cfg, 1, 2, **{name: hi + 1})
    with pytest.raises(ValueError, match="rotation must be a number"):
        ctl.controlled_latents(cfg, 1, 2, rotation="ten")
    with pytest.raises(ValueError, match="seed must be an integer"):
        ctl.controlled_latents(cfg, -1, 2)
    with pytest.raises(ValueError, match="n_objects must be an integer 1..4"):
        ctl.controlled_latents(cfg, 1, 0)
    with pytest.raises(ValueError, match="obj must be 0..1"):
        ctl.controlled_latents(cfg, 1, 2, obj=2)
    with pytest.raises(ValueError, match="circle needs at least 2 objects"):
        ctl.controlled_latents(cfg, 1, 1, circle=0.5)


def test_every_control_changes_the_picture_and_appearance_keeps_the_masks():
    cfg = tiny_cfg(n_samples=16)
    G = visible_objects_generator(cfg)
    ref = rd.views(G, ctl.controlled_latents(cfg, 4, 2))
    assert ref["image"].shape == (64, 64, 3) and ref["image"].dtype == np.uint8
    assert ref["alphas"].shape == (2, 64, 64) and ref["features"].shape == (64, 64, 3)
    assert ref["background"].shape == (64, 64, 3) and ref["alphas"].max() > 0
    edits = {"rotation": 45.0, "elevation": 50.0, "appearance": 1.0, "depth": 1.0, "horizontal": 1.0, "circle": 0.25}
    for name, value in edits.items():
        v = rd.views(G, ctl.controlled_latents(cfg, 4, 2, **{name: value}))
        assert not np.array_equal(v["image"], ref["image"]), name
        if name == "appearance":            # z_a never reaches the density: masks identical
            assert np.array_equal(v["alphas"], ref["alphas"])
        else:
            assert not np.array_equal(v["alphas"], ref["alphas"]), name
    again = rd.views(G, ctl.controlled_latents(cfg, 4, 2))
    assert all(np.array_equal(again[k], ref[k]) for k in ref)


def test_sweep_values_loop_through_the_range():
    rot = ctl.sweep_values("rotation", 8)
    assert rot[0] == -180 and rot[-1] < 180 and len(rot) == 8 and np.all(np.diff(rot) > 0)
    el = ctl.sweep_values("elevation", 8)
    lo, hi, _ = ctl.CONTROL_RANGES["elevation"]
    assert el[0] == pytest.approx(lo) and el[4] == pytest.approx(hi) and el[1] == pytest.approx(el[7])
    with pytest.raises(KeyError, match="unknown control 'zoom'"):
        ctl.sweep_values("zoom", 8)

def test_controlled_latents_rejects_booleans_and_accepts_whole_floats():
    cfg = gi.GiraffeConfig()
    with pytest.raises(ValueError, match="rotation must be a number"):
        ctl.controlled_latents(cfg, 1, 2, rotation=True)
    with pytest.raises(ValueError, match="seed must be an integer"):
        ctl.controlled_latents(cfg, True, 2)
    assert torch.equal(ctl.controlled_latents(cfg, 3.0, 2).z_app, ctl.controlled_latents(cfg, 3, 2).z_app)
