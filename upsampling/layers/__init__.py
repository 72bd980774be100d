"""Keras-style layers (`from upsampling.layers import Dense, Conv2DTranspose, UpSampling2D, ...`)."""
from upsampling.layers.activation import LeakyReLU, ReLU
from upsampling.layers.base import Input, InputLayer, KerasTensor, Layer
from upsampling.layers.convolutional import Conv2D, Conv2DTranspose
from upsampling.layers.core import Activation, Dense, Dropout, Flatten, Reshape
from upsampling.layers.lambda_layer import Lambda
from upsampling.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add,
                                       average, concatenate, maximum, minimum, multiply, subtract)
from upsampling.layers.normalization import BatchNormalization
from upsampling.layers.upsampling import UpSampling2D

Convolution2D = Conv2D
Convolution2DTranspose = Deconvolution2D = Deconv2D = Conv2DTranspose

__all__ = ["Activation", "BatchNormalization", "Conv2D", "Conv2DTranspose", "Dense", "Dropout",
           "Flatten", "Input", "InputLayer", "KerasTensor", "Layer", "LeakyReLU", "ReLU", "Reshape",
           "UpSampling2D"]
# merging layers (Keras 3's `merging` family) and their functional spellings; Lambda
__all__ += ["Add", "Average", "Concatenate", "Lambda", "Maximum", "Minimum", "Multiply", "Subtract",
            "add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract"]
