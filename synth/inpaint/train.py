"""Train a Context Encoder on the bundled photos (training split only).

    python -m synth.train context_encoder --variant l2 --steps 20000 --out runs/ce_l2
    python -m synth.train context_encoder --variant l2adv --steps 20000 --out runs/ce_l2adv [--resume]
    python -m synth.train context_encoder --variant random --minutes 20 --out runs/ce_random
    python -m synth.train context_encoder --export runs/ce_l2 assets/checkpoints/context_encoder_l2

(``python -m synth.inpaint.train ...`` is the same.)

Variants: ``l2`` (central hole, reconstruction loss only), ``l2adv`` (central hole, the paper's joint loss
0.999 L_rec + 0.001 L_adv), ``random`` (random blocks and regions, joint loss, mask as an input channel),
``any`` (as ``random``, on the holes people paint: ``masks.training_mask``, strokes included).
Augmentation on every batch: random scale (zoom 1x..1.6x), shift and horizontal flip of the 64x64 crops,
contrast/brightness jitter and, for a quarter of the crops, swapped colour channels (only 17 training photos).

A run folder gets args.json, model.safetensors (+ discriminator.safetensors) and config.json every
``--ckpt-minutes``, state.pt (optimisers, step, RNG; read with torch.load(weights_only=True)), losses.csv and
samples.png (fixed training crops: input, output, original).
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
from synth.training import LossLog, resume_training_state, save_training_state, write_args

from . import masks
from .context_encoder import (ContextEncoder, ContextEncoderConfig, Discriminator, composite, masked_input,
                              reconstruction_loss)

VARIANTS = {
    # variant: (mask kind, lambda_adv, mask_channel)
    "l2": ("central", 0.0, False),
    "l2adv": ("central", 0.001, False),
    "random": ("random", 0.001, True),
    "any": ("any", 0.001, True),      # the holes people paint (masks.training_mask), for any-hole tiling
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="synth.train context_encoder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", choices=sorted(VARIANTS), default="l2")
    run_flags(p, steps=20000, batch=64, lr_help="paper: Adam 2e-4, beta1 0.5", nf=ContextEncoderConfig.nf)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--device", default="auto")
    p.add_argument("--limit-data", type=int, default=None, help="use only the first N training crops (smoke tests)")
    p.add_argument("--crop-pool", type=int, default=0,
                   help="train on a fresh pool of N random crops of the training photos (read from their "
                        "packages) instead of the 1,601 bundled crops; 0 = the bundled crops")
    p.add_argument("--photo-pool", type=int, default=0,
                   help="train on N random crops of the photo pool's training photos (synth.photo_pool); "
                        "0 = the bundled crops or --crop-pool")
    p.add_argument("--init", type=Path, default=None,
                   help="start the encoder-decoder from this checkpoint folder's weights (fine-tuning)")
    p.add_argument("--export", nargs=2, type=Path, metavar=("RUN", "DEST"), default=None,
                   help="copy a run's weights (fp16) and config into an asset folder, with TRAINING.md")
    args = p.parse_args(argv)
    if args.export is None and args.out is None:
        p.error("--out is required for training")
    return args


def run_flags(p: argparse.ArgumentParser, steps: int, batch: int, lr_help: str, nf: int) -> None:
    """--steps, --minutes, --out, --resume, --batch, --lr, --nf: the run flags of both inpainting trainers
    (this one and synth.guided.train)."""
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--minutes", type=float, default=None, help="stop after this much wall time (checkpointed)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--lr", type=float, default=2e-4, help=lr_help)
    p.add_argument("--nf", type=int, default=nf)


def resume_run(state_path: Path, parts: dict) -> dict:
    """--resume: state.pt loaded into ``parts`` (synth.training.resume_training_state), or a clear error."""
    if not state_path.exists():
        raise FileNotFoundError(f"--resume: no {state_path}")
    return resume_training_state(state_path, parts)


class RunClock:
    """A run's wall time across --resume, its checkpoints every --ckpt-minutes and its --minutes limit."""

    def __init__(self, wall: float, ckpt_minutes: float, minutes: float | None):
        self.wall0, self.ckpt_s = wall, ckpt_minutes * 60
        self.limit_s = None if minutes is None else minutes * 60
        self.t0 = self.last_ckpt = time.time()

    def wall(self) -> float:
        return self.wall0 + time.time() - self.t0

    def checkpoint(self, save) -> None:
        """save() when --ckpt-minutes have passed since the last checkpoint."""
        if time.time() - self.last_ckpt > self.ckpt_s:
            save()
            self.last_ckpt = time.time()

    def out_of_time(self, wall: float) -> bool:
        return self.limit_s is not None and wall - self.wall0 > self.limit_s


# ---------------------------------------------------------------------------------------------- data

def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random zoom (1..1.6x), shift inside the crop and horizontal flip, one affine warp per image."""
    n = x.shape[0]
    r = torch.rand(n, 4, generator=gen, device=x.device)
    s = 1.0 / (1.0 + 0.6 * r[:, 0])                                # fraction of the crop kept
    flip = torch.where(r[:, 1] < 0.5, -1.0, 1.0)
    tx, ty = (1 - s) * (2 * r[:, 2] - 1), (1 - s) * (2 * r[:, 3] - 1)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 1, 1] = s * flip, s
    theta[:, 0, 2], theta[:, 1, 2] = tx, ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # colour: contrast and brightness +-10%, and for a quarter of the crops a permutation of R, G, B
    c = torch.rand(n, 3, generator=gen, device=x.device)
    x = x * (0.9 + 0.2 * c[:, 0, None, None, None]) + (0.2 * c[:, 1, None, None, None] - 0.1)
    perm = torch.randperm(3, generator=gen, device=x.device)
    x = torch.where(c[:, 2, None, None, None] < 0.25, x[:, perm], x)
    return x.clamp(-1, 1)


def mask_bank(kind: str, size: int, n: int, seed: int) -> torch.Tensor:
    """n masks (N x 1 x S x S bool). 'random' alternates random blocks and random regions."""
    if kind == "central":
        m = masks.central(size, size)[None]
    elif kind == "any":
        rng = np.random.default_rng(seed)
        m = np.stack([masks.training_mask(size, size, rng) for _ in range(n)])
    else:
        gen = [masks.random_block, masks.random_region]
        m = np.stack([gen[i % 2](size, size, seed=seed + i) for i in range(n)])
    return torch.from_numpy(m)[:, None]


# ---------------------------------------------------------------------------------------------- training

def save_grid(path: Path, rows: list[torch.Tensor]) -> None:
    from PIL import Image

    imgs = [data.to_uint8(r) for r in rows]                        # each N x S x S x 3
    grid = np.concatenate([np.concatenate(list(r), axis=1) for r in imgs], axis=0)
    Image.fromarray(grid).save(path)


def train(args: argparse.Namespace) -> Path:
    kind, lambda_adv, mask_channel = VARIANTS[args.variant]
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = ContextEncoderConfig(nf=args.nf, mask_channel=mask_channel, lambda_adv=lambda_adv,
                               lambda_rec=0.999 if lambda_adv > 0 else 1.0)
    write_args(out, args)

    # 1. data: training split only, on the device as uint8
    if args.photo_pool:
        from synth import photo_pool

        # crops of a quarter of the short side and up: the 320 px training photos are not enlarged much
        crops = photo_pool.crop_pool(args.photo_pool, cfg.image_size, seed=args.seed + 1, split="train",
                                     min_frac=0.25)[0]
    elif args.crop_pool:
        crops = data.training_crop_pool(args.crop_pool, cfg.image_size, seed=args.seed + 1)
    else:
        crops = data.load("photos", "train").images
    images = torch.from_numpy(crops[:args.limit_data]).to(device)
    bank = mask_bank(kind, cfg.image_size, 4096 if kind != "central" else 1, args.seed).to(device)
    gen = torch.Generator(device=device).manual_seed(args.seed)

    # 2. models and optimisers (paper: Adam, beta1 0.5)
    G = ContextEncoder(cfg).to(device)
    D = Discriminator(cfg).to(device) if lambda_adv > 0 else None
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999)) if D is not None else None
    if args.init is not None:
        init_cfg = checkpoint.read_config(args.init)["config"]
        if init_cfg.get("nf", cfg.nf) != cfg.nf or bool(init_cfg.get("mask_channel")) != mask_channel:
            raise ValueError(f"--init {args.init}: nf/mask channel differ from this run's")
        checkpoint.load_part(args.init, "model", G)
        print(f"initialised from {args.init}")
    step, wall = 0, 0.0
    state_path = out / "state.pt"
    if args.resume:
        st = resume_run(state_path, {"G": G, "opt_g": opt_g, "D": D, "opt_d": opt_d})
        step, wall = int(st["step"]), float(st["wall"])
        gen.set_state(st["gen"].to(gen.get_state().device) if device.type == "cpu" else st["gen"])

    fixed = images[:8].permute(0, 3, 1, 2).float().div(127.5).sub(1)
    fixed_mask = bank[torch.arange(len(fixed), device=device) % len(bank)]
    log = LossLog(out / "losses.csv", ["wall_s", "rec", "adv_g", "d_loss"], resume=args.resume, fmt="{}",
                  resume_step=step)

    def save_all():
        parts = {"model": G} | ({"discriminator": D} if D is not None else {})
        checkpoint.save_model(out, "context_encoder", cfg, parts, mask_kind=kind, variant=args.variant,
                              steps=step, wall_minutes=round(wall / 60, 2), device=str(device),
                              data="photo_pool/train" if args.photo_pool else "photos/train")
        # the keys of the runs made before synth.training existed: G, opt_g, D, opt_d, step, wall, gen, rng
        save_training_state(state_path, {"G": G, "opt_g": opt_g, "D": D, "opt_d": opt_d}, step=step, wall=wall,
                            gen=gen.get_state())
        G.eval()
        with torch.no_grad():
            pred = G(masked_input(fixed, fixed_mask), fixed_mask)
        G.train()
        save_grid(out / "samples.png", [masked_input(fixed, fixed_mask), composite(pred, fixed, fixed_mask), fixed])

    # 3. loop
    clock = RunClock(wall, args.ckpt_minutes, args.minutes)
    bce = torch.nn.BCEWithLogitsLoss()
    G.train()
    while step < args.steps:
        idx = torch.randint(0, len(images), (args.batch,), device=device, generator=gen)
        x = augment(images[idx].permute(0, 3, 1, 2).float().div(127.5).sub(1), gen)    # N x 3 x 64 x 64
        m = bank[torch.randint(0, len(bank), (args.batch,), device=device, generator=gen)]
        if kind != "central":  # more shapes from the bank: random flips and quarter turns
            m = torch.rot90(m, int(torch.randint(0, 4, (1,), generator=gen, device=device)), (2, 3))
        pred = G(masked_input(x, m), m)
        d_loss = torch.zeros(())
        adv_g = torch.zeros(())
        # 3a. critic: real photos vs completed images
        if D is not None:
            fake = composite(pred.detach(), x, m)
            real_logit, fake_logit = D(x), D(fake)
            d_loss = bce(real_logit, torch.ones_like(real_logit)) + bce(fake_logit, torch.zeros_like(fake_logit))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        # 3b. generator: joint loss lambda_rec * L_rec + lambda_adv * L_adv
        rec = reconstruction_loss(pred, x, m, cfg.overlap, cfg.overlap_weight)
        loss = cfg.lambda_rec * rec
        if D is not None:
            g_logit = D(composite(pred, x, m))
            adv_g = bce(g_logit, torch.ones_like(g_logit))
            loss = loss + cfg.lambda_adv * adv_g
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        step += 1
        wall = clock.wall()
        if step % 50 == 0 or step == 1:
            log.write(step, {"wall_s": round(wall, 1), "rec": f"{rec.item():.5f}", "adv_g": f"{adv_g.item():.4f}",
                             "d_loss": f"{d_loss.item():.4f}"})
        if step % 500 == 0:
            print(f"step {step} rec {rec.item():.4f} adv {adv_g.item():.3f} d {d_loss.item():.3f} "
                  f"{wall / 60:.1f} min", flush=True)
        clock.checkpoint(save_all)
        if clock.out_of_time(wall):
            break
    save_all()
    log.close()
    print(f"done: {step} steps, {wall / 60:.1f} min, checkpoint in {out}")
    return out


# ---------------------------------------------------------------------------------------------- export

def export(run: Path, dest: Path, command: str | None = None) -> Path:
    """run folder -> dest/model.safetensors (fp16), config.json, TRAINING.md, samples.png."""
    run = Path(run)
    meta = checkpoint.read_config(run)
    args = json.loads((run / "args.json").read_text()) if (run / "args.json").exists() else {}
    cmd = command or "python -m synth.train context_encoder " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in args.items() if v not in (None, False) and k != "export")
    pool = int(args.get("crop_pool") or 0)
    source = (f"{args['photo_pool']:,} random 64x64 crops of the photo pool's training photos "
              "(assets/data/photo_pool; no held-out photo is opened)" if args.get("photo_pool") else
              f"a fresh pool of {pool:,} random 64x64 crops of the training photos, read from their packages "
              "(`--crop-pool`; no held-out photo is opened)" if pool else
              "assets/data/photos/train.npz (training photos only)")
    init = f"- initialised from: `{args['init']}` (its earlier training is listed below)\n" if args.get("init") else ""
    record = (f"# {Path(dest).name}\n\nContext Encoder, variant `{meta.get('variant')}` (mask: {meta.get('mask_kind')}).\n\n"
              f"- command: `{cmd}`\n{init}- steps: {meta.get('steps')}\n- wall time: {meta.get('wall_minutes')} min "
              f"on {meta.get('device')}\n- data: {source}\n"
              f"- weights stored as float16 (trained in float32)\n\n![samples](samples.png)\n")
    return checkpoint.export(run, dest, ("model",), files=("samples.png",), half=True, record=record)


def main(argv=None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.export is not None:
        export(*args.export)
    else:
        train(args)


if __name__ == "__main__":
    main()
