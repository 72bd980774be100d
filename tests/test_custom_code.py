"""User code written with `upsampling.backend` / `upsampling.ops` trains: plain-function losses and
metrics, `Layer` subclasses, `Lambda` layers and constraints, checked against Keras 3 (torch)."""
import numpy as np
import pytest

from tests.gradcheck import assert_grad_close, numeric_grad
from tests.keras_oracle import keras
from upsampling import backend, layers, ops, optimizers
from upsampling.autograd import Gradients
from upsampling.constraints import Constraint
from upsampling.models import Model, Sequential, load_model

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------------------- WGAN
def wasserstein_loss(y_true, y_pred):
    return backend.mean(y_true * y_pred)


class ClipConstraint(Constraint):
    """The WGAN critic's weight clipping, as the tutorial writes it."""

    def __init__(self, clip_value):
        self.clip_value = clip_value

    def __call__(self, weights):
        return backend.clip(weights, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}


def _critic(lib, const):
    return lib.Sequential([
        lib.Input((8, 8, 1)),
        lib.layers.Conv2D(4, 3, strides=2, padding="same", kernel_constraint=const),
        lib.layers.LeakyReLU(negative_slope=0.2),
        lib.layers.Flatten(),
        lib.layers.Dense(1),
    ])


def test_wasserstein_critic_trains_like_keras():
    k = keras()

    class KClip(k.constraints.Constraint):
        def __call__(self, w):
            return k.ops.clip(w, -0.01, 0.01)

    kmodel = _critic(k, KClip())
    import upsampling
    lib = type("lib", (), {"Sequential": Sequential, "Input": layers.Input, "layers": layers})
    model = _critic(lib, ClipConstraint(0.01))
    assert upsampling  # the package is importable as the tutorial's code expects
    model.set_weights(kmodel.get_weights())
    kmodel.compile(loss=lambda yt, yp: k.ops.mean(yt * yp), optimizer=k.optimizers.RMSprop(learning_rate=0.00005))
    model.compile(loss=wasserstein_loss, optimizer=optimizers.RMSprop(learning_rate=0.00005))
    x = RNG.normal(size=(6, 8, 8, 1)).astype("float32")
    y = np.concatenate([-np.ones((3, 1)), np.ones((3, 1))]).astype("float32")
    for step in range(4):
        theirs = float(kmodel.train_on_batch(x, y))
        ours = model.train_on_batch(x, y)
        assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-7), step
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert np.abs(model.get_weights()[0]).max() <= 0.01  # the constraint ran on plain arrays


def test_loss_functions_get_exact_gradients_and_keras_values():
    k = keras()

    def smooth_l1(y_true, y_pred):
        d = ops.abs(y_true - y_pred)
        return backend.mean(ops.where(ops.less(d, 1.0), 0.5 * d * d, d - 0.5), axis=-1)

    def log_cosh_like(y_true, y_pred):
        return backend.sum(backend.log(backend.exp(y_pred - y_true) + backend.epsilon() + 1), axis=-1)

    from upsampling.losses import get
    for fn, kfn in [(smooth_l1, lambda yt, yp: k.ops.mean(k.ops.where(k.ops.abs(yt - yp) < 1.0,
                                                                             0.5 * (yt - yp) ** 2,
                                                                             k.ops.abs(yt - yp) - 0.5), axis=-1)),
                    (log_cosh_like, lambda yt, yp: k.ops.sum(k.ops.log(k.ops.exp(yp - yt) + 1e-7 + 1), axis=-1)),
                    (wasserstein_loss, lambda yt, yp: k.ops.mean(yt * yp))]:
        yt, yp = RNG.normal(size=(4, 3)) * 2, RNG.normal(size=(4, 3)) * 2
        loss = get(fn)
        value, grad = loss.value_and_grad(yt, yp)
        assert_grad_close(grad, numeric_grad(lambda: loss(yt, yp), yp), what=fn.__name__)
        theirs = k.ops.mean(kfn(yt.astype("float32"), yp.astype("float32")))  # Keras's default reduction
        assert value == pytest.approx(float(theirs), rel=1e-5)
        assert loss.name == fn.__name__


def test_metric_functions_are_plain_numpy_and_named_after_the_function():
    def mean_pred(y_true, y_pred):
        return backend.mean(y_pred)

    m = Sequential([layers.Input((3,)), layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse", metrics=[mean_pred])
    x = RNG.normal(size=(4, 3)).astype("float32")
    logs = m.test_on_batch(x, np.zeros((4, 1)), return_dict=True)
    assert logs["mean_pred"] == pytest.approx(float(m.predict(x, verbose=0).mean()), rel=1e-6)


# ---------------------------------------------------------------------------- Layer subclasses
def _subclass(lib_layers, lib_ops):
    class Scaled(lib_layers.Layer):
        """A dense layer with a learned output scale, written as Keras documents subclassing."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                     trainable=True, name="w")
            self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

        def call(self, inputs):
            h = lib_ops.matmul(inputs, self.w)
            return lib_ops.tanh(h) * self.scale + lib_ops.mean(inputs, axis=-1, keepdims=True)

    return Scaled


def test_layer_subclass_with_ops_trains_like_keras_and_has_exact_gradients():
    k = keras()
    KScaled, Scaled = _subclass(k.layers, k.ops), _subclass(layers, ops)
    kmodel = k.Sequential([k.Input((4,)), KScaled(3), k.layers.Dense(1)])
    model = Sequential([layers.Input((4,)), Scaled(3), layers.Dense(1)])
    assert [w.shape for w in model.get_weights()] == [tuple(w.shape) for w in kmodel.get_weights()]
    model.set_weights(kmodel.get_weights())
    x, y = RNG.normal(size=(5, 4)).astype("float32"), RNG.normal(size=(5, 1)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    kmodel.compile(optimizer=k.optimizers.Adam(0.01), loss="mse")
    model.compile(optimizer=optimizers.Adam(0.01), loss="mse")
    for _ in range(3):
        assert model.train_on_batch(x, y) == pytest.approx(float(kmodel.train_on_batch(x, y)), rel=1e-5)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # float64 finite differences for the input and both weights
    layer = Scaled(2, dtype="float64")
    x64 = RNG.normal(size=(3, 4))
    y, backward = layer.forward(x64)
    r = RNG.normal(size=y.shape)
    grads = Gradients()
    dx = backward(r, grads)

    def f():
        return float(np.sum(layer.forward(x64)[0] * r))
    assert_grad_close(dx, numeric_grad(f, x64), what="input")
    for v in layer.weights:
        assert_grad_close(grads.get(v), numeric_grad(f, v.value), what=v.name)


def test_layer_subclass_with_sublayers_and_two_inputs():
    class Gate(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.proj = layers.Dense(3, dtype="float64")

        def call(self, inputs, training=None):
            a, b = inputs
            return ops.sigmoid(self.proj(a)) * b

    a, b = layers.Input((4,), dtype="float64"), layers.Input((3,), dtype="float64")
    gate = Gate(dtype="float64")
    out = gate([a, b])
    assert out.shape == (None, 3)
    model = Model([a, b], out)
    assert len(model.trainable_weights) == 2  # the Dense inside is tracked
    xs = [RNG.normal(size=(2, 4)), RNG.normal(size=(2, 3))]
    y, backward = model.forward(xs, training=True)
    r = RNG.normal(size=y.shape)
    grads = Gradients()
    dxs = backward(r, grads)

    def f():
        return float(np.sum(model.forward(xs)[0] * r))
    for k, x in enumerate(xs):
        assert_grad_close(dxs[k], numeric_grad(f, x), what=f"input {k}")
    for v in model.trainable_weights:
        assert_grad_close(grads.get(v), numeric_grad(f, v.value), what=v.path)


def test_custom_layer_round_trips_with_custom_objects(tmp_path):
    Scaled = _subclass(layers, ops)

    class Saved(Scaled):
        def get_config(self):
            return {**super().get_config(), "units": self.units}

    model = Sequential([layers.Input((4,)), Saved(3, name="saved")])
    model.save(tmp_path / "m.model")
    with pytest.raises(ValueError, match="custom_objects"):
        load_model(tmp_path / "m.model")
    again = load_model(tmp_path / "m.model", custom_objects={"Saved": Saved})
    x = RNG.normal(size=(2, 4)).astype("float32")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


# ----------------------------------------------------------------------------------------- Lambda
def test_lambda_layers_match_keras_train_and_refuse_to_load(tmp_path):
    k = keras()
    kmodel = k.Sequential([k.Input((4,)), k.layers.Dense(3), k.layers.Lambda(lambda t: k.ops.square(t) * 0.5),
                           k.layers.Dense(1)])
    model = Sequential([layers.Input((4,)), layers.Dense(3), layers.Lambda(lambda t: backend.square(t) * 0.5),
                        layers.Dense(1)])
    assert model.layers[1].output_shape == (None, 3)
    model.set_weights(kmodel.get_weights())
    kmodel.compile(optimizer="sgd", loss="mse")
    model.compile(optimizer="sgd", loss="mse")
    x, y = RNG.normal(size=(5, 4)).astype("float32"), RNG.normal(size=(5, 1)).astype("float32")
    for _ in range(3):
        assert model.train_on_batch(x, y) == pytest.approx(float(kmodel.train_on_batch(x, y)), rel=1e-5)
    # several inputs, `arguments`, and an explicit output_shape
    a, b = layers.Input((3,)), layers.Input((3,))
    out = layers.Lambda(lambda ts, scale: (ts[0] - ts[1]) * scale, arguments={"scale": 2.0}, output_shape=(3,))([a, b])
    two = Model([a, b], out)
    np.testing.assert_allclose(two.predict([np.ones((2, 3)), np.zeros((2, 3))], verbose=0), 2 * np.ones((2, 3)))
    model.save(tmp_path / "lambda.model")
    with pytest.raises(ValueError, match="Lambda layer .* cannot be loaded from a file"):
        load_model(tmp_path / "lambda.model")
    with pytest.raises(TypeError, match="callable"):
        layers.Lambda(3)


def test_code_that_numpy_cannot_differentiate_gets_a_clear_error():
    with pytest.raises(TypeError, match="Lambda layer .* cannot be differentiated.*upsampling.ops"):
        Sequential([layers.Input((3,)), layers.Lambda(lambda t: np.mean(t, axis=-1, keepdims=True)),
                    layers.Dense(1)])
