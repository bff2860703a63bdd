"""Data flows one way: app -> ui -> synth | eval_studies (docs/architecture.md).

synth never imports gradio; eval_studies never imports torch nor synth; nothing under ui/ imports torch or
defines a metric; no product code runs a program held in a string; no product file is over 500 lines.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [ROOT / "app.py", *sorted((ROOT / "synth").rglob("*.py")), *sorted((ROOT / "eval_studies").rglob("*.py")),
           *sorted((ROOT / "ui").rglob("*.py"))]
MAX_LINES = 500


def imported_after_all(package: str, probe: str) -> bool:
    """Import every module of `package` in a fresh interpreter; is `probe` loaded afterwards?"""
    out = subprocess.run([sys.executable, "-m", "tests.import_probe", package, probe], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() == "True"


def imports_of(path: Path) -> set[str]:
    """Top-level names of every module a file imports (anywhere in it, functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_synth_never_imports_gradio():
    assert not imported_after_all("synth", "gradio")


def test_eval_studies_never_imports_torch():
    assert not imported_after_all("eval_studies", "torch")


def test_eval_studies_never_imports_synth():
    assert not imported_after_all("eval_studies", "synth")
    offenders = [rel(p) for p in (ROOT / "eval_studies").rglob("*.py")
                 if any(m == "synth" or m.startswith("synth.") for m in imports_of(p))]
    assert offenders == []


def test_ui_never_imports_torch():
    offenders = [rel(p) for p in (ROOT / "ui").rglob("*.py")
                 if any(m == "torch" or m.startswith("torch.") for m in imports_of(p))]
    assert offenders == []


def test_ui_defines_no_metric_or_tally():
    words = ("psnr", "ssim", "frechet", "l1_", "tally", "iou", "score")
    offenders = [f"{rel(p)}:{node.lineno} {node.name}" for p in (ROOT / "ui").rglob("*.py")
                 for node in ast.walk(ast.parse(p.read_text()))
                 if isinstance(node, ast.FunctionDef) and any(w in node.name.lower() for w in words)]
    assert offenders == []


def test_no_program_held_in_a_string():
    """No `python -c CODE` in product code: a subprocess runs a real module (`python -m ...`)."""
    offenders = []
    for p in PRODUCT:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.List, ast.Tuple)) and any(
                    isinstance(e, ast.Constant) and e.value == "-c" for e in node.elts):
                offenders.append(f"{rel(p)}:{node.lineno}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("exec", "eval"):
                offenders.append(f"{rel(p)}:{node.lineno} {node.func.id}")
    assert offenders == []


def test_no_product_file_over_500_lines():
    long = {rel(p): n for p in PRODUCT if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("package", ["synth", "eval_studies", "ui"])
def test_every_module_imports(package):
    """A module that moved leaves no importer behind: every module of the package imports cleanly."""
    out = subprocess.run([sys.executable, "-m", "tests.import_probe", package, "-"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
