"""The lecture's crowd experiment (Zhao et al.): the simulated logs, reported, print the lecture's two tables
cell for cell in its layout; studies with other conditions keep the report's own layout."""

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from eval_studies import lecture, report, simulate
from eval_studies.vote_reader import load_votes

# The lecture's tables as printed on its slides (typed here again, not read from eval_studies.lecture).
PAIRWISE_COLUMNS = ["HR", "PB", "DH", "CAF", "CE", "IM", "GLCIC"]
PAIRWISE = {"Retrieval (a)": ["76%", "76%", "71%", "70%", "70%", "67%", "66%"],
            "Retrieval (b)": ["71%", "73%", "72%", "70%", "73%", "67%", "70%"]}
REAL_FAKE_COLUMNS = ["NI", "CE", "HR", "CAF", "PB", "DH", "GLCIC", "IM", "Ours"]
REAL_FAKE = {"Retrieval (a)": ["97.7%", "10.0%", "14.0%", "31.0%", "18.0%", "23.0%", "14.0%", "23.0%", "33.0%"],
             "Retrieval (b)": ["97.7%", "22.0%", "15.0%", "16.0%", "20.0%", "22.0%", "12.0%", "27.0%", "36.0%"]}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lecture")
    assert simulate.main(["--out", str(folder / "votes.csv"), "--preset", "lecture"]) == 0
    return [folder / "votes-guided-retrieval-a.csv", folder / "votes-guided-retrieval-b.csv"]


@pytest.fixture(scope="module")
def printed(logs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    args = [*map(str, logs), "--multi-study", "--boot", "100"]
    assert report.main(args + ["--format", "md", "--out", str(out / "r.md")]) == 0
    assert report.main(args + ["--format", "json", "--out", str(out / "r.json")]) == 0
    return (out / "r.md").read_text(encoding="utf-8"), json.loads((out / "r.json").read_text(encoding="utf-8"))


def md_table(text: str, title: str) -> list[list[str]]:
    """The Markdown table printed under **title**: header row first, then every row, cells stripped."""
    lines = text.splitlines()
    start = lines.index(f"**{title}**") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


def test_the_lecture_is_typed_the_same_in_the_module():
    for task, columns, table in (("pairwise", PAIRWISE_COLUMNS, PAIRWISE), ("real_fake", REAL_FAKE_COLUMNS, REAL_FAKE)):
        assert [lecture.LABELS[c] for c in lecture.COLUMNS[task]] == columns
        for setting in lecture.SETTINGS:
            cells = lecture.PUBLISHED[task][setting]
            assert [cells[c] for c in lecture.COLUMNS[task]] == table[f"Retrieval ({setting})"]


def test_every_cell_of_the_printed_report_is_the_lectures(printed):
    md, doc = printed
    checked = 0
    for title, columns, table in (("Table 1", PAIRWISE_COLUMNS, PAIRWISE), ("Table 2", REAL_FAKE_COLUMNS, REAL_FAKE)):
        rows = md_table(md, title)
        assert rows[0] == ["Study"] + columns
        body = {r[0]: r[1:] for r in rows[1:] if r[0].startswith("Retrieval")}
        assert list(body) == ["Retrieval (a)", "Retrieval (b)"]
        for row, cells in table.items():
            for col, want, got in zip(columns, cells, body[row]):
                assert got == want, (title, row, col)
                checked += 1
        # the primary (cluster-robust) interval row stays under each retrieval setting
        assert [r[0] for r in rows[1:]][:2] == ["Retrieval (a)", "95% interval"]
    assert checked == 14 + 18
    # the json report carries the same tables, and its per-cell counts are the lecture's to the printed digit
    for task, columns, table in (("pairwise", PAIRWISE_COLUMNS, PAIRWISE), ("real_fake", REAL_FAKE_COLUMNS, REAL_FAKE)):
        got = doc["lecture_tables"][task]
        assert got["columns"] == columns
        assert {r["row"]: [r["cells"][c] for c in columns] for r in got["rows"]} == table
        assert [r["study"] for r in got["rows"]] == ["guided-retrieval-a", "guided-retrieval-b"]
    for cell in doc["cells"]:
        if cell["raters_set"] != "all":
            continue
        task = cell["task"]
        cond = cell["baseline"] if task == "pairwise" else cell["condition"]
        setting = lecture.setting_of(cell["study"])
        want = lecture.PUBLISHED[task][setting][cond]
        assert lecture.fmt_share(cell["successes"], cell["votes"], lecture.DECIMALS[task]) == want


def test_the_report_names_rows_and_columns_and_keeps_its_statistics(printed):
    md, _ = printed
    assert "Retrieval (a) = study guided-retrieval-a; Retrieval (b) = study guided-retrieval-b" in md
    assert "HR = hr (Hays and Efros cut-paste)" in md and "NI = natural (natural images)" in md
    assert "Wilson 95% (assumes independent votes)" in md and "vs natural (95% interval)" in md
    detail = md_table(md, "Per cell (Table 1). Primary: two-way cluster-robust interval and test (raters x items); "
                          "the Wilson, Clopper-Pearson and exact columns assume independent votes")
    assert [r[1] for r in detail[1:8]] == ["hr", "pb", "dh", "caf", "ce", "im", "glcic"]     # the lecture's order
    assert detail[1][2:5] == ["200", "152", "76.0%"]


def _lecture_report(tmp_path, specs, **kw):
    paths = [simulate.write_log(df, tmp_path / f"{s.study_id}.csv")
             for s, df in zip(specs, simulate.simulate_preset(specs, raters=10, seed=1))]
    return report.analyse(load_votes(paths, multi_study=len(paths) > 1), n_boot=20, **kw)


def _renamed(spec, old, new):
    def rename(cells):
        return {new if k == old else k: v for k, v in cells.items()}
    return replace(spec, pairwise=rename(spec.pairwise), realism=rename(spec.realism), printed={},
                   target=new if spec.target == old else spec.target)


@pytest.mark.parametrize("change", ["other baseline", "extra condition", "missing condition", "other target"])
def test_no_lecture_layout_when_the_conditions_differ(tmp_path, change):
    spec = replace(simulate.LECTURE, votes_per_cell=20, natural_votes=160, printed={})
    if change == "other baseline":
        spec = _renamed(spec, "glcic", "lama")
    elif change == "extra condition":
        spec = replace(spec, pairwise={**spec.pairwise, "lama": 0.6}, realism={**spec.realism, "lama": 0.3})
    elif change == "missing condition":
        spec = replace(spec, pairwise={k: v for k, v in spec.pairwise.items() if k != "im"},
                       realism={k: v for k, v in spec.realism.items() if k != "im"})
    else:
        spec = _renamed(spec, "ours", "guided")
    rep = _lecture_report(tmp_path, [spec])
    assert rep.lecture_layout("pairwise") is None and rep.lecture_layout("real_fake") is None
    w1, w2 = rep.wide("pairwise"), rep.wide("real_fake")
    assert list(w1["Study"]) == ["guided-retrieval-a"]                       # the study id, not "Retrieval (a)"
    assert "HR" not in w1.columns and "hr" in w1.columns and "NI" not in w2.columns
    assert w1["hr"].iloc[0].endswith(".0%")                                   # the report's one decimal
    md = report.render_markdown(rep, {})
    assert "lecture's layout" not in md and "| Study | HR |" not in md
    assert "lecture_tables" not in json.loads(report.render_json(rep))


def test_one_table_can_match_while_the_other_does_not(tmp_path):
    spec = replace(simulate.LECTURE, votes_per_cell=20, natural_votes=160, printed={},
                   realism={**simulate.LECTURE.realism, "lama": 0.3})
    rep = _lecture_report(tmp_path, [spec])
    assert rep.lecture_layout("pairwise") is not None and rep.lecture_layout("real_fake") is None
    assert list(rep.wide("pairwise").columns) == ["Study"] + PAIRWISE_COLUMNS
    assert list(json.loads(report.render_json(rep))["lecture_tables"]) == ["pairwise"]


def test_rows_follow_the_retrieval_setting_and_names_ignore_case(tmp_path):
    base = _renamed(replace(simulate.LECTURE, votes_per_cell=20, natural_votes=160), "hr", "HR")
    a, b, other = (replace(base, study_id=s) for s in ("zz-retrieval-a", "zz-Retrieval_B", "aa-pilot"))
    rep = _lecture_report(tmp_path, [b, a, other])
    w = rep.wide("pairwise", intervals=True)
    assert list(w["Study"]) == ["Retrieval (a)", "  95% interval", "Retrieval (b)", "  95% interval", "aa-pilot",
                                "  95% interval"]
    assert list(w.columns) == ["Study"] + PAIRWISE_COLUMNS
    t = rep.table("pairwise").set_index(["study_id", "condition"])
    assert rep.wide("pairwise")["HR"].tolist() == [lecture.fmt_share(t.loc[(s, "HR"), "successes"], 20, 0)
                                                   for s in ("zz-retrieval-a", "zz-Retrieval_B", "aa-pilot")]
    # two studies of one setting: rows keep their study ids
    twin = replace(a, study_id="yy-retrieval-a")
    rep = _lecture_report(tmp_path / "twin", [a, twin])
    assert list(rep.wide("pairwise")["Study"]) == ["yy-retrieval-a", "zz-retrieval-a"]
    # one study spelling a condition 'HR', another 'hr': two different columns, so not the lecture's layout
    rep = _lecture_report(tmp_path / "mixed", [a, replace(simulate.LECTURE, votes_per_cell=20, natural_votes=160,
                                                          printed={})])
    assert rep.lecture_layout("pairwise") is None and "HR" in rep.wide("pairwise").columns


def test_setting_names_and_rounding():
    assert [lecture.setting_of(s) for s in ("guided-retrieval-a", "x_Retrieval_B", "retrieval-c", "retrievalb",
                                            "hole-filling", "guided-retrieval", "my-retrieval-ab")] == \
        ["a", "b", "c", "b", None, None, None]
    assert lecture.fmt_share(1563, 1600, 1) == "97.7%" and lecture.fmt_share(152, 200, 0) == "76%"
    assert lecture.fmt_share(765, 1000, 0) == "77%" and lecture.fmt_share(1, 8, 1) == "12.5%"   # half up, exactly
    assert lecture.fmt_share(1, 16, 1) == "6.3%" and lecture.fmt_share(0, 5, 1) == "0.0%"
    assert lecture.fmt_share(5, 5, 0) == "100%" and lecture.fmt_share(0, 0, 1) == ""
    assert lecture.parse_percent("97.7%") == (97.7, 1) and lecture.parse_percent("76%") == (76.0, 0)
    with pytest.raises(ValueError, match="not a percentage"):
        lecture.parse_percent("76")


def test_a_real_crowd_rounds_to_the_lectures_precision(tmp_path):
    spec = replace(simulate.LECTURE, printed={}, pairwise={**simulate.LECTURE.pairwise, "hr": 0.7575},
                   votes_per_cell=400, natural_votes=3200)
    rep = _lecture_report(tmp_path, [spec])
    t = rep.table("pairwise").set_index("condition")
    assert (t.loc["hr", "successes"], t.loc["hr", "votes"]) == (303, 400)      # 75.75%
    assert rep.wide("pairwise")["HR"].iloc[0] == "76%"
    assert pd.notna(t.loc["hr", "primary_low"])


def test_the_readme_shows_the_printed_tables(printed):
    """The README's lecture tables are this report's output (same default seed and raters)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8").splitlines()
    md, _ = printed
    for title, caption in (("Table 1", "Table 1 as printed"), ("Table 2", "Table 2 as printed")):
        start = next(i for i, line in enumerate(readme) if line.startswith(caption)) + 2
        end = next(i for i in range(start, len(readme)) if not readme[i].startswith("|"))
        shown = [[c.strip() for c in line.strip("|").split(" | ")] for line in readme[start:end]
                 if not line.startswith("|---")]
        assert len(shown) > 4 and shown == md_table(md, title)
