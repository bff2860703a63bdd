"""The rater page on phones and desktops, in a real Chromium: every trial fits the screen, and axe-core finds no
critical or serious accessibility violation on any page a rater sees.

For each viewport a rater goes from consent to completion code. On every trial: the question, every photo and
both answer buttons lie inside the viewport without scrolling, the trial starts scrolled to the top, buttons are
at least 44x44 px, all visible text is at least 16 px, and the labels match the arrangement (Left/Right side by
side, Top/Bottom stacked). Touch screens are told to tap and shown no keys; keyboards are told F and J.
"""

from __future__ import annotations

import pytest

from tests.conftest import AppProcess
from tests.e2e.rater import DESKTOP, PHONES, axe_violations, build_study, field, next_screen, serious, wait_answerable

GEOMETRY = """() => {
  const box = (sel) => { const e = document.querySelector(sel); if (!e || e.offsetParent === null) return null;
    const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; };
  const small = [...document.querySelectorAll('body *')].filter(e => e.offsetParent !== null
      && !e.closest('.study-sr-only, .sr-only') && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())
      && parseFloat(getComputedStyle(e).fontSize) < 16)
    .map(e => `${e.tagName} "${e.textContent.trim().slice(0, 30)}" ${getComputedStyle(e).fontSize}`);
  return {vw: innerWidth, vh: innerHeight, scrollY: scrollY, page: document.documentElement.scrollHeight,
          prompt: box('#study-prompt h2'), left: box('#study-img-left img'), right: box('#study-img-right img'),
          bl: box('#study-left'), br: box('#study-right'), labels: [document.getElementById('study-left').innerText,
          document.getElementById('study-right').innerText], small};
}"""

VIEWPORTS = {**PHONES, "laptop": DESKTOP["laptop"]}


@pytest.fixture(scope="module")
def phone_app(tmp_path_factory):
    study = build_study(tmp_path_factory.mktemp("phone"), 6, "--practice", "1", "--catch", "1")
    app = AppProcess("--study", str(study))
    yield app
    app.stop()


def inside(r: dict, g: dict) -> bool:
    return r is not None and r["y"] >= 0 and r["x"] >= 0 and r["y"] + r["h"] <= g["vh"] + 0.5 \
        and r["x"] + r["w"] <= g["vw"] + 0.5


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(VIEWPORTS))
def test_every_trial_fits_and_passes_axe(browser, phone_app, name):
    width, height = VIEWPORTS[name]
    touch = name in PHONES
    ctx = browser.new_context(viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch,
                              device_scale_factor=2 if touch else 1)
    page = ctx.new_page()
    page.goto(f"{phone_app.url}/?rater=phone-{name}")
    page.locator("#study-start").wait_for(state="visible", timeout=30000)
    found: dict[str, list] = {"consent": serious(axe_violations(page))}

    # consent: the way to answer for this device
    how = page.locator("#study-how").inner_text()
    if touch:
        assert "tap" in how and "F" not in how.replace("If", ""), how
    else:
        assert "F" in how and "J" in how and "keyboard" in how, how
    assert page.locator("#study-start").bounding_box()["height"] >= 44
    page.locator("#study-start").click()

    i, seen, rows = 0, set(), []
    while True:
        lay = next_screen(page, i)
        if lay == "done":
            break
        if lay == "break":
            found["break"] = serious(axe_violations(page))
            page.locator("#study-continue").click()
            page.wait_for_function("() => (document.querySelector('#study-layout textarea, #study-layout input')"
                                   " || {}).value !== 'break'")
            continue
        wait_answerable(page)
        g = page.evaluate(GEOMETRY)
        pair = lay == "trial:pairwise"
        assert g["scrollY"] == 0, f"{name} trial {i} opened scrolled to {g['scrollY']}"
        for part in ("prompt", "left", "bl", "br") + (("right",) if pair else ()):
            assert inside(g[part], g), f"{name} trial {i}: {part} {g[part]} outside the {width}x{height} viewport"
        for b in ("bl", "br"):
            assert g[b]["w"] >= 44 and g[b]["h"] >= 44, (name, i, b, g[b])
        assert not g["small"], f"{name} trial {i}: text under 16 px: {g['small']}"
        words = " ".join(g["labels"])
        if pair:
            stacked = g["right"]["y"] >= g["left"]["y"] + g["left"]["h"] - 1
            side = abs(g["right"]["y"] - g["left"]["y"]) < 1 and g["right"]["x"] >= g["left"]["x"] + g["left"]["w"] - 1
            assert stacked or side, (name, i, g["left"], g["right"])
            assert ("Top" in words and "Bottom" in words) if stacked else ("Left" in words and "Right" in words), words
        else:
            assert "Real" in words and "Fake" in words, words
        assert ("F" in words and "J" in words) != touch, f"{name}: key hints {'shown' if touch else 'missing'}: {words}"
        feedback = page.locator("#study-feedback").inner_text().strip()
        kind = lay + (" with feedback" if feedback else "")
        if kind not in seen:
            seen.add(kind)
            found[f"trial {i} ({kind})"] = serious(axe_violations(page))
        rows.append(f"{name} trial {i} {lay}: photo {g['left']['w']:.0f} px"
                    f"{' stacked' if pair and g['right']['y'] > g['left']['y'] else ''}, buttons "
                    f"{g['bl']['w']:.0f}x{g['bl']['h']:.0f}, bottom of buttons {g['br']['y'] + g['br']['h']:.0f} of "
                    f"{height}, page {g['page']} px")
        page.evaluate("window.scrollTo(0, 200)")  # the next trial must start at the top again
        if touch:
            page.locator("#study-right").tap()
        else:
            page.locator("#study-right").click()
        i += 1
    found["done"] = serious(axe_violations(page))
    assert page.locator("#study-code").inner_text().strip()
    assert page.locator("#study-copy").is_visible()
    print("\n".join(rows))
    assert {"trial:pairwise", "trial:real_fake"} <= {k.split(" with")[0] for k in seen}
    assert not any(found.values()), {k: v for k, v in found.items() if v}
    assert field(page, "study-layout") == "done"
    ctx.close()
