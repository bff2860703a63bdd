"""Charts of a study report as PNG bytes: the two tables with their primary (cluster-robust) intervals,
and the Bradley-Terry ranking. matplotlib is imported only here, and only when a chart is drawn."""

from __future__ import annotations

import io

import numpy as np

from eval_studies.analysis import Report


def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def charts(rep: Report) -> dict[str, bytes]:
    """PNG bytes: 'pairwise', 'realism', 'ranking' (those with data); bars with the primary interval."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    lv = f"{100 * rep.level:g}%"
    for kind, name, ylabel in (("pairwise", "pairwise", f"% of votes preferring {rep.target}"),
                               ("real_fake", "realism", "% of votes judging it real")):
        t = rep.table(kind)
        if t.empty:
            continue
        studies = list(dict.fromkeys(t["study_id"]))
        fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(t) + 1.5), 3.4))
        labels = []
        for i, row in t.iterrows():
            colour = f"C{studies.index(row['study_id']) % 10}"
            ax.bar(i, row["percent"], color=colour, alpha=0.85)
            if row["primary_low"] == row["primary_low"]:            # not nan
                ax.errorbar(i, row["percent"], yerr=[[max(0.0, row["percent"] - 100 * row["primary_low"])],
                                                     [max(0.0, 100 * row["primary_high"] - row["percent"])]],
                            color="black", capsize=4, lw=1)
            ax.text(i, 2, f"{row['percent']:.1f}%", ha="center", va="bottom", fontsize=8, color="white")
            labels.append(row["condition"] if len(studies) == 1 else f"{row['condition']}\n{row['study_id']}")
        ax.axhline(50, color="grey", ls="--", lw=1)
        ax.set_xticks(range(len(t)), labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_title(("Table 1: pairwise preference" if kind == "pairwise" else "Table 2: real vs fake")
                     + f"\n({lv} two-way cluster-robust intervals, raters x items)", fontsize=10)
        out[name] = _fig_png(fig)
    if len(rep.ranking):
        r = rep.ranking.iloc[::-1].reset_index(drop=True)
        fig, ax = plt.subplots(figsize=(5, 0.45 * len(r) + 1.2))
        has = r["low"].notna()
        ax.errorbar(r["log_strength"], range(len(r)),
                    xerr=[np.where(has, r["log_strength"] - r["low"], 0),
                          np.where(has, r["high"] - r["log_strength"], 0)],
                    fmt="o", color="C0", capsize=4)
        ax.set_yticks(range(len(r)), r["condition"], fontsize=8)
        ax.axvline(0, color="grey", ls="--", lw=1)
        ax.set_xlabel(f"Bradley-Terry log-strength vs the mean of all conditions\n({lv} rater bootstrap "
                      "per condition; not a pairwise test)", fontsize=9)
        out["ranking"] = _fig_png(fig)
    return out
