"""Our NumPy kernels vs PyTorch CPU on GAN-generator shapes, as a ratio ours / torch.

Each framework runs in its OWN worker process (multiprocessing, 'spawn'), with the same thread
count set before numpy / torch are imported (OMP/OPENBLAS/MKL_NUM_THREADS and
torch.set_num_threads). The parent hands the cores to one worker at a time, case by case and round
by round (round r, case c: numpy worker, then torch worker), so the two thread pools never fight,
and slow drifts of the machine (other users) hit both sides alike. Reported numbers are medians
over rounds of the per-round minimum of `--reps` calls (`--stat`); the ratio is the median of the
per-round ratios, shown with their min..max spread.

Before timing, every case is checked once: both workers compute y, dx and dkernel from the same
seeded inputs (torch in NCHW with weights ported as kernel.transpose(3, 2, 0, 1)) and the parent
prints the max abs difference.

    python benchmarks/bench_layers.py                 # default: 2 threads, 7 rounds (~3 min)
    python benchmarks/bench_layers.py --quick         # 3 rounds
    python benchmarks/bench_layers.py --only convT --json out.json
    python benchmarks/bench_layers.py --baseline HEAD  # + a third worker running the committed ops

Nothing here imports numpy or torch at module level: spawn re-imports this file in each worker,
and the thread variables must be set before the first import.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time

# ----------------------------------------------------------------------------------------------
# Cases. Shapes are NHWC (ours); torch gets the same tensors in NCHW.
# kind: 'convT' (Keras Conv2DTranspose, kernel (kh, kw, F, C)), 'conv' (Conv2D, kernel
# (kh, kw, C, F)), 'up' (UpSampling2D, 2x).
# ----------------------------------------------------------------------------------------------

CASES = [
    # name, kind, (N, H, W, C), F (filters) or interpolation, k, s
    dict(name="convT a: DCGAN 7->14", kind="convT", x=(64, 7, 7, 128), f=128, k=4, s=2),
    dict(name="convT b: DCGAN 14->28", kind="convT", x=(64, 14, 14, 128), f=64, k=4, s=2),
    dict(name="convT c: k3 7->14", kind="convT", x=(64, 7, 7, 256), f=128, k=3, s=2),
    dict(name="convT d: seed 5->10", kind="convT", x=(64, 5, 5, 128), f=1, k=3, s=2),
    dict(name="conv 28->14 k4s2", kind="conv", x=(64, 28, 28, 1), f=64, k=4, s=2),
    dict(name="conv 14->7 k4s2", kind="conv", x=(64, 14, 14, 64), f=128, k=4, s=2),
    dict(name="conv 14->14 k3s1", kind="conv", x=(64, 14, 14, 128), f=64, k=3, s=1),
    dict(name="up nearest 7->14", kind="up", x=(64, 7, 7, 128), interp="nearest"),
    dict(name="up bilinear 7->14", kind="up", x=(64, 7, 7, 128), interp="bilinear"),
    dict(name="up nearest 14->28", kind="up", x=(64, 14, 14, 64), interp="nearest"),
    dict(name="up bilinear 14->28", kind="up", x=(64, 14, 14, 64), interp="bilinear"),
]


def _prepare(case: dict) -> dict:
    """Add Keras 'same' pads / crops and the output shape (pure Python, from upsampling.shapes)."""
    from upsampling import shapes

    c = dict(case)
    n, h, w, cin = c["x"]
    if c["kind"] == "up":
        c["y"] = (n, 2 * h, 2 * w, cin)
        return c
    k, s = c["k"], c["s"]
    if c["kind"] == "convT":
        crop = shapes.conv_transpose_padding(h, k, s, 1, "same", None)
        crop_w = shapes.conv_transpose_padding(w, k, s, 1, "same", None)
        c["crops"] = (crop, crop_w)
        c["kernel"] = (k, k, c["f"], cin)
        ho = shapes.conv_transpose_output_length(h, k, s, 1, "same", None)
        wo = shapes.conv_transpose_output_length(w, k, s, 1, "same", None)
        # torch: padding p crops p from both ends of the full scatter, output_padding adds back
        # at the end. Keras k4 s2: crops (1, 1) -> padding=1. Keras k3 s2: crops (0, 1) -> torch
        # padding=1, output_padding=1 has the same shape and cost (window shifted by one pixel);
        # the numerical check uses the exact window instead (padding 0, then slice).
        full = (h - 1) * s + k
        if crop[0] == crop[1]:
            c["torch"] = dict(padding=crop[0], output_padding=0)
        else:
            c["torch"] = dict(padding=crop[1], output_padding=crop[1] - crop[0])
        c["check_crop"] = (crop[0], full - crop[1])
    else:
        pad = shapes.conv_padding(h, k, s, 1, "same")
        pad_w = shapes.conv_padding(w, k, s, 1, "same")
        assert pad[0] == pad[1] and pad_w[0] == pad_w[1], "torch padding must be symmetric"
        c["pads"] = (pad, pad_w)
        c["kernel"] = (k, k, cin, c["f"])
        c["torch"] = dict(padding=pad[0])
        ho = shapes.conv_output_length(h, k, s, 1, "same")
        wo = shapes.conv_output_length(w, k, s, 1, "same")
    c["y"] = (n, ho, wo, c["f"])
    return c


def _shape_text(c: dict) -> str:
    n, h, w, cin = c["x"]
    _, ho, wo, co = c["y"]
    kind = f" k{c['k']} s{c['s']}" if "k" in c else f" {c['interp']}"
    return f"{n}x{h}x{w}x{cin} -> {ho}x{wo}x{co}{kind}"


# ----------------------------------------------------------------------------------------------
# Workers
# ----------------------------------------------------------------------------------------------

def _inputs(np, c: dict, seed: int):
    """Seeded float32 x, kernel, dy in our layouts (identical in both workers)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(c["x"], dtype=np.float32)
    kern = None
    if "kernel" in c:
        kh, kw, a, b = c["kernel"]
        fan_in = kh * kw * (a if c["kind"] == "conv" else b)
        kern = (rng.standard_normal(c["kernel"], dtype=np.float32) / math.sqrt(fan_in)).astype(np.float32)
    dy = rng.standard_normal(c["y"], dtype=np.float32)
    return x, kern, dy


class _Ours:
    def __init__(self, path=None):
        if path is not None:  # baseline: an exported copy of the package at another revision
            sys.path.insert(0, path)
        import numpy as np
        import upsampling

        self.where = os.path.dirname(upsampling.__file__)
        from upsampling.ops.conv import conv2d, conv2d_backward
        from upsampling.ops.conv_transpose import conv_transpose2d, conv_transpose2d_backward
        from upsampling.ops.resize import upsample2d, upsample2d_backward

        self.np = np
        self.ops = dict(convT=(conv_transpose2d, conv_transpose2d_backward),
                        conv=(conv2d, conv2d_backward), up=(upsample2d, upsample2d_backward))

    def make(self, c: dict, seed: int):
        """Return (forward(), forward_backward(), result()) closures for one case."""
        x, kern, dy = _inputs(self.np, c, seed)
        fwd_op, bwd_op = self.ops[c["kind"]]
        if c["kind"] == "convT":
            kw = dict(strides=(c["s"], c["s"]), crops=c["crops"])
            args = (x, kern)
        elif c["kind"] == "conv":
            kw = dict(strides=(c["s"], c["s"]), pads=c["pads"])
            args = (x, kern)
        else:
            kw = dict(size=(2, 2), interpolation=c["interp"])
            args = (x,)

        def forward():
            return fwd_op(*args, **kw)

        def forward_backward():
            y, cache = fwd_op(*args, **kw)
            return y, bwd_op(dy, cache)

        def result():
            y, grads = forward_backward()
            if c["kind"] == "up":
                return dict(y=y, dx=grads)
            return dict(y=y, dx=grads[0], dkernel=grads[1])

        return forward, forward_backward, result


class _Torch:
    def __init__(self, threads: int):
        import numpy as np
        import torch

        torch.set_num_threads(threads)
        self.np, self.torch = np, torch
        self.F = torch.nn.functional

    def make(self, c: dict, seed: int):
        np, torch, F = self.np, self.torch, self.F
        x, kern, dy = _inputs(np, c, seed)
        # NHWC -> NCHW; Keras kernels (kh, kw, F, C) / (kh, kw, C, F) -> torch (C, F, kh, kw) /
        # (F, C, kh, kw): the same transpose (3, 2, 0, 1) for both.
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        dyt = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
        wt = None if kern is None else torch.from_numpy(np.ascontiguousarray(kern.transpose(3, 2, 0, 1)))
        s = c.get("s")
        if c["kind"] == "convT":
            tkw = c["torch"]

            def op(xx, ww):
                return F.conv_transpose2d(xx, ww, stride=s, **tkw)

            (t0, t1), (l0, l1) = c["check_crop"], c["check_crop"]

            def exact(xx, ww):  # the Keras window exactly: full scatter, then crop
                return F.conv_transpose2d(xx, ww, stride=s)[:, :, t0:t1, l0:l1]
        elif c["kind"] == "conv":
            tkw = c["torch"]

            def op(xx, ww):
                return F.conv2d(xx, ww, stride=s, **tkw)

            exact = op
        else:
            mode = c["interp"]
            extra = {} if mode == "nearest" else dict(align_corners=False)

            def op(xx, ww):
                return F.interpolate(xx, scale_factor=2, mode=mode, **extra)

            exact = op

        xg = xt.clone().requires_grad_(True)
        wg = None if wt is None else wt.clone().requires_grad_(True)

        def forward():
            with torch.no_grad():
                return op(xt, wt)

        def forward_backward(fn=op):
            xg.grad = None
            if wg is not None:
                wg.grad = None
            y = fn(xg, wg)
            y.backward(dyt)
            return y

        def result():
            y = forward_backward(exact).detach().numpy().transpose(0, 2, 3, 1)
            out = dict(y=y, dx=xg.grad.numpy().transpose(0, 2, 3, 1))
            if wg is not None:
                out["dkernel"] = wg.grad.numpy().transpose(2, 3, 1, 0)  # back to Keras layout
            return {k: np.ascontiguousarray(v) for k, v in out.items()}

        return forward, forward_backward, result


def _time(fn, reps: int, stat) -> float:
    """Seconds of `reps` calls after one warm-up call, reduced by `stat` (min or median)."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return stat(times)


def _worker(framework: str, threads: int, conn, path=None, stat="min") -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    impl = _Torch(threads) if framework == "torch" else _Ours(path)
    info = {}
    try:
        from threadpoolctl import threadpool_info

        info["pools"] = sorted({(p["internal_api"], p["num_threads"]) for p in threadpool_info()})
    except ImportError:
        pass
    if framework == "torch":
        info["torch_threads"] = impl.torch.get_num_threads()
        info["version"] = impl.torch.__version__
    else:
        info["version"] = impl.np.__version__
        info["package"] = impl.where
    conn.send(info)
    made = {}
    while True:
        msg = conn.recv()
        if msg is None:
            break
        cmd, idx, case, payload = msg
        if idx not in made:
            made[idx] = impl.make(case, seed=1000 + idx)
        forward, forward_backward, result = made[idx]
        if cmd == "check":
            conn.send(result())
        else:  # ("time", reps)
            reps = payload
            reduce = min if stat == "min" else statistics.median
            conn.send((_time(forward, reps, reduce), _time(forward_backward, reps, reduce)))
    conn.close()


# ----------------------------------------------------------------------------------------------
# Parent
# ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=None, help="alternated rounds (default 7, --quick 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads for BOTH frameworks (default 2)")
    ap.add_argument("--reps", type=int, default=3, help="timed calls per case per round (reduced by --stat)")
    ap.add_argument("--quick", action="store_true", help="3 rounds, 2 reps")
    ap.add_argument("--stat", choices=("min", "median"), default="min",
                    help="per-round reduction of the timed calls (default min: scheduler stalls only add "
                         "time); rounds are always reduced by the median")
    ap.add_argument("--only", default=None, help="run cases whose name contains this text")
    ap.add_argument("--no-check", action="store_true", help="skip the numerical comparison")
    ap.add_argument("--gap", type=float, default=0.05,
                    help="seconds of quiet between handing the cores to the other worker")
    ap.add_argument("--json", default=None, metavar="PATH", help="save results as JSON")
    ap.add_argument("--baseline", default=None, metavar="REV",
                    help="also time our ops as committed at git revision REV (a third worker, 'base')")
    args = ap.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    reps = 2 if args.quick and args.reps == 3 else args.reps

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # inherited by the spawned workers
    import numpy as np  # parent only compares results

    cases = [_prepare(c) for c in CASES if args.only is None or args.only in c["name"]]
    if not cases:
        ap.error(f"no case matches --only {args.only!r}")

    order = ("ours", "torch")
    paths = {}
    if args.baseline:
        import subprocess
        import tempfile

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        paths["base"] = tempfile.mkdtemp(prefix="bench_base_")
        archive = subprocess.run(["git", "-C", root, "archive", args.baseline, "upsampling"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "x", "-C", paths["base"]], input=archive, check=True)
        order = ("base", "ours", "torch")
    ctx = mp.get_context("spawn")
    workers = {}
    for fw in order:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(fw, args.threads, child, paths.get(fw), args.stat),
                           daemon=True)
        proc.start()
        workers[fw] = (proc, parent)
    infos = {fw: conn.recv() for fw, (_, conn) in workers.items()}
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus, "
          f"threads={args.threads}, rounds={rounds}, reps={reps}, stat={args.stat}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    for fw, info in infos.items():
        print(f"  {fw:5s} worker: {info}")

    def ask(fw, msg):
        conn = workers[fw][1]
        conn.send(msg)
        return conn.recv()

    checks = {}
    if not args.no_check:
        print("\nnumerical check (max |ours - torch|, max |torch|):")
        for i, c in enumerate(cases):
            a = ask("ours", ("check", i, c, None))
            b = ask("torch", ("check", i, c, None))
            diffs = {}
            for key in b:
                assert a[key].shape == b[key].shape, (c["name"], key, a[key].shape, b[key].shape)
                diffs[key] = (float(np.max(np.abs(a[key] - b[key]))), float(np.max(np.abs(b[key]))))
            checks[c["name"]] = diffs
            text = "  ".join(f"{k} {d:.1e} (of {m:.1f})" for k, (d, m) in diffs.items())
            print(f"  {c['name']:22s} {text}")

    times = {c["name"]: {fw: [] for fw in workers} for c in cases}
    t_start = time.perf_counter()
    for r in range(rounds):
        for i, c in enumerate(cases):
            for fw in order:  # alternate: ours then torch (base first if asked), same case, same round
                time.sleep(args.gap)
                times[c["name"]][fw].append(ask(fw, ("time", i, c, reps)))
        print(f"  round {r + 1}/{rounds} done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)
    for _, conn in workers.values():
        conn.send(None)
    for proc, _ in workers.values():
        proc.join(timeout=10)
    if "base" in paths:
        import shutil

        shutil.rmtree(paths["base"], ignore_errors=True)

    def summary(num, den):
        """Median times and the median / min / max of the per-round ratios num / den."""
        ratios = [a / b for a, b in zip(num, den)]
        return dict(num_ms=1e3 * statistics.median(num), den_ms=1e3 * statistics.median(den),
                    ratio=statistics.median(ratios), ratio_min=min(ratios), ratio_max=max(ratios))

    def table(title, pairs, names):
        """pairs: (numerator worker, denominator worker); names: their column labels."""
        print(f"\n{title}\n")
        head = ["case", "shape (NHWC)"]
        for mode in ("fwd", "f+b"):
            head += [f"{mode} {names[0]} ms", f"{mode} {names[1]} ms", f"{mode} ratio", "spread"]
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(["---", "---"] + ["---:"] * 8) + "|")
        rows = []
        for c in cases:
            t = times[c["name"]]
            row = dict(case=c["name"], shape=_shape_text(c))
            cells = [c["name"], row["shape"]]
            for j, mode in enumerate(("fwd", "fwdbwd")):
                m = summary([x[j] for x in t[pairs[0]]], [x[j] for x in t[pairs[1]]])
                row[mode] = m
                cells += [f"{m['num_ms']:.2f}", f"{m['den_ms']:.2f}", f"**{m['ratio']:.2f}**",
                          f"{m['ratio_min']:.2f}..{m['ratio_max']:.2f}"]
            rows.append(row)
            print("| " + " | ".join(cells) + " |")
        return rows

    note = (f"float32, threads={args.threads}, {rounds} alternated rounds x {reps} timed calls; "
            f"ms = median over rounds of the per-round {args.stat}; "
            f"ratio = median of per-round ratios, spread = their min..max")
    rows = table(f"ours / torch ({note})", ("ours", "torch"), ("ours", "torch"))
    base_rows = None
    if args.baseline:
        base_rows = table(f"ours / ours@{args.baseline} (same rounds)", ("ours", "base"), ("ours", "base"))
        table(f"ours@{args.baseline} / torch (same rounds)", ("base", "torch"), ("base", "torch"))

    if args.json:
        out = dict(threads=args.threads, rounds=rounds, reps=reps, stat=args.stat, workers=infos,
                   checks=checks,
                   loadavg_end=os.getloadavg(),
                   rows=rows, baseline_rows=base_rows, baseline=args.baseline,
                   raw=times,  # case -> worker -> per round [fwd s, fwd+bwd s]
                   machine=dict(cpus=os.cpu_count(), platform=platform.platform()))
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
        print(f"\nsaved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
