"""Checkerboard metrics for upsampling layers and generators, NumPy only.

A layer that upsamples by an integer factor ``s`` produces an output whose pixels fall into
``s * s`` *phases* (output row mod s, column mod s). A transposed convolution computes each phase
with its own sub-kernel; when the sub-kernels differ (uneven overlap, or simply unequal learned
weights) the phases differ and an s-periodic pattern, the checkerboard, appears (Odena et al.
2016). Three numbers measure it:

* :func:`phase_disparity` (a): the share of the output's variance that is explained by the phase,
  between-phase variance of the s*s phase means over the total variance; 0 when every phase has
  the same mean, 1 for a pure s-periodic pattern.
* :func:`spectral_peak_ratio` (b): the mean power at the alias frequencies (k1/s, k2/s)
  cycles/pixel, k1, k2 in 0..s-1 but not both 0, over the mean power of all non-DC frequencies;
  0 when those frequencies are empty, about 1 for white noise, large for a periodic pattern.
* :func:`shift_equivariance_psnr` (c): StyleGAN3's EQ-T for one layer: PSNR between
  f(shift(x, d / s)) and shift(f(x), d), the input translated by a fraction of its pixel and the
  output by whole pixels; infinite for a perfectly equivariant layer, low for a checkerboard.

Theory, checked by the tests: nearest upsampling of *any* map has (a) = 0 and (b) = 0 (the
zero-order hold nulls every alias frequency), and of a constant map (c) = inf; a 3x3, stride-2
transposed convolution of a constant map has (a) close to 1, (b) large and (c) low.

Layer-level measurements (:func:`measure_upsamplers`) and generator-level ones
(:func:`generator_metrics`) build on these; `upsampling artifacts` prints and draws them.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

__all__ = ["phase_disparity", "spectral_peak_ratio", "shift_equivariance_psnr", "fractional_shift",
           "probe_inputs", "measure_upsamplers", "generator_metrics", "LAYER_UPSAMPLERS"]


# --------------------------------------------------------------------------- helpers
def _as_nhwc(owner: str, y) -> np.ndarray:
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: the output must be a numeric array. Received: {type(y).__name__}") from None
    if arr.ndim == 2:
        arr = arr[None, :, :, None]
    elif arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"{owner}: expected an (H, W), (H, W, C) or (N, H, W, C) array. Received: shape={arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: the output contains NaN or infinite values.")
    return arr


def _check_factor(owner: str, factor) -> int:
    if not isinstance(factor, (int, np.integer)) or isinstance(factor, bool) or factor < 1:
        raise ValueError(f"{owner}: `factor` must be a positive integer (the upsampling factor). "
                         f"Received: factor={factor!r}")
    return int(factor)


def _interior(owner: str, y: np.ndarray, factor: int, margin: int) -> np.ndarray:
    """Drop `margin` pixels (rounded up to a multiple of factor) on every side, then trim the end so
    both sides are multiples of factor: phase (a, b) stays at rows a::factor, columns b::factor."""
    if not isinstance(margin, (int, np.integer)) or isinstance(margin, bool) or margin < 0:
        raise ValueError(f"{owner}: `margin` must be a non-negative integer. Received: margin={margin!r}")
    m = -(-int(margin) // factor) * factor
    core = y[:, m:y.shape[1] - m, m:y.shape[2] - m, :]
    h = core.shape[1] // factor * factor
    w = core.shape[2] // factor * factor
    if h < factor or w < factor:
        raise ValueError(f"{owner}: after removing a margin of {m} pixels the output is smaller than one "
                         f"{factor}x{factor} block. Received: shape={y.shape[1:3]}, margin={margin}")
    return core[:, :h, :w, :]


# --------------------------------------------------------------------------- (a) phase disparity
def phase_disparity(y, factor: int = 2, *, margin: int = 0) -> float:
    """(a) Share of the variance explained by the output phase, in [0, 1].

    For every image n and channel c of ``y`` ((H, W), (H, W, C) or (N, H, W, C)), after removing
    ``margin`` border pixels: the s*s phase means m_ab = mean(y[a::s, b::s]), the between-phase
    variance B = mean_ab (m_ab - mean(m))^2 and the total variance T = var(y). The result is the
    mean over (n, c) of B / T (a map with T = 0, a constant, counts as 0; ratios below 1e-12,
    rounding of equal means, count as 0). Since all phases have
    the same size, T = B + (mean within-phase variance), so the ratio is 0 exactly when all phases
    have equal means and 1 when each phase is constant (a pure s-periodic pattern).
    """
    owner = "phase_disparity"
    s = _check_factor(owner, factor)
    core = _interior(owner, _as_nhwc(owner, y), s, margin)
    n, h, w, c = core.shape
    phases = core.reshape(n, h // s, s, w // s, s, c)  # (N, H/s, a, W/s, b, C)
    means = phases.mean(axis=(1, 3))  # (N, a, b, C)
    between = means.var(axis=(1, 2))  # (N, C)
    total = core.var(axis=(1, 2))  # (N, C)
    tiny = 1e-24 * np.maximum(1.0, np.abs(core).max(axis=(1, 2)) ** 2)
    ratio = np.where(total > tiny, between / np.where(total > tiny, total, 1.0), 0.0)
    ratio = np.where(ratio < 1e-12, 0.0, ratio)  # below 1e-12: rounding of phase means that are equal
    return float(np.clip(ratio, 0.0, 1.0).mean())


# --------------------------------------------------------------------------- (b) spectral peaks
def spectral_peak_ratio(y, factor: int = 2, *, margin: int = 0) -> float:
    """(b) Mean power at the alias frequencies k/s over the mean power of all non-DC frequencies.

    After removing ``margin`` border pixels, the power spectrum P = |FFT2(y - mean)|^2 is averaged
    over images and channels. With H', W' the (multiple-of-s) sizes, the alias bins are
    (k1 H'/s, k2 W'/s) for k1, k2 in 0..s-1, not both 0: exactly the frequencies where an
    s-periodic pattern puts its energy. The result is mean(P[alias]) / mean(P[all bins but DC]);
    0 when the non-DC power is 0 (a constant map); ratios below 1e-12 (FFT rounding) are 0. White noise gives about 1; a checkerboard gives
    up to H'W' / (s^2 - 1); nearest upsampling gives 0 for any input, because the s-tap hold
    filter's response sum_t exp(-2 pi i k t / s) vanishes at every k/s, k != 0.
    """
    owner = "spectral_peak_ratio"
    s = _check_factor(owner, factor)
    if s == 1:
        return 0.0
    core = _interior(owner, _as_nhwc(owner, y), s, margin)
    n, h, w, c = core.shape
    centred = core - core.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(centred, axes=(1, 2))) ** 2).mean(axis=(0, 3))  # (H', W')
    non_dc = power.sum() - power[0, 0]
    count = h * w - 1
    if non_dc <= 1e-24 * max(1.0, float(np.abs(core).max()) ** 2) * h * w:
        return 0.0
    rows = np.arange(s) * (h // s)
    cols = np.arange(s) * (w // s)
    alias = power[np.ix_(rows, cols)].sum() - power[0, 0]
    ratio = float((alias / (s * s - 1)) / (non_dc / count))
    return 0.0 if ratio < 1e-12 else ratio  # below 1e-12: FFT rounding of an exact zero


# --------------------------------------------------------------------------- (c) equivariance
def fractional_shift(x, dy: float, dx: float) -> np.ndarray:
    """Translate NHWC maps by (dy, dx) pixels (content moves down/right), fractions allowed.

    Band-limited (Fourier) translation of the map's even-symmetric extension: the map is mirrored
    to (2H, 2W), so the periodic signal the FFT sees has no jump at the border, multiplied by the
    phase ramp exp(-2 pi i (f_y dy + f_x dx)) and cropped back. Integer shifts of the interior and
    any shift of a constant map are exact up to rounding.
    """
    x = _as_nhwc("fractional_shift", x)
    n, h, w, c = x.shape
    ext = np.concatenate([x, x[:, ::-1]], axis=1)  # (N, 2H, W, C), mirrored rows
    ext = np.concatenate([ext, ext[:, :, ::-1]], axis=2)  # (N, 2H, 2W, C)
    fy = np.fft.fftfreq(2 * h)[:, None]  # (2H, 1) cycles per pixel
    fx = np.fft.fftfreq(2 * w)[None, :]  # (1, 2W)
    ramp = np.exp(-2j * np.pi * (fy * dy + fx * dx))[None, :, :, None]
    shifted = np.fft.ifft2(np.fft.fft2(ext, axes=(1, 2)) * ramp, axes=(1, 2)).real
    return shifted[:, :h, :w, :]


def _psnr(a: np.ndarray, b: np.ndarray, peak: float, dtype) -> float:
    mse = float(np.mean((a - b) ** 2))
    # differences at the rounding level of the layer's dtype count as zero
    tol = 8.0 * float(np.finfo(dtype).eps) * max(peak, float(np.abs(b).max(initial=0.0)), 1e-30)
    if math.sqrt(mse) <= tol:
        return math.inf
    if peak <= 0:
        peak = max(float(np.abs(b).max(initial=0.0)), 1e-30)
    return 10.0 * math.log10(peak * peak / mse)


def shift_equivariance_psnr(fn, x, factor: int = 2, *, shift: int = 1, margin: int | None = None) -> float:
    """(c) PSNR in dB of f(shift(x, shift / s)) against shift(f(x), shift), both axes at once.

    ``fn`` maps an NHWC array to its s-times larger output. The input is translated by
    ``shift / factor`` input pixels along both axes with :func:`fractional_shift`, so a perfectly
    equivariant layer would translate its output by exactly ``shift`` pixels. The two outputs are
    compared on the interior (``margin`` output pixels dropped on every side, default 2 * factor);
    the peak is the range max - min of the reference output there. Returns ``inf`` when they agree
    to rounding (for example nearest upsampling of a constant map). An integer shift of the input
    (``shift`` a multiple of ``factor``) is exact for every convolutional layer away from the
    border; the fractional one exposes the s-periodic pattern.
    """
    owner = "shift_equivariance_psnr"
    s = _check_factor(owner, factor)
    if not isinstance(shift, (int, np.integer)) or isinstance(shift, bool) or shift < 0:
        raise ValueError(f"{owner}: `shift` must be a non-negative integer (output pixels). Received: shift={shift!r}")
    x = np.asarray(x)
    y = np.asarray(fn(x))
    dtype = y.dtype if np.issubdtype(y.dtype, np.floating) else np.float64
    y_shift = np.asarray(fn(fractional_shift(x, shift / s, shift / s).astype(x.dtype)))
    y, y_shift = _as_nhwc(owner, y), _as_nhwc(owner, y_shift)
    m = 2 * s if margin is None else int(margin)
    m = max(m, shift)
    h, w = y.shape[1], y.shape[2]
    if h - 2 * m <= 0 or w - 2 * m <= 0:
        raise ValueError(f"{owner}: the output {y.shape[1:3]} has no interior left after a margin of {m}.")
    got = y_shift[:, m:h - m, m:w - m]
    ref = y[:, m - shift:h - m - shift, m - shift:w - m - shift]
    peak = float(ref.max() - ref.min())
    return _psnr(got, ref, peak, dtype)


# --------------------------------------------------------------------------- probes and layers
LAYER_UPSAMPLERS = ("transpose3", "transpose", "nearest", "bilinear", "subpixel", "subpixel_icnr", "blur")


def probe_inputs(kind: str, shape, seed: int = 0) -> np.ndarray:
    """Float32 NHWC probes: 'constant' (all ones, the input where a checkerboard-free layer must
    give a flat output) or 'smooth' (unit-variance noise keeping only frequencies below 1/4
    cycles per pixel, so the input itself has no energy near the alias frequencies)."""
    n, h, w, c = shape
    if kind == "constant":
        return np.ones(shape, np.float32)
    if kind != "smooth":
        raise ValueError(f"probe_inputs: `kind` must be 'constant' or 'smooth'. Received: kind={kind!r}")
    noise = np.random.default_rng(seed).standard_normal(shape)
    spec = np.fft.fft2(noise, axes=(1, 2))
    keep = (np.abs(np.fft.fftfreq(h))[:, None] < 0.25) & (np.abs(np.fft.fftfreq(w))[None, :] < 0.25)
    smooth = np.fft.ifft2(spec * keep[None, :, :, None], axes=(1, 2)).real
    smooth /= smooth.std() or 1.0
    return smooth.astype(np.float32)


def upsampler_block(upsampler: str, channels: int):
    """The generator's upsampling layer(s) for `upsampler` alone (no BatchNorm, no activation)."""
    from upsampling.gan.dcgan import UPSAMPLERS, add_upsampler
    from upsampling.models import Sequential
    if upsampler not in UPSAMPLERS:
        raise ValueError(f"upsampler_block: `upsampler` must be one of {UPSAMPLERS}. Received: upsampler={upsampler!r}")
    model = Sequential(name=f"block_{upsampler}")
    add_upsampler(model, upsampler, channels)
    return model


def layer_metrics(fn, x: np.ndarray, factor: int = 2, margin: int = 4) -> dict:
    """The three metrics of `fn` (NHWC -> NHWC, upsampling by `factor`) on the probe `x`."""
    y = np.asarray(fn(x))
    return {"phase_disparity": phase_disparity(y, factor, margin=margin),
            "spectral_peak_ratio": spectral_peak_ratio(y, factor, margin=margin),
            "eq_psnr": shift_equivariance_psnr(fn, x, factor, shift=1, margin=margin)}


def measure_upsamplers(upsamplers=LAYER_UPSAMPLERS, *, seeds=range(20), channels: int = 8, size: int = 16,
                       probes=("constant", "smooth")) -> list:
    """One row per (upsampler, probe, seed): the block at random initialisation (seeded), fed the probe."""
    from upsampling.layers.base import clear_session
    from upsampling.random import set_random_seed
    rows = []
    for up in upsamplers:
        for seed in seeds:
            clear_session()
            set_random_seed(int(seed))
            block = upsampler_block(up, channels)
            fn = lambda a: block.predict(a, verbose=0)  # noqa: E731
            for probe in probes:
                x = probe_inputs(probe, (1, size, size, channels), seed=int(seed))
                rows.append({"upsampler": up, "probe": probe, "seed": int(seed), **layer_metrics(fn, x)})
    return rows


# --------------------------------------------------------------------------- generators
def _split_at_reshape(generator):
    """(dense part, spatial part) of a DCGAN generator: the layers up to the Reshape, and after."""
    layers = list(generator.layers)
    names = [type(l).__name__ for l in layers]
    if "Reshape" not in names:
        raise ValueError(f"generator_metrics: the generator needs a Reshape layer that starts its spatial part. "
                         f"Received layers: {names}")
    cut = names.index("Reshape") + 1
    return layers[:cut], layers[cut:]


def _run(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def generator_metrics(generator, *, n: int = 256, seed: int = 0, factor: int | None = None, margin: int = 4) -> dict:
    """The three metrics of a generator that maps latent vectors to images through a Reshape.

    (a) and (b) are taken on ``n`` generated images (latent points from ``seed``) with the total
    upsampling factor (image size over the Reshape's map size, 4 for the DCGAN recipes), ``margin``
    border pixels dropped (less when the image is too small to keep one block); (c)
    shifts the map right after the Reshape by 1/factor of its pixel and compares the spatial part's
    output with the original output shifted by one pixel (inference mode, so BatchNorm is fixed).
    """
    dense_part, spatial = _split_at_reshape(generator)
    latent = np.random.default_rng(seed).standard_normal((n, generator.input_shape[-1])).astype(np.float32)
    feats = np.asarray(_run(dense_part, latent))
    images = np.asarray(_run(spatial, feats))
    s = factor or images.shape[1] // feats.shape[1]
    fn = lambda f: np.asarray(_run(spatial, f))  # noqa: E731
    side = min(images.shape[1:3])
    m_phase = margin  # small images (8x8 digits): shrink the margin until one s x s block is left
    while m_phase > 0 and side - 2 * (-(-m_phase // s) * s) < s:
        m_phase -= 1
    m_eq = max(1, min(margin, (side - 2) // 2))
    return {"phase_disparity": phase_disparity(images, s, margin=m_phase),
            "spectral_peak_ratio": spectral_peak_ratio(images, s, margin=m_phase),
            "eq_psnr": shift_equivariance_psnr(fn, feats[: min(n, 64)], s, shift=1, margin=m_eq),
            "factor": s}


# --------------------------------------------------------------------------- tables and figures
METRICS = ("phase_disparity", "spectral_peak_ratio", "eq_psnr")
METRIC_TITLES = {"phase_disparity": "(a) phase disparity", "spectral_peak_ratio": "(b) spectral peak ratio",
                 "eq_psnr": "(c) shift-equivariance PSNR (dB)"}


def _summary(values) -> tuple:
    """(mean, std, count of inf) over finite values; inf counted apart so the mean stays meaningful."""
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    n_inf = int(np.isinf(arr).sum())
    if finite.size == 0:
        return (math.inf if n_inf else math.nan), 0.0, n_inf
    return float(finite.mean()), float(finite.std()), n_inf


def format_cell(values) -> str:
    mean, std, n_inf = _summary(values)
    total = len(values)
    if n_inf == total:
        return "inf"
    text = f"{mean:.3g} ± {std:.2g}"
    return text + (f" ({n_inf}/{total} inf)" if n_inf else "")


def summarize(rows: list, group=("upsampler", "probe")) -> list:
    """Group rows and summarise every metric: [{'upsampler', 'probe', 'n', metric: [values]}]."""
    out: dict = {}
    for row in rows:
        key = tuple(row[g] for g in group)
        entry = out.setdefault(key, {**{g: row[g] for g in group}, "n": 0, **{m: [] for m in METRICS}})
        entry["n"] += 1
        for m in METRICS:
            entry[m].append(row[m])
    return list(out.values())


def markdown_table(summary: list, group=("upsampler", "probe")) -> str:
    from upsampling.gan.dcgan import UPSAMPLER_HELP
    head = ["upsampler", *[g for g in group if g != "upsampler"], "n", *[METRIC_TITLES[m] for m in METRICS]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary:
        help_ = UPSAMPLER_HELP.get(e["upsampler"])
        name = f"`{e['upsampler']}`" + (f" ({help_})" if help_ else "")
        cells = [name, *[str(e[g]) for g in group if g != "upsampler"], str(e["n"]),
                 *[format_cell(e[m]) for m in METRICS]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rows_csv(rows: list) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def metrics_figure(summary: list, path, *, title: str, group_label=lambda e: e["upsampler"],
                   examples: dict | None = None) -> Path:
    """Bar charts (mean, error bar = std over seeds, inf drawn at the top and marked) of the three
    metrics per group, with one example output map per upsampler underneath when given."""
    from matplotlib.figure import Figure

    from upsampling.plots import _save_figure
    rows = 2 if examples else 1
    fig = Figure(figsize=(15, 4.2 * rows), dpi=100, layout="constrained")
    labels = [group_label(e) for e in summary]
    for k, m in enumerate(METRICS):
        ax = fig.add_subplot(rows, 3, k + 1)
        stats = [_summary(e[m]) for e in summary]
        finite_top = max([mu + sd for mu, sd, _ in stats if math.isfinite(mu)], default=1.0)
        top = finite_top * 1.15 if finite_top > 0 else 1.0
        means = [mu if math.isfinite(mu) else top for mu, _, _ in stats]
        colors = ["#7f7f7f" if not math.isfinite(mu) else "#1f77b4" for mu, _, _ in stats]
        ax.bar(range(len(labels)), means, yerr=[sd for _, sd, _ in stats], color=colors, capsize=3)
        for i, (mu, _, n_inf) in enumerate(stats):
            if n_inf:
                ax.text(i, means[i], "inf" if not math.isfinite(mu) else f"{n_inf} inf", ha="center",
                        va="bottom", fontsize=7)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        ax.set_title(METRIC_TITLES[m], fontsize=10)
        if m == "spectral_peak_ratio":
            ax.set_yscale("symlog", linthresh=0.01)
    if examples:
        names = list(examples)
        for i, name in enumerate(names):
            ax = fig.add_subplot(rows, len(names), len(names) + i + 1)
            img = np.asarray(examples[name])
            ax.imshow(img, cmap="gray", interpolation="nearest")
            ax.set_title(name, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=11)
    return _save_figure(fig, path)


def run_artifacts(out_dir, *, upsamplers=LAYER_UPSAMPLERS, seeds=range(20), channels: int = 8, size: int = 16,
                  generators=(), images: bool = True, print_fn=print) -> dict:
    """`upsampling artifacts`: measure every upsampler at random init (and trained generators if
    given); write artifacts.md, artifacts.csv and artifacts.png into `out_dir`."""
    from upsampling.atomic import atomic_write_bytes
    out = Path(out_dir)
    seeds = list(seeds)
    if not seeds or not list(upsamplers):
        raise ValueError(f"artifacts: give at least one seed and one upsampler. Received: seeds={seeds}, "
                         f"upsamplers={list(upsamplers)}")
    rows = measure_upsamplers(upsamplers, seeds=seeds, channels=channels, size=size)
    summary = summarize(rows)
    text = [f"# Checkerboard metrics of each upsampler at random initialisation\n",
            f"One upsampling block ({channels} -> {channels} channels, the layer defaults' random init) per seed, "
            f"{len(seeds)} seeds, {size}x{size} probes, 4-pixel border margin; mean ± std over seeds.\n",
            markdown_table(summary)]
    examples = {}
    for up in (upsamplers if images else ()):
        from upsampling.layers.base import clear_session
        from upsampling.random import set_random_seed
        clear_session()
        set_random_seed(seeds[0])
        block = upsampler_block(up, channels)
        examples[up] = block.predict(probe_inputs("constant", (1, size, size, channels)), verbose=0)[0, :, :, 0]
    gen_rows = []
    for path in generators:
        from upsampling.models import load_model
        metrics = generator_metrics(load_model(path))
        gen_rows.append({"upsampler": str(path), "probe": "latent", "seed": 0,
                         **{m: metrics[m] for m in METRICS}})
    if gen_rows:
        text += ["\n## Trained generators\n", markdown_table(summarize(gen_rows))]
    md = "\n".join(text)
    atomic_write_bytes(out / "artifacts.md", md.encode())
    atomic_write_bytes(out / "artifacts.csv", rows_csv(rows + gen_rows).encode())
    written = [out / "artifacts.md", out / "artifacts.csv"]
    if images:
        ordered = sorted(summary, key=lambda e: (e["probe"] != "constant", list(upsamplers).index(e["upsampler"])))
        written.append(metrics_figure(
            ordered, out / "artifacts.png", examples=examples, group_label=lambda e: f"{e['upsampler']} ({e['probe']})",
            title=f"Checkerboard metrics at random init, {len(seeds)} seeds (bars: mean, whiskers: std; grey: inf); "
                  f"bottom: channel 0 of each block's output for a constant input"))
    print_fn(md)
    print_fn("Wrote " + ", ".join(str(p) for p in written))
    return {"rows": rows, "generators": gen_rows, "summary": summary}
