"""`load_data()` as `keras.datasets.fashion_mnist.load_data()`, offline (Debian's
dataset-fashion-mnist package, Keras's cache, $UPSAMPLING_DATA or `path=`)."""
from upsampling.datasets._keras_format import keras_format


def load_data(path=None):
    return keras_format("fashion_mnist", path=path)
