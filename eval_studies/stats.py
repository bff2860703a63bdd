"""Statistics of a realism study: the two-way cluster-robust interval and test (the primary analysis),
binomial intervals and tests (which assume independent votes), multiplicity, rater bootstrap, agreement,
Bradley-Terry ranking and sample-size planning. Arrays in, arrays out; no pandas or Gradio here.

References (what each function implements):
    Cameron, Gelbach & Miller (2011) "Robust inference with multiway clustering", J. Bus. Econ. Stat. 29(2),
    with t on Satterthwaite (1946) degrees of freedom for its two one-way parts (see two_way_cluster);
    Wilson (1927) score interval; Clopper & Pearson (1934) exact interval;
    Holm (1979) step-down adjustment; Krippendorff (2011) "Computing Krippendorff's alpha-reliability";
    Hunter (2004) "MM algorithms for generalized Bradley-Terry models"; Fleiss et al. (2003) sample size for
    one proportion (normal approximation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from scipy.sparse.csgraph import connected_components


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return float(sps.norm.ppf(0.5 + level / 2))


def wilson_interval(k, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes out of n; elementwise over arrays. n == 0 gives (nan, nan)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    z = _z(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def clopper_pearson_interval(k, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) interval from beta quantiles; elementwise. n == 0 gives (nan, nan)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k > 0, sps.beta.ppf(a, k, n - k + 1), 0.0)
        hi = np.where(k < n, sps.beta.ppf(1 - a, k + 1, n - k), 1.0)
    empty = n <= 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def binom_p(k, n, p0: float = 0.5) -> np.ndarray:
    """Two-sided exact binomial test p-value of k out of n against p0 (scipy.stats.binomtest); nan if n == 0.

    Against 50% the null distribution is symmetric, so binomtest's likelihood ordering is the two equal tails
    2 P(X <= min(k, n - k)), computed for every cell at once."""
    k, n = np.atleast_1d(np.asarray(k, dtype=int)), np.atleast_1d(np.asarray(n, dtype=int))
    if p0 == 0.5:
        with np.errstate(invalid="ignore"):
            tail = 2 * sps.binom.cdf(np.minimum(k, n - k), n, 0.5)
        return np.where(n > 0, np.where(2 * k == n, 1.0, np.minimum(tail, 1.0)), np.nan)
    out = np.full(k.shape, np.nan)
    for i, (ki, ni) in enumerate(zip(k, n)):
        if ni > 0:
            out[i] = sps.binomtest(int(ki), int(ni), p0).pvalue
    return out


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values; nan entries are left out of the family and stay nan."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    # 1. multiply the i-th smallest by (m - i); 2. make monotone; 3. cap at 1
    adj = np.minimum(np.maximum.accumulate(p[order] * (m - np.arange(m))), 1.0)
    out[order] = adj
    return out


CLUSTER_METHOD = "two-way cluster-robust (raters x items), t on 1/(1/(G_R-1) + 1/(G_I-1)) df"


@dataclass
class ClusterResult:
    """Per group (a table cell, or a comparison of two cells): the primary interval and test."""
    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray          # 1 / (1/(raters - 1) + 1/(items - 1)); nan when either is below 2
    low: np.ndarray
    high: np.ndarray
    p: np.ndarray           # two-sided, against `null`
    raters: np.ndarray      # distinct raters in the group
    items: np.ndarray       # distinct items in the group
    method: str = CLUSTER_METHOD


def _cluster_sum_of_squares(psi, group, unit, n_groups) -> tuple[np.ndarray, np.ndarray]:
    """Per group: sum over clusters of (sum of psi in the cluster)^2, and the number of clusters."""
    n_units = int(unit.max()) + 1
    key = group.astype(np.int64) * n_units + unit
    if n_groups * n_units <= 1 << 22:          # dense counts: no sort
        sums = np.bincount(key, weights=psi, minlength=n_groups * n_units).reshape(n_groups, n_units)
        used = np.bincount(key, minlength=n_groups * n_units).reshape(n_groups, n_units) > 0
        return (sums ** 2).sum(axis=1), used.sum(axis=1).astype(float)
    codes, inv = np.unique(key, return_inverse=True)
    sums = np.bincount(inv, weights=psi, minlength=len(codes))
    owner = codes // n_units
    return (np.bincount(owner, weights=sums ** 2, minlength=n_groups),
            np.bincount(owner, minlength=n_groups).astype(float))


def two_way_cluster(psi, group, rater, item, estimate, null=0.0, level: float = 0.95,
                    bounds=(-np.inf, np.inf), harmonic_df: bool = True) -> ClusterResult:
    """Two-way cluster-robust interval and t test of linear estimates (Cameron, Gelbach & Miller 2011).

    psi: (n,) each vote's influence on its group's estimate (estimate = its sum plus a constant); group,
    rater, item: (n,) integer codes. Per group: V = c_R V_R + c_I V_I - c_RI V_RI, each V_G the sum over
    clusters of the squared sum of psi, c_G = G / (G - 1); where V <= 0, max(c_R V_R, c_I V_I). The interval
    is estimate +- t * sqrt(V), clipped to `bounds`.

    Degrees of freedom: CGM's min(G_R, G_I) - 1 let a true null through 6.5-6.9% of the time when raters and
    items are alike (20 raters, 20 items; docs/report.md), because V then sums two noisy one-way parts.
    Their Satterthwaite combination 1 / (1/(G_R - 1) + 1/(G_I - 1)) (equal parts; at most min(G) - 1) holds
    the level in every calibrated setting; harmonic_df=False gives CGM's rule.
    """
    psi = np.asarray(psi, dtype=float)
    group, rater, item = (np.asarray(a, dtype=np.int64) for a in (group, rater, item))
    estimate = np.asarray(estimate, dtype=float)
    n_groups = len(estimate)
    if not len(psi):
        nan = np.full(n_groups, np.nan)
        zero = np.zeros(n_groups)
        return ClusterResult(estimate, nan, nan, nan, nan, nan, zero, zero)
    both = rater * (int(item.max()) + 1) + item
    parts = []
    for unit in (rater, item, both):
        ss, g = _cluster_sum_of_squares(psi, group, unit, n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            parts.append((np.where(g > 1, g / (g - 1), np.nan) * ss, g))
    (v_r, g_r), (v_i, g_i), (v_ri, _) = parts
    v = v_r + v_i - v_ri
    v = np.where(v > 0, v, np.fmax(v_r, v_i))
    with np.errstate(invalid="ignore", divide="ignore"):
        # Satterthwaite for two equal one-way parts (see the docstring)
        df = 1 / (1 / (g_r - 1) + 1 / (g_i - 1)) if harmonic_df else np.minimum(g_r, g_i) - 1
    df = np.where((g_r > 1) & (g_i > 1), df, np.nan)
    se = np.sqrt(v)
    _z(level)                   # checks the level
    with np.errstate(invalid="ignore", divide="ignore"):
        t = sps.t.ppf(0.5 + level / 2, df)
        p = np.where(se > 0, 2 * sps.t.sf(np.abs(estimate - null) / se, df), np.nan)
    low = np.clip(estimate - t * se, *bounds)
    high = np.clip(estimate + t * se, *bounds)
    return ClusterResult(estimate, se, df, low, high, p, g_r, g_i)


def cluster_proportion(success, group, rater, item, n_groups: int, level: float = 0.95,
                       p0: float = 0.5) -> ClusterResult:
    """Each group's pooled share of successes, with the two-way cluster-robust interval and test vs p0.

    When every vote of a group agrees (0% or 100%) the cluster variance is 0; then the interval and test
    treat each rater as one vote (Clopper-Pearson and the exact binomial test on 0 or all of G_R raters),
    which is what the votes can say about a population of raters.
    """
    y = np.asarray(success, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    n = np.bincount(group, minlength=n_groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.bincount(group, weights=y, minlength=n_groups) / n
    res = two_way_cluster((y - est[group]) / n[group], group, rater, item, est, p0, level, (0.0, 1.0))
    flat = (res.se == 0) & (res.raters > 0)
    if flat.any():
        k = np.round(est[flat] * res.raters[flat])
        lo, hi = clopper_pearson_interval(k, res.raters[flat], level)
        res.low[flat], res.high[flat] = lo, hi
        res.p[flat] = binom_p(k, res.raters[flat], p0)
    return res


def cluster_difference(success, group, in_first, rater, item, n_groups: int,
                       level: float = 0.95) -> ClusterResult:
    """Difference of two pooled shares per group (first minus second), two-way cluster-robust, test vs 0.

    in_first: (n,) bool, the vote belongs to the first share of its group (else the second). Raters and
    items may be shared by both shares (a rater judging both conditions, the same photo under both); the
    cluster sums then take both signs, which is what makes a paired design more precise.
    """
    y = np.asarray(success, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    side = group * 2 + (~np.asarray(in_first, dtype=bool))
    n = np.bincount(side, minlength=2 * n_groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.bincount(side, weights=y, minlength=2 * n_groups) / n
    est = share[0::2] - share[1::2]
    sign = np.where(np.asarray(in_first, dtype=bool), 1.0, -1.0)
    psi = sign * (y - share[side]) / n[side]
    return two_way_cluster(psi, group, rater, item, est, 0.0, level, (-1.0, 1.0))


def rater_resample_weights(n_raters: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_raters) int matrix: how often each rater is drawn when n_raters raters are resampled
    with replacement, once per bootstrap replicate (a multinomial count per row)."""
    if n_raters == 0:
        return np.zeros((n_boot, 0), dtype=np.int64)
    idx = rng.integers(0, n_raters, size=(n_boot, n_raters))
    flat = (idx + n_raters * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_raters).reshape(n_boot, n_raters)


def rater_bootstrap_interval(successes: np.ndarray, totals: np.ndarray, weights: np.ndarray,
                             level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of pooled proportions when raters are resampled.

    successes, totals: (n_raters, n_cells) counts per rater and cell; weights: (n_boot, n_raters) from
    rater_resample_weights. A replicate in which a cell drew no votes is left out of that cell's interval.
    """
    s = weights @ successes  # (n_boot, n_cells)
    t = weights @ totals
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / t
    a = (1 - level) / 2
    lo = np.full(p.shape[1], np.nan)
    hi = np.full(p.shape[1], np.nan)
    has = (~np.isnan(p)).any(axis=0)
    if has.any():
        q = np.nanquantile(p[:, has], [a, 1 - a], axis=0)
        lo[has], hi[has] = q[0], q[1]
    return lo, hi


def krippendorff_alpha_nominal(units, values) -> tuple[float, int, int]:
    """Krippendorff's alpha for nominal data from one (unit, value) pair per rating.

    Units rated fewer than twice are not pairable and are left out. Returns (alpha, pairable units,
    pairable ratings); alpha is nan when nothing is pairable or all values agree on a single category.
    """
    u_codes, u_idx = np.unique(np.asarray(units), return_inverse=True)
    v_codes, v_idx = np.unique(np.asarray(values), return_inverse=True)
    n_units, n_vals = len(u_codes), len(v_codes)
    if n_units == 0:
        return float("nan"), 0, 0
    # 1. n_uc: ratings of value c in unit u
    counts = np.bincount(u_idx * n_vals + v_idx, minlength=n_units * n_vals).reshape(n_units, n_vals)
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, m = counts[keep].astype(float), m[keep].astype(float)
    if len(m) == 0:
        return float("nan"), 0, 0
    # 2. coincidence matrix o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1)
    scaled = counts / (m - 1)[:, None]
    o = scaled.T @ counts - np.diag(scaled.sum(axis=0))
    n_c = o.sum(axis=1)
    n = n_c.sum()
    observed = n - np.trace(o)                     # sum of off-diagonal coincidences
    expected = (n * n - (n_c ** 2).sum()) / (n - 1)
    alpha = float("nan") if expected == 0 else 1 - observed / expected
    return alpha, int(keep.sum()), int(m.sum())


@dataclass
class BradleyTerry:
    """Bradley-Terry strengths, log scale, centred to mean 0; P(i beats j) = 1 / (1 + exp(s_j - s_i))."""
    names: list[str]
    log_strength: np.ndarray        # (K,)
    lo: np.ndarray                  # (K,) bootstrap percentile interval, nan when unavailable
    hi: np.ndarray
    boot_used: int                  # bootstrap replicates in the interval
    boot_dropped: int               # replicates left out: a condition won or lost every comparison
    note: str = ""


def bradley_terry_mm(wins: np.ndarray, tol: float = 1e-10, max_iter: int = 10000) -> np.ndarray:
    """MLE of log-strengths by Hunter's MM algorithm; wins[..., i, j] = times i beat j.

    Works on a stack of matrices (..., K, K) at once. Requires every condition to have at least one win and
    one loss within a connected design (otherwise the MLE is at infinity); returns centred log-strengths.
    """
    wins = np.asarray(wins, dtype=float)
    n = wins + np.swapaxes(wins, -1, -2)             # comparisons between i and j
    w_total = wins.sum(axis=-1)                       # wins of i
    w = np.ones(w_total.shape)
    for _ in range(max_iter):
        denom = (n / (w[..., :, None] + w[..., None, :])).sum(axis=-1)
        new = w_total / denom
        new = new / np.exp(np.log(new).mean(axis=-1, keepdims=True))
        delta = np.nanmax(np.abs(np.log(new) - np.log(w)))
        w = new
        if delta < tol:
            break
    s = np.log(w)
    return s - s.mean(axis=-1, keepdims=True)


def strongly_connected(wins: np.ndarray) -> bool:
    """True when every condition can be reached from every other through 'beat' edges (MLE exists)."""
    k, _ = connected_components(np.asarray(wins) > 0, directed=True, connection="strong")
    return k == 1


def bradley_terry(names: list[str], rater_wins: np.ndarray, weights: np.ndarray | None = None,
                  level: float = 0.95) -> BradleyTerry:
    """Ranking from per-rater win matrices (n_raters, K, K), with a rater-bootstrap interval per condition.

    If the pooled design is not strongly connected the MLE does not exist; then 0.5 pseudo-wins are added
    in both directions to every compared pair (a standard regularisation) and the note says so.
    """
    rater_wins = np.asarray(rater_wins, dtype=float)
    k = len(names)
    pooled = rater_wins.sum(axis=0)
    note = ""
    prior = np.zeros((k, k))
    if not strongly_connected(pooled):
        compared = (pooled + pooled.T) > 0
        prior = 0.5 * compared
        note = ("the comparisons do not connect every condition in both directions, so the maximum-likelihood "
                "ranking does not exist; 0.5 pseudo-votes were added each way to every compared pair")
    s = bradley_terry_mm(pooled + prior)
    lo = np.full(k, np.nan)
    hi = np.full(k, np.nan)
    used = dropped = 0
    if weights is not None and len(weights):
        flat = rater_wins.reshape(len(rater_wins), k * k)
        boot = (weights @ flat).reshape(-1, k, k) + prior
        # a replicate whose MLE is at infinity (some condition never wins or never loses) is left out
        ok = ((boot.sum(axis=2) > 0) & (boot.sum(axis=1) > 0)).all(axis=1)
        used, dropped = int(ok.sum()), int((~ok).sum())
        if used:
            bs = bradley_terry_mm(boot[ok], tol=1e-8)
            a = (1 - level) / 2
            lo, hi = np.quantile(bs, [a, 1 - a], axis=0)
    return BradleyTerry(list(names), s, lo, hi, used, dropped, note)


@dataclass
class PlanRow:
    rate: float
    alpha: float
    power: float
    n_normal: int        # normal-approximation votes per cell
    n_exact: int         # smallest n whose exact two-sided binomial test reaches the power
    exact_power: float   # exact power at n_exact
    n_stays: int = 0     # the n from which the exact power stays at or above the target (saw-tooth)
    stays_power: float = float("nan")


def exact_binomial_power(n: int, rate: float, alpha: float, p0: float = 0.5) -> float:
    """Power of the two-sided exact binomial test (scipy's likelihood ordering) at n votes, true rate."""
    ks = np.arange(n + 1)
    pmf0 = sps.binom.pmf(ks, n, p0)
    # binomtest's two-sided p: sum of null probabilities no larger than that of k (with a small tolerance)
    order = np.argsort(pmf0, kind="stable")
    cum = np.cumsum(pmf0[order])
    sorted_pmf = pmf0[order]
    # for ties take the largest cumulative sum among equal probabilities
    last_of_tie = np.searchsorted(sorted_pmf, sorted_pmf * (1 + 1e-7), side="right") - 1
    p_at = np.empty(n + 1)
    p_at[order] = cum[last_of_tie]
    reject = np.minimum(p_at, 1.0) <= alpha
    return float(sps.binom.pmf(ks[reject], n, rate).sum())


def sample_size(rate: float, alpha: float = 0.05, power: float = 0.8, p0: float = 0.5) -> PlanRow:
    """Votes per cell to detect a preference rate against p0 with a two-sided test."""
    if not 0 < rate < 1 or rate == p0:
        raise ValueError(f"rate must be in (0, 1) and differ from {p0}, got {rate}")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be in (0, 1), got alpha={alpha}, power={power}")
    za, zb = sps.norm.ppf(1 - alpha / 2), sps.norm.ppf(power)
    n_norm = int(np.ceil(((za * np.sqrt(p0 * (1 - p0)) + zb * np.sqrt(rate * (1 - rate))) / (rate - p0)) ** 2))
    n = max(5, int(n_norm * 0.7))
    while exact_binomial_power(n, rate, alpha, p0) < power:
        n += 1
    # the dips shrink as n grows; past twice the first n none reaches below the target in practice
    start, stop = n, max(2 * n, n + 200)
    powers = np.array([exact_binomial_power(m, rate, alpha, p0) for m in range(start, stop + 1)])
    stays = power_stays_from(powers, start, power)
    return PlanRow(rate, alpha, power, n_norm, n, float(powers[0]), stays, float(powers[stays - start]))


def power_stays_from(powers: np.ndarray, start: int, target: float) -> int:
    """The n from which every power in powers[n - start:] is at or above target (powers[i] at n = start + i);
    -1 when the last one is below. Exact binomial power saw-tooths, so the first n that reaches the target
    can be followed by several below it."""
    below = np.flatnonzero(np.asarray(powers) < target)
    if len(below) and below[-1] == len(powers) - 1:
        return -1
    return start + (int(below[-1]) + 1 if len(below) else 0)


def intra_rater_correlation(rater_sd: float, rate: float = 0.5) -> float:
    """Correlation of two votes by one rater when logit P(success) = logit(rate) + u, u ~ N(0, rater_sd^2):
    Var(E[y | u]) / (p (1 - p)), by 60-point Gauss-Hermite quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    m = 1 / (1 + np.exp(-(np.log(rate / (1 - rate)) + rater_sd * x)))
    p = float(w @ m)
    return float(w @ (m - p) ** 2) / (p * (1 - p))


def rater_power(raters, votes_per_rater: int, rate: float, alpha: float, icc: float, p0: float = 0.5):
    """Power of the primary (cluster-robust t) test of one cell with `raters` raters casting votes_per_rater
    votes each, when votes of one rater correlate by icc and items are many: design effect 1 + (m - 1) icc,
    noncentral t on raters - 1 degrees of freedom."""
    r = np.asarray(raters, dtype=float)
    deff = 1 + (votes_per_rater - 1) * icc
    se = np.sqrt(deff * rate * (1 - rate) / (r * votes_per_rater))
    df = r - 1
    crit = sps.t.ppf(1 - alpha / 2, df)
    nc = abs(rate - p0) / se
    return sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc)


def raters_needed(votes_per_rater: int, rate: float, alpha: float, power: float, icc: float,
                  max_raters: int = 5000) -> tuple[int, float]:
    """Raters from whom the power of rater_power stays at or above `power` (up to max_raters; -1 if never),
    and the power there."""
    r = np.arange(2, max_raters + 1)
    pw = rater_power(r, votes_per_rater, rate, alpha, icc)
    n = power_stays_from(pw, 2, power)
    return n, (float(pw[n - 2]) if n > 0 else float("nan"))
