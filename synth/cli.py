"""The dispatch both `python -m synth.train NAME` and `python -m synth.evaluate NAME` use: NAME -> entry(argv)."""

from __future__ import annotations

import sys
from typing import Callable


def dispatch(entries: dict[str, Callable[[list[str]], object]], argv: list[str] | None, doc: str,
             kind: str) -> None:
    """Run entries[argv[0]](argv[1:]); with no name or -h, print `doc` and the names."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(doc)
        print(f"{kind}s:", ", ".join(sorted(entries)))
        return
    name, rest = argv[0], argv[1:]
    if name not in entries:
        raise SystemExit(f"unknown {kind} {name!r}; available: {', '.join(sorted(entries))}")
    entries[name](rest)
