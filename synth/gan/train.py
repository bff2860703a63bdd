"""Train the GAN, the DCGAN (digits or the GIRAFFE scenes) and the evaluation's digit classifier.

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
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from synth import checkpoint, data
from synth.gan import losses
from synth.gan.classifier import ClassifierConfig, DigitClassifier, classifier_splits
from synth.gan.registry import get_spec
from synth.training import (Dist, LossLog, batches, command_line, common_args, diff_translate, plot_losses,
                            recalibrate_batchnorm, resume_training_state, save_training_state, update_ema,
                            write_args, write_grid)

PROG = "python -m synth.train"


# ---------------------------------------------------------------------------------------------- GAN, DCGAN

def gan_parser(model: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"synth.train {model}")
    common_args(p, steps=12000 if model == "gan" else 2500)
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate (DCGAN paper: 2e-4); with --resume, the rate "
                   "of the steps this run adds (a lower one for a final phase)")
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
    p.add_argument("--dataset", default=None,
                   help="training images: a bundled dataset's train split (default: the model's own, e.g. digits; "
                        "mnist = 20,000 MNIST training digits, none of them held out)")
    p.add_argument("--keep-every", type=int, default=0,
                   help="also keep the generator of every N-th step in <out>/snapshots (for model selection)")
    return p


def train_gan(model: str, argv: list[str]) -> Path:
    """`python -m synth.train gan|dcgan|dcgan_scenes ARGS`: returns the run folder."""
    spec = get_spec(model)
    args = gan_parser(model).parse_args(argv)
    out = args.out or Path("runs") / model
    command = command_line(PROG, [model, *argv])
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
    # the keys of state.pt (a run without --ema has no "generator_ema": an EMA starts from its generator)
    parts = {"generator": G, "discriminator": D, "generator_ema": G_ema, "opt_g": opt_g, "opt_d": opt_d}
    if args.resume and state_path.exists():
        st = resume_training_state(state_path, parts, aliases={"generator_ema": "generator"})
        step0, wall0 = st["step"], st["wall_time"]
        for opt in (opt_g, opt_d):   # --lr is this run's rate (the optimiser state keeps the one it was saved with)
            for group in opt.param_groups:
                group["lr"] = args.lr
    if ddp.world > 1:
        G, D = DDP(G), DDP(D)
    g_mod, d_mod = (G.module, D.module) if ddp.world > 1 else (G, D)

    imgs = data.load(args.dataset or spec.dataset, "train").images[: args.max_images]
    x = data.to_tensor(imgs, cfg.image_size)
    fixed_z = torch.randn(64, cfg.nz, generator=torch.Generator().manual_seed(1234))
    if ddp.main:
        write_args(out, args, model=model, world_size=ddp.world, command=command)
    cols = ["loss_d", "loss_g", "d_real", "d_fake"]
    log = LossLog(out / "losses.csv", cols, args.resume, resume_step=step0) if ddp.main else None

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
                              dataset=args.dataset or spec.dataset, command=command)
        save_training_state(state_path, parts, step=step, wall_time=wall)
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


def train_classifier(argv: list[str]) -> Path:
    """`python -m synth.train classifier ARGS`: the evaluation's digit classifier; returns the run folder."""
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
                          command=command_line(PROG, ["classifier", *argv]))
    plot_losses(out / "losses.csv", out / "losses.png", ["loss", "reference_acc"])
    print(f"reference accuracy {acc:.3f} ({len(yr)} held-out digits the classifier never saw)")
    return out


# ---------------------------------------------------------------------------------------------- export

EXPORT_FILES = ("samples.png", "losses.csv", "losses.png", "args.json")


def export_main(argv: list[str]) -> Path:
    """`python -m synth.train export RUN DEST [--parts generator ...]`: copy what the app needs (the weights of
    the parts, config.json, samples, loss log, args) into assets; the optimiser state stays behind."""
    p = argparse.ArgumentParser(prog="synth.train export")
    p.add_argument("run", type=Path)
    p.add_argument("dest", type=Path)
    p.add_argument("--parts", nargs="+", default=["generator"])
    p.add_argument("--half", action="store_true", help="store the weights as float16 (half the size; the app loads "
                   "them into float32)")
    a = p.parse_args(argv)
    return checkpoint.export(a.run, a.dest, tuple(a.parts), files=EXPORT_FILES, half=a.half)
