"""A pix2pix image-to-image GAN (U-Net generator, PatchGAN discriminator) in the tutorial author's
Keras style.

The discriminator judges (source, target) image pairs through `Concatenate`; the U-Net generator
joins each decoder block to its mirror encoder block with skip connections (`Concatenate`) and
keeps BatchNormalization and Dropout in training mode (``layer(x, training=True)``); the
composite model has two outputs, the discriminator's verdict and the generated image, trained
with ``loss=['binary_crossentropy', 'mae'], loss_weights=[1, 100]``. Only the imports differ
from the Keras original: swap `upsampling` for `keras` and it is the same program (on Keras 2;
Keras 3 renamed `lr=` to `learning_rate=`).

The author's models are for 256x256 images with seven encoder blocks; the block filters are
arguments here so that the same code also builds smaller U-Nets (each block halves the size).

    python examples/pix2pix.py --data maps_256.npz --epochs 100
"""
import argparse

from numpy import load, ones, zeros
from numpy.random import randint

from upsampling.initializers import RandomNormal
from upsampling.layers import (Activation, BatchNormalization, Concatenate, Conv2D, Conv2DTranspose, Dropout, Input,
                               LeakyReLU)
from upsampling.models import Model
from upsampling.optimizers import Adam


# define the discriminator model
def define_discriminator(image_shape, filters=(64, 128, 256, 512)):
    # weight initialization
    init = RandomNormal(stddev=0.02)
    # source image input
    in_src_image = Input(shape=image_shape)
    # target image input
    in_target_image = Input(shape=image_shape)
    # concatenate images channel-wise
    merged = Concatenate()([in_src_image, in_target_image])
    # C64: no batch norm on the first block
    d = Conv2D(filters[0], (4, 4), strides=(2, 2), padding='same', kernel_initializer=init)(merged)
    d = LeakyReLU(alpha=0.2)(d)
    # C128, C256, C512
    for n_filters in filters[1:]:
        d = Conv2D(n_filters, (4, 4), strides=(2, 2), padding='same', kernel_initializer=init)(d)
        d = BatchNormalization()(d)
        d = LeakyReLU(alpha=0.2)(d)
    # second last output layer
    d = Conv2D(filters[-1], (4, 4), padding='same', kernel_initializer=init)(d)
    d = BatchNormalization()(d)
    d = LeakyReLU(alpha=0.2)(d)
    # patch output
    d = Conv2D(1, (4, 4), padding='same', kernel_initializer=init)(d)
    patch_out = Activation('sigmoid')(d)
    # define model
    model = Model([in_src_image, in_target_image], patch_out)
    # compile model
    opt = Adam(lr=0.0002, beta_1=0.5)
    model.compile(loss='binary_crossentropy', optimizer=opt, loss_weights=[0.5])
    return model


# define an encoder block
def define_encoder_block(layer_in, n_filters, batchnorm=True):
    # weight initialization
    init = RandomNormal(stddev=0.02)
    # add downsampling layer
    g = Conv2D(n_filters, (4, 4), strides=(2, 2), padding='same', kernel_initializer=init)(layer_in)
    # conditionally add batch normalization
    if batchnorm:
        g = BatchNormalization()(g, training=True)
    # leaky relu activation
    g = LeakyReLU(alpha=0.2)(g)
    return g


# define a decoder block
def decoder_block(layer_in, skip_in, n_filters, dropout=True):
    # weight initialization
    init = RandomNormal(stddev=0.02)
    # add upsampling layer
    g = Conv2DTranspose(n_filters, (4, 4), strides=(2, 2), padding='same', kernel_initializer=init)(layer_in)
    # add batch normalization
    g = BatchNormalization()(g, training=True)
    # conditionally add dropout
    if dropout:
        g = Dropout(0.5)(g, training=True)
    # merge with skip connection
    g = Concatenate()([g, skip_in])
    # relu activation
    g = Activation('relu')(g)
    return g


# define the standalone generator model
def define_generator(image_shape=(256, 256, 3), filters=(64, 128, 256, 512, 512, 512, 512), bottleneck=512,
                     n_dropout=3):
    # weight initialization
    init = RandomNormal(stddev=0.02)
    # image input
    in_image = Input(shape=image_shape)
    # encoder model: C64-C128-C256-C512-C512-C512-C512
    skips = []
    e = in_image
    for i, n_filters in enumerate(filters):
        e = define_encoder_block(e, n_filters, batchnorm=i > 0)
        skips.append(e)
    # bottleneck, no batch norm and relu
    b = Conv2D(bottleneck, (4, 4), strides=(2, 2), padding='same', kernel_initializer=init)(e)
    b = Activation('relu')(b)
    # decoder model: CD512-CD512-CD512-C512-C256-C128-C64
    d = b
    for i, (n_filters, skip) in enumerate(zip(reversed(filters), reversed(skips))):
        d = decoder_block(d, skip, n_filters, dropout=i < n_dropout)
    # output
    g = Conv2DTranspose(image_shape[2], (4, 4), strides=(2, 2), padding='same', kernel_initializer=init)(d)
    out_image = Activation('tanh')(g)
    # define model
    model = Model(in_image, out_image)
    return model


# define the combined generator and discriminator model, for updating the generator
def define_gan(g_model, d_model, image_shape):
    # make weights in the discriminator not trainable
    for layer in d_model.layers:
        if not isinstance(layer, BatchNormalization):
            layer.trainable = False
    # define the source image
    in_src = Input(shape=image_shape)
    # connect the source image to the generator input
    gen_out = g_model(in_src)
    # connect the source input and generator output to the discriminator input
    dis_out = d_model([in_src, gen_out])
    # src image as input, generated image and classification output
    model = Model(in_src, [dis_out, gen_out])
    # compile model
    opt = Adam(lr=0.0002, beta_1=0.5)
    model.compile(loss=['binary_crossentropy', 'mae'], optimizer=opt, loss_weights=[1, 100])
    return model


# load and prepare training images
def load_real_samples(filename):
    # load compressed arrays
    data = load(filename)
    # unpack arrays
    X1, X2 = data['arr_0'], data['arr_1']
    # scale from [0,255] to [-1,1]
    X1 = (X1 - 127.5) / 127.5
    X2 = (X2 - 127.5) / 127.5
    return [X1, X2]


# select a batch of random samples, returns images and target
def generate_real_samples(dataset, n_samples, patch_shape):
    # unpack dataset
    trainA, trainB = dataset
    # choose random instances
    ix = randint(0, trainA.shape[0], n_samples)
    # retrieve selected images
    X1, X2 = trainA[ix], trainB[ix]
    # generate 'real' class labels (1)
    y = ones((n_samples, patch_shape, patch_shape, 1))
    return [X1, X2], y


# generate a batch of images, returns images and targets
def generate_fake_samples(g_model, samples, patch_shape):
    # generate fake instance
    X = g_model.predict(samples, verbose=0)
    # create 'fake' class labels (0)
    y = zeros((len(X), patch_shape, patch_shape, 1))
    return X, y


# train pix2pix models
def train(d_model, g_model, gan_model, dataset, n_epochs=100, n_batch=1, max_batches=None):
    # determine the output square shape of the discriminator
    n_patch = d_model.output_shape[1]
    # unpack dataset
    trainA, trainB = dataset
    # calculate the number of batches per training epoch
    bat_per_epo = int(len(trainA) / n_batch)
    if max_batches is not None:
        bat_per_epo = min(bat_per_epo, max_batches)
    # calculate the number of training iterations
    n_steps = bat_per_epo * n_epochs
    losses = []
    # manually enumerate epochs
    for i in range(n_steps):
        # select a batch of real samples
        [X_realA, X_realB], y_real = generate_real_samples(dataset, n_batch, n_patch)
        # generate a batch of fake samples
        X_fakeB, y_fake = generate_fake_samples(g_model, X_realA, n_patch)
        # update discriminator for real samples
        d_loss1 = d_model.train_on_batch([X_realA, X_realB], y_real)
        # update discriminator for generated samples
        d_loss2 = d_model.train_on_batch([X_realA, X_fakeB], y_fake)
        # update the generator
        g_loss, _, _ = gan_model.train_on_batch(X_realA, [y_real, X_realB])
        # summarize performance
        print('>%d, d1[%.3f] d2[%.3f] g[%.3f]' % (i + 1, d_loss1, d_loss2, g_loss))
        losses.append((d_loss1, d_loss2, g_loss))
    return losses


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='an .npz file with arr_0 (sources) and arr_1 (targets), '
                                                      '256x256 RGB images in [0, 255]')
    parser.add_argument('--epochs', type=int, default=100)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--max-batches', type=int, default=None)
    parser.add_argument('--save', default='pix2pix_generator.model', help='where to save the generator')
    args = parser.parse_args()
    # load image data
    dataset = load_real_samples(args.data)
    # define input shape based on the loaded dataset
    image_shape = dataset[0].shape[1:]
    # define the models
    d_model = define_discriminator(image_shape)
    g_model = define_generator(image_shape)
    # define the composite model
    gan_model = define_gan(g_model, d_model, image_shape)
    # train model
    train(d_model, g_model, gan_model, dataset, args.epochs, args.batch, args.max_batches)
    # save the generator model
    g_model.save(args.save)
