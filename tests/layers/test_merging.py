"""Merging layers: values and input gradients against Keras 3 (torch backend), finite differences,
Keras's validation, configs and functional spellings."""
import numpy as np
import pytest

from tests.gradcheck import assert_grad_close, numeric_grad
from tests.keras_oracle import keras
from upsampling import layers
from upsampling.autograd import Gradients
from upsampling.models import Model

RNG = np.random.default_rng(0)
NAMES = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]

# shapes without batch axis; the merging rule broadcasts unit axes and pads lower ranks after batch
SHAPES = {
    "Add": [(4, 3), (4, 3), (4, 3)],
    "Subtract": [(2, 3, 5), (2, 1, 5)],
    "Multiply": [(4, 3), (1, 3), (4, 1)],
    "Average": [(3,), (4, 3)],
    "Maximum": [(2, 2, 3), (2, 2, 3), (2, 2, 3)],
    "Minimum": [(5,), (5,)],
    "Concatenate": [(2, 2, 3), (2, 2, 1), (2, 2, 4)],
}


def _inputs(name, batch=2, dtype="float32"):
    xs = [RNG.normal(size=(batch,) + s).astype(dtype) for s in SHAPES[name]]
    if name in ("Maximum", "Minimum"):
        xs[1][0, 0] = xs[0][0, 0]  # a tie: both sides share the gradient (as torch)
    return xs


@pytest.mark.parametrize("name", NAMES)
def test_values_and_input_gradients_match_keras(name):
    k = keras()
    import torch
    xs = _inputs(name)
    kwargs = {}
    klayer = getattr(k.layers, name)(**kwargs)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    ty = klayer(txs)
    r = RNG.normal(size=tuple(ty.shape)).astype("float32")
    (ty * torch.tensor(r)).sum().backward()

    layer = getattr(layers, name)(**kwargs)
    y, backward = layer.forward(xs)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    dxs = backward(r, Gradients())
    assert len(dxs) == len(xs)
    for dx, tx in zip(dxs, txs):
        assert dx.shape == tuple(tx.shape)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    # symbolic shapes agree too
    sym = getattr(k.layers, name)(**kwargs)([k.Input(s) for s in SHAPES[name]])
    ours = getattr(layers, name)(**kwargs)([layers.Input(s) for s in SHAPES[name]])
    assert ours.shape == tuple(sym.shape)


@pytest.mark.parametrize("axis", [1, 2, -2, -1])
def test_concatenate_axes_match_keras(axis):
    k = keras()
    shapes = [(2, 3, 4), (2, 3, 4)]
    xs = [RNG.normal(size=(2,) + s).astype("float32") for s in shapes]
    y = layers.Concatenate(axis=axis)(xs)
    np.testing.assert_array_equal(y, k.ops.convert_to_numpy(k.layers.Concatenate(axis=axis)(xs)))
    assert layers.concatenate([layers.Input(s) for s in shapes], axis=axis).shape == \
        tuple(k.layers.concatenate([k.Input(s) for s in shapes], axis=axis).shape)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_finite_differences_in_a_model(name):
    inputs = [layers.Input(s, dtype="float64") for s in SHAPES[name]]
    h = [layers.Dense(3, dtype="float64")(t) if name != "Concatenate" else t for t in inputs]
    out = getattr(layers, name)(dtype="float64")(h)
    model = Model(inputs, out)
    xs = _inputs(name, dtype="float64")
    y, backward = model.forward(xs)
    r = RNG.normal(size=y.shape)
    grads = Gradients()
    dxs = backward(r, grads)
    for k, x in enumerate(xs):
        num = numeric_grad(lambda: float(np.sum(model.forward(xs)[0] * r)), x)
        assert_grad_close(dxs[k], num, what=f"{name} input {k}")
    for v in model.trainable_weights:
        num = numeric_grad(lambda: float(np.sum(model.forward(xs)[0] * r)), v.value)
        assert_grad_close(grads.get(v), num, what=f"{name} {v.path}")


def test_functional_spellings_and_configs():
    a, b = layers.Input((4,)), layers.Input((4,))
    for fn, cls in [(layers.add, layers.Add), (layers.subtract, layers.Subtract), (layers.multiply, layers.Multiply),
                    (layers.average, layers.Average), (layers.maximum, layers.Maximum),
                    (layers.minimum, layers.Minimum)]:
        t = fn([a, b], name=f"m_{cls.__name__}")
        assert isinstance(t.node.layer, cls) and t.node.layer.name == f"m_{cls.__name__}" and t.shape == (None, 4)
    t = layers.concatenate([a, b], axis=1)
    assert t.shape == (None, 8) and t.node.layer.axis == 1
    k = keras()
    for name in NAMES:
        ours = getattr(layers, name)(name="x").get_config()
        theirs = getattr(k.layers, name)(name="x").get_config()
        shared = set(ours) - {"dtype"}  # Keras writes a dtype policy object, we write its name
        assert shared <= set(theirs) and {key: ours[key] for key in shared} == {key: theirs[key] for key in shared}
        again = getattr(layers, name).from_config(ours)
        assert again.get_config() == ours


def test_validation_errors_name_the_layer_and_the_rule():
    a, b, c = layers.Input((4, 3)), layers.Input((5, 3)), layers.Input((4, 2))
    with pytest.raises(ValueError, match="Add layer 'bad_add'.*incompatible shapes.*\\(4, 3\\).*\\(5, 3\\)"):
        layers.Add(name="bad_add")([a, b])
    with pytest.raises(ValueError, match="Subtract.*exactly 2 inputs"):
        layers.Subtract()([a, a, a])
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Add()(a)
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Maximum()(np.ones((2, 3)))
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        layers.Concatenate(axis=-1)([a, b])
    assert layers.Concatenate(axis=1)([a, b]).shape == (None, 9, 3)
    with pytest.raises(ValueError, match="matching shapes"):
        layers.Concatenate(axis=1)([a, c])
    with pytest.raises(ValueError, match="out of range"):
        layers.Concatenate(axis=3)([a, a])
    with pytest.raises(ValueError, match="`axis` must be an integer"):
        layers.Concatenate(axis="1")
    with pytest.raises(ValueError, match="different batch sizes"):
        layers.Add()([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="different batch sizes"):
        layers.Concatenate()([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(TypeError, match="numeric"):
        layers.Add()([np.ones((2, 3)), np.array([["a"] * 3] * 2)])
