"""UpSampling2D, Conv2DTranspose and GAN generators from scratch on NumPy, exact to Keras."""
__version__ = "0.1.0"
