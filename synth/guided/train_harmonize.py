"""Train the harmonization network (synth.guided.harmonize) on the photo pool's TRAINING photos.

    python -m synth.train harmonizer --minutes 15 --out runs/harmonizer
    python -m synth.train harmonizer --export runs/harmonizer assets/checkpoints/harmonizer

Self-supervised, as in Tsai et al. 2017: a region of a training crop (the hole shapes of
synth.inpaint.masks.training_mask, grown to regions of 5-40% of the crop) gets its colour and exposure
perturbed (``harmonize.perturb``); the network sees the perturbed composite and the region and is trained with
L2 to give back the original. A run folder gets args.json, model.safetensors + config.json every
``--ckpt-minutes``, state.pt, losses.csv and samples.png (composite, harmonized, original).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from synth import checkpoint
from synth.inpaint import masks
from synth.inpaint.train import RunClock, augment, resume_run, run_flags, save_grid
from synth.inpaint.train_glcic import training_pool
from synth.training import LossLog, command_from_args, save_training_state, write_args

from .harmonize import HarmonizationNet, HarmonizerConfig, perturb


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="synth.train harmonizer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    run_flags(p, steps=100000, batch=16, lr_help="Adam (the paper: SGD)", nf=HarmonizerConfig.nf)
    p.add_argument("--pool", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--export", nargs=2, type=Path, metavar=("RUN", "DEST"), default=None)
    args = p.parse_args(argv)
    if args.export is None and args.out is None:
        p.error("--out is required for training")
    return args


def region_bank(n: int, size: int, seed: int) -> torch.Tensor:
    """Regions to perturb: training holes, grown so each covers 5-40% of the crop."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        m = masks.training_mask(size, size, rng).astype(np.uint8)
        while m.mean() < 0.05:
            m = cv2.dilate(m, np.ones((7, 7), np.uint8))
        if m.mean() <= 0.4:
            out.append(m.astype(bool))
    return torch.from_numpy(np.stack(out))[:, None]


def train(args: argparse.Namespace) -> Path:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = HarmonizerConfig(nf=args.nf)
    write_args(out, args)
    images = torch.from_numpy(training_pool(args.pool, cfg.image_size, args.seed + 1))
    bank = region_bank(2048, cfg.image_size, args.seed + 2).float()
    gen = torch.Generator().manual_seed(args.seed)
    net = HarmonizationNet(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999))
    step, wall = 0, 0.0
    state_path = out / "state.pt"
    if args.resume:
        st = resume_run(state_path, {"net": net, "opt": opt})
        step, wall = int(st["step"]), float(st["wall"])
        gen.set_state(st["gen"])
    fixed = images[:8].permute(0, 3, 1, 2).float().div(127.5).sub(1)
    fixed_region = bank[:8]
    fixed_in = perturb(fixed, fixed_region, torch.Generator().manual_seed(123))
    log = LossLog(out / "losses.csv", ["wall_s", "l2", "l2_paste"], resume=args.resume, fmt="{}",
                  resume_step=step)

    def save_all():
        checkpoint.save_model(out, "harmonizer", cfg, {"model": net}, steps=step, wall_minutes=round(wall / 60, 2),
                              data="photo_pool/train", device="cpu")
        save_training_state(state_path, {"net": net, "opt": opt}, step=step, wall=wall, gen=gen.get_state())
        net.eval()
        with torch.no_grad():
            y = net(fixed_in, fixed_region)
        net.train()
        save_grid(out / "samples.png", [fixed_in, y, fixed])

    clock = RunClock(wall, args.ckpt_minutes, args.minutes)
    net.train()
    while step < args.steps:
        idx = torch.randint(0, len(images), (args.batch,), generator=gen)
        x = augment(images[idx].permute(0, 3, 1, 2).float().div(127.5).sub(1), gen)
        m = bank[torch.randint(0, len(bank), (args.batch,), generator=gen)]
        comp = perturb(x, m, gen)
        y = net(comp, m)
        loss = (y - x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        wall = clock.wall()
        if step % 25 == 0 or step == 1:
            log.write(step, {"wall_s": round(wall, 1), "l2": f"{loss.item():.5f}",
                             "l2_paste": f"{(comp - x).pow(2).mean().item():.5f}"})
        if step % 250 == 0:
            print(f"step {step} l2 {loss.item():.5f} {wall / 60:.1f} min", flush=True)
        clock.checkpoint(save_all)
        if clock.out_of_time(wall):
            break
    save_all()
    log.close()
    print(f"done: {step} steps, {wall / 60:.1f} min, checkpoint in {out}")
    return out


def export(run: Path, dest: Path) -> Path:
    run = Path(run)
    meta = checkpoint.read_config(run)
    args = json.loads((run / "args.json").read_text()) if (run / "args.json").exists() else {}
    cmd = command_from_args("synth.train harmonizer", args)
    record = (f"# {Path(dest).name}\n\nHarmonization network (Tsai et al. 2017 at our scale; config.json).\n\n"
              f"- command: `{cmd}`\n- steps: {meta.get('steps')}\n- wall time: {meta.get('wall_minutes')} min "
              f"on a 2-core CPU\n- data: {args.get('pool')} random crops of the photo pool's training photos, "
              "regions perturbed in colour and exposure (self-supervised)\n"
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
