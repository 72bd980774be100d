"""The Keras-style GAN script in examples/ runs on upsampling, and (imports swapped) is Keras code."""
import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "keras_style_gan.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("keras_style_gan", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_trains_a_few_steps_with_the_composite_gan_pattern(capsys):
    gan = _load_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # lr= and alpha= are Keras 2 spellings
        d_model = gan.define_discriminator()
        g_model = gan.define_generator(100)
        gan_model = gan.define_gan(g_model, d_model)
    with pytest.warns(UserWarning, match="bundled"):  # no full MNIST here: the 5,000 bundled digits
        dataset = gan.load_real_samples()
    assert dataset.shape[1:] == (28, 28, 1) and dataset.dtype == np.float32 and 0 <= dataset.min() and dataset.max() <= 1
    d_before = [w.copy() for w in d_model.get_weights()]
    g_before = [w.copy() for w in g_model.get_weights()]
    # frozen inside the composite: only the generator's weights are trained there
    assert {id(v) for v in gan_model._compiled_variables} == {id(v) for v in g_model.trainable_weights}
    np.random.seed(0)
    losses = gan.train(g_model, d_model, gan_model, dataset[:256], 100, n_epochs=1, n_batch=32, max_batches=3)
    assert len(losses) == 3 and all(np.isfinite(l).all() for l in losses)
    # the discriminator still trains through its own compiled model although it is frozen in the GAN
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, d_model.get_weights()))
    assert all(not np.array_equal(a, b) for a, b in zip(g_before, g_model.get_weights()))
    assert ">1, 3/3, d=" in capsys.readouterr().out


def keras_version_of_the_script() -> str:
    """The script with only its imports changed to Keras (and Keras 3's `learning_rate=` for `lr=`)."""
    source = SCRIPT.read_text()
    source = re.sub(r"from upsampling\.(\w+(?:\.\w+)*) import", r"from keras.\1 import", source)
    return source.replace("Adam(lr=", "Adam(learning_rate=")


def test_swapping_the_imports_gives_a_keras_program():
    keras = pytest.importorskip("keras")
    namespace = {"__name__": "keras_gan"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(keras_version_of_the_script(), "keras_gan", "exec"), namespace)
        d_model = namespace["define_discriminator"]()
        g_model = namespace["define_generator"](100)
        gan_model = namespace["define_gan"](g_model, d_model)
        assert isinstance(gan_model, keras.Sequential)
        assert g_model.count_params() == _load_module().define_generator(100).count_params()
        dataset = np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32")
        losses = namespace["train"](g_model, d_model, gan_model, dataset, 100, n_epochs=1, n_batch=32, max_batches=1)
    assert len(losses) == 1
