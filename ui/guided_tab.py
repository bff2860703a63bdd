"""Guided inpainting tab (Zhao et al., WACV 2019): fill a hole with content pulled from a second image.

A thin layer over synth.guided (the model, the bundled examples, and synth.guided.display: the result beside
what the spatial transformer sampled (the aligned guidance patch, and where it looked in the guidance), the
attention map over the hole, and the Context Encoder's result); ui.editor reads the editor and the mask.
Named endpoints ``/guided_inpaint(image, mask, guidance)`` -> (result, aligned guidance, attention map) and
``/retrieve_guidance(image, mask, setting, k)`` -> the top-k guidance images from the training photos
(synth.guided.retrieval), best first; mask white = hole. Every image leaves as lossless PNG. The tab opens on
its first bundled example, already filled; "Use the photo itself as guidance" copies the editor's photo into
the guidance.
"""

from __future__ import annotations

from functools import lru_cache

import gradio as gr

from synth.guided import display, examples, retrieval
from ui.editor import as_user_errors, hole_editor, read_editor, read_photo_and_mask, refuse, show, take_upload

FIRST_EXAMPLE = examples.NAMES[0]   # what the tab opens on, filled


def check_inputs(mask, guidance) -> None:
    if guidance is None:
        raise refuse("No guidance image: upload or pick the photo to pull the hole's content from.")
    if not mask.any():
        raise refuse("The mask is empty: paint the hole first (in a mask image, white = hole).")


def fill(value, guidance, shown=None):
    """Editor (+ the session's ui.editor.Shown) + guidance -> (result, aligned patch, attention, guidance with
    the sampled region, Context Encoder's result, note)."""
    image, mask = read_editor(value, shown)
    check_inputs(mask, guidance)
    with as_user_errors():
        c = display.compare_with_context_encoder(image, mask, guidance)
    return c.result, c.aligned, c.attention, c.where, c.context_encoder, c.note


def guided_inpaint(image, mask, guidance):
    """The API: image (RGB/RGBA/grey photo), mask (white = hole, same size; alpha 0 = not hole), guidance (a
    colour photo of any size) -> (result, aligned guidance patch, attention map over the hole)."""
    img, m = read_photo_and_mask(image, mask)
    if m.all():
        raise refuse("The hole covers the whole image: leave some of it to fill the hole from.")
    check_inputs(m, guidance)
    with as_user_errors():
        return display.guided_fill(img, m, guidance)


SETTING_LABELS = {f"({k}) {v.split(' (')[0]}": k for k, v in retrieval.SETTINGS.items()}


def _setting(label: str) -> str:
    return SETTING_LABELS.get(label, label)


def _gallery(matches) -> list[tuple]:
    return [(m.image, f"#{m.rank} {m.photo_id} (distance {m.distance:.2f})") for m in matches]


def _k(k):
    """A number from a slider or the API: whole numbers as int (retrieval checks the range)."""
    try:
        f = float(k)
    except (TypeError, ValueError):
        raise refuse(f"k must be a whole number from 1 to {retrieval.MAX_K}, got {k!r}.")
    return int(f) if f.is_integer() else f


def find_guidance(value, setting: str, k: float, shown=None):
    """The editor's photo and hole -> (gallery of the top-k retrieved guidance images, their images, note)."""
    image, mask = read_editor(value, shown)
    if not mask.any():
        raise refuse("The mask is empty: paint the hole first, then find guidance for it.")
    with as_user_errors():
        matches = retrieval.retrieve(image, mask, _setting(setting), _k(k))
    note = (f"Top {len(matches)} of the training photos for setting {_setting(setting)} "
            f"({retrieval.SETTINGS[_setting(setting)]}). Click one to use it as the guidance.")
    return _gallery(matches), [m.image for m in matches], note


def pick_guidance(images: list, evt: gr.SelectData):
    if not images:
        raise refuse("Find guidance first.")
    return images[min(evt.index, len(images) - 1)]


def retrieve_guidance(image, mask, setting: str, k: float):
    """The API: image, mask (white = hole), setting ("a" = whole image, "b" = the hole's surroundings), k
    (1-20) -> the top-k guidance images from the training photos, best first, with rank, photo and distance."""
    img, m = read_photo_and_mask(image, mask)
    if not m.any():
        raise refuse("The mask is empty: paint the hole first (in a mask image, white = hole).")
    with as_user_errors():
        return _gallery(retrieval.retrieve(img, m, _setting(setting), _k(k)))


def load_example(name: str, shown=None):
    """A bundled example -> (editor value with its hole, ui.editor.Shown, guidance, note)."""
    if name not in examples.NAMES:
        raise refuse(f"Unknown example {name!r}; pick one of {sorted(examples.NAMES)}.")
    ex = examples.example(name)
    return *show(ex.image, ex.mask, before=shown), ex.guidance, ex.note


def photo_as_guidance(value, shown=None):
    """The editor's photo, as it was before the hole was painted -> (guidance, note): the simplest guidance."""
    image, _ = read_editor(value, shown)
    return image, ("The guidance is now the photo itself (before the hole was painted). Fill the hole: "
                   "registration finds the photo in itself, and the hole gets its own pixels back.")


@lru_cache(maxsize=1)
def _first_comparison():
    ex = examples.example(FIRST_EXAMPLE)
    return ex, display.compare_with_context_encoder(ex.image, ex.mask, ex.guidance)


def first_look():
    """What the tab opens on (computed once): the first bundled example, filled -> (editor value, Shown,
    guidance, result, aligned patch, attention, where it looked, Context Encoder's result, note)."""
    ex, c = _first_comparison()
    return (*show(ex.image, ex.mask), ex.guidance, c.result, c.aligned, c.attention, c.where, c.context_encoder,
            c.note)


def lighting():
    """The bundled limitation demo: one original, the same guidance under four lightings, four syntheses."""
    with as_user_errors():
        return display.lighting()


# ---------------------------------------------------------------------------------------------- layout

def build_tab() -> None:
    gr.Markdown(
        "### Guided inpainting: replace a region with content pulled from another image\n"
        "The Context Encoder decides alone what goes into the hole. Guided inpainting (Zhao et al., WACV 2019) "
        "takes a **guidance image** from you and works in four steps: **localisation** (a spatial transformer "
        "finds the matching region in the guidance and samples it aligned with the hole), **fusion** (features "
        "of that aligned patch are fused with features of the incomplete image and its hole mask), "
        "**attention** (a branch marks where the patch does not fit the surroundings, so the network "
        "synthesises there instead of copying) and **decoding**. It was trained self-supervised: a patch of "
        "the photo, corrupted (colour, blur, noise, warp), pasted at a random place, size and angle into an "
        "unrelated photo. The example photos were never seen in training. The model works at 64x64 (trained "
        "10 minutes on a GPU, then an hour on a CPU): the hole's surroundings are scaled down to it and back. "
        "The transformer refines its first estimate (yellow) by comparing the hole's surroundings with what it "
        "sampled (green: the final estimate). **Beyond the paper:** before the model runs, the guidance is "
        "registered to the photo with local image features (SIFT, RANSAC) found outside the hole; when that "
        "succeeds (a second photo of the same scene, or the photo itself), the hole takes the registered "
        "guidance's own pixels at full resolution, exposure-matched and Poisson-blended, and the model fills "
        "only what the guidance does not show. The note under the results says which happened.")
    with gr.Row():
        with gr.Column(scale=1):
            editor = hole_editor("guided-editor")
            shown = gr.State(None)
            guidance = gr.Image(label="Guidance image (a colour photo holding what belongs in the hole)",
                                type="numpy", format="png", image_mode="RGB", sources=["upload", "clipboard"],
                                elem_id="guided-guidance")
            example = gr.Dropdown(examples.NAMES, label="Bundled example (photo, hole and guidance)",
                                  value=FIRST_EXAMPLE, elem_id="guided-example")
            itself = gr.Button("Use the photo itself as guidance", size="sm", elem_id="guided-itself")
            with gr.Accordion("Find guidance for me (retrieval from the training photos)", open=False):
                with gr.Row():
                    setting = gr.Radio(list(SETTING_LABELS), value=next(iter(SETTING_LABELS)),
                                       label="Retrieval setting", elem_id="guided-setting")
                    k = gr.Slider(1, retrieval.MAX_K, value=6, step=1, label="How many (k)", elem_id="guided-k")
                find = gr.Button("Find guidance for me", elem_id="guided-find")
                found = gr.Gallery(label="Retrieved guidance, best first (click one to use it)", columns=3,
                                   format="png", height="auto", elem_id="guided-found")
                found_images = gr.State([])
            run = gr.Button("Fill the hole from the guidance", variant="primary", elem_id="guided-run")
        with gr.Column(scale=2):
            note = gr.Markdown(elem_id="guided-note")
            with gr.Row():
                result = gr.Image(label="Guided inpainting result", format="png", interactive=False,
                                  elem_id="guided-result")
                ce = gr.Image(label="Context Encoder (L2+adv), for comparison", format="png", interactive=False,
                              elem_id="guided-ce")
            with gr.Row():
                aligned = gr.Image(label="Aligned guidance patch (what the transformer sampled, or the registered "
                                         "guidance, on the hole's surroundings)", format="png", interactive=False,
                                   elem_id="guided-aligned")
                attention = gr.Image(label="Attention over the hole (bright = synthesise, dark = copy)",
                                     format="png", interactive=False, elem_id="guided-attention")
                where = gr.Image(label="Where the transformer looked in the guidance (green; yellow: its first "
                                       "estimate, before the refinement passes)", format="png",
                                 interactive=False, elem_id="guided-where")
    with gr.Accordion("Limitation: lighting (the same guidance under four lightings)", open=False):
        gr.Markdown("One original, one guidance photo relit four ways (gain, gamma, colour casts). The network "
                    "copies the patch's colours along with its content: it does not account for lighting, so "
                    "the fill follows the guidance's lighting, not the photo's. Beside each result: the same "
                    "result harmonized by DH's network (Tsai et al. 2017), which corrects colour and exposure "
                    "towards the surroundings. (The paper's method alone here; the tab's fill above also matches "
                    "the exposure of a registered guidance and Poisson-blends every fill into the hole's border.)")
        light_run = gr.Button("Run the lighting demo", elem_id="guided-lighting-run")
        with gr.Row():
            light_orig = gr.Image(label="Original with its hole", format="png", interactive=False, scale=1)
            light_guides = gr.Gallery(label="Four guidance images", columns=4, format="png", height="auto",
                                      scale=4, elem_id="guided-lighting-guides")
        light_results = gr.Gallery(label="Per lighting: guided inpainting, then guided + DH", columns=4,
                                   format="png", height="auto",
                                   elem_id="guided-lighting-results")
    with gr.Accordion("One call (the /guided_inpaint API)", open=False):
        with gr.Row():
            api_image = gr.Image(label="Photo", type="numpy", format="png", image_mode=None)
            api_mask = gr.Image(label="Mask (white = hole)", type="numpy", format="png", image_mode=None)
            api_guide = gr.Image(label="Guidance", type="numpy", format="png", image_mode=None)
        with gr.Row():
            api_out = gr.Image(label="Result", format="png", interactive=False)
            api_aligned = gr.Image(label="Aligned guidance", format="png", interactive=False)
            api_att = gr.Image(label="Attention map", format="png", interactive=False)
        api_run = gr.Button("Fill")
        with gr.Row():
            api_setting = gr.Textbox(value="a", label="Retrieval setting (a = whole image, b = the hole's "
                                                      "surroundings)")
            api_k = gr.Number(value=5, label="k (1-20)")
        api_find = gr.Button("Retrieve guidance")
        api_found = gr.Gallery(label="Retrieved guidance", columns=5, format="png", height="auto")

    outputs = [result, aligned, attention, where, ce, note]
    gr.on(None, first_look, None, [editor, shown, guidance, *outputs], api_visibility="private")
    example.change(load_example, [example, shown], [editor, shown, guidance, note], show_progress="minimal",
                   api_visibility="private")
    editor.upload(take_upload, [editor, shown], [editor, shown, note], show_progress="minimal",
                  api_visibility="private")
    itself.click(photo_as_guidance, [editor, shown], [guidance, note], api_visibility="private")
    run.click(fill, [editor, guidance, shown], outputs, api_visibility="private")
    find.click(find_guidance, [editor, setting, k, shown], [found, found_images, note], api_visibility="private")
    found.select(pick_guidance, found_images, guidance, api_visibility="private")
    light_run.click(lighting, None, [light_orig, light_guides, light_results], api_visibility="private")
    api_run.click(guided_inpaint, [api_image, api_mask, api_guide], [api_out, api_aligned, api_att],
                  api_name="guided_inpaint")
    api_find.click(retrieve_guidance, [api_image, api_mask, api_setting, api_k], api_found,
                   api_name="retrieve_guidance")
