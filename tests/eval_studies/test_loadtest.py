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
