"""Keras-compatible dataset modules: `from upsampling.datasets.mnist import load_data`.

Same return format as `keras.datasets.*.load_data()`: ((x_train, y_train), (x_test, y_test)) with
uint8 images (N, 28, 28) and uint8 labels, but read offline (see `upsampling.data`).
"""
