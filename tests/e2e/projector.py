"""What a class sees on a projector, measured in the browser: text contrast (WCAG 2 ratio) and whether boxes
lie inside the viewport."""

from __future__ import annotations

# every visible text that explains a control or labels a result, with its colour against the first opaque
# background behind it (WCAG relative luminance)
CONTRAST_JS = """(root) => {
  const lum = c => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const m = getComputedStyle(e).backgroundColor.match(/[\\d.]+/g);
      if (m && (m.length < 4 || +m[3] > 0.5)) return getComputedStyle(e).backgroundColor; }
    return 'rgb(255, 255, 255)'; };
  const texts = root.querySelectorAll(
    '.info-text, .min_value, .max_value, [data-testid=block-info], [data-testid=block-label], .prose p, .prose li');
  return [...texts].filter(e => e.offsetParent !== null && e.textContent.trim()).map(e => {
    const a = lum(getComputedStyle(e).color), b = lum(background(e));
    return [e.textContent.trim().slice(0, 50), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; });
}"""


def low_contrast(page, root_selector: str, floor: float = 4.5) -> list[tuple[str, float]]:
    """(text, contrast ratio) of every visible help text or label under root_selector below ``floor``."""
    found = page.locator(root_selector).first.evaluate(CONTRAST_JS)
    assert found, f"no help text found under {root_selector}"
    return [(text, round(ratio, 2)) for text, ratio in found if ratio < floor]


def in_viewport(page, selector: str) -> bool:
    """Whether the element's whole box lies inside the viewport as it is scrolled now."""
    box = page.locator(selector).first.bounding_box()
    view = page.viewport_size
    return (box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= view["width"]
            and box["y"] + box["height"] <= view["height"])
