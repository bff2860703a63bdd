"""The lecture's crowd experiment (guided inpainting, Zhao et al.) as study folders, one per retrieval setting.

    python -m eval_studies.build --experiment --out studies [--retrieval a|b|both] [--items 42]

writes ``studies/retrieval-a`` (study id ``guided-retrieval-a``) and ``studies/retrieval-b``
(``guided-retrieval-b``), the layout eval_studies.lecture and the report expect. Other folders under ``--out``
are left alone; an existing non-empty ``retrieval-<s>`` is never overwritten.

Items: ``--items`` held-out photos of the photo pool (default DEFAULT_ITEMS: all but the POOL photos that
practice and catch trials show untouched), each cut to its centred square (``--size`` px) with one off-centre
square hole, its side a seeded 35-45% of the photo's (HOLE): one compact hole of one shape for every item, so
the study compares methods, not holes. Conditions (eval_studies.lecture's names): ``natural`` (the photo),
``ours`` (guided inpainting) and the baselines ``hr`` (Hays-Efros cut-paste: nearest-neighbour), ``pb``
(patch-based), ``dh`` (deep harmonization), ``caf`` (content-aware fill: PatchMatch), ``ce`` (the any-hole
Context Encoder), ``im`` (image melding), ``glcic``. Guided methods (ours, dh, im) take the setting's top-1
retrieved training photo as guidance. The fills run in ``python -m synth.export_stimuli`` (experiment mode),
as eval_studies never imports torch nor synth: a method that cannot run (dh without its harmonizer checkpoint)
is left out with a note, an item a method fails on is dropped from that setting with a note, and the build is
refused when any fill is flat or off-colour (the exporter's picture check), listing them; ``--accept-defects``
builds anyway, recording them (a method's bad fills are what raters judge; the check guards against a broken
configuration, such as a model filling grey squares).

Trials per rater: every "ours vs baseline" pair twice (once on each side), and real-vs-fake trials showing each
fake condition (ours and the baselines) once and as many natural photos (NATURAL_SHARE, as HYPE); 2 practice
and 4 catch trials, as the demo. ``experiment.json`` beside each study file records what the exporter did:
the guidance photo of every item, the dropped items, the skipped methods and the time each method took.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np

from eval_studies import lecture
from eval_studies.build import DEFAULT_SIZE, _check_out, exporter_name, run_exporter, write_study

# condition -> the exporter's method name (a list: alternatives, the first that exists is used)
METHODS = (("ours", "guided inpainting"),
           ("hr", "nearest-neighbour"),
           ("pb", "patch-based"),
           ("dh", "deep harmonization"),
           ("caf", "patchmatch (content-aware fill stand-in)"),
           ("ce", ["context-encoder any-hole", "context-encoder L2+adv random-mask"]),
           ("im", "image melding"),
           ("glcic", "glcic"))
HOLE = {"kind": "square", "min_frac": 0.35, "max_frac": 0.45}
HELDOUT_PHOTOS = 48           # synth.photo_pool's held-out split
PRACTICE, CATCH = 2, 4        # as the demo
POOL = PRACTICE + CATCH       # held-out photos set aside for them
DEFAULT_ITEMS = HELDOUT_PHOTOS - POOL
NATURAL_SHARE = 0.5           # of the real-vs-fake trials, as HYPE (Zhou et al. 2019)
PAIR_ROUNDS = 2               # each pair once on each side
RETRIEVAL = {"a": ("a",), "b": ("b",), "both": ("a", "b")}
EXPORT_TIMEOUT = 3600


def trial_plan(n_items: int, n_baselines: int) -> tuple[int, int, str | None]:
    """(pairwise, real/fake) scored trials per rater, and a note when the items are too few for the design.

    The design: each "ours vs baseline" pair PAIR_ROUNDS times, each fake condition once in real vs fake with
    as many natural photos; a rater sees an item once, so with fewer items one round of pairs, then fewer."""
    real_fake = 2 * (n_baselines + 1)
    for rounds in range(PAIR_ROUNDS, 0, -1):
        if n_baselines * rounds + real_fake <= n_items:
            return n_baselines * rounds, real_fake, None
    if n_items < 2:
        raise ValueError(f"{n_items} item(s) left: the experiment needs at least 2 (one per task)")
    pairwise = min(n_items - 1, max(1, round(n_items * n_baselines / (n_baselines + real_fake))))
    return pairwise, n_items - pairwise, (f"only {n_items} items: {pairwise} pairwise + {n_items - pairwise} "
                                          "real/fake trials per rater, less than one round of each")


def experiment_request(settings, n_items: int, size: int, seed: int, methods=METHODS) -> dict:
    return {"experiment": {"items": n_items, "pool": POOL, "size": size, "seed": seed, "settings": list(settings),
                           "hole": HOLE, "methods": [{"name": n, "condition": c} for c, n in methods]}}


def defects(manifest: dict) -> list[str]:
    """Every flat or off-colour fill the exporter's picture check found: 'retrieval (a): hr on gc_0061 (flat)'."""
    return [f"retrieval ({s}): {c} on {item} ({', '.join(kinds)})"
            for s, entry in manifest["settings"].items() for c, bad in entry["defects"].items()
            for item, kinds in bad.items()]


def refuse_defects(manifest: dict) -> None:
    """ValueError listing the defective fills, if any: no study is built on a flat or off-colour stimulus."""
    found = defects(manifest)
    if found:
        raise ValueError(f"the picture check found {len(found)} flat or off-colour fill(s), so no study was built: "
                         f"{_listed(found)} (--accept-defects builds anyway and records them)")


def _listed(found: list[str]) -> str:
    return "; ".join(found[:12]) + (f"; and {len(found) - 12} more" if len(found) > 12 else "")


def build_experiment(out: Path, retrieval: str = "both", n_items: int = DEFAULT_ITEMS, size: int = DEFAULT_SIZE,
                     seed: int = 0, methods=METHODS, exporter: list[str] | None = None,
                     timeout: float = EXPORT_TIMEOUT, accept_defects: bool = False) -> tuple[list[Path], list[str]]:
    """Build one study folder per retrieval setting under ``out``; returns (study files, notes). A flat or
    off-colour fill refuses the build (ValueError listing them) unless ``accept_defects``: then they are shown
    to raters like every other fill, and listed in the notes and in experiment.json."""
    if retrieval not in RETRIEVAL:
        raise ValueError(f"retrieval must be one of {sorted(RETRIEVAL)}, got {retrieval!r}")
    if not 1 <= n_items <= DEFAULT_ITEMS:
        raise ValueError(f"--items must be 1..{DEFAULT_ITEMS}: the photo pool holds {HELDOUT_PHOTOS} held-out "
                         f"photos and {POOL} of them are set aside for practice and catch trials")
    out = Path(out)
    settings = RETRIEVAL[retrieval]
    for s in settings:
        _check_out(out / f"retrieval-{s}")
    new = [f for f in (out, *(out / f"retrieval-{s}" for s in settings)) if not f.exists()]
    try:
        return _build(out, settings, n_items, size, seed, methods, exporter, timeout, accept_defects)
    except BaseException:
        for folder in new[::-1]:  # leave no half-built study behind (one setting built, the other failed)
            if folder.is_dir() and (folder != out or not any(out.iterdir())):
                shutil.rmtree(folder, ignore_errors=True)
        raise


def _build(out: Path, settings, n_items, size, seed, methods, exporter, timeout,
           accept_defects: bool) -> tuple[list[Path], list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = run_exporter(Path(tmp), experiment_request(settings, n_items, size, seed, methods), exporter,
                              timeout)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if not accept_defects:
            refuse_defects(manifest)
        with np.load(folder / manifest["items_file"], allow_pickle=False) as f:
            names, photos = [str(n) for n in f["names"]], f["images"]
            pool = dict(zip((str(n) for n in f["pool_names"]), f["pool"]))
        notes = [f"{exporter_name(exporter)} ran {sorted(manifest['methods'])} on {len(names)} held-out photos",
                 *(f"{c!r} cannot run, left out ({why})" for c, why in manifest["skipped"].items())]
        if defects(manifest):
            notes.append(f"picture check: {len(defects(manifest))} flat or off-colour fill(s) kept (--accept-defects): "
                         f"{_listed(defects(manifest))}")
        paths = []
        for s in settings:
            entry = manifest["settings"][s]
            fills = {}
            for c, file in entry["fills"].items():
                with np.load(folder / file, allow_pickle=False) as f:
                    fills[c] = dict(zip(entry["items"], f["images"]))
            path, more = _write_setting(out / f"retrieval-{s}", s, names, photos, fills, pool, manifest, size)
            paths.append(path)
            notes += more
    return paths, notes


def _write_setting(folder: Path, setting: str, names, photos, fills: dict, pool: dict, manifest: dict,
                   size: int) -> tuple[Path, list[str]]:
    entry = manifest["settings"][setting]
    label = f"retrieval ({setting})"
    if lecture.TARGET not in fills:
        why = manifest["skipped"].get(lecture.TARGET, "no fills")
        raise ValueError(f"{label}: guided inpainting ('{lecture.TARGET}') did not run ({why}); the experiment "
                         f"compares it with every baseline")
    kept = entry["items"]
    baselines = [c for c in lecture.COLUMNS["pairwise"] if c in fills]
    if not baselines:
        raise ValueError(f"{label}: no baseline ran; skipped: {manifest['skipped']}")
    pairwise, real_fake, note = trial_plan(len(kept), len(baselines))
    photo = dict(zip(names, photos))
    conditions = {lecture.NATURAL: {item: photo[item] for item in kept}, lecture.TARGET: fills[lecture.TARGET]}
    conditions.update({c: fills[c] for c in baselines})
    spec = {
        "id": lecture.STUDY_IDS[setting],
        "title": "Which photo looks real?",
        "tasks": ["pairwise", "real_fake"],
        "natural_condition": lecture.NATURAL,
        "natural_share": NATURAL_SHARE,
        "pairs": [[lecture.TARGET, c] for c in baselines],
        "trials_per_rater": {"pairwise": pairwise, "real_fake": real_fake},
        "practice_trials": PRACTICE,
        "catch_trials": CATCH,
        "completion_code": secrets.token_hex(4).upper(),
    }
    path = write_study(folder, spec, conditions, pool, size)
    record = {"study_id": spec["id"], "retrieval": setting, "size": manifest["size"], "seed": manifest["seed"],
              "hole": manifest["hole"], "methods": manifest["methods"], "skipped": manifest["skipped"],
              "items": kept, "dropped": entry["dropped"], "defects": entry["defects"], "guidance": entry["guidance"],
              "seconds": manifest["seconds"]}
    (folder / "experiment.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    notes = [f"{label}: study {spec['id']}: {len(conditions)} conditions {list(conditions)}, {len(kept)} items, "
             f"{pairwise} pairwise (ours vs each of {len(baselines)} baselines) + {real_fake} real/fake "
             f"({NATURAL_SHARE:.0%} natural) scored trials, {PRACTICE} practice and {CATCH} catch per rater"]
    notes += [f"{label}: item {item} dropped ({why})" for item, why in entry["dropped"].items()]
    if note:
        notes.append(f"{label}: {note}")
    return path, notes


def experiment_help(studies_root: Path) -> str:
    """Markdown for the Studies tab: what the experiment is, the command that builds it under the studies root,
    and, once built, how to serve and report it (folder names only, no server paths)."""
    from eval_studies.progress import ROOT_PLACEHOLDER, shown_root

    root = shown_root(studies_root)
    built = [s for s in lecture.SETTINGS if (Path(studies_root) / f"retrieval-{s}" / "study.json").is_file()]
    lines = ["### The lecture's experiment",
             "Guided inpainting (`ours`) against seven baselines (HR, PB, DH, CAF, CE, IM, GLCIC), one study per "
             "retrieval setting of the guidance: pairwise trials ours vs each baseline, and real-vs-fake trials "
             f"with natural photos mixed in ({NATURAL_SHARE:.0%}). {DEFAULT_ITEMS} held-out photos, one "
             "off-centre square hole each (docs/studies.md, \"The lecture's experiment\").", ""]
    missing = [s for s in lecture.SETTINGS if s not in built]
    if missing:
        only = f" --retrieval {missing[0]}" if len(missing) == 1 else ""
        lines += ["Build it (a few minutes on a CPU):", "",
                  f"    python -m eval_studies.build --experiment --out {root}{only}", ""]
    if built:
        lines += [f"Built: {', '.join(f'`retrieval-{s}`' for s in built)}. Serve each on its own port:", ""]
        lines += [f"    python app.py --study {root}/retrieval-{s} --host 0.0.0.0 --port {7861 + i}"
                  for i, s in enumerate(built)]
        logs = " ".join(f"{root}/retrieval-{s}/votes*.csv" for s in built)
        lines += ["", "and report them (both settings: the lecture's two tables):", "",
                  f"    python -m eval_studies.report {logs} --multi-study --out report.md"]
    if root == ROOT_PLACEHOLDER:
        lines += ["", f"({ROOT_PLACEHOLDER} is the folder this app was given as `--studies-root`.)"]
    return "\n".join(lines)
