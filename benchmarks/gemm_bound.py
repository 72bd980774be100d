"""Is a case GEMM-bound? The matrix products a case must run, timed alone, against PyTorch's whole case.

For the convolution cases of `make bench` and its default training step (BOUNDED below), this
lists the matrix-matrix products our kernels run for it (the same shapes, float32) and times them
back to back, with NumPy (`np.matmul`, the OpenBLAS that NumPy ships) and with PyTorch (`torch.mm`), beside PyTorch's whole case as
`benchmarks/bench_api.py` times it (its faster layout). The products are a floor: whatever else a
case does (im2col and phase-path copies, bias, normalisation, activations, the optimizer) comes on
top. If the floor alone takes about as long as PyTorch's whole case, no arrangement of the passes
around the products can bring the case under 1.0; only a faster product could.

Each product is written as its smallest form: a transposed convolution's forward pass as one
x @ (all taps) product (the phase path splits it into one product per kernel row and tap group,
which measured slower, so the single product is the lower bound), a weight gradient as A^T @ B on the stored matrices (BLAS reads the
transpose in place, as the kernels do). Left out as too small to matter: BatchNormalization's
column sums (ones @ block matrix-vector products) and the Dense input gradient over one unit
(a broadcast multiply).

Each framework runs in its own process per round (spawned, thread variables set before the
import), rounds alternate which goes first, each time is the fastest of `--reps` calls after a
warm-up, and the table gives medians over rounds.

    python benchmarks/gemm_bound.py [--rounds 5] [--reps 5] [--threads 2]
    python benchmarks/gemm_bound.py --smoke      # tiny shapes, one round (the CI check)
"""
from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import statistics

# the same cases, thread settings, timing and PyTorch side as `make bench`
from bench_api import THREAD_VARS, Torch, _best_of, cases

# which (case name prefix, mode) pairs to bound: the convolution cases, each of their modes
# (the 14->28 transposed convolution's, under 1.0 in RESULTS.md, for comparison), and the default
# step. UpSampling2D is left out: its forward passes are under 1.0, and the bilinear op's
# forward+backward (1.35) is not one of the targets (no train step for a layer without weights).
BOUNDED = [
    ("layer: Conv2DTranspose", "forward"), ("layer: Conv2DTranspose", "train step"),
    ("op: Conv2DTranspose", "forward"), ("op: Conv2DTranspose", "forward+backward"),
    ("layer: Conv2D ", "forward"), ("layer: Conv2D ", "train step"),
    ("op: Conv2D ", "forward"), ("op: Conv2D ", "forward+backward"),
    ("train: default", "step"),
]


def conv_products(case: dict, mode: str) -> list:
    """(M, K, N, transposed_a) of every product one case and mode runs in our kernels.

    Forward: Conv2D is patches (N*Ho*Wo, k*k*C) @ kernel; Conv2DTranspose is x (N*H*W, C) @ all
    taps (C, k*k*F). A layer's train step adds the kernel gradient only (the model's first layer
    skips its input gradient, as PyTorch does for an input that needs none); the bare op's
    forward+backward adds both gradients."""
    n, h, w, c = case["x"]
    f, k, s = case["f"], case["k"], case["s"]
    if case["kind"] == "conv":
        m = n * math.ceil(h / s) * math.ceil(w / s)
        forward = (m, k * k * c, f, False)
        dkernel = (k * k * c, m, f, True)           # patches^T @ dy
        dx = (m, f, k * k * c, False)               # dy @ all taps (the phase path)
    else:
        m = n * h * w
        forward = (m, c, k * k * f, False)
        dkernel = (k * k * f, m, c, True)           # patches(dy)^T @ x
        dx = (m, k * k * f, c, False)               # patches(dy) @ kernel
    if mode == "forward":
        return [forward]
    if mode == "train step":
        return [forward, dkernel]
    return [forward, dkernel, dx]


def default_step_products(batch: int) -> list:
    """Every product of one default `upsampling train` step (upsampling.gan.dcgan's 'dcgan'
    architecture, GANTrainer.train_step): G makes batch/2 fakes in training mode; D trains on
    batch/2 real + batch/2 fake; G trains through the frozen D on `batch` latent points (D's
    kernel gradients are not computed, nor any model's input gradient)."""
    half = batch // 2

    def g_forward(b):   # Dense 100->6272 (no bias), convT 128->64 k4 s2 7->14, convT 64->1 k4 s2 14->28
        return [(b, 100, 6272, False), (b * 49, 128, 16 * 64, False), (b * 196, 64, 16, False)]

    def d_forward(b):   # Conv 1->64 k4 s2 28->14, Conv 64->128 k4 s2 14->7, Dense 6272->1
        return [(b * 196, 16, 64, False), (b * 49, 16 * 64, 128, False), (b, 6272, 1, False)]

    d_input_grads = [(batch * 49, 128, 16 * 64, False),   # conv2's dx (phase path)
                     (batch * 196, 64, 16, False)]        # conv1's dx, only in the G step
    d_kernel_grads = [(6272, batch, 1, True), (16 * 64, batch * 49, 128, True), (16, batch * 196, 64, True)]
    g_backward = [(batch * 196, 16, 64, False), (16, batch * 196, 64, True),      # convT2 dx, dkernel
                  (batch * 49, 16 * 64, 128, False), (16 * 64, batch * 49, 128, True),  # convT1 dx, dkernel
                  (100, batch, 6272, True)]                                      # Dense dkernel
    return (g_forward(half)
            + d_forward(batch) + d_input_grads[:1] + d_kernel_grads          # D step
            + g_forward(batch) + d_forward(batch) + d_input_grads + g_backward)  # G step


def products(case: dict, mode: str) -> list:
    return default_step_products(case["batch"]) if case["level"] == "train" else conv_products(case, mode)


def bounded_cases(smoke: bool) -> list:
    """(case, mode) pairs of bench_api.cases that this bounds, in the table's order."""
    out = []
    for prefix, mode in BOUNDED:
        out += [(c, mode) for c in cases(smoke) if c["name"].startswith(prefix)]
    return out


def _operands(lib, shapes: list) -> list:
    """Random float32 operands and an output buffer per product; a transposed A is stored (K, M)."""
    made = []
    for m, k, n, trans in shapes:
        if lib.__name__ == "numpy":
            rng = lib.random.default_rng(0)
            a = rng.standard_normal((k, m) if trans else (m, k), dtype=lib.float32)
            b = rng.standard_normal((k, n), dtype=lib.float32)
            c = lib.empty((m, n), lib.float32)
        else:
            a, b, c = lib.randn(*((k, m) if trans else (m, k))), lib.randn(k, n), lib.empty(m, n)
        made.append((a.T if trans else a, b, c))
    return made


def _worker(framework: str, threads: int, reps: int, smoke: bool, conn) -> None:
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    out = {}
    if framework == "numpy":
        import numpy as np

        for case, mode in bounded_cases(smoke):
            ops = _operands(np, products(case, mode))

            def run(ops=ops):
                for a, b, c in ops:
                    np.matmul(a, b, out=c)

            out[case["name"], mode] = {"products": _best_of(run, reps)}
    else:
        import torch

        torch_side = Torch(threads)
        for case, mode in bounded_cases(smoke):
            ops = _operands(torch, products(case, mode))

            def run(ops=ops):
                for a, b, c in ops:
                    torch.mm(a, b, out=c)

            whole = torch_side.make(case)[mode]  # {layout: closure}; the faster layout counts
            out[case["name"], mode] = {"products": _best_of(run, reps),
                                       "whole": min(_best_of(fn, reps) for fn in whole.values())}
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
    ap.add_argument("--reps", type=int, default=5)
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
          "each); GFLOPS = 2*M*K*N / time, summed over the case's products\n")
    print("| case | mode | products | GFLOP | NumPy ms | GFLOPS | PyTorch mm ms | GFLOPS "
          "| PyTorch whole case ms | NumPy products / PyTorch whole |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case, mode in bounded_cases(args.smoke):
        key = case["name"], mode
        shapes = products(case, mode)
        ours = 1e3 * statistics.median(x[key]["products"] for x in rounds["numpy"])
        mm = 1e3 * statistics.median(x[key]["products"] for x in rounds["torch"])
        whole = 1e3 * statistics.median(x[key]["whole"] for x in rounds["torch"])
        gflop = sum(2 * m * k * n for m, k, n, _ in shapes) / 1e9
        print(f"| {case['name']} | {mode} | {len(shapes)} | {gflop:.3g} | {ours:.3g} | {gflop / ours * 1e3:.3g} "
              f"| {mm:.3g} | {gflop / mm * 1e3:.3g} | {whole:.3g} | {ours / whole:.3g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
