"""What the rater sees: the page's script, style and HTML pieces, and its wording.

ui.rater_app builds the rater app from these; nothing here knows the study's conditions or answer key.

Phone first. The photos are sized by the script to the space the viewport leaves once the progress line, any
feedback, the question and the answer buttons are placed, so that all of them are on screen without scrolling
(measured in tests/e2e/test_rater_phone.py at 375x667, 360x640, 390x844, 667x375 and desktop sizes). A pair
sits side by side, except on tall narrow screens (aspect ratio at most 3:4), where it is stacked and the buttons
say "Top" and "Bottom". Touch screens are told to tap; screens with a fine pointer also see the F / J keys.

Pacing on the client: an answer counts only once every photo of the trial has been on screen for the study's
minimum time (``min_ms`` in the hidden ``study-timing`` JSON), counted from when the photo finished loading;
until then the answer buttons are marked ``aria-disabled``. One answer per trial: after an answer the buttons
stay locked until the next trial (or a new server response for the same trial) arrives, so a held key or a
double tap gives one answer. The server enforces its own minimum (ui.rater_app, eval_studies.vote_writer).
"""

from __future__ import annotations

# Pairs are stacked (top / bottom) on screens at most 3 wide for 4 tall; the script and the style share this.
STACKED_QUERY = "(max-aspect-ratio: 3/4)"
# A touch screen without a mouse: "tap", and no key hints.
TOUCH_QUERY = "(hover: none) and (pointer: coarse)"

PROMPTS = {
    "pairwise": "## Which photo looks more real?",
    "real_fake": "## Is this photo real or fake?",
}

# The answer buttons: one label per task and arrangement; the style shows the one that applies (hidden ones are
# display:none, so they are not part of the button's accessible name either).
ANSWER_HTML = """
<div id="study-answers" role="group" aria-label="Your answer">
  <button type="button" id="study-left" class="study-answer" aria-disabled="true">
    <span class="for-pair when-side">&#9664; Left</span><span class="for-pair when-stacked">&#9650; Top</span>
    <span class="for-single">Real</span> <kbd class="key" aria-hidden="true">F</kbd>
  </button>
  <button type="button" id="study-right" class="study-answer" aria-disabled="true">
    <span class="for-pair when-side">Right &#9654;</span><span class="for-pair when-stacked">&#9660; Bottom</span>
    <span class="for-single">Fake</span> <kbd class="key" aria-hidden="true">J</kbd>
  </button>
</div>
"""

HOW_TO_ANSWER_HTML = """
<div id="study-how">
  <p class="on-touch"><b>How to answer:</b> tap the buttons under the photos.</p>
  <p class="on-keys"><b>How to answer:</b> click the buttons under the photos, or use the keyboard:
  <kbd>F</kbd> for left (or top) and real, <kbd>J</kbd> for right (or bottom) and fake.</p>
</div>
"""

# Screen readers hear each new trial, its feedback and the end of the study from here (the script fills it).
ANNOUNCER_HTML = '<div id="study-announce" class="study-sr-only" aria-live="polite" aria-atomic="true"></div>'

# Shown on the completion page when it holds a completion code (<code id="study-code">).
COPY_HTML = """
<div id="study-copy-wrap">
  <button type="button" id="study-copy" class="study-action">Copy the code</button>
  <span id="study-copy-status" role="status"></span>
</div>
"""


def progress_html(exposure_ms: int, trial, trials) -> str:
    """The progress line of `trial` (a practice count, or a bar and "Trial k of n" for counted trials),
    with the exposure time (ms, 0 = no limit) the page's script reads when study-timing does not give it."""
    tag = f'<span id="study-exposure" data-ms="{exposure_ms}"></span>'
    if trial.kind == "practice":
        practice = [t for t in trials if t.kind == "practice"]
        k = practice.index(trial) + 1
        return f"{tag}<p><b>Practice {k} of {len(practice)}</b> (not scored; you will see if you were right)</p>"
    counted = [t for t in trials if t.kind != "practice"]
    k = counted.index(trial) + 1
    pct = round(100 * (k - 1) / len(counted))
    return (f'{tag}<div class="study-progress-line"><div class="study-bar" role="progressbar" '
            f'aria-label="Study progress" aria-valuemin="0" aria-valuenow="{k - 1}" '
            f'aria-valuemax="{len(counted)}"><div style="width:{pct}%"></div></div>'
            f"<p>Trial {k} of {len(counted)}</p></div>")


RATER_CSS = """
.gradio-container { --text-xxs: 16px; --text-xs: 16px; --text-sm: 16px; --text-md: 16px; --text-lg: 18px;
  --block-label-text-size: 16px; --block-info-text-size: 16px; --prose-text-size: 16px;
  --section-header-text-size: 16px;
  --button-primary-background-fill: #1d4ed8; --button-primary-background-fill-hover: #1e40af;
  --button-primary-text-color: #ffffff; --button-primary-border-color: #1d4ed8;
  --button-primary-border-color-hover: #1e40af; --button-primary-text-color-hover: #ffffff;
  font-size: 16px; }
footer { display: none !important; }
/* the Gradio buttons the page forwards answers to, after its pacing gate: never shown, never tapped directly */
#study-vote-left, #study-vote-right { display: none !important; }
button { min-height: 48px; }  /* every tap target at least 44 px */
#study-title h1 { font-size: 1.5rem; margin: 0; }
.study-sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
kbd { font-family: inherit; font-size: 0.9em; padding: 0 0.35em; border: 1px solid currentColor; border-radius: 4px; }
.study-progress-line { display: flex; align-items: center; gap: 12px; }
.study-progress-line p { margin: 0; white-space: nowrap; }
.study-bar { flex: 1; height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden; }
.study-bar > div { height: 100%; background: #1d4ed8; }
#study-progress p, #study-feedback p, #study-prompt h2 { margin: 0; }
#study-prompt h2 { font-size: 1.125rem; }
/* the photos: square boxes of --stim pixels (set by the page script), side by side or stacked */
#study-stimuli { --stim: min(40vh, 44vw); flex-wrap: nowrap; justify-content: center; gap: 8px; }
#study-stimuli > * { flex: 0 0 var(--stim) !important; width: var(--stim) !important; min-width: 0 !important;
  height: var(--stim) !important; }
#study-stimuli .image-container, #study-stimuli button, #study-stimuli .image-frame { width: 100%; height: 100%; }
#study-stimuli img { width: 100%; height: 100%; object-fit: contain; }
#study-stimuli button { cursor: default; }
/* Gradio scopes these rules to its app, so the task is read from the trial panel (data-task, set by the script) */
#study-trial:not([data-task="pairwise"]) .for-pair, #study-trial[data-task="pairwise"] .for-single { display: none; }
.when-stacked { display: none; }
@media STACKED { #study-trial[data-task="pairwise"] #study-stimuli { flex-direction: column; align-items: center; }
  .for-pair.when-side { display: none; } #study-trial[data-task="pairwise"] .for-pair.when-stacked { display: inline; } }
.on-touch { display: none; }
@media TOUCH { .on-touch { display: block; } .on-keys, .key { display: none; } }
#study-answers { display: flex; gap: 12px; }
.study-answer, .study-action { flex: 1 1 0; min-height: 48px; min-width: 44px; padding: 8px 12px; border-radius: 8px;
  font: inherit; font-size: 18px; font-weight: 600; background: #1d4ed8; color: #ffffff; border: 2px solid #1d4ed8;
  line-height: 1.25; touch-action: manipulation; cursor: pointer; transition: none; }
.study-action { flex: none; font-size: 16px; }
.study-answer * { color: inherit !important; }
/* Gradio fades an HTML block to 20% while an event is pending; the answer buttons stay readable */
.html-container:has(#study-answers) { opacity: 1 !important; }
.study-answer:hover { background: #1e40af; }
.study-answer[aria-disabled="true"] { background: #e2e8f0; color: #334155; border-color: #94a3b8; cursor: wait; }
button:focus-visible, a:focus-visible, textarea:focus-visible, input:focus-visible, summary:focus-visible,
.study-answer:focus-visible { outline: 3px solid #b45309 !important; outline-offset: 2px; box-shadow: 0 0 0 2px #ffffff; }
body:not(:has(#study-code)) #study-copy-wrap { display: none; }
#study-copy-status { margin-left: 12px; }
@media (max-width: 700px), (max-height: 500px) { #study-title h1 { font-size: 1.125rem; } }
""".replace("STACKED", STACKED_QUERY).replace("TOUCH", TOUCH_QUERY)

# Rules for what lies outside the app's own elements (Gradio scopes the `css` of launch() to them): the page's
# margins on small screens, and the title on short ones (landscape phones), where every pixel goes to the photos.
PAGE_CSS = """
<style>
@media (max-width: 700px), (max-height: 500px) {
  .gradio-container > .main.fillable { padding: 4px 8px !important; }
  .gradio-container { --layout-gap: 8px; --block-padding: 4px 6px; }
}
@media (max-height: 500px) { #study-title { position: absolute !important; width: 1px; height: 1px;
  overflow: hidden !important; clip: rect(0 0 0 0); white-space: nowrap; padding: 0 !important; border: 0; } }
</style>
"""

RATER_JS = """
<script>
(() => {
  const STACKED = matchMedia('__STACKED__'), TOUCH = matchMedia('__TOUCH__');
  const $ = (id) => document.getElementById(id);
  const val = (id) => { const e = document.querySelector(`#${id} textarea, #${id} input`); return e ? e.value : ''; };
  const onScreen = (el) => !!el && el.offsetParent !== null;
  const text = (id) => { const e = $(id); return onScreen(e) ? e.innerText.replace(/\\s+/g, ' ').trim() : ''; };
  const timing = () => {
    let t = {};
    try { t = JSON.parse(val('study-timing') || '{}') || {}; } catch (e) { t = {}; }
    if (t.exposure_ms === undefined) { const ex = $('study-exposure'); t.exposure_ms = ex ? +ex.dataset.ms || 0 : 0; }
    return t;
  };
  const stimuli = () => [...document.querySelectorAll('#study-stimuli img')].filter(onScreen);
  const loadedAt = new WeakMap();  // stimulus <img> -> {src, t}: when its current picture finished loading

  // 1. photos: note when each finished loading; a timed exposure hides it again after exposure_ms
  document.addEventListener('load', (e) => {
    const img = e.target;
    if (!(img instanceof HTMLImageElement) || !img.closest('#study-stimuli')) return;
    loadedAt.set(img, {src: img.src, t: performance.now()});
    img.style.visibility = 'visible';
    const ms = +timing().exposure_ms || 0;
    if (ms > 0) {
      const src = img.src;
      setTimeout(() => { if (img.src === src) img.style.visibility = 'hidden'; }, ms);
    }
  }, true);

  // 2. the trial on screen: one answer per trial, not before every photo was shown for min_ms
  let trial = null, seq = null, trialStart = 0, answeredAt = null, said = '';
  const task = () => { const l = val('study-layout'); return l.startsWith('trial:') ? l.slice(6) : ''; };
  const readyAt = () => {  // performance.now() from which an answer counts, or null while a photo is missing
    const t = timing(), imgs = stimuli(), want = task() === 'pairwise' ? 2 : 1;
    let last = trialStart;
    if (t.spent) return last;  // a timed exposure already shown before a reload: nothing to wait for
    if (imgs.length !== want) return null;
    for (const img of imgs) {
      const l = loadedAt.get(img);
      if (!l || l.src !== img.src || !img.complete || !img.naturalWidth) return null;
      last = Math.max(last, l.t);
    }
    return last + (+t.min_ms || 0);
  };
  const canAnswer = () => {
    const r = readyAt();
    return task() !== '' && answeredAt === null && r !== null && performance.now() >= r;
  };
  const answer = (side) => {
    if (!canAnswer()) return;
    answeredAt = performance.now();
    const hidden = $('study-vote-' + side);
    if (hidden) hidden.click();
  };
  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('.study-answer');
    if (b) { e.preventDefault(); answer(b.id === 'study-left' ? 'left' : 'right'); }
  });
  document.addEventListener('keydown', (e) => {
    if (e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    const k = e.key.toLowerCase();
    const side = k === 'f' ? 'left' : k === 'j' ? 'right' : null;
    if (!side || !onScreen($('study-answers'))) return;
    e.preventDefault();
    answer(side);
  });

  // 3. photo size: as large as fits between the question and the answer buttons, without scrolling
  const fit = () => {
    const box = $('study-stimuli'), btns = $('study-answers');
    if (!onScreen(box) || !onScreen(btns)) return;
    const pair = task() === 'pairwise', stacked = pair && STACKED.matches;
    const r = box.getBoundingClientRect(), gap = 8;
    const chrome = r.top + window.scrollY + (btns.getBoundingClientRect().bottom - r.bottom) + 8;
    const high = window.innerHeight - chrome, wide = box.clientWidth;
    let side = stacked ? Math.min((high - gap) / 2, wide) : Math.min(high, pair ? (wide - gap) / 2 : wide);
    const natural = Math.max(0, ...stimuli().map((i) => i.naturalWidth || 0));
    side = Math.floor(Math.max(96, Math.min(side, Math.max(320, natural))));
    if (box.style.getPropertyValue('--stim') !== side + 'px') box.style.setProperty('--stim', side + 'px');
  };

  // 4. what the browser tells the study about the session (device, screen, reloads, time hidden)
  const key = 'study-session-' + location.pathname;
  const store = JSON.parse(sessionStorage.getItem(key) || '{"reloads": -1, "hidden_ms": 0}');
  store.reloads += 1;  // -1 on the first load of this tab
  let hiddenSince = document.hidden ? performance.now() : null;
  const save = () => sessionStorage.setItem(key, JSON.stringify(store));
  save();
  const report = () => {
    const box = document.querySelector('#study-client textarea, #study-client input');
    if (!box || !val('study-layout')) return;
    const touch = navigator.maxTouchPoints > 0 || TOUCH.matches, small = Math.min(screen.width, screen.height);
    const hidden = store.hidden_ms + (hiddenSince === null ? 0 : performance.now() - hiddenSince);
    const payload = JSON.stringify({device: !touch ? 'desktop' : small < 600 ? 'phone' : 'tablet',
      screen: `${screen.width}x${screen.height}`, viewport: `${innerWidth}x${innerHeight}`, touch,
      reloads: store.reloads, hidden_ms: Math.round(hidden)});
    if (box.value === payload) return;
    box.value = payload;
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) { hiddenSince = performance.now(); report(); }
    else if (hiddenSince !== null) { store.hidden_ms += performance.now() - hiddenSince; hiddenSince = null; save(); report(); }
  });
  window.addEventListener('pagehide', report);

  // 5. every 50 ms: a new trial scrolls to the top and is announced; buttons show whether an answer counts
  let reported = false;
  setInterval(() => {
    const tk = task(), panel = $('study-trial');
    if (panel && (panel.dataset.task || '') !== tk) panel.dataset.task = tk;
    const idx = val('study-shown'), s = timing().seq;
    if (idx !== trial || (s !== undefined && s !== seq)) {
      if (idx !== trial && idx !== '') window.scrollTo(0, 0);
      trial = idx; seq = s; trialStart = performance.now(); answeredAt = null;
    } else if (answeredAt !== null && s === undefined && performance.now() - answeredAt > 2000) {
      answeredAt = null;  // no reply that moved on (a refused answer): the same trial may be answered again
    }
    const ok = String(!canAnswer());
    for (const b of document.querySelectorAll('.study-answer')) if (b.getAttribute('aria-disabled') !== ok) b.setAttribute('aria-disabled', ok);
    fit();
    // Gradio wraps each photo in a button with no name: name it, and keep it out of the tab order
    const names = tk !== 'pairwise' ? ['Photo', 'Photo'] : STACKED.matches ? ['Top photo', 'Bottom photo']
      : ['Left photo', 'Right photo'];
    ['study-img-left', 'study-img-right'].forEach((id, k) => {
      for (const b of document.querySelectorAll(`#${id} button`)) {
        if (b.getAttribute('aria-label') !== names[k]) b.setAttribute('aria-label', names[k]);
        if (b.tabIndex !== -1) b.tabIndex = -1;
      }
    });
    const lay = val('study-layout');
    const msg = tk ? [text('study-feedback'), text('study-progress'), text('study-prompt')].filter(Boolean).join(' ')
      : text({done: 'study-done', break: 'study-break', error: 'study-error'}[lay] || '');
    if (msg && msg !== said) { said = msg; const a = $('study-announce'); if (a) a.textContent = msg; }
    if (!reported && lay) { reported = true; report(); }
  }, 50);

  // 6. the completion page: copy the code; follow the redirect after a few seconds
  document.addEventListener('click', async (e) => {
    if (!(e.target.closest && e.target.closest('#study-copy'))) return;
    const code = $('study-code'), status = $('study-copy-status');
    if (!code) return;
    let ok = false;
    try { await navigator.clipboard.writeText(code.innerText.trim()); ok = true; } catch (err) {
      const range = document.createRange(); range.selectNodeContents(code);
      const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
      try { ok = document.execCommand('copy'); } catch (err2) { ok = false; }
    }
    if (status) status.textContent = ok ? 'Copied.' : 'Select the code and copy it by hand.';
  });
  let redirecting = false;
  setInterval(() => {
    const a = $('study-redirect');
    if (a && !redirecting && a.href) { redirecting = true; setTimeout(() => { window.location.href = a.href; }, 4000); }
  }, 500);
})();
</script>
""".replace("__STACKED__", STACKED_QUERY).replace("__TOUCH__", TOUCH_QUERY)

RATER_HEAD = PAGE_CSS + RATER_JS  # the head of the rater page (launch(head=...))
