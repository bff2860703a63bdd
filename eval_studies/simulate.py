"""Synthetic vote logs with known answers, in the study server's exact schema.

    python -m eval_studies.simulate --out votes.csv --preset lecture --raters 50 --seed 0

Each table cell gets an exact number of votes for the target (or judged real): k = round(rate * n). The
votes are then shuffled among raters, items and screen sides, so the report must reproduce the preset's
percentages digit for digit. Practice trials, catch trials (some raters fail one), fast clicks and slow
responses are mixed in, as in a real log, to exercise the report's exclusions and rater checks.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from eval_studies.schema import VOTE_COLUMNS


@dataclass
class SimSpec:
    study_id: str
    target: str
    pairwise: dict[str, float]          # baseline -> share of votes preferring the target
    realism: dict[str, float]           # condition -> share of votes judging its image real
    natural: str = "natural"            # the condition holding untouched photos
    votes_per_cell: int = 1000          # 1000 makes every one-decimal percentage exact
    items_per_cell: int = 40
    practice_per_rater: int = 3
    catch_per_rater: int = 4
    catch_failing_raters: int = 2       # raters who fail exactly one catch trial
    fast_click_share: float = 0.01      # responses under 300 ms
    slow_share: float = 0.005           # responses of a minute or more (rater left the tab)
    extra: dict = field(default_factory=dict)


# The lecture's two tables. Only "76.0% over the first baseline" and "natural images judged real 97.7%" are
# quoted by the issue; the other cells are example values in the same style (edit here to match a slide).
LECTURE = SimSpec(
    study_id="lecture-hole-filling",
    target="ours",
    pairwise={"patchmatch": 0.760, "global_local": 0.683, "context_encoder": 0.871, "nearest_neighbor": 0.912},
    realism={"natural": 0.977, "ours": 0.624, "patchmatch": 0.381, "global_local": 0.455,
             "context_encoder": 0.213, "nearest_neighbor": 0.147},
)
# No preference and no realism difference: every binomial test should usually fail to reject.
NULL = SimSpec(
    study_id="null-study", target="ours",
    pairwise={"baseline_a": 0.5, "baseline_b": 0.5},
    realism={"natural": 0.5, "ours": 0.5, "baseline_a": 0.5, "baseline_b": 0.5},
    catch_failing_raters=0,
)
PRESETS = {"lecture": LECTURE, "null": NULL}


def exact_count(rate: float, n: int) -> int:
    return int(round(rate * n))


def _hex(rng: np.random.Generator, count: int, digits: int = 32) -> list[str]:
    words = rng.integers(0, 2**63, size=(count, (digits + 15) // 16), dtype=np.int64)
    return ["".join(f"{w:016x}" for w in row)[:digits] for row in words]


def simulate(spec: SimSpec, raters: int = 50, seed: int = 0) -> pd.DataFrame:
    """A vote log (strings in VOTE_COLUMNS order, sorted by time) for `raters` raters."""
    if raters < 1:
        raise ValueError(f"raters must be >= 1, got {raters}")
    rng = np.random.default_rng(seed)
    n = spec.votes_per_cell
    per_rater = -(-n // raters)
    n_items = max(spec.items_per_cell, per_rater)   # no rater sees one item twice within a cell
    cols: dict[str, list] = {c: [] for c in ("rater", "kind", "task", "item", "left", "right", "choice",
                                             "chosen", "correct")}

    def add(rater, kind, task, item, left, right, choice, chosen, correct):
        for key, val in zip(cols, (rater, kind, task, item, left, right, choice, chosen, correct)):
            cols[key].extend(np.broadcast_to(np.asarray(val, dtype=object), (len(rater),)).tolist())

    j = np.arange(n)
    rater_of = j % raters
    item_of = np.array([f"item-{i:03d}" for i in (rater_of + j // raters) % n_items])
    # 1. pairwise cells: exactly k of n votes prefer the target, sides counterbalanced at random
    for baseline, rate in spec.pairwise.items():
        wins = np.zeros(n, dtype=bool)
        wins[:exact_count(rate, n)] = True
        wins = rng.permutation(wins)
        target_left = rng.random(n) < 0.5
        left = np.where(target_left, spec.target, baseline)
        right = np.where(target_left, baseline, spec.target)
        choice = np.where(wins == target_left, "left", "right")
        chosen = np.where(wins, spec.target, baseline)
        add(rater_of, "scored", "pairwise", item_of, left, right, choice, chosen, "")
    # 2. real-vs-fake cells: exactly k of n votes say "real"
    for cond, rate in spec.realism.items():
        real = np.zeros(n, dtype=bool)
        real[:exact_count(rate, n)] = True
        real = rng.permutation(real)
        choice = np.where(real, "real", "fake")
        correct = np.where(real == (cond == spec.natural), "True", "False")
        chosen = np.where(real, cond, "")           # as the study server writes it
        add(rater_of, "scored", "real_fake", item_of, cond, "", choice, chosen, correct)
    # 3. catch trials: an untouched photo against a broken one; the failing raters miss exactly one
    failing = set(rng.choice(raters, size=min(spec.catch_failing_raters, raters), replace=False).tolist())
    for r in range(raters):
        ok = np.ones(spec.catch_per_rater, dtype=bool)
        if r in failing and spec.catch_per_rater:
            ok[0] = False
        photo_left = rng.random(spec.catch_per_rater) < 0.5
        left = np.where(photo_left, "catch_photo", "catch_broken")
        right = np.where(photo_left, "catch_broken", "catch_photo")
        choice = np.where(ok == photo_left, "left", "right")
        chosen = np.where(ok, "catch_photo", "catch_broken")
        items = [f"catch-{i:02d}" for i in range(spec.catch_per_rater)]
        add(np.full(spec.catch_per_rater, r), "catch", "pairwise", items, left, right, choice, chosen,
            np.where(ok, "True", "False"))
    # 4. practice trials (with feedback in the real flow; never counted)
    baselines = list(spec.pairwise) or [spec.target]
    for r in range(raters):
        m = spec.practice_per_rater
        other = rng.choice(baselines, size=m)
        target_left = rng.random(m) < 0.5
        choice = np.where(rng.random(m) < 0.5, "left", "right")
        left = np.where(target_left, spec.target, other)
        right = np.where(target_left, other, spec.target)
        chosen = np.where(choice == "left", left, right)
        add(np.full(m, r), "practice", "pairwise", [f"practice-{i:02d}" for i in range(m)], left, right,
            choice, chosen, "")

    df = pd.DataFrame(cols)
    # 5. order each rater's trials: practice first, then scored and catch trials shuffled together
    df["_key"] = rng.random(len(df)) + (df["kind"] != "practice")
    df = df.sort_values(["rater", "_key"], kind="stable").reset_index(drop=True)
    df["trial_index"] = df.groupby("rater").cumcount()
    # 6. response times: log-normal around 1.8 s, with some fast clicks and some very slow answers
    rt = rng.lognormal(np.log(1800), 0.45, len(df))
    u = rng.random(len(df))
    rt = np.where(u < spec.fast_click_share, rng.uniform(80, 290, len(df)), rt)
    rt = np.where(u > 1 - spec.slow_share, rng.uniform(60_000, 180_000, len(df)), rt)
    df["response_ms"] = np.round(rt).astype(np.int64)
    start = pd.Timestamp("2025-03-03T09:00:00Z") + pd.to_timedelta(rng.uniform(0, 4 * 3600, raters), unit="s")
    elapsed = (df["response_ms"] + 700).groupby(df["rater"]).cumsum()
    df["time"] = start[df["rater"].to_numpy()] + pd.to_timedelta(elapsed.to_numpy(), unit="ms")
    df = df.sort_values(["time", "rater"], kind="stable").reset_index(drop=True)

    stim = _hex(rng, 2 * len(df))
    out = pd.DataFrame({
        "vote_id": _hex(rng, len(df)),
        "timestamp": df["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z",
        "study_id": spec.study_id,
        "rater_id": [f"sim-{r:04d}" for r in df["rater"]],
        "trial_index": df["trial_index"].astype(str),
        "trial_kind": df["kind"],
        "task": df["task"],
        "item": df["item"],
        "left_condition": df["left"],
        "right_condition": df["right"],
        "left_stimulus": [s + ".png" for s in stim[:len(df)]],
        "right_stimulus": np.where(df["task"] == "pairwise", [s + ".png" for s in stim[len(df):]], ""),
        "choice": df["choice"],
        "chosen_condition": df["chosen"],
        "correct": df["correct"],
        "response_ms": df["response_ms"].astype(str),
        "app_version": "simulate-1",
    })
    if out["vote_id"].duplicated().any():   # 128 random bits: practically impossible, but never write one
        raise RuntimeError("duplicate vote id drawn; use another seed")
    return out[list(VOTE_COLUMNS)]


def write_log(df: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(VOTE_COLUMNS)
        w.writerows(df[list(VOTE_COLUMNS)].itertuples(index=False, name=None))
    return path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="CSV to write (with --replicas N: OUT-1.csv ...)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="lecture")
    p.add_argument("--raters", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--votes-per-cell", type=int, default=None, help="votes in each table cell (default: preset)")
    p.add_argument("--study-id", default=None, help="study id written in every row (default: preset)")
    p.add_argument("--replicas", type=int, default=1,
                   help="split raters over N logs, as N server processes would write them")
    a = p.parse_args(argv)
    spec = PRESETS[a.preset]
    if a.votes_per_cell is not None:
        spec = replace(spec, votes_per_cell=a.votes_per_cell)
    if a.study_id is not None:
        spec = replace(spec, study_id=a.study_id)
    df = simulate(spec, raters=a.raters, seed=a.seed)
    if a.replicas <= 1:
        paths = [write_log(df, a.out)]
    else:
        codes = pd.factorize(df["rater_id"])[0] % a.replicas
        paths = [write_log(df[codes == i], a.out.with_name(f"{a.out.stem}-{i + 1}{a.out.suffix}"))
                 for i in range(a.replicas)]
    scored = (df["trial_kind"] == "scored").sum()
    print(f"wrote {len(df)} votes ({scored} scored) of study {spec.study_id!r} by {a.raters} raters to "
          + ", ".join(map(str, paths)))
    for b, rate in spec.pairwise.items():
        k = exact_count(rate, spec.votes_per_cell)
        print(f"  pairwise  {spec.target} over {b}: {k}/{spec.votes_per_cell} = {100 * k / spec.votes_per_cell:.1f}%")
    for c, rate in spec.realism.items():
        k = exact_count(rate, spec.votes_per_cell)
        print(f"  real_fake {c} judged real: {k}/{spec.votes_per_cell} = {100 * k / spec.votes_per_cell:.1f}%")


if __name__ == "__main__":
    main()
