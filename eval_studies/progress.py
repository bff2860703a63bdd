"""How far the studies under a folder have come: what the Studies and Results tabs show while votes arrive.

    from eval_studies.progress import study_table, result_folders, study_logs, live_counts
    rows = study_table(Path("studies"))                      # one row per study folder (STUDY_COLUMNS)
    summary, cells = live_counts(study_logs(root, "demo"))   # scored votes per cell so far

Nothing here edits a log: counts are read from the raw vote rows at the time of asking (the report's
exclusions are eval_studies.vote_reader's). Results name folders by their name under the root, never by
a server path.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from eval_studies.study_file import STUDY_FILES, list_studies, load_study
from eval_studies.vote_reader import Votes, load_votes
from eval_studies.vote_writer import VoteLog

STUDY_COLUMNS = ["folder", "id", "tasks", "conditions", "trials per rater", "votes", "raters", "status"]
LOG_GLOB = "votes*.csv"     # votes.csv, plus votes-*.csv written by further server replicas
ROOT_PLACEHOLDER = "STUDIES_ROOT"


def study_table(studies_root: Path) -> list[list]:
    """One row per study folder (columns STUDY_COLUMNS): its votes and raters so far, and whether the
    study file is valid ("invalid: <why>" in the status column otherwise)."""
    rows = []
    for folder, study, error in list_studies(Path(studies_root)):
        if study is None:
            error = str(error).replace(str(folder), folder.name)  # the folder's name, not its server path
            rows.append([folder.name, "", "", "", "", "", "", f"invalid: {error}"])
            continue
        votes, raters = VoteLog(folder, study.id).counts()
        rows.append([folder.name, study.id, ", ".join(study.tasks), ", ".join(sorted(study.conditions)),
                     study.total_trials, votes, raters, "running" if votes else "ready"])
    return rows


def shown_root(studies_root: Path) -> str:
    """The studies folder as a command line would name it: relative to the working folder when inside
    it, else the placeholder STUDIES_ROOT (a server path is nobody else's business)."""
    try:
        return str(Path(studies_root).resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return ROOT_PLACEHOLDER


def serving_help(studies_root: Path) -> str:
    """Markdown: how to build a first study, or how to serve each valid one to raters."""
    root = shown_root(studies_root)
    note = (f"\n\n({ROOT_PLACEHOLDER} is the folder this app was given as `--studies-root`.)"
            if root == ROOT_PLACEHOLDER else "")
    found = list_studies(Path(studies_root))
    if not found:
        return (f"No studies under `{root}` yet. Build the demo study with\n\n"
                f"    python -m eval_studies.build --demo --out {root}/demo\n\n"
                "or one from your own images with `--from-folder SRC` (see docs/studies.md)." + note)
    lines = ["Serve a study to raters (its own process and port; raters see only the study):", ""]
    for folder, study, _ in found:
        if study is not None:
            lines += [f"**{study.id}**", "", f"    python app.py --study {root}/{folder.name} --host 0.0.0.0 "
                      "--port 7861", ""]
    lines += ["Rater links: `http://HOST:7861/?rater=ID`; on Prolific "
              "`http://HOST:7861/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}"
              "&SESSION_ID={{%SESSION_ID%}}`; on MTurk `?workerId=...&assignmentId=...`. "
              "Votes go to `votes.csv` in the study folder; the Results tab reads them."]
    return "\n".join(lines) + note


def result_folders(studies_root: Path) -> list[str]:
    """Names of the folders under the root that hold a vote log or a study file (what Results offers)."""
    studies_root = Path(studies_root)
    if not studies_root.is_dir():
        return []
    return sorted(p.name for p in studies_root.iterdir()
                  if p.is_dir() and (any(p.glob(LOG_GLOB)) or any((p / n).is_file() for n in STUDY_FILES)))


def study_logs(studies_root: Path, name: str) -> list[Path]:
    """The vote logs of the study folder ``name``; KeyError for a name result_folders does not offer
    (so a client cannot pass a path)."""
    if name not in result_folders(studies_root):
        raise KeyError(f"unknown study {name!r}")
    return sorted((Path(studies_root) / name).glob(LOG_GLOB))


_counts_cache: dict[tuple, tuple[str, pd.DataFrame]] = {}   # shared by sessions: same logs, same counts


def live_counts(logs: list[Path]) -> tuple[str, pd.DataFrame]:
    """A one-line markdown summary and the scored votes so far per cell (columns task, cell, votes,
    raters; a pairwise cell is "a vs b" in name order), or the log's problem. Recomputed only when a
    log's size or modification time changed."""
    empty = pd.DataFrame(columns=["task", "cell", "votes", "raters"])
    if not logs:
        return "No votes yet.", empty
    key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in logs)
    if key not in _counts_cache:
        if len(_counts_cache) > 32:
            _counts_cache.clear()
        _counts_cache[key] = _count(logs, empty)
    return _counts_cache[key]


def _count(logs: list[Path], empty: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    try:
        v = load_votes(logs)
    except ValueError as e:
        return f"The log cannot be read: {e}", empty
    f = v.frame
    s = v.scored
    cell = pd.Series(
        [f"{min(a, b)} vs {max(a, b)}" if t == "pairwise" else a
         for t, a, b in zip(s["task"], s["left_condition"], s["right_condition"])], index=s.index, dtype=object)
    counts = (s.assign(cell=cell).groupby(["task", "cell"])
              .agg(votes=("vote_id", "size"), raters=("rater_id", "nunique")).reset_index())
    ex = v.exclusion_text()
    summary = (f"**{len(f)} votes** from {f['rater_id'].nunique()} raters in {len(logs)} log(s); "
               f"{len(s)} scored; set aside: {ex}.")
    return summary, counts


def natural_condition(folder: Path, votes: Votes) -> str:
    """The study file's natural_condition, if the real-vs-fake votes use it ("" otherwise, and when the
    folder has no valid study file: the report then guesses from the condition names)."""
    try:
        name = load_study(folder).natural_condition or ""
    except ValueError:
        return ""
    shown = set(votes.frame.loc[votes.frame["task"] == "real_fake", "left_condition"])
    return name if name in shown else ""


def studies_overview(studies_root: Path) -> tuple[list[list], str]:
    """(study_table, serving_help): what the Studies tab's Refresh shows."""
    return study_table(studies_root), serving_help(studies_root)
