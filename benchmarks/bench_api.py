"""What users wait for, ours vs PyTorch on the CPU: layers through the model API, the bare ops,
the tutorial's DCGAN iteration, the default `upsampling train` step and peak memory.

Each framework runs in its own worker process (multiprocessing 'spawn'), with the thread count set
before numpy / torch are imported; the parent hands the machine to one worker at a time, case by
case and round by round, so the thread pools never fight and drifts hit both sides alike. Per round
each worker times one warm-up plus `--reps` calls and keeps the fastest; PyTorch times both its
NCHW and its channels_last layout and keeps the faster. Reported times are medians over rounds;
the ratio (ours / torch, lower is better) is the median of the per-round ratios.

Cases (float32, batch 128 unless said otherwise):
- layer: a one-layer model through `predict_on_batch` (forward) and `train_on_batch` (mse, SGD:
  forward, loss, backward, update) vs the torch module under `no_grad` / a torch training step;
- op: the bare kernels (`conv_transpose2d`, `conv2d`, `upsample2d` and their backward passes) vs
  `torch.nn.functional`;
- dcgan: one iteration of the tutorial author's MNIST GAN (examples/keras_style_gan.py) at
  n_batch=128: G predicts 64 fakes, D trains on 64 real + 64 fake, G trains through the frozen D
  on 128 latent points; torch runs the same models, losses and Adam settings;
- train: one step of the default `upsampling train` run (GANTrainer.train_step, batch 64) vs the
  same DCGAN in torch;
- memory: peak resident memory of the dcgan iteration, each framework in a fresh process (total,
  and the growth over the process after imports and model building).

    python benchmarks/bench_api.py                       # all cases, writes benchmarks/RESULTS.md
    python benchmarks/bench_api.py --only dcgan --rounds 3
    python benchmarks/bench_api.py --baseline HEAD~1     # + our package at another revision
    python benchmarks/bench_api.py --smoke               # tiny shapes, one round (the CI check)

Nothing here imports numpy or torch at module level: spawn re-imports this file in each worker,
and the thread variables must be set before the first import.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cases(smoke: bool) -> list:
    """The benchmark cases; `smoke` shrinks every shape to a few pixels and images."""
    n = 2 if smoke else 128
    s7, s14 = (3, 6) if smoke else (7, 14)
    c = 8 if smoke else 128
    c64 = 4 if smoke else 64
    out = []
    layer_cases = [
        # name, kind, input (H, W, C), settings
        (f"Conv2DTranspose {c}->{c} k4 s2 same, {s7}->{2 * s7}", "convT", (s7, s7, c), dict(f=c, k=4, s=2)),
        (f"Conv2DTranspose {c}->{c} k4 s2 same, {s14}->{2 * s14}", "convT", (s14, s14, c), dict(f=c, k=4, s=2)),
        (f"UpSampling2D nearest x2 ({s14},{s14},{c})", "up", (s14, s14, c), dict(interp="nearest")),
        (f"UpSampling2D bilinear x2 ({s14},{s14},{c})", "up", (s14, s14, c), dict(interp="bilinear")),
        (f"Conv2D {c64}->{c64} k3 s2 same, {s14}->{s7}", "conv", (s14, s14, c64), dict(f=c64, k=3, s=2)),
    ]
    for name, kind, hwc, kw in layer_cases:
        for level in ("layer", "op"):
            out.append(dict(name=f"{level}: {name}, N{n}", level=level, kind=kind, x=(n,) + hwc, **kw))
    out.append(dict(name=f"dcgan: tutorial MNIST GAN iteration, batch {4 if smoke else 128}", level="dcgan",
                    batch=4 if smoke else 128))
    out.append(dict(name=f"train: default `upsampling train` step, batch {4 if smoke else 64}", level="train",
                    batch=4 if smoke else 64))
    return out


# ----------------------------------------------------------------------------------------------
# our side
# ----------------------------------------------------------------------------------------------

def _load_example():
    import importlib.util

    spec = importlib.util.spec_from_file_location("keras_style_gan", os.path.join(ROOT, "examples",
                                                                                   "keras_style_gan.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dcgan_ours(np, batch: int):
    """One tutorial iteration (the body of examples/keras_style_gan.train) as a closure."""
    import warnings

    gan_module = _load_example()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d_model = gan_module.define_discriminator()
        g_model = gan_module.define_generator(100)
        gan_model = gan_module.define_gan(g_model, d_model)
    rng = np.random.default_rng(0)
    dataset = rng.random((1000, 28, 28, 1), dtype=np.float32)  # stands in for MNIST: same shapes
    half = batch // 2

    def step():
        x_real, y_real = dataset[rng.integers(0, len(dataset), half)], np.ones((half, 1))
        x_fake = g_model.predict(rng.standard_normal((half, 100)), verbose=0)
        x, y = np.vstack((x_real, x_fake)), np.vstack((y_real, np.zeros((half, 1))))
        d_model.train_on_batch(x, y)
        return gan_model.train_on_batch(rng.standard_normal((batch, 100)), np.ones((batch, 1)))

    return step


def _train_ours(np, batch: int):
    import tempfile

    from upsampling.gan.trainer import GANTrainer, TrainConfig

    images = np.random.default_rng(0).uniform(-1, 1, (256, 28, 28, 1)).astype(np.float32)
    trainer = GANTrainer(TrainConfig(batch_size=batch), tempfile.mkdtemp(prefix="bench_train_"),
                         images=images, verbose=0)
    half = batch // 2
    return lambda: trainer.train_step(images[:half])


class Ours:
    def __init__(self, path=None):
        if path is not None:
            sys.path.insert(0, path)
        else:
            sys.path.insert(0, ROOT)
        import numpy as np
        import upsampling

        self.np = np
        self.where = os.path.dirname(upsampling.__file__)

    def make(self, c: dict) -> dict:
        """name of the timed mode -> closure."""
        np = self.np
        if c["level"] == "dcgan":
            return {"iteration": _dcgan_ours(np, c["batch"])}
        if c["level"] == "train":
            return {"step": _train_ours(np, c["batch"])}
        rng = np.random.default_rng(0)
        x = rng.standard_normal(c["x"], dtype=np.float32)
        if c["level"] == "layer":
            return self._layer(c, x)
        return self._op(c, x, rng)

    def _layer(self, c, x):
        from upsampling import layers
        from upsampling.models import Sequential
        from upsampling.optimizers import SGD

        if c["kind"] == "convT":
            layer = layers.Conv2DTranspose(c["f"], c["k"], strides=c["s"], padding="same")
        elif c["kind"] == "conv":
            layer = layers.Conv2D(c["f"], c["k"], strides=c["s"], padding="same")
        else:
            layer = layers.UpSampling2D(interpolation=c["interp"])
        model = Sequential([layers.Input(c["x"][1:]), layer])
        model.compile(optimizer=SGD(1e-4), loss="mse")
        y = self.np.zeros(model.predict_on_batch(x).shape, self.np.float32)
        modes = {"forward": lambda: model.predict_on_batch(x)}
        if c["kind"] != "up":  # no weights: nothing to train
            modes["train step"] = lambda: model.train_on_batch(x, y)
        return modes

    def _op(self, c, x, rng):
        from upsampling import shapes
        from upsampling.ops.conv import conv2d, conv2d_backward
        from upsampling.ops.conv_transpose import conv_transpose2d, conv_transpose2d_backward
        from upsampling.ops.resize import upsample2d, upsample2d_backward

        np = self.np
        h = c["x"][1]
        if c["kind"] == "up":
            fwd, bwd, args, kw = upsample2d, upsample2d_backward, (x,), dict(size=(2, 2), interpolation=c["interp"])
        else:
            k, s, f, cin = c["k"], c["s"], c["f"], c["x"][3]
            if c["kind"] == "convT":
                pad = shapes.conv_transpose_padding(h, k, s, 1, "same", None)
                kern = rng.standard_normal((k, k, f, cin), dtype=np.float32) * 0.05
                fwd, bwd, kw = conv_transpose2d, conv_transpose2d_backward, dict(strides=(s, s), crops=(pad, pad))
            else:
                pad = shapes.conv_padding(h, k, s, 1, "same")
                kern = rng.standard_normal((k, k, cin, f), dtype=np.float32) * 0.05
                fwd, bwd, kw = conv2d, conv2d_backward, dict(strides=(s, s), pads=(pad, pad))
            args = (x, kern)
        dy = rng.standard_normal(fwd(*args, **kw)[0].shape, dtype=np.float32)

        def forward_backward():
            y, cache = fwd(*args, **kw)
            return bwd(dy, cache)

        return {"forward": lambda: fwd(*args, **kw), "forward+backward": forward_backward}


# ----------------------------------------------------------------------------------------------
# PyTorch side
# ----------------------------------------------------------------------------------------------

def _torch_dcgan_models(torch, tutorial: bool):
    """The tutorial's (or the default run's) generator and discriminator as torch modules."""
    nn = torch.nn
    if tutorial:
        d = nn.Sequential(nn.Conv2d(1, 64, 3, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.4),
                          nn.Conv2d(64, 64, 3, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.4),
                          nn.Flatten(), nn.Linear(64 * 7 * 7, 1), nn.Sigmoid())
        g = nn.Sequential(nn.Linear(100, 128 * 7 * 7), nn.LeakyReLU(0.2), nn.Unflatten(1, (128, 7, 7)),
                          nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                          nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),
                          nn.Conv2d(128, 1, 7, padding=3), nn.Sigmoid())
        return g, d
    # upsampling.gan.dcgan's default ('dcgan') architecture: filters 64, BatchNorm momentum 0.9 (torch 0.1)
    d = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                      nn.Flatten(), nn.Linear(128 * 7 * 7, 1), nn.Sigmoid())
    g = nn.Sequential(nn.Linear(100, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
                      nn.Unflatten(1, (128, 7, 7)),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    return g, d


def _torch_gan_step(torch, tutorial: bool, batch: int, channels_last: bool):
    """One GAN iteration in torch: fakes, D on real + fake, G through the frozen D."""
    g, d = _torch_dcgan_models(torch, tutorial)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g, d = g.to(memory_format=fmt), d.to(memory_format=fmt)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
    bce = torch.nn.BCELoss()
    gen = torch.Generator().manual_seed(0)
    data = torch.rand((1000, 1, 28, 28), generator=gen).contiguous(memory_format=fmt)
    half = batch // 2
    # the tutorial predicts its fakes in inference mode; the default run in training mode
    fake_mode = g.eval if tutorial else g.train
    labels = torch.cat([torch.ones(half, 1), torch.zeros(half, 1)])
    ones = torch.ones(batch, 1)

    def step():
        real = data[torch.randint(0, len(data), (half,), generator=gen)]
        fake_mode()
        with torch.no_grad():
            fake = g(torch.randn(half, 100, generator=gen))
        g.train()
        x = torch.cat([real, fake]).contiguous(memory_format=fmt)
        opt_d.zero_grad(set_to_none=True)
        bce(d(x), labels).backward()
        opt_d.step()
        for p in d.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        loss = bce(d(g(torch.randn(batch, 100, generator=gen))), ones)
        loss.backward()
        opt_g.step()
        for p in d.parameters():
            p.requires_grad_(True)
        return loss.item()

    return step


class Torch:
    def __init__(self, threads: int):
        import numpy as np
        import torch

        torch.set_num_threads(threads)
        self.np, self.torch = np, torch

    def make(self, c: dict) -> dict:
        """name of the timed mode -> {layout: closure}; the faster layout counts."""
        out = {}
        for layout in ("nchw", "channels_last"):
            for mode, fn in self._make(c, layout == "channels_last").items():
                out.setdefault(mode, {})[layout] = fn
        return out

    def _make(self, c, cl: bool) -> dict:
        torch, np = self.torch, self.np
        if c["level"] == "dcgan":
            return {"iteration": _torch_gan_step(torch, True, c["batch"], cl)}
        if c["level"] == "train":
            return {"step": _torch_gan_step(torch, False, c["batch"], cl)}
        fmt = torch.channels_last if cl else torch.contiguous_format
        x = torch.from_numpy(np.random.default_rng(0).standard_normal(c["x"], dtype=np.float32))
        x = x.permute(0, 3, 1, 2).contiguous(memory_format=fmt)  # NHWC -> NCHW (logical)
        nn, F = torch.nn, torch.nn.functional
        cin = c["x"][3]
        if c["kind"] == "convT":
            module = nn.ConvTranspose2d(cin, c["f"], c["k"], c["s"], padding=(c["k"] - c["s"]) // 2)
        elif c["kind"] == "conv":
            module = nn.Conv2d(cin, c["f"], c["k"], c["s"], padding=c["k"] // 2)
        else:
            extra = {} if c["interp"] == "nearest" else dict(align_corners=False)
            module = nn.Upsample(scale_factor=2, mode=c["interp"], **extra)
        module = module.to(memory_format=fmt)
        with torch.no_grad():
            y0 = module(x)
        dy = torch.randn(y0.shape).contiguous(memory_format=fmt)

        def forward():
            with torch.no_grad():
                return module(x)

        if c["level"] == "op":
            xg = x.clone().requires_grad_(True)

            def forward_backward():
                module.zero_grad(set_to_none=True)
                xg.grad = None
                module(xg).backward(dy)

            return {"forward": forward, "forward+backward": forward_backward}
        modes = {"forward": forward}
        if c["kind"] != "up":
            opt = torch.optim.SGD(module.parameters(), lr=1e-4)
            target = torch.zeros_like(y0)

            def train_step():
                opt.zero_grad(set_to_none=True)
                loss = F.mse_loss(module(x), target)
                loss.backward()
                opt.step()
                return loss.item()

            modes["train step"] = train_step
        return modes


# ----------------------------------------------------------------------------------------------
# workers
# ----------------------------------------------------------------------------------------------

def _best_of(fn, reps: int) -> float:
    """Seconds of the fastest of `reps` calls after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _worker(framework: str, threads: int, conn, path=None) -> None:
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    impl = Torch(threads) if framework == "torch" else Ours(path)
    info = {"numpy": impl.np.__version__}
    if framework == "torch":
        info["torch"] = impl.torch.__version__
        info["torch_threads"] = impl.torch.get_num_threads()
    else:
        info["package"] = impl.where
    conn.send(info)
    made = {}
    while True:
        msg = conn.recv()
        if msg is None:
            break
        cmd, idx, case, reps = msg
        if cmd == "memory":  # a fresh process per framework: build, then run the iteration
            import resource

            modes = impl.make(case)
            fn = next(iter(modes.values()))
            fn = fn["nchw"] if isinstance(fn, dict) else fn
            before = _rss_kib()
            for _ in range(reps):
                fn()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            conn.send({"peak_mib": peak / 1024, "growth_mib": (peak - before) / 1024})
            continue
        if idx not in made:
            made[idx] = impl.make(case)
        result = {}
        for mode, fn in made[idx].items():
            if isinstance(fn, dict):  # torch: the faster layout
                per = {layout: _best_of(f, reps) for layout, f in fn.items()}
                layout = min(per, key=per.get)
                result[mode] = (per[layout], layout)
            else:
                result[mode] = (_best_of(fn, reps), None)
        conn.send(result)
    conn.close()


def _start(ctx, framework, threads, path=None):
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_worker, args=(framework, threads, child, path), daemon=True)
    proc.start()
    return proc, parent, parent.recv()


def _ask(conn, msg):
    conn.send(msg)
    return conn.recv()


def _stop(proc, conn):
    conn.send(None)
    proc.join(timeout=30)


# ----------------------------------------------------------------------------------------------
# parent
# ----------------------------------------------------------------------------------------------

def _fmt_ms(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 1 else f"{ms:.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="alternated rounds (default 5)")
    ap.add_argument("--reps", type=int, default=3, help="timed calls per case per round, fastest kept")
    ap.add_argument("--threads", type=int, default=2, help="threads for BOTH frameworks (default 2)")
    ap.add_argument("--only", default=None, help="cases whose name contains this text")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes, 1 round, 1 call (a quick check)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    ap.add_argument("--no-torch", action="store_true", help="time ours (and --baseline) only")
    ap.add_argument("--baseline", default=None, metavar="REV",
                    help="also time our package as committed at git revision REV, or the package in "
                         "folder REV/upsampling (worker 'base')")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "RESULTS.md"),
                    help="Markdown results file (default benchmarks/RESULTS.md; '-' for none)")
    ap.add_argument("--json", default=None, metavar="PATH", help="also save the raw numbers as JSON")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds, args.reps = 1, 1
    for var in THREAD_VARS:
        os.environ[var] = str(args.threads)
    all_cases = [c for c in cases(args.smoke) if args.only is None or args.only in c["name"]]
    if not all_cases:
        ap.error(f"no case matches --only {args.only!r}")
    have_torch = not args.no_torch
    try:
        import torch  # noqa: F401  (only to know whether the comparison can run)
    except ImportError:
        have_torch = False
        print("torch is not installed: timing ours only", file=sys.stderr)

    order, paths = ["ours"], {}
    if args.baseline and os.path.isdir(os.path.join(args.baseline, "upsampling")):
        paths["base"] = os.path.abspath(args.baseline)
        order.insert(0, "base")
    elif args.baseline:
        import subprocess
        import tempfile

        paths["base"] = tempfile.mkdtemp(prefix="bench_base_")
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.baseline, "upsampling"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "x", "-C", paths["base"]], input=archive, check=True)
        order.insert(0, "base")
    if have_torch:
        order.append("torch")
    ctx = mp.get_context("spawn")
    workers = {fw: _start(ctx, fw, args.threads, paths.get(fw)) for fw in order}
    infos = {fw: w[2] for fw, w in workers.items()}
    header = (f"python {platform.python_version()}, {os.cpu_count()} cpus, threads={args.threads}, "
              f"rounds={args.rounds}, reps={args.reps}, load average {os.getloadavg()[0]:.2f} at start")
    print(header)
    for fw, info in infos.items():
        print(f"  {fw}: {info}")

    times = {c["name"]: {fw: [] for fw in order} for c in all_cases}  # -> per round {mode: (s, layout)}
    started = time.perf_counter()
    for r in range(args.rounds):
        for i, c in enumerate(all_cases):
            for fw in order:
                time.sleep(0.05)
                times[c["name"]][fw].append(_ask(workers[fw][1], ("time", i, c, args.reps)))
        print(f"  round {r + 1}/{args.rounds} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    for proc, conn, _ in workers.values():
        _stop(proc, conn)

    memory = {}
    dcgan = [c for c in cases(args.smoke) if c["level"] == "dcgan"][0]
    if not args.no_memory and (args.only is None or args.only in dcgan["name"] or args.only == "memory"):
        for fw in order:  # a fresh process each, so nothing else inflates the peak
            proc, conn, _ = _start(ctx, fw, args.threads, paths.get(fw))
            memory[fw] = _ask(conn, ("memory", -1, dcgan, 1 if args.smoke else 3))
            _stop(proc, conn)
    if "base" in paths and paths["base"] != os.path.abspath(args.baseline):
        import shutil

        shutil.rmtree(paths["base"], ignore_errors=True)

    rows = []
    for c in all_cases:
        t = times[c["name"]]
        for mode in t["ours"][0]:
            row = dict(case=c["name"], mode=mode)
            for fw in order:
                row[f"{fw}_ms"] = 1e3 * statistics.median(rnd[mode][0] for rnd in t[fw])
            for fw in [f for f in ("torch", "base") if f in order]:
                ratios = [a[mode][0] / b[mode][0] for a, b in zip(t["ours"], t[fw])]
                row[f"ratio_{fw}"] = statistics.median(ratios)
                row[f"spread_{fw}"] = (min(ratios), max(ratios))
            if "torch" in order:
                layouts = [rnd[mode][1] for rnd in t["torch"]]
                row["torch_layout"] = max(set(layouts), key=layouts.count)
            rows.append(row)

    lines = [f"float32, {args.threads} threads, {args.rounds} alternated rounds x {args.reps} timed calls "
             f"(fastest kept); ms = median over rounds; ratio = median of per-round ratios ours / torch "
             f"(lower is better), spread = their min..max. PyTorch {infos.get('torch', {}).get('torch', '-')} "
             f"in its faster layout per round; NumPy {infos['ours']['numpy']}.", ""]
    head = ["case", "mode", "ours ms", "torch ms", "torch layout", "ratio", "spread"]
    if "base" in order:
        head += [f"ours@{args.baseline} ms", f"ours / ours@{args.baseline}"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---|---|" + "---:|" * (len(head) - 2))
    for row in rows:
        cells = [row["case"], row["mode"], _fmt_ms(row["ours_ms"] / 1e3)]
        if "torch" in order:
            lo, hi = row["spread_torch"]
            cells += [_fmt_ms(row["torch_ms"] / 1e3), row["torch_layout"], f"**{row['ratio_torch']:.2f}**",
                      f"{lo:.2f}..{hi:.2f}"]
        else:
            cells += ["-", "-", "-", "-"]
        if "base" in order:
            cells += [_fmt_ms(row["base_ms"] / 1e3), f"{row['ratio_base']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if memory:
        lines += ["", "Peak resident memory of the dcgan iteration (a fresh process per framework; growth = "
                  "peak minus the resident size after imports and model building):", "",
                  "| worker | peak MiB | growth MiB |", "|---|---:|---:|"]
        for fw, m in memory.items():
            lines.append(f"| {fw} | {m['peak_mib']:.0f} | {m['growth_mib']:.0f} |")
        if "torch" in memory:
            lines.append(f"| ratio ours / torch | {memory['ours']['peak_mib'] / memory['torch']['peak_mib']:.2f} | "
                         f"{memory['ours']['growth_mib'] / max(memory['torch']['growth_mib'], 1e-9):.2f} |")
    text = "\n".join(lines)
    print("\n" + text)
    if args.out != "-":
        with open(args.out, "w") as fh:
            fh.write("# Benchmark results\n\nWritten by `make bench` (`python benchmarks/bench_api.py`); "
                     "see benchmarks/README.md for how it measures.\n\n"
                     f"{header}, machine {platform.machine()}.\n\n{text}\n")
        print(f"\nwrote {args.out}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(infos=infos, rows=rows, memory=memory, raw=times, args=vars(args)), fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
