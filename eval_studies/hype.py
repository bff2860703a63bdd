"""HYPE-time per condition (Zhou et al. 2019): how long raters need to see an image to tell real from fake.

A study with ``hype_time`` in its file sets each scored real/fake trial's exposure with a per-rater, per-condition
3-up/1-down staircase (eval_studies.pacing) and logs it in the vote's ``exposure_ms``. A rater's threshold for a
condition is the mean exposure of that staircase from its first reversal on (pacing.threshold_ms); the
condition's HYPE-time is the mean threshold over raters, with a percentile bootstrap interval over raters.
Higher means raters needed longer to tell: for a fake condition, more realistic images. With few trials per
rater and condition the staircase has not converged and the number says mostly where it started: plan 20 or
more real/fake trials per condition and rater.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eval_studies.pacing import threshold_ms

HYPE_COLUMNS = ["study_id", "condition", "raters", "trials", "hype_time_ms", "low", "high"]


def hype_time_table(scored: pd.DataFrame, level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per (study, condition) of the timed real/fake votes in ``scored`` (HYPE_COLUMNS); empty when no
    vote carries an exposure."""
    if "exposure_ms" not in scored.columns:
        return pd.DataFrame(columns=HYPE_COLUMNS)
    exp = pd.to_numeric(scored["exposure_ms"], errors="coerce")
    rf = scored.assign(_exp=exp)[(scored["task"] == "real_fake") & exp.notna()]
    if rf.empty:
        return pd.DataFrame(columns=HYPE_COLUMNS)
    rng = np.random.default_rng(seed)
    rows = []
    for (study, cond), g in rf.sort_values("trial_index").groupby(["study_id", "left_condition"], sort=True):
        th = np.array([threshold_ms(list(x)) for _, x in g.groupby("rater_id")["_exp"]])
        mean = float(th.mean())
        if len(th) > 1 and n_boot > 0:
            boot = th[rng.integers(0, len(th), size=(n_boot, len(th)))].mean(axis=1)
            lo, hi = np.percentile(boot, [50 * (1 - level), 100 - 50 * (1 - level)])
        else:
            lo = hi = float("nan")
        rows.append([study, cond, len(th), len(g), mean, float(lo), float(hi)])
    return pd.DataFrame(rows, columns=HYPE_COLUMNS)


def hype_wide(table: pd.DataFrame, level: float) -> pd.DataFrame:
    """The report's layout: one row per study, one column per condition, '640 ms (560 to 720)'."""
    if table.empty:
        return pd.DataFrame()
    cell = [f"{m:.0f} ms" + ("" if np.isnan(lo) else f" ({lo:.0f} to {hi:.0f})") + f", {n} raters"
            for m, lo, hi, n in zip(table["hype_time_ms"], table["low"], table["high"], table["raters"])]
    w = table.assign(cell=cell).pivot(index="study_id", columns="condition", values="cell")
    return w.rename_axis(None, axis=1).reset_index().rename(columns={"study_id": "Study"})
