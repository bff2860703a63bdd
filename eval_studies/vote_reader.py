"""Reading vote logs: validate every row, merge server replicas, and count what is set aside.

The raw logs are never edited (see STYLE.md, pattern 9). A log that cannot be trusted raises a ValueError
naming the file and line; rows that are valid but do not belong in the tables (practice trials, catch trials,
repeated answers to one trial, and the votes of raters who withdrew when their study file says
``withdrawn_votes: "drop"``, read from sessions.csv beside the log) are kept in the frame with a reason and counted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from eval_studies.schema import CHOICES, LOG_EXTRA_COLUMNS, TASKS, TRIAL_KINDS, VOTE_COLUMNS

MAX_LISTED_PROBLEMS = 10
TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f"}


@dataclass
class Votes:
    """Every vote of one or more logs (one study unless several were asked for), validated.

    frame: one row per vote, the VOTE_COLUMNS plus `source` ("FILE: line N"), `correct` as True/False/NA,
    `response_ms` as float, `trial_index` as int, and `excluded` ("" for a vote that counts in the tables,
    otherwise the reason it does not).
    """
    frame: pd.DataFrame
    files: list[str]
    study_ids: list[str]
    extra_columns: list[str] = field(default_factory=list)

    @property
    def scored(self) -> pd.DataFrame:
        return self.frame[self.frame["excluded"] == ""]

    def exclusion_text(self) -> str:
        """'200 catch trials, 150 practice trials, 1 repeated answer to one trial' (or 'none')."""
        return ", ".join(exclusion_phrase(k, v) for k, v in self.exclusion_counts().items()) or "none"

    def exclusion_counts(self) -> dict[str, int]:
        ex = self.frame.loc[self.frame["excluded"] != "", "excluded"]
        return {str(k): int(v) for k, v in ex.value_counts().sort_index().items()}


WITHDRAWN = "vote of a rater who withdrew"
EXCLUSION_PLURALS = {"practice trial": "practice trials", "catch trial": "catch trials",
                     "repeated answer to one trial": "repeated answers to one trial",
                     WITHDRAWN: "votes of raters who withdrew"}


def exclusion_phrase(label: str, n: int) -> str:
    """'1 catch trial', '3 catch trials', '2 repeated answers to one trial'."""
    return f"{n} {label if n == 1 else EXCLUSION_PLURALS.get(label, label + 's')}"


class _Problems:
    def __init__(self):
        self.lines: list[str] = []
        self.count = 0

    def add(self, where: str, message: str):
        self.count += 1
        if len(self.lines) < MAX_LISTED_PROBLEMS:
            self.lines.append(f"{where}: {message}")

    def raise_if_any(self, what: str):
        if self.count:
            more = f"\n... and {self.count - len(self.lines)} more" if self.count > len(self.lines) else ""
            raise ValueError(f"{what}: {self.count} problem(s)\n" + "\n".join(self.lines) + more)


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError(f"{path}: line 1: the file is empty; a vote log starts with the header "
                         f"{','.join(VOTE_COLUMNS)}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ValueError(f"{path}: line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {col}); "
                         "vote logs are written as UTF-8") from None


def _fast_frame(text: str, width: int) -> pd.DataFrame | None:
    """The whole file through pandas' C parser when it is plain: no quoted fields, no blank lines, every
    line of the header's width. Then row i is on line i + 2. Otherwise None (the caller goes row by row)."""
    if '"' in text:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if any(line.count(",") != width - 1 for line in lines):
        return None
    df = pd.read_csv(io.StringIO(text), dtype=object, keep_default_na=False, na_filter=False,
                     skip_blank_lines=False, engine="c")
    return df if len(df) == len(lines) - 1 else None


def _careful_rows(path: Path, text: str, width: int):
    """Row by row with physical line numbers; raises ValueError listing the broken lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    rows, lines, problems = [], [], _Problems()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.add(f"{path}: line {reader.line_num}", f"unreadable CSV ({e})")
            break
        if not row:          # a blank line carries no vote
            continue
        if len(row) != width:
            problems.add(f"{path}: line {reader.line_num}",
                         f"{len(row)} fields where the header has {width} (a cut-off or hand-edited line?)")
            continue
        rows.append(row)
        lines.append(reader.line_num)
    problems.raise_if_any(f"{path}: malformed vote log")
    return rows, lines


def read_log(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """One log file as strings, with a `source` column "FILE: line N"; raises ValueError on a broken file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as e:
        raise ValueError(f"{path}: line 1: unreadable CSV header ({e})") from None
    header = [h.strip() for h in header]
    missing = [c for c in VOTE_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: line 1: the header lacks column(s) {', '.join(missing)}; "
                         f"a vote log has {', '.join(VOTE_COLUMNS)}")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ValueError(f"{path}: line 1: column(s) {', '.join(dupes)} appear more than once in the header")
    width = len(header)
    df = _fast_frame(text, width)
    if df is not None:
        df.columns = header
        lines = range(2, len(df) + 2)
    else:
        rows, lines = _careful_rows(path, text, width)
        columns = list(zip(*rows)) if rows else [()] * width
        # plain object columns: comparisons on them are several times faster than on pandas' str dtype
        df = pd.DataFrame({h: np.array(c, dtype=object) for h, c in zip(header, columns)}, dtype=object)
    df["source"] = np.array([f"{path}: line {n}" for n in lines], dtype=object)
    extra = [h for h in header if h not in VOTE_COLUMNS]
    return df, extra


def _parse_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    # map the distinct spellings (a handful), not 100,000 cells
    distinct = pd.Series(s.unique(), dtype=object)
    low = distinct.str.strip().str.lower()
    meaning = dict(zip(distinct, np.where(low.isin(TRUE_WORDS), 1, np.where(low.isin(FALSE_WORDS), 0,
                                                                                np.where(low == "", -1, -2)))))
    code = s.map(meaning).to_numpy()
    out = pd.Series(pd.array(np.where(code >= 0, code == 1, False), dtype="boolean"), index=s.index)
    out[code < 0] = pd.NA
    return out, pd.Series(code == -2, index=s.index)


def _validate(df: pd.DataFrame, problems: _Problems) -> pd.DataFrame:
    def flag(mask: pd.Series, message):
        for i in np.flatnonzero(mask.to_numpy()):
            row = df.iloc[i]
            problems.add(row["source"], message(row) if callable(message) else message)

    for col in ("vote_id", "study_id", "rater_id", "trial_kind", "task", "choice"):
        flag(df[col] == "", f"{col} is empty")
    flag(~df["trial_kind"].isin(TRIAL_KINDS) & (df["trial_kind"] != ""),
         lambda r: f"trial_kind {r['trial_kind']!r} is not one of {', '.join(TRIAL_KINDS)}")
    flag(~df["task"].isin(TASKS) & (df["task"] != ""),
         lambda r: f"task {r['task']!r} is not one of {', '.join(TASKS)}")
    for task, allowed in CHOICES.items():
        flag((df["task"] == task) & ~df["choice"].isin(allowed) & (df["choice"] != ""),
             lambda r, a=allowed: f"choice {r['choice']!r} is not one of {', '.join(a)} for task {r['task']}")
    pair = df["task"] == "pairwise"
    flag(pair & ((df["left_condition"] == "") | (df["right_condition"] == "")),
         "a pairwise vote needs both left_condition and right_condition")
    flag(pair & (df["left_condition"] == df["right_condition"]) & (df["left_condition"] != ""),
         lambda r: f"left and right show the same condition {r['left_condition']!r}")
    side = np.where(df["choice"] == "left", df["left_condition"], df["right_condition"])
    flag(pair & df["choice"].isin(("left", "right")) & (df["chosen_condition"] != side),
         lambda r: (f"chosen_condition {r['chosen_condition']!r} is not the condition on the chosen side "
                    f"({r['choice']}: {r['left_condition' if r['choice'] == 'left' else 'right_condition']!r})"))
    flag((df["task"] == "real_fake") & (df["left_condition"] == ""),
         "a real_fake vote needs the shown image's condition in left_condition")
    # real_fake: the server writes the shown condition for "real" and nothing for "fake" (older logs: the word)
    rf = df["task"] == "real_fake"
    said_real = (df["chosen_condition"] == df["left_condition"]) | (df["chosen_condition"] == "real")
    said_fake = df["chosen_condition"].isin(("", "fake"))
    flag(rf & (((df["choice"] == "real") & ~said_real) | ((df["choice"] == "fake") & ~said_fake)),
         lambda r: f"chosen_condition {r['chosen_condition']!r} contradicts choice {r['choice']!r}")

    out = df.copy()
    ti = pd.to_numeric(df["trial_index"], errors="coerce")
    flag(ti.isna() | (ti != ti.round()) | (ti < 0),
         lambda r: f"trial_index {r['trial_index']!r} is not a whole number >= 0")
    out["trial_index"] = ti.fillna(-1).astype(np.int64)
    rt = pd.to_numeric(df["response_ms"].replace("", np.nan), errors="coerce")
    flag(rt.isna() & (df["response_ms"].str.strip() != ""),
         lambda r: f"response_ms {r['response_ms']!r} is not a number")
    flag(rt < 0, lambda r: f"response_ms {r['response_ms']!r} is negative")
    out["response_ms"] = rt.astype(float)
    correct, bad = _parse_bool(df["correct"])
    flag(bad, lambda r: f"correct {r['correct']!r} is not true/false (or empty)")
    out["correct"] = correct
    expected = _catch_answer_right(df)
    flag(expected.notna() & correct.notna() & (expected != correct).fillna(False),
         lambda r: f"correct {r['correct']!r} contradicts the choice {r['choice']!r} in this catch trial "
                   f"({r['left_condition']} / {r['right_condition'] or '-'})")
    return out


def _catch_answer_right(df: pd.DataFrame) -> pd.Series:
    """Whether each catch answer is right, read from the condition names (the broken image's name ends in
    'broken'); NA where the names do not tell."""
    broken = {side: df[f"{side}_condition"].str.endswith("broken") for side in ("left", "right")}
    out = pd.Series(pd.NA, index=df.index, dtype="boolean")
    catch = df["trial_kind"] == "catch"
    pair = catch & (df["task"] == "pairwise") & (broken["left"] != broken["right"])
    chose_broken = np.where(df["choice"] == "left", broken["left"], broken["right"])
    out[pair] = ~chose_broken[pair.to_numpy()]
    single = catch & (df["task"] == "real_fake") & (df["left_condition"] != "")
    out[single] = (df["choice"] == np.where(broken["left"], "fake", "real"))[single]
    return out


def _time_key(ts: pd.Series) -> np.ndarray:
    """Sortable times: epoch seconds or ISO 8601; unreadable times sort last (file order among them)."""
    num = pd.to_numeric(ts, errors="coerce")
    if num.notna().all():
        return num.to_numpy(dtype=float)
    iso = pd.to_datetime(ts, errors="coerce", utc=True, format="ISO8601")
    key = (iso - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return key.fillna(np.inf).to_numpy(dtype=float)


def load_votes(paths, multi_study: bool = False) -> Votes:
    """Load, validate and merge vote logs (several replicas of one study, or several studies if asked).

    Raises ValueError naming file and line for: empty files, non-UTF-8 bytes, missing columns, malformed
    rows or values, several study ids in one file, logs of different studies (unless multi_study), and
    vote_ids that occur twice (within a file or across files).
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no vote log given")
    seen: dict[Path, Path] = {}
    for p in paths:
        if p.resolve() in seen:
            raise ValueError(f"{p}: this log is given twice (also as {seen[p.resolve()]}); each vote counts once")
        seen[p.resolve()] = p
    frames, extra, problems = [], [], _Problems()
    first_study_of: dict[str, str] = {}
    for path in paths:
        df, ex = read_log(path)
        extra += [e for e in ex if e not in extra]
        for c in LOG_EXTRA_COLUMNS:  # exposure_ms: absent from older and simulated logs
            if c not in df.columns:
                df[c] = ""
        df = df[list(VOTE_COLUMNS) + list(LOG_EXTRA_COLUMNS) + ["source"]]
        df = _mark_withdrawn(df, path)
        if len(df):
            first = df["study_id"].iloc[0]
            other = df["study_id"] != first
            if other.any():
                i = int(np.flatnonzero(other.to_numpy())[0])
                raise ValueError(f"{df['source'].iloc[i]}: study_id {df['study_id'].iloc[i]!r} differs from "
                                 f"{first!r} at {df['source'].iloc[0]}; one log holds one study")
            first_study_of[str(path)] = first
        frames.append(_validate(df, problems))
    problems.raise_if_any("invalid vote log")
    studies = sorted(set(first_study_of.values()))
    if len(studies) > 1 and not multi_study:
        listing = "; ".join(f"{f} holds {s!r}" for f, s in first_study_of.items())
        raise ValueError(f"these logs belong to different studies ({listing}); merge only replicas of one "
                         "study, or pass --multi-study to report one row per study")
    frame = pd.concat(frames, ignore_index=True)
    dup = frame["vote_id"].duplicated(keep=False)
    if dup.any():
        for vid, grp in frame[dup].groupby("vote_id", sort=False):
            problems.add(grp["source"].iloc[1], f"vote_id {vid!r} already appears at {grp['source'].iloc[0]}")
        problems.raise_if_any("duplicate vote ids (the same log passed twice, or a corrupted log?)")
    frame["excluded"] = ""
    frame.loc[frame["trial_kind"] == "practice", "excluded"] = "practice trial"
    frame.loc[frame["trial_kind"] == "catch", "excluded"] = "catch trial"
    # the server refuses a second answer to one trial; if a log holds one anyway, the first answer counts
    order = np.lexsort((frame.index.to_numpy(), _time_key(frame["timestamp"])))
    repeated = frame.iloc[order].duplicated(["study_id", "rater_id", "trial_kind", "trial_index"], keep="first")
    rep_idx = frame.index[order][repeated.to_numpy()]
    frame.loc[rep_idx, "excluded"] = "repeated answer to one trial"
    frame.loc[frame.pop("_withdrawn").astype(bool), "excluded"] = WITHDRAWN
    return Votes(frame=frame, files=[str(p) for p in paths], study_ids=studies, extra_columns=extra)


def _mark_withdrawn(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A `_withdrawn` column: True for the votes of raters who withdrew (sessions.csv beside the log) when the
    study file beside it says withdrawn_votes = "drop" (the default; an unreadable study file counts as drop)."""
    from eval_studies.rater_logs import withdrawn_raters
    from eval_studies.study_file import load_study

    gone = withdrawn_raters(path.parent)
    policy = "drop"
    if gone:
        try:
            policy = load_study(path.parent).withdrawn_votes
        except ValueError:
            pass
    return df.assign(_withdrawn=df["rater_id"].isin(gone) if policy == "drop" else False)
