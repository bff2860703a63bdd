import json
import re

import pytest

from eval_studies.study_file import DEFAULT_INSTRUCTIONS, list_studies, load_study, parse_study


def spec_of(folder):
    return json.loads((folder / "study.json").read_text())


def test_valid_json_study_loads(study_dir):
    s = load_study(study_dir)
    assert s.id == "unit-study"
    assert s.tasks == ("pairwise", "real_fake")
    assert s.items == tuple(f"item{i:02d}" for i in range(12))
    assert s.pairs == (("base", "natural"), ("base", "ours"), ("natural", "ours"))  # every unordered pair
    assert s.trials_per_task == {"pairwise": 6, "real_fake": 3}
    assert s.total_trials == 2 + 9 + 2
    assert s.instructions == DEFAULT_INSTRUCTIONS
    assert s.conditions["ours"]["item03"] == "ours-3.png"


def test_toml_study_equals_json_study(study_dir):
    spec = spec_of(study_dir)
    lines = [f'id = "{spec["id"]}"', 'tasks = ["pairwise", "real_fake"]', 'natural_condition = "natural"',
             "practice_trials = 2", "catch_trials = 2", 'completion_code = "CODE123"',
             "[trials_per_rater]", "pairwise = 6", "real_fake = 3"]
    for c, items in spec["conditions"].items():
        lines.append(f"[conditions.{c}]")
        lines += [f'{k} = "{v}"' for k, v in items.items()]
    for item, pair in spec["catch_pool"].items():
        lines.append(f"[catch_pool.{item}]")
        lines += [f'{k} = "{v}"' for k, v in pair.items()]
    (study_dir / "study.json").rename(study_dir / "study.json.bak")
    (study_dir / "study.toml").write_text("\n".join(lines) + "\n")
    toml_study = load_study(study_dir)
    (study_dir / "study.toml").unlink()
    (study_dir / "study.json.bak").rename(study_dir / "study.json")
    assert toml_study == load_study(study_dir)


def test_integer_trials_split_over_tasks(tmp_path, study_factory):
    s = load_study(study_factory(tmp_path / "s", trials_per_rater=7))
    assert s.trials_per_task == {"pairwise": 4, "real_fake": 3}


@pytest.mark.parametrize("change, field, words", [
    ({"id": "bad id!"}, "id", "letters, digits"),
    ({"tasks": ["pairwise", "ranking"]}, "tasks", "unknown task 'ranking'"),
    ({"tasks": []}, "tasks", "non-empty list"),
    ({"trials_per_rater": 0}, "trials_per_rater", "at least 2"),
    ({"trials_per_rater": 13}, "trials_per_rater", "only 12 items"),
    ({"trials_per_rater": {"pairwise": -1}}, "trials_per_rater.pairwise", ">= 0"),
    ({"trials_per_rater": {"ranking": 3}}, "trials_per_rater", "not in tasks"),
    ({"practice_trials": "two"}, "practice_trials", "whole number"),
    ({"catch_trials": 5}, "catch_pool", "practice_trials + catch_trials = 7"),
    ({"exposure_ms": 10}, "exposure_ms", "between 50 and 60000"),
    # issue 19: every rater gets a code of their own, so a study no longer needs completion_code
    ({"min_exposure_ms": 20_000}, "min_exposure_ms", "between 0 and 10000"),
    ({"max_votes_per_minute": 0}, "max_votes_per_minute", "between 1 and 600"),
    ({"natural_share": 1.0}, "natural_share", "between 0 and 1"),
    ({"natural_share": 0.5, "natural_condition": None}, "natural_share", "needs the real_fake task"),
    ({"withdrawn_votes": "maybe"}, "withdrawn_votes", "one of ['drop', 'keep']"),
    ({"no_consent_url": "ftp://x"}, "no_consent_url", "http(s) URL"),
    ({"hype_time": True, "exposure_ms": 300}, "hype_time", "remove exposure_ms"),
    ({"hype_time": {"start_ms": 60, "min_ms": 100}}, "hype_time", "min_ms <= start_ms"),
    ({"completion_code": "has space"}, "completion_code", "letters, digits"),
    ({"redirect_url": "javascript:alert(1)"}, "redirect_url", "http(s) URL"),
    ({"natural_condition": "nature"}, "natural_condition", "'nature' is not a condition"),
    ({"pairs": [["ours", "ours"]]}, "pairs", "two different conditions"),
    ({"pairs": [["ours", "base"], ["base", "ours"]]}, "pairs", "listed twice"),
    ({"title": "Is ours better?"}, "title", "names condition 'ours'"),
    ({"instructions": "Spot the BASE images"}, "instructions", "names condition 'base'"),
])
def test_malformed_fields_are_named(tmp_path, study_factory, change, field, words):
    folder = study_factory(tmp_path / "s", **change)
    with pytest.raises(ValueError) as e:
        load_study(folder)
    assert f"field {field!r}" in str(e.value)
    assert words in str(e.value)
    assert str(folder / "study.json") in str(e.value)


def test_missing_stimulus_and_path_escape(tmp_path, study_factory):
    folder = study_factory(tmp_path / "s")
    spec = spec_of(folder)
    spec["conditions"]["ours"]["item01"] = "nope.png"
    (folder / "study.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"field 'conditions.ours.item01': stimulus 'nope.png' not found"):
        load_study(folder)
    spec["conditions"]["ours"]["item01"] = "../study.json"
    (folder / "study.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"must name a file directly inside stimuli/"):
        load_study(folder)


def test_unbalanced_items_and_unknown_fields(tmp_path, study_factory):
    folder = study_factory(tmp_path / "s")
    spec = spec_of(folder)
    del spec["conditions"]["base"]["item04"]
    spec["trails_per_rater"] = 3
    (folder / "study.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['trails_per_rater'\]"):
        load_study(folder)
    del spec["trails_per_rater"]
    (folder / "study.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"field 'conditions.base': has no stimulus for item\(s\) \['item04'\]"):
        load_study(folder)


def test_syntax_errors_name_the_place(tmp_path, study_factory):
    folder = study_factory(tmp_path / "s")
    (folder / "study.json").write_text('{"id": "x",\n "tasks": [}\n')
    with pytest.raises(ValueError, match=r"not valid JSON at line 2, column 12"):
        load_study(folder)
    (folder / "study.json").unlink()
    (folder / "study.toml").write_text('id = "x"\ntasks = [\n')
    with pytest.raises(ValueError, match=r"study.toml: not valid TOML"):
        load_study(folder)
    (folder / "study.toml").write_bytes(b'id = "\xff"\n')
    with pytest.raises(ValueError, match="not UTF-8"):
        load_study(folder)


def test_folder_problems(tmp_path, study_factory):
    with pytest.raises(ValueError, match="does not exist"):
        load_study(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=re.escape("no study file")):
        load_study(tmp_path / "empty")
    folder = study_factory(tmp_path / "two")
    (folder / "study.toml").write_text('id = "x"\n')
    with pytest.raises(ValueError, match="two study files"):
        load_study(folder)
    with pytest.raises(ValueError, match="must be a table/object"):
        parse_study([1, 2], tmp_path)


def test_list_studies_reports_broken_ones(tmp_path, study_factory):
    study_factory(tmp_path / "a")
    study_factory(tmp_path / "b", id="not ok")
    (tmp_path / "c").mkdir()  # no study file: not listed
    found = list_studies(tmp_path)
    assert [f.name for f, _, _ in found] == ["a", "b"]
    assert found[0][1].id == "unit-study" and found[0][2] is None
    assert found[1][1] is None and "field 'id'" in found[1][2]


def test_duplicate_json_keys_are_refused(tmp_path, study_factory):
    """Issue 19: JSON readers keep the last of two equal keys without a word."""
    folder = study_factory(tmp_path / "s")
    text = (folder / "study.json").read_text()
    (folder / "study.json").write_text(text.replace('"practice_trials": 2', '"practice_trials": 2, "practice_trials": 0'))
    with pytest.raises(ValueError, match=r"key 'practice_trials' appears twice"):
        load_study(folder)


@pytest.mark.parametrize("content, words", [
    (b"this is text, not an image", "not a readable image"),
    ("truncated", "not a readable image"),
])
def test_unreadable_stimulus_names_field_and_file(tmp_path, study_factory, content, words):
    folder = study_factory(tmp_path / "s")
    spec = spec_of(folder)
    name = spec["conditions"]["ours"]["item03"]
    path = folder / "stimuli" / name
    if content == "truncated":
        from PIL import Image
        import numpy as np
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
        content = path.read_bytes()[:-30]
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        load_study(folder)
    assert "field 'conditions.ours.item03'" in str(e.value) and repr(name) in str(e.value)
    assert words in str(e.value)


def test_unequal_stimulus_sizes_are_refused_with_the_files_named(tmp_path, study_factory):
    from PIL import Image
    folder = study_factory(tmp_path / "s")
    spec = spec_of(folder)
    name = spec["conditions"]["base"]["item05"]
    Image.new("RGB", (9, 8)).save(folder / "stimuli" / name)
    with pytest.raises(ValueError, match=rf"differ in size .*9x8: {re.escape(name)}"):
        load_study(folder)
