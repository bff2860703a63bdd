"""Train GLCIC (synth.inpaint.glcic) on random crops of the photo pool's TRAINING photos.

    python -m synth.train glcic --minutes 70 --out runs/glcic
    python -m synth.train glcic --minutes 20 --out runs/glcic --resume
    python -m synth.train glcic --export runs/glcic assets/checkpoints/glcic

Holes are drawn from the mixture people paint (``synth.inpaint.masks.training_mask``: squares of any size
and place, rectangles at the border, free-form strokes thin to thick, several holes, blobs); the paper used
random rectangles. Phases as in the paper (section 3.3): ``--tc`` steps of hole MSE alone, then ``--td``
steps training the discriminators alone, then both with MSE + alpha * GAN loss. Augmentation: the Context
Encoder trainer's random zoom, shift, flip and colour jitter.

A run folder gets args.json, model.safetensors + discriminator.safetensors + config.json every
``--ckpt-minutes``, state.pt (optimisers, step, RNG; read with weights_only=True), losses.csv and samples.png
(fixed training crops: input, completion, original).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from synth import checkpoint
from synth.training import LossLog, command_from_args, save_training_state, write_args

from . import masks
from .glcic import CompletionNetwork, Discriminators, GLCICConfig, crop_boxes, hole_log_mse, hole_mse, local_boxes
from .train import RunClock, augment, resume_run, run_flags, save_grid


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="synth.train glcic", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    run_flags(p, steps=100000, batch=16, lr_help="Adam; the paper used Adadelta", nf=GLCICConfig.nf)
    p.add_argument("--tc", type=int, default=4000, help="steps of MSE alone (paper: 90,000)")
    p.add_argument("--td", type=int, default=300, help="then steps of the discriminators alone (paper: 10,000)")
    p.add_argument("--prefill", choices=("telea", "pushpull", "mean"), default=GLCICConfig.prefill)
    p.add_argument("--size", type=int, default=GLCICConfig.image_size, help="training crop side (px)")
    p.add_argument("--pool", type=int, default=8000, help="random crops of the training photos to train on")
    p.add_argument("--masks", type=int, default=4096, help="training holes drawn once, then flipped and turned")
    p.add_argument("--loss", choices=("mse", "logmse"), default="logmse",
                   help="reconstruction loss: the paper's MSE over the batch's hole pixels, or the mean over images "
                        "of log(MSE in the image's hole) (mean PSNR: small holes count as much as big ones)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--export", nargs=2, type=Path, metavar=("RUN", "DEST"), default=None,
                   help="copy a run's completion network (fp16) and config into an asset folder, with TRAINING.md")
    args = p.parse_args(argv)
    if args.export is None and args.out is None:
        p.error("--out is required for training")
    return args


def training_pool(n: int, size: int, seed: int, min_frac: float = 0.45) -> np.ndarray:
    """n random size x size crops of the photo pool's training photos (synth.photo_pool; never held-out),
    each at least ``min_frac`` of its photo's short side (the training photos are stored at 384 px: crops of
    128 px and more are never enlarged)."""
    from synth import photo_pool

    crops, _ = photo_pool.crop_pool(n, size, seed=seed, split="train", min_frac=min_frac)
    return crops


def mask_bank(n: int, size: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([masks.training_mask(size, size, rng) for _ in range(n)]))[:, None]


def train(args: argparse.Namespace) -> Path:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = GLCICConfig(image_size=args.size, nf=args.nf, prefill=args.prefill)
    write_args(out, args)

    t0 = time.time()
    images = torch.from_numpy(training_pool(args.pool, cfg.image_size, args.seed + 1))
    bank = mask_bank(args.masks, cfg.image_size, args.seed + 2)
    print(f"data: {len(images)} crops, {len(bank)} holes ({time.time() - t0:.0f} s)", flush=True)
    gen = torch.Generator().manual_seed(args.seed)

    G, D = CompletionNetwork(cfg), Discriminators(cfg)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
    step, wall = 0, 0.0
    state_path = out / "state.pt"
    if args.resume:
        st = resume_run(state_path, {"G": G, "opt_g": opt_g, "D": D, "opt_d": opt_d})
        step, wall = int(st["step"]), float(st["wall"])
        gen.set_state(st["gen"])
        for opt in (opt_g, opt_d):          # --lr applies to the resumed run too (the state holds the old one)
            for group in opt.param_groups:
                group["lr"] = args.lr

    fixed = images[:8].permute(0, 3, 1, 2).float().div(127.5).sub(1)
    fixed_mask = bank[:8].float()
    log = LossLog(out / "losses.csv", ["wall_s", "mse", "adv_g", "d_loss"], resume=args.resume, fmt="{}",
                  resume_step=step)
    half = cfg.image_size // 2

    def save_all():
        checkpoint.save_model(out, "glcic", cfg, {"model": G, "discriminator": D}, steps=step,
                              wall_minutes=round(wall / 60, 2), data="photo_pool/train", tc=args.tc, td=args.td,
                              device="cpu")
        save_training_state(state_path, {"G": G, "opt_g": opt_g, "D": D, "opt_d": opt_d}, step=step, wall=wall,
                            gen=gen.get_state())
        G.eval()
        with torch.no_grad():
            pred = G(fixed, fixed_mask)
        G.train()
        m = fixed_mask.float()
        save_grid(out / "samples.png", [fixed * (1 - m) + m, pred * m + fixed * (1 - m), fixed])

    clock = RunClock(wall, args.ckpt_minutes, args.minutes)
    bce = torch.nn.BCEWithLogitsLoss()
    G.train()
    D.train()
    while step < args.steps:
        idx = torch.randint(0, len(images), (args.batch,), generator=gen)
        x = augment(images[idx].permute(0, 3, 1, 2).float().div(127.5).sub(1), gen)
        m = bank[torch.randint(0, len(bank), (args.batch,), generator=gen)].float()
        k = int(torch.randint(0, 8, (1,), generator=gen))
        m = torch.rot90(m, k % 4, (2, 3))
        m = m.flip(3) if k >= 4 else m
        mse_only = step < args.tc
        d_only = args.tc <= step < args.tc + args.td
        pred = G(x, m) if not d_only else G(x, m).detach()
        mse = hole_mse(pred, x, m)
        rec = hole_log_mse(pred, x, m) if args.loss == "logmse" else mse
        d_loss = adv_g = torch.zeros(())
        if not mse_only:
            # discriminators: real crops vs completions, each with its local patch around the hole
            boxes = local_boxes(m, half)
            fake = pred.detach() * m + x * (1 - m)
            real_logit = D(x, crop_boxes(x, boxes, half))
            fake_logit = D(fake, crop_boxes(fake, boxes, half))
            d_loss = bce(real_logit, torch.ones_like(real_logit)) + bce(fake_logit, torch.zeros_like(fake_logit))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        if not d_only:
            loss = rec
            if not mse_only:
                comp = pred * m + x * (1 - m)
                g_logit = D(comp, crop_boxes(comp, boxes, half))
                adv_g = bce(g_logit, torch.ones_like(g_logit))
                loss = rec + cfg.alpha * adv_g
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
        step += 1
        wall = clock.wall()
        if step % 25 == 0 or step == 1:
            log.write(step, {"wall_s": round(wall, 1), "mse": f"{mse.item():.5f}", "adv_g": f"{adv_g.item():.4f}",
                             "d_loss": f"{d_loss.item():.4f}"})
        if step % 250 == 0:
            print(f"step {step} mse {mse.item():.4f} adv {adv_g.item():.3f} d {d_loss.item():.3f} "
                  f"{wall / 60:.1f} min", flush=True)
        clock.checkpoint(save_all)
        if clock.out_of_time(wall):
            break
    save_all()
    log.close()
    print(f"done: {step} steps, {wall / 60:.1f} min, checkpoint in {out}")
    return out


def export(run: Path, dest: Path) -> Path:
    """run folder -> dest/model.safetensors (fp16), config.json, TRAINING.md, samples.png, losses.csv."""
    run = Path(run)
    meta = checkpoint.read_config(run)
    args = json.loads((run / "args.json").read_text()) if (run / "args.json").exists() else {}
    cmd = command_from_args("synth.train glcic", args)
    record = (f"# {Path(dest).name}\n\nGLCIC completion network (Iizuka et al. 2017), scaled for a CPU "
              f"(config.json).\n\n- command: `{cmd}` (then `--resume` runs with the same flags)\n"
              f"- steps: {meta.get('steps')} (MSE alone to step {meta.get('tc')}, discriminators alone for "
              f"{meta.get('td')}, then joint)\n- wall time: {meta.get('wall_minutes')} min on a 2-core CPU\n"
              f"- data: {args.get('pool')} random {args.get('size')}x{args.get('size')} crops of the photo pool's "
              f"training photos (assets/data/photo_pool; no held-out photo is opened)\n"
              "- weights stored as float16 (trained in float32)\n\n![samples](samples.png)\n")
    return checkpoint.export(run, dest, ("model",), files=("samples.png", "losses.csv"), half=True, record=record)


def main(argv=None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.export is not None:
        export(*args.export)
    else:
        train(args)


if __name__ == "__main__":
    main()
