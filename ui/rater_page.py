"""What the rater sees: the page's script, style and HTML pieces, and its wording (prompts, button labels).

ui.rater_app builds the rater app from these; nothing here knows the study's conditions or answer key.
"""

from __future__ import annotations

# F = left / real, J = right / fake; timed exposure; auto-redirect on the completion page.
RATER_JS = """
<script>
(() => {
  const visible = (el) => el && el.offsetParent !== null && !el.disabled;
  document.addEventListener('keydown', (e) => {
    if (e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    const k = e.key.toLowerCase();
    const id = k === 'f' ? 'study-left' : k === 'j' ? 'study-right' : null;
    if (!id) return;
    const btn = document.getElementById(id);
    if (visible(btn)) { e.preventDefault(); btn.click(); }
  });
  document.addEventListener('load', (e) => {
    const img = e.target;
    if (!(img instanceof HTMLImageElement) || !img.closest('#study-stimuli')) return;
    img.style.visibility = 'visible';
    const ex = document.getElementById('study-exposure');
    const ms = ex ? parseInt(ex.dataset.ms || '0', 10) : 0;
    if (ms > 0) {
      const src = img.src;
      setTimeout(() => { if (img.src === src) img.style.visibility = 'hidden'; }, ms);
    }
  }, true);
  let redirecting = false;
  setInterval(() => {
    const a = document.getElementById('study-redirect');
    if (a && !redirecting && a.href) { redirecting = true; setTimeout(() => { window.location.href = a.href; }, 4000); }
  }, 500);
})();
</script>
"""

RATER_CSS = """
#study-stimuli img { width: 100%; height: 100%; object-fit: contain; }
.study-bar { height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; }
.study-bar > div { height: 100%; background: #2563eb; }
footer { display: none !important; }
"""

PROMPTS = {
    "pairwise": "### Which photo looks more real?",
    "real_fake": "### Is this photo real or fake?",
}
LABELS = {
    "pairwise": ("◀ Left  (F)", "Right ▶  (J)"),
    "real_fake": ("Real  (F)", "Fake  (J)"),
}


def progress_html(exposure_ms: int, trial, trials) -> str:
    """The progress line of `trial` (a practice count, or a bar and "Trial k of n" for counted trials),
    with the exposure time (ms, 0 = no limit) the page's script reads."""
    tag = f'<span id="study-exposure" data-ms="{exposure_ms}"></span>'
    if trial.kind == "practice":
        practice = [t for t in trials if t.kind == "practice"]
        k = practice.index(trial) + 1
        return f"{tag}<p><b>Practice {k} of {len(practice)}</b> (not scored; you will see if you were right)</p>"
    counted = [t for t in trials if t.kind != "practice"]
    k = counted.index(trial) + 1
    pct = round(100 * (k - 1) / len(counted))
    return (f'{tag}<div class="study-bar" role="progressbar" aria-valuenow="{k - 1}" '
            f'aria-valuemax="{len(counted)}"><div style="width:{pct}%"></div></div>'
            f"<p>Trial {k} of {len(counted)}</p>")
