"""Study files: one folder per study, holding ``study.json`` (or ``study.toml``) and its stimuli.

A study names its conditions (the natural photos and each method's output) and, for every condition,
one stimulus per item (an item is one source photo: every condition shows its own version of it).
Catch and practice trials draw from a separate pool of items, each with an untouched ("real") and an
obviously broken ("broken") stimulus. See docs/studies.md for the format with an example.

    study = load_study(Path("studies/demo"))      # -> Study, or ValueError naming the field
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from eval_studies.schema import TASKS
from eval_studies.stimuli import check_images

STUDY_FILES = ("study.json", "study.toml")
STIMULI_DIR = "stimuli"

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # study ids and condition names
ITEM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # item names
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # completion codes
URL_RE = re.compile(r"^https?://[^\s\"'<>]+$")
RESERVED_PREFIX = "catch_"  # condition names of catch and practice stimuli in the log
EXPOSURE_RANGE_MS = (50, 60_000)
MIN_EXPOSURE_MS = 500  # an answer counts only after the images were on screen this long (default)
MAX_VOTES_PER_MINUTE = 60  # per rater; more is refused (default)
NATURAL_SHARE = 0.5  # share of scored real/fake trials that show natural images (default; as in HYPE)
WITHDRAWN_VOTES = ("drop", "keep")  # what the report does with the votes of a rater who withdrew
HYPE_TIME_DEFAULTS = {"start_ms": 500, "min_ms": 100, "max_ms": 1000, "step_ms": 50}

DEFAULT_INSTRUCTIONS = (
    "You will see photos, one or two at a time.\n\n"
    "- **Two photos:** choose the one that looks **more real** (a real, untouched photo).\n"
    "- **One photo:** say whether it is a **real** photo or a **fake** (made or altered by a computer).\n\n"
    "Go with your first impression; there is no time limit unless the photos disappear on their own. "
    "A few practice trials come first and tell you whether you were right."
)
DEFAULT_CONSENT = (
    "This is a research study about how realistic computer-generated images look. It takes about "
    "ten minutes. We record your answers, how long each answer took, and a pseudonymous id derived "
    "from your link; nothing else. You may withdraw at any time with the **Withdraw** button, or stop by "
    "closing this page. Choose **I agree** to take part, or **I do not agree** to leave now."
)

KNOWN_FIELDS = {
    "id", "title", "tasks", "conditions", "natural_condition", "pairs", "trials_per_rater",
    "practice_trials", "catch_trials", "catch_pool", "exposure_ms", "completion_code", "redirect_url",
    "instructions", "consent", "min_exposure_ms", "max_votes_per_minute", "natural_share", "no_consent_code",
    "no_consent_url", "withdrawn_votes", "hype_time",
}


@dataclass(frozen=True)
class Study:
    folder: Path
    id: str
    title: str
    tasks: tuple[str, ...]
    conditions: dict[str, dict[str, str]]  # condition -> item -> stimulus file name (under stimuli/)
    items: tuple[str, ...]  # items every condition has, sorted
    natural_condition: str | None
    pairs: tuple[tuple[str, str], ...]  # unordered condition pairs of the pairwise task
    trials_per_task: dict[str, int]  # scored trials per rater and task
    practice_trials: int
    catch_trials: int
    catch_pool: dict[str, dict[str, str]] = field(default_factory=dict)  # item -> {"real", "broken"} -> file
    exposure_ms: int | None = None
    completion_code: str | None = None
    redirect_url: str | None = None
    instructions: str = DEFAULT_INSTRUCTIONS
    consent: str = DEFAULT_CONSENT
    min_exposure_ms: int = MIN_EXPOSURE_MS
    max_votes_per_minute: int = MAX_VOTES_PER_MINUTE
    natural_share: float | None = None  # set when there are real/fake trials and a natural condition
    no_consent_code: str | None = None
    no_consent_url: str | None = None
    withdrawn_votes: str = "drop"
    hype_time: dict[str, int] | None = None  # the adaptive exposure staircase of HYPE-time, or None
    image_size: tuple[int, int] | None = None  # (width, height) of every stimulus

    @property
    def stimuli_dir(self) -> Path:
        return self.folder / STIMULI_DIR

    @property
    def scored_trials(self) -> int:
        return sum(self.trials_per_task.values())

    @property
    def total_trials(self) -> int:
        return self.practice_trials + self.scored_trials + self.catch_trials


def find_study_file(folder: Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"study folder {folder} does not exist")
    found = [folder / n for n in STUDY_FILES if (folder / n).is_file()]
    if not found:
        raise ValueError(f"no study file in {folder}: expected one of {', '.join(STUDY_FILES)}")
    if len(found) > 1:
        raise ValueError(f"two study files in {folder} ({', '.join(p.name for p in found)}): keep one")
    return found[0]


def load_study(folder: Path) -> Study:
    """Read and validate the study in ``folder``. Raises ValueError naming the file, field and problem."""
    path = find_study_file(folder)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e})") from None
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicates) if path.suffix == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None
    except DuplicateKey as e:
        raise ValueError(f"{path}: key {e.args[0]!r} appears twice in one table; keep one "
                         "(JSON readers would silently keep the last)") from None
    return parse_study(raw, Path(folder), source=str(path))


class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(k)
        out[k] = v
    return out


def _fail(source: str, fld: str, problem: str):
    raise ValueError(f"{source}: field {fld!r}: {problem}")


def _int(raw: dict, fld: str, source: str, default: int | None, lo: int, hi: int) -> int | None:
    v = raw.get(fld, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        _fail(source, fld, f"must be a whole number, got {v!r}")
    if not lo <= v <= hi:
        _fail(source, fld, f"must be between {lo} and {hi}, got {v}")
    return v


def _text(raw: dict, fld: str, source: str, default: str | None) -> str | None:
    v = raw.get(fld, default)
    if v is not None and (not isinstance(v, str) or not v.strip()):
        _fail(source, fld, f"must be a non-empty string, got {v!r}")
    return v


def _stimulus(folder: Path, value, source: str, fld: str) -> str:
    """A stimulus is a file name (optionally prefixed ``stimuli/``) of an existing file in stimuli/."""
    if not isinstance(value, str) or not value:
        _fail(source, fld, f"must be a file name, got {value!r}")
    name = value.removeprefix(f"{STIMULI_DIR}/")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        _fail(source, fld, f"{value!r} must name a file directly inside {STIMULI_DIR}/")
    if not (folder / STIMULI_DIR / name).is_file():
        _fail(source, fld, f"stimulus {value!r} not found in {folder / STIMULI_DIR}")
    return name


def parse_study(raw, folder: Path, source: str = "study") -> Study:
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: the study must be a table/object of fields, got {type(raw).__name__}")
    unknown = sorted(set(raw) - KNOWN_FIELDS)
    if unknown:
        raise ValueError(f"{source}: unknown field(s) {unknown}; known fields: {sorted(KNOWN_FIELDS)}")
    for required in ("id", "tasks", "conditions", "trials_per_rater"):
        if required not in raw:
            _fail(source, required, "is missing")

    # 1. identity and tasks
    sid = raw["id"]
    if not isinstance(sid, str) or not NAME_RE.match(sid):
        _fail(source, "id", f"must be 1-64 letters, digits, '_', '.', '-' (starting with a letter or digit), "
                            f"got {sid!r}")
    title = _text(raw, "title", source, "Which photo looks real?")
    tasks = raw["tasks"]
    if isinstance(tasks, str):
        tasks = [tasks]
    if not isinstance(tasks, list) or not tasks:
        _fail(source, "tasks", f"must be a non-empty list drawn from {list(TASKS)}, got {tasks!r}")
    for t in tasks:
        if t not in TASKS:
            _fail(source, "tasks", f"unknown task {t!r}; known tasks: {list(TASKS)}")
    if len(set(tasks)) != len(tasks):
        _fail(source, "tasks", f"lists a task twice: {tasks}")

    # 2. conditions: condition -> item -> stimulus
    conds = raw["conditions"]
    if not isinstance(conds, dict) or not conds:
        _fail(source, "conditions", "must map each condition name to a table of item -> stimulus file")
    conditions: dict[str, dict[str, str]] = {}
    for name, images in conds.items():
        if not NAME_RE.match(name) or name.startswith(RESERVED_PREFIX):
            _fail(source, "conditions", f"bad condition name {name!r}: 1-64 letters, digits, '_', '.', '-', "
                                        f"not starting with {RESERVED_PREFIX!r}")
        if not isinstance(images, dict) or not images:
            _fail(source, f"conditions.{name}", "must map item names to stimulus files")
        conditions[name] = {}
        for item, stim in images.items():
            if not ITEM_RE.match(item):
                _fail(source, f"conditions.{name}", f"bad item name {item!r}: 1-128 letters, digits, '_', '.', '-'")
            conditions[name][item] = _stimulus(folder, stim, source, f"conditions.{name}.{item}")
    item_sets = {n: set(v) for n, v in conditions.items()}
    all_items = set().union(*item_sets.values())
    for n, s in item_sets.items():
        if s != all_items:
            missing = sorted(all_items - s)
            _fail(source, f"conditions.{n}", f"has no stimulus for item(s) {missing[:5]}"
                                             f"{' ...' if len(missing) > 5 else ''}: every condition needs "
                                             f"one stimulus per item")
    stim_names = [s for v in conditions.values() for s in v.values()]
    if len(set(stim_names)) != len(stim_names):
        _fail(source, "conditions", "a stimulus file is used twice; each needs its own file")

    natural = raw.get("natural_condition")
    if natural is not None and natural not in conditions:
        _fail(source, "natural_condition", f"{natural!r} is not a condition; conditions: {sorted(conditions)}")

    # 3. pairs of the pairwise task (default: every unordered pair of conditions)
    pairs: list[tuple[str, str]] = []
    if "pairwise" in tasks:
        if len(conditions) < 2:
            _fail(source, "conditions", "the pairwise task needs at least two conditions")
        raw_pairs = raw.get("pairs")
        if raw_pairs is None:
            names = sorted(conditions)
            pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
        else:
            if not isinstance(raw_pairs, list) or not raw_pairs:
                _fail(source, "pairs", "must be a non-empty list of [condition, condition]")
            for p in raw_pairs:
                if not isinstance(p, list) or len(p) != 2 or p[0] == p[1] or any(c not in conditions for c in p):
                    _fail(source, "pairs", f"{p!r} must be two different conditions from {sorted(conditions)}")
                key = tuple(p)
                if key in pairs or key[::-1] in pairs:
                    _fail(source, "pairs", f"pair {p!r} is listed twice")
                pairs.append(key)
    elif raw.get("pairs") is not None:
        _fail(source, "pairs", "is only meaningful with the pairwise task")

    # 4. trial counts
    tpr = raw["trials_per_rater"]
    if isinstance(tpr, bool) or not isinstance(tpr, (int, dict)):
        _fail(source, "trials_per_rater", f"must be a whole number or a table task -> number, got {tpr!r}")
    if isinstance(tpr, int):
        if tpr < len(tasks):
            _fail(source, "trials_per_rater", f"must be at least {len(tasks)} (one per task), got {tpr}")
        per_task = {t: tpr // len(tasks) + (1 if i < tpr % len(tasks) else 0) for i, t in enumerate(tasks)}
    else:
        extra = sorted(set(tpr) - set(tasks))
        if extra:
            _fail(source, "trials_per_rater", f"names task(s) {extra} not in tasks {tasks}")
        per_task = {}
        for t in tasks:
            n = tpr.get(t, 0)
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                _fail(source, f"trials_per_rater.{t}", f"must be a whole number >= 0, got {n!r}")
            per_task[t] = n
        if sum(per_task.values()) < 1:
            _fail(source, "trials_per_rater", "asks for no scored trials")
    n_scored = sum(per_task.values())
    if n_scored > len(all_items):
        _fail(source, "trials_per_rater", f"asks for {n_scored} scored trials, but there are only "
                                          f"{len(all_items)} items and no rater sees an item twice")
    practice = _int(raw, "practice_trials", source, 0, 0, 50)
    catch = _int(raw, "catch_trials", source, 0, 0, 50)

    # 5. the pool of catch/practice items: untouched photo and obviously broken version
    pool_raw = raw.get("catch_pool", {})
    if not isinstance(pool_raw, dict):
        _fail(source, "catch_pool", "must map item names to {real = file, broken = file}")
    catch_pool: dict[str, dict[str, str]] = {}
    for item, pair in pool_raw.items():
        if not ITEM_RE.match(item):
            _fail(source, "catch_pool", f"bad item name {item!r}")
        if item in all_items:
            _fail(source, "catch_pool", f"item {item!r} is also a study item; catch items must be separate")
        if not isinstance(pair, dict) or set(pair) != {"real", "broken"}:
            _fail(source, f"catch_pool.{item}", "must have exactly the keys 'real' and 'broken'")
        catch_pool[item] = {k: _stimulus(folder, pair[k], source, f"catch_pool.{item}.{k}") for k in pair}
    if practice + catch > len(catch_pool):
        _fail(source, "catch_pool", f"has {len(catch_pool)} item(s), but practice_trials + catch_trials = "
                                    f"{practice + catch}, and no rater sees a catch item twice")

    # 6. timing, completion, texts
    exposure = _int(raw, "exposure_ms", source, None, *EXPOSURE_RANGE_MS)
    rules = {CODE_RE: "must be 1-64 letters, digits, '_' or '-'",
             URL_RE: "must be an http(s) URL without spaces or quotes"}
    for field, pattern in (("completion_code", CODE_RE), ("redirect_url", URL_RE),
                           ("no_consent_code", CODE_RE), ("no_consent_url", URL_RE)):
        value = raw.get(field)
        if value is not None and (not isinstance(value, str) or not pattern.match(value)):
            _fail(source, field, f"{rules[pattern]}, got {value!r}")
    code, url = raw.get("completion_code"), raw.get("redirect_url")
    no_code, no_url = raw.get("no_consent_code"), raw.get("no_consent_url")
    pacing = _pacing(raw, source, tasks, natural, exposure)
    instructions = _text(raw, "instructions", source, DEFAULT_INSTRUCTIONS)
    consent = _text(raw, "consent", source, DEFAULT_CONSENT)
    # the rater sees these texts: they must not name a condition
    for fld, text in (("title", title), ("instructions", instructions), ("consent", consent)):
        if fld not in raw:
            continue  # the defaults name no condition
        for c in conditions:
            if len(c) >= 3 and re.search(rf"(?<![A-Za-z0-9]){re.escape(c)}(?![A-Za-z0-9])", text, re.I):
                _fail(source, fld, f"names condition {c!r}; raters must not learn which condition they see")

    # 7. the stimuli themselves: readable, and all of one size (a browser can measure dimensions)
    files = {f"conditions.{c}.{it}": Path(folder) / STIMULI_DIR / s for c, v in conditions.items()
             for it, s in v.items()}
    files.update({f"catch_pool.{it}.{k}": Path(folder) / STIMULI_DIR / s for it, v in catch_pool.items()
                  for k, s in v.items()})
    size = check_images(files, source)

    return Study(
        folder=Path(folder), id=sid, title=title, tasks=tuple(tasks), conditions=conditions,
        items=tuple(sorted(all_items)), natural_condition=natural, pairs=tuple(pairs),
        trials_per_task=per_task, practice_trials=practice, catch_trials=catch, catch_pool=catch_pool,
        exposure_ms=exposure, completion_code=code, redirect_url=url, instructions=instructions,
        consent=consent, no_consent_code=no_code, no_consent_url=no_url, image_size=size, **pacing,
    )


def list_studies(root: Path) -> list[tuple[Path, Study | None, str | None]]:
    """Every sub-folder of ``root`` with a study file: (folder, study or None, error or None)."""
    out = []
    root = Path(root)
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if not any((folder / n).is_file() for n in STUDY_FILES):
            continue
        try:
            out.append((folder, load_study(folder), None))
        except ValueError as e:
            out.append((folder, None, str(e)))
    return out


def _pacing(raw: dict, source: str, tasks, natural: str | None, exposure: int | None) -> dict:
    """The pacing, catch-design and withdrawal fields (docs/studies.md)."""
    out = {"min_exposure_ms": _int(raw, "min_exposure_ms", source, MIN_EXPOSURE_MS, 0, 10_000),
           "max_votes_per_minute": _int(raw, "max_votes_per_minute", source, MAX_VOTES_PER_MINUTE, 1, 600)}
    share = raw.get("natural_share")
    if share is not None:
        if "real_fake" not in tasks or natural is None:
            _fail(source, "natural_share", "needs the real_fake task and a natural_condition")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
            _fail(source, "natural_share", f"must be a number between 0 and 1 (exclusive), got {share!r}")
    elif "real_fake" in tasks and natural is not None:
        share = NATURAL_SHARE
    out["natural_share"] = None if share is None else float(share)
    withdrawn = raw.get("withdrawn_votes", "drop")
    if withdrawn not in WITHDRAWN_VOTES:
        _fail(source, "withdrawn_votes", f"must be one of {list(WITHDRAWN_VOTES)}, got {withdrawn!r}")
    out["withdrawn_votes"] = withdrawn
    hype = raw.get("hype_time")
    if hype is not None and hype is not False:
        if "real_fake" not in tasks or natural is None:
            _fail(source, "hype_time", "needs the real_fake task and a natural_condition (HYPE-time scores "
                                       "how fast raters tell real from fake)")
        if exposure is not None:
            _fail(source, "hype_time", "sets each trial's exposure itself: remove exposure_ms")
        if hype is True:
            hype = {}
        if not isinstance(hype, dict) or set(hype) - set(HYPE_TIME_DEFAULTS):
            _fail(source, "hype_time", f"must be true or a table with keys from {sorted(HYPE_TIME_DEFAULTS)}")
        hype = {k: _int(hype, k, f"{source}: hype_time", v, *EXPOSURE_RANGE_MS)
                for k, v in HYPE_TIME_DEFAULTS.items()}
        if not hype["min_ms"] <= hype["start_ms"] <= hype["max_ms"] or hype["min_ms"] == hype["max_ms"]:
            _fail(source, "hype_time", f"needs min_ms <= start_ms <= max_ms and min_ms < max_ms, got {hype}")
        out["hype_time"] = hype
    return out
