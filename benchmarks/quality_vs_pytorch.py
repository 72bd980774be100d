"""The reference to beat: a standard PyTorch DCGAN trained on the same images, with the same seed,
for the same wall-clock time and thread count as one of our runs, both scored as `upsampling evaluate`
scores (both feature extractors, mean ± sd over sample draws).

    upsampling train --out runs/default --seed 0                 # our run (its time is in its checkpoint)
    python benchmarks/quality_vs_pytorch.py --ours runs/default  # PyTorch for that long, then both scored
    python benchmarks/quality_vs_pytorch.py --seconds 30         # PyTorch only, a quick look

The PyTorch model is the DCGAN of Radford et al. at MNIST size: G = Linear(100 -> 7x7x128) -> BN ->
ReLU -> ConvTranspose(k4, s2) 14x14x64 -> BN -> ReLU -> ConvTranspose(k4, s2) 28x28x1 -> tanh;
D = Conv(k4, s2) 64 -> LeakyReLU(0.2) -> Conv(k4, s2) 128 -> BN -> LeakyReLU -> Linear -> logit;
N(0, 0.02) initial weights, Adam(2e-4, beta_1 0.5), batch 64 (64 real + 64 generated in each D step),
non-saturating generator loss. Its samples are drawn in eval mode (BatchNorm running statistics).
Writes into --out: samples.png (64 samples), generator.pt, results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", default=None, help="a finished `upsampling train` run folder to compare with")
    p.add_argument("--seconds", type=float, default=None,
                   help="PyTorch's training time (default: the --ours run's recorded training time)")
    p.add_argument("--steps", type=int, default=None,
                   help="stop PyTorch after this many steps instead (a fixed-step comparison, for a loaded machine)")
    p.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="mnist5k")
    p.add_argument("--n", type=int, default=1000, help="samples per draw for the scores")
    p.add_argument("--draws", type=int, default=5, help="sample draws for the spreads")
    p.add_argument("--out", default="runs/pytorch_dcgan")
    args = p.parse_args(argv)
    if args.seconds is None and args.ours is None and args.steps is None:
        p.error("give --ours RUN (PyTorch then trains as long as that run did), --seconds or --steps")
    if args.seconds is not None and not args.seconds > 0:
        p.error(f"--seconds must be positive. Received: {args.seconds}")
    return args


def our_run_seconds(run: Path) -> tuple:
    """(training time, steps) an `upsampling train` run recorded in its checkpoint (all its invocations;
    the time is None in checkpoints made before it was recorded)."""
    import numpy as np
    with np.load(run / "checkpoint.npz") as z:
        meta = json.loads(bytes(z["meta"]).decode())
    return (float(meta["elapsed"]) if meta.get("elapsed") else None), int(meta["step"])


def build_dcgan(latent_dim: int = 100, channels: int = 1):
    import torch
    from torch import nn

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.project = nn.Sequential(nn.Linear(latent_dim, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7),
                                         nn.ReLU(True))
            self.up = nn.Sequential(nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
                                    nn.ConvTranspose2d(64, channels, 4, 2, 1), nn.Tanh())

        def forward(self, z):
            return self.up(self.project(z).view(-1, 128, 7, 7))

    discriminator = nn.Sequential(
        nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    generator = Generator()
    for module in list(generator.modules()) + list(discriminator.modules()):
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)
    return generator, discriminator


def train_dcgan(images, *, seconds: float, seed: int = 0, batch_size: int = 64, latent_dim: int = 100,
                max_steps: int | None = None, log=print):
    """Train on `images` (N, H, W, C) in [-1, 1] until `seconds` of training have passed (checked
    before each step) or `max_steps`; returns (generator in eval mode, steps, seconds)."""
    import numpy as np
    import torch
    from torch import nn
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32))  # NHWC -> NCHW
    generator, discriminator = build_dcgan(latent_dim, data.shape[1])
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch_size, 1), torch.zeros(batch_size, 1)
    steps, order, pos = 0, rng.permutation(len(data)), 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds and (max_steps is None or steps < max_steps):
        if pos + batch_size > len(data):
            order, pos = rng.permutation(len(data)), 0
        real = data[torch.from_numpy(order[pos:pos + batch_size])]
        pos += batch_size
        fake = generator(torch.randn(batch_size, latent_dim))
        opt_d.zero_grad()
        d_loss = bce(discriminator(real), ones) + bce(discriminator(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = bce(discriminator(fake), ones)
        g_loss.backward()
        opt_g.step()
        steps += 1
        if steps % 500 == 0:
            log(f"  step {steps}, {time.perf_counter() - started:.0f}s: d_loss {d_loss.item():.3f} "
                f"g_loss {g_loss.item():.3f}")
    generator.eval()
    return generator, steps, time.perf_counter() - started


def torch_sampler(generator, latent_dim: int = 100):
    """`sample(n, seed)` as `upsampling.gan.evaluate` wants it: the same latent draws as ours, NHWC out."""
    import numpy as np
    import torch

    def sample(n, seed):
        latent = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)
        with torch.no_grad():
            return generator(torch.from_numpy(latent)).numpy().transpose(0, 2, 3, 1)  # NCHW -> NHWC
    return sample


def main(argv=None) -> int:
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy and torch start their thread pools
    sys.path.insert(0, str(ROOT))
    import torch
    torch.set_num_threads(args.threads)
    from upsampling.data import load_data
    from upsampling.gan.evaluate import classifiers_for, evaluate_samples, format_results, latent_sampler
    from upsampling.plots import image_grid

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seconds, our_steps = (args.seconds, None)
    if args.ours:
        run_seconds, our_steps = our_run_seconds(Path(args.ours))
        seconds = args.seconds or run_seconds
    if seconds is None and args.steps is None:
        raise SystemExit(f"{args.ours}/checkpoint.npz records no training time; give --seconds or --steps")
    seconds = float("inf") if seconds is None else seconds
    images = load_data(args.data, split="train", scale="tanh")[0]
    limit = " and ".join(([f"{seconds:.0f}s"] if seconds < float("inf") else [])
                         + ([f"{args.steps} steps"] if args.steps else []))
    print(f"PyTorch {torch.__version__} DCGAN on {args.data} ({len(images):,} images), {args.threads} threads, "
          f"seed {args.seed}, at most {limit} of training ...", flush=True)
    generator, steps, took = train_dcgan(images, seconds=seconds, seed=args.seed, max_steps=args.steps)
    print(f"  {steps} steps in {took:.0f}s" + (f" (ours: {our_steps} steps)" if our_steps is not None else ""))
    torch.save(generator.state_dict(), out / "generator.pt")
    sample = torch_sampler(generator)
    grid = image_grid(sample(64, args.seed + 1), out / "samples.png", value_range=(-1, 1), scale=2)

    common = dict(dataset=args.data, n=args.n, draws=args.draws, seed=args.seed,
                  classifiers=classifiers_for(args.data))
    results = {}
    if args.ours:
        from upsampling.models import load_model
        ours = load_model(Path(args.ours) / "generator.keras", compile=False)
        results[f"ours ({Path(args.ours).name})"] = evaluate_samples(latent_sampler(ours), **common)
    results["PyTorch DCGAN"] = evaluate_samples(sample, **common)
    print(format_results(results))
    summary = {"seconds": took, "pytorch_steps": steps, "our_steps": our_steps, "threads": args.threads,
               "seed": args.seed, "samples": str(grid),
               "results": {k: v["extractors"] for k, v in results.items()}}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    print(f"Samples: {grid}  results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
