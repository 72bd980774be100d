"""PNG figures for the docs and for training runs: value grids, image grids and loss curves.

matplotlib and Pillow are optional dependencies (``pip install upsampling[images]``); they are
imported lazily inside the functions, and matplotlib is only used through ``Figure`` +
``FigureCanvasAgg`` (no pyplot, no display, no global state). Every file is written atomically:
a temporary file in the destination folder, then ``os.replace``.
"""
from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np

from upsampling.atomic import atomic_target

__all__ = ["value_grids", "image_grid", "loss_curves"]

_MAX_ANNOTATED = 16  # grids larger than this (in either dimension) are drawn without numbers


# --------------------------------------------------------------------------- helpers


def _atomic_write(path, write) -> pathlib.Path:
    """Create the parent folders of `path`, call ``write(tmp_path)``, then move it into place."""
    with atomic_target(path) as tmp:
        write(str(tmp))
    return pathlib.Path(path)


def _save_figure(fig, path) -> pathlib.Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    return _atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


# --------------------------------------------------------------------------- value_grids


def _prepare_panel(index: int, panel) -> tuple[str, np.ndarray]:
    owner = "value_grids"
    if not isinstance(panel, (tuple, list)) or len(panel) != 2:
        raise ValueError(
            f"{owner}: every item of `panels` must be a (title, array) pair. "
            f"Received: panels[{index}]={panel!r}"
        )
    title, array = panel
    try:
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: the array of `panels[{index}]` must be numeric. "
            f"Received: panels[{index}][1]={array!r}"
        ) from None
    title = str(title)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim == 3 and array.shape[-1] > 1:
        title = f"{title} (channel 0 of {array.shape[-1]})"
        array = array[..., 0]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(
            f"{owner}: the array of `panels[{index}]` must be a non-empty (H, W) or (H, W, C) "
            f"array. Received: shape={array.shape}"
        )
    return title, array


def _value_range(arrays) -> tuple[float, float]:
    finite = [a[np.isfinite(a)] for a in arrays]
    finite = [a for a in finite if a.size]
    if not finite:
        return 0.0, 1.0
    lo = float(min(a.min() for a in finite))
    hi = float(max(a.max() for a in finite))
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def value_grids(
    panels: Sequence[tuple[str, np.ndarray]],
    path,
    *,
    title: str | None = None,
    fmt: str = "{:.2f}",
    cmap: str = "viridis",
    shared_scale: bool = True,
    dpi: int = 110,
) -> pathlib.Path:
    """Draw 2-D arrays as annotated heat-maps, side by side with arrows between them, to a PNG.

    Args:
        panels: list of ``(title, array)`` pairs, e.g. ``[("input 2x2", x), ("output 4x4", y)]``.
            Each array is ``(H, W)``; ``(H, W, 1)`` is squeezed; ``(H, W, C>1)`` shows channel 0
            and appends ``"(channel 0 of C)"`` to its title.
        path: where the PNG is written (parent folders are created; written atomically).
        title: optional figure title.
        fmt: format string of the number written in each cell (grids larger than 16x16 are not
            annotated, only coloured, and get a colour bar instead).
        cmap: matplotlib colour map name.
        shared_scale: one colour scale for all panels (same value, same colour) if True,
            otherwise each panel is scaled to its own min..max.
        dpi: resolution of the PNG.

    Font size follows the cell size; the text is black on light cells and white on dark ones.

    Returns:
        ``pathlib.Path`` of the written PNG.
    """
    from matplotlib import colors as mcolors
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    owner = "value_grids"
    if isinstance(panels, (str, bytes)) or not isinstance(panels, Sequence) or len(panels) == 0:
        raise ValueError(
            f"{owner}: `panels` must be a non-empty list of (title, array) pairs. "
            f"Received: panels={panels!r}"
        )
    prepared = [_prepare_panel(i, p) for i, p in enumerate(panels)]
    try:
        fmt.format(0.0)
    except (AttributeError, ValueError, IndexError, KeyError):
        raise ValueError(
            f"{owner}: `fmt` must be a format string for one number, like '{{:.2f}}'. "
            f"Received: fmt={fmt!r}"
        ) from None
    cm = colormaps[cmap]

    # Layout: square-ish cells, wide enough for the longest label; panels capped at 6 inches.
    texts = [np.vectorize(lambda v: fmt.format(v), otypes=[object])(a) for _, a in prepared]
    sizes = []  # (width, height) in inches per panel
    annotate = []
    for (_, a), t in zip(prepared, texts):
        h, w = a.shape
        ann = max(h, w) <= _MAX_ANNOTATED
        annotate.append(ann)
        longest = max(len(s) for s in t.ravel()) if ann else 1
        cell = max(0.45, 0.11 * longest + 0.12) if ann else 0.15
        scale = min(1.0, 6.0 / (cell * max(h, w)))
        pw, ph = max(1.0, cell * w * scale), max(1.0, cell * h * scale)
        sizes.append((pw, ph))

    arrow_w = 0.7
    bar_w = 0.5
    widths = []
    for i, ((pw, _), ann) in enumerate(zip(sizes, annotate)):
        if i:
            widths.append(arrow_w)
        widths.append(pw + (0 if ann else bar_w))
    fig_w = sum(widths) + 0.6
    fig_h = max(ph for _, ph in sizes) + 0.6 + (0.35 if title else 0.0)
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi)
    top = 1.0 - (0.45 + (0.35 if title else 0.0)) / fig_h
    grid = fig.add_gridspec(
        1, len(widths), width_ratios=widths, left=0.3 / fig_w, right=1 - 0.3 / fig_w,
        bottom=0.15 / fig_h, top=top, wspace=0.0,
    )
    if title:
        fig.suptitle(title, fontsize=13, y=1.0 - 0.12 / fig_h, va="top")

    shared = _value_range([a for _, a in prepared]) if shared_scale else None
    column = 0
    for i, ((name, a), t, (pw, ph), ann) in enumerate(zip(prepared, texts, sizes, annotate)):
        if i:
            ax = fig.add_subplot(grid[0, column])
            ax.set_axis_off()
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.annotate("", xy=(0.85, 0.5), xytext=(0.15, 0.5),
                        arrowprops=dict(arrowstyle="-|>", lw=2, color="0.3"))
            column += 1
        ax = fig.add_subplot(grid[0, column])
        column += 1
        lo, hi = shared if shared else _value_range([a])
        norm = mcolors.Normalize(vmin=lo, vmax=hi)
        image = ax.imshow(a, cmap=cm, norm=norm, interpolation="nearest")
        ax.set_title(name, fontsize=11)
        h, w = a.shape
        if ann:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
            ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
            ax.grid(which="minor", color="white", linewidth=1.0)
            ax.tick_params(which="minor", length=0)
            cell_pt = 72.0 * min(pw / w, ph / h)
            longest = max(len(s) for s in t.ravel())
            fontsize = max(4.0, min(12.0, 0.45 * cell_pt, 1.5 * cell_pt / max(longest, 1)))
            rgba = cm(norm(np.nan_to_num(a, nan=lo)))
            luminance = 0.299 * rgba[..., 0] + 0.587 * rgba[..., 1] + 0.114 * rgba[..., 2]
            for r in range(h):
                for c in range(w):
                    ax.text(c, r, t[r, c], ha="center", va="center", fontsize=fontsize,
                            color="black" if luminance[r, c] > 0.5 else "white")
        else:
            ax.tick_params(labelsize=7)
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _save_figure(fig, path)


# --------------------------------------------------------------------------- image_grid


def _grid_shape(n: int, rows, cols) -> tuple[int, int]:
    owner = "image_grid"
    for name, value in (("rows", rows), ("cols", cols)):
        if value is not None and (not _is_int(value) or value < 1):
            raise ValueError(
                f"{owner}: `{name}` must be a positive integer or None. "
                f"Received: {name}={value!r}"
            )
    if rows is None and cols is None:
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
    elif rows is None:
        rows = math.ceil(n / cols)
    elif cols is None:
        cols = math.ceil(n / rows)
    elif rows * cols < n:
        raise ValueError(
            f"{owner}: `rows * cols` must be at least the number of images ({n}). "
            f"Received: rows={rows}, cols={cols}"
        )
    return int(rows), int(cols)


def image_grid(
    images: np.ndarray,
    path,
    *,
    rows: int | None = None,
    cols: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    scale: int = 1,
    gap: int = 2,
    gap_value: int = 255,
) -> pathlib.Path:
    """Tile a batch of images into one PNG (Pillow), row-major, with `gap`-pixel gaps.

    Args:
        images: ``(N, H, W, C)`` array, C = 1 (grayscale PNG) or 3 (RGB PNG).
        path: where the PNG is written (parent folders created; temp file + ``os.replace``).
        rows, cols: layout; both None -> ``cols = ceil(sqrt(N))``, ``rows = ceil(N / cols)``;
            one given -> the other is ``ceil(N / given)``; both given -> ``rows * cols >= N``.
        value_range: ``(lo, hi)``; values are mapped linearly ``lo -> 0``, ``hi -> 255``,
            rounded and clipped to 0..255 (NaN -> 0). Default (-1, 1) matches a tanh generator.
        scale: positive integer; every pixel becomes a ``scale x scale`` block (nearest neighbour).
        gap: pixels between tiles (not scaled, no outer border).
        gap_value: 0..255 value of the gap pixels and of unused cells (default white).

    The PNG is ``(rows*H*scale + (rows-1)*gap)`` high and ``(cols*W*scale + (cols-1)*gap)`` wide;
    image ``i`` sits at row ``i // cols``, column ``i % cols``, its top-left pixel at
    ``(row * (H*scale + gap), col * (W*scale + gap))``.

    Returns:
        ``pathlib.Path`` of the written PNG.
    """
    from PIL import Image

    owner = "image_grid"
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"{owner}: `images` must be a 4-D (N, H, W, C) array. Received: shape={images.shape}"
        )
    n, h, w, c = images.shape
    if c not in (1, 3):
        raise ValueError(
            f"{owner}: `images` must have C = 1 (grayscale) or 3 (RGB) channels (last axis). "
            f"Received: shape={images.shape}"
        )
    if n == 0 or h == 0 or w == 0:
        raise ValueError(
            f"{owner}: `images` must hold at least one non-empty image. "
            f"Received: shape={images.shape}"
        )
    if not _is_int(scale) or scale < 1:
        raise ValueError(f"{owner}: `scale` must be a positive integer. Received: scale={scale!r}")
    if not _is_int(gap) or gap < 0:
        raise ValueError(f"{owner}: `gap` must be an integer >= 0. Received: gap={gap!r}")
    if not _is_int(gap_value) or not 0 <= gap_value <= 255:
        raise ValueError(
            f"{owner}: `gap_value` must be an integer in 0..255. Received: gap_value={gap_value!r}"
        )
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: `value_range` must be a pair of numbers (lo, hi). "
            f"Received: value_range={value_range!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(
            f"{owner}: `value_range` must be finite with lo < hi. "
            f"Received: value_range={value_range!r}"
        )
    rows, cols = _grid_shape(n, rows, cols)

    x = (images.astype(np.float64) - lo) * (255.0 / (hi - lo))
    x = np.clip(np.rint(np.nan_to_num(x, nan=0.0, posinf=255.0, neginf=0.0)), 0, 255)
    x = x.astype(np.uint8)
    if scale > 1:
        x = x.repeat(scale, axis=1).repeat(scale, axis=2)
    th, tw = h * scale, w * scale
    canvas = np.full(
        (rows * th + (rows - 1) * gap, cols * tw + (cols - 1) * gap, c), gap_value, np.uint8
    )
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = r * (th + gap), q * (tw + gap)
        canvas[top:top + th, left:left + tw] = x[i]
    picture = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    return _atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"))


# --------------------------------------------------------------------------- loss_curves


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` finite values; (n,) -> (n - window + 1,)."""
    finite = np.isfinite(values)
    v = np.where(finite, values, 0.0)
    csum = np.concatenate([[0.0], np.cumsum(v)])
    ccount = np.concatenate([[0], np.cumsum(finite)])
    total = csum[window:] - csum[:-window]
    count = ccount[window:] - ccount[:-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def loss_curves(
    history,
    path,
    *,
    title: str = "Losses",
    xlabel: str = "step",
    ylabel: str = "loss",
    dpi: int = 110,
) -> pathlib.Path:
    """Plot one line per series of a training history to a PNG.

    Args:
        history: ``dict[str, list[float]]`` (each list ``(n_k,)``, e.g.
            ``{"d_loss": [...], "g_loss": [...]}``) or a Keras-style ``History`` object with a
            ``.history`` dict. Point ``j`` of a series is drawn at x = j. Empty series are skipped
            (but still listed in the legend); non-finite values leave gaps.
        path: where the PNG is written (parent folders created; written atomically).
        title, xlabel, ylabel: figure texts.
        dpi: resolution of the PNG.

    Series longer than 50 points are drawn faint, with a moving average (window
    ``clip(n // 25, 5, 500)``) in the same colour on top; shorter ones are drawn as is.

    Returns:
        ``pathlib.Path`` of the written PNG.
    """
    from matplotlib.figure import Figure

    owner = "loss_curves"
    if not isinstance(history, Mapping) and isinstance(getattr(history, "history", None), Mapping):
        history = history.history
    if not isinstance(history, Mapping) or len(history) == 0:
        raise ValueError(
            f"{owner}: `history` must be a non-empty dict of name -> list of numbers. "
            f"Received: history={history!r}"
        )
    series = {}
    for key, values in history.items():
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{owner}: every value of `history` must be a 1-D list of numbers. "
                f"Received: history[{key!r}]={values!r}"
            ) from None
        if arr.ndim != 1:
            raise ValueError(
                f"{owner}: every value of `history` must be a 1-D list of numbers. "
                f"Received: history[{key!r}] with shape={arr.shape}"
            )
        series[str(key)] = arr

    fig = Figure(figsize=(8, 4.5), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    for index, (name, arr) in enumerate(series.items()):
        color = f"C{index % 10}"
        n = arr.size
        x = np.arange(n)
        if n > 50:
            window = int(np.clip(n // 25, 5, 500))
            ax.plot(x, arr, color=color, alpha=0.3, linewidth=0.8)
            smooth = _moving_average(arr, window)
            ax.plot(x[window - 1:], smooth, color=color, linewidth=1.8,
                    label=f"{name} (mean of {window})")
        else:
            ax.plot(x, arr, color=color, linewidth=1.5, marker="o" if n <= 20 else None,
                    markersize=3, label=name)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.35)
    ax.legend(loc="best")
    fig.tight_layout()
    return _save_figure(fig, path)
