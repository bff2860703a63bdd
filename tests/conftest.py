import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # playwright cannot download its own browsers here: drive Debian's Chromium
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """`python app.py ARGS` on a free loopback port, killed at teardown."""

    def __init__(self, *args: str, env: dict | None = None, timeout: float = 90):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = ROOT / "out" / f"app-{self.port}.log"
        self.log.parent.mkdir(exist_ok=True)
        self._fh = open(self.log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(self.port), *args],
            cwd=ROOT, stdout=self._fh, stderr=subprocess.STDOUT,
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})})
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"app did not listen within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._fh.close()


@pytest.fixture
def launch_app():
    """Factory: launch_app("--study", str(dir)) -> AppProcess with .url; stopped at teardown."""
    apps = []

    def _launch(*args, env=None):
        app = AppProcess(*args, env=env)
        apps.append(app)
        return app

    yield _launch
    for app in apps:
        app.stop()


@pytest.fixture(scope="module")
def full_app():
    """The whole app (`python app.py`), shared by the tests of one module."""
    app = AppProcess()
    yield app
    app.stop()
