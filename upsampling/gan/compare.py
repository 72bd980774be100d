"""`upsampling compare`: train the DCGAN once per generator upsampler and seed, on the same data,
with the same settings and the same training budget, then score every generator the same way.

Folder layout (``OUT/<upsampler>/seed<N>/`` is an ordinary `upsampling train` run folder):

    OUT/<upsampler>/seed<N>/checkpoint.npz, generator.keras, samples/...   the training run
    OUT/<upsampler>/seed<N>/timing.json    seconds and steps spent training (summed over resumes)
    OUT/<upsampler>/seed<N>/result.json    quality and checkerboard numbers of the saved generator
    OUT/compare.md, compare.csv, compare.png, compare_samples.png          the report

Resuming: a run with a result.json is done; a run with a checkpoint continues from it (the
trainer's resume, bit for bit); anything else starts fresh. So an interrupted comparison picks up
where it stopped, one upsampler at a time. Runs go seed by seed (all upsamplers for the first seed,
then the next), so a partial comparison covers every upsampler.

The budget is the same number of epochs (= steps) for every upsampler and, with `minutes`, also the
same wall-clock training time: a run stops at whichever comes first (resumes count the time already
spent). Steps are the fair budget on a shared machine, where seconds depend on the load; minutes are
the fair one on a quiet machine, where a faster upsampler gets more steps. The time each step took is
measured and reported beside the scores, so the cost of each upsampler is visible.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from upsampling.atomic import atomic_write_bytes
from upsampling.gan.artifacts import METRICS, METRIC_TITLES, generator_metrics

DEFAULT_UPSAMPLERS = ("transpose3", "transpose", "nearest", "bilinear", "subpixel", "subpixel_icnr", "blur")
QUALITY = ("fd", "kid", "classes_covered", "entropy_ratio")
RESULT_VERSION = 1


@dataclasses.dataclass
class CompareConfig:
    data: str = "mnist5k"
    upsamplers: tuple = DEFAULT_UPSAMPLERS
    seeds: tuple = (0, 1, 2)
    epochs: int = 3
    batch_size: int = 64
    latent_dim: int = 100
    filters: int = 64
    learning_rate: float | None = None  # None: the architecture's default (trainer.DEFAULT_LEARNING_RATES)
    architecture: str = "dcgan"
    ema: float = 0.99
    select_best: bool = True
    eval_n: int = 1000
    minutes: float | None = None  # wall-clock training time of every run (None: epochs alone)


def _write_json(path: Path, data) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=1).encode())


def run_folder(out, upsampler: str, seed: int) -> Path:
    return Path(out) / upsampler / f"seed{seed}"


def _train_config(cfg: CompareConfig, upsampler: str, seed: int, time_budget=None):
    """The `upsampling train` settings of one run of the comparison."""
    from upsampling.gan.trainer import TrainConfig
    return TrainConfig(data=cfg.data, upsampler=upsampler, architecture=cfg.architecture, ema=cfg.ema,
                       epochs=cfg.epochs, batch_size=cfg.batch_size, latent_dim=cfg.latent_dim, filters=cfg.filters,
                       learning_rate=cfg.learning_rate, seed=seed, time_budget=time_budget)


def train_one(cfg: CompareConfig, upsampler: str, seed: int, folder: Path, *, verbose: int = 1):
    """Train (or continue) one run; returns when its generator.keras is written."""
    from upsampling.gan.trainer import GANTrainer
    timing_path = folder / "timing.json"
    timing = json.loads(timing_path.read_text()) if timing_path.exists() else {"seconds": 0.0, "steps": 0}
    left = None if cfg.minutes is None else cfg.minutes * 60.0 - timing["seconds"]
    config = _train_config(cfg, upsampler, seed, time_budget=None if left is None else max(left, 1.0) / 60.0)
    scorer = None
    if cfg.select_best:
        from upsampling.data import DATASETS
        from upsampling.gan.evaluate import TrainingScorer
        if cfg.data in DATASETS:
            scorer = TrainingScorer(cfg.data, seed=seed, verbose=0)
    trainer = GANTrainer(config, folder, scorer=scorer, verbose=verbose)
    if trainer.checkpoint_path.exists():
        trainer.load_checkpoint()
    out_of_time = left is not None and left <= 0
    if (trainer.epoch < cfg.epochs and not out_of_time) or not (folder / "generator.keras").exists():
        start_step, started = trainer.step, time.perf_counter()
        trainer.train()
        timing = {"seconds": timing["seconds"] + time.perf_counter() - started,
                  "steps": timing["steps"] + trainer.step - start_step}
        _write_json(timing_path, timing)
    return trainer, timing


def evaluate_one(cfg: CompareConfig, folder: Path, timing: dict, upsampler: str, seed: int) -> dict:
    """Quality (as `upsampling evaluate`) and checkerboard metrics of the run's saved generator."""
    from upsampling.gan.evaluate import evaluate_generator
    from upsampling.models import load_model
    generator = load_model(folder / "generator.keras")
    quality = evaluate_generator(generator, dataset=cfg.data, n=cfg.eval_n, seed=0, verbose=0)["generator"]
    checker = generator_metrics(generator)
    meta = {}
    ckpt = folder / "checkpoint.npz"
    if ckpt.exists():
        with np.load(ckpt) as z:
            meta = json.loads(bytes(z["meta"]).decode())
    result = {"version": RESULT_VERSION, "upsampler": upsampler, "seed": seed,
              **{k: quality[k] for k in QUALITY}, **{m: checker[m] for m in METRICS},
              "seconds_per_step": timing["seconds"] / max(timing["steps"], 1), "steps": meta.get("step"),
              "best_epoch": meta.get("best_epoch"), "params": generator.count_params()}
    _write_json(folder / "result.json", result)
    return result


def run_compare(out_dir, cfg: CompareConfig, *, verbose: int = 1, print_fn=print) -> list:
    if cfg.minutes is not None and (isinstance(cfg.minutes, bool) or not 0 < cfg.minutes < float("inf")):
        raise ValueError(f"compare: `minutes` (the training time of every run) must be a positive number. "
                         f"Received: {cfg.minutes!r}")
    from upsampling.gan.trainer import SETTINGS_BEFORE_CHOICES, default_learning_rate
    if cfg.learning_rate is None:  # settled before it is recorded, so a resume compares numbers
        cfg = dataclasses.replace(cfg, learning_rate=default_learning_rate(cfg.architecture))
    for upsampler in cfg.upsamplers:  # every run's settings checked before any is recorded
        for seed in cfg.seeds:
            _train_config(cfg, upsampler, seed).validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = out / "settings.json"
    fingerprint = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("upsamplers", "seeds")}
    fingerprint["upsamplers"], fingerprint["seeds"] = list(cfg.upsamplers), list(cfg.seeds)
    if settings.exists():
        saved = {**SETTINGS_BEFORE_CHOICES, **json.loads(settings.read_text())}
        diff = {k: (saved.get(k), v) for k, v in fingerprint.items()
                if k not in ("upsamplers", "seeds") and saved.get(k) != v}
        if diff:
            raise ValueError(f"compare: {out} holds a comparison made with other settings (saved, now): {diff}. "
                             f"Use the same settings or another --out folder.")
    _write_json(settings, fingerprint)
    results = []
    total = len(cfg.seeds) * len(cfg.upsamplers)
    for seed in cfg.seeds:
        for upsampler in cfg.upsamplers:
            folder = run_folder(out, upsampler, seed)
            done = folder / "result.json"
            if done.exists():
                result = json.loads(done.read_text())
                if result.get("version") == RESULT_VERSION:
                    results.append(result)
                    continue
            print_fn(f"[{len(results) + 1}/{total}] {upsampler}, seed {seed}: {folder}")
            _, timing = train_one(cfg, upsampler, seed, folder, verbose=verbose)
            result = evaluate_one(cfg, folder, timing, upsampler, seed)
            print_fn(f"  FD {result['fd']:.2f}  KID {result['kid']:.4f}  phase disparity "
                     f"{result['phase_disparity']:.4f}  peak ratio {result['spectral_peak_ratio']:.3g}  "
                     f"EQ {result['eq_psnr']:.2f} dB  {result['seconds_per_step']:.3f} s/step")
            results.append(result)
    write_report(out, cfg, results, print_fn=print_fn)
    return results


# --------------------------------------------------------------------------- report
COLUMNS = (("fd", "FD ↓", "{:.2f}"), ("kid", "KID ↓", "{:.4f}"), ("classes_covered", "classes", "{:.1f}"),
           ("entropy_ratio", "evenness", "{:.3f}"), ("phase_disparity", "(a) phase disp. ↓", "{:.4f}"),
           ("spectral_peak_ratio", "(b) peak ratio ↓", "{:.3g}"), ("eq_psnr", "(c) EQ-T dB ↑", "{:.2f}"),
           ("seconds_per_step", "s/step", "{:.3f}"))


def _group(results: list, upsamplers) -> dict:
    by = {u: [r for r in results if r["upsampler"] == u] for u in upsamplers}
    return {u: rs for u, rs in by.items() if rs}


def _cell(values, fmt: str) -> str:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return "-"
    if np.all(np.isinf(arr)):
        return "inf"
    finite = arr[np.isfinite(arr)]
    text = fmt.format(finite.mean())
    if finite.size > 1:
        text += " ± " + fmt.format(finite.std(ddof=1))
    return text


def report_table(cfg: CompareConfig, results: list) -> str:
    from upsampling.gan.dcgan import UPSAMPLER_HELP
    groups = _group(results, cfg.upsamplers)
    head = ["upsampler", "seeds", *[title for _, title, _ in COLUMNS], "params"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for up, rs in groups.items():
        cells = [f"`{up}` ({UPSAMPLER_HELP.get(up, '')})", ", ".join(str(r["seed"]) for r in rs)]
        cells += [_cell([r[key] for r in rs], fmt) for key, _, fmt in COLUMNS]
        cells.append(f"{rs[0]['params']:,}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(out: Path, cfg: CompareConfig, results: list, *, print_fn=print) -> dict:
    from upsampling.gan.artifacts import rows_csv
    table = report_table(cfg, results)
    steps = sorted({r["steps"] for r in results if r.get("steps")})
    md = (f"# DCGAN generator upsamplers compared\n\n"
          f"Data `{cfg.data}`, {cfg.epochs} epochs ({', '.join(map(str, steps))} steps) per run, batch "
          f"{cfg.batch_size}, seeds {', '.join(map(str, cfg.seeds))}; mean ± standard deviation over seeds "
          f"(ddof 1). FD/KID/classes/evenness: `upsampling evaluate` on {cfg.eval_n} samples against the "
          f"held-out split. (a)-(c): checkerboard metrics of the trained generator (factor 4).\n\n{table}")
    atomic_write_bytes(out / "compare.md", md.encode())
    atomic_write_bytes(out / "compare.csv", rows_csv(results).encode())
    paths = {"md": out / "compare.md", "csv": out / "compare.csv"}
    try:
        paths["png"] = comparison_figure(out, cfg, results)
        paths["samples"] = samples_figure(out, cfg, results)
    except ImportError as exc:  # matplotlib / Pillow missing: the table is still written
        print_fn(f"(no figures: {exc})")
    print_fn(md)
    print_fn("Wrote " + ", ".join(str(p) for p in paths.values()))
    return paths


def comparison_figure(out: Path, cfg: CompareConfig, results: list) -> Path:
    """One panel per number (FD, KID, three checkerboard metrics, s/step): every seed as a dot, the
    mean as a bar, so the seed spread is visible next to the differences."""
    from matplotlib.figure import Figure

    from upsampling.plots import _save_figure
    groups = _group(results, cfg.upsamplers)
    keys = [("fd", "FD (lower is better)"), ("kid", "KID (lower is better)"),
            ("phase_disparity", METRIC_TITLES["phase_disparity"]),
            ("spectral_peak_ratio", METRIC_TITLES["spectral_peak_ratio"]),
            ("eq_psnr", METRIC_TITLES["eq_psnr"]), ("seconds_per_step", "seconds per training step")]
    fig = Figure(figsize=(15, 8), dpi=100)
    names = list(groups)
    for k, (key, title) in enumerate(keys):
        ax = fig.add_subplot(2, 3, k + 1)
        for i, up in enumerate(names):
            vals = np.array([r[key] for r in groups[up]], dtype=np.float64)
            finite = vals[np.isfinite(vals)]
            if finite.size:
                ax.bar(i, finite.mean(), color="#aec7e8")
                ax.plot(np.full(finite.size, i), finite, "o", color="#1f77b4", ms=4)
            if finite.size < vals.size:
                ax.text(i, 0, "inf", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        if key == "spectral_peak_ratio":
            ax.set_yscale("symlog", linthresh=0.1)
    fig.suptitle(f"DCGAN on {cfg.data}, {cfg.epochs} epochs per run: bars are means, dots are seeds", fontsize=11)
    fig.tight_layout()
    return _save_figure(fig, out / "compare.png")


def samples_figure(out: Path, cfg: CompareConfig, results: list, n: int = 8) -> Path:
    """One labelled row of `n` samples per upsampler (first seed's generator, the same latent points)."""
    from matplotlib.figure import Figure

    from upsampling.models import load_model
    from upsampling.plots import _save_figure
    groups = _group(results, cfg.upsamplers)
    fig = Figure(figsize=(1.2 * n + 1.6, 1.25 * len(groups) + 0.4), dpi=100)
    latent = None
    for row, (up, rs) in enumerate(groups.items()):
        gen = load_model(run_folder(out, up, rs[0]["seed"]) / "generator.keras")
        if latent is None:
            latent = np.random.default_rng(123).standard_normal((n, gen.input_shape[-1])).astype(np.float32)
        images = np.asarray(gen.predict(latent, verbose=0))
        for col in range(n):
            ax = fig.add_subplot(len(groups), n, row * n + col + 1)
            img = images[col]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else (img + 1) / 2, cmap="gray", vmin=-1, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(f"{up}\nseed {rs[0]['seed']}", fontsize=8)
    fig.suptitle(f"Samples after {cfg.epochs} epochs, same latent points for every upsampler", fontsize=10)
    fig.subplots_adjust(left=0.1, right=0.99, top=0.93, bottom=0.01, wspace=0.05, hspace=0.08)
    return _save_figure(fig, out / "compare_samples.png")
