"""Who sees what: rater ids from the link, and each rater's balanced random list of trials.

The list is a pure function of (study, rater id): a reload, a second tab or a restarted server
computes the same list, and the vote log says how far the rater got. The answer key (which side
is which condition, which answer is correct) lives in these Trial objects, on the server only.

Balance, per rater:
- pairwise: the study's condition pairs in full rounds (each pair equally often), the remainder
  drawn at random; each pair's sides alternate (left/right counts differ by at most one);
- real_fake: the study's natural_share (default half) of the trials show natural images, the rest the other
  conditions in full rounds the same way (with no natural condition: every condition in full rounds);
- no item twice: scored trials draw items without replacement, catch/practice trials draw from
  their own pool without replacement;
- tasks come in blocks (practice for a task first), in a random block order per rater;
  catch trials sit at random places inside each block;
- catch and practice trials: pairwise ones put the untouched photo on each side equally often; real/fake ones
  show the untouched photo (answer "real") and the broken one (answer "fake") equally often, so that always
  answering "fake" fails half of them.

Completion codes are per rater: an HMAC of the hashed rater id under the study's key
(``completion_code``), so one rater's code is no use to another; the researcher checks one with
``python -m eval_studies.assign STUDY_DIR --verify CODE``.

    python -m eval_studies.assign STUDY_DIR --rater PID   # the hashed id and that rater's trials
    python -m eval_studies.assign STUDY_DIR --verify CODE  # whose completion code this is, and did they finish
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval_studies.study_file import RESERVED_PREFIX, Study, load_study

# The first of these present in the link is the rater's identity. Prolific sends PROLIFIC_PID,
# STUDY_ID and SESSION_ID; MTurk sends workerId and assignmentId. STUDY_ID is the same for every
# rater, so it is validated but never used as an identity.
RATER_PARAMS = ("rater", "PROLIFIC_PID", "workerId", "SESSION_ID", "assignmentId")
CONTEXT_PARAMS = ("STUDY_ID",)
RAW_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
RATER_KEY_FILE = ".rater_key"
CATCH_REAL, CATCH_BROKEN = f"{RESERVED_PREFIX}real", f"{RESERVED_PREFIX}broken"


@dataclass(frozen=True)
class Trial:
    index: int  # position in this rater's list, 0-based, practice included
    kind: str  # practice | scored | catch
    task: str  # pairwise | real_fake
    item: str
    left_condition: str
    right_condition: str  # "" for real_fake (one image)
    left_stimulus: str  # file name in the study's stimuli/ folder
    right_stimulus: str  # "" for real_fake
    answer: str | None  # the correct choice, None where there is none (pairwise between two methods)


def rater_from_params(params: Mapping[str, str]) -> tuple[str, str] | None:
    """(raw id, parameter name) from a link's query parameters, None if none is given.

    Raises ValueError naming the parameter when a value is too long or has other characters than
    letters, digits, '_', '.', '-'.
    """
    for name in RATER_PARAMS + CONTEXT_PARAMS:
        value = params.get(name)
        if value is not None and not RAW_ID_RE.match(value):
            raise ValueError(f"link parameter {name} must be 1-64 letters, digits, '_', '.' or '-' "
                             f"(got {len(value)} characters)")
    for name in RATER_PARAMS:
        if params.get(name):
            return params[name], name
    return None


def new_anonymous_id() -> str:
    return f"anon-{secrets.token_hex(8)}"


def study_key(folder: Path) -> bytes:
    """The study's secret key for hashing rater ids; created (mode 0600) on first use.

    Several server processes may start at once: the key is written to a private temporary file and
    hard-linked into place, which fails for all but one of them; the others read the winner's key.
    """
    path = Path(folder) / RATER_KEY_FILE
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rater_key.")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} must hold 32 bytes; delete it only if no votes were recorded")
    return key


def hash_rater(raw_id: str, key: bytes) -> str:
    """What the log stores: HMAC-SHA256 of the raw id under the study's key, 20 hex digits.

    The researcher, who holds the key, can recompute it for a given Prolific or MTurk id
    (``python -m eval_studies.assign DIR --rater ID``); anyone with only the log cannot.
    """
    if not RAW_ID_RE.match(raw_id):
        raise ValueError(f"rater id must be 1-64 letters, digits, '_', '.' or '-', got {raw_id!r}")
    return "r" + hmac.new(key, raw_id.encode(), hashlib.sha256).hexdigest()[:20]


def _seed(study: Study, rater_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{study.id}\0{rater_id}".encode()).digest()[:8], "little")


def _rounds(options: list, n: int, rng: np.random.Generator) -> list:
    """n draws from options: full rounds (each option once, shuffled), the remainder without repeats."""
    out = []
    while len(out) + len(options) <= n:
        out += [options[i] for i in rng.permutation(len(options))]
    rest = n - len(out)
    out += [options[i] for i in rng.choice(len(options), size=rest, replace=False)] if rest else []
    return [out[i] for i in rng.permutation(len(out))]


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def assign(study: Study, rater_id: str) -> list[Trial]:
    """This rater's trials in order. Deterministic in (study.id, rater_id)."""
    rng = np.random.default_rng(_seed(study, rater_id))
    tasks = [t for t in study.tasks if study.trials_per_task[t] > 0]
    tasks = [tasks[i] for i in rng.permutation(len(tasks))]  # block order, counterbalanced across raters
    items = [study.items[i] for i in rng.permutation(len(study.items))]
    pool = sorted(study.catch_pool)
    pool = [pool[i] for i in rng.permutation(len(pool))]
    n_practice = _split(study.practice_trials, len(tasks))
    n_catch = _split(study.catch_trials, len(tasks))

    def catch_trial(kind: str, task: str, item: str, k: int, start: int) -> dict:
        real, broken = study.catch_pool[item]["real"], study.catch_pool[item]["broken"]
        if task == "pairwise":
            real_left = (k + int(rng.integers(2))) % 2 == 0
            l, r = ((CATCH_REAL, real), (CATCH_BROKEN, broken)) if real_left else \
                ((CATCH_BROKEN, broken), (CATCH_REAL, real))
            return dict(kind=kind, task=task, item=item, left_condition=l[0], right_condition=r[0],
                        left_stimulus=l[1], right_stimulus=r[1], answer="left" if real_left else "right")
        # real_fake: real and broken alternate from a random start, so each is shown equally often
        show_real = (k + start) % 2 == 1
        cond, stim = (CATCH_REAL, real) if show_real else (CATCH_BROKEN, broken)
        return dict(kind=kind, task=task, item=item, left_condition=cond, right_condition="",
                    left_stimulus=stim, right_stimulus="", answer="real" if show_real else "fake")

    rows: list[dict] = []
    for b, task in enumerate(tasks):
        n = study.trials_per_task[task]
        block_items, items = items[:n], items[n:]
        scored = []
        if task == "pairwise":
            flips = {p: int(rng.integers(2)) for p in study.pairs}
            seen = {p: 0 for p in study.pairs}
            for item, (a, c) in zip(block_items, _rounds(list(study.pairs), n, rng)):
                left, right = (a, c) if (seen[(a, c)] + flips[(a, c)]) % 2 == 0 else (c, a)
                seen[(a, c)] += 1
                answer = None
                if study.natural_condition in (left, right):
                    answer = "left" if left == study.natural_condition else "right"
                scored.append(dict(kind="scored", task=task, item=item, left_condition=left,
                                   right_condition=right, left_stimulus=study.conditions[left][item],
                                   right_stimulus=study.conditions[right][item], answer=answer))
        else:
            for item, cond in zip(block_items, _real_fake_conditions(study, n, rng)):
                answer = None
                if study.natural_condition is not None:
                    answer = "real" if cond == study.natural_condition else "fake"
                scored.append(dict(kind="scored", task=task, item=item, left_condition=cond,
                                   right_condition="", left_stimulus=study.conditions[cond][item],
                                   right_stimulus="", answer=answer))
        practice = []
        start = int(rng.integers(2))
        for k in range(n_practice[b]):
            practice.append(catch_trial("practice", task, pool.pop(), k, start))
        start = int(rng.integers(2))
        for k in range(n_catch[b]):
            # never first in the block, so a catch trial does not look like one more practice trial
            pos = int(rng.integers(1, len(scored) + 1)) if scored else 0
            scored.insert(pos, catch_trial("catch", task, pool.pop(), k, start))
        rows += practice + scored
    return [Trial(index=i, **r) for i, r in enumerate(rows)]


def _real_fake_conditions(study: Study, n: int, rng: np.random.Generator) -> list[str]:
    """The conditions of a rater's n scored real/fake trials, in random order."""
    names = sorted(study.conditions)
    nat = study.natural_condition
    if study.natural_share is None or nat is None or len(names) < 2:
        return _rounds(names, n, rng)
    n_nat = int(round(study.natural_share * n))
    # a rater's share may round either way; the draw keeps it unbiased across raters
    if abs(study.natural_share * n - n_nat) == 0.5 and rng.integers(2):
        n_nat -= 1 if n_nat > study.natural_share * n else -1
    fakes = _rounds([c for c in names if c != nat], n - n_nat, rng) if n > n_nat else []
    out = [nat] * n_nat + fakes
    return [out[i] for i in rng.permutation(len(out))]


def completion_code(study: Study, key: bytes, rater_id: str) -> str:
    """This rater's completion code: the study's completion_code (if any) as a prefix, then 12 characters of
    an HMAC of the hashed rater id under the study's key."""
    mac = hmac.new(key, f"completion\0{study.id}\0{rater_id}".encode(), hashlib.sha256).hexdigest()[:12].upper()
    return f"{study.completion_code}-{mac}" if study.completion_code else mac


def verify_code(study: Study, key: bytes, code: str, rater_ids) -> str | None:
    """The hashed rater id among ``rater_ids`` whose completion code is ``code``, None if none."""
    code = code.strip()
    for rid in rater_ids:
        if hmac.compare_digest(completion_code(study, key, rid), code):
            return rid
    return None


def _verify(study: Study, folder: Path, code: str) -> int:
    from eval_studies.vote_writer import VoteLog

    log = VoteLog(folder, study.id)
    log.counts()
    raters = log.raters()
    rid = verify_code(study, study_key(folder), code, raters)
    if rid is None:
        print(f"{code!r} is not the completion code of any of the {len(raters)} raters of study {study.id}")
        return 1
    n, total = len(log.done(rid)), len(assign(study, rid))
    print(f"{code} belongs to rater {rid}: {n} of {total} trials recorded"
          + (" (finished)" if n >= total else " (NOT finished)"))
    return 0 if n >= total else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Show a rater's hashed id and trial list, or check a completion "
                                            "code (researcher only).")
    p.add_argument("study", type=Path, help="study folder")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--rater", help="raw rater id, e.g. a Prolific PID")
    g.add_argument("--verify", metavar="CODE", help="a completion code a rater submitted")
    args = p.parse_args(argv)
    study = load_study(args.study)
    if args.verify is not None:
        return _verify(study, args.study, args.verify)
    rid = hash_rater(args.rater, study_key(args.study))
    print(f"rater {args.rater} is logged as {rid}")
    for t in assign(study, rid):
        right = f" | {t.right_condition}" if t.right_condition else ""
        print(f"{t.index:3d} {t.kind:8s} {t.task:9s} {t.item:12s} {t.left_condition}{right}  answer={t.answer}")
    print(f"completion code: {completion_code(study, study_key(args.study), rid)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
