"""The GIRAFFE trainer: a few steps, resume, export; the R1 penalty and the EMA."""

import json

import numpy as np
import pytest
import torch

from synth import checkpoint
from synth.giraffe import model as gi
from synth.giraffe import scenes
from synth.giraffe import train as tg
from synth.giraffe.train import r1_penalty
from synth.training import update_ema
from tests.synth.giraffe.tiny import TINY, tiny_cfg


def test_trainer_smoke_resume_and_outputs(tmp_path, capsys):
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
    assert (log["obj_area"] >= 0).all() and log["bg_alpha"].between(0, 1).all()
    # the EMA moved towards the trained weights, by (1 - beta) per step
    G, G_ema = gi.Generator(tiny_cfg()), gi.load_giraffe(run)
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
        assert torch.equal(gi.load_giraffe(dest)(lat)["image"], gi.load_giraffe(run)(lat)["image"])
    with pytest.raises(SystemExit, match="python -m synth.giraffe.scenes export"):
        tg.main(["--steps", "1", "--out", str(tmp_path / "r2"), "--data-root", str(tmp_path / "nothing")])
    with pytest.raises(FileNotFoundError, match="--resume: no"):
        tg.main(["--steps", "1", "--resume", "--out", str(tmp_path / "r3"), "--data-root", str(tmp_path / "data")])


def test_field_shares_measure_what_each_field_covers():
    alpha = torch.zeros(2, 3, 4, 4)                  # two scenes, two object slots, then the background
    alpha[0, 0, :2] = 1.0                            # scene 0: object 0 covers 8 pixels, object 1 none
    alpha[:, 2] = 0.5
    exists = torch.tensor([[True, True], [False, False]])
    shares = tg.field_shares(alpha, exists)
    assert shares == {"obj_area": 4.0, "bg_alpha": 0.5}            # (8 + 0) / 2 existing objects
    assert tg.field_shares(alpha, torch.zeros(2, 2, dtype=torch.bool))["obj_area"] == 0.0


def test_loss_log_resumes_a_log_written_with_other_columns(tmp_path):
    import pandas as pd

    from synth.training import LossLog

    path = tmp_path / "losses.csv"
    old = LossLog(path, ["loss_d", "gone"], resume=False)
    old.write(1, {"loss_d": 1.5, "gone": 9.0})
    new = LossLog(path, ["loss_d", "obj_area"], resume=True)     # a newer trainer resumes the run
    new.write(2, {"loss_d": 1.25, "obj_area": 3.0})
    log = pd.read_csv(path)
    assert list(log.columns) == ["step", "loss_d", "obj_area"]
    assert log["step"].tolist() == [1, 2] and log["loss_d"].tolist() == [1.5, 1.25]
    assert np.isnan(log["obj_area"][0]) and log["obj_area"][1] == 3.0
    LossLog(path, ["loss_d", "obj_area"], resume=True).write(3, {"loss_d": 1.0, "obj_area": 2.0})
    assert pd.read_csv(path)["step"].tolist() == [1, 2, 3]        # same columns: appended, nothing rewritten


def test_loss_log_drops_rows_logged_after_the_resumed_checkpoint(tmp_path):
    import pandas as pd

    from synth.training import LossLog

    path = tmp_path / "losses.csv"
    log = LossLog(path, ["loss_d"], resume=False)
    for step in (10, 20, 30):
        log.write(step, {"loss_d": step / 10})
    LossLog(path, ["loss_d"], resume=True, resume_step=20).write(30, {"loss_d": 0.5})   # checkpoint at 20
    df = pd.read_csv(path)
    assert df["step"].tolist() == [10, 20, 30] and df["loss_d"].tolist() == [1.0, 2.0, 0.5]
    LossLog(path, ["loss_d"], resume=True, resume_step=30)                              # nothing after 30
    assert pd.read_csv(path)["step"].tolist() == [10, 20, 30]


def test_ema_and_r1_numbers():
    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    wa, wb = a.weight.detach().clone(), b.weight.detach().clone()
    update_ema(a, b, 0.9)
    assert torch.allclose(a.weight, 0.9 * wa + 0.1 * wb)
    w = torch.randn(1, 3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    d = (x * w).sum((1, 2, 3)) + (x ** 2).sum((1, 2, 3))          # grad = w + 2x per sample
    expect = (w + 2 * x).pow(2).flatten(1).sum(1).mean()
    assert r1_penalty(d, x).item() == pytest.approx(expect.item(), rel=1e-5)
