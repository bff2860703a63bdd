import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synth import checkpoint, generate
from synth.models import dcgan

ROOT = Path(__file__).resolve().parents[2]
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
    common = ["--out", str(out), "--max-images", "128", "--config", TINY, "--sample-every", "2", "--threads", "1"]
    run(sys.executable, "-m", "synth.train", "dcgan", "--steps", "3", *common)
    for f in ["args.json", "config.json", "generator.safetensors", "discriminator.safetensors", "state.pt",
              "samples.png", "losses.csv", "losses.png"]:
        assert (out / f).exists(), f
    assert checkpoint.read_config(out)["step"] == 3
    st = checkpoint.load_state(out / "state.pt")  # weights_only load works: nothing pickled
    assert st["step"] == 3
    r = run(sys.executable, "-m", "synth.train", "dcgan", "--steps", "5", "--resume", *common)
    assert "resumed" in r.stderr
    assert checkpoint.read_config(out)["step"] == 5
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
