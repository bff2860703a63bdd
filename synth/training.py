"""What every trainer shares: process ranks, resumable batches, the generator EMA, the loss log and its plot,
the sample grid, the command-line flags every trainer takes, and saving / resuming the training state.

A trainer (synth/<method>/train.py) builds its models and its loop; everything it writes next to its
checkpoints goes through here, so every run folder looks the same:

    args.json     the flags and the exact command          (write_args)
    losses.csv    one row per logged step, losses.png       (LossLog, plot_losses)
    samples.png   a fixed-noise / fixed-batch sample grid   (write_grid)
    state.pt      optimisers, step, wall time, RNG          (save_training_state, resume_training_state)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from synth import checkpoint


class Dist:
    """Rank and world size; torchrun sets WORLD_SIZE/RANK, a plain run is world 1."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1:
            dist.init_process_group("gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self):
        if self.world > 1:
            dist.barrier()
            dist.destroy_process_group()


def batches(n: int, batch: int, seed: int, rank: int, world: int, start_step: int):
    """Endless shuffled index batches (rank's share of each global batch); resumable from a step."""
    per_epoch = n // batch
    step = start_step
    while True:
        epoch, i = divmod(step, per_epoch)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        idx = perm[i * batch:(i + 1) * batch]
        yield step, idx[rank::world]
        step += 1


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model, parameters only (Yazici et al. 2019)."""
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm, 1 - beta)


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, make_input, batches: int = 50, seed: int = 777) -> None:
    """Replace BatchNorm running statistics by their exact average over `batches` train-mode passes of
    make_input(torch.Generator) (the EMA weights never produced the statistics they were copied with)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        model(make_input(gen))
    for m in norms:
        m.momentum = 0.1
    model.train(was_training)


def diff_translate(x: torch.Tensor, frac: float, fill: float = -1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """DiffAugment's translation (Zhao et al. 2020): shift every image by a random whole number of pixels, up to
    frac of its size, filling with the background value. Differentiable in x, so it can sit between G and D."""
    if frac <= 0:
        return x
    n, c, h, w = x.shape
    sh, sw = max(1, round(h * frac)), max(1, round(w * frac))
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), generator=generator)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=generator)
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    index = (gy + dy + sh) * (w + 2 * sw) + (gx + dx + sw)  # n x h x w, into the padded image
    padded = F.pad(x, [sw, sw, sh, sh], value=fill).flatten(2)
    return padded.gather(2, index.flatten(1)[:, None].expand(n, c, h * w)).view(n, c, h, w)


def write_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    """Images in [-1, 1], N x C x H x W -> one PNG grid."""
    from torchvision.utils import save_image
    save_image(images.clamp(-1, 1) * 0.5 + 0.5, path, nrow=nrow, padding=2)


def plot_losses(csv_path: Path, png_path: Path, columns: list[str]) -> None:
    """The loss log as curves (a rolling mean of 10 rows), for the run folder and the README."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(csv_path)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    for c in columns:
        if c in df:
            ax.plot(df["step"], df[c].rolling(10, min_periods=1).mean(), label=c)
    ax.set_xlabel("step")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


class LossLog:
    """losses.csv: a header, then one row per logged step. On --resume an existing log is appended to; one written
    with other columns (an older trainer) is rewritten under the new header first, its rows kept (missing values
    empty, dropped columns dropped). `resume_step`, the step of the checkpoint resumed from, drops the rows a
    stopped run logged after its last checkpoint: the resumed run logs those steps again."""

    def __init__(self, path: Path, columns: list[str], resume: bool, fmt: str = "{:.5f}",
                 resume_step: int | None = None):
        self.path, self.columns, self.fmt = Path(path), ["step", *columns], fmt
        if not (resume and self.path.exists()):
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self.columns)
            return
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            rows = list(reader)
        kept = rows if resume_step is None else [r for r in rows if int(float(r["step"])) <= resume_step]
        if header is not None and (list(header) != self.columns or len(kept) < len(rows)):
            rows = kept
            with open(self.path, "w", newline="") as f:
                w = csv.DictWriter(f, self.columns, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)

    def write(self, step: int, values: dict) -> None:
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([step, *(self.fmt.format(values[c]) for c in self.columns[1:])])

    def close(self) -> None:
        """Nothing stays open between writes; kept so a trainer can say where its log ends."""


def common_args(p: argparse.ArgumentParser, steps: int) -> None:
    """The flags every GAN-style trainer takes."""
    p.add_argument("--steps", type=int, default=steps, help="total optimisation steps (including resumed ones)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/<model>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/state.pt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64, help="global batch (split over torchrun ranks)")
    p.add_argument("--ckpt-minutes", type=float, default=3.0, help="checkpoint at least this often")
    p.add_argument("--sample-every", type=int, default=250, help="sample grid every N steps")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--max-images", type=int, default=None, help="use only the first N training images (smoke tests)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")


def write_args(out: Path, args: argparse.Namespace | dict, **extra) -> None:
    """args.json: every flag (paths as strings) plus what the caller adds (the command, the world size)."""
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    clean = {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "args.json").write_text(json.dumps({**clean, **extra}, indent=2, default=str) + "\n")


def command_line(prog: str, argv: list[str]) -> str:
    """The command that made a run, as the README and TRAINING.md quote it."""
    return " ".join([prog, *map(str, argv)])


def save_training_state(path: Path, parts: dict, **extra) -> None:
    """state.pt: the state_dict of every module and optimiser in `parts`, the torch RNG, and `extra`
    (step, wall time, ...). Written atomically; read back with torch.load(weights_only=True)."""
    state = {name: obj.state_dict() for name, obj in parts.items() if obj is not None}
    checkpoint.save_state(path, {**state, "rng": torch.get_rng_state(), **extra})


def resume_training_state(path: Path, parts: dict, aliases: dict[str, str] | None = None) -> dict:
    """Load state.pt into the modules and optimisers of `parts` (a missing optional part, e.g. an EMA the run
    did not keep, falls back to `aliases[name]`); restore the RNG; return the state for its extra keys."""
    st = checkpoint.load_state(path)
    aliases = aliases or {}
    for name, obj in parts.items():
        if obj is None:
            continue
        key = name if name in st else aliases.get(name, name)
        obj.load_state_dict(st[key])
    if "rng" in st:
        torch.set_rng_state(st["rng"])
    print(f"resumed {Path(path).parent} at step {st.get('step')}", file=sys.stderr)
    return st


def command_from_args(prog: str, args: dict) -> str:
    """A run's command from its args.json: ``python -m PROG --flag value ...`` (switches bare; unset, export and
    resume flags left out: a resumed run is recorded as the command that started it)."""
    return f"python -m {prog} " + " ".join(
        f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}") for k, v in args.items()
        if v not in (None, False) and k not in ("export", "resume"))
