"""One training entry point for every model of the project.

    python -m synth.train dcgan --steps 2500 --out runs/dcgan [--resume]
    python -m synth.train gan --steps 12000 --out runs/gan [--minimax]
    python -m synth.train classifier --out runs/classifier        # the evaluation classifier (held-out digits)
    torchrun --nproc_per_node=2 -m synth.train dcgan ...          # data parallel over gloo (CPU)
    python -m synth.train export runs/dcgan assets/checkpoints/dcgan   # copy what the app needs

Every run writes args.json, checkpoints (safetensors + config.json) every few minutes, state.pt to resume
from, a fixed-noise sample grid (samples.png), the loss log (losses.csv) and its plot (losses.png).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from synth import checkpoint, data, losses
from synth.models import get_spec
from synth.models.classifier import ClassifierConfig, DigitClassifier

# Trainers living in other modules: name -> "module:function(argv)"
EXTERNAL_TRAINERS = {
    "context_encoder": "synth.train_inpaint:main",
    "guided": "synth.train_guided:main",
    "giraffe": "synth.train_giraffe:main",
    "scene_counter": "synth.scene_counter:train",
}


# ---------------------------------------------------------------------------------------------- helpers

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
    from torchvision.utils import save_image
    save_image(images.clamp(-1, 1) * 0.5 + 0.5, path, nrow=nrow, padding=2)


def plot_losses(csv_path: Path, png_path: Path, columns: list[str]) -> None:
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
    def __init__(self, path: Path, columns: list[str], resume: bool):
        self.path, self.columns = path, ["step", *columns]
        if not (resume and path.exists()):
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(self.columns)

    def write(self, step: int, values: dict):
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([step, *(f"{values[c]:.5f}" for c in self.columns[1:])])


def common_args(p: argparse.ArgumentParser, steps: int) -> None:
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


# ---------------------------------------------------------------------------------------------- GAN, DCGAN

def train_gan(model: str, argv: list[str]) -> Path:
    spec = get_spec(model)
    p = argparse.ArgumentParser(prog=f"synth.train {model}")
    common_args(p, steps=12000 if model == "gan" else 2500)
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate (DCGAN paper: 2e-4)")
    p.add_argument("--beta1", type=float, default=0.5, help="Adam beta1 (DCGAN paper: 0.5)")
    p.add_argument("--minimax", action="store_true", help="generator minimises -J(D) (stalls: for the lecture)")
    p.add_argument("--g-steps", type=int, default=1,
                   help="generator updates per discriminator update (1 in the paper; 2 is the common DCGAN "
                        "practice that keeps J(D) from collapsing to 0 on small data)")
    p.add_argument("--config", type=json.loads, default={}, help='config overrides as JSON, e.g. {"ngf": 16}')
    p.add_argument("--diffaug", type=float, default=0.0,
                   help="DiffAugment translation (Zhao et al. 2020) of D's inputs, real and fake, by up to this "
                        "fraction of the image size; 0 = off (the paper). Keeps D from memorising a small set")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep an exponential moving average of G with this decay (e.g. 0.999) and save it as "
                        "the generator, batch-norm statistics recalibrated; 0 = off (the paper)")
    p.add_argument("--minutes", type=float, default=None,
                   help="also stop after this much wall time in this run (checkpointed; resume with --resume); "
                        "single process only")
    p.add_argument("--keep-every", type=int, default=0,
                   help="also keep the generator of every N-th step in <out>/snapshots (for model selection)")
    args = p.parse_args(argv)
    out = args.out or Path("runs") / model
    ddp = Dist()
    if args.minutes and ddp.world > 1:
        raise SystemExit("--minutes stops each process on its own clock: use --steps under torchrun")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed + ddp.rank)

    cfg = checkpoint.config_from_dict(spec.config_cls, args.config)
    G, D = spec.generator_cls(cfg), spec.discriminator_cls(cfg)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    step0, wall0 = 0, 0.0
    state_path = out / "state.pt"
    G_ema = None
    if args.ema:
        G_ema = spec.generator_cls(cfg)
        G_ema.load_state_dict(G.state_dict())
        G_ema.requires_grad_(False)
    if args.resume and state_path.exists():
        st = checkpoint.load_state(state_path)
        G.load_state_dict(st["generator"]), D.load_state_dict(st["discriminator"])
        if G_ema is not None:
            G_ema.load_state_dict(st.get("generator_ema", st["generator"]))
        opt_g.load_state_dict(st["opt_g"]), opt_d.load_state_dict(st["opt_d"])
        step0, wall0 = st["step"], st["wall_time"]
        torch.set_rng_state(st["rng"])
        print(f"resumed {out} at step {step0}", file=sys.stderr)
    if ddp.world > 1:
        G, D = DDP(G), DDP(D)
    g_mod, d_mod = (G.module, D.module) if ddp.world > 1 else (G, D)

    imgs = data.load(spec.dataset, "train").images[: args.max_images]
    x = data.to_tensor(imgs, cfg.image_size)
    fixed_z = torch.randn(64, cfg.nz, generator=torch.Generator().manual_seed(1234))
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "args.json").write_text(json.dumps(
            {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
             "model": model, "world_size": ddp.world, "command": " ".join(["python -m synth.train", model, *argv])},
            indent=2) + "\n")
    cols = ["loss_d", "loss_g", "d_real", "d_fake"]
    log = LossLog(out / "losses.csv", cols, args.resume) if ddp.main else None

    def shown_generator() -> torch.nn.Module:
        """The generator the app will load: the EMA (statistics recalibrated) when kept, else G itself."""
        if G_ema is None:
            return g_mod
        recalibrate_batchnorm(G_ema, lambda gen: torch.randn(args.batch_size, cfg.nz, generator=gen))
        return G_ema

    def save(step: int, wall: float):
        shown = shown_generator()
        shown.eval()
        with torch.no_grad():
            write_grid(shown(fixed_z), out / "samples.png")
        g_mod.train()
        checkpoint.save_model(out, model, cfg, {"generator": shown, "discriminator": d_mod}, step=step,
                              wall_time_s=round(wall, 1), world_size=ddp.world, minimax=args.minimax,
                              ema=args.ema, diffaug=args.diffaug,
                              command=" ".join(["python -m synth.train", model, *argv]))
        state = {"generator": g_mod.state_dict(), "discriminator": d_mod.state_dict(),
                 "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                 "step": step, "wall_time": wall, "rng": torch.get_rng_state()}
        if G_ema is not None:
            state["generator_ema"] = G_ema.state_dict()
        checkpoint.save_state(state_path, state)
        plot_losses(out / "losses.csv", out / "losses.png", cols)

    def aug(images: torch.Tensor) -> torch.Tensor:
        return diff_translate(images, args.diffaug)

    t_start, t_ckpt = time.time(), time.time()
    acc = {c: 0.0 for c in cols}
    n_acc = 0
    bar = tqdm(total=args.steps, initial=step0, disable=not ddp.main, desc=model, mininterval=5)
    step = step0
    for step, idx in batches(len(x), args.batch_size, args.seed, ddp.rank, ddp.world, step0):
        if step >= args.steps or (args.minutes and time.time() - t_start > 60 * args.minutes):
            break
        real = x[idx]
        z = torch.randn(len(idx), cfg.nz)
        fake = G(z)
        # 1. discriminator: minimise J(D) on a real and a fake batch
        real_logits, fake_logits = D(aug(real)), D(aug(fake.detach()))
        loss_d = losses.discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # 2. generator: non-saturating (or minimax) J(G) through the updated discriminator
        for k in range(args.g_steps):
            if k > 0:
                fake = G(torch.randn(len(idx), cfg.nz))
            gen_logits = D(aug(fake))
            loss_g = losses.generator_loss(gen_logits, minimax=args.minimax)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if G_ema is not None:
                update_ema(G_ema, g_mod, args.ema)

        vals = {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_real": torch.sigmoid(real_logits).mean().item(), "d_fake": torch.sigmoid(fake_logits).mean().item()}
        for c in cols:
            acc[c] += vals[c]
        n_acc += 1
        bar.update(1)
        done = step + 1
        if ddp.main and done % args.log_every == 0:
            log.write(done, {c: acc[c] / n_acc for c in cols})
            bar.set_postfix(loss_d=f"{acc['loss_d'] / n_acc:.3f}", loss_g=f"{acc['loss_g'] / n_acc:.3f}")
            acc, n_acc = {c: 0.0 for c in cols}, 0
        if ddp.main and (done % args.sample_every == 0 or time.time() - t_ckpt > 60 * args.ckpt_minutes):
            save(done, wall0 + time.time() - t_start)
            t_ckpt = time.time()
        if ddp.main and args.keep_every and done % args.keep_every == 0:
            checkpoint.save_model(out / "snapshots" / f"step_{done:06d}", model, cfg, {"generator": shown_generator()},
                                  step=done, wall_time_s=round(wall0 + time.time() - t_start, 1))
        step = done
    if ddp.main:
        save(step, wall0 + time.time() - t_start)
    bar.close()
    ddp.close()
    return out


# ---------------------------------------------------------------------------------------------- classifier

def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Small random rotations, scalings and shifts: digits stay digits."""
    n = len(x)
    ang = (torch.rand(n, generator=gen) - 0.5) * 2 * 0.26          # +-15 degrees
    sc = 1 + (torch.rand(n, generator=gen) - 0.5) * 0.2             # +-10 %
    t = (torch.rand(n, 2, generator=gen) - 0.5) * 0.2               # +-10 % of the half-width
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def classifier_splits(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Held-out digits -> (fit, reference): 70 per class to fit the classifier, 30 per class as the real
    reference that the evaluation scores (never seen by the classifier nor by any generator)."""
    labels = data.load("digits", "heldout").labels
    reference, fit = data.stratified_split(labels, n_per_class=30, seed=seed)
    return fit, reference


def train_classifier(model: str, argv: list[str]) -> Path:
    p = argparse.ArgumentParser(prog="synth.train classifier")
    common_args(p, steps=1500)
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args(argv)
    out = args.out or Path("runs") / "classifier"
    out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    held = data.load("digits", "heldout")
    fit, reference = classifier_splits()
    x, y = data.to_tensor(held.images[fit][: args.max_images]), torch.from_numpy(held.labels[fit][: args.max_images])
    xr, yr = data.to_tensor(held.images[reference]), torch.from_numpy(held.labels[reference])
    cfg = ClassifierConfig()
    net = DigitClassifier(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)
    gen = torch.Generator().manual_seed(args.seed)
    log = LossLog(out / "losses.csv", ["loss", "reference_acc"], resume=False)
    t0 = time.time()
    for step, idx in tqdm(batches(len(x), min(args.batch_size, len(x)), args.seed, 0, 1, 0), total=args.steps,
                          desc="classifier", mininterval=5):
        if step >= args.steps:
            break
        loss = F.cross_entropy(net(augment(x[idx], gen)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0 or step + 1 == args.steps:
            net.eval()
            with torch.no_grad():
                acc = (net(xr).argmax(1) == yr).float().mean().item()
            net.train()
            log.write(step + 1, {"loss": loss.item(), "reference_acc": acc})
    net.eval()
    checkpoint.save_model(out, "classifier", cfg, {"classifier": net}, step=args.steps,
                          wall_time_s=round(time.time() - t0, 1), reference_accuracy=round(acc, 4),
                          command=" ".join(["python -m synth.train classifier", *argv]))
    plot_losses(out / "losses.csv", out / "losses.png", ["loss", "reference_acc"])
    print(f"reference accuracy {acc:.3f} ({len(yr)} held-out digits the classifier never saw)")
    return out


# ---------------------------------------------------------------------------------------------- export

EXPORT_FILES = ("config.json", "samples.png", "losses.csv", "losses.png", "args.json")


def export(run: Path, dest: Path, parts: tuple[str, ...]) -> None:
    """Copy what the app needs (weights of the given parts, config, samples, loss log) into assets."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in [f"{p}.safetensors" for p in parts] + list(EXPORT_FILES):
        if (run / name).exists():
            shutil.copy2(run / name, dest / name)
    print(f"exported {run} -> {dest}")


TRAINERS = {"gan": train_gan, "dcgan": train_gan, "dcgan_scenes": train_gan, "classifier": train_classifier}


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = sorted([*TRAINERS, *EXTERNAL_TRAINERS, "export"])
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("models:", ", ".join(names))
        return
    model, rest = argv[0], argv[1:]
    if model == "export":
        p = argparse.ArgumentParser(prog="synth.train export")
        p.add_argument("run", type=Path)
        p.add_argument("dest", type=Path)
        p.add_argument("--parts", nargs="+", default=["generator"])
        a = p.parse_args(rest)
        export(a.run, a.dest, tuple(a.parts))
    elif model in TRAINERS:
        TRAINERS[model](model, rest)
    elif model in EXTERNAL_TRAINERS:
        mod, fn = EXTERNAL_TRAINERS[model].split(":")
        getattr(importlib.import_module(mod), fn)(rest)
    else:
        raise SystemExit(f"unknown model {model!r}; available: {', '.join(names)}")


if __name__ == "__main__":
    main()
