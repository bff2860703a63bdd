"""Helpers of the rater-page browser tests: a study built from held-out photos, axe-core, and stepping a
rater through the trials the way a person would (waiting until an answer can count)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from eval_studies.build import encode_png, exported_fills, load_heldout, opencv_methods

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
CONDITIONS = ("natural", "navier", "telea")

PHONES = {  # name: (width, height)
    "iphone-se": (375, 667), "android-small": (360, 640), "iphone-14": (390, 844), "iphone-se-landscape": (667, 375),
}
DESKTOP = {"laptop": (1366, 768), "desktop": (1000, 760)}


def build_study(tmp: Path, trials: int, *extra: str, fields: dict | None = None, items: int = 10) -> Path:
    """A study from `items` held-out photos (natural, and holes filled by two OpenCV methods), built by the real
    build command; `fields` are then written into its study.json (e.g. pacing settings)."""
    src = tmp / "src"
    _, photos = load_heldout()
    photos = photos[:items]
    fills, _ = exported_fills(photos, opencv_methods(photos.shape[1]))
    for i, im in enumerate(photos):
        for c, arr in zip(CONDITIONS, (im, fills["navier_stokes"][i], fills["telea"][i])):
            (src / c).mkdir(parents=True, exist_ok=True)
            (src / c / f"p{i:02d}.png").write_bytes(encode_png(arr, im.shape[0]))
    out = tmp / "study"
    done = subprocess.run([sys.executable, "-m", "eval_studies.build", "--from-folder", str(src), "--out", str(out),
                           "--natural", "natural", "--trials-per-rater", str(trials), "--completion-code", "PHONE42",
                           "--size", "256", *extra], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    if fields:
        path = out / "study.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **fields}, indent=1))
    return out


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now: [{id, impact, nodes: [selector, ...]}]."""
    page.wait_for_function("() => !document.querySelector('.pending')")  # not mid-fade while an event runs
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')),
                     why: (v.nodes[0].failureSummary || '').slice(0, 300)}))""")


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in ("critical", "serious")]


def field(page, elem_id: str) -> str:
    return page.evaluate("id => (document.querySelector(`#${id} textarea, #${id} input`) || {}).value || ''", elem_id)


def next_screen(page, index: int, timeout: float = 15000) -> str:
    """Waits until trial `index` is on screen with its layout applied (one photo or two), or the break or
    completion page is; returns the layout ("trial:pairwise", "trial:real_fake", "break" or "done")."""
    page.wait_for_function(
        """i => {
          const v = (id) => { const e = document.querySelector(`#${id} textarea, #${id} input`); return e ? e.value : ''; };
          const lay = v('study-layout'), on = (id) => { const e = document.getElementById(id); return !!e && e.offsetParent !== null; };
          if (lay === 'done') return on('study-done');
          if (lay === 'break') return on('study-continue');
          if (!lay.startsWith('trial:') || v('study-shown') !== String(i) || !on('study-answers')) return false;
          const panel = document.getElementById('study-trial');
          return on('study-img-right') === (lay === 'trial:pairwise') && panel.dataset.task === lay.slice(6);
        }""", arg=index, timeout=timeout)
    return field(page, "study-layout")


def wait_answerable(page, timeout: float = 10000) -> None:
    """Until the answer buttons say an answer counts (photos loaded and shown for the study's minimum time)."""
    page.wait_for_function("() => document.getElementById('study-left')?.getAttribute('aria-disabled') === 'false'",
                           timeout=timeout)
