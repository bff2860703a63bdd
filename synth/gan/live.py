"""Live GAN training for the lecture's training slides: a small GAN learns digits while the class watches.

Each browser session owns one `LiveGAN` (G and D, their optimisers, a fixed noise batch) trained in a background
thread by a `LivePool`, which runs at most `max_running` trainings at once and tells the next visitor to wait.
The tab polls `LivePool.snapshot(key)` about once a second: J(D) and J(G) so far, D's outputs on the current
real and fake batches, and the fixed-noise sample grid.

    pool = LivePool(max_running=2)
    pool.start("session-key", LiveSettings(lr=2e-4, steps_per_update=20, minimax=False))
    snap = pool.snapshot("session-key")        # -> Snapshot, or None before the first update
    pool.stop("session-key")                   # also called when the session ends: no orphan threads

    python -m synth.gan.live --bench           # the floors: recognisable digits within 60 s; minimax stalls
"""

from __future__ import annotations

import argparse
import copy
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from synth import data
from synth.gan import losses
from synth.gan.gan import Discriminator, GANConfig, Generator
from synth.training import update_ema

LR_RANGES = {"adam": (1e-5, 1e-2), "sgd": (1e-4, 0.5)}   # what each optimiser can learn with here
STEPS_RANGE = (1, 200)
MAX_STEPS = 200_000          # a session stops by itself after this many steps
D_FIRST_RANGE = (0, 3000)
OPTIMIZERS = tuple(LR_RANGES)
EMA_BETA = 0.99             # the sample grid shows an exponential moving average of G's weights
GRID = 64                    # fixed-noise samples shown (8 x 8)
# Smaller than the bundled GAN (256-512-1024 / 512-256) so it learns on a laptop CPU while the class watches.
LIVE_CONFIG = GANConfig(g_hidden=(128, 256, 512), d_hidden=(256, 128), d_dropout=0.3)


@dataclass(frozen=True)
class LiveSettings:
    lr: float = 2e-4             # Adam, beta1 0.5 (the DCGAN paper's settings)
    steps_per_update: int = 20   # optimisation steps between two looks at the model
    minimax: bool = False        # J(G) = -J(D) (stalls) instead of the non-saturating -log D(G(z))
    batch: int = 64
    seed: int = 0
    d_steps: int = 1             # the paper's k: discriminator updates per generator update (Algorithm 1)
    optimizer: str = "adam"      # "adam" (beta1 0.5, the DCGAN paper's) or "sgd" (momentum 0.5, the GAN paper's)
    d_first: int = 0             # D trains alone this many steps first, until it rejects G's samples with high
                                 # confidence, as "early in learning" (Goodfellow et al. 2014, section 3)

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        lo, hi = LR_RANGES[self.optimizer]
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not np.isfinite(self.lr) \
                or not lo <= self.lr <= hi:
            raise ValueError(f"learning rate must be between {lo:g} and {hi:g} with {self.optimizer}, "
                             f"got {self.lr!r}")
        lo, hi = STEPS_RANGE
        if isinstance(self.steps_per_update, bool) or not float(self.steps_per_update).is_integer() \
                or not lo <= self.steps_per_update <= hi:
            raise ValueError(f"steps per update must be a whole number from {lo} to {hi}, "
                             f"got {self.steps_per_update!r}")
        object.__setattr__(self, "steps_per_update", int(self.steps_per_update))
        lo, hi = D_FIRST_RANGE
        if isinstance(self.d_first, bool) or not float(self.d_first).is_integer() or not lo <= self.d_first <= hi:
            raise ValueError(f"D's head start must be a whole number of steps from {lo} to {hi}, "
                             f"got {self.d_first!r}")
        object.__setattr__(self, "d_first", int(self.d_first))


# The lecture's stall, one click away: the GAN paper's optimiser (SGD with momentum) and a discriminator that has
# already learned to reject G's samples. Minimax then gets no gradient (J(D) -> 0, D(G(z)) -> 0, noise stays
# noise); the non-saturating J(G) from the same start learns.
STALL = {"optimizer": "sgd", "lr": 0.05, "d_first": 2000}


@dataclass
class Snapshot:
    step: int
    seconds: float
    loss_d: list[float]              # J(D) per update (mean over its steps)
    loss_g: list[float]              # J(G) per update
    steps: list[int]                 # the step of each entry above
    d_real: np.ndarray               # D(x) on the last real batch, one value per image
    d_fake: np.ndarray               # D(G(z)) on the last fake batch
    grid: np.ndarray                 # uint8 (8*28 + 9*2) x same, the fixed-noise samples
    running: bool = True
    minimax: bool = False


def sample_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """N x 1 x 28 x 28 in [-1, 1] -> one uint8 grey grid with `pad` px of mid-grey between images."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()[:, 0]
    n, h, w = x.shape
    rows = -(-n // nrow)
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad), 128, np.uint8)
    for i, im in enumerate(x):
        r, c = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = im
    return out


class LiveGAN:
    """One small GAN on the bundled training digits (28x28), trained a few steps at a time."""

    def __init__(self, settings: LiveSettings = LiveSettings(), cfg: GANConfig = LIVE_CONFIG):
        self.settings, self.cfg = settings, cfg
        self.gen = torch.Generator().manual_seed(settings.seed)      # batches and noise
        with torch.random.fork_rng(devices=[]):                     # initial weights, from the seed alone
            torch.manual_seed(settings.seed)
            self.G, self.D = Generator(cfg), Discriminator(cfg)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)   # what the grid shows: steadier than G
        if settings.optimizer == "sgd":
            self.opt_g, self.opt_d = (torch.optim.SGD(m.parameters(), lr=settings.lr, momentum=0.5)
                                      for m in (self.G, self.D))
        else:
            self.opt_g, self.opt_d = (torch.optim.Adam(m.parameters(), lr=settings.lr, betas=(0.5, 0.999))
                                      for m in (self.G, self.D))
        self.real = data.to_tensor(data.load("digits", "train").images)      # N x 1 x 28 x 28 in [-1, 1]
        self.fixed_z = torch.randn(GRID, cfg.nz, generator=torch.Generator().manual_seed(1234))
        self.step = 0
        self.seconds = 0.0
        self.history: dict[str, list] = {"steps": [], "loss_d": [], "loss_g": []}
        self.last_real = self.last_fake = np.zeros(0, np.float32)
        self.rng_state = torch.Generator().manual_seed(settings.seed + 1).get_state()   # D's dropout
        self.d_started = False

    def train(self, n_steps: int) -> None:
        """n_steps of the lecture's loop: 1. D on a real and a fake batch; 2. G through the updated D."""
        t0 = time.perf_counter()
        sums = np.zeros(2)
        b = self.settings.batch
        # Dropout draws from this model's own RNG state: a model trained alone is reproducible from its seed
        # (two sessions training at once share torch's global generator between their threads).
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.rng_state)
            self._steps(n_steps, b, sums)
            self.rng_state = torch.get_rng_state()
        self.last_real = torch.sigmoid(self._real_logits).detach().numpy()
        self.last_fake = torch.sigmoid(self._fake_logits).detach().numpy()
        self.history["steps"].append(self.step)
        self.history["loss_d"].append(float(sums[0] / n_steps))
        self.history["loss_g"].append(float(sums[1] / n_steps))
        self.seconds += time.perf_counter() - t0

    def _steps(self, n_steps: int, b: int, sums: np.ndarray) -> None:
        if self.step == 0 and not self.d_started:
            self.head_start()
        for _ in range(n_steps):
            # 1. discriminator, k times: minimise J(D) = -log D(x) - log(1 - D(G(z)))
            for _ in range(self.settings.d_steps):
                loss_d, real_logits, fake_logits, fake = self._discriminator_step(b)
            # 2. generator: penalised when D spots its fakes
            loss_g = losses.generator_loss(self.D(fake), minimax=self.settings.minimax)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            update_ema(self.G_ema, self.G, EMA_BETA)
            sums += (loss_d.item(), loss_g.item())
            self.step += 1
        self._real_logits, self._fake_logits = real_logits, fake_logits

    def head_start(self) -> None:
        """settings.d_first updates of D alone, before G's first step (called by the first train())."""
        for _ in range(self.settings.d_first):
            self._discriminator_step(self.settings.batch)
        self.d_started = True

    def _discriminator_step(self, b: int):
        """One update of D on a real and a fake batch: minimise J(D) = -log D(x) - log(1 - D(G(z)))."""
        real = self.real[torch.randint(len(self.real), (b,), generator=self.gen)]
        fake = self.G(torch.randn(b, self.cfg.nz, generator=self.gen))
        real_logits, fake_logits = self.D(real), self.D(fake.detach())
        loss_d = losses.discriminator_loss(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return loss_d, real_logits, fake_logits, fake

    @torch.no_grad()
    def samples(self, z: torch.Tensor | None = None) -> torch.Tensor:
        """The EMA generator on the fixed noise, N x 1 x 28 x 28 in [-1, 1] (batch-norm statistics: G's)."""
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)
        return self.G_ema.eval()(self.fixed_z if z is None else z)

    def snapshot(self, running: bool = True) -> Snapshot:
        return Snapshot(step=self.step, seconds=round(self.seconds, 2), loss_d=list(self.history["loss_d"]),
                        loss_g=list(self.history["loss_g"]), steps=list(self.history["steps"]),
                        d_real=self.last_real.copy(), d_fake=self.last_fake.copy(),
                        grid=sample_grid(self.samples()), running=running, minimax=self.settings.minimax)


@dataclass
class _Session:
    model: LiveGAN
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    latest: Snapshot | None = None


class PoolFull(RuntimeError):
    """Every training slot is taken: the visitor is told to wait."""


class LivePool:
    """At most `max_running` trainings at once, one per session key, each in its own daemon thread."""

    def __init__(self, max_running: int = 2, threads_per_model: int = 1):
        self.max_running, self.threads_per_model = max_running, threads_per_model
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def running(self) -> int:
        with self._lock:
            return sum(s.thread.is_alive() for s in self._sessions.values())

    def start(self, key: str, settings: LiveSettings) -> None:
        """(Re)start training for this session from scratch. Raises PoolFull when every slot is taken."""
        self.stop(key)
        with self._lock:
            busy = sum(s.thread.is_alive() for s in self._sessions.values())
            if busy >= self.max_running:
                raise PoolFull(f"{busy} trainings are already running on this machine (at most "
                               f"{self.max_running}); press Train again when one stops")
            model = LiveGAN(settings)
            session = _Session(model=model)
            session.thread = threading.Thread(target=self._run, args=(session,), daemon=True, name=f"live-{key}")
            session.latest = model.snapshot()
            self._sessions[key] = session
        session.thread.start()

    def _run(self, session: _Session) -> None:
        torch.set_num_threads(self.threads_per_model)
        m = session.model
        while not session.stop.is_set() and m.step < MAX_STEPS:
            m.train(m.settings.steps_per_update)
            session.latest = m.snapshot()
        session.latest = m.snapshot(running=False)

    def snapshot(self, key: str) -> Snapshot | None:
        s = self._sessions.get(key)
        return None if s is None else s.latest

    def stop(self, key: str, timeout: float = 10.0) -> None:
        """Stop this session's training (the model and its curves stay readable until reset)."""
        s = self._sessions.get(key)
        if s is not None:
            s.stop.set()
            if s.thread.is_alive() and s.thread is not threading.current_thread():
                s.thread.join(timeout)

    def reset(self, key: str) -> None:
        """Stop and forget this session's model."""
        self.stop(key)
        with self._lock:
            self._sessions.pop(key, None)


# ---------------------------------------------------------------------------------------------- what the tab shows

def curves_table(snap: Snapshot) -> pd.DataFrame:
    """J(D) and J(G) per update, long format (step, value, curve) for a line plot."""
    n = len(snap.steps)
    return pd.DataFrame({"step": snap.steps * 2, "value": snap.loss_d + snap.loss_g,
                         "curve": ["J(D)"] * n + ["J(G) (minimax)" if snap.minimax else "J(G)"] * n})


def d_outputs_table(snap: Snapshot, bins: int = 10) -> pd.DataFrame:
    """Histogram of D's outputs on the last real and fake batches (bin centre, count, batch) for a bar plot."""
    edges = np.linspace(0, 1, bins + 1)
    centres = [f"{(a + b) / 2:.2f}" for a, b in zip(edges[:-1], edges[1:])]
    rows = []
    for name, values in (("real digits", snap.d_real), ("G's fakes", snap.d_fake)):
        counts, _ = np.histogram(values, bins=edges)
        rows += [{"D(x)": c, "images": int(k), "batch": name} for c, k in zip(centres, counts)]
    return pd.DataFrame(rows)


def status_text(snap: Snapshot | None) -> str:
    if snap is None:
        return "Not started. Press Train."
    state = "training" if snap.running else "stopped"
    d_real = f"{snap.d_real.mean():.2f}" if len(snap.d_real) else "-"
    d_fake = f"{snap.d_fake.mean():.2f}" if len(snap.d_fake) else "-"
    last = (f"J(D) {snap.loss_d[-1]:.3f}, J(G) {snap.loss_g[-1]:.3f}; " if snap.loss_d else "")
    return (f"**{state}**: step {snap.step:,} after {snap.seconds:.0f} s of training; {last}"
            f"mean D(real) {d_real}, mean D(fake) {d_fake}")


# ---------------------------------------------------------------------------------------------- benchmark

def nearest_train_distance(images: np.ndarray) -> np.ndarray:
    """Per image: RMS distance ([0, 1] pixels, 28x28) to its nearest training digit."""
    train = data.load("digits", "train").images
    a = images.reshape(len(images), -1).astype(np.float64) / 255
    b = train.reshape(len(train), -1).astype(np.float64) / 255
    d2 = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)
    return np.sqrt(np.clip(d2.min(1), 0, None) / a.shape[1])


def heldout_parts() -> tuple[np.ndarray, np.ndarray]:
    """The held-out digits (stored sorted by class) in two class-balanced parts: 3 in 10 set the distance limit of
    `recognisable`, the other 7 in 10 check the instrument. Images, uint8 N x 28 x 28 x 1."""
    held = data.load("digits", "heldout").images
    limit = np.arange(len(held)) % 10 < 3
    return held[limit], held[~limit]


def real_grid(n: int = GRID, seed: int = 0) -> np.ndarray:
    """n held-out digits that did not set the distance limit, drawn at random: a real grid to score beside G's."""
    check = heldout_parts()[1]
    return check[np.random.default_rng(seed).choice(len(check), n, replace=False)]


def recognisable(images: np.ndarray, threshold: float = 0.8) -> np.ndarray:
    """Per image (uint8 N x 28 x 28 x 1): does it look like a digit? Two tests, both needed:
    1. the project's digit classifier gives its top class a confidence >= threshold;
    2. it is no farther from its nearest training digit than 95% of held-out digits are.
    The classifier alone cannot tell: it gives uniform noise a confidence of 1.0 (noise_share shows it)."""
    return _judge(images, threshold)[1]


def _judge(images: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(the classifier's probabilities N x 10, the recognisable test per image): one classifier pass for both."""
    from synth.gan.evaluate import classify, load_classifier

    probs, _ = classify(load_classifier(), images)
    limit = np.percentile(nearest_train_distance(heldout_parts()[0]), 95)
    return probs, (probs.max(1) >= threshold) & (nearest_train_distance(images) <= limit)


def recognisable_share(images: np.ndarray, threshold: float = 0.8) -> tuple[float, float]:
    """(share of recognisable images, share passing the classifier's confidence test alone)."""
    scores = grid_scores(images, threshold)
    return scores["recognisable"], scores["confidence"]


def grid_scores(images: np.ndarray, threshold: float = 0.8) -> dict:
    """A sample grid (uint8 N x 28 x 28 x 1) judged as the floor reads it, plus what the share alone misses: a
    generator that collapsed onto one or two easy digits (ones, say) scores a high share. "recognisable" and
    "confidence" as in `recognisable_share`; "classes": digits (0-9) among the recognisable samples;
    "largest": the commonest class's share of the recognisable samples (0 when none is)."""
    probs, ok = _judge(images, threshold)
    counts = np.bincount(probs.argmax(1)[ok], minlength=10)
    return {"recognisable": float(ok.mean()), "confidence": float((probs.max(1) >= threshold).mean()),
            "classes": int((counts > 0).sum()), "largest": float(counts.max() / max(ok.sum(), 1))}


def bench(seconds: float = 60.0, settings: LiveSettings = LiveSettings(), threads: int = 2,
          check_every: float = 10.0) -> list[dict]:
    """Train for `seconds` of wall time; every `check_every` s, score the 64 fixed-noise samples."""
    torch.set_num_threads(threads)
    m = LiveGAN(settings)
    rows, t0, next_check = [], time.perf_counter(), check_every
    while True:
        m.train(settings.steps_per_update)
        elapsed = time.perf_counter() - t0
        if elapsed >= next_check or elapsed >= seconds:
            rows.append({"seconds": round(elapsed, 1), "steps": m.step, **grid_scores(data.to_uint8(m.samples())),
                         "loss_d": m.history["loss_d"][-1], "loss_g": m.history["loss_g"][-1],
                         "d_real": float(m.last_real.mean()), "d_fake": float(m.last_fake.mean())})
            next_check += check_every
            if elapsed >= seconds:
                return rows


def noise_share() -> tuple[float, float]:
    """The yardstick of 'no better than noise': the classifier on 64 images of uniform noise."""
    x = torch.rand(GRID, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return recognisable_share(data.to_uint8(x))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="synth.gan.live", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", action="store_true", help="print the floors' table")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if not args.bench:
        p.print_help()
        return
    share, conf = noise_share()
    print(f"uniform noise: recognisable {share:.0%}; classifier confidence >= 0.8 alone {conf:.0%}")
    real = grid_scores(real_grid())
    print(f"{GRID} held-out digits (none of those that set the distance limit): recognisable "
          f"{real['recognisable']:.0%}, {real['classes']} classes, largest class {real['largest']:.0%}\n")
    runs = [("defaults: non-saturating J(G), Adam lr 2e-4", LiveSettings()),
            ("minimax J(G) from a confident D (SGD lr 0.05, D alone 2000 steps first)",
             LiveSettings(minimax=True, **STALL)),
            ("non-saturating J(G) from the same start", LiveSettings(**STALL))]
    for title, s in runs:
        print(f"### {title}, {args.threads} threads\n")
        print("| seconds | steps | recognisable | confidence >= 0.8 alone | classes | largest class | J(D) | J(G) "
              "| D(real) | D(fake) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in bench(args.seconds, s, args.threads):
            print(f"| {r['seconds']} | {r['steps']} | {r['recognisable']:.0%} | {r['confidence']:.0%} | "
                  f"{r['classes']} | {r['largest']:.0%} | "
                  f"{r['loss_d']:.3f} | {r['loss_g']:.3f} | {r['d_real']:.2f} | {r['d_fake']:.2f} |")
        print()


if __name__ == "__main__":
    main()
