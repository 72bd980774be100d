"""Optimizer update rules and loss formulas written out from their papers / Keras docs, in float64
(the optimizers keep hyper-parameters such as the learning rate in float32, as Keras does, hence
rtol 1e-6).

These need no oracle, so they still guard the numbers on a machine that runs with
UPSAMPLING_SKIP_ORACLES=1 (the Keras comparisons in test_optimizers.py / test_losses.py skip there).
"""
import numpy as np
import pytest

from upsampling import losses as L
from upsampling import optimizers as O
from upsampling.autograd import Variable

rng = np.random.default_rng(17)


def _run(optimizer, grads, init):
    var = Variable(init.copy(), name="w")
    path = []
    for g in grads:
        optimizer.apply_gradients([(g, var)])
        path.append(var.value.copy())
    return path


@pytest.mark.parametrize("beta_1,beta_2,epsilon,lr", [(0.9, 0.999, 1e-7, 0.01), (0.5, 0.9, 1e-3, 0.1),
                                                      (0.0, 0.5, 1e-4, 0.05)])
def test_adam_follows_kingma_and_ba_with_bias_correction(beta_1, beta_2, epsilon, lr):
    """Algorithm 1 of Kingma & Ba (2015): m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t),
    w -= lr * m_hat / (sqrt(v_hat) + eps_hat); Keras adds its epsilon to sqrt(v) before the
    correction, i.e. eps_hat = epsilon / sqrt(1 - b2^t)."""
    init = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(6)]
    path = _run(O.Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon), grads, init)
    w, m, v = init.copy(), np.zeros(5), np.zeros(5)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat, v_hat = m / (1 - beta_1 ** t), v / (1 - beta_2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + epsilon / np.sqrt(1 - beta_2 ** t))
        np.testing.assert_allclose(path[t - 1], w, rtol=1e-6, atol=1e-9, err_msg=f"step {t}")


def test_adam_first_step_moves_every_weight_by_the_learning_rate():
    # with bias correction, step 1 is lr * g / |g| (up to epsilon): the paper's "trust region"
    init = rng.standard_normal(6)
    g = np.array([3.0, -0.01, 1e3, -2.0, 0.5, -7.0])
    (w1,) = _run(O.Adam(learning_rate=0.1, epsilon=1e-12), [g], init)
    np.testing.assert_allclose(init - w1, 0.1 * np.sign(g), rtol=1e-6)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.7, True)])
def test_sgd_momentum_as_keras_documents_it(momentum, nesterov):
    # Keras: velocity = momentum * velocity - lr * g; w += velocity (nesterov: w += momentum *
    # velocity - lr * g)
    init = rng.standard_normal(4)
    grads = [rng.standard_normal(4) for _ in range(5)]
    path = _run(O.SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov), grads, init)
    w, vel = init.copy(), np.zeros(4)
    for step, g in enumerate(grads):
        vel = momentum * vel - 0.05 * g
        w = w + (momentum * vel - 0.05 * g if nesterov else vel)
        np.testing.assert_allclose(path[step], w, rtol=1e-6, atol=1e-9)


def test_rmsprop_as_keras_documents_it():
    # v = rho * v + (1 - rho) g^2; w -= lr * g / sqrt(v + epsilon)
    init = rng.standard_normal(4)
    grads = [rng.standard_normal(4) for _ in range(5)]
    path = _run(O.RMSprop(learning_rate=0.01, rho=0.8, epsilon=1e-6), grads, init)
    w, v = init.copy(), np.zeros(4)
    for step, g in enumerate(grads):
        v = 0.8 * v + 0.2 * g * g
        w = w - 0.01 * g / np.sqrt(v + 1e-6)
        np.testing.assert_allclose(path[step], w, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_binary_crossentropy_label_smoothing_moves_labels_toward_one_half(smoothing):
    y = (rng.random((6, 3)) > 0.5).astype(np.float64)
    p = rng.uniform(0.05, 0.95, (6, 3))
    target = y * (1 - smoothing) + 0.5 * smoothing  # Keras docs: squeezed toward 0.5
    expected = np.mean(-(target * np.log(p) + (1 - target) * np.log(1 - p)))
    got = L.BinaryCrossentropy(label_smoothing=smoothing)(y, p)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    logits = np.log(p / (1 - p))
    np.testing.assert_allclose(L.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing)(y, logits),
                               expected, rtol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_categorical_crossentropy_label_smoothing_spreads_over_the_classes(smoothing):
    classes = 4
    y = np.eye(classes)[rng.integers(0, classes, 5)]
    p = rng.uniform(0.1, 1.0, (5, classes))
    p /= p.sum(axis=1, keepdims=True)
    target = y * (1 - smoothing) + smoothing / classes
    expected = np.mean(-(target * np.log(p)).sum(axis=1))
    np.testing.assert_allclose(L.CategoricalCrossentropy(label_smoothing=smoothing)(y, p), expected, rtol=1e-6)


@pytest.mark.parametrize("kwargs,match", [(dict(beta_2=1.0), "beta_2"), (dict(beta_2=1.5), "beta_2"),
                                          (dict(beta_1=1.0), "beta_1"), (dict(epsilon=-1e-7), "epsilon")])
def test_adam_refuses_decay_rates_outside_zero_one_and_negative_epsilon(kwargs, match):
    with pytest.raises(ValueError, match=rf"Adam.*{match}"):
        O.Adam(**kwargs)
