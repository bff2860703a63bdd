"""Train GIRAFFE (synth.giraffe.model) on the procedural scenes (synth.giraffe.scenes).

    python -m synth.giraffe.scenes export --n 20000 --out assets/data/scenes   # once; deterministic, not bundled
    python -m synth.train giraffe --steps 12000 --out runs/giraffe --threads 2
    python -m synth.train giraffe --steps 20000 --out runs/giraffe --resume    # continue (or extend) a run
    python -m synth.train giraffe --export runs/giraffe assets/checkpoints/giraffe
    python -m synth.train giraffe --init-from assets/checkpoints/giraffe --steps 4000 --out runs/giraffe_app
                                                                               # fine-tune a trained generator

As in the reference code: the generator step comes first, then the discriminator step; non-saturating loss
(binary cross-entropy on logits); R1 penalty on real images, gamma/2 E||grad D(x)||^2 with gamma = 10
(Mescheder et al. 2018; the reference code writes 10 E||grad||^2); RMSprop, lr 5e-4 (G) and 1e-4 (D);
an exponential moving average of the generator weights (beta 0.999) is what gets sampled and exported.

Appearance code (not in the paper; docs/giraffe.md "Appearance code"): the generator's loss also has
``--app-weight`` times an InfoGAN-style term (Chen et al. 2016): a small decoder Q (``AppearanceDecoder``)
reads each visible object's mean rendered colour (weighted by its alpha) and regresses the first
``--app-dims`` entries of that object's z_a (mean squared error). The colour must then carry those entries of
z_a, and colour driven by anything else (z_s, pose) is noise the term penalises. The term's gradient goes only
to the object field's feature branch (after the density: trunk features, z_a and view -> feature) and the
neural renderer: it cannot move densities (applied to every weight, RMSprop turned its small gradients on the
density trunk into full steps and a tiny model's objects faded out within 40 steps). Q is trained on the same loss with its own RMSprop (the generator's lr) and kept in state.pt.
--app-weight 0 (the default) trains as before; the term is experimental (docs/giraffe.md). ``--init-from FOLDER`` starts a new run from a trained generator (a run or
an asset folder: its EMA weights; its discriminator when the folder has one, else a fresh discriminator
trained alone for ``--d-warmup`` steps first).

A run folder gets args.json, generator.safetensors, generator_ema.safetensors, discriminator.safetensors and
config.json (the GiraffeConfig, with what was scaled for the CPU) every ``--ckpt-minutes``; state.pt
(optimisers, EMA, step, RNG; read with torch.load(weights_only=True)); losses.csv and losses.png; samples.png
(EMA generator, fixed latents with 1, 2, 3, 4 objects per column) and alpha.png (each object's visible alpha
in its own colour, background black).

Measured step time, default config, batch 16, on the 2-core CPU while two other trainings ran
(load average 5 to 6):
    python -m synth.train giraffe --steps 20 --out runs/giraffe_time --threads 2 --log-every 5
    -> 2.3 s/step wall (1.6 CPU s/step, both threads; 5-step means 2.2 to 2.5 s)
    single-thread profile of one step (G step 0.29 + D step with R1 and a no-grad G pass 0.14): 0.43 CPU s
so an otherwise idle machine should give about 0.3 to 0.45 s/step: 12,000 steps in 1 to 1.5 hours. On a
busy machine use --threads 1 (two threads wait on each other when one is descheduled).
The losses.csv columns s_per_step and cpu_s_per_step record it for every run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from synth import checkpoint, data
from synth.giraffe.model import (AppearanceDecoder, Discriminator, GiraffeConfig, Generator, Latents,
                                 object_colours, sample_latents)
from synth.training import (LossLog, command_line, plot_losses, resume_training_state, save_training_state,
                            update_ema, write_args, write_grid)

PROG = "python -m synth.train giraffe"

SCALED = ("paper -> here, for a 2-core CPU: 64 ray samples -> n_samples; 128 feature channels -> feat_dim; "
          "10 point frequencies -> n_freq; neural renderer 128 -> render_feat channels; discriminator 64..512 "
          "-> ndf..8 ndf channels; batch 32 -> batch. Kept at the paper's CLEVR sizes: object field 8 x 64 "
          "(z 64), background field 4 x 32 (z 32), 4 view frequencies, 16 x 16 feature image, R1 gamma 10, "
          "EMA 0.999, RMSprop 5e-4 / 1e-4")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="synth.train giraffe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=12000, help="total steps, resumed ones included")
    p.add_argument("--minutes", type=float, default=None, help="also stop after this much wall time (checkpointed)")
    p.add_argument("--out", type=Path, default=None, help="run folder (required for training)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--batch", type=int, default=16, help="paper: 32; 16 for CPU")
    p.add_argument("--lr-g", type=float, default=5e-4, help="RMSprop, as the reference")
    p.add_argument("--lr-d", type=float, default=1e-4)
    p.add_argument("--r1-gamma", type=float, default=10.0)
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the generator weights")
    p.add_argument("--app-weight", type=float, default=0.0,
                   help="weight of the appearance-code term (0: off, the bundled checkpoint's training; "
                        "experimental: a full fine-tune at 1 lost the data's hues, docs/giraffe.md)")
    p.add_argument("--app-dims", type=int, default=3, help="entries of z_a the object's mean colour must predict")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from this folder's trained generator (its config; not with --config)")
    p.add_argument("--d-warmup", type=int, default=200,
                   help="with --init-from and no discriminator there: discriminator-only steps first")
    p.add_argument("--d-optim", choices=["rmsprop", "adam"], default="rmsprop",
                   help="the discriminator's optimiser: RMSprop (the reference's) or Adam (betas 0, 0.99). A fresh "
                        "discriminator against a trained generator learns with Adam at lr 2e-4 and no R1 in about "
                        "600 steps; with RMSprop at 1e-4 and R1 gamma 10 it stayed at D = 0.5 for 1,700 (docs/giraffe.md)")
    p.add_argument("--warmup-r1-gamma", type=float, default=None,
                   help="R1 gamma during the discriminator-only warm-up (default: --r1-gamma)")
    p.add_argument("--config", type=json.loads, default={}, help='GiraffeConfig overrides as JSON, e.g. {"hidden": 32}')
    p.add_argument("--data-root", type=Path, default=data.DATA_ROOT, help="folder holding scenes/train.npz")
    p.add_argument("--max-images", type=int, default=None, help="use only the first N training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--export", nargs=2, type=Path, metavar=("RUN", "DEST"), default=None,
                   help="copy a run's EMA generator, config, pictures and loss log into an asset folder")
    args = p.parse_args(argv)
    if args.export is None and args.out is None:
        p.error("--out is required for training")
    for name in ("steps", "batch", "app_dims"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.app_weight < 0 or args.d_warmup < 0:
        p.error("--app-weight and --d-warmup must be >= 0")
    if args.init_from is not None and args.config:
        p.error("--init-from takes the folder's config; leave out --config")
    return args


def load_scenes(root: Path, limit: int | None) -> np.ndarray:
    try:
        images = data.load("scenes", "train", root=root).images
    except FileNotFoundError as e:
        raise SystemExit(f"{e}\nrender the training scenes first: python -m synth.giraffe.scenes export --n 20000 "
                         f"--out {Path(root) / 'scenes'}") from None
    return images[:limit]


def to_batch(images: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    return data.to_tensor(images[np.sort(idx)])     # uint8 kept in memory; floats per batch only


def r1_penalty(d_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E ||grad_x D(x)||^2 over the batch (x: real images with requires_grad)."""
    (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


OBJECT_COLOURS = torch.tensor([[1.0, 0.25, 0.25], [0.25, 1.0, 0.25], [0.3, 0.5, 1.0], [1.0, 0.9, 0.2],
                               [1.0, 0.3, 1.0], [0.2, 1.0, 1.0], [1.0, 0.6, 0.2], [0.7, 0.7, 0.7]])


def alpha_picture(alpha: torch.Tensor, size: int) -> torch.Tensor:
    """B x (K+1) x h x w visible alphas -> B x 3 x size x size in [-1, 1]: object k in colour k, background black."""
    obj = alpha[:, :-1]
    cols = OBJECT_COLOURS[torch.arange(obj.shape[1]) % len(OBJECT_COLOURS)].to(alpha)
    pic = torch.einsum("bkhw,kc->bchw", obj, cols).clamp(0, 1)
    return F.interpolate(pic, size=(size, size), mode="nearest") * 2 - 1


def appearance_loss(out: dict, lat: Latents, Q: AppearanceDecoder, n_dims: int, min_area: float = 1.0
                    ) -> torch.Tensor:
    """Mean squared error of Q(object's mean colour) against the first n_dims entries of its z_a, over the
    objects that show at least min_area feature pixels. out: the generator's output for lat."""
    colour, area = object_colours(out["image"], out["alpha"].detach())     # B x K x 3, B x K
    ok = lat.exists & (area >= min_area)
    if not ok.any():
        return out["image"].sum() * 0.0
    return F.mse_loss(Q(colour[ok]), lat.z_app[ok][:, :n_dims])


def backward_appearance(out: dict, lat: Latents, G: Generator, Q: AppearanceDecoder, weight: float) -> torch.Tensor:
    """weight x appearance_loss, back-propagated into Q and the colour path only (the object field's feature
    branch and the neural renderer: never a density), keeping the graph for the GAN loss. Returns the loss."""
    loss = appearance_loss(out, lat, Q, Q.net[-1].out_features)
    colour_params = [*G.object_field.feature_branch_parameters(), *G.renderer.parameters()]
    (weight * loss).backward(inputs=[*colour_params, *Q.parameters()], retain_graph=True)
    return loss.detach()


def field_shares(alpha: torch.Tensor, exists: torch.Tensor) -> dict[str, float]:
    """alpha B x (K+1) x h x w (objects, then the background), exists B x K -> "obj_area": mean feature pixels an
    existing object covers (0 when none exists), "bg_alpha": the background's mean share."""
    area = alpha[:, :-1].sum((2, 3))[exists]
    return {"obj_area": float(area.mean()) if len(area) else 0.0, "bg_alpha": float(alpha[:, -1].mean())}


def fixed_latents(cfg: GiraffeConfig, n: int = 16) -> Latents:
    counts = torch.arange(n) % cfg.n_objects + 1
    return sample_latents(cfg, n, torch.Generator().manual_seed(1234), counts)


def train(args: argparse.Namespace, argv: list[str] | None = None) -> Path:
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "state.pt"
    if args.resume and not state_path.exists():
        raise FileNotFoundError(f"--resume: no {state_path}")
    init = checkpoint.read_config(args.init_from) if args.init_from is not None else None  # its config, always
    if init is not None and init.get("model") != "giraffe":
        raise ValueError(f"{args.init_from} holds a {init.get('model')!r} checkpoint, not giraffe")
    cfg = checkpoint.config_from_dict(GiraffeConfig, init["config"] if init else args.config)
    command = command_line(PROG, argv or [])
    write_args(out, args, command=command)

    # 1. models, EMA copy, optimisers (the reference's RMSprop)
    G, D = Generator(cfg), Discriminator(cfg)
    G_ema = Generator(cfg)
    G_ema.load_state_dict(G.state_dict())
    G_ema.eval().requires_grad_(False)
    opt_g = torch.optim.RMSprop(G.parameters(), lr=args.lr_g)
    opt_d = (torch.optim.Adam(D.parameters(), lr=args.lr_d, betas=(0.0, 0.99)) if args.d_optim == "adam"
             else torch.optim.RMSprop(D.parameters(), lr=args.lr_d))
    parts = {"G": G, "G_ema": G_ema, "D": D, "opt_g": opt_g, "opt_d": opt_d}   # state.pt's keys since the start
    Q = AppearanceDecoder(min(args.app_dims, cfg.z_dim)) if args.app_weight > 0 else None
    if Q is not None:
        opt_q = torch.optim.RMSprop(Q.parameters(), lr=args.lr_g)
        parts.update(Q=Q, opt_q=opt_q)
    warmup = 0
    if init is not None and not args.resume:  # on --resume, state.pt has everything
        for net in (G, G_ema):
            checkpoint.load_part(args.init_from, "generator_ema", net)
        if (Path(args.init_from) / "discriminator.safetensors").exists():
            checkpoint.load_part(args.init_from, "discriminator", D)
        else:
            warmup = args.d_warmup
        print(f"initialised from {args.init_from} (step {init.get('step')}); "
              f"{warmup} discriminator-only steps first", flush=True)
    step, wall = 0, 0.0
    if args.resume:
        st = resume_training_state(state_path, parts)
        step, wall = int(st["step"]), float(st["wall"])
        print(f"resumed {out} at step {step} ({wall / 60:.1f} min trained)", flush=True)

    # 2. data: uint8 training renders; batch b's indices depend only on (seed, b), so resuming replays nothing
    images = load_scenes(args.data_root, args.max_images)
    fixed = fixed_latents(cfg)
    # obj_area: feature pixels (of 16 x 16) an existing object covers, mean over the batch; bg_alpha: the
    # background's mean share of the opacity. Objects that vanish (two appearance-term runs lost them) show here.
    cols = ["loss_d", "loss_g", "r1", "d_real", "d_fake", "loss_app", "obj_area", "bg_alpha", "s_per_step",
            "cpu_s_per_step"]
    log = LossLog(out / "losses.csv", cols, args.resume, resume_step=step)

    def save_all():
        with torch.no_grad():
            res = G_ema(fixed)
        write_grid(res["image"], out / "samples.png", nrow=8)
        write_grid(alpha_picture(res["alpha"], cfg.image_size), out / "alpha.png", nrow=8)
        meta = dict(step=step, wall_time_s=round(wall, 1), batch=args.batch, r1_gamma=args.r1_gamma,
                    ema=args.ema, lr_g=args.lr_g, lr_d=args.lr_d, d_optim=args.d_optim,
                    threads=torch.get_num_threads(),
                    app_weight=args.app_weight, app_dims=args.app_dims if Q is not None else 0,
                    init_from=init and f"{Path(args.init_from).name} (step {init.get('step')})",
                    data=f"scenes/train ({len(images)} renders)", scaled=SCALED, command=command)
        checkpoint.save_model(out, "giraffe", cfg, {"generator": G, "generator_ema": G_ema, "discriminator": D},
                              **meta)
        save_training_state(state_path, parts, step=step, wall=wall)
        plot_losses(out / "losses.csv", out / "losses.png", ["loss_d", "loss_g", "r1"])

    def d_step(real: torch.Tensor, r1_gamma: float = args.r1_gamma):
        """Real vs a fresh fake, R1 on the reals."""
        D.requires_grad_(True)
        real.requires_grad_(r1_gamma > 0)
        d_real = D(real)
        r1 = r1_penalty(d_real, real) if r1_gamma > 0 else d_real.sum() * 0.0
        with torch.no_grad():
            fake = G(sample_latents(cfg, args.batch))["image"]
        d_fake = D(fake)
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        (loss_d + r1_gamma / 2 * r1).backward()
        opt_d.step()
        return loss_d, r1, d_real, d_fake

    # 3. loop
    acc, n_acc = {c: 0.0 for c in cols}, 0
    t0, last_ckpt, wall0, step0 = time.time(), time.time(), wall, step
    G.train()
    D.train()
    warm_gamma = args.r1_gamma if args.warmup_r1_gamma is None else args.warmup_r1_gamma
    for i in range(warmup):  # a fresh discriminator learns the trained generator's fakes before G moves
        loss_d, _, d_real, d_fake = d_step(
            to_batch(images, np.random.default_rng([args.seed, 1, i]).integers(0, len(images), args.batch)),
            warm_gamma)
        if (i + 1) % 100 == 0 or i + 1 == warmup:
            print(f"warm-up {i + 1}/{warmup}: loss_d {loss_d.item():.3f} D(real) "
                  f"{torch.sigmoid(d_real).mean().item():.3f} D(fake) {torch.sigmoid(d_fake).mean().item():.3f}",
                  flush=True)
    while step < args.steps:
        t_step, cpu_step = time.time(), time.process_time()
        idx = np.random.default_rng([args.seed, step]).integers(0, len(images), args.batch)
        real = to_batch(images, idx)
        # 3a. generator: non-saturating loss through a frozen discriminator, plus the appearance-code term
        D.requires_grad_(False)
        lat = sample_latents(cfg, args.batch)
        gen = G(lat)
        loss_g = F.softplus(-D(gen["image"])).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_app = torch.zeros(())
        if Q is not None:
            opt_q.zero_grad(set_to_none=True)
            loss_app = backward_appearance(gen, lat, G, Q, args.app_weight)
        loss_g.backward()
        opt_g.step()
        if Q is not None:
            opt_q.step()
        update_ema(G_ema, G, args.ema)
        # 3b. discriminator
        loss_d, r1, d_real, d_fake = d_step(real)

        step += 1
        wall = wall0 + time.time() - t0
        vals = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "r1": r1.item(),
                "d_real": torch.sigmoid(d_real).mean().item(), "d_fake": torch.sigmoid(d_fake).mean().item(),
                "loss_app": loss_app.item(), **field_shares(gen["alpha"].detach(), lat.exists),
                "s_per_step": time.time() - t_step, "cpu_s_per_step": time.process_time() - cpu_step}
        if not all(np.isfinite(v) for v in vals.values()):
            raise FloatingPointError(f"non-finite loss at step {step}: {vals}")
        for c in cols:
            acc[c] += vals[c]
        n_acc += 1
        if step % args.log_every == 0 or step == args.steps:
            log.write(step, {c: acc[c] / n_acc for c in cols})
            if step % (10 * args.log_every) == 0 or step == args.steps:
                print(f"step {step} loss_d {acc['loss_d'] / n_acc:.3f} loss_g {acc['loss_g'] / n_acc:.3f} "
                      f"r1 {acc['r1'] / n_acc:.3f} app {acc['loss_app'] / n_acc:.3f} "
                      f"object {acc['obj_area'] / n_acc:.1f} px bg {acc['bg_alpha'] / n_acc:.2f} "
                      f"{acc['s_per_step'] / n_acc:.2f} s/step "
                      f"({acc['cpu_s_per_step'] / n_acc:.2f} CPU s) {wall / 60:.1f} min",
                      flush=True)
            acc, n_acc = {c: 0.0 for c in cols}, 0
        if step % args.sample_every == 0 or time.time() - last_ckpt > 60 * args.ckpt_minutes:
            save_all()
            last_ckpt = time.time()
        if args.minutes is not None and wall - wall0 > 60 * args.minutes:
            break
    if n_acc:
        log.write(step, {c: acc[c] / n_acc for c in cols})
    save_all()
    print(f"done: {step} steps ({step - step0} this run), {wall / 60:.1f} min in total, checkpoint in {out}",
          flush=True)
    return out


EXPORT_FILES = ("config.json", "samples.png", "alpha.png", "losses.csv", "losses.png", "args.json")


def export(run: Path, dest: Path) -> Path:
    """run -> dest: generator_ema.safetensors (what the app loads), the config and the training record, and a
    TRAINING.md saying how it was made. Optimiser state and the discriminator stay behind."""
    meta = checkpoint.read_config(run)
    if meta.get("model") != "giraffe":
        raise ValueError(f"{run} holds a {meta.get('model')!r} checkpoint, not giraffe")
    record = (
        f"# {Path(dest).name}\n\nGIRAFFE (Niemeyer and Geiger, CVPR 2021) trained on synth.giraffe.scenes "
        f"renders.\n\n"
        f"- command: `{meta.get('command')}`\n- steps: {meta.get('step')} (batch {meta.get('batch')})\n"
        f"- wall time: {meta.get('wall_time_s', 0) / 60:.1f} min on {meta.get('threads')} CPU thread(s)\n"
        f"- data: {meta.get('data')}\n- scaled: {meta.get('scaled')}\n"
        f"- initialised from: {meta.get('init_from') or 'scratch'}; appearance-code term: weight "
        f"{meta.get('app_weight', 0)}, z_a entries {meta.get('app_dims', 0)}\n"
        f"- weights: the EMA generator (beta {meta.get('ema')}); the discriminator is not bundled\n\n"
        f"![samples](samples.png) ![alpha](alpha.png)\n")
    return checkpoint.export(run, dest, ("generator_ema",), EXPORT_FILES, config=meta, record=record)


def main(argv=None) -> Path:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.export is not None:
        return export(*args.export)
    return train(args, argv)


if __name__ == "__main__":
    main()
