"""Is a case GEMM-bound? NumPy's matrix product against PyTorch's, on the products our kernels run.

For each benchmark case that stays above PyTorch in `make bench`, this times the one matrix product
our kernel cannot avoid (the same shape, float32, 2 threads), with NumPy (`np.matmul`, the
OpenBLAS that NumPy ships) and with PyTorch (`torch.mm`), and PyTorch's whole layer (its
channels_last convolution, forward under no_grad). If NumPy's product alone takes about as long as
PyTorch's whole layer, no arrangement of the passes around the product can bring the case under
1.0: only a faster product could.

Each framework runs in its own process per round (spawned, thread variables set before the
import), rounds alternate which goes first, each time is the fastest of `--reps` calls after a
warm-up, and the table gives medians over rounds.

    python benchmarks/gemm_bound.py [--rounds 5] [--reps 10] [--threads 2]
    python benchmarks/gemm_bound.py --smoke      # tiny shapes, one round (the CI check)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics

from bench_api import THREAD_VARS, _best_of  # the same thread settings and timing as `make bench`

# name, (M, K, N) of the product, the PyTorch layer it belongs to:
# (kind, batch, input H, C in, C out, kernel, stride, padding)
CASES = [
    ("Conv2DTranspose 128->128 k4 s2, 7->14, N128: x @ all taps", (6272, 128, 2048),
     ("convT", 128, 7, 128, 128, 4, 2, 1)),
    ("Conv2D 64->64 k3 s2, 14->7, N128: patches @ kernel", (6272, 576, 64),
     ("conv", 128, 14, 64, 64, 3, 2, 1)),
    ("default step D conv 64->128 k4 s2, 14->7, N64: patches @ kernel", (3136, 1024, 128),
     ("conv", 64, 14, 64, 128, 4, 2, 1)),
    ("default step G convT 128->64 k4 s2, 7->14, N64: x @ all taps", (3136, 128, 1024),
     ("convT", 64, 7, 128, 64, 4, 2, 1)),
]


def _best(fn, reps: int) -> float:
    """Milliseconds of the fastest of `reps` calls after a warm-up."""
    return _best_of(fn, reps) * 1e3


def _cases(smoke: bool) -> list:
    """CASES, or with `smoke` the same layers at a few pixels, channels and images."""
    if not smoke:
        return CASES
    return [(name, (8, 6, 4), (kind, 2, 3, 4, 4, ks, s, p)) for name, _, (kind, _, _, _, _, ks, s, p) in CASES]


def _worker(framework: str, threads: int, reps: int, smoke: bool, conn) -> None:
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    import numpy as np

    rng = np.random.default_rng(0)
    out = {}
    if framework == "numpy":
        for name, (m, k, n), _ in _cases(smoke):
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c = np.empty((m, n), np.float32)
            out[name] = {"product": _best(lambda: np.matmul(a, b, out=c), reps)}
    else:
        import torch

        torch.set_num_threads(threads)
        for name, (m, k, n), (kind, batch, h, cin, cout, ks, s, p) in _cases(smoke):
            a, b = torch.randn(m, k), torch.randn(k, n)
            c = torch.empty(m, n)
            x = torch.randn(batch, cin, h, h).contiguous(memory_format=torch.channels_last)
            if kind == "conv":
                layer = torch.nn.Conv2d(cin, cout, ks, s, p)
            else:
                layer = torch.nn.ConvTranspose2d(cin, cout, ks, s, p)
            layer = layer.to(memory_format=torch.channels_last)

            def forward(layer=layer, x=x):
                with torch.no_grad():
                    return layer(x)

            out[name] = {"product": _best(lambda: torch.mm(a, b, out=c), reps), "layer": _best(forward, reps)}
    conn.send(out)
    conn.close()


def _run(ctx, framework: str, threads: int, reps: int, smoke: bool) -> dict:
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_worker, args=(framework, threads, reps, smoke, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="tiny shapes, 1 round, 1 call (a quick check)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds, args.reps = 1, 1
    ctx = mp.get_context("spawn")
    rounds = {"numpy": [], "torch": []}
    for r in range(args.rounds):
        for framework in (("numpy", "torch") if r % 2 == 0 else ("torch", "numpy")):
            rounds[framework].append(_run(ctx, framework, args.threads, args.reps, args.smoke))
        print(f"  round {r + 1}/{args.rounds} done", flush=True)
    print(f"\nfloat32, {args.threads} threads, median of {args.rounds} rounds (fastest of {args.reps} calls "
          "each); GFLOPS = 2*M*K*N / time\n")
    print("| product (M x K x N) | NumPy ms | GFLOPS | PyTorch mm ms | GFLOPS | NumPy / PyTorch mm "
          "| PyTorch whole layer ms | NumPy product / PyTorch layer |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (m, k, n), _ in _cases(args.smoke):
        ours = statistics.median(x[name]["product"] for x in rounds["numpy"])
        mm = statistics.median(x[name]["product"] for x in rounds["torch"])
        layer = statistics.median(x[name]["layer"] for x in rounds["torch"])
        flops = 2 * m * k * n / 1e6
        print(f"| {name} ({m} x {k} x {n}) | {ours:.3g} | {flops / ours:.3g} | {mm:.3g} | {flops / mm:.3g} "
              f"| {ours / mm:.3g} | {layer:.3g} | {ours / layer:.3g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
