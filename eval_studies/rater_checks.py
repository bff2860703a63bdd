"""Rater checks of a study report: catch trials, response times, position bias per rater, agreement, and the
exclusion steps with their counts. Data frames in, data frames out; the report decides what to print."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eval_studies import stats
from eval_studies.vote_reader import WITHDRAWN

FAST_MS = 300.0      # answers faster than this cannot have looked at the image
SLOW_IQR = 3.0       # slower than Q3 + 3 IQR of log times: the rater probably left the page
OUTLIER_SHARE = 0.1  # raters listed by name when this share of their answers is too fast or too slow
POSITION_ALPHA = 0.05  # a rater is listed as position-biased when Holm over raters rejects 50% left at this
ONE_ANSWER_MIN = 5     # a rater with at least this many judged answers of a task, all the same, is flagged
def slow_limit_ms(frame: pd.DataFrame) -> float:
    """Q3 + SLOW_IQR IQR of the log response times of judged (non-practice) answers, in ms; nan if none."""
    rt = frame.loc[(frame["trial_kind"] != "practice") & (frame["response_ms"] > 0), "response_ms"]
    if not len(rt):
        return float("nan")
    # response times are right-skewed: the fence is taken on log times, then reported in ms
    q1, q3 = np.percentile(np.log(rt), [25, 75])
    return float(np.exp(q3 + SLOW_IQR * (q3 - q1)))


def is_slow(rt: pd.Series, limit: float) -> pd.Series:
    """rt above the limit, compared on the log scale the limit was made on: when every time is equal the
    limit is that time (IQR 0), and exp(log(t)) rounding must not make every answer 'slow'."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series(np.log(rt.to_numpy(dtype=float)) > np.log(limit) + 1e-12, index=rt.index)


def rater_table(frame: pd.DataFrame, scored: pd.DataFrame, rater_keys: pd.Index, slow_limit: float,
                max_catch_failures: int) -> pd.DataFrame:
    """One row per rater key (study \\x1f rater): votes, catch results, response-time and position checks."""
    catch = frame[(frame["trial_kind"] == "catch") & (frame["excluded"] == "catch trial")]
    judged = frame[frame["trial_kind"] != "practice"]

    def per_rater(values: pd.Series, keys: pd.Series, how="sum") -> pd.Series:
        return getattr(values.groupby(keys), how)().reindex(rater_keys, fill_value=0)

    per = pd.DataFrame(index=rater_keys)
    per["study_id"] = pd.Series([k.split("\x1f", 1)[0] for k in rater_keys], index=rater_keys, dtype=object)
    per["rater_id"] = pd.Series([k.split("\x1f", 1)[1] for k in rater_keys], index=rater_keys, dtype=object)
    per["scored_votes"] = scored.groupby("rater_key").size().reindex(rater_keys, fill_value=0)
    per["catch_trials"] = catch.groupby("rater_key").size().reindex(rater_keys, fill_value=0)
    per["catch_failed"] = per_rater(catch["correct"] == False, catch["rater_key"]).astype(int)  # noqa: E712
    per["failed_catch"] = per["catch_failed"] > max_catch_failures
    per["fast_answers"] = per_rater(judged["response_ms"] < FAST_MS, judged["rater_key"]).astype(int)
    per["slow_answers"] = per_rater(is_slow(judged["response_ms"], slow_limit), judged["rater_key"]).astype(int)
    per["median_ms"] = judged.groupby("rater_key")["response_ms"].median().reindex(rater_keys)
    # position: share of a rater's scored pairwise votes for the left image, exact test vs 50%, Holm over raters
    pairs = scored[scored["task"] == "pairwise"]
    per["pairwise_votes"] = pairs.groupby("rater_key").size().reindex(rater_keys, fill_value=0)
    per["left_choices"] = per_rater(pairs["choice"] == "left", pairs["rater_key"]).astype(int)
    p = stats.binom_p(per["left_choices"], per["pairwise_votes"])
    per["position_p_holm"] = stats.holm(p)
    per["position_biased"] = per["position_p_holm"] < POSITION_ALPHA
    per["one_answer"] = one_answer(judged, rater_keys)
    return per


def one_answer(judged: pd.DataFrame, rater_keys: pd.Index) -> pd.Series:
    """Per rater: "always left" / "always right" (pairwise) and "always real" / "always fake" (real/fake) when
    every one of at least ONE_ANSWER_MIN judged (scored and catch) answers of that task was the same; "" if not.
    Such a rater answers without looking, whatever the position test says with few votes."""
    out = pd.Series("", index=rater_keys, dtype=object)
    for task in ("pairwise", "real_fake"):
        t = judged[judged["task"] == task]
        g = t.groupby("rater_key")["choice"].agg(["nunique", "size", "first"])
        same = g[(g["nunique"] == 1) & (g["size"] >= ONE_ANSWER_MIN)]
        for key, choice in same["first"].items():
            if key in out.index:
                out[key] = "; ".join(x for x in (out[key], f"always {choice}") if x)
    return out


def position_bias(pairs: pd.DataFrame, level: float) -> dict:
    n_pos, k_left = len(pairs), int((pairs["choice"] == "left").sum())
    lo, hi = stats.wilson_interval(k_left, n_pos, level)
    return {"votes": n_pos, "left": k_left, "left_rate": k_left / n_pos if n_pos else float("nan"),
            "wilson_low": float(lo), "wilson_high": float(hi), "p_value": float(stats.binom_p(k_left, n_pos)[0])}


def agreement(scored: pd.DataFrame) -> pd.DataFrame:
    """Krippendorff's alpha per task; one rating per rater and unit (item and pairing)."""
    pairs = scored[scored["task"] == "pairwise"]
    rf = scored[scored["task"] == "real_fake"]
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
    return pd.DataFrame(rows)


def exclusion_steps(frame: pd.DataFrame, raters: pd.DataFrame, max_catch_failures: int) -> pd.DataFrame:
    """Each exclusion rule in the order applied, with votes and raters before and after it."""
    codes, keys = pd.factorize(frame["rater_key"])
    excluded = frame["excluded"].to_numpy()

    def count(mask: np.ndarray) -> tuple[int, int]:
        return int(mask.sum()), len(np.unique(codes[mask]))

    rows = []
    kept = np.ones(len(frame), dtype=bool)
    rules = [("practice trials (the rater is learning; never counted)", "practice trial"),
             ("catch trials (used only to check attention)", "catch trial"),
             ("repeated answers to one trial (the first answer counts)", "repeated answer to one trial"),
             ("raters who withdrew (study file: withdrawn_votes = drop)", WITHDRAWN)]
    for text, label in rules:
        after = kept & (excluded != label)
        rows.append((text, *count(kept), *count(after)))
        kept = after
    failing = np.asarray(keys.isin(raters.index[raters["failed_catch"]]))[codes] if len(frame) else kept
    after = kept & ~failing
    rows.append((f"raters with more than {max_catch_failures} failed catch trial(s) (--max-catch-failures): "
                 "only in the repeated tables", *count(kept), *count(after)))
    df = pd.DataFrame(rows, columns=["rule", "votes before", "raters before", "votes after", "raters after"])
    return df[["rule", "votes before", "votes after", "raters before", "raters after"]]
