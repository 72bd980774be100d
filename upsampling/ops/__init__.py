"""`keras.ops` names for user code: custom losses and metrics, `Lambda` layers, `Layer.call`.

Each function runs the forward kernel of a pair in `upsampling.ops.math` through
`upsampling.autograd.apply`: on plain arrays it is plain NumPy (a `Constraint` may call it on
weights); on traced values it also records the gradient, so a loss or layer written with these
functions trains. The kernel modules of this package (conv, conv_transpose, resize, ...) are
imported by their own names and do not depend on this namespace.
"""
from __future__ import annotations

import numpy as np

from upsampling.autograd import Tensor, apply
from upsampling.ops import math as _m
from upsampling.keras_names import unsupported as _unsupported

__all__ = [
    "abs", "absolute", "add", "all", "any", "argmax", "argmin", "broadcast_to", "cast", "clip",
    "concatenate", "convert_to_numpy", "convert_to_tensor", "cos", "divide", "dot", "equal", "exp",
    "expand_dims", "expm1", "flatten", "greater", "greater_equal", "less", "less_equal", "log",
    "log1p", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply",
    "negative", "not_equal", "ones_like", "power", "relu", "reshape", "round", "shape", "sigmoid",
    "sign", "sin", "softmax", "log_softmax", "softplus", "sqrt", "square", "squeeze", "stack",
    "std", "stop_gradient", "subtract", "sum", "tanh", "transpose", "true_divide", "var", "where",
    "zeros_like", "ones", "zeros", "floor", "ceil", "take", "binary_crossentropy",
]


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# -------------------------------------------------------------------------- arithmetic
def add(x1, x2):
    return apply(_m.add, _m.add_grad, x1, x2)


def subtract(x1, x2):
    return apply(_m.subtract, _m.subtract_grad, x1, x2)


def multiply(x1, x2):
    return apply(_m.multiply, _m.multiply_grad, x1, x2)


def divide(x1, x2):
    return apply(_m.divide, _m.divide_grad, x1, x2)


true_divide = divide


def power(x1, x2):
    return apply(_m.power, _m.power_grad, x1, x2)


def maximum(x1, x2):
    return apply(_m.maximum, _m.maximum_grad, x1, x2)


def minimum(x1, x2):
    return apply(_m.minimum, _m.minimum_grad, x1, x2)


def matmul(x1, x2):
    return apply(_m.matmul, _m.matmul_grad, x1, x2)


dot = matmul


def negative(x):
    return apply(_m.negative, _m.negative_grad, x)


def abs(x):  # noqa: A001 - Keras's name
    return apply(_m.absolute, _m.absolute_grad, x)


absolute = abs


def square(x):
    return apply(_m.square, _m.square_grad, x)


def sqrt(x):
    return apply(_m.sqrt, _m.sqrt_grad, x)


def exp(x):
    return apply(_m.exp, _m.exp_grad, x)


def log(x):
    return apply(_m.log, _m.log_grad, x)


def log1p(x):
    return apply(_m.log1p, _m.log1p_grad, x)


def expm1(x):
    return apply(_m.expm1, _m.expm1_grad, x)


def tanh(x):
    return apply(_m.tanh, _m.tanh_grad, x)


def sin(x):
    return apply(_m.sin, _m.sin_grad, x)


def cos(x):
    return apply(_m.cos, _m.cos_grad, x)


def sigmoid(x):
    return apply(_m.sigmoid, _m.sigmoid_grad, x)


def softplus(x):
    return apply(_m.softplus, _m.softplus_grad, x)


def relu(x):
    return apply(_m.relu, _m.relu_grad, x)


def clip(x, x_min, x_max):
    """`x` limited to [x_min, x_max] (`keras.ops.clip`)."""
    return apply(_m.clip, _m.clip_grad, x, lo=x_min, hi=x_max)


def cast(x, dtype):
    return apply(_m.cast, _m.cast_grad, x, dtype=np.dtype(dtype))


def stop_gradient(variable):
    """The value, with no gradient flowing back through it."""
    return _value(variable).copy()


# -------------------------------------------------------------------------- reductions
def sum(x, axis=None, keepdims=False):  # noqa: A001
    return apply(_m.sum, _m.sum_grad, x, axis=_axis(axis), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return apply(_m.mean, _m.mean_grad, x, axis=_axis(axis), keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return apply(_m.amax, _m.amax_grad, x, axis=_axis(axis), keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return apply(_m.amin, _m.amin_grad, x, axis=_axis(axis), keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    centred = subtract(x, stop_gradient(mean(x, axis=axis, keepdims=True)))
    return mean(square(centred), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def logsumexp(x, axis=None, keepdims=False):
    top = stop_gradient(max(x, axis=_axis(axis), keepdims=True))
    out = add(log(sum(exp(subtract(x, top)), axis=axis, keepdims=True)), top)
    return out if keepdims else squeeze(out, axis=axis)


def softmax(x, axis=-1):
    e = exp(subtract(x, stop_gradient(max(x, axis=axis, keepdims=True))))
    return divide(e, sum(e, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    return subtract(x, logsumexp(x, axis=axis, keepdims=True))


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary crossentropy (`keras.ops.binary_crossentropy`): probabilities are
    clipped to [epsilon, 1 - epsilon] first, as Keras does."""
    if from_logits:
        return add(subtract(relu(output), multiply(output, target)), softplus(negative(abs(output))))
    eps = 1e-7
    output = clip(output, eps, 1 - eps)
    return negative(add(multiply(target, log(output)),
                        multiply(subtract(1, target), log(subtract(1, output)))))


# -------------------------------------------------------------------------- shapes
def reshape(x, newshape):
    return apply(_m.reshape, _m.reshape_grad, x, shape=tuple(newshape) if not np.isscalar(newshape) else newshape)


def flatten(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    return apply(_m.transpose, _m.transpose_grad, x, axes=None if axes is None else tuple(axes))


def expand_dims(x, axis):
    return apply(_m.expand_dims, _m.expand_dims_grad, x, axis=_axis(axis))


def squeeze(x, axis=None):
    return apply(_m.squeeze, _m.squeeze_grad, x, axis=_axis(axis))


def broadcast_to(x, shape):
    return apply(_m.broadcast_to, _m.broadcast_to_grad, x, shape=tuple(shape))


def take(x, indices, axis=None):
    """Elements at `indices` along `axis` (of the flattened `x` when axis is None)."""
    if axis is None:
        x, axis = flatten(x), 0
    index = (slice(None),) * (axis % len(shape(x))) + (np.asarray(indices),)
    return apply(_m.take, _m.take_grad, x, index=index)


def concatenate(xs, axis=0):
    return apply(_m.concatenate, _m.concatenate_grad, *xs, axis=axis)


def stack(x, axis=0):
    return apply(_m.stack, _m.stack_grad, *x, axis=axis)


def where(condition, x1=None, x2=None):
    if x1 is None and x2 is None:
        return np.nonzero(_value(condition))
    return apply(_m.where, _m.where_grad, _value(condition), x1, x2)


# -------------------------------------------------------------------------- no gradient
def _value(x):
    if isinstance(x, Tensor):
        return x.value
    return np.asarray(x)


def _no_grad(fn):
    def wrapper(*args, **kwargs):
        return fn(*[_value(a) for a in args], **kwargs)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = f"`keras.ops.{fn.__name__}` (no gradient)."
    return wrapper


equal = _no_grad(np.equal)
not_equal = _no_grad(np.not_equal)
greater = _no_grad(np.greater)
greater_equal = _no_grad(np.greater_equal)
less = _no_grad(np.less)
less_equal = _no_grad(np.less_equal)
sign = _no_grad(np.sign)
floor = _no_grad(np.floor)
ceil = _no_grad(np.ceil)
round = _no_grad(np.round)  # noqa: A001
all = _no_grad(np.all)  # noqa: A001
any = _no_grad(np.any)  # noqa: A001
argmax = _no_grad(np.argmax)
argmin = _no_grad(np.argmin)


def zeros_like(x, dtype=None):
    return np.zeros(np.shape(_value(x)), dtype or _value(x).dtype)


def ones_like(x, dtype=None):
    return np.ones(np.shape(_value(x)), dtype or _value(x).dtype)


def zeros(shape, dtype="float32"):
    return np.zeros(shape, dtype)


def ones(shape, dtype="float32"):
    return np.ones(shape, dtype)


def shape(x):
    return tuple(np.shape(_value(x)))


def convert_to_tensor(x, dtype=None):
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    return np.asarray(x, dtype=dtype)


def convert_to_numpy(x):
    return np.array(_value(x))



# Keras 3 `keras.ops` names not implemented here (see upsampling.keras_names)
__getattr__ = _unsupported(__name__, """
adaptive_average_pool adaptive_max_pool allclose amax amin angle append arange arccos arccosh arcsin
arcsinh arctan arctan2 arctanh argpartition argsort array array_split associative_scan average
average_pool bartlett batch_normalization bincount bitwise_and bitwise_invert bitwise_left_shift
bitwise_not bitwise_or bitwise_right_shift bitwise_xor blackman categorical_crossentropy cbrt cdist
celu cholesky cholesky_inverse cond conj conjugate conv conv_transpose copy corrcoef correlate cosh
count_nonzero cross ctc_decode ctc_loss cumprod cumsum custom_gradient deg2rad depth_to_space
depthwise_conv det diag diagflat diagonal diff digitize divide_no_nan dot_product_attention dsplit
dstack dtype eig eigh einsum elu empty empty_like erf erfc erfinv exp2 extract_sequences eye fabs
fft fft2 flip fliplr flipud floor_divide fmax fmin fmod fold fori_loop full full_like gcd gelu
geomspace get_item glu hamming hanning hard_shrink hard_sigmoid hard_silu hard_swish hard_tanh
heaviside histogram hsplit hstack hypot i0 identity ifft2 imag in_top_k inner inv irfft is_tensor
isclose isfinite isin isinf isnan isneginf isposinf isreal istft jvp kaiser kron layer_normalization
lcm ldexp leaky_relu left_shift linspace log10 log2 log_sigmoid logaddexp logaddexp2 logdet
logical_and logical_not logical_or logical_xor logspace lstsq lu_factor map matrix_rank max_pool
median meshgrid mod moments moveaxis multi_hot nan_to_num nanargmax nanargmin nancumprod nancumsum
nanmax nanmean nanmedian nanmin nanpercentile nanprod nanquantile nanstd nansum nanvar ndim
nextafter nonzero norm normalize one_hot outer pad percentile pinv polar prod psnr ptp qr quantile
rad2deg ravel real rearrange reciprocal relu6 repeat rfft right_shift rms_normalization roll rot90
rsqrt saturate_cast scan scatter scatter_update searchsorted segment_max segment_min segment_prod
segment_sum select selu separable_conv signbit silu sinc sinh size slice slice_update slogdet
soft_shrink softsign solve solve_triangular sort space_to_depth sparse_categorical_crossentropy
sparse_plus sparse_sigmoid sparsemax split squareplus stft svd swapaxes swish switch take_along_axis
tan tanh_shrink tensordot threshold tile top_k trace trapezoid tri tril triu trunc unfold unique
unravel_index unstack vander vdot vectorize vectorized_map view view_as_complex view_as_real vsplit
vstack while_loop
""")
