"""Pacing rules of the study server: a minimum time on screen, a per-rater rate cap, and HYPE-time's staircase.

- Minimum exposure: an answer counts only once the trial's images were on screen for the study's
  ``min_exposure_ms`` (default 500 ms), counted on the server from when it sent the trial. With a timed
  exposure shorter than that (HYPE-time's fast trials), the answer counts once the exposure is over.
- Rate cap: at most ``max_votes_per_minute`` accepted votes per rater in any 60 s (default 60).
- HYPE-time (Zhou et al. 2019, "HYPE: A Benchmark for Human eYe Perceptual Evaluation of Generative
  Models"): each real/fake image is shown for a limited time, and a per-rater adaptive staircase sets that
  time: three correct answers in a row shorten it by one step, one wrong answer lengthens it by one step
  (a 3-up/1-down staircase converges on about 79% correct; Levitt 1971). Here every condition has its own
  staircase per rater, so a condition's threshold is the exposure at which raters tell its images apart.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 60.0


def required_ms(min_exposure_ms: int, exposure_ms: int | None) -> int:
    """How long after a trial was sent an answer to it counts."""
    return min(min_exposure_ms, exposure_ms) if exposure_ms else min_exposure_ms


class RateCap:
    """At most ``per_minute`` events per key in any sliding 60 s. Thread-safe; in memory (per process)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._times: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allows(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._times.get(key)
            if q is None:
                return True
            while q and now - q[0] >= WINDOW_S:
                q.popleft()
            return len(q) < self.per_minute

    def add(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._times) > 100_000:
                self._times.clear()
            self._times.setdefault(key, deque()).append(now)


@dataclass
class Staircase:
    """A 3-up/1-down staircase over exposure times in ms."""
    start_ms: int
    min_ms: int
    max_ms: int
    step_ms: int
    level: int = 0
    streak: int = 0
    history: list[tuple[int, bool]] = field(default_factory=list)  # (exposure, correct) per answered trial

    def __post_init__(self):
        self.level = self.level or self.start_ms

    @classmethod
    def from_params(cls, params: dict) -> "Staircase":
        return cls(params["start_ms"], params["min_ms"], params["max_ms"], params["step_ms"])

    def update(self, exposure_ms: int, correct: bool) -> None:
        self.history.append((int(exposure_ms), bool(correct)))
        if not correct:
            self.level = min(self.max_ms, self.level + self.step_ms)
            self.streak = 0
            return
        self.streak += 1
        if self.streak == 3:
            self.level = max(self.min_ms, self.level - self.step_ms)
            self.streak = 0


def threshold_ms(exposures: list[float]) -> float:
    """One rater's threshold from one staircase's exposures in trial order: the mean exposure from the first
    reversal (the first change of direction) on, or of every trial when the staircase never reversed.
    nan for an empty list."""
    if not exposures:
        return float("nan")
    first = 0
    direction = 0
    for i in range(1, len(exposures)):
        d = (exposures[i] > exposures[i - 1]) - (exposures[i] < exposures[i - 1])
        if d and direction and d != direction:
            first = i - 1
            break
        direction = d or direction
    tail = exposures[first:]
    return float(sum(tail) / len(tail))
