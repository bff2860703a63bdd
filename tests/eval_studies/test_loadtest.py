"""The load test's own bookkeeping, on a small run with a SIGKILL in the middle (latency is not
asserted here: it is a benchmark number, printed by `python -m eval_studies.loadtest`)."""

import json

import pytest

from eval_studies import loadtest


@pytest.mark.slow
def test_small_run_with_sigkill_loses_nothing(tmp_path):
    out = tmp_path / "r.json"
    loadtest.main(["--raters", "4", "--votes", "8", "--think-ms", "20", "--kill-after", "12",
                   "--json", str(out)])
    r = json.loads(out.read_text())
    assert r["killed_and_restarted"] and not r["errors"]
    assert r["lost"] == 0 and r["duplicated"] == 0 and r["raters_with_gaps"] == 0
    assert r["on_disk"] == 4 * 8  # each rater resumed after the restart and finished its 8 trials
    # a vote written just before the kill may never have been acknowledged: on disk, not asked again
    assert 4 * 8 - 4 <= r["acknowledged"] <= r["on_disk"]


def test_abandon_ends_a_call_whose_answer_never_comes():
    """Pins the gradio_client behaviour loadtest.abandon relies on: a pending call's reader waits on the
    Client's pending messages (pending_lock, pending_messages_per_event), and None there ends it. A server
    killed mid-call sends nothing more; without this, the reader's pool thread would block the exit."""
    import threading
    import time

    import gradio as gr
    from gradio_client import Client

    release = threading.Event()

    def slow(x):
        release.wait(30)
        return x

    with gr.Blocks() as demo:
        box = gr.Textbox()
        box.submit(slow, box, box, api_name="slow")
    demo.launch(prevent_thread_lock=True)
    try:
        client = Client(demo.local_url, verbose=False, download_files=False)
        job = client.submit("x", api_name="/slow")
        deadline = time.time() + 20
        while not client.pending_messages_per_event and time.time() < deadline:
            time.sleep(0.05)
        assert client.pending_messages_per_event, "the call never reached the queue"
        loadtest.abandon(client)
        with pytest.raises(Exception) as err:  # cancelled, not a value, and well before `slow` returns
            job.result(timeout=5)
        assert not isinstance(err.value, TimeoutError)
    finally:
        release.set()
        demo.close()
