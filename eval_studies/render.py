"""Rendering a study report: the ordered sections, and Markdown, HTML, LaTeX, CSV and JSON files.

sections() decides what a reader sees and in which order; each renderer only lays those sections out."""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from eval_studies import lecture
from eval_studies.analysis import CELL_COLUMNS, Report, fmt_ci, fmt_diff, fmt_pct
from eval_studies.charts import charts
from eval_studies.hype import hype_wide
from eval_studies.rater_checks import FAST_MS, OUTLIER_SHARE, SLOW_IQR
from eval_studies.vote_reader import exclusion_phrase

FORMATS = ("md", "csv", "latex", "html")             # the documents the Results tab writes
SUFFIX = {"md": ".md", "csv": ".csv", "latex": ".tex", "html": ".html", "json": ".json"}
INDEPENDENT = "assumes independent votes"


def fmt_p(p: float) -> str:
    if pd.isna(p):
        return ""
    if p < 1e-300:          # below double precision: binomtest returns 0
        return "<1e-300"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _detail(rep: Report, kind: str, raters: str = "all") -> pd.DataFrame:
    t = rep.table(kind, raters)
    lay = rep.lecture_layout(kind, raters)
    if lay:                                               # rows in the order of the lecture's table
        key = t["study_id"].map({s: i for i, s in enumerate(lay.rows)}) * 100 + t["condition"].map(
            {c: i for i, c in enumerate(lay.columns)})
        t = t.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)
    lv = f"{100 * rep.level:g}%"
    cols = {"Study": t["study_id"], "Baseline" if kind == "pairwise" else "Condition": t["condition"],
            "Votes": t["votes"], f"Preferring {rep.target}" if kind == "pairwise" else "Judged real": t["successes"],
            "%": t["percent"].map(fmt_pct), "Raters": t["n_raters"], "Items": t["n_items"],
            "Largest rater": t["largest_rater_share"].map(lambda x: f"{100 * x:.0f}%"),
            "Rater-weighted %": t["rater_weighted_percent"].map(fmt_pct),
            f"{lv} interval": [fmt_ci(a, b) for a, b in zip(t["primary_low"], t["primary_high"])]}
    if kind == "real_fake" and t["diff_vs_natural"].notna().any():
        cols[f"vs {rep.natural} ({lv} interval)"] = [fmt_diff(d, a, b) for d, a, b in
                                                     zip(t["diff_vs_natural"], t["diff_low"], t["diff_high"])]
        cols[f"p vs {rep.natural}"] = t["primary_p"].map(fmt_p)
    else:
        cols["p vs 50%"] = t["primary_p"].map(fmt_p)
    cols["p (Holm)"] = t["primary_p_holm"].map(fmt_p)
    cols[f"Wilson {lv} ({INDEPENDENT})"] = [fmt_ci(a, b) for a, b in zip(t["wilson_low"], t["wilson_high"])]
    cols[f"Clopper-Pearson {lv} ({INDEPENDENT})"] = [fmt_ci(a, b) for a, b in zip(t["cp_low"], t["cp_high"])]
    cols[f"Exact p vs 50% ({INDEPENDENT})"] = t["p_value"].map(fmt_p)
    cols[f"Rater bootstrap {lv}"] = [fmt_ci(a, b) for a, b in zip(t["boot_low"], t["boot_high"])]
    return pd.DataFrame(cols)


def _flagged_raters(rep: Report) -> pd.DataFrame:
    r = rep.raters
    answers = (r["scored_votes"] + r["catch_trials"]).clip(lower=1)
    odd = (r["fast_answers"] + r["slow_answers"]) / answers >= OUTLIER_SHARE
    flagged = r[(r["catch_failed"] > 0) | odd | r["position_biased"] | (r["one_answer"] != "")]
    with np.errstate(invalid="ignore", divide="ignore"):
        left = 100 * flagged["left_choices"] / flagged["pairwise_votes"]
    return pd.DataFrame({
        "Rater": flagged["rater_id"] if len(rep.study_ids) <= 1 else flagged["study_id"] + "/" + flagged["rater_id"],
        "Scored votes": flagged["scored_votes"], "Catch trials": flagged["catch_trials"],
        "Catch failed": flagged["catch_failed"], f"Faster than {FAST_MS:.0f} ms": flagged["fast_answers"],
        "Slow outliers": flagged["slow_answers"], "Median ms": flagged["median_ms"].round(0),
        "% left (pairwise)": left.map(fmt_pct), "Position p (Holm)": flagged["position_p_holm"].map(fmt_p),
        "Same answer throughout": flagged["one_answer"]})


def _ranking_table(rep: Report) -> pd.DataFrame:
    r = rep.ranking
    return pd.DataFrame({"Rank": r["rank"], "Condition": r["condition"],
                         "Log-strength vs mean": r["log_strength"].map(lambda x: f"{x:+.2f}"),
                         f"Rater bootstrap {100 * rep.level:g}% (this condition vs the mean)":
                             [("" if pd.isna(a) else f"{a:+.2f} to {b:+.2f}") for a, b in zip(r["low"], r["high"])],
                         "Wins": r["wins"], "Comparisons": r["comparisons"]})


def _table_sections(rep: Report, kind: str, raters: str, title: str) -> list:
    """The headline table (with a paragraph naming its rows and columns when in the lecture's layout) and the
    per-cell table."""
    lay = rep.lecture_layout(kind, raters)
    legend = [("p", "", lecture.legend(lay))] if lay else []
    return [("table", title, rep.wide(kind, raters, intervals=True))] + legend + [
            ("table", f"Per cell ({title.split('.')[0]}). Primary: two-way cluster-robust interval and test "
                      "(raters x items); the Wilson, Clopper-Pearson and exact columns assume independent votes",
             _detail(rep, kind, raters))]


def _method_paragraph(rep: Report) -> str:
    lv = f"{100 * rep.level:g}%"
    t = rep.table("pairwise", "all")
    t = pd.concat([t, rep.table("real_fake", "all")])
    differ = int((abs(t["percent"] - t["rater_weighted_percent"]) >= 1).sum()) if len(t) else 0
    return (f"Intervals are {lv}. The primary interval and test of each cell allow for raters and images that "
            "differ (two-way cluster-robust, raters x items; Cameron, Gelbach & Miller 2011), so a rater who casts "
            "many votes counts as one rater, not as many independent votes. Holm's correction runs within each "
            f"study and task" + (f", with {rep.natural} outside the family" if rep.natural else "") +
            ". Percentages are vote-weighted (all votes pooled); the rater-weighted share (each rater's share, "
            f"averaged over raters) is beside it in the per-cell tables and differs by a point or more in {differ} "
            f"cell(s). The rater bootstrap uses {rep.n_boot} resamples (seed {rep.seed}). Chance is 50%.")


def sections(rep: Report) -> list[tuple[str, str, object]]:
    """The report as an ordered list of (kind, title, content): kind is 'h1', 'h2', 'p', 'table', 'chart'."""
    s: list[tuple[str, str, object]] = []
    n_rat = int((rep.raters["scored_votes"] > 0).sum())
    s.append(("h1", "Study report: " + (", ".join(rep.study_ids) or "no votes yet"), None))
    ex = ", ".join(exclusion_phrase(k, v) for k, v in rep.exclusions.items()) or "none"
    s.append(("p", "", f"Logs: {', '.join(Path(f).name for f in rep.files)}. Votes read: {rep.votes_read}; "
                       f"counted in the tables: {rep.votes_counted} from {n_rat} raters; set aside: {ex}."))
    if rep.target or rep.natural:
        s.append(("p", "", f"Target method: {rep.target or 'none'}. Natural images: "
                           f"{rep.natural or 'not identified'}. " + _method_paragraph(rep)))
    for n in rep.notes:
        s.append(("p", "", "Note: " + n + "."))
    if len(rep.table("pairwise")):
        s.append(("h2", f"Table 1. Pairwise: % of votes preferring {rep.target} over each baseline", None))
        *headline, detail = _table_sections(rep, "pairwise", "all", "Table 1")
        s += headline + [("chart", "pairwise", None), detail]
    if len(rep.table("real_fake")):
        s.append(("h2", "Table 2. Real vs fake: % of votes judging the image real", None))
        *headline, detail = _table_sections(rep, "real_fake", "all", "Table 2")
        s += headline + [("chart", "realism", None), detail]
    if len(rep.hype_time):
        s.append(("table", f"HYPE-time per condition: mean exposure threshold over raters in ms ({100 * rep.level:g}% "
                           "bootstrap interval over raters); higher = harder to tell from real. See eval_studies.hype",
                  hype_wide(rep.hype_time, rep.level)))
    if rep.cells.empty:
        s.append(("p", "", "No scored votes yet: nothing to tabulate."))
    s += _quality_sections(rep)
    if len(rep.ranking):
        s.append(("h2", "Bradley-Terry ranking of all conditions (pairwise votes)", None))
        s.append(("table", "", _ranking_table(rep)))
        s.append(("chart", "ranking", None))
        s.append(("p", "", "Each interval is for one condition's log-strength against the mean of all "
                           "conditions, from the rater bootstrap; two overlapping intervals do not show that two "
                           "conditions are alike, and this is not a pairwise test (Table 1 is)."))
        if rep.ranking_note:
            s.append(("p", "", "Note: " + rep.ranking_note + "."))
    s.append(("p", "", "How each number is computed: docs/report.md."))
    return s


def _quality_sections(rep: Report) -> list:
    s: list = [("h2", "Rater quality and exclusions", None)]
    if len(rep.exclusion_steps):
        s.append(("table", "Exclusion rules, in the order applied", rep.exclusion_steps))
    r = rep.raters
    k = rep.max_catch_failures
    any_failed = int((r["catch_failed"] > 0).sum())
    s.append(("p", "", f"Catch trials: {int(r['catch_trials'].sum())} answered; {any_failed} rater(s) failed at "
                       f"least one; {len(rep.failing_raters)} failed more than {k} (the threshold, "
                       f"--max-catch-failures {k}): {', '.join(rep.failing_raters) or 'none'}."))
    if rep.failing_raters:
        for kind, title in (("pairwise", "Table 1"), ("real_fake", "Table 2")):
            if len(rep.table(kind, "without catch failures")):
                s += _table_sections(rep, kind, "without catch failures",
                                     f"{title} without the raters who failed catch trials")
    pos = rep.position
    if pos["votes"]:
        biased = r[r["position_biased"]]
        s.append(("p", "", f"Position bias: the left image was chosen in {pos['left']} of {pos['votes']} scored "
                           f"pairwise votes ({100 * pos['left_rate']:.1f}%, Wilson {100 * rep.level:g}% "
                           f"{fmt_ci(pos['wilson_low'], pos['wilson_high'])}, p vs 50% = {fmt_p(pos['p_value'])}). "
                           f"Position-biased raters (exact test of 50% left per rater, Holm over raters, p < 0.05): "
                           f"{', '.join(biased['rater_id']) or 'none'}."))
    fast, slow = rep.rt_limits
    if slow == slow:                                    # not nan: some response times were recorded
        s.append(("p", "", f"Response times: {int(r['fast_answers'].sum())} answer(s) faster than {fast:.0f} ms "
                           f"and {int(r['slow_answers'].sum())} slower than {slow:.0f} ms (Q3 + {SLOW_IQR:g} IQR "
                           "of log times); they are counted in the tables. Every rater's counts are in the csv "
                           "report (REPORT-raters.csv)."))
    else:
        s.append(("p", "", "Response times: none recorded."))
    rt = _flagged_raters(rep)
    if len(rt):
        s.append(("table", f"Raters with a failed catch trial, with {OUTLIER_SHARE:.0%} or more of their answers "
                           "too fast or too slow, position-biased, or giving one answer throughout", rt))
    ag = rep.agreement
    s.append(("table", "Agreement between raters (Krippendorff's alpha, nominal; units rated by 2+ raters)",
              pd.DataFrame({"Task": ag["task"], "Alpha": ag["alpha"].map(lambda a: "" if pd.isna(a) else f"{a:.3f}"),
                            "Units": ag["units"], "Ratings": ag["ratings"]})))
    return s


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _lay_out(rep: Report, heading, paragraph, chart, table) -> list[str]:
    """Walk the sections once; each callable turns one section into lines of the output format."""
    out: list[str] = []
    for kind, title, content in sections(rep):
        if kind in ("h1", "h2"):
            out += heading(kind, title)
        elif kind == "p":
            out += paragraph(content)
        elif kind == "chart":
            out += chart(title)
        elif kind == "table":
            out += table(title, content)
    return out


def render_markdown(rep: Report, chart_files: dict[str, str]) -> str:
    def table(title, df):
        rows = ["| " + " | ".join(_md_cell(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
        rows += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
        return ([f"**{title}**\n"] if title else []) + rows + [""]

    return "\n".join(_lay_out(
        rep, lambda kind, title: [f"{'#' if kind == 'h1' else '##'} {title}\n"], lambda text: [f"{text}\n"],
        lambda name: [f"![{name} chart]({chart_files[name]})\n"] if name in chart_files else [], table))


def render_html(rep: Report, chart_png: dict[str, bytes]) -> str:
    e = html.escape

    def chart(name):
        if name not in chart_png:
            return []
        return [f"<img alt='{e(name)} chart' src='data:image/png;base64,{base64.b64encode(chart_png[name]).decode()}'>"]

    def table(title, df):
        heads = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
        rows = [f"<table><thead><tr>{heads}</tr></thead><tbody>"]
        rows += ["<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>"
                 for row in df.itertuples(index=False)]
        return ([f"<h3>{e(title)}</h3>"] if title else []) + rows + ["</tbody></table>"]

    head = ["<!doctype html><html><head><meta charset='utf-8'><title>Study report</title><style>",
            "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:.25em .6em;"
            "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
            "img{max-width:100%}", "</style></head><body>"]
    body = _lay_out(rep, lambda kind, title: [f"<{kind}>{e(title)}</{kind}>"], lambda text: [f"<p>{e(text)}</p>"],
                    chart, table)
    return "\n".join(head + body + ["</body></html>"])


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(x) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(x))


def render_latex(rep: Report, chart_files: dict[str, str]) -> str:
    """A LaTeX fragment (booktabs, graphicx) to \\input into a paper or slides."""
    def table(title, df):
        rows = ["\\begin{table}[h]\\centering\\small"] + ([f"\\caption*{{{tex_escape(title)}}}"] if title else [])
        rows.append("\\begin{tabular}{l" + "r" * (len(df.columns) - 1) + "}\\toprule")
        rows.append(" & ".join(tex_escape(c) for c in df.columns) + " \\\\\\midrule")
        rows += [" & ".join(tex_escape(v) for v in row) + " \\\\" for row in df.itertuples(index=False)]
        return rows + ["\\bottomrule\\end{tabular}\\end{table}"]

    def chart(name):
        return ["\\begin{center}\\includegraphics[width=0.8\\linewidth]{" + chart_files[name]
                + "}\\end{center}"] if name in chart_files else []

    def heading(kind, title):
        return [f"\\{'section' if kind == 'h1' else 'subsection'}*{{{tex_escape(title)}}}"]

    out = _lay_out(rep, heading, lambda text: [tex_escape(text) + "\n"], chart, table)
    return "\n".join(["% Study report; needs \\usepackage{booktabs,graphicx,caption}"] + out) + "\n"


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas: a text cell starting with = + - @ (or tab/CR) gets a leading quote;
    plain numbers such as -0.53 are left alone."""
    s = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(s)
            return s
        except ValueError:
            return "'" + s
    return s


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([csv_safe(c) for c in df.columns])
        for row in df.itertuples(index=False):
            w.writerow([csv_safe(v) for v in row])


def _plain(v):
    """A JSON value: numpy scalars as Python numbers, nan as null."""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def json_cells(rep: Report) -> list[dict]:
    """One object per cell (docs/report.md, 'JSON'): counts, estimate, primary and secondary statistics."""
    out = []
    for c in rep.cells.to_dict("records"):
        pair = c["table"] == "pairwise"
        obj = {"study": c["study_id"], "task": c["table"], "raters_set": c["raters"],
               "target": c["target"] if pair else None, "baseline" if pair else "condition": c["condition"],
               "votes": c["votes"], "successes": c["successes"], "raters": c["n_raters"], "items": c["n_items"],
               "estimate": c["percent"] / 100, "rater_weighted_estimate": c["rater_weighted_percent"] / 100,
               "primary_low": c["primary_low"], "primary_high": c["primary_high"], "primary_test": c["primary_test"],
               "primary_p": c["primary_p"], "primary_p_adjusted": c["primary_p_holm"], "primary_df": c["primary_df"],
               "primary_method": c["primary_method"], "wilson_low": c["wilson_low"], "wilson_high": c["wilson_high"],
               "clopper_pearson_low": c["cp_low"], "clopper_pearson_high": c["cp_high"], "exact_p": c["p_value"],
               "exact_p_holm": c["p_holm"], "bootstrap_low": c["boot_low"], "bootstrap_high": c["boot_high"],
               "largest_rater_share": c["largest_rater_share"]}
        if not pair:
            obj.update(natural=rep.natural, diff_vs_natural=c["diff_vs_natural"], diff_low=c["diff_low"],
                       diff_high=c["diff_high"])
        out.append({k: _plain(v) for k, v in obj.items()})
    return out


def json_lecture_tables(rep: Report) -> dict:
    """The tables in the lecture's layout, as printed ({} when the conditions are not the lecture's):
    {task: {"columns": [labels], "rows": [{"row": "Retrieval (a)", "study": id, "cells": {label: "76%"}}]}}."""
    out = {}
    for kind in ("pairwise", "real_fake"):
        lay = rep.lecture_layout(kind)
        if lay is None:
            continue
        w = rep.wide(kind)
        labels = [lay.labels[c] for c in lay.columns]
        out[kind] = {"columns": labels, "rows": [
            {"row": lay.row_labels[s], "study": s, "cells": {lab: row[lab] for lab in labels}}
            for s, (_, row) in zip(lay.rows, w.iterrows())]}
    return out


def render_json(rep: Report) -> str:
    doc = {"studies": rep.study_ids, "target": rep.target, "natural": rep.natural, "level": rep.level,
           "votes_read": rep.votes_read, "votes_counted": rep.votes_counted, "exclusions": rep.exclusions,
           "failing_raters": rep.failing_raters, "cells": json_cells(rep)}
    lecture_tables = json_lecture_tables(rep)
    if lecture_tables:
        doc["lecture_tables"] = lecture_tables
    return json.dumps(doc, indent=1, ensure_ascii=False)


def quality_rows(rep: Report) -> pd.DataFrame:
    rows = [("votes_read", rep.votes_read), ("votes_counted", rep.votes_counted)]
    rows += [(f"excluded: {k}", v) for k, v in rep.exclusions.items()]
    rows += [("max_catch_failures", rep.max_catch_failures), ("raters_failing_catch", len(rep.failing_raters))]
    rows += [(f"position_{k}", v) for k, v in rep.position.items()]
    rows += [("raters_position_biased", int(rep.raters["position_biased"].sum()))]
    rows += [("raters_one_answer_throughout", int((rep.raters["one_answer"] != "").sum()))]
    rows += [("rt_fast_limit_ms", rep.rt_limits[0]), ("rt_slow_limit_ms", rep.rt_limits[1])]
    rows += [(f"alpha_{r.task}", r.alpha) for r in rep.agreement.itertuples()]
    rows += [(f"alpha_{r.task}_units", r.units) for r in rep.agreement.itertuples()]
    # object dtype: counts stay whole numbers ("3540", not "3540.0")
    values = [int(v) if isinstance(v, (int, np.integer)) else _plain(v) for _, v in rows]
    return pd.DataFrame({"quantity": [k for k, _ in rows], "value": pd.Series(values, dtype=object)})


def write_report(rep: Report, fmt: str, out: str | Path) -> list[Path]:
    """Write the report and its charts; returns every file written. csv: cell statistics in OUT and the
    rater, quality and ranking tables beside it (OUT-raters.csv, OUT-quality.csv, OUT-ranking.csv).
    json: one object per cell, no charts."""
    if fmt not in FORMATS + ("json",):
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS + ('json',))}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(render_json(rep) + "\n", encoding="utf-8")
        return [out]
    written = []
    png = charts(rep)
    files = {}
    if fmt != "html":
        for name, data in png.items():
            p = out.with_name(f"{out.stem}-{name}.png")
            p.write_bytes(data)
            files[name] = p.name
            written.append(p)
    if fmt == "md":
        out.write_text(render_markdown(rep, files), encoding="utf-8")
    elif fmt == "html":
        out.write_text(render_html(rep, png), encoding="utf-8")
    elif fmt == "latex":
        out.write_text(render_latex(rep, files), encoding="utf-8")
    else:
        write_csv(rep.cells[CELL_COLUMNS], out)
        side = {"raters": rep.raters, "ranking": rep.ranking, "quality": quality_rows(rep)}
        for name, df in side.items():
            p = out.with_name(f"{out.stem}-{name}.csv")
            write_csv(df, p)
            written.append(p)
    return [out] + written
