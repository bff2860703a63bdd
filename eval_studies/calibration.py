"""Calibration benchmark: do the report's intervals and tests hold their level when raters and items differ?

    python -m eval_studies.calibration [--studies 500] [--seed 0] [--out table.md]
    python -m eval_studies.report --calibrate          (the same)

Each simulated study has 3 cells; every rater casts VOTES_PER_RATER votes in every cell, on distinct items
drawn from ITEMS_PER_CELL items of that cell. A vote is a success with probability
expit(b + u_rater + v_item), u ~ N(0, rater SD^2) shared by the rater's cells (a rater who likes the method
likes it against every baseline), v ~ N(0, item SD^2) per item and cell. Under the null b = 0, so the
population share is exactly 50% whatever the SDs. For power, b = logit(0.6): the median rater on the
median item prefers the target 60% of the time.

Printed per setting (rater SD 0/0.5/1 x item SD 0/1 x 10/20/40 raters): coverage of every 95% interval of
the true 50%, the type-I error of every test at 5%, Holm's family-wise error over the 3 cells, and the power
of each test per cell when b = logit(0.6). Everything is vectorised over studies except the rater bootstrap.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from eval_studies import stats

RATER_SDS = (0.0, 0.5, 1.0)
ITEM_SDS = (0.0, 1.0)
RATER_COUNTS = (10, 20, 40)
CELLS = 3
VOTES_PER_RATER = 10      # per cell, as in the check (20 raters x 10 votes, 20 items per cell)
ITEMS_PER_CELL = 20
ALPHA = 0.05
POWER_RATE = 0.6


def simulate_votes(rng: np.random.Generator, studies: int, raters: int, rater_sd: float, item_sd: float,
                   rate: float = 0.5) -> dict[str, np.ndarray]:
    """Flat arrays over every vote of `studies` studies: success, group (study x cell), rater, item codes."""
    shape = (studies, CELLS, raters, VOTES_PER_RATER)
    # 1. each rater's items in each cell: the first VOTES_PER_RATER of a random permutation
    items = np.argsort(rng.random((studies, CELLS, raters, ITEMS_PER_CELL)), axis=-1)[..., :VOTES_PER_RATER]
    u = rng.normal(0, rater_sd, (studies, raters)) if rater_sd else np.zeros((studies, raters))
    v = rng.normal(0, item_sd, (studies, CELLS, ITEMS_PER_CELL)) if item_sd else \
        np.zeros((studies, CELLS, ITEMS_PER_CELL))
    s_idx, c_idx = np.indices(shape)[:2]
    r_idx = np.indices(shape)[2]
    eta = logit(rate) + u[s_idx, r_idx] + v[s_idx, c_idx, items]
    success = rng.random(shape) < expit(eta)
    group = s_idx * CELLS + c_idx
    return {"success": success.ravel(), "group": group.ravel(), "rater": (s_idx * raters + r_idx).ravel(),
            "item": (group * ITEMS_PER_CELL + items).ravel()}


def _holm_any(p: np.ndarray) -> np.ndarray:
    """(studies, cells) p-values -> studies in which Holm rejects any cell at ALPHA."""
    return np.array([(stats.holm(row) < ALPHA).any() for row in p])


def run_setting(rng: np.random.Generator, studies: int, raters: int, rater_sd: float, item_sd: float,
                n_boot: int) -> dict[str, float]:
    # 1. under the null: coverage of 50% and type-I errors
    d = simulate_votes(rng, studies, raters, rater_sd, item_sd)
    n_groups = studies * CELLS
    prim = stats.cluster_proportion(d["success"], d["group"], d["rater"], d["item"], n_groups)
    k = np.bincount(d["group"], weights=d["success"], minlength=n_groups).round().astype(int)
    n = np.bincount(d["group"], minlength=n_groups)
    wl, wh = stats.wilson_interval(k, n)
    cl, ch = stats.clopper_pearson_interval(k, n)
    exact_p = stats.binom_p(k, n)
    # rater bootstrap, one study at a time: (raters, cells) counts, as the report does
    per_rc = np.bincount(d["rater"] * CELLS + d["group"] % CELLS, weights=d["success"],
                         minlength=studies * raters * CELLS).reshape(studies, raters, CELLS)
    tot_rc = np.full((raters, CELLS), float(VOTES_PER_RATER))
    bl, bh = np.empty((studies, CELLS)), np.empty((studies, CELLS))
    for s in range(studies):
        w = stats.rater_resample_weights(raters, n_boot, rng)
        bl[s], bh[s] = stats.rater_bootstrap_interval(per_rc[s], tot_rc, w)
    bl, bh = bl.ravel(), bh.ravel()
    cover = {name: float(np.mean((lo <= 0.5) & (0.5 <= hi))) for name, lo, hi in
             (("primary", prim.low, prim.high), ("Wilson", wl, wh), ("Clopper-Pearson", cl, ch),
              ("rater bootstrap", bl, bh))}
    row = {f"cover {k}": v for k, v in cover.items()}
    row["type-I primary"] = float(np.mean(prim.p < ALPHA))
    row["type-I exact binomial"] = float(np.mean(exact_p < ALPHA))
    row["type-I rater bootstrap"] = 1 - cover["rater bootstrap"]
    row["Holm FWER primary"] = float(_holm_any(prim.p.reshape(studies, CELLS)).mean())
    row["Holm FWER exact binomial"] = float(_holm_any(exact_p.reshape(studies, CELLS)).mean())
    # 2. at 60% (median rater and item): power of each test per cell, unadjusted
    d = simulate_votes(rng, studies, raters, rater_sd, item_sd, POWER_RATE)
    prim = stats.cluster_proportion(d["success"], d["group"], d["rater"], d["item"], n_groups)
    k = np.bincount(d["group"], weights=d["success"], minlength=n_groups).round().astype(int)
    row["power primary"] = float(np.mean(prim.p < ALPHA))
    row["power exact binomial"] = float(np.mean(stats.binom_p(k, n) < ALPHA))
    row["min df"] = float(np.nanmin(prim.df))
    return row


def calibrate(studies: int = 500, seed: int = 0, n_boot: int = 1000, rater_sds=RATER_SDS, item_sds=ITEM_SDS,
              rater_counts=RATER_COUNTS) -> pd.DataFrame:
    """One row per setting; every setting has its own generator stream (spawned from `seed`)."""
    settings = [(r, i, n) for r in rater_sds for i in item_sds for n in rater_counts]
    streams = np.random.default_rng(seed).spawn(len(settings))
    rows = []
    for (rsd, isd, n), rng in zip(settings, streams):
        rows.append({"rater SD": rsd, "item SD": isd, "raters": n,
                     **run_setting(rng, studies, n, rsd, isd, n_boot)})
    return pd.DataFrame(rows)


def check_floor(df: pd.DataFrame, min_raters: int = 15) -> list[str]:
    """The issue's floor: primary coverage 93-97% and type-I <= 6% with >= min_raters raters per cell."""
    bad = []
    for r in df[df["raters"] >= min_raters].itertuples(index=False):
        cov, t1 = r[df.columns.get_loc("cover primary")], r[df.columns.get_loc("type-I primary")]
        if not (0.93 <= cov <= 0.97 and t1 <= 0.06):
            bad.append(f"rater SD {r[0]}, item SD {r[1]}, {r[2]} raters: coverage {cov:.1%}, type-I {t1:.1%}")
    return bad


def to_markdown(df: pd.DataFrame) -> str:
    pct = [c for c in df.columns if c.startswith(("cover", "type-I", "Holm", "power"))]
    out = df.copy()
    for c in pct:
        out[c] = out[c].map(lambda x: f"{100 * x:.1f}")
    out["min df"] = out["min df"].map(lambda x: f"{x:.0f}")
    lines = ["| " + " | ".join(out.columns) + " |", "|" + "---|" * len(out.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in out.itertuples(index=False)]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--studies", type=int, default=500, help="simulated studies per setting (default 500)")
    p.add_argument("--boot", type=int, default=1000, help="rater bootstrap resamples per study (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="also write the table (markdown) here")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    df = calibrate(a.studies, a.seed, a.boot)
    table = to_markdown(df)
    print(f"{a.studies} studies per setting, {CELLS} cells, {VOTES_PER_RATER} votes per rater per cell, "
          f"{ITEMS_PER_CELL} items per cell; figures in % ({time.perf_counter() - t0:.0f} s)")
    print(table)
    bad = check_floor(df)
    se = 100 * np.sqrt(0.05 * 0.95 / a.studies)
    print("floor (>= 15 raters: primary covers 93-97%, type-I <= 6%): " + ("met" if not bad else
                                                                          "NOT met: " + "; ".join(bad)))
    print(f"Monte Carlo standard error of a 5% rate at {a.studies} studies: {se:.1f} points "
          "(more --studies for a finer answer)")
    if a.out:
        a.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
