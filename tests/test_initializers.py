"""Initializers: fans, formulas, bounds, seeding, get/serialize, and Keras 3 as an oracle."""
import math

import numpy as np
import pytest

from upsampling import initializers as I
from upsampling import random as urandom

RANDOM_CLASSES = [
    "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "GlorotUniform",
    "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal",
]
ALL_CLASSES = ["Zeros", "Ones", "Constant", "Identity"] + RANDOM_CLASSES
SNAKE = {
    "zeros": "Zeros", "ones": "Ones", "constant": "Constant", "identity": "Identity",
    "random_normal": "RandomNormal", "random_uniform": "RandomUniform",
    "truncated_normal": "TruncatedNormal", "variance_scaling": "VarianceScaling",
    "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal", "he_normal": "HeNormal",
    "he_uniform": "HeUniform", "lecun_normal": "LecunNormal", "lecun_uniform": "LecunUniform",
    "orthogonal": "Orthogonal",
}
BIG = (3, 3, 128, 96)  # 110592 draws; fan_in 1152, fan_out 864


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


# ---------------------------------------------------------------------------------- fans & formulas
def test_compute_fans():
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((784, 256)) == (784, 256)  # Dense (in, units)
    assert I.compute_fans((3, 5, 16, 32)) == (3 * 5 * 16, 3 * 5 * 32)  # Conv2D (kh, kw, in, out)
    # Conv2DTranspose kernel is (kh, kw, filters, in_channels): fan_in counts the filters.
    assert I.compute_fans((4, 4, 64, 128)) == (64 * 16, 128 * 16)
    assert I.compute_fans((2, 3, 4, 5, 6)) == (24 * 5, 24 * 6)  # Conv3D
    assert I.compute_fans((2, 3, 4), input_axes=[0], output_axes=[1, 2]) == (2, 12)


def test_glorot_uniform_limit_conv_transpose_kernel():
    for shape in [(4, 4, 64, 128), (4, 4, 128, 64)]:
        w = I.GlorotUniform(seed=0)(shape)
        fan_in, fan_out = I.compute_fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        assert limit == pytest.approx(0.044194, abs=1e-6)  # Keras docs example value
        assert w.shape == shape and w.dtype == np.float32
        assert np.abs(w).max() <= limit * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * limit  # actually reaches the limit, not a smaller one
        assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize(
    "name, formula",
    [
        ("GlorotNormal", lambda fi, fo: math.sqrt(2.0 / (fi + fo))),
        ("HeNormal", lambda fi, fo: math.sqrt(2.0 / fi)),
        ("LecunNormal", lambda fi, fo: math.sqrt(1.0 / fi)),
        ("GlorotUniform", lambda fi, fo: math.sqrt(2.0 / (fi + fo))),
        ("HeUniform", lambda fi, fo: math.sqrt(2.0 / fi)),
        ("LecunUniform", lambda fi, fo: math.sqrt(1.0 / fi)),
    ],
)
def test_variance_scaling_family_std(name, formula):
    w = getattr(I, name)(seed=1)(BIG)
    fi, fo = I.compute_fans(BIG)
    target = formula(fi, fo)
    assert abs(w.mean()) < 0.01 * target
    assert w.std() == pytest.approx(target, rel=0.03)
    if name.endswith("Normal"):  # truncated at 2 * stddev / 0.8796...
        bound = 2 * target / I.TRUNCATION_STD
        assert np.abs(w).max() <= bound * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * bound
    else:
        limit = math.sqrt(3) * target
        assert np.abs(w).max() <= limit * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * limit


def test_variance_scaling_modes_and_distributions():
    shape = (3, 3, 40, 80)  # fan_in 360, fan_out 720
    fi, fo = 360, 720
    for mode, n in [("fan_in", fi), ("fan_out", fo), ("fan_avg", (fi + fo) / 2)]:
        for dist in ["truncated_normal", "untruncated_normal", "uniform", "normal"]:
            w = I.VarianceScaling(scale=3.0, mode=mode, distribution=dist, seed=2)(shape)
            assert w.std() == pytest.approx(math.sqrt(3.0 / n), rel=0.03), (mode, dist)
    assert I.VarianceScaling(distribution="Normal").distribution == "truncated_normal"
    # untruncated draws exceed the truncated bound; truncated ones never do
    sd = math.sqrt(1.0 / fi)
    wu = I.VarianceScaling(distribution="untruncated_normal", seed=0)(shape)
    wt = I.VarianceScaling(distribution="truncated_normal", seed=0)(shape)
    assert np.abs(wu).max() > 3 * sd
    assert np.abs(wt).max() <= 2 * sd / I.TRUNCATION_STD * (1 + 1e-6)
    # fans below one are clamped to one (rank-0 shape has fans (1, 1))
    assert I.VarianceScaling(scale=4.0, mode="fan_in", distribution="uniform")(()).shape == ()


def test_truncated_normal_bounded_at_two_sd():
    mean, sd = 0.5, 0.1
    w = I.TruncatedNormal(mean=mean, stddev=sd, seed=4)((400, 500))
    assert w.min() >= (mean - 2 * sd) * (1 + 1e-6) and w.max() <= (mean + 2 * sd) * (1 + 1e-6)
    assert w.min() < mean - 1.98 * sd and w.max() > mean + 1.98 * sd
    assert w.mean() == pytest.approx(mean, abs=1e-3)
    assert w.std() == pytest.approx(I.TRUNCATION_STD * sd, rel=0.01)


def test_random_normal_and_uniform():
    w = I.RandomNormal(stddev=0.02, seed=5)((400, 500))
    assert w.std() == pytest.approx(0.02, rel=0.01)
    assert abs(w.mean()) < 2e-4
    assert np.abs(w).max() > 3 * 0.02  # untruncated
    d = I.RandomNormal()((300, 300))
    assert d.std() == pytest.approx(0.05, rel=0.02)  # default stddev
    u = I.RandomUniform(minval=-1.0, maxval=3.0, seed=5)((400, 500))
    assert u.min() >= -1.0 and u.max() < 3.0
    assert u.min() < -0.999 and u.max() > 2.999
    assert u.mean() == pytest.approx(1.0, abs=0.01)
    du = I.RandomUniform()((300, 300))
    assert du.min() >= -0.05 and du.max() <= 0.05 and du.max() > 0.0499


def test_orthogonal():
    for shape, gain in [((50, 20), 1.0), ((3, 3, 8, 16), 2.5)]:
        w = I.Orthogonal(gain=gain, seed=6)(shape, dtype="float64")
        assert w.shape == shape and w.dtype == np.float64
        q = w.reshape(-1, shape[-1])  # tall: (rows, cols) with rows >= cols
        np.testing.assert_allclose(q.T @ q, gain**2 * np.eye(shape[-1]), atol=1e-10)
    wide = I.Orthogonal(seed=6)((20, 50), dtype="float64")
    np.testing.assert_allclose(wide @ wide.T, np.eye(20), atol=1e-10)
    # Keras's recipe: Q of A = QR with the signs fixed so that R = Q^T A has a positive diagonal
    # (the unique QR, which makes Q Haar-distributed); A is the seeded generator's normal draw.
    a = np.random.default_rng(8).standard_normal((50, 20))
    r = I.Orthogonal(seed=8)((50, 20), dtype="float64").T @ a
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-10)
    assert (np.diag(r) > 0).all()
    q32 = I.Orthogonal(seed=7)((64, 64))
    assert q32.dtype == np.float32
    np.testing.assert_allclose(q32.T @ q32, np.eye(64), atol=1e-5)
    with pytest.raises(ValueError, match=r"at least two-dimensional.*Received: shape=\(5,\)"):
        I.Orthogonal()((5,))


def test_identity_and_constants_exact():
    np.testing.assert_array_equal(I.Identity()((3, 3)), np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(I.Identity(gain=2.0)((2, 4)), 2 * np.eye(2, 4, dtype=np.float32))
    with pytest.raises(ValueError, match="2D matrices.*Received: shape"):
        I.Identity()((2, 2, 2))
    z, o = I.Zeros()((2, 3)), I.Ones()((4,), dtype="float64")
    assert z.dtype == np.float32 and not z.any() and z.shape == (2, 3)
    assert o.dtype == np.float64 and np.array_equal(o, np.ones(4))
    c = I.Constant(0.1)((2, 2))
    assert c.dtype == np.float32 and np.array_equal(c, np.full((2, 2), np.float32(0.1)))
    assert np.array_equal(I.Constant(7)((3,), dtype="int32"), np.array([7, 7, 7], np.int32))
    assert np.array_equal(I.Constant()((2,)), np.zeros(2, np.float32))
    assert I.Constant(np.float64(2.5)).get_config() == {"value": 2.5}
    with pytest.raises(ValueError, match="scalar.*Received: value="):
        I.Constant([1.0, 2.0])


@pytest.mark.parametrize("name", RANDOM_CLASSES)
def test_dtype_exact(name):
    init = getattr(I, name)(seed=0)
    a32, a64 = init((6, 4)), init((6, 4), dtype="float64")
    assert a32.dtype == np.float32 and a64.dtype == np.float64
    assert a64.shape == (6, 4)
    np.testing.assert_allclose(a32, a64, rtol=1e-6, atol=1e-7)  # same draws, only the cast differs
    assert init((6, 4), dtype=None).dtype == np.float32
    with pytest.raises(ValueError, match="floating-point.*Received: dtype="):
        init((2, 2), dtype="int32")


# ------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: I.RandomNormal(stddev=0.0),
         r"RandomNormal.*`stddev`.*stddev > 0.*Received: stddev=0.0"),
        (lambda: I.RandomNormal(stddev=-1), r"RandomNormal.*`stddev`.*Received: stddev=-1"),
        (lambda: I.TruncatedNormal(stddev=0), r"TruncatedNormal.*`stddev`.*Received: stddev=0"),
        (lambda: I.RandomUniform(1.0, 1.0),
         r"RandomUniform.*`minval`.*minval < maxval.*Received: minval=1.0"),
        (lambda: I.RandomUniform(2, 1), r"RandomUniform.*Received: minval=2, maxval=1"),
        (lambda: I.VarianceScaling(scale=0),
         r"VarianceScaling.*`scale`.*scale > 0.*Received: scale=0"),
        (lambda: I.VarianceScaling(scale=-2.0), r"VarianceScaling.*`scale`.*Received: scale=-2.0"),
        (lambda: I.VarianceScaling(mode="fan_sum"),
         r"VarianceScaling.*`mode`.*fan_avg.*Received: mode='fan_sum'"),
        (lambda: I.VarianceScaling(distribution="cauchy"),
         r"VarianceScaling.*`distribution`.*uniform.*Received: distribution='cauchy'"),
        (lambda: I.GlorotUniform(seed=-1), r"GlorotUniform.*`seed`.*Received: seed=-1"),
        (lambda: I.HeNormal(seed=1.5), r"HeNormal.*`seed`.*Received: seed=1.5"),
    ],
)
def test_validation(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


# ---------------------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("name", RANDOM_CLASSES)
def test_global_seed_reproducible(name):
    init = getattr(I, name)()
    urandom.set_random_seed(3)
    a, b = init((5, 7)), init((5, 7))
    urandom.set_random_seed(3)
    c, d = init((5, 7)), init((5, 7))
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)
    assert not np.array_equal(a, b)  # unseeded: each call advances the shared generator
    urandom.set_random_seed(4)
    assert not np.array_equal(init((5, 7)), a)


@pytest.mark.parametrize("name", RANDOM_CLASSES)
def test_seeded_initializer_repeats(name):
    cls = getattr(I, name)
    init = cls(seed=11)
    urandom.set_random_seed(0)
    a = init((5, 7))
    urandom.set_random_seed(1)  # the shared generator does not affect a seeded initializer
    np.testing.assert_array_equal(init((5, 7)), a)  # Keras 3: an int seed repeats across calls
    np.testing.assert_array_equal(cls(seed=11)((5, 7)), a)
    assert not np.array_equal(cls(seed=12)((5, 7)), a)
    np.testing.assert_array_equal(init.clone()((5, 7)), a)


# ------------------------------------------------------------------------------- get / serialize
@pytest.mark.parametrize("alias, name", sorted(SNAKE.items()))
def test_get_names(alias, name):
    cls = getattr(I, name)
    for ident in (alias, name):
        obj = I.get(ident)
        assert type(obj) is cls
    assert getattr(I, alias) is cls  # module-level snake_case alias, as in keras.initializers


def test_get_other_identifiers():
    assert I.get(None) is None
    assert type(I.get("normal")) is I.RandomNormal and type(I.get("uniform")) is I.RandomUniform
    assert type(I.get("one")) is I.Ones and type(I.get("zero")) is I.Zeros
    inst = I.HeNormal(seed=3)
    assert I.get(inst) is inst
    assert type(I.get(I.LecunUniform)) is I.LecunUniform

    def fn(shape, dtype=None):
        return np.full(shape, 3.0, dtype)

    assert I.get(fn) is fn
    cfg = {"minval": -1.0, "maxval": 2.0, "seed": 9}
    got = I.get({"class_name": "RandomUniform", "config": cfg})
    assert type(got) is I.RandomUniform and (got.minval, got.maxval, got.seed) == (-1.0, 2.0, 9)
    assert type(I.get({"class_name": "glorot_normal"})) is I.GlorotNormal
    arr = np.arange(6.0).reshape(2, 3)
    from_arr = I.get(arr)
    out = from_arr((2, 3))
    assert out.dtype == np.float32 and out is not arr
    np.testing.assert_array_equal(out, arr)
    assert from_arr((2, 3), dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match="Expected `shape`"):
        from_arr((3, 2))


@pytest.mark.parametrize(
    "bad",
    [3, 2.5, True, "glorot", "GLOROT_UNIFORM", [1, 2], {"config": {}}, {"class_name": "Nope"}],
)
def test_get_bad_identifier(bad):
    with pytest.raises(ValueError, match=r"^Could not interpret initializer identifier: ") as info:
        I.get(bad)
    assert f"Received: identifier={bad!r}" in str(info.value)


@pytest.mark.parametrize("name", ALL_CLASSES)
def test_config_round_trip(name):
    cls = getattr(I, name)
    kwargs = {
        "Constant": {"value": 1.5},
        "Identity": {"gain": 3.0},
        "RandomNormal": {"mean": 1.0, "stddev": 2.0},
        "RandomUniform": {"minval": -2.0, "maxval": 5.0},
        "TruncatedNormal": {"mean": -1.0, "stddev": 0.3},
        "VarianceScaling": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"},
        "Orthogonal": {"gain": 0.5},
    }.get(name, {})
    if name in RANDOM_CLASSES:
        kwargs = {**kwargs, "seed": 21}
    init = cls(**kwargs)
    cfg = init.get_config()
    again = cls.from_config(cfg)
    assert type(again) is cls and again.get_config() == cfg
    for key, value in kwargs.items():
        assert cfg[key] == value
    ser = I.serialize(init)
    assert ser["class_name"] == name and ser["config"] == cfg
    back = I.get(ser)
    assert type(back) is cls and back.get_config() == cfg
    shape = (6, 4)
    np.testing.assert_array_equal(back(shape), init(shape))


# --------------------------------------------------------------------------------- Keras oracle
@pytest.mark.parametrize("name", ALL_CLASSES)
def test_config_matches_keras(keras, name):
    ours = getattr(I, name)().get_config()
    theirs = getattr(keras.initializers, name)().get_config()
    extra = {"Identity": {"gain"}}.get(name, set())  # Keras's Identity drops `gain` from its config
    assert set(ours) - extra == set(theirs), (ours, theirs)
    for key in theirs:
        if key != "seed":
            assert ours[key] == theirs[key], key
    assert ours.get("seed", None) is None and theirs.get("seed", None) is None


def test_serialized_configs_interchange_with_keras(keras):
    for name in ALL_CLASSES:
        seed = {"seed": 5} if name in RANDOM_CLASSES else {}
        ours = getattr(I, name)(**seed)
        k = keras.initializers.deserialize(I.serialize(ours))
        assert type(k).__name__ == name
        back = I.get(keras.initializers.serialize(k))
        assert type(back) is type(ours)
        expected = ours.get_config()
        if name == "Identity":
            expected = {"gain": 1.0}
        assert back.get_config() == expected


def test_compute_fans_matches_keras(keras):
    from keras.src.initializers.random_initializers import compute_fans as keras_fans

    for shape in [(5,), (3, 7), (4, 4, 64, 128), (3, 3, 3, 8, 16), (2, 5, 6)]:
        assert I.compute_fans(shape) == keras_fans(shape)


def test_constant_outputs_match_keras(keras):
    to_np = keras.ops.convert_to_numpy
    cases = [
        ("Zeros", {}, (3, 4)), ("Ones", {}, (2, 5)), ("Constant", {"value": 0.3}, (4, 2)),
        ("Identity", {}, (3, 5)), ("Identity", {"gain": 0.7}, (4, 4)),
    ]
    for name, kw, shape in cases:
        ours = getattr(I, name)(**kw)(shape)
        theirs = to_np(getattr(keras.initializers, name)(**kw)(shape))
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


ORACLE_SHAPE = (4, 4, 125, 100)  # 200k draws; fan_in 2000, fan_out 1600
ORACLE_CASES = [  # (class, kwargs, support): "open" normal tails, "hard" edges, "truncated" at 2 sd
    ("RandomNormal", {}, "open"),
    ("RandomNormal", {"mean": 0.3, "stddev": 0.02}, "open"),
    ("RandomUniform", {}, "hard"),
    ("RandomUniform", {"minval": 0.5, "maxval": 2.0}, "hard"),
    ("TruncatedNormal", {}, "truncated"),
    ("TruncatedNormal", {"mean": -1.0, "stddev": 0.2}, "truncated"),
    ("VarianceScaling", {}, "truncated"),
    ("VarianceScaling",
     {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}, "open"),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform"}, "hard"),
    ("GlorotUniform", {}, "hard"),
    ("GlorotNormal", {}, "truncated"),
    ("HeNormal", {}, "truncated"),
    ("HeUniform", {}, "hard"),
    ("LecunNormal", {}, "truncated"),
    ("LecunUniform", {}, "hard"),
    ("Orthogonal", {}, "open"),
    ("Orthogonal", {"gain": 3.0}, "open"),
]


@pytest.mark.parametrize("name, kwargs, support", ORACLE_CASES)
def test_distribution_matches_keras(keras, name, kwargs, support):
    ours = getattr(I, name)(seed=123, **kwargs)(ORACLE_SHAPE)
    keras_init = getattr(keras.initializers, name)(seed=123, **kwargs)
    theirs = keras.ops.convert_to_numpy(keras_init(ORACLE_SHAPE))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float32
    sd = theirs.std()
    assert abs(ours.mean() - theirs.mean()) < 0.02 * sd + 1e-9
    assert ours.std() == pytest.approx(sd, rel=0.02)
    # Near-extreme quantiles (the 20th smallest / largest of 200k) agree tightly where the support
    # has edges, loosely in open normal tails (about 3.7 sd, sampling spread ~0.06 sd).
    tol = 0.3 * sd if support == "open" else 0.01 * sd
    q = [1e-4, 1 - 1e-4]
    np.testing.assert_allclose(np.quantile(ours, q), np.quantile(theirs, q), rtol=0, atol=tol)
    if support == "truncated":
        # Keras's Torch backend keeps the first of 4 normals inside (-2, 2) and falls back to an
        # outlier when all 4 miss (p ~ 4e-6 per value), so its raw min/max can overshoot the
        # 2-sd edge; ours re-draws and never does. Compare against Keras's edge instead.
        lo, hi = np.quantile(theirs, q)
        assert np.mean((theirs < lo - tol) | (theirs > hi + tol)) < 1e-4
        assert lo - tol < ours.min() and ours.max() < hi + tol
    else:
        # Raw extremes: the edges of uniform draws, ~4.5 sd (+-0.3 sd) for 200k normal draws.
        tol = 0.6 * sd if support == "open" else 0.01 * sd
        assert abs(ours.min() - theirs.min()) < tol
        assert abs(ours.max() - theirs.max()) < tol
