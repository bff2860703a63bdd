"""The vote log: an append-only CSV, ``votes.csv`` in the study folder, columns schema.VOTE_COLUMNS.

Guarantees:
- a vote is on disk (written, flushed, fsynced) before ``record`` returns, so before the rater
  sees the next trial;
- a file lock (``votes.csv.lock``) serialises writers, so several server processes may share one log;
- each rater's progress is read back from the log itself: a reload, a second tab or a restarted
  server resumes at the first trial not yet recorded, and a trial is never recorded twice;
- a vote for another trial than the rater's current one (a forged, repeated or stale vote) is refused;
- cells starting with = + - @ (or tab / carriage return) get a leading apostrophe, so a spreadsheet
  shows them as text instead of running them as formulas.

If a server dies in the middle of a write, the torn last line (never acknowledged) is moved to
``votes.csv.partial`` by the next writer, so the CSV always parses.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from eval_studies.assign import Trial
from eval_studies.schema import CHOICES, LOG_EXTRA_COLUMNS, VOTE_COLUMNS

APP_VERSION = "1.0"
LOG_NAME = "votes.csv"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_RESPONSE_MS = 24 * 3600 * 1000
LOG_COLUMNS = VOTE_COLUMNS + LOG_EXTRA_COLUMNS  # a new log's header; logs with VOTE_COLUMNS alone stay valid


class VoteRefused(ValueError):
    """A vote that is not the rater's current trial: forged, repeated, or from a stale tab."""


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def _line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([neutralise(v) for v in values])
    return buf.getvalue()


class VoteLog:
    """One study's log. Thread-safe; process-safe through the file lock."""

    def __init__(self, folder: Path, study_id: str):
        self.folder = Path(folder)
        self.study_id = study_id
        self.path = self.folder / LOG_NAME
        self._flock = FileLock(str(self.path) + ".lock", thread_local=False)
        self._tlock = threading.Lock()
        self._offset = 0  # bytes of the log already parsed into _done
        self._done: dict[str, set[int]] = {}  # rater -> recorded trial indices
        self._rows = 0
        self._dupes = 0
        self._columns = LOG_COLUMNS  # the header of the file on disk, once read

    # -- reading back --------------------------------------------------------------------------
    def _sync(self) -> None:
        """Parse what other writers appended since the last call. Call with both locks held."""
        if not self.path.exists():
            self._offset, self._done, self._rows = 0, {}, 0
            return
        size = self.path.stat().st_size
        if size < self._offset:
            raise RuntimeError(f"{self.path} shrank from {self._offset} to {size} bytes: the log was edited")
        if size == self._offset:
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            self._repair(self._offset + end, data[end:])
        text = data[:end].decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
        if self._offset == 0 and rows:
            header, rows = rows[0], rows[1:]
            if tuple(header) not in (VOTE_COLUMNS, LOG_COLUMNS):
                raise ValueError(f"{self.path}: header {header} is not the vote log's {list(LOG_COLUMNS)}")
            self._columns = tuple(header)
        ri, ti = VOTE_COLUMNS.index("rater_id"), VOTE_COLUMNS.index("trial_index")
        for row in rows:
            done = self._done.setdefault(row[ri], set())
            t = int(row[ti])
            if t in done:
                self._dupes += 1
            done.add(t)
        self._rows += len(rows)
        self._offset += end

    def _repair(self, good_size: int, fragment: bytes) -> None:
        """A torn last line from a writer that died mid-write: move it aside, keep the CSV whole."""
        with open(str(self.path) + ".partial", "ab") as f:
            f.write(fragment + b"\n")
            f.flush()
            os.fsync(f.fileno())
        with open(self.path, "r+b") as f:
            f.truncate(good_size)
            f.flush()
            os.fsync(f.fileno())

    def done(self, rater_id: str) -> set[int]:
        with self._tlock, self._flock:
            self._sync()
            return set(self._done.get(rater_id, ()))

    def next_index(self, rater_id: str) -> int:
        """The rater's first trial not yet recorded (== number of trials when finished)."""
        done = self.done(rater_id)
        i = 0
        while i in done:
            i += 1
        return i

    def raters(self) -> list[str]:
        """Every rater with a vote in this log."""
        with self._tlock, self._flock:
            self._sync()
            return sorted(self._done)

    def counts(self) -> tuple[int, int]:
        """(votes, raters) recorded so far."""
        with self._tlock, self._flock:
            self._sync()
            return self._rows, len(self._done)

    # -- writing -------------------------------------------------------------------------------
    def record(self, rater_id: str, trials: list[Trial], trial_index: int, choice: str,
               response_ms: int, exposure_ms: int | None = None) -> dict[str, str]:
        """Append one vote and fsync it. Returns the row written. Raises VoteRefused / ValueError."""
        if not isinstance(trial_index, int) or not 0 <= trial_index < len(trials):
            raise VoteRefused(f"trial {trial_index!r} is not assigned to this rater "
                              f"(they have trials 0..{len(trials) - 1})")
        trial = trials[trial_index]
        if trial.index != trial_index:
            raise ValueError(f"trial list out of order at {trial_index}")
        if choice not in CHOICES[trial.task]:
            raise ValueError(f"choice {choice!r} is not one of {CHOICES[trial.task]} for a {trial.task} trial")
        if isinstance(response_ms, bool) or not isinstance(response_ms, int) \
                or not 0 <= response_ms <= MAX_RESPONSE_MS:
            raise ValueError(f"response_ms must be a whole number of ms in 0..{MAX_RESPONSE_MS}, "
                             f"got {response_ms!r}")
        if trial.task == "pairwise":
            chosen = trial.left_condition if choice == "left" else trial.right_condition
        else:
            chosen = trial.left_condition if choice == "real" else ""
        correct = "" if trial.answer is None else str(int(choice == trial.answer))
        with self._tlock, self._flock:
            self._sync()
            done = self._done.get(rater_id, set())
            if trial_index in done:
                raise VoteRefused(f"trial {trial_index} of this rater is already recorded")
            expected = 0
            while expected in done:
                expected += 1
            if trial_index != expected:
                raise VoteRefused(f"trial {trial_index} is not this rater's current trial ({expected})")
            row = {
                "vote_id": uuid.uuid4().hex,
                "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "study_id": self.study_id, "rater_id": rater_id, "trial_index": str(trial_index),
                "trial_kind": trial.kind, "task": trial.task, "item": trial.item,
                "left_condition": trial.left_condition, "right_condition": trial.right_condition,
                "left_stimulus": trial.left_stimulus, "right_stimulus": trial.right_stimulus,
                "choice": choice, "chosen_condition": chosen, "correct": correct,
                "response_ms": str(response_ms), "app_version": APP_VERSION,
                "exposure_ms": "" if exposure_ms is None else str(int(exposure_ms)),
            }
            if self._offset == 0:
                self._columns = LOG_COLUMNS
            data = _line([row[c] for c in self._columns]).encode("utf-8")
            if self._offset == 0:
                data = _line(list(LOG_COLUMNS)).encode("utf-8") + data
            with open(self.path, "ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._offset += len(data)
            self._done.setdefault(rater_id, set()).add(trial_index)
            self._rows += 1
            if self._offset == len(data):  # a new file: make its directory entry durable too
                dfd = os.open(self.folder, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            return row


def read_votes(path: Path) -> list[dict[str, str]]:
    """All rows of a vote log as dicts (for tests and tools; the report has its own checked reader)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) not in (VOTE_COLUMNS, LOG_COLUMNS):
            raise ValueError(f"{path}: header {reader.fieldnames} is not the vote log's {list(LOG_COLUMNS)}")
        return list(reader)
