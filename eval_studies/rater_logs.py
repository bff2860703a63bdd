"""The logs the study server keeps beside ``votes.csv``: append-only CSV files, one row per event.

- ``audit.csv``     refused vote attempts and why (too soon, over the rate cap, bad token, ...): never votes;
- ``sessions.csv``  each session's events: page opened, consent given or declined, the page's report of its
                    device class, screen size, reloads and time with the tab hidden, withdrawal, finish;
- ``problems.csv``  what raters wrote in the "report a problem" box;
- ``shown.csv``     when each trial was first sent to its rater and for how long it was shown, so that
                    response times and timed exposures survive reloads and server restarts.

A file lock serialises writers (several server processes may share a folder). Rows are flushed, not fsynced:
they survive a killed server process (the operating system holds them), unlike the votes they need not
survive a power cut. Cells are neutralised for spreadsheets as in the vote log.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from eval_studies.schema import AUDIT_COLUMNS, PROBLEM_COLUMNS, SESSION_COLUMNS, SHOWN_COLUMNS

AUDIT_LOG, SESSIONS_LOG, PROBLEMS_LOG, SHOWN_LOG = "audit.csv", "sessions.csv", "problems.csv", "shown.csv"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_TEXT = 2000  # characters kept of a free-text field (a problem report)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\x00", "")[:MAX_TEXT]
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class AppendLog:
    """One append-only CSV with fixed columns. ``on_row`` (optional) sees every row of the file once, in file
    order, whoever wrote it: call ``sync()`` to catch up with other processes."""

    def __init__(self, path: Path, columns: tuple[str, ...], on_row: Callable[[dict], None] | None = None):
        self.path = Path(path)
        self.columns = columns
        self.on_row = on_row
        self._flock = FileLock(str(self.path) + ".lock", thread_local=False)
        self._tlock = threading.RLock()
        self._offset = 0

    def _sync_locked(self) -> None:
        if not self.path.exists():
            return
        size = self.path.stat().st_size
        if size <= self._offset:
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read(size - self._offset)
        end = data.rfind(b"\n") + 1  # a torn last line (a killed writer) waits for the next sync
        rows = list(csv.reader(io.StringIO(data[:end].decode("utf-8", errors="replace"))))
        if self._offset == 0 and rows:
            header, rows = rows[0], rows[1:]
            if tuple(header) != self.columns:
                raise ValueError(f"{self.path}: header {header} is not {list(self.columns)}")
        self._offset += end
        if self.on_row is not None:
            for row in rows:
                if len(row) == len(self.columns):
                    self.on_row(dict(zip(self.columns, row)))

    def sync(self) -> None:
        """Read what was appended since the last call. Readers take no file lock: rows are only ever appended,
        and a line still being written (no newline yet) is left for the next call."""
        if self.on_row is None:
            return
        with self._tlock:
            self._sync_locked()

    def append(self, row: dict, unless: Callable[[], bool] | None = None) -> bool:
        """Write one row (missing columns are empty). With ``unless``, the log is synced first and the row is
        written only if ``unless()`` is false (a check and its write, atomic across processes)."""
        with self._tlock, self._flock:
            self._sync_locked()
            if unless is not None and unless():
                return False
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            if not self.path.exists() or self.path.stat().st_size == 0:
                w.writerow(self.columns)
            w.writerow([_cell(row.get(c, "")) for c in self.columns])
            data = buf.getvalue().encode("utf-8")
            with open(self.path, "ab") as f:
                f.write(data)
                f.flush()
            if self.on_row is not None:
                self._sync_locked()
            else:
                self._offset += len(data)
            return True


def read_rows(path: Path) -> list[dict[str, str]]:
    """Every row of one of these logs ([] when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def audit_log(folder: Path) -> AppendLog:
    return AppendLog(Path(folder) / AUDIT_LOG, AUDIT_COLUMNS)


def problems_log(folder: Path) -> AppendLog:
    return AppendLog(Path(folder) / PROBLEMS_LOG, PROBLEM_COLUMNS)


def sessions_log(folder: Path, on_row=None) -> AppendLog:
    return AppendLog(Path(folder) / SESSIONS_LOG, SESSION_COLUMNS, on_row)


def shown_log(folder: Path, on_row=None) -> AppendLog:
    return AppendLog(Path(folder) / SHOWN_LOG, SHOWN_COLUMNS, on_row)


def withdrawn_raters(folder: Path) -> set[str]:
    """Hashed ids of the raters who withdrew (from sessions.csv in ``folder``)."""
    return {r["rater_id"] for r in read_rows(Path(folder) / SESSIONS_LOG) if r.get("event") == "withdrawn"}
