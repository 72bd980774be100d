"""Weight initializers on NumPy with the Keras 3 ``keras.initializers`` API, defaults and math.

Every initializer is a callable ``init(shape, dtype="float32") -> np.ndarray`` whose result has
exactly the requested shape and dtype. Configs are the ones Keras writes (``get_config`` /
``from_config`` / ``serialize`` / ``get``), so a config written by Keras loads here and back.

Random numbers
--------------
All draws come from :mod:`upsampling.random`:

* ``seed=None`` (default): each call draws from the shared generator, so
  ``upsampling.random.set_random_seed(n)`` followed by the same sequence of calls is reproducible,
  and two calls of one initializer give *different* values.
* ``seed=<int>``: each call uses a fresh ``np.random.default_rng(seed)``, so one seeded initializer
  returns the *same* values on every call (for the same shape and dtype).

The seeded rule mirrors Keras 3 exactly: there an integer seed is turned into the stateless seed
``[seed, 0]`` on every call (``keras.src.random.seed_generator.draw_seed``), so repeated calls
repeat. For ``seed=None`` Keras instead picks a random integer seed once, when the initializer is
built (``make_default_seed``), which also freezes its values across calls; here an unseeded
initializer follows the shared generator at call time instead, which is what makes
``set_random_seed`` govern every layer built without a seed. Values are not bit-identical to Keras
(NumPy's PCG64 and Torch/JAX/TF generators differ); the distributions are the same.

Not ported from Keras: ``STFT`` and ``keras.random.SeedGenerator`` seeds.
Added validation (Keras accepts these silently): ``stddev <= 0`` and ``minval >= maxval``.
"""
from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from upsampling import random as urandom
from upsampling.keras_names import unsupported as _unsupported

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "Identity",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "Orthogonal",
    "ICNR",
    "compute_fans",
    "get",
    "serialize",
    "deserialize",
    "zeros",
    "ones",
    "constant",
    "identity",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "variance_scaling",
    "glorot_uniform",
    "glorot_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "orthogonal",
]

# Standard deviation of a standard normal truncated to (-2, 2); Keras divides by it so that the
# truncated draws of VarianceScaling have exactly the target standard deviation.
TRUNCATION_STD = 0.87962566103423978


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _shape(shape, owner: str) -> tuple:
    if _is_int(shape):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(_is_int(d) and d >= 0 for d in dims):
        raise ValueError(
            f"{owner}: `shape` must be a tuple of non-negative integers. Received: shape={shape!r}"
        )
    return tuple(int(d) for d in dims)


def _dtype(dtype, owner: str, *, floating: bool = False) -> np.dtype:
    if dtype is None:
        dtype = "float32"
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(
            f"{owner}: `dtype` is not a NumPy dtype. Received: dtype={dtype!r}"
        ) from None
    if floating and not np.issubdtype(dt, np.floating):
        raise ValueError(
            f"{owner}: `dtype` must be a floating-point dtype for random values. "
            f"Received: dtype={dtype!r}"
        )
    return dt


def _truncated_standard_normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Standard normal draws restricted to the open interval (-2, 2) by re-drawing outliers.

    Keras's Torch backend draws four normals and keeps the first one inside (-2, 2); this is the
    same conditional distribution without its rare (~4e-6) fall-through to an outlier.
    """
    x = rng.standard_normal(shape)
    bad = np.abs(x) >= 2.0
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) >= 2.0
    return x


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple:
    """``(fan_in, fan_out)`` of a weight shape, exactly as Keras computes them.

    * rank 0: ``(1, 1)``; rank 1: ``fan_in = fan_out = shape[0]``;
    * rank 2 (Dense kernel ``(in, units)``): ``(shape[0], shape[1])``;
    * rank >= 3 (conv kernels ``(*spatial, in, out)``): with ``rf = prod(shape[:-2])``,
      ``fan_in = shape[-2] * rf`` and ``fan_out = shape[-1] * rf``. A Conv2DTranspose kernel
      ``(kh, kw, filters, in_channels)`` therefore has ``fan_in = filters * kh * kw``.

    When both ``input_axes`` and ``output_axes`` are given, the fans are the products of the
    dimensions on those axes.
    """
    shape = tuple(int(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        fan_in = math.prod(shape[a] for a in input_axes)
        fan_out = math.prod(shape[a] for a in output_axes)
        return int(fan_in), int(fan_out)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


# ----------------------------------------------------------------------------------------------
# base and constant initializers
# ----------------------------------------------------------------------------------------------
class Initializer:
    """Base class: ``__call__(shape, dtype="float32")`` returns an ``np.ndarray``.

    Subclasses implement ``__call__`` and, when they take arguments, ``get_config``; the default
    ``from_config(config)`` is ``cls(**config)``.
    """

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` method.")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros: ``w = 0``."""

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        return np.zeros(_shape(shape, "Zeros"), dtype=_dtype(dtype, "Zeros"))


class Ones(Initializer):
    """All ones: ``w = 1``."""

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        return np.ones(_shape(shape, "Ones"), dtype=_dtype(dtype, "Ones"))


class Constant(Initializer):
    """A scalar constant: ``w = value`` (cast to the requested dtype)."""

    def __init__(self, value=0.0):
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, numbers.Number):
            raise ValueError(
                f"Constant: argument `value` must be a scalar number. Received: value={value!r}"
            )
        self.value = value

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        return np.full(_shape(shape, "Constant"), self.value, dtype=_dtype(dtype, "Constant"))

    def get_config(self) -> dict:
        return {"value": self.value}


class Identity(Initializer):
    """Scaled (rectangular) identity matrix: ``w = gain * eye(rows, cols)``; rank-2 shapes only.

    Unlike Keras (whose ``get_config`` is ``{}`` and so loses ``gain`` on a round trip), the config
    here is ``{"gain": gain}``; Keras's ``Identity(gain=...)`` accepts it.
    """

    def __init__(self, gain=1.0):
        if not _is_real(gain):
            raise ValueError(
                f"Identity: argument `gain` must be a real number. Received: gain={gain!r}"
            )
        self.gain = gain

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        shape = _shape(shape, "Identity")
        if len(shape) != 2:
            raise ValueError(
                "Identity: the identity initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dt = _dtype(dtype, "Identity")
        return (self.gain * np.eye(*shape)).astype(dt)

    def get_config(self) -> dict:
        return {"gain": self.gain}


# ----------------------------------------------------------------------------------------------
# random initializers
# ----------------------------------------------------------------------------------------------
class RandomInitializer(Initializer):
    """Base of the random initializers: holds ``seed`` (``None`` or a non-negative int).

    ``seed=None`` draws from the shared generator of :mod:`upsampling.random` on each call;
    an integer seed makes every call return the same values (as in Keras 3).
    """

    def __init__(self, seed=None):
        if seed is not None:
            if not _is_int(seed) or seed < 0:
                raise ValueError(
                    f"{type(self).__name__}: argument `seed` must be None or a non-negative "
                    f"integer. Received: seed={seed!r}"
                )
            seed = int(seed)
        self.seed = seed

    def _rng(self) -> np.random.Generator:
        return urandom.generator(self.seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal draws: ``w ~ N(mean, stddev**2)``. Defaults ``mean=0.0, stddev=0.05``."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        if not _is_real(mean):
            raise ValueError(
                f"RandomNormal: argument `mean` must be a real number. Received: mean={mean!r}"
            )
        if not _is_real(stddev) or not stddev > 0:
            raise ValueError(
                "RandomNormal: argument `stddev` must be positive (stddev > 0). "
                f"Received: stddev={stddev!r}"
            )
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        shape = _shape(shape, "RandomNormal")
        dt = _dtype(dtype, "RandomNormal", floating=True)
        x = self._rng().normal(self.mean, self.stddev, size=shape)
        return np.asarray(x, dtype=dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Truncated normal: ``w = mean + stddev * z`` with ``z ~ N(0, 1)`` conditioned on ``|z| < 2``.

    Draws more than two standard deviations from the mean are discarded and re-drawn (as in
    Keras), so every value lies in ``[mean - 2*stddev, mean + 2*stddev]``; the resulting standard
    deviation is ``0.87962566 * stddev``. Defaults ``mean=0.0, stddev=0.05``.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        if not _is_real(mean):
            raise ValueError(
                f"TruncatedNormal: argument `mean` must be a real number. Received: mean={mean!r}"
            )
        if not _is_real(stddev) or not stddev > 0:
            raise ValueError(
                "TruncatedNormal: argument `stddev` must be positive (stddev > 0). "
                f"Received: stddev={stddev!r}"
            )
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        shape = _shape(shape, "TruncatedNormal")
        dt = _dtype(dtype, "TruncatedNormal", floating=True)
        z = _truncated_standard_normal(self._rng(), shape)
        return np.asarray(self.mean + self.stddev * z, dtype=dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform draws: ``w ~ U[minval, maxval)``. Defaults ``minval=-0.05, maxval=0.05``."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        if not _is_real(minval) or not _is_real(maxval):
            raise ValueError(
                "RandomUniform: arguments `minval` and `maxval` must be real numbers. "
                f"Received: minval={minval!r}, maxval={maxval!r}"
            )
        if not minval < maxval:
            raise ValueError(
                "RandomUniform: argument `minval` must be smaller than `maxval` (minval < maxval). "
                f"Received: minval={minval!r}, maxval={maxval!r}"
            )
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        shape = _shape(shape, "RandomUniform")
        dt = _dtype(dtype, "RandomUniform", floating=True)
        x = self._rng().uniform(self.minval, self.maxval, size=shape)
        return np.asarray(x, dtype=dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(RandomInitializer):
    """Scale-aware draws with variance ``scale / n``.

    ``n`` is ``max(1, fan_in)`` (``mode="fan_in"``), ``max(1, fan_out)`` (``"fan_out"``) or
    ``max(1, (fan_in + fan_out) / 2)`` (``"fan_avg"``), fans from :func:`compute_fans`. Then

    * ``"truncated_normal"`` (default; ``"normal"`` is an alias): ``TruncatedNormal`` with
      ``stddev = sqrt(scale / n) / 0.87962566103423978``, so the draws (all within two of those
      stddevs) have standard deviation ``sqrt(scale / n)``;
    * ``"untruncated_normal"``: ``N(0, scale / n)``;
    * ``"uniform"``: ``U[-limit, limit)`` with ``limit = sqrt(3 * scale / n)``.

    Defaults ``scale=1.0, mode="fan_in", distribution="truncated_normal"``.
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        owner = type(self).__name__
        if not _is_real(scale) or not scale > 0:
            raise ValueError(
                f"{owner}: argument `scale` must be a positive float (scale > 0). "
                f"Received: scale={scale!r}"
            )
        if mode not in _MODES:
            raise ValueError(
                f"{owner}: argument `mode` must be one of {', '.join(map(repr, _MODES))}. "
                f"Received: mode={mode!r}"
            )
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        if dist == "normal":
            dist = "truncated_normal"
        if dist not in _DISTRIBUTIONS:
            raise ValueError(
                f"{owner}: argument `distribution` must be one of "
                f"{', '.join(map(repr, _DISTRIBUTIONS))} (or 'normal'). "
                f"Received: distribution={distribution!r}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def _variance(self, shape) -> float:
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            n = max(1.0, fan_in)
        elif self.mode == "fan_out":
            n = max(1.0, fan_out)
        else:
            n = max(1.0, (fan_in + fan_out) / 2.0)
        return self.scale / n

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        owner = type(self).__name__
        shape = _shape(shape, owner)
        dt = _dtype(dtype, owner, floating=True)
        variance = self._variance(shape)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / TRUNCATION_STD
            x = stddev * _truncated_standard_normal(rng, shape)
        elif self.distribution == "untruncated_normal":
            x = rng.normal(0.0, math.sqrt(variance), size=shape)
        else:
            limit = math.sqrt(3.0 * variance)
            x = rng.uniform(-limit, limit, size=shape)
        return np.asarray(x, dtype=dt)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    _scale = 1.0
    _mode = "fan_in"
    _distribution = "truncated_normal"

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(
            scale=self._scale,
            mode=self._mode,
            distribution=self._distribution,
            seed=seed,
            input_axes=input_axes,
            output_axes=output_axes,
        )

    def get_config(self) -> dict:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: ``U[-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    ``VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform")``. For a
    ``(4, 4, 128, 64)`` kernel: ``fan_in = 2048``, ``fan_out = 1024``, ``limit = 0.0441942``.
    """

    _scale, _mode, _distribution = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with std ``sqrt(2 / (fan_in + fan_out))``.

    ``VarianceScaling(scale=1.0, mode="fan_avg", distribution="truncated_normal")``.
    """

    _scale, _mode, _distribution = 1.0, "fan_avg", "truncated_normal"


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal with std ``sqrt(2 / fan_in)``.

    ``VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal")``.
    """

    _scale, _mode, _distribution = 2.0, "fan_in", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """He uniform: ``U[-limit, limit)``, ``limit = sqrt(6 / fan_in)``.

    ``VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")``.
    """

    _scale, _mode, _distribution = 2.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal with std ``sqrt(1 / fan_in)``.

    ``VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")``.
    """

    _scale, _mode, _distribution = 1.0, "fan_in", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: ``U[-limit, limit)``, ``limit = sqrt(3 / fan_in)``.

    ``VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform")``.
    """

    _scale, _mode, _distribution = 1.0, "fan_in", "uniform"


class Orthogonal(RandomInitializer):
    """Random orthogonal matrix times ``gain`` (Saxe et al., 2014), for rank >= 2 shapes.

    The shape is flattened to ``rows = prod(shape[:-1])``, ``cols = shape[-1]``. A matrix
    ``A ~ N(0, 1)`` of shape ``(max(rows, cols), min(rows, cols))`` is factored ``A = QR``, the
    columns of ``Q`` are multiplied by ``sign(diag(R))`` (making ``Q`` Haar-uniform), ``Q`` is
    transposed when ``rows < cols``, and ``w = gain * reshape(Q, shape)``. Hence
    ``W^T W = gain**2 I`` for a tall matrix and ``W W^T = gain**2 I`` for a wide one.
    """

    def __init__(self, gain=1.0, seed=None):
        if not _is_real(gain):
            raise ValueError(
                f"Orthogonal: argument `gain` must be a real number. Received: gain={gain!r}"
            )
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        shape = _shape(shape, "Orthogonal")
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal: the tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dt = _dtype(dtype, "Orthogonal", floating=True)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return np.asarray(self.gain * q.reshape(shape), dtype=dt)

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}


class ICNR(Initializer):
    """ICNR (Aitken et al. 2017): a sub-pixel convolution kernel that starts free of checkerboards.

    For a kernel of shape ``(kh, kw, in, filters * scale**2)`` feeding a depth-to-space of block
    ``scale``, one sub-kernel ``(kh, kw, in, filters)`` is drawn from ``initializer`` (its fans are
    those of the sub-kernel) and copied to all ``scale**2`` output phases, so at initialisation the
    sub-pixel convolution equals nearest-neighbour upsampling followed by a convolution. Where the
    copies go depends on the channel order of the depth-to-space that follows:
    ``mode="DCR"`` (TensorFlow, ONNX default; channel ``phase * filters + c``) tiles the
    sub-kernel, ``mode="CRD"`` (PyTorch ``PixelShuffle``; channel ``c * scale**2 + phase``) repeats
    each of its output channels ``scale**2`` times.
    """

    def __init__(self, scale=2, initializer="glorot_uniform", mode="DCR"):
        if not _is_int(scale) or scale < 1:
            raise ValueError(f"ICNR: argument `scale` must be a positive integer. Received: scale={scale!r}")
        if mode not in ("DCR", "CRD"):
            raise ValueError(f"ICNR: argument `mode` must be 'DCR' or 'CRD'. Received: mode={mode!r}")
        if isinstance(initializer, dict):
            initializer = deserialize(initializer)
        self.initializer = get(initializer)
        if self.initializer is None:
            raise ValueError("ICNR: argument `initializer` must name an initializer. Received: initializer=None")
        self.scale = int(scale)
        self.mode = mode

    def __call__(self, shape, dtype="float32") -> np.ndarray:
        shape = _shape(shape, "ICNR")
        phases = self.scale * self.scale
        if len(shape) < 2 or shape[-1] % phases:
            raise ValueError(
                f"ICNR: the last axis of `shape` (output channels) must be a multiple of scale**2 = "
                f"{phases}. Received: shape={shape}")
        sub = np.asarray(self.initializer(shape[:-1] + (shape[-1] // phases,), dtype=dtype))
        full = np.tile(sub, phases) if self.mode == "DCR" else np.repeat(sub, phases, axis=-1)
        return full.astype(_dtype(dtype, "ICNR"), copy=False)

    def get_config(self) -> dict:
        inner = self.initializer
        return {"scale": self.scale, "mode": self.mode,
                "initializer": serialize(inner) if isinstance(inner, Initializer) else inner}


# ----------------------------------------------------------------------------------------------
# Keras snake_case aliases (in Keras these names are the classes themselves)
# ----------------------------------------------------------------------------------------------
zeros = Zeros
ones = Ones
constant = Constant
identity = Identity
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal

_CLASSES = (
    Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal,
    VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal,
    LecunUniform, Orthogonal, ICNR,
)
_SNAKE = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "identity": Identity,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
    "he_uniform": HeUniform, "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal, "icnr": ICNR,
}
# Names get() accepts: class names, snake_case names and Keras's extra compatibility aliases.
ALL_OBJECTS = {
    **{cls.__name__: cls for cls in _CLASSES},
    **_SNAKE,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "one": Ones,
    "zero": Zeros,
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
}


def _bad_identifier(identifier, why: str = ""):
    return ValueError(
        f"Could not interpret initializer identifier: {identifier!r}.{why} Expected None, a name "
        "such as 'glorot_uniform' or 'GlorotUniform', a {'class_name': ..., 'config': {...}} dict, "
        "an Initializer instance or class, or a callable f(shape, dtype). "
        f"Received: identifier={identifier!r} (of type {type(identifier).__name__})"
    )


def serialize(initializer):
    """Keras-format config dict of an initializer (``None`` -> ``None``).

    ``{"module": "keras.initializers", "class_name": ..., "config": get_config(),
    "registered_name": None}``: ``keras.initializers.deserialize`` reads it, and so does
    :func:`get` / :func:`deserialize` here.
    """
    if initializer is None:
        return None
    if not isinstance(initializer, Initializer):
        raise ValueError(
            "serialize: expected an Initializer instance. "
            f"Received: initializer={initializer!r} (of type {type(initializer).__name__})"
        )
    cls = type(initializer)
    builtin = ALL_OBJECTS.get(cls.__name__) is cls
    return {
        "module": "keras.initializers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": initializer.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(config: dict, custom_objects: dict | None = None) -> Initializer:
    """Initializer from a ``{"class_name": ..., "config": {...}}`` dict (Keras format)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise _bad_identifier(config, " A dict needs a 'class_name' key.")
    name = config["class_name"]
    table = {**ALL_OBJECTS, **(custom_objects or {})}
    cls = table.get(name)
    if cls is None:
        raise _bad_identifier(config, f" Unknown class_name {name!r}.")
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise _bad_identifier(config, " 'config' must be a dict.")
    return cls.from_config(dict(inner))


def get(identifier):
    """Resolve an initializer identifier (Keras ``keras.initializers.get``).

    * ``None`` -> ``None``;
    * an ``Initializer`` instance or any plain callable ``f(shape, dtype)`` -> returned as is;
    * a string (``"glorot_uniform"``, ``"GlorotUniform"``, Keras aliases ``"normal"``,
      ``"uniform"``, ``"one"``, ``"zero"``; case-sensitive) -> a default instance;
    * a dict ``{"class_name": ..., "config": {...}}`` -> ``from_config`` of that class;
    * a class -> an instance built with no arguments;
    * a NumPy array -> ``f(shape, dtype)`` returning a copy of it (shape must match), as Keras does
      for tensors.

    Anything else raises ``ValueError("Could not interpret initializer identifier: ...")``.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = ALL_OBJECTS.get(identifier)
        if cls is None:
            raise _bad_identifier(identifier, " Unknown initializer name.")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, (np.ndarray, np.generic)):
        values = np.asarray(identifier)

        def initialize_fn(shape, dtype="float32"):
            if tuple(shape) != values.shape:
                raise ValueError(
                    f"Expected `shape` to be {values.shape} for an array used as initializer. "
                    f"Received: shape={tuple(shape)}"
                )
            return values.astype(_dtype(dtype, "initializer"), copy=True)

        return initialize_fn
    if inspect.isclass(identifier):
        try:
            obj = identifier()
        except TypeError:
            why = " The class cannot be built without arguments."
            raise _bad_identifier(identifier, why) from None
        if not callable(obj):
            raise _bad_identifier(identifier, " Instances of the class are not callable.")
        return obj
    if callable(identifier):
        return identifier
    raise _bad_identifier(identifier)


# Keras 3 `keras.initializers` names not implemented here (see upsampling.keras_names)
__getattr__ = _unsupported(__name__, """
IdentityInitializer OrthogonalInitializer STFT STFTInitializer stft
""")
