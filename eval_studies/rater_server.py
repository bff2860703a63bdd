"""The study server: everything a rater front end needs for one study folder, with no web framework in it.

    server = StudyServer(Path("studies/demo"))
    rid = server.rater_id("PID123");  token = server.issue_token(rid, link_params)
    shown = server.show(rid, server.current(rid), session)    # records when the trial was first sent
    server.vote(rid, shown.trial.index, "left", session, link_params, token)  # or PacingRefused / VoteRefused

What it guarantees beyond the vote log's own (eval_studies.vote_writer):
- a vote needs the rater's token: random nonce + HMAC under a secret derived from the study key, bound to the
  rater and to the Prolific / MTurk parameters of the link; compared with hmac.compare_digest;
- pacing (eval_studies.pacing): no vote before the images were on screen ``min_exposure_ms``, counted from when
  the trial was sent; at most ``max_votes_per_minute`` per rater;
- ``response_ms`` runs from the first time the trial was sent, across reloads and restarts (shown.csv); a timed
  exposure already shown is not shown again (``Showing.spent``);
- every refused attempt goes to audit.csv with its reason, never to votes.csv;
- sessions.csv records opens, consent, declines, the page's device report, withdrawal and finish;
  problems.csv the raters' problem reports; a withdrawn rater can vote no more.
One instance per server process; thread-safe; several processes may serve one folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eval_studies import rater_logs
from eval_studies.assign import CONTEXT_PARAMS, RATER_PARAMS, Trial, assign, completion_code, hash_rater, study_key
from eval_studies.pacing import RateCap, Staircase, required_ms
from eval_studies.stimuli import ServedStimuli, read_rgb
from eval_studies.study_file import load_study
from eval_studies.vote_writer import LOG_NAME, VoteLog, VoteRefused, read_votes

BOUND_PARAMS = tuple(p for p in RATER_PARAMS + CONTEXT_PARAMS if p != "rater")  # a token is bound to these
TOKEN_RE = re.compile(r"^[0-9a-f]{32}\.[0-9a-f]{40}$")
DEVICES = ("phone", "tablet", "desktop")
SIZE_RE = re.compile(r"^\d{1,5}x\d{1,5}$")


class PacingRefused(VoteRefused):
    """A vote refused by the pacing rules; ``reason`` is "too_fast" or "rate_limit"."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Showing:
    trial: Trial
    exposure_ms: int | None   # a timed exposure, None when the images stay until the answer
    spent: bool               # a timed exposure already shown before (a reload): send no images
    min_ms: int               # the page may take an answer this long after the images loaded


def bound_params(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={params[k]}" for k in BOUND_PARAMS if params.get(k))


class StudyServer:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.study = load_study(self.folder)
        self.key = study_key(self.folder)
        self._token_key = hmac.new(self.key, b"vote-token", hashlib.sha256).digest()
        self.log = VoteLog(self.folder, self.study.id)
        self.rate = RateCap(self.study.max_votes_per_minute)
        self._lock = threading.Lock()
        self._trials: dict[str, list[Trial]] = {}
        self._first: dict[tuple[str, int], tuple[int, int | None]] = {}  # (rater, trial) -> (ms, exposure)
        self._sent: dict[tuple[str, int], float] = {}  # (rater, trial) -> monotonic time of the latest send
        self._opens: dict[str, int] = {}
        self._withdrawn: set[str] = set()
        self._finished: set[str] = set()
        self._stairs: dict[str, dict[str, Staircase]] = {}
        self.audit = rater_logs.audit_log(self.folder)
        self.problems = rater_logs.problems_log(self.folder)
        self.sessions = rater_logs.sessions_log(self.folder, self._on_session_row)
        self.shown = rater_logs.shown_log(self.folder, self._on_shown_row)
        self.sessions.sync()
        self.shown.sync()
        self.served: ServedStimuli | None = None

    # -- logs read back ------------------------------------------------------------------------
    def _on_session_row(self, row: dict) -> None:
        rid, event = row["rater_id"], row["event"]
        if event == "open":
            self._opens[rid] = self._opens.get(rid, 0) + 1
        elif event == "withdrawn":
            self._withdrawn.add(rid)
        elif event == "finished":
            self._finished.add(rid)

    def _on_shown_row(self, row: dict) -> None:
        key = (row["rater_id"], int(row["trial_index"]))
        if key not in self._first:
            self._first[key] = (int(row["first_shown_ms"]), int(row["exposure_ms"]) if row["exposure_ms"] else None)

    # -- identity --------------------------------------------------------------------------------
    def rater_id(self, raw_id: str) -> str:
        return hash_rater(raw_id, self.key)

    def issue_token(self, rater_id: str, params: Mapping[str, str]) -> str:
        nonce = secrets.token_hex(16)
        return f"{nonce}.{self._mac(rater_id, nonce, params)}"

    def _mac(self, rater_id: str, nonce: str, params: Mapping[str, str]) -> str:
        msg = f"{self.study.id}\0{rater_id}\0{nonce}\0{bound_params(params)}".encode()
        return hmac.new(self._token_key, msg, hashlib.sha256).hexdigest()[:40]

    def check_token(self, rater_id: str, params: Mapping[str, str], token) -> bool:
        if not isinstance(token, str) or not TOKEN_RE.match(token):
            return False
        nonce, mac = token.split(".")
        return hmac.compare_digest(mac, self._mac(rater_id, nonce, params))

    def completion_code(self, rater_id: str) -> str:
        return completion_code(self.study, self.key, rater_id)

    # -- trials ------------------------------------------------------------------------------------
    def trials(self, rater_id: str) -> list[Trial]:
        with self._lock:
            if rater_id not in self._trials:
                if len(self._trials) > 10_000:
                    self._trials.clear()
                self._trials[rater_id] = assign(self.study, rater_id)
            return self._trials[rater_id]

    def current(self, rater_id: str) -> Trial | None:
        """The trial this rater answers next, None when finished."""
        trials = self.trials(rater_id)
        i = self.log.next_index(rater_id)
        return trials[i] if i < len(trials) else None

    def starts_block(self, rater_id: str, index: int) -> bool:
        """Whether trial ``index`` begins a new block (another task) after an earlier one: a break before it."""
        trials = self.trials(rater_id)
        return 0 < index < len(trials) and trials[index].task != trials[index - 1].task

    def show(self, rater_id: str, trial: Trial, session: str = "") -> Showing:
        """Record that ``trial`` is being sent now (its first time is kept in shown.csv) and say how."""
        key = (rater_id, trial.index)
        exposure = self._exposure(rater_id, trial)
        now_ms = int(time.time() * 1000)
        if key not in self._first:  # the first sending is written once, under the file lock
            self.shown.append({"rater_id": rater_id, "trial_index": trial.index, "first_shown_ms": now_ms,
                               "exposure_ms": exposure or ""}, unless=lambda: key in self._first)
        first_ms, exposure = self._first[key]
        spent = bool(exposure) and key in self._sent or (bool(exposure) and now_ms - first_ms > exposure)
        self._sent[key] = time.monotonic()
        return Showing(trial, exposure, spent, required_ms(self.study.min_exposure_ms, exposure))

    def _exposure(self, rater_id: str, trial: Trial) -> int | None:
        hype = self.study.hype_time
        if hype is None or trial.task != "real_fake":
            return self.study.exposure_ms
        if trial.kind != "scored":
            return hype["start_ms"]
        return self._staircases(rater_id)[trial.left_condition].level

    def _staircases(self, rater_id: str) -> dict[str, Staircase]:
        """This rater's HYPE-time staircases, one per condition; rebuilt from the vote log after a restart."""
        with self._lock:
            stairs = self._stairs.get(rater_id)
        if stairs is not None:
            return stairs
        stairs = {c: Staircase.from_params(self.study.hype_time) for c in self.study.conditions}
        path = self.folder / LOG_NAME
        rows = [r for r in read_votes(path) if r["rater_id"] == rater_id] if path.exists() else []
        for r in sorted(rows, key=lambda r: int(r["trial_index"])):
            if r["task"] == "real_fake" and r["trial_kind"] == "scored" and r.get("exposure_ms") and r["correct"]:
                stairs[r["left_condition"]].update(int(r["exposure_ms"]), r["correct"] == "1")
        with self._lock:
            return self._stairs.setdefault(rater_id, stairs)

    # -- votes -------------------------------------------------------------------------------------
    def refuse(self, rater_id: str, session: str, trial_index, reason: str, detail: str = "") -> None:
        self.audit.append({"timestamp": rater_logs.now_iso(), "study_id": self.study.id, "rater_id": rater_id,
                           "session": session, "trial_index": trial_index, "reason": reason, "detail": detail})

    def vote(self, rater_id: str, trial_index: int, choice: str, session: str, params: Mapping[str, str],
             token) -> dict[str, str]:
        """Record one answer. Raises PacingRefused, VoteRefused (bad token, not the current trial, withdrawn)
        or ValueError; every refusal is written to audit.csv first."""
        def no(reason: str, message: str, exc=VoteRefused):
            self.refuse(rater_id, session, trial_index, reason, message)
            raise exc(reason, message) if exc is PacingRefused else exc(message)

        if not self.check_token(rater_id, params, token):
            no("bad_token", "the vote's token is not this rater's")
        self.sessions.sync()
        if rater_id in self._withdrawn:
            no("withdrawn", "the rater withdrew from the study")
        key = (rater_id, trial_index)
        first = self._first.get(key)
        if first is None:
            self.shown.sync()
            first = self._first.get(key)
        if first is None:
            no("never_shown", f"trial {trial_index} was never sent to this rater")
        first_ms, exposure = first
        now_ms = int(time.time() * 1000)
        sent = self._sent.get(key)
        since = (time.monotonic() - sent) * 1000 if sent is not None else now_ms - first_ms
        need = required_ms(self.study.min_exposure_ms, exposure)
        if since < need:
            no("too_fast", f"answered {since:.0f} ms after the trial was sent; {need} ms needed", PacingRefused)
        if not self.rate.allows(rater_id):
            no("rate_limit", f"more than {self.study.max_votes_per_minute} votes in 60 s", PacingRefused)
        trials = self.trials(rater_id)
        try:
            row = self.log.record(rater_id, trials, trial_index, choice, max(0, now_ms - first_ms), exposure)
        except VoteRefused as e:
            no("not_current", str(e))
        self.rate.add(rater_id)
        trial = trials[trial_index]
        if self.study.hype_time and trial.task == "real_fake" and trial.kind == "scored" and trial.answer:
            self._staircases(rater_id)[trial.left_condition].update(exposure or 0, choice == trial.answer)
        return row

    # -- sessions, consent, withdrawal, problems ------------------------------------------------
    def event(self, rater_id: str, session: str, event: str, trial_index="", **fields) -> None:
        self.sessions.append({"timestamp": rater_logs.now_iso(), "study_id": self.study.id, "rater_id": rater_id,
                              "session": session, "event": event, "trial_index": trial_index, **fields})

    def opened(self, rater_id: str, session: str) -> None:
        """A page load: logged with the number of earlier loads by this rater (its reloads)."""
        self.sessions.sync()
        self.event(rater_id, session, "open", reloads=self._opens.get(rater_id, 0))

    def finished(self, rater_id: str, session: str) -> None:
        self.sessions.append({"timestamp": rater_logs.now_iso(), "study_id": self.study.id, "rater_id": rater_id,
                              "session": session, "event": "finished"},
                             unless=lambda: rater_id in self._finished)

    def withdraw(self, rater_id: str, session: str) -> None:
        self.event(rater_id, session, "withdrawn", detail=f"votes: {self.study.withdrawn_votes} at report time")

    def withdrawn(self, rater_id: str) -> bool:
        self.sessions.sync()
        return rater_id in self._withdrawn

    def client_report(self, rater_id: str, session: str, payload: str) -> None:
        """The page's report of its device, screen, reloads and hidden time (a JSON object; see docs/studies.md).
        Raises ValueError for anything else."""
        if not isinstance(payload, str) or len(payload) > 2000:
            raise ValueError("payload must be a JSON object of at most 2000 characters")
        try:
            d = json.loads(payload)
        except json.JSONDecodeError as e:
            raise ValueError(f"payload is not JSON ({e.msg})") from None
        if not isinstance(d, dict):
            raise ValueError("payload must be a JSON object")
        out = {}
        if d.get("device") is not None:
            if d["device"] not in DEVICES:
                raise ValueError(f"device must be one of {DEVICES}")
            out["device"] = d["device"]
        for k in ("screen", "viewport"):
            if d.get(k) is not None:
                if not isinstance(d[k], str) or not SIZE_RE.match(d[k]):
                    raise ValueError(f"{k} must look like 375x667")
                out[k] = d[k]
        for k, hi in (("reloads", 10_000), ("hidden_ms", 10**9)):
            v = d.get(k)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                    raise ValueError(f"{k} must be a whole number in 0..{hi}")
                out[k] = v
        if d.get("touch") is not None:
            out["touch"] = str(bool(d["touch"])).lower()
        nxt = self.log.next_index(rater_id)
        self.event(rater_id, session, "client", trial_index=nxt, **out)

    def report_problem(self, rater_id: str, session: str, trial_index, text: str) -> None:
        text = (text or "").strip()
        if not text:
            raise ValueError("write what went wrong first")
        self.problems.append({"timestamp": rater_logs.now_iso(), "study_id": self.study.id, "rater_id": rater_id,
                              "session": session, "trial_index": trial_index, "text": text})

    # -- images ------------------------------------------------------------------------------------
    def serve_into(self, cache_dir) -> None:
        """Write every stimulus as the served file (eval_studies.stimuli) under ``cache_dir``, now."""
        self.served = ServedStimuli(self.study.stimuli_dir, self.key, cache_dir)
        stimuli = [s for c in self.study.conditions.values() for s in c.values()]
        self.served.prepare(stimuli + [s for pair in self.study.catch_pool.values() for s in pair.values()])

    def image_path(self, stimulus: str) -> str:
        if self.served is None:
            raise RuntimeError("call serve_into(cache_dir) first")
        return self.served.path(stimulus)

    def image(self, stimulus: str):
        """The stimulus as a uint8 H x W x 3 array (pixels only)."""
        return read_rgb(self.study.stimuli_dir / stimulus)
