"""Study report: the lecture's tables of preference percentages, with their uncertainty and rater checks.

    python -m eval_studies.report votes.csv [votes-2.csv ...] --format md --out report.md
    python -m eval_studies.report votes.csv --format json --out report.json --target ours
    python -m eval_studies.report votes-guided-retrieval-a.csv votes-guided-retrieval-b.csv --multi-study --out r.md
    python -m eval_studies.report --plan --rate 0.6 --alpha 0.05 --power 0.8 [--icc 0.056]
    python -m eval_studies.report --calibrate          (coverage and error rates of every interval and test)
    python -m eval_studies.report --bench

Table 1 (pairwise): one row per study, one column per baseline, the % of votes preferring the target.
Table 2 (real vs fake): one row per study, one column per condition, the % of votes judging it real, and each
condition's difference from natural images. Each cell gets the primary interval and test (two-way
cluster-robust over raters and items), Holm-adjusted within its study and task, and the secondary Wilson,
Clopper-Pearson and exact binomial columns that assume independent votes. docs/report.md explains each.
Studies holding the lecture's conditions (eval_studies.lecture: ours, hr, pb, dh, caf, ce, im, glcic,
natural; study ids ending in retrieval-a / retrieval-b) get the lecture's layout: rows "Retrieval (a)",
"Retrieval (b)", its column labels and order, cells at its precision.

The work is in eval_studies.analysis (numbers), rater_checks (rater quality), render and charts (files),
calibration (the benchmark); this module is the command line, the plan and the timing bench.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from eval_studies import stats
from eval_studies.analysis import CELL_COLUMNS, NATURAL_NAMES, Report, analyse, cell_stats  # noqa: F401
from eval_studies.charts import charts  # noqa: F401
from eval_studies.render import (FORMATS, SUFFIX, csv_safe, fmt_p, json_cells, quality_rows,  # noqa: F401
                                 render_html, render_json, render_latex, render_markdown, sections, write_csv,
                                 write_report)
from eval_studies.vote_reader import load_votes

CLI_FORMATS = FORMATS + ("json",)
PLAN_RATER_SD = 0.5     # the calibration's middle rater logit SD: its intra-rater correlation is --plan's default
PLAN_VOTES_PER_RATER = (5, 10, 20, 40)


def plan_table(rates, alpha: float, power: float) -> pd.DataFrame:
    """Votes per cell for the exact binomial test (which assumes independent votes)."""
    rows = [stats.sample_size(r, alpha, power) for r in rates]
    return pd.DataFrame({"preference": [f"{100 * r.rate:.0f}%" for r in rows], "alpha": alpha, "power": power,
                         "votes per cell (normal approx.)": [r.n_normal for r in rows],
                         "first n reaching the power": [r.n_exact for r in rows],
                         "n from which power stays above": [r.n_stays for r in rows],
                         "exact power there": [f"{r.stays_power:.3f}" for r in rows]})


def rater_plan_table(rates, alpha: float, power: float, icc: float, per_rater=PLAN_VOTES_PER_RATER) -> pd.DataFrame:
    """Raters needed per cell, for several votes per rater, for the primary (cluster-robust) test."""
    rows = []
    for rate in rates:
        stats.sample_size(rate, alpha, power)             # the same checks of rate, alpha and power
        for m in per_rater:
            n, pw = stats.raters_needed(m, rate, alpha, power, icc)
            rows.append({"preference": f"{100 * rate:.0f}%", "votes per rater": m,
                         "raters": n if n > 0 else "over 5000", "votes per cell": n * m if n > 0 else "",
                         "power there": f"{pw:.3f}" if n > 0 else ""})
    return pd.DataFrame(rows)


def bench(n_votes: int = 100_000, n_boot: int = 1000, raters: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Time each stage on a simulated log of n_votes scored votes (the lecture's retrieval (a), 16 cells, every
    cell the same size)."""
    import tempfile
    from dataclasses import replace

    from eval_studies import simulate

    spec = replace(simulate.LECTURE, votes_per_cell=n_votes // 16, natural_votes=None, printed={})
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "votes.csv"
        simulate.write_log(simulate.simulate(spec, raters=raters, seed=seed), log)
        t0 = time.perf_counter()
        votes = load_votes([log])
        t1 = time.perf_counter()
        rep = analyse(votes, n_boot=n_boot, seed=seed)
        t2 = time.perf_counter()
        write_report(rep, "html", Path(tmp) / "report.html")
        t3 = time.perf_counter()
        write_report(rep, "csv", Path(tmp) / "report.csv")
        t4 = time.perf_counter()
    rows = [("read + validate log", t1 - t0), (f"analyse ({n_boot} rater resamples)", t2 - t1),
            ("html report with charts", t3 - t2), ("csv report with charts", t4 - t3), ("total", t4 - t0)]
    df = pd.DataFrame(rows, columns=["stage", "seconds"])
    df.attrs.update(votes=len(votes.frame), scored=rep.votes_counted, raters=raters)
    return df


def _plan(a) -> int:
    rates = a.rate or [0.55, 0.6, 0.65, 0.7, 0.75, 0.8]
    icc = a.icc if a.icc is not None else stats.intra_rater_correlation(PLAN_RATER_SD)
    try:
        votes = plan_table(rates, a.alpha, a.power)
        raters = rater_plan_table(rates, a.alpha, a.power, icc)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Raters per cell for the report's primary test (two-way cluster-robust t; alpha {a.alpha}, power "
          f"{a.power}), when two votes of one rater correlate by {icc:.3f}"
          + (" (--icc)" if a.icc is not None else f" (the calibration's rater logit SD {PLAN_RATER_SD:g}; --icc to "
             "change)") + ". Each count is the one from which power stays above the target; items are assumed "
          "many (at least as many as raters):")
    print(raters.to_string(index=False))
    print(f"\nVotes per cell if every vote were independent (exact binomial test vs 50%; a lower bound):")
    print(votes.to_string(index=False))
    print("With several cells, Holm's correction tests the smallest p at alpha/cells: plan with that alpha "
          "for a strict guarantee. More raters with fewer votes each buy more power than the same votes from "
          "fewer raters.")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="*", type=Path, help="vote log CSV files (replicas of one study)")
    p.add_argument("--format", choices=CLI_FORMATS, default="md")
    p.add_argument("--out", type=Path, help="report file (charts are written beside it)")
    p.add_argument("--target", help="the method compared with every baseline (default: the condition that "
                                    "appears in every pairwise pair)")
    p.add_argument("--natural", help="the condition holding natural images (default: one named natural, real, ...)")
    p.add_argument("--multi-study", action="store_true", help="allow logs of several studies: one row each")
    p.add_argument("--boot", type=int, default=1000, help="rater bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--max-catch-failures", type=int, default=0,
                   help="raters with more failed catch trials than this are flagged (default 0)")
    p.add_argument("--plan", action="store_true", help="print raters and votes needed per cell and exit")
    p.add_argument("--rate", type=float, action="append", help="--plan: preference rate(s) to detect")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--power", type=float, default=0.8)
    p.add_argument("--icc", type=float, help="--plan: correlation of two votes of one rater (default: from the "
                                             "calibration's rater logit SD 0.5)")
    p.add_argument("--calibrate", action="store_true", help="run the calibration benchmark (about a minute) and exit")
    p.add_argument("--studies", type=int, default=500, help="--calibrate: simulated studies per setting")
    p.add_argument("--bench", action="store_true", help="time the report on 100,000 simulated votes and exit")
    a = p.parse_args(argv)

    if a.plan:
        return _plan(a)
    if a.calibrate:
        from eval_studies import calibration
        return calibration.main(["--studies", str(a.studies), "--seed", str(a.seed), "--boot", str(a.boot)]
                                + (["--out", str(a.out)] if a.out else []))
    if a.bench:
        df = bench(n_boot=a.boot, seed=a.seed)
        print(f"Report on {df.attrs['votes']} votes ({df.attrs['scored']} scored) from {df.attrs['raters']} "
              f"raters, {a.boot} rater resamples:")
        print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        return 0
    if not a.logs:
        p.error("give one or more vote logs (or --plan / --calibrate / --bench)")
    if a.out is None:
        p.error("--out PATH is required")
    try:
        votes = load_votes(a.logs, multi_study=a.multi_study)
        rep = analyse(votes, target=a.target, natural=a.natural, n_boot=a.boot, seed=a.seed, level=a.level,
                      max_catch_failures=a.max_catch_failures)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for f in write_report(rep, a.format, a.out):
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
