"""Study analysis: every table and check of the report as data frames (no formatting, no files).

Per cell the primary analysis is the two-way (rater x item) cluster-robust interval and t test
(stats.cluster_proportion); Wilson, Clopper-Pearson and the exact binomial test are secondary columns that
assume independent votes; the rater bootstrap is kept beside them. Real-vs-fake cells are compared with
natural images (a difference with a cluster-robust interval). Holm families are one study's one task, with
the natural-image cell outside. docs/report.md explains each number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eval_studies import hype, lecture, rater_checks, stats
from eval_studies.vote_reader import Votes

NATURAL_NAMES = ("natural", "real", "photo", "photos", "natural_images", "original", "ground_truth", "gt")
CELL_COLUMNS = ["table", "raters", "study_id", "target", "condition", "votes", "successes", "percent",
                "n_raters", "n_items", "largest_rater_share", "rater_weighted_percent",
                "primary_low", "primary_high", "primary_test", "primary_p", "primary_p_holm", "primary_df",
                "primary_method", "diff_vs_natural", "diff_low", "diff_high",
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
    raters: pd.DataFrame                 # one row per rater: votes, catch results, time and position checks
    failing_raters: list[str]            # rater ids over --max-catch-failures (raters["failed_catch"] by key)
    position: dict
    agreement: pd.DataFrame
    ranking: pd.DataFrame
    ranking_note: str
    rt_limits: tuple[float, float]
    notes: list[str] = field(default_factory=list)
    max_catch_failures: int = 0
    exclusion_steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    hype_time: pd.DataFrame = field(default_factory=pd.DataFrame)  # eval_studies.hype: HYPE_COLUMNS

    def table(self, kind: str, raters: str = "all") -> pd.DataFrame:
        c = self.cells
        return c[(c["table"] == kind) & (c["raters"] == raters)].reset_index(drop=True)

    def lecture_layout(self, kind: str, raters: str = "all") -> lecture.Layout | None:
        """The lecture's layout of this table (eval_studies.lecture), or None when its conditions differ."""
        t = self.table(kind, raters)
        by_study = {s: list(g["condition"]) for s, g in t.groupby("study_id", sort=True)}
        return lecture.layout(kind, by_study, self.target, self.natural)

    def wide(self, kind: str, raters: str = "all", intervals: bool = False) -> pd.DataFrame:
        """One row per study, one column per baseline/condition, '76.0%' cells; in the lecture's layout (rows
        its retrieval settings, columns its labels in its order, cells at its precision) when the conditions
        are the lecture's. intervals=True adds under each study a row with the primary interval of every cell
        (and, for real vs fake, one with the difference from natural images)."""
        t = self.table(kind, raters)
        if t.empty:
            return pd.DataFrame()
        lay = self.lecture_layout(kind, raters)
        cols = lay.columns if lay else list(dict.fromkeys(t["condition"]))
        studies = lay.rows if lay else sorted(set(t["study_id"]))
        cell = ([lecture.fmt_share(k, n, lecture.DECIMALS[kind]) for k, n in zip(t["successes"], t["votes"])]
                if lay else t["percent"].map(fmt_pct))
        t = t.assign(cell=cell, ci=[fmt_ci(a, b) for a, b in zip(t["primary_low"], t["primary_high"])],
                     diff=[fmt_diff(d, a, b) for d, a, b in zip(t["diff_vs_natural"], t["diff_low"],
                                                                t["diff_high"])])
        rows = [("cell", None)]
        if intervals:
            rows.append(("ci", f"  {100 * self.level:g}% interval"))
            if kind == "real_fake" and t["diff_vs_natural"].notna().any():
                rows.append(("diff", f"  vs {self.natural} ({100 * self.level:g}% interval)"))
        parts = []
        for order, (col, label) in enumerate(rows):
            w = t.pivot(index="study_id", columns="condition", values=col).reindex(index=studies, columns=cols)
            w = w.fillna("").rename_axis(None, axis=1).rename_axis("study_id").reset_index()
            if label is not None:
                w["study_id"] = label
            elif lay:
                w["study_id"] = w["study_id"].map(lay.row_labels)
            parts.append(w.assign(_s=range(len(w)), _o=order))
        w = pd.concat(parts).sort_values(["_s", "_o"], kind="stable").drop(columns=["_s", "_o"])
        if lay:
            w = w.rename(columns=lay.labels)
        return w.reset_index(drop=True).rename(columns={"study_id": "Study"})


def fmt_pct(x: float) -> str:
    return "" if pd.isna(x) else f"{x:.1f}%"


def fmt_ci(lo: float, hi: float) -> str:
    return "" if pd.isna(lo) else f"{100 * lo:.1f} to {100 * hi:.1f}"


def fmt_diff(d: float, lo: float, hi: float) -> str:
    return "" if pd.isna(d) else f"{100 * d:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f})"


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


def _holm_by(p: np.ndarray, families: pd.Series) -> np.ndarray:
    out = np.full(len(p), np.nan)
    for _, idx in families.groupby(families, sort=False).indices.items():
        out[idx] = stats.holm(p[idx])
    return out


def cell_stats(trials: pd.DataFrame, kind: str, target: str | None, raters_label: str, level: float,
               weights: np.ndarray, rater_codes: pd.Index, natural: str | None = None) -> pd.DataFrame:
    """Statistics of each (study, condition) cell. trials: rater_key, study_id, condition, item, success."""
    if trials.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    s_codes, s_names = pd.factorize(trials["study_id"], sort=True)
    c_codes, c_names = pd.factorize(trials["condition"], sort=True)
    cell_codes, combos = pd.factorize(s_codes * len(c_names) + c_codes, sort=True)
    cells = [(s_names[u // len(c_names)], c_names[u % len(c_names)]) for u in combos]
    r = rater_codes.get_indexer(trials["rater_key"])
    i_codes, i_names = pd.factorize(trials["item"])
    item = s_codes * max(len(i_names), 1) + i_codes          # an item is one photo of one study
    n_r, n_c = len(rater_codes), len(cells)
    succ = trials["success"].to_numpy(dtype=float)
    flat = r * n_c + cell_codes
    # 1. per-rater, per-cell counts; their column sums are the cell counts
    s_rc = np.bincount(flat, weights=succ, minlength=n_r * n_c).reshape(n_r, n_c)
    t_rc = np.bincount(flat, minlength=n_r * n_c).reshape(n_r, n_c).astype(float)
    k, n = s_rc.sum(axis=0).round().astype(int), t_rc.sum(axis=0).astype(int)
    # 2. primary: two-way cluster-robust share and test vs 50%
    prim = stats.cluster_proportion(succ, cell_codes, r, item, n_c, level)
    with np.errstate(invalid="ignore", divide="ignore"):
        rater_share = np.nanmean(np.where(t_rc > 0, s_rc / t_rc, np.nan), axis=0)
    out = pd.DataFrame({
        "table": kind, "raters": raters_label,
        "study_id": [c[0] for c in cells], "target": target if kind == "pairwise" else "",
        "condition": [c[1] for c in cells], "votes": n, "successes": k, "percent": 100 * k / n,
        "n_raters": prim.raters.astype(int), "n_items": prim.items.astype(int),
        "largest_rater_share": t_rc.max(axis=0) / n, "rater_weighted_percent": 100 * rater_share,
        "primary_low": prim.low, "primary_high": prim.high, "primary_test": "vs 50%", "primary_p": prim.p,
        "primary_df": prim.df, "primary_method": prim.method,
        "diff_vs_natural": np.nan, "diff_low": np.nan, "diff_high": np.nan})
    # 3. real vs fake: each condition against natural images of its study (the same raters and photos)
    if kind == "real_fake" and natural is not None:
        _vs_natural(out, trials, cell_codes, r, item, natural, level)
    out["primary_p_holm"] = _holm_by(out["primary_p"].to_numpy(dtype=float), out["study_id"])
    # 4. secondary, assuming independent votes; and the rater bootstrap
    out["wilson_low"], out["wilson_high"] = stats.wilson_interval(k, n, level)
    out["cp_low"], out["cp_high"] = stats.clopper_pearson_interval(k, n, level)
    out["boot_low"], out["boot_high"] = stats.rater_bootstrap_interval(s_rc, t_rc, weights, level)
    out["p_value"] = stats.binom_p(k, n)
    out["p_holm"] = _holm_by(out["p_value"].to_numpy(dtype=float), out["study_id"])
    return out[CELL_COLUMNS]


def _vs_natural(out: pd.DataFrame, trials: pd.DataFrame, cell_codes, r, item, natural: str, level: float):
    """Fill diff_vs_natural, its interval and primary_p (test of no difference) for non-natural cells."""
    nat_cell = {s: i for i, (s, c) in enumerate(zip(out["study_id"], out["condition"])) if c == natural}
    comps = [(i, nat_cell[s]) for i, (s, c) in enumerate(zip(out["study_id"], out["condition"]))
             if c != natural and s in nat_cell]
    out["primary_test"] = np.where(out["condition"] == natural, "", out["primary_test"])
    out.loc[out["condition"] == natural, "primary_p"] = np.nan
    if not comps:
        return
    by_cell = pd.Series(np.arange(len(cell_codes))).groupby(cell_codes).indices
    idx, group, first = [], [], []
    for g, (c, nat) in enumerate(comps):
        for cell, is_first in ((c, True), (nat, False)):
            rows = by_cell.get(cell, np.array([], dtype=int))
            idx.append(rows)
            group.append(np.full(len(rows), g))
            first.append(np.full(len(rows), is_first))
    idx = np.concatenate(idx)
    res = stats.cluster_difference(trials["success"].to_numpy(dtype=float)[idx], np.concatenate(group),
                                   np.concatenate(first), r[idx], item[idx], len(comps), level)
    rows = [c for c, _ in comps]
    out.loc[rows, "diff_vs_natural"] = res.estimate
    out.loc[rows, "diff_low"], out.loc[rows, "diff_high"] = res.low, res.high
    out.loc[rows, "primary_p"] = res.p
    out.loc[rows, "primary_test"] = f"vs {natural}"


def _order_conditions(cells: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    conds = sorted(set(cells["condition"]))
    order = [c for c in first if c in conds] + [c for c in conds if c not in first]
    key = cells["condition"].map({c: i for i, c in enumerate(order)})
    return cells.assign(_k=key).sort_values(["study_id", "_k"]).drop(columns="_k").reset_index(drop=True)


def _ranking(pairs: pd.DataFrame, rater_keys: pd.Index, weights: np.ndarray, level: float, n_boot: int):
    """Bradley-Terry ranking of every condition in the pairwise votes, with a rater-bootstrap interval."""
    columns = ["rank", "condition", "log_strength", "low", "high", "wins", "comparisons"]
    if pairs.empty:
        return pd.DataFrame(columns=columns), ""
    names = sorted(set(pairs["left_condition"]) | set(pairs["right_condition"]))
    idx = {c: i for i, c in enumerate(names)}
    kk = len(names)
    loser = np.where(pairs["choice"] == "left", pairs["right_condition"], pairs["left_condition"])
    win_i = pairs["chosen_condition"].map(idx).to_numpy()
    lose_i = pd.Series(loser, index=pairs.index).map(idx).to_numpy()
    r = rater_keys.get_indexer(pairs["rater_key"])
    rw = np.bincount((r * kk + win_i) * kk + lose_i, minlength=len(rater_keys) * kk * kk)
    rw = rw.reshape(len(rater_keys), kk, kk).astype(float)
    bt = stats.bradley_terry(names, rw, weights, level)
    pooled = rw.sum(axis=0)
    ranking = pd.DataFrame({"condition": names, "log_strength": bt.log_strength, "low": bt.lo, "high": bt.hi,
                            "wins": pooled.sum(axis=1).astype(int),
                            "comparisons": (pooled.sum(axis=1) + pooled.sum(axis=0)).astype(int)})
    ranking = ranking.sort_values("log_strength", ascending=False).reset_index(drop=True)
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
    note = bt.note
    if bt.boot_dropped:
        note = (note + "; " if note else "") + (
            f"{bt.boot_dropped} of {n_boot} bootstrap replicates left out of the interval: in them some "
            "condition won or lost every comparison")
    return ranking[columns], note


def analyse(votes: Votes, target: str | None = None, natural: str | None = None, n_boot: int = 1000,
            seed: int = 0, level: float = 0.95, max_catch_failures: int = 0) -> Report:
    """Every table and check of the report, as data frames (no formatting, no files)."""
    stats.wilson_interval(0, 1, level)      # a level outside (0, 1) is refused here, before any work
    frame = votes.frame
    rng = np.random.default_rng(seed)
    # rater ids are per study: the same id in two studies is two raters
    frame = frame.assign(rater_key=frame["study_id"] + "\x1f" + frame["rater_id"])
    scored = frame[frame["excluded"] == ""]
    pairs = scored[scored["task"] == "pairwise"]
    rf = scored[scored["task"] == "real_fake"]
    notes: list[str] = []

    target = _detect_target(pairs, target)
    natural = _detect_natural(sorted(set(rf["left_condition"])), natural)

    # 1. rater quality: catch trials, response times, position
    rater_keys = pd.Index(sorted(set(frame.loc[frame["trial_kind"] != "practice", "rater_key"])))
    slow_limit = rater_checks.slow_limit_ms(frame)
    per = rater_checks.rater_table(frame, scored, rater_keys, slow_limit, max_catch_failures)
    failing = per.index[per["failed_catch"]].tolist()
    catch = frame[(frame["trial_kind"] == "catch") & (frame["excluded"] == "catch trial")]
    unjudged = int(catch["correct"].isna().sum())
    if unjudged:
        notes.append(f"{unjudged} catch vote(s) carry no correct flag and could not be checked")
    if catch.empty and len(frame):
        notes.append("the logs hold no catch trials, so no rater could be checked for attention")
    if len(rf) and natural is None:
        notes.append("no natural-image condition was identified (--natural NAME), so real-vs-fake cells are "
                     "tested against 50% instead of against natural images")

    # 2. the two tables, with all raters and without those who failed catch trials
    weights_all = stats.rater_resample_weights(len(rater_keys), n_boot, rng)
    pw = pairs[(pairs["left_condition"] == target) | (pairs["right_condition"] == target)] if target else pairs[:0]
    pw_trials = pd.DataFrame({
        "rater_key": pw["rater_key"], "study_id": pw["study_id"], "item": pw["item"],
        "condition": np.where(pw["left_condition"] == target, pw["right_condition"], pw["left_condition"]),
        "success": (pw["chosen_condition"] == target).to_numpy()})
    rf_trials = pd.DataFrame({"rater_key": rf["rater_key"], "study_id": rf["study_id"], "item": rf["item"],
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
        parts.append(_order_conditions(cell_stats(sel_rf, "real_fake", target, label, level, w, keys, natural),
                                       [c for c in (natural, target) if c]))
    parts = [p for p in parts if len(p)]
    cells = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CELL_COLUMNS)
    if len(pairs) and len(pw) < len(pairs):
        notes.append(f"{len(pairs) - len(pw)} pairwise vote(s) compare two baselines; they enter the "
                     "Bradley-Terry ranking but not Table 1")

    ranking, rnote = _ranking(pairs, rater_keys, weights_all, level, n_boot)
    return Report(
        study_ids=votes.study_ids, files=votes.files, target=target, natural=natural, level=level,
        n_boot=n_boot, seed=seed, votes_read=len(frame), votes_counted=len(scored),
        exclusions=votes.exclusion_counts(), cells=cells,
        raters=per.reset_index(drop=True), failing_raters=[k.split("\x1f", 1)[1] for k in failing],
        position=rater_checks.position_bias(pairs, level), agreement=rater_checks.agreement(scored),
        ranking=ranking, ranking_note=rnote, rt_limits=(rater_checks.FAST_MS, slow_limit), notes=notes,
        max_catch_failures=max_catch_failures,
        exclusion_steps=rater_checks.exclusion_steps(frame, per, max_catch_failures),
        hype_time=hype.hype_time_table(scored, level, n_boot, seed))
