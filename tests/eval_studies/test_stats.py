"""Each statistic against an independent computation (scipy, or a slow textbook loop written here)."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as sps

from eval_studies import stats

GRID = [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (76, 100), (977, 1000), (5, 7), (499, 1000), (1, 2000)]


@pytest.mark.parametrize("k,n", GRID)
def test_wilson_and_clopper_pearson_match_scipy(k, n):
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = stats.wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = stats.clopper_pearson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-10) and hi == pytest.approx(ref.high, abs=1e-10)


def test_intervals_vectorised_and_other_levels():
    k, n = np.array([k for k, _ in GRID]), np.array([n for _, n in GRID])
    lo, hi = stats.wilson_interval(k, n, 0.9)
    for i, (ki, ni) in enumerate(GRID):
        ref = sps.binomtest(ki, ni).proportion_ci(confidence_level=0.9, method="wilson")
        assert (lo[i], hi[i]) == pytest.approx((ref.low, ref.high), abs=1e-12)
    lo, hi = stats.clopper_pearson_interval([0, 3], [0, 5])
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and not np.isnan(lo[1])


def test_binomial_p_matches_scipy():
    for k, n in GRID:
        assert stats.binom_p(k, n)[0] == pytest.approx(sps.binomtest(k, n, 0.5).pvalue, rel=1e-12)
    assert np.isnan(stats.binom_p(0, 0)[0])


def _holm_by_hand(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adj, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def test_holm_matches_hand_computation():
    rng = np.random.default_rng(1)
    for m in (1, 2, 5, 13):
        p = list(rng.uniform(0, 0.2, m))
        assert stats.holm(p) == pytest.approx(_holm_by_hand(p), abs=1e-15)
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = stats.holm([0.01, np.nan, 0.02])   # nan cells are outside the family
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.02)


def test_resample_weights_are_multinomial_draws_of_raters():
    rng = np.random.default_rng(0)
    w = stats.rater_resample_weights(7, 500, rng)
    assert w.shape == (500, 7) and (w.sum(axis=1) == 7).all() and w.min() >= 0
    # the same draws, counted the slow way
    idx = np.random.default_rng(0).integers(0, 7, size=(500, 7))
    assert (w == np.array([np.bincount(row, minlength=7) for row in idx])).all()
    assert abs(w.mean() - 1) < 0.05


def test_rater_bootstrap_matches_explicit_resampling():
    rng = np.random.default_rng(3)
    votes = pd.DataFrame({"rater": rng.integers(0, 12, 400), "cell": rng.integers(0, 3, 400),
                          "success": rng.random(400) < 0.6})
    s = np.zeros((12, 3))
    t = np.zeros((12, 3))
    for (r, c), g in votes.groupby(["rater", "cell"]):
        s[r, c], t[r, c] = g["success"].sum(), len(g)
    w = stats.rater_resample_weights(12, 300, np.random.default_rng(5))
    lo, hi = stats.rater_bootstrap_interval(s, t, w)
    # explicit: concatenate each drawn rater's votes, pool, take percentiles
    draws = np.random.default_rng(5).integers(0, 12, size=(300, 12))
    props = np.array([[pd.concat([votes[votes.rater == r] for r in row]).query("cell == @c")["success"].mean()
                       for c in range(3)] for row in draws])
    assert lo == pytest.approx(np.quantile(props, 0.025, axis=0), abs=1e-12)
    assert hi == pytest.approx(np.quantile(props, 0.975, axis=0), abs=1e-12)


def test_rater_bootstrap_widens_when_raters_disagree():
    # 40 raters, 25 votes each: half always say yes, half always no. Votes are not independent, and the
    # rater bootstrap must show it; a binomial interval over 1000 "independent" votes does not.
    s = np.repeat([25.0, 0.0], 20)[:, None]
    t = np.full((40, 1), 25.0)
    lo, hi = stats.rater_bootstrap_interval(s, t, stats.rater_resample_weights(40, 2000, np.random.default_rng(0)))
    wlo, whi = stats.wilson_interval(500, 1000)
    assert (hi - lo)[0] > 3 * (whi - wlo)
    assert lo[0] < 0.5 < hi[0]


def _alpha_by_hand(ratings):
    """Krippendorff (2011), nominal: pairable values, coincidences by explicit pairs, 1 - Do/De."""
    units = {}
    for u, v in ratings:
        units.setdefault(u, []).append(v)
    units = {u: vs for u, vs in units.items() if len(vs) >= 2}
    values = [v for vs in units.values() for v in vs]
    n = len(values)
    d_o = sum(sum(a != b for a, b in itertools.permutations(vs, 2)) / (len(vs) - 1) for vs in units.values()) / n
    d_e = sum(a != b for a, b in itertools.permutations(values, 2)) / (n * (n - 1))
    return 1 - d_o / d_e


def test_krippendorff_alpha_on_the_published_example():
    # Krippendorff (2011), reliability data with missing values: 4 coders, 12 units; nominal alpha = 0.743
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
            [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]
    pairs = [(u, v) for row in data for u, v in enumerate(row) if v is not None]
    alpha, units, n = stats.krippendorff_alpha_nominal([u for u, _ in pairs], [v for _, v in pairs])
    assert round(alpha, 3) == 0.743 and units == 11 and n == 40


def test_krippendorff_alpha_matches_textbook_loop_on_random_data():
    rng = np.random.default_rng(7)
    pairs = [(f"u{rng.integers(0, 30)}", str(rng.choice(["left", "right", "x"], p=[0.6, 0.3, 0.1])))
             for _ in range(200)]
    alpha, _, _ = stats.krippendorff_alpha_nominal([u for u, _ in pairs], [v for _, v in pairs])
    assert alpha == pytest.approx(_alpha_by_hand(pairs), abs=1e-12)
    perfect, _, _ = stats.krippendorff_alpha_nominal(["a", "a", "b", "b", "c"], ["x", "x", "y", "y", "x"])
    assert perfect == pytest.approx(1.0)
    assert np.isnan(stats.krippendorff_alpha_nominal(["a", "b"], ["x", "y"])[0])  # nothing pairable


def _bt_by_scipy(wins):
    k = len(wins)

    def nll(x):
        s = np.concatenate([[0.0], x])
        diff = s[:, None] - s[None, :]
        return -(wins * -np.logaddexp(0, -diff)).sum()
    x = optimize.minimize(nll, np.zeros(k - 1), method="BFGS", options={"gtol": 1e-10}).x
    s = np.concatenate([[0.0], x])
    return s - s.mean()


def test_bradley_terry_mm_matches_direct_likelihood_maximisation():
    rng = np.random.default_rng(2)
    wins = rng.integers(1, 30, size=(5, 5)).astype(float)
    np.fill_diagonal(wins, 0)
    assert stats.bradley_terry_mm(wins) == pytest.approx(_bt_by_scipy(wins), abs=1e-5)


def test_bradley_terry_recovers_known_strengths_with_bootstrap_intervals():
    rng = np.random.default_rng(4)
    true = np.array([1.0, 0.3, 0.0, -1.3])
    true = true - true.mean()
    raters, per = 200, 30
    rw = np.zeros((raters, 4, 4))
    for r in range(raters):
        i = rng.integers(0, 4, per)
        j = (i + rng.integers(1, 4, per)) % 4
        p = 1 / (1 + np.exp(true[j] - true[i]))
        win = rng.random(per) < p
        np.add.at(rw[r], (np.where(win, i, j), np.where(win, j, i)), 1)
    bt = stats.bradley_terry(list("abcd"), rw, stats.rater_resample_weights(raters, 400, rng))
    assert bt.log_strength == pytest.approx(true, abs=0.15)
    assert (bt.lo < true).all() and (true < bt.hi).all()
    assert bt.boot_used == 400 and bt.note == ""


def test_bradley_terry_without_mle_says_so():
    wins = np.zeros((1, 3, 3))
    wins[0, 0, 1] = wins[0, 1, 2] = 5      # a beats b, b beats c, never the other way
    bt = stats.bradley_terry(list("abc"), wins, None)
    assert "pseudo" in bt.note and bt.log_strength[0] > bt.log_strength[1] > bt.log_strength[2]


def test_sample_size_plan():
    row = stats.sample_size(0.6, 0.05, 0.8)
    assert row.n_normal == 194                      # the classic normal-approximation answer
    assert row.exact_power >= 0.8
    for n in range(row.n_normal - 30, row.n_exact):
        assert stats.exact_binomial_power(n, 0.6, 0.05) < 0.8
    with pytest.raises(ValueError, match="rate"):
        stats.sample_size(0.5)


@pytest.mark.parametrize("n,rate", [(20, 0.7), (50, 0.6), (61, 0.75), (194, 0.6)])
def test_exact_power_matches_binomtest_loop(n, rate):
    reject = [k for k in range(n + 1) if sps.binomtest(k, n, 0.5).pvalue <= 0.05]
    assert stats.exact_binomial_power(n, rate, 0.05) == pytest.approx(sps.binom.pmf(reject, n, rate).sum(), abs=1e-12)


# ------------------------------------------------------------------ primary analysis (issue 18)

def _cgm_by_hand(y, rater, item, null=0.5, level=0.95):
    """Cameron-Gelbach-Miller two-way variance of a mean, written out with dictionaries."""
    n = len(y)
    p = sum(y) / n
    e = [(v - p) / n for v in y]

    def part(keys):
        sums = {}
        for k, v in zip(keys, e):
            sums[k] = sums.get(k, 0.0) + v
        g = len(sums)
        return g / (g - 1) * sum(s * s for s in sums.values()), g

    v_r, g_r = part(rater)
    v_i, g_i = part(item)
    v_ri, _ = part(list(zip(rater, item)))
    v = v_r + v_i - v_ri
    if v <= 0:
        v = max(v_r, v_i)
    df = 1 / (1 / (g_r - 1) + 1 / (g_i - 1))
    se = v ** 0.5
    t = sps.t.ppf(0.5 + level / 2, df)
    return p, max(0, p - t * se), min(1, p + t * se), 2 * sps.t.sf(abs(p - null) / se, df), df


def test_two_way_cluster_matches_hand_computation():
    rng = np.random.default_rng(0)
    n = 300
    rater, item, cell = rng.integers(0, 15, n), rng.integers(0, 12, n), rng.integers(0, 2, n)
    y = (rng.random(n) < 0.3 + 0.04 * rater / 15 + 0.3 * (item % 3 == 0)).astype(float)
    res = stats.cluster_proportion(y, cell, rater, item, 2, 0.9)
    for c in range(2):
        m = cell == c
        p, lo, hi, pv, df = _cgm_by_hand(list(y[m]), list(rater[m]), list(item[m]), level=0.9)
        assert (res.estimate[c], res.low[c], res.high[c], res.p[c], res.df[c]) == pytest.approx((p, lo, hi, pv, df))
    assert res.raters.tolist() == [len(set(rater[cell == c])) for c in range(2)]


def test_cluster_interval_widens_with_rater_and_item_effects_and_handles_unanimity():
    # 20 raters x 10 items, every rater on every item; half the raters always say yes
    rater, item = np.repeat(np.arange(20), 10), np.tile(np.arange(10), 20)
    y = (rater < 10).astype(float)
    res = stats.cluster_proportion(y, np.zeros(200, int), rater, item, 1)
    wl, wh = stats.wilson_interval(100, 200)
    assert res.high[0] - res.low[0] > 2.5 * (wh - wl) and res.p[0] == pytest.approx(1.0)
    # every vote agrees: the variance is 0; the interval treats each of the 20 raters as one vote
    res = stats.cluster_proportion(np.ones(200), np.zeros(200, int), rater, item, 1)
    lo, hi = stats.clopper_pearson_interval(20, 20)
    assert (res.low[0], res.high[0]) == pytest.approx((float(lo), float(hi)))
    assert res.p[0] == pytest.approx(sps.binomtest(20, 20).pvalue)


def test_cluster_difference_is_first_minus_second_and_pairs_help():
    rng = np.random.default_rng(1)
    rater, item = np.repeat(np.arange(30), 20), np.tile(np.arange(20), 30)
    taste = rng.normal(0, 1.5, 30)[rater]            # one taste per rater, shared by both conditions
    first = np.tile(np.arange(20) % 2 == 0, 30)
    y = (rng.random(600) < 1 / (1 + np.exp(-(taste + 0.8 * first)))).astype(float)
    res = stats.cluster_difference(y, np.zeros(600, int), first, rater, item, 1)
    assert res.estimate[0] == pytest.approx(y[first].mean() - y[~first].mean())
    assert res.low[0] < res.estimate[0] < res.high[0] and res.p[0] < 0.05
    # the same votes as two unrelated shares (different raters) give a wider interval: pairing removes taste
    unpaired = stats.cluster_difference(y, np.zeros(600, int), first, np.where(first, rater, rater + 100), item, 1)
    assert unpaired.high[0] - unpaired.low[0] > res.high[0] - res.low[0]


def test_plan_reports_where_power_stays_above():
    row = stats.sample_size(0.6, 0.05, 0.8)
    assert (row.n_exact, row.n_stays) == (199, 210)              # the saw-tooth: 0.787 at 200
    assert stats.exact_binomial_power(200, 0.6, 0.05) < 0.8
    assert all(stats.exact_binomial_power(n, 0.6, 0.05) >= 0.8 for n in range(210, 420))
    icc = stats.intra_rater_correlation(0.5)
    assert 0.04 < icc < 0.07 and stats.intra_rater_correlation(0.0) == pytest.approx(0.0, abs=1e-12)
    few, _ = stats.raters_needed(40, 0.6, 0.05, 0.8, icc)
    many, pw = stats.raters_needed(5, 0.6, 0.05, 0.8, icc)
    assert few < many and pw >= 0.8 and stats.rater_power(many - 1, 5, 0.6, 0.05, icc) < 0.8
    # more votes per rater than needed: still more total votes than independent votes would need
    assert few * 40 > row.n_normal


def test_calibration_runs_and_the_primary_interval_holds_where_binomial_ones_fail():
    from eval_studies import calibration

    df = calibration.calibrate(studies=150, n_boot=100, rater_sds=(1.0,), item_sds=(1.0,), rater_counts=(20,))
    row = df.iloc[0]
    assert 0.9 <= row["cover primary"] <= 0.99 and row["cover Wilson"] < 0.85
    assert row["type-I exact binomial"] > 0.15 and row["type-I primary"] < 0.1
    assert "| 1.0 | 1.0 | 20 |" in calibration.to_markdown(df)
