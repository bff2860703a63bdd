"""The lecture's crowd experiment (guided inpainting, Zhao et al. 2019): its conditions, its table layout and
the cells it prints. The study builder, the simulator and the report share these names:

- condition names: ``ours`` (guided inpainting) and the seven baselines ``hr`` (Hays and Efros cut-paste),
  ``pb`` (patch-based), ``dh`` (deep image harmonization), ``caf`` (content-aware fill), ``ce`` (Context
  Encoder), ``im`` (image melding), ``glcic``; natural images are the report's natural condition (``natural``,
  or ``--natural NAME``). Case does not matter.
- one study per retrieval setting of the guidance images, its id ending in ``retrieval-a`` or
  ``retrieval-b`` (``guided-retrieval-a``); that study is the table's row "Retrieval (a)".

When every study of a table holds exactly the lecture's conditions, the report lays the table out as the
lecture does: rows are the retrieval settings, columns the lecture's labels in its order, cells rounded to
its precision (whole percent for pairwise preference, one decimal for real vs fake).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TARGET = "ours"
NATURAL = "natural"
LABELS = {"natural": "NI", "hr": "HR", "pb": "PB", "dh": "DH", "caf": "CAF", "ce": "CE", "im": "IM",
          "glcic": "GLCIC", "ours": "Ours"}
METHODS = {"natural": "natural images", "hr": "Hays and Efros cut-paste", "pb": "patch-based",
           "dh": "deep image harmonization", "caf": "content-aware fill", "ce": "Context Encoder",
           "im": "image melding", "glcic": "globally and locally consistent completion", "ours": "guided inpainting"}
COLUMNS = {"pairwise": ("hr", "pb", "dh", "caf", "ce", "im", "glcic"),
           "real_fake": ("natural", "ce", "hr", "caf", "pb", "dh", "glcic", "im", "ours")}
DECIMALS = {"pairwise": 0, "real_fake": 1}
SETTINGS = ("a", "b")
STUDY_IDS = {s: f"guided-retrieval-{s}" for s in SETTINGS}

# The lecture's two tables, cell for cell as printed: pairwise, % of votes preferring ours over each baseline
# (chance 50%); real vs fake, % of votes judging the image real, natural images mixed in.
PUBLISHED = {
    "pairwise": {
        "a": {"hr": "76%", "pb": "76%", "dh": "71%", "caf": "70%", "ce": "70%", "im": "67%", "glcic": "66%"},
        "b": {"hr": "71%", "pb": "73%", "dh": "72%", "caf": "70%", "ce": "73%", "im": "67%", "glcic": "70%"},
    },
    "real_fake": {
        "a": {"natural": "97.7%", "ce": "10.0%", "hr": "14.0%", "caf": "31.0%", "pb": "18.0%", "dh": "23.0%",
              "glcic": "14.0%", "im": "23.0%", "ours": "33.0%"},
        "b": {"natural": "97.7%", "ce": "22.0%", "hr": "15.0%", "caf": "16.0%", "pb": "20.0%", "dh": "22.0%",
              "glcic": "12.0%", "im": "27.0%", "ours": "36.0%"},
    },
}

_SETTING_RE = re.compile(r"(?:^|[-_.])retrieval[-_.]?([a-z])$", re.IGNORECASE)
_PERCENT_RE = re.compile(r"^(\d+)(?:\.(\d+))?%$")


def parse_percent(cell: str) -> tuple[float, int]:
    """'97.7%' -> (97.7, 1): the value and its decimals."""
    m = _PERCENT_RE.match(cell)
    if m is None:
        raise ValueError(f"cell {cell!r} is not a percentage such as '76%' or '33.0%'")
    return float(cell[:-1]), len(m.group(2) or "")


def fmt_share(k: int, n: int, decimals: int) -> str:
    """k/n as a percentage with `decimals` decimals, rounded half up on the exact fraction (no float ties)."""
    if n <= 0:
        return ""
    scale = 10 ** decimals
    q = (200 * scale * int(k) + int(n)) // (2 * int(n))        # floor(100 * scale * k / n + 1/2)
    whole, frac = divmod(q, scale)
    return f"{whole}.{frac:0{decimals}d}%" if decimals else f"{whole}%"


def setting_of(study_id: str) -> str | None:
    """'guided-retrieval-a' -> 'a'; None when the id does not name a retrieval setting."""
    m = _SETTING_RE.search(study_id)
    return m.group(1).lower() if m else None


@dataclass(frozen=True)
class Layout:
    task: str
    columns: list[str]             # condition names as logged, in the lecture's column order
    labels: dict[str, str]         # condition name -> the lecture's column label
    rows: list[str]                # study ids, in row order
    row_labels: dict[str, str]     # study id -> "Retrieval (a)" (the study id where no setting is named)


def layout(task: str, conditions_by_study: dict[str, list[str]], target: str | None,
           natural: str | None) -> Layout | None:
    """The lecture's layout of one table, or None unless every study holds exactly the lecture's conditions
    (pairwise: the target is `ours`; real vs fake: natural images are identified)."""
    if task not in COLUMNS or not conditions_by_study:
        return None
    if task == "pairwise" and (target or "").lower() != TARGET:
        return None
    if task == "real_fake" and natural is None:
        return None
    names: dict[str, str] = {}                                   # lecture key -> condition name as logged
    for conds in conditions_by_study.values():
        keys = {NATURAL if c == natural else c.lower(): c for c in conds}
        if len(keys) != len(set(conds)) or set(keys) != set(COLUMNS[task]):
            return None
        for key, c in keys.items():
            if names.setdefault(key, c) != c:                    # 'HR' in one study, 'hr' in another
                return None
    studies = list(conditions_by_study)
    named = sorted((s for s in studies if setting_of(s)), key=lambda s: (setting_of(s), s))
    rows = named + [s for s in studies if not setting_of(s)]
    row_labels = {s: f"Retrieval ({setting_of(s)})" if setting_of(s) else s for s in rows}
    if len(set(row_labels.values())) < len(rows):                # two studies of one setting: keep their ids
        row_labels = {s: s for s in rows}
    return Layout(task, [names[k] for k in COLUMNS[task]], {names[k]: LABELS[k] for k in COLUMNS[task]},
                  rows, row_labels)


def legend(lay: Layout) -> str:
    """One sentence naming each row's study and each column's condition."""
    inverse = {v: k for k, v in LABELS.items()}
    rows = "; ".join(f"{lay.row_labels[s]} = study {s}" for s in lay.rows if lay.row_labels[s] != s)
    cols = ", ".join(f"{lab} = {c} ({METHODS[inverse[lab]]})" for c, lab in lay.labels.items())
    precision = {0: "whole percent", 1: "one decimal"}.get(DECIMALS[lay.task], f"{DECIMALS[lay.task]} decimals")
    return (f"In the lecture's layout (Zhao et al. 2019): {rows + '. ' if rows else ''}Columns: {cols}. Cells "
            f"are rounded to the lecture's precision ({precision}); the per-cell table gives the counts.")
