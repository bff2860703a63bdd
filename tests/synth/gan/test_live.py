"""Live GAN training: settings refused with clear messages, the loop's numbers, the pool's limits and threads."""

import copy
import dataclasses
import threading
import time

import numpy as np
import pytest
import torch

from synth import data
from synth.gan import live


@pytest.mark.parametrize("lr", [0, -1e-3, 1.0, float("nan"), float("inf"), True, "0.001"])
def test_absurd_learning_rates_are_refused(lr):
    with pytest.raises(ValueError, match="learning rate must be between"):
        live.LiveSettings(lr=lr)


@pytest.mark.parametrize("steps", [0, -5, 1000, 2.5, True])
def test_absurd_step_counts_are_refused(steps):
    with pytest.raises(ValueError, match="steps per update must be a whole number"):
        live.LiveSettings(steps_per_update=steps)


def test_learning_rate_range_follows_the_optimiser():
    assert live.LiveSettings(lr=0.05, optimizer="sgd").lr == 0.05
    with pytest.raises(ValueError, match="between 1e-05 and 0.01 with adam"):
        live.LiveSettings(lr=0.05, optimizer="adam")


def test_whole_float_steps_are_accepted():
    assert live.LiveSettings(steps_per_update=20.0).steps_per_update == 20


def test_training_records_losses_outputs_and_grid():
    torch.set_num_threads(1)
    m = live.LiveGAN(live.LiveSettings(steps_per_update=3, batch=16))
    m.train(3)
    m.train(3)
    snap = m.snapshot()
    assert snap.step == 6 and snap.steps == [3, 6]
    assert len(snap.loss_d) == len(snap.loss_g) == 2 and np.isfinite(snap.loss_d + snap.loss_g).all()
    assert snap.d_real.shape == (16,) and snap.d_fake.shape == (16,)
    assert ((snap.d_real >= 0) & (snap.d_real <= 1)).all()
    assert snap.grid.dtype == np.uint8 and snap.grid.shape == (8 * 30 + 2, 8 * 30 + 2)
    curves = live.curves_table(snap)
    assert sorted(curves["curve"].unique()) == ["J(D)", "J(G)"] and len(curves) == 4
    hist = live.d_outputs_table(snap)
    assert hist.groupby("batch")["images"].sum().to_dict() == {"G's fakes": 16, "real digits": 16}
    assert "step 6" in live.status_text(snap)


def test_same_seed_same_model():
    torch.set_num_threads(1)
    a, b = (live.LiveGAN(live.LiveSettings(batch=8, seed=3)) for _ in range(2))
    a.train(2)
    b.train(2)
    assert np.array_equal(a.snapshot().grid, b.snapshot().grid)
    c = live.LiveGAN(live.LiveSettings(batch=8, seed=4))
    c.train(2)
    assert not np.array_equal(a.snapshot().grid, c.snapshot().grid)


def test_samples_change_as_it_trains():
    torch.set_num_threads(1)
    m = live.LiveGAN(live.LiveSettings(batch=16, lr=1e-3))
    before = m.snapshot().grid.astype(int)
    m.train(20)
    assert np.abs(m.snapshot().grid.astype(int) - before).mean() > 1


def live_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("live-") and t.is_alive()]


def test_pool_limits_running_trainings_and_stops_its_threads():
    pool = live.LivePool(max_running=1)
    settings = live.LiveSettings(steps_per_update=1, batch=8)
    try:
        pool.start("a", settings)
        with pytest.raises(live.PoolFull, match="at most 1"):
            pool.start("b", settings)
        deadline = time.time() + 30
        while pool.snapshot("a").step < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert pool.snapshot("a").step >= 2 and pool.snapshot("a").running
        pool.stop("a")
        assert pool.running() == 0 and not pool.snapshot("a").running
        pool.start("b", settings)            # the slot is free again
        pool.reset("b")
        assert pool.snapshot("b") is None
    finally:
        pool.reset("a")
        pool.reset("b")
    assert live_threads() == []


def test_restart_replaces_the_sessions_model():
    pool = live.LivePool(max_running=1)
    try:
        pool.start("a", live.LiveSettings(steps_per_update=1, batch=8))
        pool.start("a", live.LiveSettings(steps_per_update=1, batch=8))   # same session: not "full"
        assert pool.running() == 1
    finally:
        pool.reset("a")
    assert live_threads() == []


def test_recognisable_refuses_noise_that_the_classifier_alone_accepts():
    """The instrument first: uniform noise fools the classifier's confidence but not the two tests together,
    and real held-out digits pass."""
    from synth import data

    share, confident = live.noise_share()
    assert share == 0.0 and confident > 0.5
    limit, check = live.heldout_parts()
    assert len(limit) + len(check) == len(data.load("digits", "heldout")) and 0.2 < len(limit) / len(check) < 0.5
    assert live.recognisable(check).mean() >= 0.85                  # none of them set the distance limit


def test_grid_scores_expose_a_collapsed_grid_that_the_share_alone_passes():
    """64 copies of one clear digit are 100% recognisable; the class count and the largest class give the
    collapse away, while 64 held-out digits show every class."""
    real_grid = live.real_grid()
    collapsed = live.grid_scores(np.repeat(real_grid[:1], live.GRID, axis=0))
    assert collapsed["recognisable"] == 1.0
    assert collapsed["classes"] == 1 and collapsed["largest"] == 1.0
    real = live.grid_scores(real_grid)
    assert real["classes"] >= 9 and real["largest"] <= 0.3
    assert 0.0 <= real["confidence"] <= 1.0


def test_bad_head_start_and_optimizer_are_refused():
    with pytest.raises(ValueError, match="head start"):
        live.LiveSettings(d_first=-1)
    with pytest.raises(ValueError, match="head start"):
        live.LiveSettings(d_first=10**6)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        live.LiveSettings(optimizer="rmsprop")


def test_minimax_stalls_where_non_saturating_learns():
    """The lecture's claim in numbers, on a short run from the same confident discriminator: with minimax J(G)
    J(D) is near 0, D(G(z)) near 0 and the samples are no better than noise; the non-saturating J(G) moves on."""
    torch.set_num_threads(1)
    noise_share, _ = live.noise_share()
    stalled = live.LiveGAN(live.LiveSettings(minimax=True, **live.STALL))
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(stalled.rng_state)
        stalled.head_start()                       # D learns to reject G's samples, once for both runs
        stalled.rng_state = torch.get_rng_state()
    learning = copy.deepcopy(stalled)
    learning.settings = dataclasses.replace(stalled.settings, minimax=False)
    for m in (stalled, learning):
        for _ in range(8):
            m.train(20)
    assert stalled.history["loss_d"][-1] < 0.05 and stalled.last_fake.mean() < 0.05
    assert live.recognisable_share(data.to_uint8(stalled.samples()))[0] <= noise_share
    assert learning.history["loss_d"][-1] > 0.2 and learning.last_fake.mean() > 0.1
