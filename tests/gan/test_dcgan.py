"""The generator and discriminator recipes: the 'dcgan' architecture is PyTorch's reference DCGAN
(benchmarks/quality_vs_pytorch.py) layer for layer, and bad choices are refused by name."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from upsampling.gan.dcgan import ARCHITECTURES, UPSAMPLERS, make_discriminator, make_generator
from upsampling.gan.trainer import TrainConfig


def _pytorch_reference():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "quality_vs_pytorch.py"
    spec = importlib.util.spec_from_file_location("quality_vs_pytorch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_dcgan


def _hwc_to_chw(n_features, h, w, c):
    """PyTorch's flat feature index i = (c, h, w) -> ours j = (h, w, c): torch[i] = ours[perm[i]]."""
    assert n_features == h * w * c
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)


def _load_into_torch(ours, theirs, perm_dense_out=None, perm_dense_in=None):
    """Copy the weights of our layers into the matching PyTorch modules, in order."""
    import torch
    from torch import nn
    modules = [m for m in theirs.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d,
                                                              nn.BatchNorm1d, nn.BatchNorm2d))]
    layers = [l for l in ours.layers if l.get_weights()]
    assert len(modules) == len(layers), (modules, [l.name for l in layers])
    for layer, module in zip(layers, modules):
        w = layer.get_weights()
        kind = type(layer).__name__
        if kind == "Dense":
            kernel = w[0]
            if perm_dense_out is not None and kernel.shape[1] == len(perm_dense_out):
                kernel = kernel[:, perm_dense_out]
            if perm_dense_in is not None and kernel.shape[0] == len(perm_dense_in):
                kernel = kernel[perm_dense_in]
            module.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T))
        elif kind in ("Conv2D", "Conv2DTranspose"):
            # ours (kh, kw, in, out) / transposed (kh, kw, out, in); torch (out, in, ...) / transposed (in, out, ...)
            module.weight.data = torch.from_numpy(np.ascontiguousarray(w[0].transpose(3, 2, 0, 1)))
        elif kind == "BatchNormalization":
            gamma, beta, mean, var = w
            if perm_dense_out is not None and len(gamma) == len(perm_dense_out):
                gamma, beta, mean, var = (a[perm_dense_out] for a in (gamma, beta, mean, var))
            module.weight.data, module.bias.data = torch.from_numpy(gamma), torch.from_numpy(beta)
            module.running_mean.data, module.running_var.data = torch.from_numpy(mean), torch.from_numpy(var)
            assert module.eps == layer.epsilon and abs(module.momentum - (1 - layer.momentum)) < 1e-12
            continue
        if len(w) > 1:
            module.bias.data = torch.from_numpy(w[1])
        else:
            assert module.bias is None, f"{layer.name}: PyTorch's reference has a bias here"


def _random_weights(model, rng):
    """Non-trivial values for every weight, moving statistics included."""
    arrays = []
    for v, w in zip(model.weights, model.get_weights()):
        if "moving_variance" in v.name:
            arrays.append(rng.uniform(0.5, 2.0, w.shape))
        elif "gamma" in v.name:
            arrays.append(rng.normal(1.0, 0.2, w.shape))
        elif w.ndim == 1:  # biases, beta, moving means
            arrays.append(rng.normal(0.0, 0.2, w.shape))
        else:
            arrays.append(rng.normal(0.0, 1.0 / np.sqrt(w.size / w.shape[-1]), w.shape))
    model.set_weights([a.astype(np.float32) for a in arrays])


def test_the_dcgan_architecture_is_the_pytorch_reference_layer_for_layer():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    generator, discriminator = make_generator(), make_discriminator()
    _random_weights(generator, rng)
    _random_weights(discriminator, rng)
    t_gen, t_disc = _pytorch_reference()()
    perm = _hwc_to_chw(7 * 7 * 128, 7, 7, 128)
    _load_into_torch(generator, t_gen, perm_dense_out=perm)
    _load_into_torch(discriminator, t_disc, perm_dense_in=perm)
    z = rng.standard_normal((16, 100)).astype(np.float32)
    for training in (False, True):  # moving statistics, then batch statistics
        t_gen.train(training), t_disc.train(training)
        with torch.no_grad():
            t_images = t_gen(torch.from_numpy(z))
            t_prob = torch.sigmoid(t_disc(t_images))
        images = generator.forward(z, training=training)[0]
        np.testing.assert_allclose(images, t_images.numpy().transpose(0, 2, 3, 1), atol=2e-5)
        prob = discriminator.forward(images, training=training)[0]
        np.testing.assert_allclose(prob, t_prob.numpy(), atol=2e-5)


def test_initial_weights_follow_the_dcgan_paper():
    generator = make_generator(filters=32)
    for layer in generator.layers:
        for v, w in zip(layer.weights, layer.get_weights()):
            if v.name == "kernel":
                assert abs(w.mean()) < 2e-3 and w.std() == pytest.approx(0.02, rel=0.15), layer.name
            elif v.name == "gamma":
                assert w.std() == pytest.approx(0.02, rel=0.5) and abs(w.mean() - 1) < 0.01, layer.name
    assert not generator.layers[0].use_bias  # Dense before BatchNormalization: a bias would cancel


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("upsampler", UPSAMPLERS)
def test_every_upsampler_builds_in_both_architectures(architecture, upsampler):
    generator = make_generator(16, (12, 8, 3), upsampler, 8, architecture=architecture)
    images = generator.predict(np.zeros((2, 16), np.float32), verbose=0)
    assert images.shape == (2, 12, 8, 3) and np.abs(images).max() <= 1
    assert make_discriminator((12, 8, 3), 8, architecture=architecture).predict(images, verbose=0).shape == (2, 1)


def test_unknown_architecture_is_refused_by_name():
    with pytest.raises(ValueError, match=r"make_generator: `architecture` must be one of .*Received: architecture='keras'"):
        make_generator(architecture="keras")
    with pytest.raises(ValueError, match=r"make_discriminator: `architecture`"):
        make_discriminator(architecture="pytorch")
    with pytest.raises(ValueError, match=r"--architecture must be one of dcgan, tutorial. Received: 'big'"):
        TrainConfig(architecture="big").validate()


def test_the_learning_rate_defaults_to_the_architecture_s_own():
    from upsampling.gan.trainer import DEFAULT_LEARNING_RATES
    assert TrainConfig().learning_rate == DEFAULT_LEARNING_RATES["dcgan"] == 0.0006
    assert TrainConfig(architecture="tutorial").learning_rate == 0.0002  # the tutorial's Adam(2e-4, 0.5)
    assert TrainConfig(learning_rate=0.001).learning_rate == 0.001
