"""Keras-style layers (`from upsampling.layers import Dense, Conv2DTranspose, UpSampling2D, ...`).

A Keras 3 layer name that upsampling does not implement raises NotImplementedError naming it
(``from upsampling.layers import Conv3D``), rather than a bare ImportError/AttributeError.
"""
from upsampling.layers.activation import LeakyReLU, ReLU
from upsampling.layers.base import Input, InputLayer, KerasTensor, Layer
from upsampling.layers.convolutional import Conv2D, Conv2DTranspose
from upsampling.layers.core import Activation, Dense, Dropout, Embedding, Flatten, Reshape
from upsampling.layers.lambda_layer import Lambda
from upsampling.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add,
                                       average, concatenate, maximum, minimum, multiply, subtract)
from upsampling.layers.normalization import (BatchNormalization, GroupNormalization, InstanceNormalization,
                                             LayerNormalization)
from upsampling.layers.pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                                       GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from upsampling.layers.regularization import GaussianNoise, SpatialDropout2D
from upsampling.layers.reshaping import Cropping2D, ZeroPadding2D
from upsampling.layers.upsampling import (BlurUpSampling2D, DepthToSpace, PixelShuffle, Resizing, SubPixelConv2D,
                                          UpSampling2D)

Convolution2D = Conv2D
Convolution2DTranspose = Deconvolution2D = Deconv2D = Conv2DTranspose

__all__ = ["Activation", "AveragePooling2D", "BatchNormalization", "Conv2D", "Conv2DTranspose", "Cropping2D",
           "Dense", "Dropout", "Embedding", "Flatten", "GaussianNoise", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "GroupNormalization", "Input", "InputLayer", "InstanceNormalization",
           "KerasTensor", "Layer", "LayerNormalization", "LeakyReLU", "MaxPooling2D", "ReLU", "Reshape",
           "SpatialDropout2D", "UpSampling2D", "ZeroPadding2D",
           "Resizing", "BlurUpSampling2D", "DepthToSpace", "PixelShuffle", "SubPixelConv2D"]
# merging layers (Keras 3's `merging` family) and their functional spellings; Lambda
__all__ += ["Add", "Average", "Concatenate", "Lambda", "Maximum", "Minimum", "Multiply", "Subtract",
            "add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract"]

# Every layer name `keras.layers` exports (Keras 3), so that a missing one is reported as missing.
KERAS_LAYER_NAMES = frozenset("""
    Activation ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D
    AdaptiveAveragePooling3D AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D Add
    AdditiveAttention AlphaDropout Attention AugMix AutoContrast Average AveragePooling1D
    AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D BatchNormalization Bidirectional
    CategoryEncoding CenterCrop Concatenate ContrastLimitedAdaptiveHistogramEqualization Conv1D Conv1DTranspose Conv2D Conv2DTranspose Conv3D
    Conv3DTranspose ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution1D Convolution1DTranspose Convolution2D
    Convolution2DTranspose Convolution3D Convolution3DTranspose Cropping1D Cropping2D Cropping3D CutMix
    Dense DepthwiseConv1D DepthwiseConv2D Discretization Dot Dropout ELU EinsumDense Embedding Equalization
    Flatten FlaxLayer GRU GRUCell GaussianDropout GaussianNoise GlobalAveragePooling1D
    GlobalAveragePooling2D GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D
    GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D GlobalMaxPooling1D GlobalMaxPooling2D
    GlobalMaxPooling3D GroupNormalization GroupQueryAttention HashedCrossing Hashing Identity Input
    InputLayer InputSpec IntegerLookup JaxLayer LSTM LSTMCell Lambda Layer LayerNormalization LeakyReLU
    Masking MaxNumBoundingBoxes MaxPool1D MaxPool2D MaxPool3D MaxPooling1D MaxPooling2D MaxPooling3D
    Maximum MelSpectrogram Minimum MixUp MultiHeadAttention Multiply Normalization Permute Pipeline
    PReLU RandAugment RandomBrightness RandomColorDegeneration RandomColorJitter RandomContrast RandomCrop
    RandomElasticTransform RandomErasing RandomFlip RandomGaussianBlur RandomGrayscale RandomHue
    RandomInvert RandomPerspective RandomPosterization RandomRotation RandomSaturation RandomSharpness
    RandomShear RandomTranslation RandomZoom ReLU RMSNormalization RNN RepeatVector Rescaling Reshape
    Resizing ReversibleEmbedding STFTSpectrogram SeparableConv1D SeparableConv2D SeparableConvolution1D
    SeparableConvolution2D SimpleRNN SimpleRNNCell Softmax Solarization SpatialDropout1D SpatialDropout2D
    SpatialDropout3D SpectralNormalization StackedRNNCells StringLookup Subtract TFSMLayer TextVectorization
    TimeDistributed TorchModuleWrapper UnitNormalization UpSampling1D UpSampling2D UpSampling3D Wrapper
    ZeroPadding1D ZeroPadding2D ZeroPadding3D add average concatenate dot maximum minimum multiply subtract
""".split())


def __getattr__(name):
    if name in KERAS_LAYER_NAMES:
        raise NotImplementedError(f"{name} is not supported by upsampling")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
