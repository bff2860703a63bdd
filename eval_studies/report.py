"""Study report: the lecture's tables of preference percentages, with their uncertainty and rater checks.

    python -m eval_studies.report votes.csv [votes-2.csv ...] --format md --out report.md
    python -m eval_studies.report votes.csv --format html --out report.html --target ours
    python -m eval_studies.report --plan --rate 0.6 --alpha 0.05 --power 0.8
    python -m eval_studies.report --bench

Table 1 (pairwise): one row per study, one column per baseline, the % of votes preferring the target.
Table 2 (real vs fake): one row per study, one column per condition, the % of votes judging it real.
Each cell also gets votes, Wilson and Clopper-Pearson 95% intervals, an exact binomial p against 50%, the
Holm-adjusted p across its table, and a 95% interval from resampling raters. docs/report.md explains each.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from eval_studies import stats
from eval_studies.vote_reader import Votes, load_votes

FORMATS = ("md", "csv", "latex", "html")
SUFFIX = {"md": ".md", "csv": ".csv", "latex": ".tex", "html": ".html"}
NATURAL_NAMES = ("natural", "real", "photo", "photos", "natural_images", "original", "ground_truth", "gt")
FAST_MS = 300.0      # answers faster than this cannot have looked at the image
SLOW_IQR = 3.0       # slower than Q3 + 3 IQR of log times: the rater probably left the page
OUTLIER_SHARE = 0.1  # raters listed by name when this share of their answers is too fast or too slow
CELL_COLUMNS = ["table", "raters", "study_id", "target", "condition", "votes", "successes", "percent",
                "wilson_low", "wilson_high", "cp_low", "cp_high", "boot_low", "boot_high", "p_value", "p_holm"]


@dataclass
class Report:
    study_ids: list[str]
    files: list[str]
    target: str | None
    natural: str | None
    level: float
    n_boot: int
    seed: int
    votes_read: int
    votes_counted: int
    exclusions: dict[str, int]
    cells: pd.DataFrame                  # CELL_COLUMNS; raters "all" and "without catch failures"
    raters: pd.DataFrame                 # one row per rater: votes, catch results, response-time outliers
    failing_raters: list[str]
    position: dict
    agreement: pd.DataFrame
    ranking: pd.DataFrame
    ranking_note: str
    rt_limits: tuple[float, float]
    notes: list[str] = field(default_factory=list)

    def table(self, kind: str, raters: str = "all") -> pd.DataFrame:
        c = self.cells
        return c[(c["table"] == kind) & (c["raters"] == raters)].reset_index(drop=True)

    def wide(self, kind: str, raters: str = "all") -> pd.DataFrame:
        """The lecture's layout: one row per study, one column per baseline/condition, '76.0%' cells."""
        t = self.table(kind, raters)
        if t.empty:
            return pd.DataFrame()
        cols = list(dict.fromkeys(t["condition"]))
        w = t.assign(cell=t["percent"].map(fmt_pct)).pivot(index="study_id", columns="condition", values="cell")
        w = w.reindex(columns=cols).fillna("").rename_axis(None, axis=1).reset_index()
        return w.rename(columns={"study_id": "Study"})


def fmt_pct(x: float) -> str:
    return "" if pd.isna(x) else f"{x:.1f}%"


def fmt_p(p: float) -> str:
    if pd.isna(p):
        return ""
    if p < 1e-300:          # below double precision: binomtest returns 0
        return "<1e-300"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def fmt_ci(lo: float, hi: float) -> str:
    return "" if pd.isna(lo) else f"{100 * lo:.1f} to {100 * hi:.1f}"


# --------------------------------------------------------------------------- analysis

def _detect_target(pairs: pd.DataFrame, target: str | None) -> str | None:
    if pairs.empty:
        return target
    conds = sorted(set(pairs["left_condition"]) | set(pairs["right_condition"]))
    if target is not None:
        if target not in conds:
            raise ValueError(f"--target {target!r} does not occur in the pairwise votes; conditions: "
                             f"{', '.join(conds)}")
        return target
    unique_pairs = {frozenset(p) for p in zip(pairs["left_condition"], pairs["right_condition"])}
    common = set.intersection(*(set(p) for p in unique_pairs))
    if len(common) == 1:
        return common.pop()
    raise ValueError("cannot tell which condition is the target method (no single condition appears in every "
                     f"pairwise pair; conditions: {', '.join(conds)}); pass --target NAME")


def _detect_natural(conditions: list[str], natural: str | None) -> str | None:
    if natural is not None:
        if natural not in conditions:
            raise ValueError(f"--natural {natural!r} does not occur in the real_fake votes; conditions: "
                             f"{', '.join(conditions) or '(none)'}")
        return natural
    hits = [c for c in conditions if c.lower() in NATURAL_NAMES]
    return hits[0] if len(hits) == 1 else None


def cell_stats(trials: pd.DataFrame, kind: str, target: str | None, raters_label: str, level: float,
               weights: np.ndarray, rater_codes: pd.Index) -> pd.DataFrame:
    """Statistics of each (study, condition) cell. trials: rater_key, study_id, condition, success."""
    if trials.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    s_codes, s_names = pd.factorize(trials["study_id"], sort=True)
    c_codes, c_names = pd.factorize(trials["condition"], sort=True)
    cell_codes, combos = pd.factorize(s_codes * len(c_names) + c_codes, sort=True)
    cells = [(s_names[u // len(c_names)], c_names[u % len(c_names)]) for u in combos]
    r = rater_codes.get_indexer(trials["rater_key"])
    n_r, n_c = len(rater_codes), len(cells)
    succ = trials["success"].to_numpy(dtype=float)
    flat = r * n_c + cell_codes
    # 1. per-rater, per-cell counts; their column sums are the cell counts
    s_rc = np.bincount(flat, weights=succ, minlength=n_r * n_c).reshape(n_r, n_c)
    t_rc = np.bincount(flat, minlength=n_r * n_c).reshape(n_r, n_c).astype(float)
    k, n = s_rc.sum(axis=0).round().astype(int), t_rc.sum(axis=0).astype(int)
    wl, wh = stats.wilson_interval(k, n, level)
    cl, ch = stats.clopper_pearson_interval(k, n, level)
    bl, bh = stats.rater_bootstrap_interval(s_rc, t_rc, weights, level)
    p = stats.binom_p(k, n)
    out = pd.DataFrame({
        "table": kind, "raters": raters_label,
        "study_id": [c[0] for c in cells], "target": target if kind == "pairwise" else "",
        "condition": [c[1] for c in cells], "votes": n, "successes": k, "percent": 100 * k / n,
        "wilson_low": wl, "wilson_high": wh, "cp_low": cl, "cp_high": ch, "boot_low": bl, "boot_high": bh,
        "p_value": p, "p_holm": stats.holm(p),
    })
    return out[CELL_COLUMNS]


def _order_conditions(cells: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    conds = sorted(set(cells["condition"]))
    order = [c for c in first if c in conds] + [c for c in conds if c not in first]
    key = cells["condition"].map({c: i for i, c in enumerate(order)})
    return cells.assign(_k=key).sort_values(["study_id", "_k"]).drop(columns="_k").reset_index(drop=True)


def analyse(votes: Votes, target: str | None = None, natural: str | None = None, n_boot: int = 1000,
            seed: int = 0, level: float = 0.95, max_catch_failures: int = 0) -> Report:
    """Every table and check of the report, as data frames (no formatting, no files)."""
    frame = votes.frame
    rng = np.random.default_rng(seed)
    key = frame["study_id"] + "\x1f" + frame["rater_id"]
    frame = frame.assign(rater_key=key)
    scored = frame[frame["excluded"] == ""]
    pairs = scored[scored["task"] == "pairwise"]
    rf = scored[scored["task"] == "real_fake"]
    notes: list[str] = []

    target = _detect_target(pairs, target)
    natural = _detect_natural(sorted(set(rf["left_condition"])), natural)

    # 1. rater quality: catch trials, response times
    catch = frame[(frame["trial_kind"] == "catch") & (frame["excluded"] == "catch trial")]
    rater_keys = pd.Index(sorted(set(frame.loc[frame["trial_kind"] != "practice", "rater_key"])))
    rt_all = frame.loc[(frame["trial_kind"] != "practice") & (frame["response_ms"] > 0), "response_ms"]
    if len(rt_all):
        # response times are right-skewed: the fence is taken on log times, then reported in ms
        q1, q3 = np.percentile(np.log(rt_all), [25, 75])
        slow_limit = float(np.exp(q3 + SLOW_IQR * (q3 - q1)))
    else:
        slow_limit = float("nan")
    judged = frame[frame["trial_kind"] != "practice"]
    per = pd.DataFrame(index=rater_keys)
    per["study_id"] = pd.Series([k.split("\x1f", 1)[0] for k in rater_keys], index=rater_keys, dtype=object)
    per["rater_id"] = pd.Series([k.split("\x1f", 1)[1] for k in rater_keys], index=rater_keys, dtype=object)
    per["scored_votes"] = scored.groupby("rater_key").size().reindex(rater_keys, fill_value=0)
    per["catch_trials"] = catch.groupby("rater_key").size().reindex(rater_keys, fill_value=0)
    per["catch_failed"] = (catch["correct"] == False).groupby(catch["rater_key"]).sum().reindex(  # noqa: E712
        rater_keys, fill_value=0).astype(int)
    per["fast_answers"] = (judged["response_ms"] < FAST_MS).groupby(judged["rater_key"]).sum().reindex(
        rater_keys, fill_value=0).astype(int)
    per["slow_answers"] = (judged["response_ms"] > slow_limit).groupby(judged["rater_key"]).sum().reindex(
        rater_keys, fill_value=0).astype(int)
    per["median_ms"] = judged.groupby("rater_key")["response_ms"].median().reindex(rater_keys)
    failing = per.index[per["catch_failed"] > max_catch_failures].tolist()
    unjudged = int(catch["correct"].isna().sum())
    if unjudged:
        notes.append(f"{unjudged} catch vote(s) carry no correct flag and could not be checked")
    if catch.empty:
        notes.append("the logs hold no catch trials, so no rater could be checked for attention")

    # 2. the two tables, with all raters and without those who failed catch trials
    weights_all = stats.rater_resample_weights(len(rater_keys), n_boot, rng)
    pw = pairs[(pairs["left_condition"] == target) | (pairs["right_condition"] == target)] if target else pairs[:0]
    pw_trials = pd.DataFrame({
        "rater_key": pw["rater_key"], "study_id": pw["study_id"],
        "condition": np.where(pw["left_condition"] == target, pw["right_condition"], pw["left_condition"]),
        "success": (pw["chosen_condition"] == target).to_numpy()})
    rf_trials = pd.DataFrame({"rater_key": rf["rater_key"], "study_id": rf["study_id"],
                              "condition": rf["left_condition"], "success": (rf["choice"] == "real").to_numpy()})
    kept = pd.Index([k for k in rater_keys if k not in set(failing)])
    weights_kept = stats.rater_resample_weights(len(kept), n_boot, rng)
    parts = []
    for label, keys, w in (("all", rater_keys, weights_all), ("without catch failures", kept, weights_kept)):
        if label != "all" and not failing:
            continue
        sel_pw = pw_trials[pw_trials["rater_key"].isin(keys)]
        sel_rf = rf_trials[rf_trials["rater_key"].isin(keys)]
        parts.append(_order_conditions(cell_stats(sel_pw, "pairwise", target, label, level, w, keys), []))
        parts.append(_order_conditions(cell_stats(sel_rf, "real_fake", target, label, level, w, keys),
                                       [c for c in (natural, target) if c]))
    cells = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=CELL_COLUMNS)
    if len(pairs) and len(pw) < len(pairs):
        notes.append(f"{len(pairs) - len(pw)} pairwise vote(s) compare two baselines; they enter the "
                     "Bradley-Terry ranking but not Table 1")

    # 3. position bias over scored pairwise votes
    n_pos, k_left = len(pairs), int((pairs["choice"] == "left").sum())
    lo, hi = stats.wilson_interval(k_left, n_pos, level)
    position = {"votes": n_pos, "left": k_left, "left_rate": k_left / n_pos if n_pos else float("nan"),
                "wilson_low": float(lo), "wilson_high": float(hi),
                "p_value": float(stats.binom_p(k_left, n_pos)[0])}

    # 4. agreement between raters on the same unit (one rating per rater and unit)
    rows = []
    for task, unit, value in (
            ("pairwise", pairs["study_id"] + "|" + pairs["item"] + "|" + np.minimum(
                pairs["left_condition"], pairs["right_condition"]) + "|" + np.maximum(
                pairs["left_condition"], pairs["right_condition"]), pairs["chosen_condition"]),
            ("real_fake", rf["study_id"] + "|" + rf["item"] + "|" + rf["left_condition"], rf["choice"])):
        d = pd.DataFrame({"rater": scored.loc[unit.index, "rater_key"], "unit": unit, "value": value})
        d = d.drop_duplicates(["rater", "unit"], keep="first")
        a, units, ratings = stats.krippendorff_alpha_nominal(d["unit"].to_numpy(), d["value"].to_numpy())
        rows.append({"task": task, "alpha": a, "units": units, "ratings": ratings})
    agreement = pd.DataFrame(rows)

    # 5. Bradley-Terry ranking of every condition in the pairwise votes
    ranking, rnote = pd.DataFrame(columns=["rank", "condition", "log_strength", "low", "high", "wins",
                                           "comparisons"]), ""
    if len(pairs):
        names = sorted(set(pairs["left_condition"]) | set(pairs["right_condition"]))
        idx = {c: i for i, c in enumerate(names)}
        kk = len(names)
        loser = np.where(pairs["choice"] == "left", pairs["right_condition"], pairs["left_condition"])
        win_i = pairs["chosen_condition"].map(idx).to_numpy()
        lose_i = pd.Series(loser, index=pairs.index).map(idx).to_numpy()
        r = rater_keys.get_indexer(pairs["rater_key"])
        rw = np.bincount((r * kk + win_i) * kk + lose_i, minlength=len(rater_keys) * kk * kk)
        bt = stats.bradley_terry(names, rw.reshape(len(rater_keys), kk, kk).astype(float), weights_all, level)
        pooled = rw.reshape(len(rater_keys), kk, kk).sum(axis=0)
        ranking = pd.DataFrame({"condition": names, "log_strength": bt.log_strength, "low": bt.lo,
                                "high": bt.hi, "wins": pooled.sum(axis=1),
                                "comparisons": pooled.sum(axis=1) + pooled.sum(axis=0)})
        ranking = ranking.sort_values("log_strength", ascending=False).reset_index(drop=True)
        ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
        rnote = bt.note
        if bt.boot_dropped:
            rnote = (rnote + "; " if rnote else "") + (
                f"{bt.boot_dropped} of {n_boot} bootstrap replicates left out of the interval: in them some "
                "condition won or lost every comparison")

    return Report(
        study_ids=votes.study_ids, files=votes.files, target=target, natural=natural, level=level,
        n_boot=n_boot, seed=seed, votes_read=len(frame), votes_counted=len(scored),
        exclusions=votes.exclusion_counts(), cells=cells,
        raters=per.reset_index(drop=True), failing_raters=[k.split("\x1f", 1)[1] for k in failing],
        position=position, agreement=agreement, ranking=ranking, ranking_note=rnote,
        rt_limits=(FAST_MS, slow_limit), notes=notes)


# --------------------------------------------------------------------------- charts

def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def charts(rep: Report) -> dict[str, bytes]:
    """PNG bytes: 'pairwise', 'realism', 'ranking' (those with data); bars with 95% Wilson whiskers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    for kind, name, ylabel in (("pairwise", "pairwise", f"% of votes preferring {rep.target}"),
                               ("real_fake", "realism", "% of votes judging it real")):
        t = rep.table(kind)
        if t.empty:
            continue
        studies = list(dict.fromkeys(t["study_id"]))
        fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(t) + 1.5), 3.4))
        labels = []
        for i, row in t.iterrows():
            colour = f"C{studies.index(row['study_id']) % 10}"
            ax.bar(i, row["percent"], color=colour, alpha=0.85)
            ax.errorbar(i, row["percent"], yerr=[[row["percent"] - 100 * row["wilson_low"]],
                                                 [100 * row["wilson_high"] - row["percent"]]],
                        color="black", capsize=4, lw=1)
            ax.text(i, 2, f"{row['percent']:.1f}%", ha="center", va="bottom", fontsize=8, color="white")
            labels.append(row["condition"] if len(studies) == 1 else f"{row['condition']}\n{row['study_id']}")
        ax.axhline(50, color="grey", ls="--", lw=1)
        ax.set_xticks(range(len(t)), labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_title(("Table 1: pairwise preference" if kind == "pairwise" else "Table 2: real vs fake")
                     + f" ({100 * rep.level:g}% Wilson intervals)", fontsize=10)
        out[name] = _fig_png(fig)
    if len(rep.ranking):
        r = rep.ranking.iloc[::-1].reset_index(drop=True)
        fig, ax = plt.subplots(figsize=(5, 0.45 * len(r) + 1.2))
        has = r["low"].notna()
        ax.errorbar(r["log_strength"], range(len(r)),
                    xerr=[np.where(has, r["log_strength"] - r["low"], 0),
                          np.where(has, r["high"] - r["log_strength"], 0)],
                    fmt="o", color="C0", capsize=4)
        ax.set_yticks(range(len(r)), r["condition"], fontsize=8)
        ax.axvline(0, color="grey", ls="--", lw=1)
        ax.set_xlabel(f"Bradley-Terry log-strength ({100 * rep.level:g}% rater bootstrap)", fontsize=9)
        out["ranking"] = _fig_png(fig)
    return out


# --------------------------------------------------------------------------- rendering

def _detail(rep: Report, kind: str, raters: str = "all") -> pd.DataFrame:
    t = rep.table(kind, raters)
    what = f"Preferring {rep.target}" if kind == "pairwise" else "Judged real"
    lv = f"{100 * rep.level:g}%"
    return pd.DataFrame({
        "Study": t["study_id"], "Baseline" if kind == "pairwise" else "Condition": t["condition"],
        "Votes": t["votes"], what: t["successes"], "%": t["percent"].map(fmt_pct),
        f"Wilson {lv}": [fmt_ci(a, b) for a, b in zip(t["wilson_low"], t["wilson_high"])],
        f"Clopper-Pearson {lv}": [fmt_ci(a, b) for a, b in zip(t["cp_low"], t["cp_high"])],
        f"Rater bootstrap {lv}": [fmt_ci(a, b) for a, b in zip(t["boot_low"], t["boot_high"])],
        "p vs 50%": t["p_value"].map(fmt_p), "p (Holm)": t["p_holm"].map(fmt_p)})


def _raters_table(rep: Report) -> pd.DataFrame:
    r = rep.raters
    answers = (r["scored_votes"] + r["catch_trials"]).clip(lower=1)
    odd = (r["fast_answers"] + r["slow_answers"]) / answers >= OUTLIER_SHARE
    flagged = r[(r["catch_failed"] > 0) | odd]
    return pd.DataFrame({
        "Rater": flagged["rater_id"] if len(rep.study_ids) <= 1 else flagged["study_id"] + "/" + flagged["rater_id"],
        "Scored votes": flagged["scored_votes"], "Catch trials": flagged["catch_trials"],
        "Catch failed": flagged["catch_failed"], f"Faster than {FAST_MS:.0f} ms": flagged["fast_answers"],
        "Slow outliers": flagged["slow_answers"], "Median ms": flagged["median_ms"].round(0)})


def _ranking_table(rep: Report) -> pd.DataFrame:
    r = rep.ranking
    return pd.DataFrame({"Rank": r["rank"], "Condition": r["condition"],
                         "Log-strength": r["log_strength"].map(lambda x: f"{x:+.2f}"),
                         "Bootstrap 95%": [("" if pd.isna(a) else f"{a:+.2f} to {b:+.2f}")
                                           for a, b in zip(r["low"], r["high"])],
                         "Wins": r["wins"], "Comparisons": r["comparisons"]})


def sections(rep: Report) -> list[tuple[str, str, object]]:
    """The report as an ordered list of (kind, title, content): kind is 'h1', 'h2', 'p', 'table', 'chart'."""
    s: list[tuple[str, str, object]] = []
    n_rat = int((rep.raters["scored_votes"] > 0).sum())
    s.append(("h1", "Study report: " + ", ".join(rep.study_ids), None))
    ex = ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in rep.exclusions.items()) or "none"
    s.append(("p", "", f"Logs: {', '.join(Path(f).name for f in rep.files)}. Votes read: {rep.votes_read}; "
                       f"counted in the tables: {rep.votes_counted} from {n_rat} raters; set aside: {ex}."))
    if rep.target:
        s.append(("p", "", f"Target method: {rep.target}. Natural images: {rep.natural or 'not identified'}. "
                           f"Intervals are {rep.level:.0%}; the rater bootstrap uses {rep.n_boot} resamples "
                           f"(seed {rep.seed}). Chance is 50%."))
    for n in rep.notes:
        s.append(("p", "", "Note: " + n + "."))
    if len(rep.table("pairwise")):
        s.append(("h2", f"Table 1. Pairwise: % of votes preferring {rep.target} over each baseline", None))
        s.append(("table", "", rep.wide("pairwise")))
        s.append(("chart", "pairwise", None))
        s.append(("table", "Per cell", _detail(rep, "pairwise")))
    if len(rep.table("real_fake")):
        s.append(("h2", "Table 2. Real vs fake: % of votes judging the image real", None))
        s.append(("table", "", rep.wide("real_fake")))
        s.append(("chart", "realism", None))
        s.append(("table", "Per cell", _detail(rep, "real_fake")))
    if rep.cells.empty:
        s.append(("p", "", "No scored votes yet: nothing to tabulate."))

    s.append(("h2", "Rater quality", None))
    r = rep.raters
    s.append(("p", "", f"Catch trials: {int(r['catch_trials'].sum())} answered; {len(rep.failing_raters)} "
                       f"rater(s) failed at least one: {', '.join(rep.failing_raters) or 'none'}."))
    if rep.failing_raters:
        if len(rep.table("pairwise", "without catch failures")):
            s.append(("table", "Table 1 without the raters who failed catch trials",
                      rep.wide("pairwise", "without catch failures")))
            s.append(("table", "Per cell", _detail(rep, "pairwise", "without catch failures")))
        if len(rep.table("real_fake", "without catch failures")):
            s.append(("table", "Table 2 without the raters who failed catch trials",
                      rep.wide("real_fake", "without catch failures")))
            s.append(("table", "Per cell", _detail(rep, "real_fake", "without catch failures")))
    pos = rep.position
    if pos["votes"]:
        s.append(("p", "", f"Position bias: the left image was chosen in {pos['left']} of {pos['votes']} scored "
                           f"pairwise votes ({100 * pos['left_rate']:.1f}%, Wilson {100 * rep.level:g}% "
                           f"{fmt_ci(pos['wilson_low'], pos['wilson_high'])}, p vs 50% = {fmt_p(pos['p_value'])})."))
    fast, slow = rep.rt_limits
    s.append(("p", "", f"Response times: {int(r['fast_answers'].sum())} answer(s) faster than {fast:.0f} ms and "
                       f"{int(r['slow_answers'].sum())} slower than {slow:.0f} ms "
                       f"(Q3 + {SLOW_IQR:g} IQR of log times); they "
                       "are counted in the tables. Every rater's counts are in the csv report (REPORT-raters.csv)."))
    rt = _raters_table(rep)
    if len(rt):
        s.append(("table", f"Raters with a failed catch trial, or with {OUTLIER_SHARE:.0%} or more of their "
                           "answers too fast or too slow", rt))
    ag = rep.agreement
    s.append(("table", "Agreement between raters (Krippendorff's alpha, nominal; units rated by 2+ raters)",
              pd.DataFrame({"Task": ag["task"], "Alpha": ag["alpha"].map(lambda a: "" if pd.isna(a) else f"{a:.3f}"),
                            "Units": ag["units"], "Ratings": ag["ratings"]})))
    if len(rep.ranking):
        s.append(("h2", "Bradley-Terry ranking of all conditions (pairwise votes)", None))
        s.append(("table", "", _ranking_table(rep)))
        s.append(("chart", "ranking", None))
        if rep.ranking_note:
            s.append(("p", "", "Note: " + rep.ranking_note + "."))
    s.append(("p", "", "How each number is computed: docs/report.md."))
    return s


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def render_markdown(rep: Report, chart_files: dict[str, str]) -> str:
    out = []
    for kind, title, content in sections(rep):
        if kind == "h1":
            out.append(f"# {title}\n")
        elif kind == "h2":
            out.append(f"## {title}\n")
        elif kind == "p":
            out.append(f"{content}\n")
        elif kind == "chart" and title in chart_files:
            out.append(f"![{title} chart]({chart_files[title]})\n")
        elif kind == "table":
            if title:
                out.append(f"**{title}**\n")
            df = content
            out.append("| " + " | ".join(_md_cell(c) for c in df.columns) + " |")
            out.append("|" + "---|" * len(df.columns))
            out.extend("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in df.itertuples(index=False))
            out.append("")
    return "\n".join(out)


def render_html(rep: Report, chart_png: dict[str, bytes]) -> str:
    e = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>Study report</title><style>",
           "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
           "table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:.25em .6em;"
           "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
           "img{max-width:100%}", "</style></head><body>"]
    for kind, title, content in sections(rep):
        if kind in ("h1", "h2"):
            out.append(f"<{kind}>{e(title)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{e(content)}</p>")
        elif kind == "chart" and title in chart_png:
            b64 = base64.b64encode(chart_png[title]).decode()
            out.append(f"<img alt='{e(title)} chart' src='data:image/png;base64,{b64}'>")
        elif kind == "table":
            if title:
                out.append(f"<h3>{e(title)}</h3>")
            df = content
            heads = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
            out.append(f"<table><thead><tr>{heads}</tr></thead><tbody>")
            out.extend("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>"
                       for row in df.itertuples(index=False))
            out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(x) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(x))


def render_latex(rep: Report, chart_files: dict[str, str]) -> str:
    """A LaTeX fragment (booktabs, graphicx) to \\input into a paper or slides."""
    out = ["% Study report; needs \\usepackage{booktabs,graphicx,caption}"]
    for kind, title, content in sections(rep):
        if kind == "h1":
            out.append(f"\\section*{{{tex_escape(title)}}}")
        elif kind == "h2":
            out.append(f"\\subsection*{{{tex_escape(title)}}}")
        elif kind == "p":
            out.append(tex_escape(content) + "\n")
        elif kind == "chart" and title in chart_files:
            out.append("\\begin{center}\\includegraphics[width=0.8\\linewidth]{"
                       + chart_files[title] + "}\\end{center}")
        elif kind == "table":
            df = content
            out.append("\\begin{table}[h]\\centering\\small")
            if title:
                out.append(f"\\caption*{{{tex_escape(title)}}}")
            out.append("\\begin{tabular}{l" + "r" * (len(df.columns) - 1) + "}\\toprule")
            out.append(" & ".join(tex_escape(c) for c in df.columns) + " \\\\\\midrule")
            out.extend(" & ".join(tex_escape(v) for v in row) + " \\\\" for row in df.itertuples(index=False))
            out.append("\\bottomrule\\end{tabular}\\end{table}")
    return "\n".join(out) + "\n"


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas: a text cell starting with = + - @ (or tab/CR) gets a leading quote;
    plain numbers such as -0.53 are left alone."""
    s = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(s)
            return s
        except ValueError:
            return "'" + s
    return s


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([csv_safe(c) for c in df.columns])
        for row in df.itertuples(index=False):
            w.writerow([csv_safe(v) for v in row])


def write_report(rep: Report, fmt: str, out: str | Path) -> list[Path]:
    """Write the report and its charts; returns every file written. csv: cell statistics in OUT and the
    rater, quality and ranking tables beside it (OUT-raters.csv, OUT-quality.csv, OUT-ranking.csv)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = []
    png = charts(rep)
    files = {}
    if fmt != "html":
        for name, data in png.items():
            p = out.with_name(f"{out.stem}-{name}.png")
            p.write_bytes(data)
            files[name] = p.name
            written.append(p)
    if fmt == "md":
        out.write_text(render_markdown(rep, files), encoding="utf-8")
    elif fmt == "html":
        out.write_text(render_html(rep, png), encoding="utf-8")
    elif fmt == "latex":
        out.write_text(render_latex(rep, files), encoding="utf-8")
    else:
        write_csv(rep.cells, out)
        side = {"raters": rep.raters.assign(failed_catch=rep.raters["rater_id"].isin(rep.failing_raters)),
                "ranking": rep.ranking, "quality": quality_rows(rep)}
        for name, df in side.items():
            p = out.with_name(f"{out.stem}-{name}.csv")
            write_csv(df, p)
            written.append(p)
    return [out] + written


def quality_rows(rep: Report) -> pd.DataFrame:
    rows = [("votes_read", rep.votes_read), ("votes_counted", rep.votes_counted)]
    rows += [(f"excluded: {k}", v) for k, v in rep.exclusions.items()]
    rows += [("raters_failing_catch", len(rep.failing_raters))]
    rows += [(f"position_{k}", v) for k, v in rep.position.items()]
    rows += [("rt_fast_limit_ms", rep.rt_limits[0]), ("rt_slow_limit_ms", rep.rt_limits[1])]
    rows += [(f"alpha_{r.task}", r.alpha) for r in rep.agreement.itertuples()]
    rows += [(f"alpha_{r.task}_units", r.units) for r in rep.agreement.itertuples()]
    return pd.DataFrame(rows, columns=["quantity", "value"])


# --------------------------------------------------------------------------- plan and bench

def plan_table(rates, alpha: float, power: float) -> pd.DataFrame:
    rows = [stats.sample_size(r, alpha, power) for r in rates]
    return pd.DataFrame({"preference": [f"{100 * r.rate:.0f}%" for r in rows], "alpha": alpha, "power": power,
                         "votes per cell (normal approx.)": [r.n_normal for r in rows],
                         "votes per cell (exact binomial)": [r.n_exact for r in rows],
                         "exact power there": [f"{r.exact_power:.3f}" for r in rows]})


def bench(n_votes: int = 100_000, n_boot: int = 1000, raters: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Time each stage on a simulated log of n_votes scored votes (lecture preset, 10 cells)."""
    import tempfile
    from dataclasses import replace

    from eval_studies import simulate

    spec = replace(simulate.LECTURE, votes_per_cell=n_votes // 10)
    rows = []
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
    rows += [("read + validate log", t1 - t0), (f"analyse ({n_boot} rater resamples)", t2 - t1),
             ("html report with charts", t3 - t2), ("csv report with charts", t4 - t3),
             ("total", t4 - t0)]
    df = pd.DataFrame(rows, columns=["stage", "seconds"])
    df.attrs.update(votes=len(votes.frame), scored=rep.votes_counted, raters=raters)
    return df


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="*", type=Path, help="vote log CSV files (replicas of one study)")
    p.add_argument("--format", choices=FORMATS, default="md")
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
    p.add_argument("--plan", action="store_true", help="print votes needed per cell and exit")
    p.add_argument("--rate", type=float, action="append", help="--plan: preference rate(s) to detect")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--power", type=float, default=0.8)
    p.add_argument("--bench", action="store_true", help="time the report on 100,000 simulated votes and exit")
    a = p.parse_args(argv)

    if a.plan:
        rates = a.rate or [0.55, 0.6, 0.65, 0.7, 0.75, 0.8]
        print(f"Votes per cell for a two-sided binomial test against 50% (alpha {a.alpha}, power {a.power}):")
        print(plan_table(rates, a.alpha, a.power).to_string(index=False))
        print("With several cells, Holm's correction tests the smallest p at alpha/cells: plan with that alpha "
              "for a strict guarantee. Raters who give many votes each make votes less independent: collect "
              "votes from many raters.")
        return 0
    if a.bench:
        df = bench(n_boot=a.boot, seed=a.seed)
        print(f"Report on {df.attrs['votes']} votes ({df.attrs['scored']} scored) from {df.attrs['raters']} "
              f"raters, {a.boot} rater resamples:")
        print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        return 0
    if not a.logs:
        p.error("give one or more vote logs (or --plan / --bench)")
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
