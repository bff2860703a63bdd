"""Load test of the real rater app: simulated raters vote through the same HTTP calls a browser makes.

    python -m eval_studies.loadtest --raters 50 --votes 40
    python -m eval_studies.loadtest --raters 50 --votes 40 --kill-after 600   # SIGKILL + restart mid-run

It builds a study (or uses --study DIR, copied so the original's log is untouched), starts
``python app.py --study COPY`` on a free loopback port, and runs one thread per rater. Each rater
opens the link with ``?rater=ID`` (Gradio's page-load event), presses Start, and answers its trials
by calling the vote buttons' events over Gradio's queue protocol (POST /gradio_api/queue/join, then
the server-sent events of /gradio_api/queue/data), exactly what the browser's JavaScript does.

Latency of a vote: from sending the click to receiving the next trial, i.e. after the vote was
fsynced. With --kill-after N the server is killed with SIGKILL once N votes were acknowledged and
started again; raters whose requests failed reload the page and go on where the log says they are.
At the end the log is checked against every acknowledged vote: lost (acknowledged, not on disk) and
duplicated (one rater's trial on disk twice) must both be 0.
"""

from __future__ import annotations

import argparse
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
import uuid
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

from eval_studies.study_file import load_study
from eval_studies.vote_writer import LOG_NAME, read_votes

ROOT = Path(__file__).resolve().parent.parent
P95_FLOOR_MS = 150.0


class ServerGone(Exception):
    """The server stopped answering (killed, restarting)."""


class RaterClient:
    """One browser tab's worth of Gradio protocol: a session hash, the page's query string, events."""

    def __init__(self, base_url: str, query: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.query = query
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self.timeout = timeout
        self.received: list[str] = []  # every response body, for leak checks
        self.reload()

    def reload(self) -> None:
        """A fresh page: new session, fresh config (the event ids come from it)."""
        self.session = uuid.uuid4().hex[:11]
        try:
            r = self.http.get("/config")
            r.raise_for_status()
        except httpx.HTTPError as e:
            raise ServerGone(str(e)) from None
        self.received.append(r.text)
        cfg = r.json()
        ids = {c["id"]: c for c in cfg["components"]}
        self.fn = {}
        for i, dep in enumerate(cfg["dependencies"]):
            targets = [t for t in dep["targets"]]
            for tid, event in targets:
                elem = ids.get(tid, {}).get("props", {}).get("elem_id")
                self.fn[(elem, event)] = dep.get("id", i)
        self.outputs = {}
        self.last: dict[str, object] = {}

    def call(self, key: tuple, data: list) -> list:
        """Run one event; returns its output data. Raises ServerGone when the server is unreachable."""
        fn = self.fn[key]
        try:
            r = self.http.post(f"/gradio_api/queue/join?{self.query}", json={
                "data": data, "fn_index": fn, "session_hash": self.session, "event_data": None,
                "trigger_id": None})
            if r.status_code != 200:
                raise ServerGone(f"join answered {r.status_code}: {r.text[:200]}")
            event_id = r.json()["event_id"]
            with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session}) as s:
                for line in s.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    self.received.append(line)
                    msg = json.loads(line[5:])
                    if msg.get("event_id") not in (None, event_id):
                        continue
                    if msg.get("msg") == "process_completed":
                        if not msg.get("success"):
                            raise RuntimeError(f"event failed: {msg}")
                        return msg["output"]["data"]
                    if msg.get("msg") == "unexpected_error":
                        raise RuntimeError(f"server error: {msg}")
        except (httpx.HTTPError, OSError) as e:
            raise ServerGone(str(e)) from None
        raise ServerGone("stream closed before the event completed")

    def close(self) -> None:
        self.http.close()


class SimulatedRater:
    """Opens the link, presses Start, answers at random. Knows only what the page shows."""

    def __init__(self, base_url: str, raw_id: str, rng: np.random.Generator):
        self.raw_id = raw_id
        self.rng = rng
        self.client = RaterClient(base_url, f"rater={raw_id}")
        self.shown: str | None = None
        self.layout = ""
        self.finished = False

    def _read(self, data: list) -> None:
        # outputs of the load/start/vote events (ui.studies_tab): [state, layout, error, progress, feedback,
        # prompt, left image, right image, shown trial, done text, done html (, anon id on load)]
        layout, shown = data[1], data[8]
        if layout == "error":
            raise RuntimeError(f"error page: {data[2]}")
        if layout != self.layout:
            # the browser's layout.change event: panels, one image or two, button labels
            self.client.call(("study-layout", "change"), [layout])
            self.layout = layout
        self.finished = layout == "done"
        self.shown = str(shown) if layout.startswith("trial:") else None

    def open(self) -> None:
        self.client.reload()
        self.layout = ""
        self._read(self.client.call((None, "load"), [None]))
        if self.layout == "consent":
            self._read(self.client.call(("study-start", "click"), [None]))

    def vote(self) -> None:
        button = "study-left" if self.rng.random() < 0.5 else "study-right"
        self._read(self.client.call((button, "click"), [None, self.shown, None]))


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


def run(study_dir: Path, raters: int, votes: int, kill_after: int | None, seed: int, workdir: Path,
        think_ms: float = 0.0) -> dict:
    server = Server(study_dir, free_port(), workdir / "server.log")
    server.start()
    study = load_study(study_dir)
    lock = threading.Lock()
    latencies: list[float] = []
    acked: list[tuple[str, int]] = []  # (raw rater id, trial index) acknowledged by the server
    errors: list[str] = []
    reasked: list[tuple[str, int]] = []  # votes answered with the same trial: asked again, not recorded
    restarted = threading.Event()
    killed = threading.Event()
    server_up = threading.Event()
    server_up.set()

    def maybe_kill():
        if kill_after is None or killed.is_set():
            return
        with lock:
            if len(acked) < kill_after or killed.is_set():
                return
            killed.set()
        server_up.clear()
        server.kill()
        server.start()
        restarted.set()
        server_up.set()

    def rater_main(k: int):
        rng = np.random.default_rng(seed * 1000 + k)
        raw = f"load{k:04d}"
        sim = None
        done_votes = 0
        while done_votes < votes:
            try:
                server_up.wait(180)
                if sim is None:
                    sim = SimulatedRater(server.url, raw, rng)
                    sim.open()
                if sim.finished:
                    break
                index = int(sim.shown)
                if think_ms:
                    time.sleep(rng.exponential(think_ms) / 1000)
                t0 = time.perf_counter()
                sim.vote()
                dt = (time.perf_counter() - t0) * 1000
                if sim.shown == str(index):  # the same trial again: not recorded (server restarted)
                    with lock:
                        reasked.append((raw, index))
                    continue
                with lock:
                    latencies.append(dt)
                    acked.append((raw, index))
                done_votes += 1
                maybe_kill()
            except ServerGone:
                # the server is down: wait for it, then reload the page (new session) and resume
                time.sleep(0.5)
                if sim is not None:
                    sim.client.close()
                sim = None
            except Exception as e:  # noqa: BLE001 - counted and reported, the run goes on
                with lock:
                    errors.append(f"rater {k}: {e!r}")
                break
        if sim is not None:
            sim.client.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=rater_main, args=(k,)) for k in range(raters)]
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
    acked_hashed = [(hash_rater(raw, key), i) for raw, i in acked]
    lost = sum(1 for a in acked_hashed if a not in on_disk)
    duplicated = sum(n - 1 for n in on_disk.values() if n > 1)
    per_rater: dict[str, set[int]] = {}
    for rid, i in on_disk:
        per_rater.setdefault(rid, set()).add(i)
    gaps = sum(1 for s in per_rater.values() if s != set(range(len(s))))  # resumed somewhere else
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "study": study.id, "raters": raters, "votes_per_rater": votes, "acknowledged": len(acked),
        "on_disk": len(rows), "lost": lost, "duplicated": duplicated, "raters_with_gaps": gaps,
        "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
        "max_ms": float(np.max(lat)), "votes_per_s": len(acked) / wall, "wall_s": wall,
        "killed_and_restarted": restarted.is_set(), "asked_again": len(reasked), "errors": errors,
    }


def build_photo_study(src: Path, out: Path, items: int, trials: int) -> Path:
    """The load test's study: held-out photos and their Telea fills, at the demo's 256 x 256, with
    enough items for ``trials`` scored trials (+2 practice, +2 catch) per rater."""
    from eval_studies.build import build_from_folder, central_hole, classic_fill, encode_png, load_heldout

    _, photos = load_heldout()
    if items + 4 > len(photos):
        raise ValueError(f"--votes needs {items + 4} held-out photos; there are {len(photos)}")
    for cond in ("natural", "telea"):
        (src / cond).mkdir(parents=True)
    for i, im in enumerate(photos[:items + 4]):
        (src / "natural" / f"{i:04d}.png").write_bytes(encode_png(im, im.shape[0]))
        hole = central_hole(*im.shape[:2])
        (src / "telea" / f"{i:04d}.png").write_bytes(encode_png(classic_fill(im, hole, "telea"), im.shape[0]))
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
                   help="mean pause before each vote, exponentially distributed (people need a second or "
                        "more to judge a pair); 0 votes as fast as the server answers, a capacity test")
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
        r = run(study_dir, args.raters, args.votes, args.kill_after, args.seed, work, args.think_ms)
    print(f"study {r['study']}: {r['raters']} raters x {r['votes_per_rater']} votes, "
          f"mean pause {args.think_ms:.0f} ms, "
          f"{r['wall_s']:.1f} s, {r['votes_per_s']:.0f} votes/s"
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
