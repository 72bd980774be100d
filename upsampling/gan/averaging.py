"""An exponential moving average (EMA) of the generator's weights, the generator GAN papers sample
from since Karras et al. (2018): it smooths out the last steps' oscillation between G and D.

With BatchNormalization the averaged weights need their own statistics: the moving statistics of
the raw generator belong to its weights, not to the average (an EMA that keeps them scored FD 121
in an earlier experiment here). `averaged_generator` therefore recomputes every BatchNormalization
layer's statistics as the exact mean of the batch statistics over fixed latent batches, run through
the averaged weights in training mode ("precise BatchNorm").
"""
from __future__ import annotations

import numpy as np

from upsampling import random as urandom


class WeightAverage:
    """avg <- avg + (1 - decay) * (w - avg) after every step, in the weights' own dtype."""

    def __init__(self, decay: float, weights: list):
        self.decay = float(decay)
        self.weights = [np.array(w, copy=True) for w in weights]

    def update(self, weights: list) -> None:
        rate = 1.0 - self.decay
        for avg, w in zip(self.weights, weights):
            avg += (w - avg) * np.asarray(rate, avg.dtype)


def recompute_batch_norm(model, latent_batches) -> None:
    """Set each BatchNormalization layer's moving mean and variance of `model` to the mean of its batch
    statistics over `latent_batches`, run in training mode (the layers' momentum is restored)."""
    norms = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    momenta = [layer.momentum for layer in norms]
    try:
        for k, latent in enumerate(latent_batches):
            for layer in norms:
                layer.momentum = k / (k + 1)  # moving <- (k * moving + batch) / (k + 1): a running mean
            model.forward(latent, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def averaged_generator(generator, weights: list, latent_batches, *, into=None):
    """A copy of `generator` (or `into`, a copy made earlier) with `weights` and recomputed
    BatchNormalization statistics. Building the copy does not draw from the shared random stream."""
    if into is None:
        from upsampling.saving import model_config, model_from_config
        state = urandom.get_state()
        try:
            into = model_from_config(model_config(generator))
        finally:
            urandom.set_state(state)
    into.set_weights(weights)
    recompute_batch_norm(into, latent_batches)
    return into
