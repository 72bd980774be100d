"""`upsampling explain LAYER [ARGS]`: what an upsampling layer does to a small input, step by step.

For each layer it reports, per spatial axis, the shape arithmetic (Keras's rules, including the
'same' crop and the output_padding rule of Conv2DTranspose), the zero-inserted input where one
exists, the overlap-count map (how many input-times-kernel taps land on each output pixel: uneven
counts are the checkerboard's cause), the equivalent PyTorch call or why none exists, and a PNG in
the style of the demo's pictures. ``--json`` prints the same numbers as JSON.

Every number is computed twice where it can be: from the formulas, and by running the project's
own layer (a ones kernel on a ones input gives the overlap counts); a disagreement is an error.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from upsampling import shapes

LAYERS = ("Conv2DTranspose", "UpSampling2D", "Resizing", "BlurUpSampling2D", "SubPixelConv2D", "DepthToSpace",
          "PixelShuffle")


class ExplainError(ValueError):
    """Bad arguments for `upsampling explain`: reported as a message, not a traceback."""


# --------------------------------------------------------------------------- argument parsing
def _size(text: str, name: str, minimum: int = 1) -> tuple:
    parts = str(text).lower().replace(",", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < minimum:
        rule = "positive" if minimum == 1 else f">= {minimum}"
        raise ExplainError(f"explain: `--{name}` must be HxW or one number, integers {rule}. Received: {text!r}")
    return values


def _pair_or_none(text, name, minimum: int = 1):
    return None if text is None else _size(text, name, minimum)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("layer", help=f"one of {', '.join(LAYERS)} (case-insensitive)")
    parser.add_argument("--input", default="5x5", help="input height x width, e.g. 5x5 (default 5x5)")
    parser.add_argument("--kernel", default=None, help="kernel size, K or KHxKW (Conv2DTranspose: 3; SubPixelConv2D: 3)")
    parser.add_argument("--strides", default=None, help="Conv2DTranspose strides (default 2)")
    parser.add_argument("--padding", default="same", choices=("same", "valid"))
    parser.add_argument("--output-padding", default=None, help="Conv2DTranspose output_padding (default None)")
    parser.add_argument("--dilation", default="1", help="dilation rate (default 1)")
    parser.add_argument("--groups", type=int, default=1, help="Conv2DTranspose groups (default 1)")
    parser.add_argument("--channels", type=int, default=None, help="input channels (default: groups, or the "
                        "smallest valid number)")
    parser.add_argument("--filters", type=int, default=None, help="output channels (default: groups or 1)")
    parser.add_argument("--size", default="2", help="UpSampling2D/BlurUpSampling2D size, SubPixelConv2D scale, "
                        "DepthToSpace block (default 2)")
    parser.add_argument("--interpolation", default=None, help="UpSampling2D / Resizing interpolation")
    parser.add_argument("--scale-factor", default=None, help="Resizing scale factor, e.g. 1.5 or 1.5x2")
    parser.add_argument("--target", default=None, help="Resizing target size HxW")
    parser.add_argument("--coordinate-mode", default="half_pixel")
    parser.add_argument("--nearest-mode", default="round_prefer_ceil")
    parser.add_argument("--cubic-coeff-a", type=float, default=-0.5)
    parser.add_argument("--clamp-edges", action="store_true", help="Resizing exclude_outside=False (PyTorch)")
    parser.add_argument("--antialias", action="store_true")
    parser.add_argument("--filter", default="1,3,3,1", help="BlurUpSampling2D taps (default 1,3,3,1)")
    parser.add_argument("--mode", default=None, help="DepthToSpace / SubPixelConv2D channel order DCR or CRD")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--out", default=None, help="PNG path (default runs/explain/<layer>.png)")
    parser.add_argument("--no-image", action="store_true", help="write no PNG")


def _canonical(name: str) -> str:
    for layer in LAYERS:
        if layer.lower() == str(name).lower().replace("_", ""):
            return layer
    aliases = {"conv2dtranspose": "Conv2DTranspose", "deconv2d": "Conv2DTranspose", "upsampling2d": "UpSampling2D",
               "subpixel": "SubPixelConv2D", "blur": "BlurUpSampling2D", "pixelshuffle": "PixelShuffle",
               "depthtospace": "DepthToSpace", "resize": "Resizing"}
    key = str(name).lower().replace("_", "").replace("-", "")
    if key in aliases:
        return aliases[key]
    raise ExplainError(f"explain: unknown layer {name!r}; expected one of {', '.join(LAYERS)}.")


def build_layer(args):
    """The project's layer for the arguments, built by its own constructor (its validation applies)."""
    from upsampling import layers
    name = _canonical(args.layer)
    hw = _size(args.input, "input")
    kernel = _pair_or_none(args.kernel, "kernel")
    dilation = _size(args.dilation, "dilation")
    size = _size(args.size, "size")
    groups = args.groups
    if name == "Conv2DTranspose":
        filters = args.filters or groups
        channels = args.channels or groups
        layer = layers.Conv2DTranspose(filters, kernel or (3, 3), strides=_size(args.strides or "2", "strides"),
                                       padding=args.padding, output_padding=_pair_or_none(args.output_padding,
                                                                                          "output-padding", 0),
                                       dilation_rate=dilation, groups=groups, kernel_initializer="ones",
                                       use_bias=False)
    elif name == "UpSampling2D":
        channels = args.channels or 1
        layer = layers.UpSampling2D(size=size, interpolation=args.interpolation or "nearest")
    elif name == "Resizing":
        channels = args.channels or 1
        scale = None
        if args.scale_factor is not None:
            try:
                scale = tuple(float(v) for v in str(args.scale_factor).lower().split("x"))
            except ValueError:
                raise ExplainError(f"explain: `--scale-factor` must be a number or AxB. Received: "
                                   f"{args.scale_factor!r}") from None
            scale = scale * 2 if len(scale) == 1 else scale
        target = _pair_or_none(args.target, "target")
        if (target is None) == (scale is None):
            raise ExplainError("explain: Resizing needs exactly one of `--target HxW` or `--scale-factor S`.")
        layer = layers.Resizing(*(target or (None, None)), interpolation=args.interpolation or "bilinear",
                                scale_factor=scale, coordinate_mode=args.coordinate_mode,
                                nearest_mode=args.nearest_mode, cubic_coeff_a=args.cubic_coeff_a,
                                exclude_outside=not args.clamp_edges, antialias=args.antialias)
    elif name == "BlurUpSampling2D":
        channels = args.channels or 1
        try:
            taps = [float(v) for v in args.filter.split(",")]
        except ValueError:
            raise ExplainError(f"explain: `--filter` must be comma-separated numbers. Received: {args.filter!r}") from None
        layer = layers.BlurUpSampling2D(size=size, filter=taps)
    elif name == "SubPixelConv2D":
        channels = args.channels or 1
        layer = layers.SubPixelConv2D(args.filters or 1, kernel or (3, 3), scale=size[0], padding=args.padding,
                                      mode=args.mode or "DCR", dilation_rate=dilation, kernel_initializer="ones",
                                      use_bias=False)
    else:
        block = size[0]
        channels = args.channels or block * block
        layer = (layers.PixelShuffle(block) if name == "PixelShuffle"
                 else layers.DepthToSpace(block, mode=args.mode or "DCR"))
    return name, layer, hw, channels


# --------------------------------------------------------------------------- per-layer analysis
def _axis_counts(i: int, k: int, s: int, d: int, crop_before: int, out: int) -> np.ndarray:
    """How many (input pixel, kernel tap) pairs land on each output position along one axis."""
    counts = np.zeros(out, dtype=np.int64)
    for src in range(i):
        for a in range(k):
            o = src * s + a * d - crop_before
            if 0 <= o < out:
                counts[o] += 1
    return counts


def _uneven(k: int, s: int, d: int) -> bool:
    """Whether the overlap counts differ between output phases far from the border (one period in
    the middle of a long axis)."""
    e = shapes.effective_kernel(k, d)
    i = 4 * (e + s)
    counts = _axis_counts(i, k, s, d, 0, (i - 1) * s + e)
    middle = counts[len(counts) // 2:len(counts) // 2 + s]
    return bool(len(set(middle.tolist())) > 1)


def _zero_inserted(x: np.ndarray, strides, pads) -> np.ndarray:
    """x spread at stride s with s-1 zeros between pixels, padded (negative: cropped) by pads."""
    (sh, sw), ((pt, pb), (pl, pr)) = strides, pads
    h, w = x.shape
    z = np.zeros(((h - 1) * sh + 1, (w - 1) * sw + 1))
    z[::sh, ::sw] = x
    z = np.pad(z, ((max(pt, 0), max(pb, 0)), (max(pl, 0), max(pr, 0))))
    return z[max(-pt, 0):z.shape[0] - max(-pb, 0), max(-pl, 0):z.shape[1] - max(-pr, 0)]


def _torch_conv_transpose(axes, layer, channels) -> dict:
    """PyTorch ConvTranspose2d arguments that give the same output, or the reason none exist."""
    pads, ops, reasons = [], [], []
    for ax in axes:
        before, after, s, d = ax["crop_before"], ax["crop_after"], ax["stride"], ax["dilation"]
        op = before - after
        pads.append(before)
        ops.append(op)
        if op < 0:
            reasons.append(f"{ax['axis']}: Keras crops {before} in front and {after} at the end; PyTorch crops "
                           f"`padding` from both ends and can only add `output_padding` at the end, so the larger "
                           f"crop at the end needs padding={before} and then slicing the output to its first "
                           f"{ax['output']} rows/columns (with padding={after} instead the picture would be "
                           f"shifted by {after - before} pixel)")
        elif op >= max(s, d):
            reasons.append(f"{ax['axis']}: output_padding would be {op}, but PyTorch needs output_padding < "
                           f"max(stride, dilation) = {max(s, d)}")
    call = (f"torch.nn.ConvTranspose2d({channels}, {layer.filters}, kernel_size={tuple(layer.kernel_size)}, "
            f"stride={tuple(layer.strides)}, padding={tuple(pads)}, output_padding={tuple(max(o, 0) for o in ops)}, "
            f"dilation={tuple(layer.dilation_rate)}, groups={layer.groups}, bias={layer.use_bias})")
    weights = ("weight = torch.from_numpy(kernel.transpose(3, 2, 0, 1)): this project's (and Keras's) "
               "(kh, kw, filters/groups, in) kernel is PyTorch's (in, filters/groups, kh, kw)")
    if reasons:
        return {"exists": False, "call": None, "why_not": reasons,
                "closest": call.replace("output_padding=", "output_padding=") + " then y[..., :H_out, :W_out]",
                "weights": weights}
    return {"exists": True, "call": call, "weights": weights}


def explain_conv_transpose(layer, hw, channels) -> dict:
    ke = [shapes.effective_kernel(k, d) for k, d in zip(layer.kernel_size, layer.dilation_rate)]
    ops = layer.output_padding or (None, None)
    axes = []
    for axis, i, k, s, d, e, op in zip(("rows", "columns"), hw, layer.kernel_size, layer.strides,
                                       layer.dilation_rate, ke, ops):
        full = (i - 1) * s + e
        before, after = shapes.conv_transpose_padding(i, k, s, d, layer.padding, op)
        out = shapes.conv_transpose_output_length(i, k, s, d, layer.padding, op)
        if layer.padding == "valid" and op is None:
            rule = f"'valid', output_padding None: out = (i - 1) * s + max(ke, s) = {i - 1}*{s} + max({e}, {s}) = {out}"
        elif layer.padding == "same" and op is None:
            rule = (f"'same', output_padding None: out = i * s = {i}*{s} = {out}; crop in front "
                    f"= (ke - s) // 2 = ({e} - {s}) // 2 = {before}" if e >= s else
                    f"'same', output_padding None: out = i * s = {out}; ke < s so nothing is cropped in front")
        elif layer.padding == "valid":
            rule = f"'valid', output_padding {op}: out = (i - 1) * s + ke + op = {i - 1}*{s} + {e} + {op} = {out}"
        else:
            rule = (f"'same', output_padding {op}: out = (i - 1) * s + ke % 2 + op = {i - 1}*{s} + {e % 2} + {op} = "
                    f"{out} (Keras pads ke // 2 per side, then adds op at the end)")
        counts = _axis_counts(i, k, s, d, before, out)
        axes.append({"axis": axis, "input": i, "kernel": k, "stride": s, "dilation": d, "effective_kernel": e,
                     "full": full, "crop_before": before, "crop_after": after, "output": out, "rule": rule,
                     "zero_inserted": (i - 1) * s + 1, "pad_before": e - 1 - before, "pad_after": e - 1 - after,
                     "overlap_counts": counts.tolist(), "uneven": _uneven(k, s, d)})
    x = np.arange(1, hw[0] * hw[1] + 1, dtype=np.float64).reshape(hw)
    zero = _zero_inserted(x, layer.strides, tuple((a["pad_before"], a["pad_after"]) for a in axes))
    overlap = np.outer(axes[0]["overlap_counts"], axes[1]["overlap_counts"])
    steps = [f"input {hw[0]}x{hw[1]}x{channels}, kernel {layer.kernel_size}, strides {layer.strides}, "
             f"dilation {layer.dilation_rate}, padding '{layer.padding}', output_padding {layer.output_padding}"]
    for a in axes:
        steps.append(f"{a['axis']}: effective kernel ke = (k - 1) * d + 1 = {a['effective_kernel']}; full scatter "
                     f"(i - 1) * s + ke = {a['full']}; {a['rule']}; crop ({a['crop_before']}, {a['crop_after']}) "
                     f"{'(negative: zeros appended)' if a['crop_after'] < 0 else ''}".rstrip())
        steps.append(f"{a['axis']}: as a stride-1 convolution with the flipped kernel: insert {a['stride'] - 1} zero(s) "
                     f"between pixels ({a['input']} -> {a['zero_inserted']}), pad {a['pad_before']} in front and "
                     f"{a['pad_after']} at the end (negative: crop) -> {a['zero_inserted'] + a['pad_before'] + a['pad_after']}, "
                     f"slide the {a['effective_kernel']}-tap kernel -> {a['output']}")
    uneven = any(a["uneven"] for a in axes)
    steps.append("overlap counts per output pixel (product of the two axes): " +
                 ("UNEVEN away from the border: the kernel size is not a multiple of the stride, so a smooth "
                  "input gives a checkerboard even with equal weights" if uneven else
                  "even away from the border; a checkerboard can still come from unequal learned weights "
                  "(each output phase uses its own sub-kernel)"))
    return {"layer": "Conv2DTranspose", "input": list(hw), "channels": channels, "config": _config(layer),
            "axes": axes, "output": [axes[0]["output"], axes[1]["output"], layer.filters], "steps": steps,
            "arrays": {"input (values 1..H*W)": x, "zero-inserted and padded input": zero,
                       "overlap counts (taps per output pixel)": overlap},
            "pytorch": _torch_conv_transpose(axes, layer, channels), "uneven_overlap": uneven}


def _matrix_axes(names, wh, ww, hw, out_hw):
    axes = []
    for axis, i, o, w in zip(names, hw, out_hw, (wh, ww)):
        taps = (np.abs(w) > 1e-12).sum(axis=1)
        axes.append({"axis": axis, "input": i, "output": o, "taps_per_output": taps.tolist(),
                     "weights": np.round(w, 6).tolist()})
    return axes


def explain_resize(name, layer, hw, channels) -> dict:
    """UpSampling2D, Resizing and BlurUpSampling2D: one weight matrix per axis."""
    from upsampling.ops.resize import blur_crop, blur_taps, resize_weights
    x = np.arange(1, hw[0] * hw[1] + 1, dtype=np.float64).reshape(hw)
    steps, pytorch = [], {}
    if name == "UpSampling2D":
        out_hw = (hw[0] * layer.size[0], hw[1] * layer.size[1])
        wh, ww = (resize_weights(i, o, layer.interpolation, dtype=np.float64) for i, o in zip(hw, out_hw))
        steps.append(f"out = i * size per axis: {hw[0]}*{layer.size[0]} = {out_hw[0]}, {hw[1]}*{layer.size[1]} = "
                     f"{out_hw[1]}; interpolation '{layer.interpolation}'")
        if layer.interpolation == "nearest":
            steps.append("nearest: every input pixel is repeated into a size[0] x size[1] block (output o reads "
                         "input o // size); one tap per output pixel, no zeros inserted, no overlap")
            call = f"torch.nn.Upsample(scale_factor={tuple(layer.size)}, mode='nearest')"
        else:
            steps.append("half-pixel sample positions u = (o + 0.5) / size - 0.5; taps beyond the border are "
                         "dropped and the rest renormalised (Keras 3 / JAX scale_and_translate)")
            call = {"bilinear": f"torch.nn.functional.interpolate(x, scale_factor={tuple(layer.size)}, mode='bilinear', "
                                f"align_corners=False)",
                    "bicubic": f"torch.nn.functional.interpolate(x, scale_factor={tuple(layer.size)}, mode='bicubic', "
                               f"antialias=True) (its antialias path uses a = -0.5 and renormalises at the border, "
                               f"as Keras; plain mode='bicubic' uses a = -0.75 and clamps, different numbers)"}.get(
                layer.interpolation)
        pytorch = ({"exists": True, "call": call} if call else
                   {"exists": False, "call": None, "why_not": [f"PyTorch has no '{layer.interpolation}' resize with "
                                                               f"Keras's (JAX's) kernel radius and normalisation"]})
    elif name == "Resizing":
        wh, ww = layer._matrices(*hw)
        out_hw = (wh.shape[0], ww.shape[0])
        how = (f"target size {layer.height}x{layer.width}" if layer.height is not None else
               f"scale_factor {layer.scale_factor}: out = floor(i * scale) = {out_hw[0]}, {out_hw[1]}, and the scale "
               f"itself (not out / in) maps coordinates, as PyTorch and ONNX")
        steps.append(f"{how}; interpolation '{layer.interpolation}', coordinate_mode '{layer.coordinate_mode}'"
                     + (f", nearest_mode '{layer.nearest_mode}'" if layer.interpolation == "nearest" else "")
                     + (f", cubic a = {layer.cubic_coeff_a}" if layer.interpolation == "bicubic" else "")
                     + (", taps beyond the border dropped and renormalised" if layer.exclude_outside else
                        ", taps beyond the border clamped to the edge pixel")
                     + (", antialias (kernel stretched by 1/scale when shrinking)" if layer.antialias else ""))
        pytorch = _torch_resizing(layer, hw, out_hw)
    else:  # BlurUpSampling2D
        out_hw = (hw[0] * layer.size[0], hw[1] * layer.size[1])
        wh, ww = layer._matrices(*hw)
        for axis, i, s in zip(("rows", "columns"), hw, layer.size):
            f = blur_taps(layer.filter, s)
            c = blur_crop(len(f), s)
            steps.append(f"{axis}: insert {s - 1} zero(s) between pixels ({i} -> {(i - 1) * s + 1}), filter with "
                         f"{np.round(f, 4).tolist()} (sum {s}) -> full (i - 1) * s + L = {(i - 1) * s + len(f)}, crop "
                         f"(L - s) // 2 = {c} in front -> {i * s}")
        gains = layer.phase_gains()
        even = all(np.allclose(g, g[0]) for g in gains)
        steps.append(f"interior gain of each output phase (sums of f[p::s]) per axis: {[list(np.round(g, 4)) for g in gains]}: "
                     + ("equal, so a constant input gives a constant interior: no checkerboard" if even else
                        "UNEQUAL, so even a constant input gives a periodic pattern: choose taps whose phases sum "
                        "alike, such as the binomial (1, 3, 3, 1) for size 2"))
        (s0, s1), L = layer.size, len(layer.filter)
        pads = [blur_crop(L, s) for s in layer.size]
        symmetric = all((L - s) % 2 == 0 for s in layer.size)
        call = (f"torch.nn.functional.conv_transpose2d(x, w, stride=({s0}, {s1}), padding={tuple(pads)}, "
                f"groups={channels}) with w[c, 0] = outer(f_rows, f_cols), the filters above")
        pytorch = ({"exists": True, "call": call} if symmetric else
                   {"exists": False, "call": None, "closest": call + " then y[..., :H_out, :W_out]",
                    "why_not": ["len(filter) - size is odd: the crop is uneven and PyTorch's padding is symmetric"]})
        zero = _zero_inserted(x, layer.size, ((0, 0), (0, 0)))
    axes = _matrix_axes(("rows", "columns"), wh, ww, hw, out_hw)
    overlap = np.outer(axes[0]["taps_per_output"], axes[1]["taps_per_output"])
    arrays = {"input (values 1..H*W)": x}
    if name == "BlurUpSampling2D":
        arrays["zero-inserted input"] = zero
    arrays["overlap counts (taps per output pixel)"] = overlap
    arrays["output"] = wh @ x @ ww.T
    steps.append("taps per output pixel (nonzero weights, product of the axes); their weights sum to 1 for every "
                 "interior output pixel, so the overlap is even" if name != "BlurUpSampling2D" else
                 "taps per output pixel (nonzero filter taps reaching it, product of the axes)")
    return {"layer": name, "input": list(hw), "channels": channels, "config": _config(layer), "axes": axes,
            "output": [out_hw[0], out_hw[1], channels], "steps": steps, "arrays": arrays, "pytorch": pytorch}


def _torch_resizing(layer, hw, out_hw) -> dict:
    """F.interpolate arguments matching a Resizing layer, or why there are none."""
    shrinks = any(o < i for i, o in zip(hw, out_hw))
    size = (f"size=({layer.height}, {layer.width})" if layer.height is not None
            else f"scale_factor={tuple(layer.scale_factor)}")
    interp, cm, why = layer.interpolation, layer.coordinate_mode, []
    if interp == "nearest":
        if cm == "asymmetric" and layer.nearest_mode == "floor":
            return {"exists": True, "call": f"torch.nn.functional.interpolate(x, {size}, mode='nearest')"}
        if cm == "half_pixel" and layer.nearest_mode == "round_prefer_ceil":
            return {"exists": True, "call": f"torch.nn.functional.interpolate(x, {size}, mode='nearest-exact')"}
        why.append("PyTorch's nearest modes are asymmetric+floor ('nearest') and half_pixel+round_prefer_ceil "
                   "('nearest-exact') only")
    elif interp in ("bilinear", "bicubic"):
        if layer.antialias:
            a_ok = interp == "bilinear" or layer.cubic_coeff_a == -0.5
            if a_ok and layer.exclude_outside:
                return {"exists": True, "call": f"torch.nn.functional.interpolate(x, {size}, mode='{interp}', "
                                                f"align_corners=False, antialias=True)"}
            why.append("PyTorch's antialias path uses a = -0.5 and drops taps beyond the border (exclude_outside=True)")
        else:
            align = cm == "align_corners"
            if cm == "asymmetric":
                why.append("PyTorch's linear/cubic modes know half_pixel and align_corners only")
            elif interp == "bilinear":
                return {"exists": True, "call": f"torch.nn.functional.interpolate(x, {size}, mode='bilinear', "
                                                f"align_corners={align})"}
            elif layer.cubic_coeff_a == -0.75 and not layer.exclude_outside:
                return {"exists": True, "call": f"torch.nn.functional.interpolate(x, {size}, mode='bicubic', "
                                                f"align_corners={align})"}
            elif layer.cubic_coeff_a == -0.5 and layer.exclude_outside and not align and not shrinks:
                return {"exists": True, "call": f"torch.nn.functional.interpolate(x, {size}, mode='bicubic', "
                                                f"antialias=True) (when enlarging, PyTorch's antialias path is a "
                                                f"plain a = -0.5 bicubic renormalised at the border, as Keras)"}
            else:
                why.append("PyTorch's plain bicubic is a = -0.75 with clamped edges (exclude_outside=False)")
    else:
        why.append(f"PyTorch's lanczos needs antialias=True and has no '{interp}' with this radius and normalisation "
                   f"guaranteed to match")
    return {"exists": False, "call": None, "why_not": why}


def explain_subpixel(layer, hw, channels) -> dict:
    r = layer.scale
    conv_hw = layer._conv_lengths(hw[0], hw[1], (1,) + tuple(hw) + (channels,))
    out_hw = (conv_hw[0] * r, conv_hw[1] * r)
    k = layer.kernel_size
    steps = [f"convolution {k} padding '{layer.padding}' at the input resolution: {hw[0]}x{hw[1]}x{channels} -> "
             f"{conv_hw[0]}x{conv_hw[1]}x{layer.filters * r * r} (filters * scale**2 = {layer.filters}*{r * r})",
             f"depth-to-space ({layer.mode}): {layer.filters * r * r} channels -> {r}x{r} blocks of {layer.filters} "
             f"channel(s): {out_hw[0]}x{out_hw[1]}x{layer.filters}",
             f"the same as a transposed convolution with a {r * k[0]}x{r * k[1]} kernel at stride {r}: each of the "
             f"{r * r} output phases has its own {k[0]}x{k[1]} sub-kernel, and every output pixel away from "
             f"the border receives {k[0] * k[1]} taps per input channel (even overlap). At random init the phases differ (a checkerboard); ICNR copies one "
             f"sub-kernel to every phase, which starts the layer as nearest upsampling + convolution"]
    per_axis = []
    for i, kk, d, o in zip(hw, k, layer.dilation_rate, conv_hw):
        before, _ = shapes.conv_padding(i, kk, 1, d, layer.padding)
        taps = [sum(0 <= p - before + a * d < i for a in range(kk)) for p in range(o)]
        per_axis.append(np.repeat(np.array(taps, dtype=np.int64), r))
    counts = np.outer(per_axis[0], per_axis[1])  # taps per output pixel (zero padding excluded)
    phase = np.arange(r * r).reshape(r, r)
    phase_map = np.tile(phase, (conv_hw[0], conv_hw[1]))
    pad = "'same'" if layer.padding == "same" else 0
    call = (f"torch.nn.Sequential(torch.nn.Conv2d({channels}, {layer.filters * r * r}, {tuple(k)}, padding={pad}, "
            f"dilation={tuple(layer.dilation_rate)}), torch.nn.PixelShuffle({r}))")
    if layer.mode == "CRD":
        pytorch = {"exists": True, "call": call, "weights": "conv weight = kernel.transpose(3, 2, 0, 1)"}
    else:
        pytorch = {"exists": True, "call": call, "weights": "DCR order: conv weight[c * r*r + p] = "
                   "kernel[..., p * filters + c] (reorder the output channels, then transpose(3, 2, 0, 1))"}
    x = np.arange(1, hw[0] * hw[1] + 1, dtype=np.float64).reshape(hw)
    return {"layer": "SubPixelConv2D", "input": list(hw), "channels": channels, "config": _config(layer),
            "output": [out_hw[0], out_hw[1], layer.filters], "steps": steps, "pytorch": pytorch,
            "axes": [{"axis": "rows", "input": hw[0], "conv_output": conv_hw[0], "output": out_hw[0]},
                     {"axis": "columns", "input": hw[1], "conv_output": conv_hw[1], "output": out_hw[1]}],
            "arrays": {"input (values 1..H*W)": x, "output phase (which sub-kernel)": phase_map,
                       "overlap counts (taps per output pixel)": counts}}


def explain_depth_to_space(name, layer, hw, channels) -> dict:
    from upsampling.ops.pixel_shuffle import depth_to_space
    r = layer.block_size
    if channels % (r * r):
        raise ExplainError(f"explain: {name} needs channels divisible by block**2 = {r * r}. Received: --channels "
                           f"{channels}")
    c_out = channels // (r * r)
    source = depth_to_space(np.broadcast_to(np.arange(channels, dtype=np.float64), (1, hw[0], hw[1], channels)),
                            r, layer.mode)[0, :, :, 0]
    steps = [f"{hw[0]}x{hw[1]}x{channels} -> {hw[0] * r}x{hw[1] * r}x{c_out}: each pixel's {channels} channels "
             f"become an {r}x{r} block of {c_out}-channel pixels; nothing is computed, values only move",
             ("DCR order: input channel (i * r + j) * C + c goes to block position (i, j), channel c"
              if layer.mode == "DCR" else
              "CRD order: input channel c * r * r + i * r + j goes to block position (i, j), channel c")]
    if layer.mode == "CRD":
        pytorch = {"exists": True, "call": f"torch.nn.PixelShuffle({r})"}
    else:
        pytorch = {"exists": True, "call": f"x.view(N, {r}, {r}, {c_out}, H, W).permute(0, 3, 4, 1, 5, 2)"
                                          f".reshape(N, {c_out}, H * {r}, W * {r}) (PyTorch's PixelShuffle is CRD; "
                                          f"DCR needs this permute)"}
    counts = np.ones((hw[0] * r, hw[1] * r), dtype=np.int64)
    return {"layer": name, "input": list(hw), "channels": channels, "config": _config(layer),
            "output": [hw[0] * r, hw[1] * r, c_out], "steps": steps, "pytorch": pytorch,
            "axes": [{"axis": "rows", "input": hw[0], "output": hw[0] * r},
                     {"axis": "columns", "input": hw[1], "output": hw[1] * r}],
            "arrays": {"source channel of output channel 0": source, "overlap counts (taps per output pixel)": counts}}


def _config(layer) -> dict:
    from upsampling.saving import _jsonable
    cfg = _jsonable(layer.get_config())
    return {k: v for k, v in cfg.items() if k not in ("name", "trainable", "dtype")}


def explain(args) -> dict:
    """The explanation as a dict (arrays as NumPy arrays), checked against the layer itself."""
    try:
        name, layer, hw, channels = build_layer(args)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ExplainError):
            raise
        raise ExplainError(str(exc)) from None
    if name == "Conv2DTranspose":
        result = explain_conv_transpose(layer, hw, channels)
    elif name in ("UpSampling2D", "Resizing", "BlurUpSampling2D"):
        result = explain_resize(name, layer, hw, channels)
    elif name == "SubPixelConv2D":
        result = explain_subpixel(layer, hw, channels)
    else:
        result = explain_depth_to_space(name, layer, hw, channels)
    # check the arithmetic against the layer: output shape, and for convolutions with a ones
    # kernel on a ones input, the overlap counts
    try:
        y = layer(np.ones((1, hw[0], hw[1], channels), np.float64))
    except ValueError as exc:
        raise ExplainError(str(exc)) from None
    if list(y.shape[1:]) != list(result["output"]):
        raise AssertionError(f"explain: computed output {result['output']} but the layer gives {y.shape[1:]}")
    if name in ("Conv2DTranspose", "SubPixelConv2D"):
        per_group = channels // getattr(layer, "groups", 1)
        counts = result["arrays"]["overlap counts (taps per output pixel)"]
        expect = counts * per_group
        if not np.allclose(y[0, :, :, 0], expect):
            raise AssertionError("explain: the overlap counts disagree with the layer's output for ones")
    return result


def to_json(result: dict) -> str:
    out = {k: v for k, v in result.items() if k != "arrays"}
    out["arrays"] = {k: np.asarray(v).tolist() for k, v in result["arrays"].items()}
    return json.dumps(out, indent=1)


def to_text(result: dict) -> str:
    lines = [f"{result['layer']}: input {result['input'][0]}x{result['input'][1]}x{result['channels']} -> "
             f"output {result['output'][0]}x{result['output'][1]}x{result['output'][2]}", ""]
    lines += [f"  {i + 1}. {s}" for i, s in enumerate(result["steps"])]
    np.set_printoptions(linewidth=140)
    for title, arr in result["arrays"].items():
        arr = np.asarray(arr)
        text = np.array2string(arr, precision=3, suppress_small=True, max_line_width=140)
        lines += ["", f"{title} ({arr.shape[0]}x{arr.shape[1]}):", text]
    torch = result["pytorch"]
    lines += ["", "PyTorch:"]
    if torch["exists"]:
        lines.append(f"  {torch['call']}")
    else:
        lines.append("  no single equivalent call:")
        lines += [f"  - {w}" for w in torch["why_not"]]
        if torch.get("closest"):
            lines.append(f"  closest: {torch['closest']}")
    if torch.get("weights"):
        lines.append(f"  {torch['weights']}")
    return "\n".join(lines)


def write_png(result: dict, path) -> Path:
    from upsampling.plots import value_grids
    panels = [(title, np.asarray(arr, dtype=np.float64)) for title, arr in result["arrays"].items()]
    title = (f"{result['layer']}: {result['input'][0]}x{result['input'][1]} -> "
             f"{result['output'][0]}x{result['output'][1]}")
    return value_grids(panels, path, title=title, fmt="{:.4g}", shared_scale=False)


def run_explain(args, print_fn=print) -> int:
    result = explain(args)
    if args.json:
        print_fn(to_json(result))
    else:
        print_fn(to_text(result))
    if not args.no_image:
        path = write_png(result, args.out or Path("runs/explain") / f"{result['layer']}.png")
        if not args.json:
            print_fn(f"\npicture: {path}")
    return 0
