"""Synthetic vote logs with known answers, in the study server's exact schema.

    python -m eval_studies.simulate --out votes.csv --preset lecture --raters 50 --seed 0

The `lecture` preset is the lecture's crowd experiment (eval_studies.lecture): two studies, one per retrieval
setting (`guided-retrieval-a`, `guided-retrieval-b`), written to OUT-<study id>.csv; report them together:

    python -m eval_studies.report votes-guided-retrieval-a.csv votes-guided-retrieval-b.csv --multi-study --out r.md

Each table cell gets an exact number of votes for the target (or judged real): k = round(rate * n), and a preset
that carries the printed tables is refused unless every k/n prints as its cell. The lecture's cells: 200 votes
per pairwise cell and per fake condition (76% = 152/200, 33.0% = 66/200, all exact) and 1600 for natural
images, as many as all fake images together (the study server's default natural share of 50%); 1563/1600 =
97.69% prints as 97.7%. Each study has its own raters (--raters, default 50: 4 votes per rater per cell, 32
natural images each) and 40 items per cell, no rater seeing one item twice in a cell; the k successes are
shuffled among those votes and exactly half of each pairwise cell shows the target on the left. Practice trials,
catch trials (some raters fail one), fast clicks and slow responses are mixed in, as in a real log, to exercise
the report's exclusions and rater checks.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from eval_studies import lecture
from eval_studies.schema import VOTE_COLUMNS


@dataclass
class SimSpec:
    study_id: str
    target: str
    pairwise: dict[str, float]          # baseline -> share of votes preferring the target
    realism: dict[str, float]           # condition -> share of votes judging its image real
    natural: str = "natural"            # the condition holding untouched photos
    votes_per_cell: int = 1000          # 1000 makes every one-decimal percentage exact
    natural_votes: int | None = None    # votes in the natural-image cell (default: votes_per_cell)
    printed: dict[str, dict[str, str]] = field(default_factory=dict)  # task -> condition -> cell as printed
    items_per_cell: int = 40
    practice_per_rater: int = 3
    catch_per_rater: int = 4
    catch_failing_raters: int = 2       # raters who fail exactly one catch trial
    fast_click_share: float = 0.01      # responses under 300 ms
    slow_share: float = 0.005           # responses of a minute or more (rater left the tab)
    extra: dict = field(default_factory=dict)

    def votes(self, task: str, condition: str) -> int:
        if task == "real_fake" and condition == self.natural and self.natural_votes is not None:
            return self.natural_votes
        return self.votes_per_cell


def lecture_spec(setting: str) -> SimSpec:
    """One retrieval setting of the lecture's experiment: its printed cells, as exact vote counts."""
    cells = {task: lecture.PUBLISHED[task][setting] for task in lecture.COLUMNS}
    rate = {task: {c: lecture.parse_percent(v)[0] / 100 for c, v in cells[task].items()} for task in cells}
    return SimSpec(study_id=lecture.STUDY_IDS[setting], target=lecture.TARGET, pairwise=rate["pairwise"],
                   realism=rate["real_fake"], natural=lecture.NATURAL, votes_per_cell=200, natural_votes=1600,
                   printed=cells)


# The lecture's experiment: one study per retrieval setting. LECTURE alone is retrieval (a).
LECTURE_STUDIES = tuple(lecture_spec(s) for s in lecture.SETTINGS)
LECTURE = LECTURE_STUDIES[0]
# No preference and no realism difference: every binomial test should usually fail to reject.
NULL = SimSpec(
    study_id="null-study", target="ours",
    pairwise={"baseline_a": 0.5, "baseline_b": 0.5},
    realism={"natural": 0.5, "ours": 0.5, "baseline_a": 0.5, "baseline_b": 0.5},
    catch_failing_raters=0,
)
PRESETS = {"lecture": LECTURE_STUDIES, "null": (NULL,)}


def exact_count(rate: float, n: int) -> int:
    return int(round(rate * n))


def _hex(rng: np.random.Generator, count: int, digits: int = 32) -> list[str]:
    words = rng.integers(0, 2**63, size=(count, (digits + 15) // 16), dtype=np.int64)
    return ["".join(f"{w:016x}" for w in row)[:digits] for row in words]


def check_printed(spec: SimSpec) -> None:
    """Refuse a spec whose exact counts would not print as its printed cells (ValueError naming the cell)."""
    rates = {"pairwise": spec.pairwise, "real_fake": spec.realism}
    for task, cells in spec.printed.items():
        for cond, cell in cells.items():
            if cond not in rates[task]:
                raise ValueError(f"printed {task} cell {cond!r} has no rate in the spec")
            n = spec.votes(task, cond)
            k = exact_count(rates[task][cond], n)
            got = lecture.fmt_share(k, n, lecture.parse_percent(cell)[1])
            if got != cell:
                raise ValueError(f"{task} cell {cond!r}: {k} of {n} votes prints as {got}, not {cell}; choose "
                                 "another votes_per_cell (natural_votes for natural images)")


def simulate(spec: SimSpec, raters: int = 50, seed=0, first_rater: int = 0) -> pd.DataFrame:
    """A vote log (strings in VOTE_COLUMNS order, sorted by time) for `raters` raters, named from
    sim-<first_rater>. seed: an int or anything numpy.random.default_rng takes."""
    if raters < 1:
        raise ValueError(f"raters must be >= 1, got {raters}")
    check_printed(spec)
    rng = np.random.default_rng(seed)
    sizes = [spec.votes("pairwise", b) for b in spec.pairwise] + [spec.votes("real_fake", c) for c in spec.realism]
    n_items = max([spec.items_per_cell] + [-(-n // raters) for n in sizes])  # no rater sees an item twice in a cell
    cols: dict[str, list] = {c: [] for c in ("rater", "kind", "task", "item", "left", "right", "choice",
                                             "chosen", "correct")}

    def add(rater, kind, task, item, left, right, choice, chosen, correct):
        for key, val in zip(cols, (rater, kind, task, item, left, right, choice, chosen, correct)):
            cols[key].extend(np.broadcast_to(np.asarray(val, dtype=object), (len(rater),)).tolist())

    def spread(n: int):
        """Votes 0..n-1 of a cell: round-robin over raters, each rater moving on through the items."""
        j = np.arange(n)
        return j % raters, np.array([f"item-{i:03d}" for i in (j % raters + j // raters) % n_items])

    def exactly(k: int, n: int) -> np.ndarray:
        return rng.permutation(np.arange(n) < k)

    # 1. pairwise cells: exactly k of n votes prefer the target; the target is on the left in exactly half
    for baseline, rate in spec.pairwise.items():
        n = spec.votes("pairwise", baseline)
        rater_of, item_of = spread(n)
        wins = exactly(exact_count(rate, n), n)
        target_left = exactly(n // 2, n)
        left = np.where(target_left, spec.target, baseline)
        right = np.where(target_left, baseline, spec.target)
        choice = np.where(wins == target_left, "left", "right")
        chosen = np.where(wins, spec.target, baseline)
        add(rater_of, "scored", "pairwise", item_of, left, right, choice, chosen, "")
    # 2. real-vs-fake cells: exactly k of n votes say "real"
    for cond, rate in spec.realism.items():
        n = spec.votes("real_fake", cond)
        rater_of, item_of = spread(n)
        real = exactly(exact_count(rate, n), n)
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
        "rater_id": [f"sim-{r + first_rater:04d}" for r in df["rater"]],
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


def simulate_preset(specs, raters: int = 50, seed: int = 0) -> list[pd.DataFrame]:
    """One log per study of a preset; study i draws from the seed sequence (seed, i) and has its own raters
    (sim-<i * raters> on)."""
    return [simulate(spec, raters=raters, seed=(seed, i), first_rater=i * raters) for i, spec in enumerate(specs)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True,
                   help="CSV to write; a preset of several studies writes OUT-<study id>.csv for each "
                        "(with --replicas N: ...-1.csv, ...-2.csv)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="lecture")
    p.add_argument("--raters", type=int, default=50, help="raters per study (default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--votes-per-cell", type=int, default=None, help="votes in each table cell (default: preset)")
    p.add_argument("--study-id", default=None, help="study id written in every row (default: preset; only for "
                                                    "a preset of one study)")
    p.add_argument("--replicas", type=int, default=1,
                   help="split raters over N logs, as N server processes would write them")
    a = p.parse_args(argv)
    specs = PRESETS[a.preset]
    if a.votes_per_cell is not None:
        specs = tuple(replace(s, votes_per_cell=a.votes_per_cell) for s in specs)
    if a.study_id is not None:
        if len(specs) > 1:
            p.error(f"--study-id: preset {a.preset!r} holds {len(specs)} studies, each with its own id")
        specs = (replace(specs[0], study_id=a.study_id),)
    try:
        logs = simulate_preset(specs, raters=a.raters, seed=a.seed)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for spec, df in zip(specs, logs):
        out = a.out if len(specs) == 1 else a.out.with_name(f"{a.out.stem}-{spec.study_id}{a.out.suffix}")
        if a.replicas <= 1:
            paths = [write_log(df, out)]
        else:
            codes = pd.factorize(df["rater_id"])[0] % a.replicas
            paths = [write_log(df[codes == i], out.with_name(f"{out.stem}-{i + 1}{out.suffix}"))
                     for i in range(a.replicas)]
        scored = (df["trial_kind"] == "scored").sum()
        print(f"wrote {len(df)} votes ({scored} scored) of study {spec.study_id!r} by {a.raters} raters to "
              + ", ".join(map(str, paths)))
        for task, rates, what in (("pairwise", spec.pairwise, f"{spec.target} over "),
                                  ("real_fake", spec.realism, "")):
            for c, rate in rates.items():
                n = spec.votes(task, c)
                k = exact_count(rate, n)
                print(f"  {task:<9} {what}{c}{' judged real' if not what else ''}: {k}/{n} = {100 * k / n:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
