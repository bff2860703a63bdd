"""Load test of the real rater app: simulated raters vote through its named endpoints with gradio_client.

    python -m eval_studies.loadtest --raters 50 --votes 40
    python -m eval_studies.loadtest --raters 50 --votes 40 --kill-after 600   # SIGKILL + restart mid-run

It builds a study (or uses --study DIR, copied so the original's log is untouched), starts
``python app.py --study COPY`` on a free loopback port, and runs one thread per rater. Each rater is a
gradio_client.Client of its own (one session, as one browser tab) whose calls carry ``?rater=ID``: it
opens the page (``/open``, the page-load event, which also hands out the rater's vote token), presses Start
(``/start``), and answers its trials (``/vote_left``, ``/vote_right``, each with the token), presses Continue on
the break screen between blocks (``/continue``), and follows each new layout as the browser does (``/layout``).
Endpoints are called by name and outputs read by their components' elem_id (ui.rater_app, RATER_API).
Each rater pauses before every answer as a person would: the study's minimum exposure (the server refuses
faster answers) plus an exponential think time (``--think-ms``, mean 1500 ms).

Latency of a vote: from sending the click to receiving the next trial, i.e. after the vote was
fsynced; it includes gradio_client's own polling (it checks for results every 50 ms). With
--kill-after N the server is killed with SIGKILL once N votes were acknowledged and started again; raters whose requests failed reload the page and go on where the log says they are.
At the end the log is checked against every acknowledged vote: lost (acknowledged, not on disk) and
duplicated (one rater's trial on disk twice) must both be 0.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from gradio_client import Client
from gradio_client.utils import SKIP_COMPONENTS

from eval_studies.study_file import load_study
from eval_studies.vote_writer import LOG_NAME, read_votes

ROOT = Path(__file__).resolve().parent.parent
P95_FLOOR_MS = 150.0
CALL_TIMEOUT_S = 10.0  # a call unanswered this long: the server is gone (a killed server's stream ends silently)


class ServerGone(Exception):
    """The server stopped answering (killed, restarting)."""


class RaterSession:
    """One browser tab: a gradio_client.Client (one session per Client) whose calls carry the link's
    query string, calling the rater app's named endpoints (ui.rater_app's RATER_API) and reading every
    output by its component's elem_id."""

    def __init__(self, base_url: str, query: dict[str, str], timeout: float = CALL_TIMEOUT_S):
        self.timeout = timeout
        try:
            # ssl_verify=False: the server is plain http on loopback, and gradio_client makes a new
            # httpx client per call, which otherwise loads the CA bundle each time (about 27 ms of CPU)
            self.client = Client(base_url, httpx_kwargs={"params": query}, download_files=False,
                                 verbose=False, analytics_enabled=False, ssl_verify=False)
        except (httpx.HTTPError, OSError) as e:
            raise ServerGone(str(e)) from None
        self.received: list[str] = [json.dumps(self.client.config)]  # everything the server sent, for leak checks
        self.outputs = output_names(self.client.config)

    def call(self, api_name: str, *args) -> dict:
        """Run the endpoint ``/api_name``; returns {elem_id: value} of its outputs. Raises ServerGone when
        the server is unreachable, does not answer within the timeout, or the client gave the call up
        (its event stream ended: the server was killed)."""
        job = self.client.submit(*args, api_name=f"/{api_name}")
        try:
            data = job.result(timeout=self.timeout)
        except (httpx.HTTPError, OSError, concurrent.futures.TimeoutError, concurrent.futures.CancelledError) as e:
            raise ServerGone(f"/{api_name}: {type(e).__name__}: {e}") from None
        data = data if isinstance(data, tuple) else (data,)
        self.received.append(json.dumps(data, default=str))
        return dict(zip(self.outputs[api_name], data))

    def close(self) -> None:
        abandon(self.client)


def output_names(config: dict) -> dict[str, list[str | None]]:
    """{api name: the elem_id of each output gradio_client returns} from an app's config (the client
    leaves out layout blocks and session state, gradio_client.utils.SKIP_COMPONENTS)."""
    components = {c["id"]: c for c in config["components"]}

    def returned(cid: int) -> bool:
        c = components[cid]
        return not c.get("skip_api", c["type"] in SKIP_COMPONENTS)

    return {d["api_name"]: [components[i].get("props", {}).get("elem_id") for i in d["outputs"] if returned(i)]
            for d in config["dependencies"] if isinstance(d.get("api_name"), str)}


def abandon(client: Client) -> None:
    """Close a Client whose server may be gone.

    gradio_client 2.7 reads results from one event stream per Client; when the server is killed that
    stream ends silently and a pending call's reader waits for messages forever, in a pool thread that
    the interpreter joins at exit. None in an event's pending messages is the client's own "cancelled"
    signal (gradio_client.utils.stream_sse_v1plus): it ends those readers.
    tests/eval_studies/test_loadtest.py pins this behaviour.
    """
    with client.pending_lock:
        for pending in client.pending_messages_per_event.values():
            pending.append(None)
    client.close()


class SimulatedRater:
    """Opens the link, presses Start, answers at random. Knows only what the page shows."""

    def __init__(self, base_url: str, raw_id: str, rng: np.random.Generator):
        self.raw_id = raw_id
        self.rng = rng
        self.session = RaterSession(base_url, {"rater": raw_id})
        self.shown: str | None = None
        self.layout = ""
        self.token = ""
        self.finished = False
        self.breaks = 0

    def _read(self, page: dict) -> None:
        layout, shown = page["study-layout"], page["study-shown"]
        if layout == "error":
            raise RuntimeError(f"error page: {page['study-error']}")
        self.token = page.get("study-token") or self.token
        if layout != self.layout:
            # the browser's layout.change event: panels, one image or two
            self.session.call("layout", layout)
            self.layout = layout
        self.finished = layout == "done"
        self.shown = str(shown) if layout.startswith("trial:") else None
        if layout == "break":  # between blocks: the rater presses Continue
            self.breaks += 1
            self._read(self.session.call("continue", self.token))

    def open(self) -> None:
        self.layout = ""
        self._read(self.session.call("open", None))
        if self.layout == "consent":
            self._read(self.session.call("start", self.token))

    def vote(self) -> float:
        """Answer the trial on screen; returns the vote's latency in ms (the layout event the browser
        sends after a new kind of trial arrives is not part of it)."""
        button = "vote_left" if self.rng.random() < 0.5 else "vote_right"
        t0 = time.perf_counter()
        page = self.session.call(button, self.shown, self.token, None)
        latency = (time.perf_counter() - t0) * 1000
        self._read(page)
        return latency


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, study_dir: Path, port: int, log: Path):
        self.study_dir, self.port, self.logfile = study_dir, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        fh = open(self.logfile, "a")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--study", str(self.study_dir), "--port", str(self.port)],
            cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
        fh.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.logfile}")
            try:
                if httpx.get(self.url + "/config", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server did not answer within {timeout} s; see {self.logfile}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Tally:
    """What the raters of one process saw: latencies, acknowledged (raw id, trial), re-asked trials, errors."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.acked: list[tuple[str, int]] = []
        self.reasked: list[tuple[str, int]] = []
        self.errors: list[str] = []

    def as_dict(self) -> dict:
        return {"latencies": self.latencies, "acked": self.acked, "reasked": self.reasked, "errors": self.errors}


def rater_main(k: int, url: str, votes: int, seed: int, think_ms: float, min_pause_s: float, tally: Tally,
               server_up: threading.Event | None = None, after_ack=None) -> None:
    """One simulated rater: open the link, vote `votes` times, reload and resume if the server goes away."""
    rng = np.random.default_rng(seed * 1000 + k)
    raw = f"load{k:04d}"
    sim = None
    done_votes = 0
    while done_votes < votes:
        try:
            if server_up is not None:
                server_up.wait(180)
            if sim is None:
                sim = SimulatedRater(url, raw, rng)
                sim.open()
            if sim.finished:
                break
            index = int(sim.shown)
            time.sleep(min_pause_s + (rng.exponential(think_ms) / 1000 if think_ms else 0.0))
            dt = sim.vote()
            if sim.shown == str(index):  # the same trial again: not recorded (server restarted)
                with tally.lock:
                    tally.reasked.append((raw, index))
                continue
            with tally.lock:
                tally.latencies.append(dt)
                tally.acked.append((raw, index))
            done_votes += 1
            if after_ack is not None:
                after_ack()
        except ServerGone:
            # the server is down: wait for it, then reload the page (new session) and resume
            time.sleep(0.5)
            if sim is not None:
                sim.session.close()
            sim = None
        except Exception as e:  # noqa: BLE001 - counted and reported, the run goes on
            with tally.lock:
                tally.errors.append(f"rater {k}: {e!r}")
            break
    if sim is not None:
        sim.session.close()


def rater_batch(ks: list[int], url: str, votes: int, seed: int, think_ms: float, min_pause_s: float) -> dict:
    """Raters `ks`, one thread each, in this process (a worker process of --processes)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    tally = Tally()
    threads = [threading.Thread(target=rater_main, args=(k, url, votes, seed, think_ms, min_pause_s, tally))
               for k in ks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally.as_dict()


def run(study_dir: Path, raters: int, votes: int, kill_after: int | None, seed: int, workdir: Path,
        think_ms: float = 0.0, processes: int = 1) -> dict:
    """Start the server, run the raters (threads; over `processes` worker processes when more than one, so
    that hundreds of clients do not share one interpreter lock), check the log against what was acknowledged."""
    if processes > 1 and kill_after is not None:
        raise ValueError("--kill-after needs --processes 1 (the raters must see the server go and come back)")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the clients' telemetry thread too
    server = Server(study_dir, free_port(), workdir / "server.log")
    server.start()
    study = load_study(study_dir)
    min_pause_s = (study.min_exposure_ms + 30) / 1000  # the server refuses answers sooner than min_exposure_ms
    tally = Tally()
    restarted = threading.Event()
    killed = threading.Event()
    server_up = threading.Event()
    server_up.set()

    def maybe_kill():
        if kill_after is None or killed.is_set():
            return
        with tally.lock:
            if len(tally.acked) < kill_after or killed.is_set():
                return
            killed.set()
        server_up.clear()
        server.kill()
        server.start()
        restarted.set()
        server_up.set()

    t0 = time.perf_counter()
    if processes > 1:
        import multiprocessing

        chunks = [list(range(raters))[i::processes] for i in range(processes)]
        with concurrent.futures.ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as ex:
            batch = functools.partial(rater_batch, url=server.url, votes=votes, seed=seed, think_ms=think_ms,
                                      min_pause_s=min_pause_s)
            parts = list(ex.map(batch, chunks))
        for part in parts:
            for name in ("latencies", "acked", "reasked", "errors"):
                getattr(tally, name).extend(tuple(a) if name in ("acked", "reasked") else a for a in part[name])
    else:
        threads = [threading.Thread(target=rater_main, args=(k, server.url, votes, seed, think_ms, min_pause_s,
                                                             tally, server_up, maybe_kill)) for k in range(raters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    wall = time.perf_counter() - t0
    server.stop()

    from eval_studies.assign import hash_rater, study_key

    key = study_key(study_dir)
    rows = read_votes(study_dir / LOG_NAME)
    on_disk = Counter((r["rater_id"], int(r["trial_index"])) for r in rows)
    acked_hashed = [(hash_rater(raw, key), i) for raw, i in tally.acked]
    lost = sum(1 for a in acked_hashed if a not in on_disk)
    duplicated = sum(n - 1 for n in on_disk.values() if n > 1)
    per_rater: dict[str, set[int]] = {}
    for rid, i in on_disk:
        per_rater.setdefault(rid, set()).add(i)
    gaps = sum(1 for s in per_rater.values() if s != set(range(len(s))))  # resumed somewhere else
    lat = np.array(tally.latencies) if tally.latencies else np.array([np.nan])
    return {
        "study": study.id, "raters": raters, "votes_per_rater": votes, "acknowledged": len(tally.acked),
        "on_disk": len(rows), "lost": lost, "duplicated": duplicated, "raters_with_gaps": gaps,
        "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
        "max_ms": float(np.max(lat)), "votes_per_s": len(tally.acked) / wall, "wall_s": wall,
        "killed_and_restarted": restarted.is_set(), "asked_again": len(tally.reasked), "errors": tally.errors,
        "processes": processes,
    }


def build_photo_study(src: Path, out: Path, items: int, trials: int) -> Path:
    """The load test's study: held-out photos and their Telea fills, at the demo's 256 x 256, with
    enough items for ``trials`` scored trials (+2 practice, +2 catch) per rater."""
    from eval_studies.build import build_from_folder, encode_png, exported_fills, load_heldout, opencv_methods

    _, photos = load_heldout()
    if items + 4 > len(photos):
        raise ValueError(f"--votes needs {items + 4} held-out photos; there are {len(photos)}")
    photos = photos[:items + 4]
    fills, _ = exported_fills(photos, opencv_methods(photos.shape[1])[:1])  # Telea
    for cond, images in (("natural", photos), ("telea", fills["telea"])):
        (src / cond).mkdir(parents=True)
        for i, im in enumerate(images):
            (src / cond / f"{i:04d}.png").write_bytes(encode_png(im, im.shape[0]))
    build_from_folder(src, out, study_id="loadtest", trials_per_rater=trials, practice=2, catch=2)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raters", type=int, default=50)
    p.add_argument("--votes", type=int, default=40, help="votes per rater (capped by the study's trial count)")
    p.add_argument("--study", type=Path, help="study folder to copy (default: build one)")
    p.add_argument("--kill-after", type=int, help="SIGKILL the server after this many acknowledged votes, "
                                                  "restart it, and go on")
    p.add_argument("--think-ms", type=float, default=1500.0,
                   help="mean pause before each vote beyond the study's minimum exposure, exponentially "
                        "distributed (people need a second or more to judge a pair); 0 votes as soon as the "
                        "server allows, a capacity test")
    p.add_argument("--processes", type=int, default=1,
                   help="spread the raters over this many client processes (for hundreds of raters; "
                        "not with --kill-after)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
        work = Path(tmp)
        study_dir = work / "study"
        if args.study:
            shutil.copytree(args.study, study_dir, ignore=shutil.ignore_patterns(LOG_NAME, LOG_NAME + ".*"))
        else:
            build_photo_study(work / "src", study_dir, items=args.votes + 10, trials=args.votes - 4)
        r = run(study_dir, args.raters, args.votes, args.kill_after, args.seed, work, args.think_ms, args.processes)
    print(f"study {r['study']}: {r['raters']} raters x {r['votes_per_rater']} votes, "
          f"mean pause {args.think_ms:.0f} ms, "
          f"{r['wall_s']:.1f} s, {r['votes_per_s']:.0f} votes/s, {r['processes']} client process(es)"
          + (", server SIGKILLed and restarted mid-run" if r["killed_and_restarted"] else ""))
    print(f"{'metric':<28}{'value':>12}{'floor':>12}")
    rows = [("vote latency p50 (ms)", f"{r['p50_ms']:.1f}", ""),
            ("vote latency p95 (ms)", f"{r['p95_ms']:.1f}", f"< {P95_FLOOR_MS:.0f}"),
            ("vote latency max (ms)", f"{r['max_ms']:.1f}", ""),
            ("votes acknowledged", str(r["acknowledged"]), ""),
            ("votes on disk", str(r["on_disk"]), ""),
            ("votes asked again", str(r["asked_again"]), ""),
            ("lost", str(r["lost"]), "0"),
            ("duplicated", str(r["duplicated"]), "0"),
            ("raters with gaps in trials", str(r["raters_with_gaps"]), "0")]
    for name, v, floor in rows:
        print(f"{name:<28}{v:>12}{floor:>12}")
    for e in r["errors"][:10]:
        print("error:", e)
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))
    ok = (r["p95_ms"] < P95_FLOOR_MS and r["lost"] == 0 and r["duplicated"] == 0
          and r["raters_with_gaps"] == 0 and not r["errors"])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
