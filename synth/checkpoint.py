"""Checkpoints: weights in safetensors, config in JSON, resumable training state in a torch file.

A model folder holds ``<part>.safetensors`` files (e.g. generator, discriminator) and ``config.json``
(``{"model": name, "config": {...}, ...}``). Training state (optimisers, step, RNG) goes to ``state.pt`` and
is read back with ``torch.load(weights_only=True)``: nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def save_model(folder: Path, name: str, config, parts: dict[str, nn.Module], **meta) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for part, module in parts.items():
        state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
        tmp = folder / f".{part}.safetensors.tmp"
        save_file(state, str(tmp))
        tmp.replace(folder / f"{part}.safetensors")  # atomic: a reader never sees half a file
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    (folder / "config.json").write_text(json.dumps({"model": name, "config": cfg, **meta}, indent=2) + "\n")


def read_config(folder: Path) -> dict:
    path = Path(folder) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"no config.json in {folder}: not a model checkpoint folder")
    return json.loads(path.read_text())


def load_part(folder: Path, part: str, module: nn.Module) -> nn.Module:
    path = Path(folder) / f"{part}.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"checkpoint part {part!r} missing: {path}")
    module.load_state_dict(load_file(str(path)))
    return module


def save_state(path: Path, state: dict) -> None:
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def config_from_dict(cls, d: dict):
    """Dataclass from JSON (lists back to tuples where the field default is a tuple)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(fields)
    if unknown:
        raise ValueError(f"unknown config keys for {cls.__name__}: {sorted(unknown)}")
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return cls(**kw)


def export(run: Path, dest: Path, parts: tuple[str, ...], files: tuple[str, ...] = (), half: bool = False,
           config: dict | None = None, record: str | None = None) -> Path:
    """Copy what the app needs from a run folder into assets: the weights of `parts` (float16 when `half`),
    config.json (or `config`, when the caller changed it), the listed training files that exist, and
    TRAINING.md (`record`: how the checkpoint was made). Optimiser state stays behind."""
    import shutil

    run, dest = Path(run), Path(dest)
    meta = read_config(run) if config is None else config
    dest.mkdir(parents=True, exist_ok=True)
    for part in parts:
        src = run / f"{part}.safetensors"
        if not src.exists():
            raise FileNotFoundError(f"checkpoint part {part!r} missing: {src}")
        if half:
            weights = load_file(str(src))
            save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
                      str(dest / src.name))
        else:
            shutil.copy2(src, dest / src.name)
    (dest / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    for name in files:
        if name != "config.json" and (run / name).exists():
            shutil.copy2(run / name, dest / name)
    if record is not None:
        (dest / "TRAINING.md").write_text(record)
    print(f"exported {run} -> {dest}")
    return dest
