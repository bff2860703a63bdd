import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synth import checkpoint
from synth.gan import dcgan, generate

ROOT = Path(__file__).resolve().parents[3]
TINY = '{"ngf": 8, "ndf": 8}'


def run(*args, **kw):
    out = subprocess.run([*args], cwd=ROOT, capture_output=True, text=True, timeout=300, **kw)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out


def test_checkpoint_round_trip(tmp_path):
    cfg = dcgan.DCGANConfig(ngf=8, ndf=8)
    g = dcgan.Generator(cfg).eval()
    checkpoint.save_model(tmp_path, "dcgan", cfg, {"generator": g}, step=3)
    meta = checkpoint.read_config(tmp_path)
    assert meta["model"] == "dcgan" and meta["step"] == 3
    g2 = dcgan.Generator(checkpoint.config_from_dict(dcgan.DCGANConfig, meta["config"]))
    checkpoint.load_part(tmp_path, "generator", g2).eval()
    z = torch.randn(4, cfg.nz)
    assert torch.equal(g(z), g2(z))
    with pytest.raises(FileNotFoundError, match="'discriminator' missing"):
        checkpoint.load_part(tmp_path, "discriminator", dcgan.Discriminator(cfg))
    with pytest.raises(ValueError, match="unknown config keys"):
        checkpoint.config_from_dict(dcgan.DCGANConfig, {"ngf": 8, "depth": 3})


def test_train_resume_and_outputs(tmp_path):
    out = tmp_path / "run"
    common = ["--out", str(out), "--max-images", "128", "--config", TINY, "--sample-every", "2", "--threads", "1",
              "--log-every", "1"]
    run(sys.executable, "-m", "synth.train", "dcgan", "--steps", "3", *common)
    for f in ["args.json", "config.json", "generator.safetensors", "discriminator.safetensors", "state.pt",
              "samples.png", "losses.csv", "losses.png"]:
        assert (out / f).exists(), f
    assert checkpoint.read_config(out)["step"] == 3
    st = checkpoint.load_state(out / "state.pt")  # weights_only load works: nothing pickled
    assert st["step"] == 3
    with open(out / "losses.csv", "a") as f:     # a run stopped after logging step 4 but before its checkpoint
        f.write("4,9,9,0.5,0.5\n")
    assert st["opt_g"]["param_groups"][0]["lr"] == 2e-4
    r = run(sys.executable, "-m", "synth.train", "dcgan", "--steps", "5", "--resume", "--lr", "5e-5", *common)
    assert "resumed" in r.stderr
    assert checkpoint.read_config(out)["step"] == 5
    st = checkpoint.load_state(out / "state.pt")
    assert [st[k]["param_groups"][0]["lr"] for k in ("opt_g", "opt_d")] == [5e-5, 5e-5]   # the resumed run's rate
    import pandas as pd
    log = pd.read_csv(out / "losses.csv")
    assert log["step"].tolist() == [1, 2, 3, 4, 5] and log["loss_d"][3] != 9   # step 4 logged once, by the resume
    # export copies what the app needs and nothing of the optimiser state
    dest = tmp_path / "asset"
    run(sys.executable, "-m", "synth.train", "export", str(out), str(dest))
    assert (dest / "generator.safetensors").exists() and not (dest / "state.pt").exists()
    g = generate.load_generator("dcgan", dest)
    assert g(torch.randn(2, 100)).shape == (2, 1, 64, 64)


def test_train_is_deterministic(tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        run(sys.executable, "-m", "synth.train", "gan", "--steps", "4", "--out", str(out), "--max-images", "128",
            "--config", '{"g_hidden": [32, 64], "d_hidden": [32]}', "--threads", "1")
        outs.append((out / "generator.safetensors").read_bytes())
    assert outs[0] == outs[1]


def test_losses_fall_on_tiny_gan(tmp_path):
    out = tmp_path / "gan"
    run(sys.executable, "-m", "synth.train", "gan", "--steps", "60", "--out", str(out), "--max-images", "512",
        "--config", '{"g_hidden": [64, 128], "d_hidden": [64]}', "--threads", "1", "--log-every", "10")
    import pandas as pd
    df = pd.read_csv(out / "losses.csv")
    assert len(df) == 6
    assert df["loss_d"].iloc[-1] < df["loss_d"].iloc[0]  # D learns to tell real from fake
    assert df.notna().all().all()


def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp"
    run(sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "synth.train", "dcgan",
        "--steps", "3", "--out", str(out), "--max-images", "128", "--config", TINY, "--threads", "1",
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    meta = checkpoint.read_config(out)
    assert meta["world_size"] == 2 and meta["step"] == 3
    assert json.loads((out / "args.json").read_text())["world_size"] == 2


def test_unknown_model_message():
    r = subprocess.run([sys.executable, "-m", "synth.train", "vae"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and "unknown model 'vae'; available:" in r.stderr


def test_diff_translate_shifts_whole_images_and_keeps_gradients():
    from synth.training import diff_translate
    x = torch.full((32, 2, 16, 16), -1.0)
    x[:, :, 6:10, 6:10] = 1.0  # a 4x4 square in the middle of each image
    x.requires_grad_(True)
    y = diff_translate(x, 0.125, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    # every output is the square moved by at most 2 pixels, intact, on background -1
    for img in y.detach()[:, 0]:
        rows, cols = torch.nonzero(img > 0, as_tuple=True)
        assert len(rows) == 16 and rows.max() - rows.min() == 3 and cols.max() - cols.min() == 3
        assert 4 <= rows.min() <= 8 and 4 <= cols.min() <= 8
        assert set(img.unique().tolist()) == {-1.0, 1.0}
    shifts = {tuple(torch.nonzero(img > 0)[0].tolist()) for img in y.detach()[:, 0]}
    assert len(shifts) > 5  # shifts differ across the batch
    assert torch.equal(y[:, 0], y[:, 1])  # one shift per image, shared by its channels
    y.sum().backward()
    assert x.grad.abs().sum() > 0
    assert torch.equal(diff_translate(x, 0.0), x)


def test_ema_and_batchnorm_recalibration():
    from synth.training import recalibrate_batchnorm, update_ema
    cfg = dcgan.DCGANConfig(ngf=8, ndf=8)
    g, ema = dcgan.Generator(cfg), dcgan.Generator(cfg)
    with torch.no_grad():
        for p in ema.parameters():
            p.zero_()
    update_ema(ema, g, 0.75)
    for pe, pg in zip(ema.parameters(), g.parameters()):
        assert torch.allclose(pe, 0.25 * pg)
    # recalibrated running statistics equal the exact mean over the batches, and are deterministic
    recalibrate_batchnorm(ema, lambda gen: torch.randn(16, cfg.nz, generator=gen), batches=3)
    bn = next(m for m in ema.modules() if isinstance(m, torch.nn.BatchNorm2d))
    first = bn.running_mean.clone()
    assert bn.num_batches_tracked == 3 and bn.momentum == 0.1 and ema.training  # mode restored
    recalibrate_batchnorm(ema, lambda gen: torch.randn(16, cfg.nz, generator=gen), batches=3)
    assert torch.equal(first, bn.running_mean)


def test_train_with_ema_and_diffaug_saves_the_average(tmp_path):
    out = tmp_path / "run"
    run(sys.executable, "-m", "synth.train", "dcgan", "--steps", "4", "--out", str(out), "--max-images", "128",
        "--config", TINY, "--threads", "1", "--ema", "0.5", "--diffaug", "0.125")
    meta = checkpoint.read_config(out)
    assert meta["ema"] == 0.5 and meta["diffaug"] == 0.125
    st = checkpoint.load_state(out / "state.pt")
    shown = generate.load_generator.__wrapped__("dcgan", out).state_dict()
    raw, avg = st["generator"], st["generator_ema"]
    key = "main.0.weight" if "main.0.weight" in raw else next(k for k in raw if k.endswith("weight"))
    assert torch.equal(shown[key], avg[key]) and not torch.equal(raw[key], avg[key])


def test_minutes_stops_a_run_early_with_a_checkpoint(tmp_path):
    out = tmp_path / "run"
    run(sys.executable, "-m", "synth.train", "gan", "--steps", "100000", "--minutes", "0.001", "--out", str(out),
        "--max-images", "128", "--config", '{"g_hidden": [16], "d_hidden": [16]}', "--threads", "1")
    step = checkpoint.read_config(out)["step"]
    assert 1 <= step < 100000
    assert checkpoint.load_state(out / "state.pt")["step"] == step


def test_export_half_stores_float16_and_loads_into_float32(tmp_path):
    from safetensors.torch import load_file

    from synth.gan.train import export_main
    torch.manual_seed(0)
    cfg = dcgan.DCGANConfig(ngf=8, ndf=8)
    g = dcgan.Generator(cfg).eval()
    checkpoint.save_model(tmp_path / "run", "dcgan", cfg, {"generator": g}, step=1)
    export_main([str(tmp_path / "run"), str(tmp_path / "half"), "--half"])
    stored = load_file(str(tmp_path / "half" / "generator.safetensors"))
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    assert (tmp_path / "half" / "generator.safetensors").stat().st_size < \
        0.6 * (tmp_path / "run" / "generator.safetensors").stat().st_size
    g2 = generate.load_generator("dcgan", tmp_path / "half")
    assert next(g2.parameters()).dtype == torch.float32
    z = torch.randn(4, cfg.nz)
    with torch.no_grad():
        assert (g2(z) - g(z)).abs().max() < 0.01
