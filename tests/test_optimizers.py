"""upsampling.optimizers against Keras 3 optimizers, state round-trips, config and errors."""
import warnings

import numpy as np
import pytest

from upsampling import optimizers as O
from upsampling.autograd import Variable

SHAPES = [(3, 4), (5,), ()]
STEPS = 5

CONFIGS = [
    ("Adam", {}),
    ("Adam", {"amsgrad": True, "learning_rate": 0.01}),
    ("Adam", {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3, "clipnorm": 1.0}),
    ("Adam", {"weight_decay": 0.05, "learning_rate": 0.02}),
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True, "learning_rate": 0.1}),
    ("SGD", {"momentum": 0.5, "global_clipnorm": 0.5}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True, "momentum": 0.9, "learning_rate": 0.01}),
    ("RMSprop", {"rho": 0.8, "clipvalue": 0.3}),
]


def _data(seed):
    rng = np.random.default_rng(seed)
    init = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def _np(keras_variable):
    return keras_variable.value.detach().cpu().numpy()


def _ours(init):
    return [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(init)]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_matches_keras_step_by_step(name, kwargs):
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    init, grads = _data(len(name) + len(kwargs))
    ours_vars = _ours(init)
    k_vars = [keras.Variable(w.copy(), name=f"w{i}") for i, w in enumerate(init)]
    ours = getattr(O, name)(**kwargs)
    theirs = getattr(keras.optimizers, name)(**{k: (float(v) if k == "momentum" else v)
                                               for k, v in kwargs.items()})
    for step, gs in enumerate(grads):
        ours.apply_gradients(zip(gs, ours_vars))
        theirs.apply_gradients([(torch.tensor(g), v) for g, v in zip(gs, k_vars)])
        for a, b in zip(ours_vars, k_vars):
            assert a.value.dtype == np.float32
            np.testing.assert_allclose(a.value, _np(b), rtol=1e-5, atol=1e-7,
                                       err_msg=f"{name}{kwargs} step {step}")
    assert ours.iterations == STEPS == int(_np(theirs.iterations))
    # same state layout as Keras (iteration, learning rate, slots in Keras's order)
    assert len(ours.variables) == len(theirs.variables)
    for a, b in zip(ours.get_state()[1:], theirs.variables[1:]):
        np.testing.assert_allclose(a, _np(b), rtol=1e-5, atol=1e-7)
    assert [v.path.split("/")[-1] for v in ours.variables[2:]] == \
        [v.path.split("/")[-1] for v in theirs.variables[2:]]


def test_lr_keras2_spelling_matches_keras():
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    init, grads = _data(3)
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        ours = O.Adam(lr=0.05)
    assert ours.learning_rate == pytest.approx(0.05)
    theirs = keras.optimizers.Adam(learning_rate=0.05)
    ov, kv = _ours(init), [keras.Variable(w.copy()) for w in init]
    for gs in grads:
        ours.apply(gs, ov)
        theirs.apply([torch.tensor(g) for g in gs], kv)
    for a, b in zip(ov, kv):
        np.testing.assert_allclose(a.value, _np(b), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="both"):
        O.SGD(learning_rate=0.3, lr=0.1)


@pytest.mark.parametrize("name,kwargs", [
    ("Adam", {"amsgrad": True}), ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"centered": True, "momentum": 0.5}),
])
def test_state_roundtrip_resumes_bit_identically(name, kwargs):
    init, grads = _data(11)
    a_vars = _ours(init)
    a = getattr(O, name)(**kwargs)
    for gs in grads[:3]:
        a.apply(gs, a_vars)
    state = a.get_state()
    assert all(isinstance(s, np.ndarray) for s in state)
    snapshot = [v.numpy() for v in a_vars]

    b_vars = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(snapshot)]
    b = getattr(O, name)(**kwargs)
    with pytest.raises(ValueError, match="build"):
        b.set_state(state)
    b.build(b_vars)
    b.set_state(state)
    assert b.iterations == 3
    # get_state hands out copies: mutating it does not touch the optimizer
    state[2][...] = 123.0
    for gs in grads[3:]:
        a.apply(gs, a_vars)
        b.apply(gs, b_vars)
    for x, y in zip(a_vars, b_vars):
        np.testing.assert_array_equal(x.value, y.value)
    for x, y in zip(a.get_state(), b.get_state()):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    # Keras-style store as well
    store = {}
    a.save_own_variables(store)
    c = getattr(O, name)(**kwargs)
    c.build(_ours(init))
    c.load_own_variables(store)
    for x, y in zip(a.get_state(), c.get_state()):
        np.testing.assert_array_equal(x, y)


def test_none_gradients_are_skipped_and_iterations_count():
    init, grads = _data(5)
    vs = _ours(init)
    opt = O.SGD(learning_rate=0.1)
    with pytest.warns(UserWarning, match="w1"):
        opt.apply([grads[0][0], None, grads[0][2]], vs)
    np.testing.assert_array_equal(vs[1].value, init[1])
    np.testing.assert_allclose(vs[0].value, init[0] - np.float32(0.1) * grads[0][0], rtol=1e-6)
    assert opt.iterations == 1
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply([None, None, None], vs)
    opt.apply([], [])  # no-op, as Keras
    assert opt.iterations == 1
    opt.apply(grads[1])  # variables known from build
    assert opt.iterations == 2
    with pytest.raises(ValueError, match="unknown variable"):
        opt.apply([grads[0][0]], [Variable(np.zeros((3, 4), np.float32), name="stranger")])
    with pytest.raises(ValueError, match="shape"):
        opt.apply([np.zeros((4, 3), np.float32)], [vs[0]])


def test_learning_rate_property_and_float64_variables():
    opt = O.SGD(learning_rate=0.5)
    opt.learning_rate = 0.25
    assert opt.learning_rate == 0.25
    v = Variable(np.ones(3, np.float64), name="d")
    opt.apply([np.full(3, 2.0)], [v])
    assert v.value.dtype == np.float64
    np.testing.assert_array_equal(v.value, np.full(3, 0.5))
    with pytest.raises(ValueError, match=r"SGD: argument `learning_rate` must be a number >= 0\. "
                                         r"Received: learning_rate=-1"):
        opt.learning_rate = -1


@pytest.mark.parametrize("ctor,match", [
    (lambda: O.Adam(learning_rate=-0.1), r"Adam: argument `learning_rate` must be a number >= 0"),
    (lambda: O.Adam(beta_1=1.0), r"Adam: argument `beta_1` must be a number in \[0, 1\)\. "
                                 r"Received: beta_1=1\.0"),
    (lambda: O.Adam(beta_2=-0.1), r"Adam: argument `beta_2` .* Received: beta_2=-0\.1"),
    (lambda: O.SGD(momentum=-0.5), r"SGD: argument `momentum` must be a number in \[0, 1\]\. "
                                   r"Received: momentum=-0\.5"),
    (lambda: O.RMSprop(momentum=-1.0), r"RMSprop: argument `momentum`"),
    (lambda: O.RMSprop(rho=1.5), r"RMSprop: argument `rho`"),
    (lambda: O.Adam(learning_rate="fast"), r"Received: learning_rate='fast'"),
    (lambda: O.SGD(decay=0.01), r"`decay`.*Received: decay=0\.01"),
    (lambda: O.SGD(clipnorm=1.0, clipvalue=1.0), r"only one of"),
    (lambda: O.Adam(foo=1), r"not recognized"),
])
def test_invalid_arguments(ctor, match):
    with pytest.raises(ValueError, match=match):
        ctor()


def test_decay_zero_is_accepted_and_config_roundtrip():
    opt = O.RMSprop(learning_rate=0.01, decay=0.0, centered=True, clipnorm=2.0, name="r")
    again = O.deserialize(O.serialize(opt))
    assert type(again) is O.RMSprop and again.get_config() == opt.get_config()
    assert O.Adam.from_config(O.Adam(amsgrad=True).get_config()).amsgrad


def test_keras_configs_load():
    keras = pytest.importorskip("keras")
    for k in (keras.optimizers.Adam(learning_rate=0.002, amsgrad=True),
              keras.optimizers.SGD(momentum=0.9, nesterov=True),
              keras.optimizers.RMSprop(centered=True, clipnorm=1.0)):
        cfg = k.get_config()
        ours = getattr(O, type(k).__name__).from_config(dict(cfg))
        mine = ours.get_config()
        assert {key: mine[key] for key in cfg if key != "name"} == \
               {key: cfg[key] for key in cfg if key != "name"}


def test_get():
    assert type(O.get("adam")) is O.Adam
    assert type(O.get("Adam")) is O.Adam
    assert type(O.get("SGD")) is O.SGD
    assert type(O.get("sgd")) is O.SGD
    assert type(O.get("RMSprop")) is O.RMSprop
    assert type(O.get("rmsprop")) is O.RMSprop
    opt = O.SGD()
    assert O.get(opt) is opt
    assert type(O.get(O.Adam)) is O.Adam
    assert type(O.get({"class_name": "Adam", "config": {"learning_rate": 0.1}})) is O.Adam
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 'adamw'"):
        O.get("adamw")
    with pytest.raises(ValueError, match="Could not interpret"):
        O.get(3)


def test_defaults_match_keras():
    keras = pytest.importorskip("keras")
    for name in ("Adam", "SGD", "RMSprop"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfg = getattr(keras.optimizers, name)().get_config()
        mine = getattr(O, name)().get_config()
        cfg.pop("name"), mine.pop("name")
        assert mine == cfg, name


def test_adam_blocked_update_equals_the_plain_formula_bit_for_bit(monkeypatch):
    """Adam's blocked, threaded pass computes exactly m = b1*m + c1*g, v = b2*v + c2*g*g,
    w -= m*alpha / (sqrt(v) + eps) in float32, also for a weight stored as a strided view."""
    from upsampling.ops import parallel

    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    parallel.set_threads(2)
    try:
        rng = np.random.default_rng(3)
        for amsgrad in (False, True):
            w0 = rng.standard_normal((37, 29)).astype(np.float32)
            var = Variable(w0.T.copy().T if amsgrad else w0.copy())  # Fortran order for amsgrad
            opt = O.Adam(learning_rate=0.01, beta_1=0.5, amsgrad=amsgrad)
            w, m, v, vh = w0.astype(np.float32), np.zeros_like(w0), np.zeros_like(w0), np.zeros_like(w0)
            f = np.float32
            for step in range(1, 4):
                g = rng.standard_normal(w0.shape).astype(np.float32)
                opt.apply([g], [var])
                alpha = f(0.01) * np.sqrt(f(1) - f(0.999) ** f(step)) / (f(1) - f(0.5) ** f(step))
                m = m * f(0.5) + f(1 - 0.5) * g
                v = v * f(0.999) + f(1 - 0.999) * (g * g)
                vh = np.maximum(vh, v)
                w = w - (m * alpha) / (np.sqrt(vh if amsgrad else v) + f(1e-7))
                np.testing.assert_array_equal(var.value, w)
    finally:
        parallel.set_threads(None)
