"""Data flows one way: app -> ui -> synth | eval_studies. synth never imports gradio; eval_studies never torch."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_after_all(package: str, probe: str) -> bool:
    code = (f"import importlib, pkgutil, sys, {package}\n"
            f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
            f"    importlib.import_module(m.name)\n"
            f"print({probe!r} in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "True"


def test_synth_never_imports_gradio():
    assert not imported_after_all("synth", "gradio")


def test_eval_studies_never_imports_torch():
    assert not imported_after_all("eval_studies", "torch")
