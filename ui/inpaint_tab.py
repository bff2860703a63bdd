"""Hole filling tab: paint a hole (or generate one), see every method that can fill it, with PSNR against the
original. The tab opens on its first example with a generated hole, already filled.

A thin layer over synth.inpaint (the methods; synth.inpaint.display: which methods run on a hole, the
comparison, the photo's size limit) and synth.inpaint.masks (the mask generators); ui.editor reads the editor
and the uploads. Named endpoint ``/inpaint(image, mask, method)``: mask white = hole, alpha 0 = not hole.
Every image leaves as lossless PNG.
"""

from __future__ import annotations

from functools import lru_cache

import gradio as gr

from synth.inpaint import REGISTRY, display, get_inpainter, masks
from ui.editor import as_user_errors, hole_editor, read_editor, read_photo_and_mask, refuse, show, take_upload

METHODS = list(REGISTRY)
EXAMPLES = display.example_photos()
FIRST_EXAMPLE, FIRST_KIND, FIRST_SEED = sorted(EXAMPLES)[0], "central", 0   # what the tab opens on

# "Fill" right after "Make a hole" (or picking an example, or an upload): the click's editor value is read
# when it is clicked, maybe before the page has the new photo. So the Fill button is disabled while an update
# of the editor is on its way (at most 30 s), and a fill clicked before that still waits until every update
# has come back; ui.editor.read_editor reads such a value as what the page shows since.
MARK_BUSY_JS = """(...args) => { const w = window; w.holeEditorPending = (w.holeEditorPending || 0) + 1;
  const b = document.querySelector('#inpaint-run'); if (b) { b.disabled = true; }
  clearTimeout(w.holeEditorTimer); w.holeEditorTimer = setTimeout(() => { if (b) { b.disabled = false; } }, 30000);
  if (!w.holeEditorIdle) { w.holeEditorIdle = new Promise(r => { w.holeEditorResolve = r; }); } return args; }"""
MARK_DONE_JS = """(...args) => { const w = window; w.holeEditorPending = Math.max(0, (w.holeEditorPending || 1) - 1);
  if (!w.holeEditorPending) { const b = document.querySelector('#inpaint-run'); if (b) { b.disabled = false; }
    if (w.holeEditorResolve) { w.holeEditorResolve(); w.holeEditorIdle = null; } }
  return args; }"""
WAIT_JS = """async (...args) => {
  await Promise.race([window.holeEditorIdle, new Promise(r => setTimeout(r, 30000))]); return args; }"""


def fill_all(value, shown=None, progress=gr.Progress()):
    """Every method that can fill the hole on it -> (gallery of (image, caption), nearest-neighbour candidates,
    note, completions, picked completion)."""
    image, mask = read_editor(value, shown)
    if not mask.any():
        raise refuse("Paint a hole first (or press 'Make a hole'): the mask is empty.")
    if mask.all():
        raise refuse("The hole covers the whole photo: leave some of it to fill the hole from.")
    with as_user_errors():
        c = display.compare_methods(image, mask, progress)
    return c.gallery, c.candidates, c.note, c.completions, None


def pick_candidate(completions: list, evt: gr.SelectData):
    """A click on a candidate (or on the scene it was cut from) shows that completion large."""
    if not completions:
        raise refuse("Fill a hole first.")
    return completions[min(evt.index // 2, len(completions) - 1)]


def make_hole(value, kind: str, seed, shown=None):
    """The editor's photo with a generated hole (synth.inpaint.masks) drawn on it -> (editor value, Shown)."""
    if kind not in masks.MASK_KINDS:
        raise refuse(f"Unknown mask generator {kind!r}; pick one of {', '.join(masks.MASK_KINDS)}.")
    if seed is None or not float(seed).is_integer() or seed < 0:
        raise refuse(f"The seed must be a whole number, 0 or more; got {seed!r}.")
    image, _ = read_editor(value, shown)
    h, w = image.shape[:2]
    return show(image, masks.make_mask(kind, h, w, int(seed)), replaced=value["background"], before=shown)


def remove_hole(value, shown=None):
    """The editor's photo without a hole (the eraser removes painted strokes, not a generated hole)."""
    image, _ = read_editor(value, shown)
    return show(image, replaced=value["background"], before=shown)


def load_example(name: str, shown=None):
    """An example photo, without a hole -> (editor value, Shown, photo note)."""
    if name not in EXAMPLES:
        raise refuse(f"Unknown example {name!r}; pick one of {sorted(EXAMPLES)}.")
    return *show(EXAMPLES[name], before=shown), ""


@lru_cache(maxsize=1)
def _first_comparison():
    image = EXAMPLES[FIRST_EXAMPLE]
    mask = masks.make_mask(FIRST_KIND, *image.shape[:2], FIRST_SEED)
    return image, mask, display.compare_methods(image, mask)


def first_look():
    """What the tab opens on (computed once): the first example with the default generated hole, filled ->
    (editor value, Shown, photo note, gallery, candidates, note, completions, picked completion)."""
    image, mask, c = _first_comparison()
    return *show(image, mask), "", c.gallery, c.candidates, c.note, c.completions, None


def inpaint(image, mask, method: str):
    """The API: ``image`` any photo (grey, RGB, RGBA, 16-bit grey, CMYK...), ``mask`` an image the photo's
    size, white = hole (any colour channel over 127); a mask with alpha is read as laid over black: alpha 0
    means "not painted", so a fully transparent pixel is never hole, whatever its colour. ``method`` a name of
    REGISTRY -> the filled image. What the method cannot fill is refused, as in the tab's gallery
    (``display.plan_methods``): a photo over its ``max_side``, a central-hole model on any other hole."""
    if method not in REGISTRY:
        raise refuse(f"Unknown method {method!r}; available: {', '.join(METHODS)}.")
    img, m = read_photo_and_mask(image, mask)
    with as_user_errors():
        why = display.plan_methods(m).left_out.get(method) if m.any() else None
        if why:
            raise ValueError(why if why.startswith(method) else f"{method}: {why}")
        return get_inpainter(method).fill(img, m)


# ---------------------------------------------------------------------------------------------- layout

def build_tab() -> None:
    gr.Markdown(
        "### Filling a hole\n"
        "Many things may plausibly fit the hole, and at most one is the ground truth. Paint a hole on a photo "
        "(or generate one), then fill it with every method and compare. The example photos were never seen in "
        f"training. Photos larger than {display.UPLOAD_LIMIT} px on the long side are scaled down when "
        "uploaded. A method that cannot fill a hole or a photo is left out, with why, under the results.")
    shown = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            editor = hole_editor("inpaint-editor")
            photo_note = gr.Markdown(elem_id="inpaint-photo-note")
        with gr.Column(scale=2):
            example = gr.Dropdown(sorted(EXAMPLES), label="Example photo (held out)", value=FIRST_EXAMPLE,
                                  elem_id="inpaint-example")
            with gr.Row():
                kind = gr.Radio(list(masks.MASK_KINDS), value=FIRST_KIND, label="Mask generator",
                                elem_id="inpaint-kind")
                seed = gr.Number(value=FIRST_SEED, precision=0, label="Seed", minimum=0, elem_id="inpaint-seed")
            with gr.Row():
                make = gr.Button("Make a hole", elem_id="inpaint-make")
                remove = gr.Button("Remove the hole", elem_id="inpaint-remove")
                run = gr.Button("Fill with every method", variant="primary", elem_id="inpaint-run")
            with gr.Accordion("The methods", open=True):
                gr.Markdown(display.methods_markdown(), elem_id="inpaint-methods")
    note = gr.Markdown(elem_id="inpaint-note")
    # height "max-content": every row shown (gradio's "auto" caps a gallery at 55% of the window, scrolling)
    gallery = gr.Gallery(label="Every method that can fill this hole (PSNR in the hole against the original)",
                         columns=3, format="png", height="max-content", elem_id="inpaint-gallery",
                         elem_classes=["hole-gallery"])
    cands = gr.Gallery(label="Nearest-neighbour candidates: completion (PSNR) and the scene it was cut from "
                       "(click one to pick it)", columns=4, format="png", height="max-content",
                       elem_id="inpaint-candidates", elem_classes=["hole-gallery"])
    chosen = gr.Image(label="Picked nearest-neighbour completion", type="numpy", format="png",
                      interactive=False, elem_id="inpaint-chosen")
    completions = gr.State([])
    with gr.Accordion("One method at a time (the /inpaint API)", open=False):
        with gr.Row():
            # files, not gr.Image: an unreadable upload then gets our message, not a preprocessing failure
            api_image = gr.File(label="Photo", file_types=["image"], type="filepath")
            api_mask = gr.File(label="Mask (white = hole; transparent = not hole)", file_types=["image"],
                               type="filepath")
            api_out = gr.Image(label="Filled", type="numpy", format="png", interactive=False)
        # a name outside the list reaches inpaint(), which refuses it with one log line (not the dropdown's traceback)
        api_method = gr.Dropdown(METHODS, value=METHODS[0], label="Method", allow_custom_value=True)
        api_run = gr.Button("Fill")

    results = [gallery, cands, note, completions, chosen]
    gr.on(None, first_look, None, [editor, shown, photo_note, *results], api_visibility="private")
    for trigger, fn, inputs, outputs in [
            (example.change, load_example, [example, shown], [editor, shown, photo_note]),
            (editor.upload, take_upload, [editor, shown], [editor, shown, photo_note]),
            (make.click, make_hole, [editor, kind, seed, shown], [editor, shown]),
            (remove.click, remove_hole, [editor, shown], [editor, shown])]:
        trigger(None, None, None, js=MARK_BUSY_JS)
        # "minimal": no overlay on the editor while it runs, which would take the strokes painted meanwhile
        trigger(fn, inputs, outputs, show_progress="minimal", api_visibility="private").then(
            None, None, None, js=MARK_DONE_JS)
    run.click(fill_all, [editor, shown], results, js=WAIT_JS, api_visibility="private")
    cands.select(pick_candidate, completions, chosen, api_visibility="private")
    api_run.click(inpaint, [api_image, api_mask, api_method], api_out, api_name="inpaint")
