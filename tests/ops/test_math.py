"""`upsampling.ops` / `upsampling.backend` functions: traced gradients against finite differences
(float64), plain-array behaviour, and values against `keras.ops` on the torch backend."""
import numpy as np
import pytest

from tests.gradcheck import assert_grad_close, numeric_grad
from upsampling import backend as K
from upsampling import ops
from upsampling.autograd import Gradients, Tensor, Variable, trace

RNG = np.random.default_rng(0)


def _x(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


POS = dict(low=0.3, high=2.0)  # domain of log / sqrt / power

# name -> (function of the traced inputs, inputs); each output is reduced with a random projection
CASES = {
    "add": (lambda a, b: ops.add(a, b), [_x(3, 4), _x(4)]),
    "subtract": (lambda a, b: ops.subtract(a, b), [_x(3, 1), _x(3, 4)]),
    "multiply": (lambda a, b: ops.multiply(a, b), [_x(2, 3, 4), _x(3, 1)]),
    "divide": (lambda a, b: ops.divide(a, b), [_x(3, 4), _x(3, 4, **POS)]),
    "power": (lambda a, b: ops.power(a, b), [_x(3, 4, **POS), _x(3, 4)]),
    "maximum": (lambda a, b: ops.maximum(a, b), [_x(3, 4), _x(3, 4)]),
    "minimum": (lambda a, b: ops.minimum(a, b), [_x(3, 4), _x(4)]),
    "matmul": (lambda a, b: ops.matmul(a, b), [_x(2, 3, 4), _x(4, 5)]),
    "matmul_vec": (lambda a, b: ops.matmul(a, b), [_x(3, 4), _x(4)]),
    "negative": (ops.negative, [_x(3, 4)]),
    "abs": (ops.abs, [_x(3, 4)]),
    "square": (ops.square, [_x(3, 4)]),
    "sqrt": (ops.sqrt, [_x(3, 4, **POS)]),
    "exp": (ops.exp, [_x(3, 4)]),
    "log": (ops.log, [_x(3, 4, **POS)]),
    "log1p": (ops.log1p, [_x(3, 4, **POS)]),
    "expm1": (ops.expm1, [_x(3, 4)]),
    "tanh": (ops.tanh, [_x(3, 4)]),
    "sin": (ops.sin, [_x(3, 4)]),
    "cos": (ops.cos, [_x(3, 4)]),
    "sigmoid": (ops.sigmoid, [_x(3, 4)]),
    "softplus": (ops.softplus, [_x(3, 4)]),
    "relu": (ops.relu, [_x(3, 4)]),
    "clip": (lambda a: ops.clip(a, -0.5, 0.7), [_x(3, 4)]),
    "sum": (lambda a: ops.sum(a, axis=1), [_x(3, 4, 2)]),
    "sum_all": (ops.sum, [_x(3, 4)]),
    "mean": (lambda a: ops.mean(a, axis=(0, 2), keepdims=True), [_x(3, 4, 2)]),
    "max": (lambda a: ops.max(a, axis=-1), [_x(3, 4)]),
    "min": (lambda a: ops.min(a, axis=0, keepdims=True), [_x(3, 4)]),
    "var": (lambda a: ops.var(a, axis=-1), [_x(3, 4)]),
    "std": (lambda a: ops.std(a), [_x(3, 4)]),
    "logsumexp": (lambda a: ops.logsumexp(a, axis=1), [_x(3, 4)]),
    "softmax": (ops.softmax, [_x(3, 4)]),
    "log_softmax": (ops.log_softmax, [_x(3, 4)]),
    "binary_crossentropy": (lambda a, b: ops.binary_crossentropy(a, b), [_x(3, 4, low=0, high=1),
                                                                           _x(3, 4, low=0.05, high=0.95)]),
    "binary_crossentropy_logits": (lambda a, b: ops.binary_crossentropy(a, b, from_logits=True),
                                   [_x(3, 4, low=0, high=1), _x(3, 4)]),
    "reshape": (lambda a: ops.reshape(a, (4, -1)), [_x(2, 3, 4)]),
    "transpose": (lambda a: ops.transpose(a, (2, 0, 1)), [_x(2, 3, 4)]),
    "expand_dims": (lambda a: ops.expand_dims(a, 1), [_x(3, 4)]),
    "squeeze": (lambda a: ops.squeeze(a, 1), [_x(3, 1, 4)]),
    "broadcast_to": (lambda a: ops.broadcast_to(a, (2, 3, 4)), [_x(3, 1)]),
    "take": (lambda a: ops.take(a, [0, 2, 0], axis=1), [_x(3, 4)]),
    "getitem": (lambda a: a[1:, ::2] * a[:2, 1::2], [_x(3, 4)]),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=1), [_x(3, 2), _x(3, 4)]),
    "stack": (lambda a, b: ops.stack([a, b], axis=1), [_x(3, 4), _x(3, 4)]),
    "where": (lambda a, b: ops.where(np.arange(4) % 2 == 0, a, b), [_x(3, 4), _x(4)]),
    "cast": (lambda a: ops.cast(a, "float64") * 2, [_x(3, 4)]),
    "operators": (lambda a, b: (2 - a) * b / (1 + b * b) + (-a) ** 2 - abs(b), [_x(3, 4), _x(4)]),
    "keras2_backend": (lambda a, b: K.expand_dims(K.mean(K.square(K.clip(a, -1, 1) - b), axis=-1), -1)
                       + K.sum(K.abs(b)) + K.std(a) + K.pow(K.exp(b), 2) - K.log(K.sqrt(K.square(b) + 1))
                       + K.maximum(a, b) - K.minimum(a, 0.1) + K.max(a, axis=0) + K.batch_flatten(a)[:, :1],
                       [_x(3, 4), _x(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_traced_gradient_matches_finite_differences(name):
    fn, inputs = CASES[name]
    inputs = [np.array(x) for x in inputs]
    out, vjp = trace(lambda *ts: fn(*ts), *inputs)
    r = np.random.default_rng(1).standard_normal(np.shape(out))
    grads = vjp(r)
    grads = grads if len(inputs) > 1 else [grads]
    for k, (x, g) in enumerate(zip(inputs, grads)):
        num = numeric_grad(lambda: float(np.sum(np.asarray(fn(*inputs)) * r)), x)
        assert_grad_close(g, num, rtol=1e-6, atol=1e-8, what=f"{name}, input {k}")
    # on plain arrays the same function is plain NumPy and gives the same values
    np.testing.assert_allclose(np.asarray(fn(*inputs)), out, rtol=1e-12)


def test_plain_arrays_stay_plain_and_variables_read_as_arrays():
    x = RNG.normal(size=(3, 4)).astype("float32")
    y = K.clip(x, -0.5, 0.5)
    assert type(y) is np.ndarray and y.dtype == np.float32 and y.max() <= 0.5
    assert K.epsilon() == 1e-7 and K.clip(x, 1, 0).min() == 1  # Keras 2: max below min is raised to it
    v = Variable(x.copy(), name="w")
    np.testing.assert_allclose(K.mean(v * 2 + v, axis=0), 3 * x.mean(axis=0), rtol=1e-6)
    assert type(np.ones(4) * v) is np.ndarray


def test_variables_read_inside_a_trace_get_gradients():
    w = Variable(RNG.normal(size=(4, 2)), name="w")
    b = Variable(RNG.normal(size=(2,)), name="b")
    x = RNG.normal(size=(3, 4))
    out, vjp = trace(lambda t: ops.sum(ops.tanh(t @ w + b) * b), x)
    grads = Gradients()
    dx = vjp(1.0, grads)

    def f():
        return float(np.sum(np.tanh(x @ w.value + b.value) * b.value))
    assert_grad_close(grads.get(w), numeric_grad(f, w.value), what="w")
    assert_grad_close(grads.get(b), numeric_grad(f, b.value), what="b")
    assert_grad_close(dx, numeric_grad(f, x), what="x")


def test_ties_share_the_gradient_as_torch_does():
    torch = pytest.importorskip("torch")
    a = np.array([1.0, 2.0, 3.0, 3.0])
    b = np.array([1.0, 1.0, 3.0, 4.0])
    _, vjp = trace(lambda p, q: ops.maximum(p, q) + ops.max(p) * 2, a, b)
    ga, gb = vjp(np.ones(4))
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    (torch.maximum(ta, tb).sum() + torch.amax(ta) * 2 * 4).backward()
    np.testing.assert_allclose(ga, ta.grad.numpy())
    np.testing.assert_allclose(gb, tb.grad.numpy())


def test_numpy_on_a_traced_value_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="upsampling.ops"):
        trace(lambda t: np.mean(np.asarray(t)), np.ones(3))
    with pytest.raises(TypeError, match="ops.where"):
        trace(lambda t: t if ops.sum(t) else -t, np.ones(3))
    assert isinstance(np.ones(2) * Tensor(np.ones(2)), Tensor)  # ndarray defers to the tensor
    out, vjp = trace(lambda t: np.tanh(t) * 2, np.array([0.5]))  # ufuncs with an ops twin are traced
    np.testing.assert_allclose(vjp(np.ones(1)), 2 * (1 - np.tanh(0.5) ** 2))
    with pytest.raises(TypeError, match="`arctan` cannot be differentiated"):
        trace(np.arctan, np.ones(3))


@pytest.mark.parametrize("name, args", [
    ("mean", dict(axis=-1)), ("sum", dict(axis=0)), ("square", {}), ("abs", {}), ("sqrt", {}),
    ("exp", {}), ("log", {}), ("max", dict(axis=1)), ("min", {}), ("softmax", {}), ("logsumexp", dict(axis=-1)),
    ("var", dict(axis=0)), ("std", {}), ("sigmoid", {}), ("softplus", {}), ("tanh", {}),
])
def test_values_match_keras_ops(name, args):
    keras = pytest.importorskip("keras")
    x = RNG.uniform(0.2, 2.0, size=(3, 5)).astype("float32")
    ours = getattr(ops, name)(x, **args)
    theirs = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x, **args))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert np.shape(ours) == theirs.shape
