"""Train guided inpainting (Zhao et al., WACV 2019) on self-supervised triplets from the training photos.

    python -m synth.train guided --steps 6000 --out runs/guided --threads 2
    python -m synth.train guided --steps 6000 --out runs/guided --resume
    python -m synth.train guided --steps 3000 --no-attention --out runs/guided_noattn
    python -m synth.train guided --steps 3000 --no-stn --out runs/guided_nostn
    python -m synth.train guided --export runs/guided assets/checkpoints/guided [--passes 4]

(``python -m synth.guided.train ...`` is the same.)

Every step draws a fresh batch of triplets (synth.guided.triplets: original, hole, guidance built from a
corrupted patch of the original pasted into an unrelated photo) from assets/data/photos/train.npz only.
A run folder gets args.json, model.safetensors + discriminator.safetensors + config.json every
``--ckpt-minutes``, state.pt (optimisers, step, RNG; read with torch.load(weights_only=True)), losses.csv and
samples.png (fixed training triplets; rows: input, guidance with the sampled region (red) and the true patch
(green), aligned patch, attention, output, original).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from synth import checkpoint, data
from synth.inpaint.train import RunClock, resume_run, run_flags  # trained like the Context Encoder
from synth.training import LossLog, save_training_state, write_args

from .display import heat
from .model import (GuidedConfig, GuidedInpainting, PatchDiscriminator, attention_target, box_corners, composite,
                    localisation_loss, map_corners, masked_input, reconstruction_loss)
from .triplets import TripletSource, quad_iou


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="synth.train guided", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    run_flags(p, steps=6000, batch=32, lr_help="Adam 2e-4, beta1 0.5 (DCGAN's)", nf=GuidedConfig.nf)
    p.add_argument("--no-attention", action="store_true", help="ablation: remove the attention branch")
    p.add_argument("--no-stn", action="store_true", help="ablation: no spatial transformer (fixed centre crop)")
    p.add_argument("--lambda-adv", type=float, default=GuidedConfig.lambda_adv)
    p.add_argument("--lambda-loc", type=float, default=GuidedConfig.lambda_loc,
                   help="auxiliary localisation loss (not in the paper; 0 = end to end only)")
    p.add_argument("--lambda-attn", type=float, default=GuidedConfig.lambda_attn,
                   help="auxiliary attention loss (not in the paper; 0 = learnt from the reconstruction only)")
    p.add_argument("--refine", type=int, default=GuidedConfig.refine,
                   help="refinement passes of the transformer on a local cost volume (not in the paper; 0 = none)")
    p.add_argument("--copy-residual", action="store_true",
                   help="the decoder corrects the aligned patch where the attention copies and synthesises where it "
                        "does not, instead of decoding a plain image")
    p.add_argument("--loc-warmup", type=int, default=0,
                   help="first train the transformer alone on the localisation loss for this many steps (cheap)")
    p.add_argument("--snapshot-steps", type=int, nargs="*", default=[],
                   help="also keep the model as it was at these steps in OUT/step_N (same-length ablation comparisons)")
    p.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                   help="also keep the model every N steps in OUT/step_N (0 = only --snapshot-steps)")
    p.add_argument("--init", type=Path, default=None, metavar="FOLDER",
                   help="start the whole generator from FOLDER/model.safetensors (fine-tuning; same config)")
    p.add_argument("--init-loc-from", type=Path, default=None, metavar="FOLDER",
                   help="start the transformer from FOLDER/model.safetensors (e.g. another run's warm-up snapshot)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--workers", type=int, default=0, help="processes making triplets (0: the training process)")
    p.add_argument("--limit-data", type=int, default=None, help="use only the first N training crops (smoke tests)")
    p.add_argument("--crop-pool", type=int, default=0,
                   help="make triplets from a fresh pool of N random crops of the training photos (read from their "
                        "packages) instead of the 1,601 bundled crops; 0 = the bundled crops")
    p.add_argument("--export", nargs=2, type=Path, metavar=("RUN", "DEST"), default=None,
                   help="copy a run's weights (fp16) and config into an asset folder, with TRAINING.md")
    p.add_argument("--passes", type=int, default=None,
                   help="with --export: the exported model runs this many refinement passes (the same weights "
                        "each pass) instead of the number it trained with")
    args = p.parse_args(argv)
    if args.export is None and args.out is None:
        p.error("--out is required for training")
    return args


# ---------------------------------------------------------------------------------------------- data

class Batches(torch.utils.data.IterableDataset):
    """Batch b (b = start, start + 1, ...) holds the triplets whose indices a generator seeded with
    (seed, b) draws: the same batches in the same order with any number of workers, and after --resume."""

    def __init__(self, source: TripletSource, batch: int, start: int, seed: int):
        self.source, self.batch, self.start, self.seed = source, batch, start, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        b = self.start + wid
        while True:
            idx = np.random.default_rng([self.seed, b]).integers(0, 2 ** 31 - 1, self.batch)
            yield to_tensors(self.source.batch(idx))
            b += nw


def to_tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    img = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float().div(127.5).sub(1)  # noqa: E731
    return {"image": img(batch["original"]), "mask": torch.from_numpy(batch["mask"])[:, None].float(),
            "guidance": img(batch["guidance"]), "theta": torch.from_numpy(batch["theta"]),
            "box": torch.from_numpy(batch["patch_box"]), "gap": torch.from_numpy(batch["gap"])[:, None].float()}


# ---------------------------------------------------------------------------------------------- pictures

def draw_quad(image: np.ndarray, quad: np.ndarray, colour) -> np.ndarray:
    import cv2

    out = np.ascontiguousarray(image.copy())
    cv2.polylines(out, [np.round(np.asarray(quad) - 0.5).astype(np.int32)], True, colour, 1)
    return out


def sample_grid(G: GuidedInpainting, batch: dict[str, torch.Tensor]) -> np.ndarray:
    import cv2

    cfg = G.cfg
    x, m, g = batch["image"], batch["mask"], batch["guidance"]
    G.eval()
    with torch.no_grad():
        out = G(masked_input(x, m), m, g)
    G.train()
    corners = box_corners(batch["box"])
    pred_q = map_corners(out["theta"], corners, cfg.image_size, cfg.guide_size).cpu().numpy()
    true_q = map_corners(batch["theta"], corners, cfg.image_size, cfg.guide_size).cpu().numpy()
    inp = data.to_uint8(masked_input(x, m).cpu())
    inp[m[:, 0].bool().cpu().numpy()] = (255, 0, 255)
    guides = data.to_uint8(g.cpu())
    s = cfg.image_size
    gd = [cv2.resize(draw_quad(draw_quad(gi, tq, (0, 255, 0)), pq, (255, 0, 0)), (s, s),
                     interpolation=cv2.INTER_AREA) for gi, tq, pq in zip(guides, true_q, pred_q)]
    att = [heat(a) for a in out["attention"][:, 0].cpu().numpy()]
    rows = [inp, np.stack(gd), data.to_uint8(out["aligned"].cpu()), np.stack(att),
            data.to_uint8(composite(out["pred"], x, m).cpu()), data.to_uint8(x.cpu())]
    return np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)


def batch_iou(theta: torch.Tensor, theta_true: torch.Tensor, boxes: torch.Tensor, cfg: GuidedConfig) -> np.ndarray:
    c = box_corners(boxes)
    a = map_corners(theta.detach(), c, cfg.image_size, cfg.guide_size).cpu().numpy()
    b = map_corners(theta_true, c, cfg.image_size, cfg.guide_size).cpu().numpy()
    return np.array([quad_iou(p, q) for p, q in zip(a, b)])


# ---------------------------------------------------------------------------------------------- steps

def stages_loss(thetas: list[torch.Tensor], b: dict, cfg: GuidedConfig) -> torch.Tensor:
    """The localisation loss of every estimate, coarse to fine (the refinement passes' too), summed."""
    return sum(localisation_loss(t, b["theta"], b["box"], cfg) for t in thetas)


def warmup_step(G: GuidedInpainting, opt_g, b: dict, cfg: GuidedConfig) -> tuple[dict, torch.Tensor]:
    """The transformer alone (with its refinement passes), on the auxiliary localisation loss (cheap: no
    decoder, no critic)."""
    thetas = G.localise(masked_input(b["image"], b["mask"]), b["mask"], b["guidance"])
    loss = stages_loss(thetas, b, cfg)
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return {"loc": localisation_loss(thetas[-1], b["theta"], b["box"], cfg).item()}, thetas[-1]


def train_step(G: GuidedInpainting, D: PatchDiscriminator, opt_g, opt_d, b: dict, cfg: GuidedConfig
               ) -> tuple[dict, torch.Tensor]:
    bce = F.binary_cross_entropy_with_logits
    x, m, g = b["image"], b["mask"], b["guidance"]
    res = G(masked_input(x, m), m, g)
    pred = res["pred"]
    # 1. critic: real photos vs completed images, one logit per patch
    real_logit, fake_logit = D(x), D(composite(pred.detach(), x, m))
    d_loss = bce(real_logit, torch.ones_like(real_logit)) + bce(fake_logit, torch.zeros_like(fake_logit))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    # 2. generator: reconstruction + adversarial (+ the auxiliary localisation and attention losses)
    rec = reconstruction_loss(pred, x, m, cfg.overlap, cfg.overlap_weight)
    g_logit = D(composite(pred, x, m))
    adv = bce(g_logit, torch.ones_like(g_logit))
    loss = cfg.lambda_rec * rec + cfg.lambda_adv * adv
    out = {"rec": rec.item(), "adv_g": adv.item(), "d_loss": d_loss.item()}
    if cfg.use_stn and cfg.lambda_loc > 0:
        loss = loss + cfg.lambda_loc * stages_loss(res["thetas"], b, cfg)
        out["loc"] = localisation_loss(res["theta"], b["theta"], b["box"], cfg).item()
    if cfg.use_attention and cfg.lambda_attn > 0:
        a16 = res["attention16"]
        attn = F.binary_cross_entropy(a16, attention_target(b["gap"], a16.shape[-1]))
        loss = loss + cfg.lambda_attn * attn
        out["attn"] = attn.item()
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return out, res["theta"]


# ---------------------------------------------------------------------------------------------- training

def train(args: argparse.Namespace) -> Path:
    from PIL import Image

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = GuidedConfig(nf=args.nf, use_stn=not args.no_stn, use_attention=not args.no_attention,
                       lambda_adv=args.lambda_adv, lambda_loc=args.lambda_loc if not args.no_stn else 0.0,
                       lambda_attn=args.lambda_attn if not args.no_attention else 0.0,
                       refine=args.refine if not args.no_stn else 0, copy_residual=args.copy_residual)
    variant = "full" if cfg.use_stn and cfg.use_attention else "+".join(
        (["no-stn"] if not cfg.use_stn else []) + (["no-attention"] if not cfg.use_attention else []))
    write_args(out, args)

    # 1. models and optimisers
    G = GuidedInpainting(cfg).to(device)
    D = PatchDiscriminator(cfg).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
    if args.init is not None and not args.resume:
        checkpoint.load_part(args.init, "model", G)
        G.float()
        print(f"generator initialised from {args.init}", flush=True)
    if args.init_loc_from is not None and not args.resume:
        if G.loc is None:
            raise ValueError("--init-loc-from: this model has no transformer (--no-stn)")
        from safetensors.torch import load_file

        w = load_file(str(Path(args.init_loc_from) / "model.safetensors"))
        n = 0
        for prefix, part in (("loc.", G.loc), ("refiner.", G.refiner)):
            if part is None:
                continue
            sd = {k[len(prefix):]: v.float() for k, v in w.items() if k.startswith(prefix)}
            part.load_state_dict(sd)
            n += len(sd)
        print(f"transformer initialised from {args.init_loc_from} ({n} tensors)", flush=True)
    step, wall = 0, 0.0
    state_path = out / "state.pt"
    if args.resume:
        st = resume_run(state_path, {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d})
        step, wall = int(st["step"]), float(st["wall"])

    # 2. data: training photos only; fresh triplets every step
    pool = data.training_crop_pool(args.crop_pool, seed=args.seed + 1, with_labels=True) if args.crop_pool else (None, None)
    source = TripletSource("train", seed=args.seed, limit=args.limit_data, images=pool[0], labels=pool[1])
    spread = [i * max(1, len(source) // 8) + 7 for i in range(8)]   # eight different photos where there are
    fixed = {k: v.to(device) for k, v in to_tensors(source.batch(spread)).items()}
    loader = torch.utils.data.DataLoader(Batches(source, args.batch, step, args.seed), batch_size=None,
                                         num_workers=args.workers, persistent_workers=args.workers > 0,
                                         prefetch_factor=4 if args.workers > 0 else None)

    columns = ["rec", "adv_g", "d_loss", "loc", "attn"]
    log = LossLog(out / "losses.csv", ["wall_s", *columns, "iou_median"], resume=args.resume, fmt="{}",
                  resume_step=step)

    def save_all():
        checkpoint.save_model(out, "guided", cfg, {"model": G, "discriminator": D}, variant=variant, steps=step,
                              wall_minutes=round(wall / 60, 2), data="photos/train (self-supervised triplets)",
                              device=str(device), batch=args.batch)
        save_training_state(state_path, {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d}, step=step, wall=wall)
        Image.fromarray(sample_grid(G, fixed)).save(out / "samples.png")

    # 3. loop
    clock = RunClock(wall, args.ckpt_minutes, args.minutes)
    G.train()
    D.train()
    for batch in loader:
        if step >= args.steps:
            break
        b = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        if cfg.use_stn and step < args.loc_warmup:
            losses, theta = warmup_step(G, opt_g, b, cfg)
        else:
            losses, theta = train_step(G, D, opt_g, opt_d, b, cfg)
        step += 1
        wall = clock.wall()
        if step % 50 == 0 or step == 1:
            iou = float(np.median(batch_iou(theta, b["theta"], b["box"], cfg)))
            log.write(step, {"wall_s": round(wall, 1), "iou_median": f"{iou:.3f}",
                             **{k: f"{losses[k]:.5f}" if k in losses else "" for k in columns}})
            if step % 500 == 0 or step == 1:
                print(f"step {step} " + " ".join(f"{k} {v:.4f}" for k, v in losses.items())
                      + f" iou {iou:.2f} {wall / 60:.1f} min", flush=True)
        if step in args.snapshot_steps or (args.snapshot_every and step % args.snapshot_every == 0):
            checkpoint.save_model(out / f"step_{step}", "guided", cfg, {"model": G}, variant=variant, steps=step,
                                  wall_minutes=round(wall / 60, 2), device=str(device), batch=args.batch)
        clock.checkpoint(save_all)
        if clock.out_of_time(wall):
            break
    save_all()
    log.close()
    print(f"done: {step} steps, {wall / 60:.1f} min, checkpoint in {out}", flush=True)
    return out


# ---------------------------------------------------------------------------------------------- export

def export(run: Path, dest: Path, command: str | None = None, notes: str = "", passes: int | None = None) -> Path:
    """run folder -> dest/model.safetensors (fp16), config.json, TRAINING.md, samples.png, losses.csv.
    ``passes``: the exported config's refinement passes (inference only; the weights are shared by all passes)."""
    run = Path(run)
    meta = checkpoint.read_config(run)
    if passes is not None:
        if not meta["config"].get("refine"):
            raise ValueError(f"--passes: {run} has no refinement passes to repeat (trained with --refine 0)")
        meta["trained_refine"] = meta["config"]["refine"]
        meta["config"]["refine"] = passes
    args = json.loads((run / "args.json").read_text()) if (run / "args.json").exists() else {}
    flags = [f"--{k.replace('_', '-')}" + ("" if v is True else " " + (" ".join(map(str, v)) if isinstance(v, list)
                                                                          else str(v)))
             for k, v in args.items() if v not in (None, False, []) and k != "export"]
    cmd = command or "python -m synth.train guided " + " ".join(flags)
    record = (
        f"# {Path(dest).name}\n\nGuided inpainting (Zhao et al. 2019), variant `{meta.get('variant')}`.\n\n"
        f"- command: `{cmd}`\n- steps: {meta.get('steps')} (batch {meta.get('batch')})\n"
        f"- wall time: {meta.get('wall_minutes')} min on {meta.get('device')}\n"
        f"- data: self-supervised triplets from assets/data/photos/train.npz (training photos only)\n"
        f"- then: `python -m synth.train guided --export {run} {dest}"
        + (f" --passes {passes}`\n- runs {passes} refinement passes (trained with {meta['trained_refine']}; the same "
           f"weights each pass)\n" if passes is not None else "`\n") +
        f"- weights stored as float16 (trained in float32); the discriminator is not bundled\n\n"
        f"![samples](samples.png)\n" + (f"\n{notes.strip()}\n" if notes else ""))
    return checkpoint.export(run, dest, ("model",), files=("samples.png", "losses.csv", "args.json"), half=True,
                             config=meta, record=record)


def main(argv=None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.export is not None:
        export(*args.export, passes=args.passes)
    else:
        train(args)


if __name__ == "__main__":
    main()
