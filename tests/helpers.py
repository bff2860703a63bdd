"""Small helpers shared by the UI and browser tests."""

from __future__ import annotations

from contextlib import contextmanager


def fill_number(page, elem_id: str, value, key: str = "Enter") -> None:
    """Type into a gradio number (or a slider's number box) and commit it with ``key``
    ("Tab" leaves the box: a slider's release)."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press(key)


@contextmanager
def tab_client(build):
    """Launch a Blocks holding what ``build()`` adds, yield a gradio_client Client on it, close it after."""
    import gradio as gr
    from gradio_client import Client

    with gr.Blocks() as demo:
        build()
    demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()
