"""Study fixtures (issue 7): a small valid study folder written by hand, not by the builder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def make_study(folder: Path, n_items: int = 12, conditions=("natural", "ours", "base"), pool: int = 6,
               **overrides) -> Path:
    stim = folder / "stimuli"
    stim.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def img(name: str) -> str:
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(stim / name)
        return name

    spec = {
        "id": "unit-study",
        "tasks": ["pairwise", "real_fake"],
        "natural_condition": "natural",
        "conditions": {c: {f"item{i:02d}": img(f"{c}-{i}.png") for i in range(n_items)} for c in conditions},
        "trials_per_rater": {"pairwise": 6, "real_fake": 3},
        "practice_trials": 2,
        "catch_trials": 2,
        "catch_pool": {f"pool{i}": {"real": img(f"pr{i}.png"), "broken": img(f"pb{i}.png")} for i in range(pool)},
        "completion_code": "CODE123",
    }
    spec.update(overrides)
    spec = {k: v for k, v in spec.items() if v is not None}
    (folder / "study.json").write_text(json.dumps(spec, indent=1))
    return folder


@pytest.fixture
def study_factory():
    """make(folder, **fields) -> folder with a valid study, fields overridden (None removes one)."""
    return make_study


@pytest.fixture
def study_dir(tmp_path) -> Path:
    return make_study(tmp_path / "study")
