import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synth import checkpoint, data
from synth.guided import examples
from synth.guided.inpainter import GuidedInpainter, as_guidance
from synth.guided.triplets import (FRAME, GUIDE, HOLE, TripletConfig, TripletSource, box_corners, make_hole,
                                   map_points, quad_iou)
from synth.guided.model import (GuidedConfig, GuidedInpainting, PatchDiscriminator, base_theta,
                                localisation_loss, map_corners, masked_input, reconstruction_loss,
                                sample_guidance)
from synth.guided.model import box_corners as box_corners_t
from synth.metrics import hole_scores


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised tiny model saved like a trained one (the inpainter's plumbing, not its quality)."""
    folder = tmp_path_factory.mktemp("guided_ckpt")
    torch.manual_seed(0)
    cfg = GuidedConfig(nf=8, loc_hidden=16)
    model = GuidedInpainting(cfg).eval()
    checkpoint.save_model(folder, "guided", cfg, {"model": model}, variant="full", steps=0)
    return folder


def rand_batch(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 64, 64, generator=g) * 2 - 1
    m = torch.zeros(n, 1, 64, 64)
    m[:, :, 16:48, 16:48] = 1
    guide = torch.rand(n, 3, 96, 96, generator=g) * 2 - 1
    return x, m, guide


# ---------------------------------------------------------------------------------------------- model

@pytest.mark.parametrize("stn,attention", [(True, True), (True, False), (False, True)])
def test_shapes_ranges_and_ablations(stn, attention):
    torch.manual_seed(0)
    cfg = GuidedConfig(nf=8, loc_hidden=16, use_stn=stn, use_attention=attention)
    G = GuidedInpainting(cfg).train()
    x, m, g = rand_batch(3)
    out = G(masked_input(x, m), m, g)
    assert out["pred"].shape == (3, 3, 64, 64)
    assert out["aligned"].shape == (3, 3, 64, 64) and out["valid"].shape == (3, 1, 64, 64)
    assert out["theta"].shape == (3, 2, 3)
    assert out["attention"].shape == (3, 1, 64, 64)
    assert torch.isfinite(out["pred"]).all() and out["pred"].abs().max() <= 1
    a = out["attention"]
    assert (a >= 0).all() and (a <= 1).all()
    if not attention:
        assert G.attention is None and torch.count_nonzero(a) == 0
    if not stn:
        assert G.loc is None and torch.equal(out["theta"], base_theta(cfg, 3))
    D = PatchDiscriminator(cfg)
    assert D(out["pred"]).shape == (3, 1, 8, 8)


def test_stn_identity_init_samples_the_centre_crop():
    torch.manual_seed(0)
    cfg = GuidedConfig(nf=8, loc_hidden=16)
    G = GuidedInpainting(cfg).eval()
    x, m, g = rand_batch(2, seed=3)
    out = G(masked_input(x, m), m, g)
    # the fresh transformer predicts the centre crop for any input ...
    assert torch.allclose(out["theta"], base_theta(cfg, 2), atol=1e-6)
    # ... and samples exactly the guidance's central 64x64 pixels (64/96 scale, pixel centres on pixel centres)
    lo = (96 - 64) // 2
    assert torch.allclose(out["aligned"], g[:, :, lo:lo + 64, lo:lo + 64], atol=1e-5)
    assert torch.all(out["valid"] > 0.999)


def test_sampling_round_trip_identity_and_a_crop():
    g = torch.rand(2, 3, 96, 96)
    ident = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    same, valid = sample_guidance(g, ident, 96)
    assert torch.allclose(same, g, atol=1e-5) and torch.all(valid > 0.999)
    # the transform of a box -> exactly that box's pixels (a 32x32 crop at (x, y) = (40, 8))
    x0, y0, s = 40, 8, 32
    theta = torch.tensor([[s / 96, 0, (2 * x0 + s) / 96 - 1], [0, s / 96, (2 * y0 + s) / 96 - 1]]).expand(2, 2, 3)
    crop, _ = sample_guidance(g, theta, s)
    assert torch.allclose(crop, g[:, :, y0:y0 + s, x0:x0 + s], atol=1e-5)
    # and gradients reach the transform (differentiable sampling)
    th = theta.clone().requires_grad_(True)
    sample_guidance(g, th, s)[0].sum().backward()
    assert th.grad is not None and th.grad.abs().sum() > 0


def test_losses_against_hand_computation():
    cfg = GuidedConfig()
    theta = torch.tensor([[[0.5, 0.1, 0.2], [-0.1, 0.5, -0.3]]])
    boxes = torch.tensor([[10.0, 12.0, 50.0, 52.0]])
    assert localisation_loss(theta, theta, boxes, cfg).item() == 0
    shifted = theta.clone()
    shifted[0, 0, 2] += 2 * 3 / 96                       # 3 guidance px to the right
    # every corner moves 3 px in x, 0 in y: mean |d| over (x, y) = 1.5 px, divided by the guidance side
    assert localisation_loss(shifted, theta, boxes, cfg).item() == pytest.approx(1.5 / 96, rel=1e-5)
    # corners through theta match the numpy geometry of the triplet generator
    pts = map_corners(theta.double(), box_corners_t(boxes.double()), 64, 96)[0].numpy()
    assert np.allclose(pts, map_points(theta[0].numpy(), box_corners((10, 12, 50, 52))), atol=1e-4)
    # reconstruction: L1 weighted 1 in the hole, overlap_weight in the band, normalised by the region
    pred, target = torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    m = torch.zeros(1, 1, 8, 8)
    m[:, :, 3:5, 3:5] = 1
    band = 4 * 4 - 4                                      # overlap 1: a 4x4 square minus the 2x2 hole
    want = (4 * 1.0 + band * 2.0) / (4 + band)
    assert reconstruction_loss(pred, target, m, 1, 2.0).item() == pytest.approx(want)


def test_quad_iou():
    a = box_corners((0, 0, 10, 10))
    assert quad_iou(a, a) == pytest.approx(1.0)
    assert quad_iou(a, box_corners((20, 20, 30, 30))) == 0
    assert quad_iou(a, box_corners((5, 0, 15, 10))) == pytest.approx(1 / 3, rel=1e-4)


# ---------------------------------------------------------------------------------------------- triplets

@pytest.fixture(scope="module")
def train_source():
    return TripletSource("train", seed=0)


def test_triplet_shapes_and_known_boxes(train_source):
    for i in range(40):
        t = train_source.triplet(i)
        assert t.original.shape == (FRAME, FRAME, 3) and t.guidance.shape == (GUIDE, GUIDE, 3)
        assert t.original.dtype == np.uint8 and t.guidance.dtype == np.uint8 and t.mask.dtype == bool
        # the hole: centred, its bounding box's longer side is HOLE
        ys, xs = np.nonzero(t.mask)
        assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 == HOLE
        # the patch is larger than the hole and lies in the frame
        x0, y0, x1, y1 = t.patch_box
        assert x1 - x0 == y1 - y0 > HOLE and 0 <= x0 and x1 <= FRAME and 0 <= y0 and y1 <= FRAME
        # the pasted patch lies wholly inside the guidance image
        assert (t.patch_quad >= 0).all() and (t.patch_quad <= GUIDE).all()
        # the transform label maps the patch box onto the quad where it was pasted
        assert np.allclose(map_points(t.theta, box_corners(t.patch_box)), t.patch_quad, atol=1e-3)
        # the gap is the part of the hole outside the patch box
        covered = np.zeros_like(t.mask)
        covered[y0:y1, x0:x1] = True
        assert np.array_equal(t.gap, t.mask & ~covered)
        assert t.background_index != t.original_index
        assert train_source.labels[t.background_index] != train_source.labels[t.original_index]


def test_hole_region_is_what_the_patch_came_from():
    """Without corruption, sampling the guidance with the true transform gives back the original where the
    patch covers the hole (up to two bilinear resamplings); a wrong transform does not."""
    src = TripletSource("train", seed=5, cfg=TripletConfig(corrupt=False))
    errs, wrong = [], []
    for i in range(12):
        t = src.triplet(i)
        g = torch.from_numpy(t.guidance).permute(2, 0, 1)[None].float()
        aligned = sample_guidance(g, torch.from_numpy(t.theta)[None], FRAME)[0][0].permute(1, 2, 0).numpy()
        off = t.theta.copy()
        off[:, 2] += 16 / GUIDE                                          # 8 px off in x and y
        shifted = sample_guidance(g, torch.from_numpy(off)[None], FRAME)[0][0].permute(1, 2, 0).numpy()
        keep = t.mask & ~t.gap
        errs.append(np.abs(aligned[keep] - t.original[keep].astype(np.float32)).mean())
        wrong.append(np.abs(shifted[keep] - t.original[keep].astype(np.float32)).mean())
    assert np.median(errs) < 8, errs
    assert np.median(wrong) > 2 * np.median(errs)


def test_corruption_changes_the_patch_but_keeps_its_content():
    t0 = TripletSource("train", seed=5, cfg=TripletConfig(corrupt=False)).triplet(3)
    t1 = TripletSource("train", seed=5).triplet(3)
    assert t0.patch_box == t1.patch_box and np.allclose(t0.theta, t1.theta)
    inside = np.zeros((GUIDE, GUIDE), np.uint8)
    import cv2

    cv2.fillConvexPoly(inside, np.round(t0.patch_quad).astype(np.int32), 1)
    inside = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
    a, b = t0.guidance[inside].astype(float), t1.guidance[inside].astype(float)
    assert np.abs(a - b).mean() > 2                        # corrupted ...
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.8   # ... but the same content
    assert np.array_equal(t0.guidance[~inside & (cv2.dilate(inside.astype(np.uint8), np.ones((9, 9))) == 0)],
                          t1.guidance[~inside & (cv2.dilate(inside.astype(np.uint8), np.ones((9, 9))) == 0)])


def test_heldout_triplets_use_only_heldout_photos():
    held = data.load("photos", "heldout")
    train_fp = data.fingerprints(data.load("photos", "train").images)
    src = TripletSource("heldout", seed=1000)
    for i in range(len(src)):
        t = src.triplet(i)
        for idx in (t.original_index, t.background_index):
            assert data.PHOTO_SOURCES[int(held.labels[idx])][2] == "heldout"
        assert held.labels[t.background_index] != held.labels[t.original_index]
    assert not data.fingerprints(np.stack([src.triplet(i).original for i in range(len(src))])) & train_fp


def test_triplets_are_deterministic_per_seed():
    a, b, c = TripletSource("train", seed=7), TripletSource("train", seed=7), TripletSource("train", seed=8)
    for i in (0, 5, 999):
        ta, tb, tc = a.triplet(i), b.triplet(i), c.triplet(i)
        assert np.array_equal(ta.guidance, tb.guidance) and np.array_equal(ta.mask, tb.mask)
        assert np.array_equal(ta.theta, tb.theta) and ta.patch_box == tb.patch_box
        assert not np.array_equal(ta.guidance, tc.guidance)


def test_hole_kinds():
    rng = np.random.default_rng(0)
    assert make_hole("square", rng).sum() == HOLE * HOLE
    for kind in ("rectangle", "blob"):
        m = make_hole(kind, rng)
        assert 0 < m.sum() <= HOLE * HOLE and not m[:16].any() and not m[48:].any()
        ys, xs = np.nonzero(m)
        assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 == HOLE
    with pytest.raises(KeyError, match="unknown hole kind"):
        make_hole("star", rng)


# ---------------------------------------------------------------------------------------------- inpainter

def test_outside_hole_pixels_unchanged_any_size(tiny_checkpoint):
    ip = GuidedInpainter(tiny_checkpoint)
    photos = data.load("photos256", "heldout").images
    for shape in ((256, 256), (97, 150), (40, 33)):
        img = photos[0][:shape[0], :shape[1]].copy()
        mask = np.zeros(shape, bool)
        mask[shape[0] // 3:shape[0] // 2, shape[1] // 4:shape[1] // 2] = True
        r = ip.run(img, mask, photos[1][:120, :200])
        assert r.result.shape == img.shape and r.result.dtype == np.uint8
        assert np.array_equal(r.result[~mask], img[~mask])
        side = r.window[2]
        assert r.aligned.shape == (side, side, 3) and r.attention.shape == (side, side)
        assert r.guidance_box.shape == (4, 2)


def test_bad_input_is_named(tiny_checkpoint):
    ip = GuidedInpainter(tiny_checkpoint)
    img = data.load("photos256", "heldout").images[0]
    guide = data.load("photos256", "heldout").images[1]
    mask = np.zeros((256, 256), bool)
    mask[100:140, 100:140] = True
    with pytest.raises(ValueError, match="mask is 100x100 but the image is 256x256"):
        ip.run(img, mask[:100, :100], guide)
    with pytest.raises(ValueError, match="mask is empty"):
        ip.run(img, np.zeros_like(mask), guide)
    with pytest.raises(ValueError, match="greyscale"):
        ip.run(img, mask, guide[..., 0])
    with pytest.raises(ValueError, match="greyscale"):
        ip.run(img, mask, np.repeat(guide[..., :1], 3, 2))
    with pytest.raises(ValueError, match="too small"):
        ip.run(img, mask, guide[:20, :200])
    assert as_guidance(np.dstack([guide, np.full((256, 256), 9, np.uint8)])).shape == (256, 256, 3)


def test_examples_are_deterministic_and_lighting_differs():
    name = next(iter(examples.EXAMPLES))
    a, b = examples.example(name), examples.example(name)
    assert np.array_equal(a.guidance, b.guidance) and np.array_equal(a.mask, b.mask)
    assert a.mask.sum() == examples.HOLE ** 2
    ex, lights = examples.lighting_demo()
    assert [n for n, _ in lights] == [n for n, _, _ in examples.LIGHTING]
    base = lights[0][1].astype(float)
    assert np.array_equal(lights[0][1], ex.guidance)
    for _, g in lights[1:]:
        assert np.abs(g.astype(float) - base).mean() > 10
    dim = lights[1][1].astype(float)
    assert dim.mean() < 0.7 * base.mean()


# ---------------------------------------------------------------------------------------------- trainer

def test_trainer_smoke_resume_and_export(tmp_path):
    from safetensors.torch import load_file

    from synth.guided import train as train_guided

    out = tmp_path / "run"
    common = ["--batch", "4", "--nf", "8", "--limit-data", "120", "--threads", "1", "--out", str(out)]
    train_guided.main(["--steps", "4", "--loc-warmup", "2", "--snapshot-steps", "3", *common])
    assert GuidedInpainter(out / "step_3").meta["steps"] == 3
    for name in ("model.safetensors", "discriminator.safetensors", "config.json", "state.pt", "losses.csv",
                 "samples.png", "args.json"):
        assert (out / name).exists(), name
    st = checkpoint.load_state(out / "state.pt")         # weights_only=True
    assert st["step"] == 4
    train_guided.main(["--steps", "6", "--resume", *common])
    assert checkpoint.load_state(out / "state.pt")["step"] == 6
    meta = json.loads((out / "config.json").read_text())
    assert meta["model"] == "guided" and meta["steps"] == 6 and meta["variant"] == "full"
    dest = tmp_path / "asset"
    train_guided.main(["--export", str(out), str(dest)])
    w = load_file(str(dest / "model.safetensors"))
    assert all(v.dtype == torch.float16 for v in w.values() if v.is_floating_point())
    assert "command" in (dest / "TRAINING.md").read_text()
    ip = GuidedInpainter(dest)                              # the fp16 export loads and runs
    img = data.load("photos", "heldout").images[0]
    mask = np.zeros((64, 64), bool)
    mask[20:40, 20:40] = True
    assert np.array_equal(ip.fill(img, mask, data.load("photos256", "heldout").images[2])[~mask], img[~mask])


def test_transformer_starts_from_another_runs_snapshot(tmp_path):
    from safetensors.torch import load_file

    from synth.guided import train as train_guided

    common = ["--batch", "2", "--nf", "8", "--limit-data", "120", "--threads", "1"]
    train_guided.main(["--steps", "3", "--loc-warmup", "3", "--snapshot-steps", "3", *common,
                       "--out", str(tmp_path / "a")])
    train_guided.main(["--steps", "0", "--no-attention", "--init-loc-from", str(tmp_path / "a" / "step_3"), *common,
                       "--out", str(tmp_path / "b")])
    a = load_file(str(tmp_path / "a" / "step_3" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    loc = [k for k in a if k.startswith("loc.")]
    assert loc and all(torch.equal(a[k], b[k]) for k in loc)
    assert not any(k.startswith("attention.") for k in b)
    with pytest.raises(ValueError, match="no transformer"):
        train_guided.main(["--steps", "0", "--no-stn", "--init-loc-from", str(tmp_path / "a" / "step_3"), *common,
                           "--out", str(tmp_path / "c")])


def test_correlation_volume_ignores_the_hole():
    torch.manual_seed(0)
    cfg = GuidedConfig(nf=8, loc_hidden=16)
    loc = GuidedInpainting(cfg).loc.eval()
    x, m, g = rand_batch(1)
    corr = loc.correlate(masked_input(x, m), m, g)
    assert corr.shape == (1, 64, 12, 12) and (corr >= 0).all() and (corr <= 1 + 1e-5).all()
    inside = torch.zeros(8, 8, dtype=torch.bool)
    inside[2:6, 2:6] = True                                # the 32x32 hole's cells at stride 8
    assert torch.count_nonzero(corr[0, inside.flatten()]) == 0


def test_ablation_flags_reach_the_config(tmp_path):
    from synth.guided import train as train_guided

    out = tmp_path / "abl"
    train_guided.main(["--steps", "1", "--batch", "2", "--nf", "8", "--limit-data", "120", "--threads", "1",
                       "--no-stn", "--no-attention", "--out", str(out)])
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg["use_stn"] is False and cfg["use_attention"] is False and cfg["lambda_loc"] == 0


def test_evaluation_on_training_photo_validation_triplets(tiny_checkpoint):
    from synth.guided import evaluate as evaluate_guided

    b = evaluate_guided.heldout_triplets(5, seed=2000, split="train")
    train = data.load("photos", "train")
    assert all(any(np.array_equal(o, t) for t in train.images) for o in b["original"])
    res = evaluate_guided.evaluate({"guided": tiny_checkpoint}, [], n=5, seed=2000, split="train")
    assert evaluate_guided.table(res).startswith("VALIDATION triplets from the TRAINING photos: 5")


def test_evaluation_table(tiny_checkpoint):
    from synth.guided import evaluate as evaluate_guided

    res = evaluate_guided.evaluate({"guided": tiny_checkpoint}, ["telea"], n=6)
    assert set(res["rows"]) == {"guided", "telea", "true patch, copied (reference)",
                                "true patch, colour-corrected (reference)"}
    iou = res["rows"]["guided"]["iou"]
    assert iou.shape == (6,) and ((iou >= 0) & (iou <= 1)).all()
    table = evaluate_guided.table(res)
    assert "| guided |" in table and "median localisation IoU" in table
    # explicit paired comparisons: the mean of the per-triplet differences
    rows = res["rows"]
    want = (rows["guided"]["psnr_each"] - rows["telea"]["psnr_each"]).mean()
    assert f"- guided - telea = {want:+.2f} dB PSNR" in evaluate_guided.table(res, [("guided", "telea")])
    with pytest.raises(KeyError, match="no row 'nope'"):
        evaluate_guided.table(res, [("guided", "nope")])
    # PSNR and L1 in the hole by hand
    gt = np.zeros((4, 4, 3), np.uint8)
    pred = gt.copy()
    pred[0, 0] = 51                                         # 0.2 off on one pixel of a 2-pixel hole
    m = np.zeros((4, 4), bool)
    m[0, :2] = True
    psnr, l1 = hole_scores(pred, gt, m)
    assert l1 == pytest.approx(10.0) and psnr == pytest.approx(10 * np.log10(1 / 0.02))


def test_colour_corrected_true_patch_undoes_a_colour_change_and_touches_only_the_hole():
    from synth.guided import evaluate as evaluate_guided
    from synth.guided.triplets import stack

    clean = stack([TripletSource("heldout", seed=3, cfg=TripletConfig(corrupt=False), hole_kind="square").triplet(i)
                   for i in range(8)])
    keep = ~clean["gap"].any((1, 2))                         # triplets whose patch covers the whole hole
    shifted = dict(clean)
    shifted["guidance"] = np.clip(clean["guidance"].astype(np.float32) * 0.7 + 40, 0, 255).astype(np.uint8)

    def hole_psnr(pred):
        return np.array([hole_scores(p, o, m)[0]
                         for p, o, m in zip(pred, clean["original"], clean["mask"])])[keep].mean()

    corrected = evaluate_guided.colour_correct_true_patch(shifted)
    assert hole_psnr(corrected) > hole_psnr(evaluate_guided.copy_true_patch(shifted)) + 5
    assert hole_psnr(corrected) > hole_psnr(evaluate_guided.copy_true_patch(clean)) - 1.5
    outside = ~clean["mask"]
    assert np.array_equal(corrected[outside], clean["original"][outside])


def test_trainer_makes_triplets_from_a_crop_pool(tmp_path, monkeypatch):
    from synth.guided import train as train_guided

    made = []
    real_pool = data.training_crop_pool
    monkeypatch.setattr(data, "training_crop_pool", lambda *a, **k: made.append((a, k)) or real_pool(*a, **k))
    out = tmp_path / "run"
    train_guided.main(["--steps", "1", "--batch", "2", "--nf", "8", "--threads", "1", "--crop-pool", "40",
                       "--out", str(out)])
    assert made and made[0][0][0] == 40 and made[0][1]["with_labels"]
    assert json.loads((out / "args.json").read_text())["crop_pool"] == 40
    assert checkpoint.load_state(out / "state.pt")["step"] == 1


# ---------------------------------------------------------------------------------------------- refinement, copy

def test_refinement_starts_at_the_identity_and_composes_in_frame_coordinates():
    torch.manual_seed(0)
    cfg = GuidedConfig(nf=8, loc_hidden=16, refine=2)
    G = GuidedInpainting(cfg).eval()
    x, m, g = rand_batch(2, seed=5)
    with torch.no_grad():
        thetas = G.localise(masked_input(x, m), m, g)
        assert len(thetas) == 3                                   # the network's estimate, then two passes
        assert all(torch.allclose(t, base_theta(cfg, 2), atol=1e-6) for t in thetas)
        # a correction delta (frame coords) is applied before theta: theta' maps u to theta(delta(u))
        d = torch.tensor([0.05, -0.02, 0.1, 0.03, 0.04, -0.2])    # I + d[:, :2] | d[:, 2]
        G.refiner.read[-1].bias.copy_(d)
        theta = torch.tensor([[[0.6, 0.1, 0.2], [-0.1, 0.7, -0.1]]]).expand(2, 2, 3)
        aligned, valid = sample_guidance(g, theta, 64)
        new = G.refiner(masked_input(x, m), m, aligned, valid, theta)
    u = torch.tensor([[0.3, -0.5], [-0.8, 0.2], [0.0, 0.0]])
    delta = torch.eye(2) + d.view(2, 3)[:, :2]
    inner = u @ delta.T + d.view(2, 3)[:, 2]
    want = inner @ theta[0, :, :2].T + theta[0, :, 2]
    assert torch.allclose(u @ new[0, :, :2].T + new[0, :, 2], want, atol=1e-6)


def test_cost_volume_peaks_at_the_true_shift():
    cfg = GuidedConfig(nf=8, loc_hidden=16, refine=1, refine_radius=2)
    ref = GuidedInpainting(cfg).refiner
    fi = F.normalize(torch.randn(1, 16, 12, 12), dim=1)
    dy, dx = 1, -2
    fa = torch.roll(fi, shifts=(dy, dx), dims=(2, 3))           # fa(x + d) = fi(x)
    cost = ref.cost_volume(fi, fa)
    assert cost.shape == (1, 25, 12, 12)
    best = cost[0, :, 3:9, 3:9].argmax(0)                        # away from the zero padding
    want = (dy + 2) * 5 + (dx + 2)
    assert (best == want).all() and torch.allclose(cost[0, want, 3:9, 3:9], torch.ones(6, 6), atol=1e-5)


def test_copy_residual_output_mixes_the_aligned_patch_and_new_content_by_the_attention():
    torch.manual_seed(0)
    for attention in (False, True):
        cfg = GuidedConfig(nf=8, loc_hidden=16, copy_residual=True, use_attention=attention)
        G = GuidedInpainting(cfg).eval()
        last = G.up0[-1]
        assert last.out_channels == 6
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.5, 0.5, 0.5]))   # no correction; new content tanh(0.5)
            x, m, g = rand_batch(2, seed=7)
            out = G(masked_input(x, m), m, g)
        a = out["attention"]
        want = ((1 - a) * out["aligned"] + a * np.tanh(0.5)).clamp(-1, 1)
        assert torch.allclose(out["pred"], want, atol=1e-6)
        if not attention:                                        # no attention: the aligned patch itself
            assert torch.allclose(out["pred"], out["aligned"].clamp(-1, 1), atol=1e-6)


def test_gradients_reach_every_refinement_pass():
    from synth.guided.train import stages_loss, to_tensors

    torch.manual_seed(0)
    cfg = GuidedConfig(nf=8, loc_hidden=16, refine=2)
    G = GuidedInpainting(cfg).train()
    b = to_tensors(TripletSource("train", seed=0).batch(range(4)))
    thetas = G.localise(masked_input(b["image"], b["mask"]), b["mask"], b["guidance"])
    stages_loss(thetas, b, cfg).backward()
    # the refinement head starts at zero, so its last layer is what gets gradient first
    assert G.refiner.read[-1].weight.grad.abs().sum() > 0
    assert G.loc.head[-1].weight.grad.abs().sum() > 0


def test_trainer_refine_copy_init_and_snapshot_every(tmp_path):
    from safetensors.torch import load_file

    from synth.guided import train as train_guided

    common = ["--batch", "2", "--nf", "8", "--limit-data", "120", "--threads", "1", "--refine", "1",
              "--copy-residual"]
    train_guided.main(["--steps", "4", "--loc-warmup", "1", "--snapshot-every", "2", *common,
                       "--out", str(tmp_path / "a")])
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())["config"]
    assert cfg["refine"] == 1 and cfg["copy_residual"] is True
    assert (tmp_path / "a" / "step_2" / "config.json").exists() and (tmp_path / "a" / "step_4" / "config.json").exists()
    # --init: the whole generator starts from another run (0 steps: saved as loaded)
    train_guided.main(["--steps", "0", "--init", str(tmp_path / "a"), *common, "--out", str(tmp_path / "b")])
    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(k.startswith("refiner.") for k in a)
    # --init-loc-from carries the refinement weights with the transformer
    train_guided.main(["--steps", "0", "--no-attention", "--init-loc-from", str(tmp_path / "a"), *common,
                       "--out", str(tmp_path / "c")])
    c = load_file(str(tmp_path / "c" / "model.safetensors"))
    assert all(torch.equal(a[k], c[k]) for k in a if k.startswith(("loc.", "refiner.")))
    # exported to run more refinement passes than it trained with (the same weights each pass)
    train_guided.main(["--export", str(tmp_path / "a"), str(tmp_path / "e"), "--passes", "3"])
    meta = json.loads((tmp_path / "e" / "config.json").read_text())
    assert meta["config"]["refine"] == 3 and meta["trained_refine"] == 1
    assert "--passes 3" in (tmp_path / "e" / "TRAINING.md").read_text()
    ip = GuidedInpainter(tmp_path / "e")
    frames = data.load("photos", "heldout").images[:2]
    masks = np.zeros((2, 64, 64), bool)
    masks[:, 16:48, 16:48] = True
    guides = np.stack([data.load("photos256", "heldout").images[1][:96, :96]] * 2)
    assert ip.forward(frames, masks, guides)["thetas"].shape == (2, 4, 2, 3)
    train_guided.main(["--steps", "0", "--batch", "2", "--nf", "8", "--limit-data", "120", "--threads", "1",
                       "--out", str(tmp_path / "z")])                  # trained without refinement
    with pytest.raises(ValueError, match="no refinement passes"):
        train_guided.main(["--export", str(tmp_path / "z"), str(tmp_path / "f"), "--passes", "3"])
    # a config that differs from the checkpoint's is refused by name
    with pytest.raises(RuntimeError, match="refiner"):
        train_guided.main(["--steps", "0", "--init", str(tmp_path / "a"), "--batch", "2", "--nf", "8",
                           "--limit-data", "120", "--threads", "1", "--out", str(tmp_path / "d")])


def test_run_reports_each_transformer_stage(tmp_path):
    from synth.guided.display import guidance_picture

    torch.manual_seed(0)
    cfg = GuidedConfig(nf=8, loc_hidden=16, refine=2)
    model = GuidedInpainting(cfg).eval()
    with torch.no_grad():                                       # a refinement that moves the box: +0.1 in x
        model.refiner.read[-1].bias.copy_(torch.tensor([0.0, 0.0, 0.1, 0.0, 0.0, 0.0]))
    checkpoint.save_model(tmp_path, "guided", cfg, {"model": model}, variant="full", steps=0)
    ip = GuidedInpainter(tmp_path)
    photos = data.load("photos256", "heldout").images
    mask = np.zeros((256, 256), bool)
    mask[96:160, 80:144] = True
    guide = photos[1][:, :192]                                  # 192 x 256: resized by 96/256 after padding
    r = ip.run(photos[0], mask, guide)
    assert r.stage_boxes.shape == (3, 4, 2) and np.array_equal(r.stage_boxes[-1], r.guidance_box)
    # each pass shifts the sampled region by 0.1 of the frame's half-width, in frame coords, scaled by theta
    # (64/96 of the guidance's normalised width) -> in guidance px: 0.1 * (64 / 96) * 256 / 2 per pass
    step = r.stage_boxes[1:, :, 0] - r.stage_boxes[:-1, :, 0]
    assert np.allclose(step, 0.1 * (64 / 96) * 256 / 2, atol=1e-3)
    assert np.allclose(r.stage_boxes[1:, :, 1], r.stage_boxes[:-1, :, 1], atol=1e-4)
    pic = guidance_picture(guide, r)
    yellow = (pic[..., 0] == 255) & (pic[..., 1] == 220) & (pic[..., 2] == 0)
    green = (pic[..., 0] == 0) & (pic[..., 1] == 255) & (pic[..., 2] == 0)
    assert yellow.any() and green.any()


def test_display_compares_with_the_context_encoder_and_decodes_the_transform(tiny_checkpoint):
    from synth.guided import display

    ip = GuidedInpainter(tiny_checkpoint)
    ex = examples.example(next(iter(examples.EXAMPLES)))
    c = display.compare_with_context_encoder(ex.image, ex.mask, ex.guidance, model=ip)
    for out in (c.result, c.context_encoder):
        assert out.shape == ex.image.shape and np.array_equal(out[~ex.mask], ex.image[~ex.mask])
    assert c.attention.shape == c.aligned.shape == (128, 128, 3) and c.where.shape == ex.guidance.shape
    r = ip.run(ex.image, ex.mask, ex.guidance)
    scale = np.sqrt(abs(np.linalg.det(r.theta[:, :2]))) / ip.cfg.base_scale
    assert r.scale == pytest.approx(scale) and r.rotation == pytest.approx(np.degrees(np.arctan2(*r.theta[::-1, 0])))
    assert f"scale {scale:.2f} of the centre crop's" in c.note and "Context Encoder **" in c.note
    result, aligned, attention = display.guided_fill(ex.image, ex.mask, ex.guidance, model=ip)
    assert np.array_equal(result, c.result) and np.array_equal(attention, c.attention)
