"""Smoke test of benchmarks/quality_vs_pytorch.py: the PyTorch DCGAN trains and samples as scored."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "quality_vs_pytorch.py"
    spec = importlib.util.spec_from_file_location("quality_vs_pytorch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pytorch_dcgan_trains_by_steps_or_time_and_samples_nhwc():
    bench = _bench()
    images = np.random.default_rng(0).uniform(-1, 1, (200, 28, 28, 1)).astype(np.float32)
    generator, steps, _ = bench.train_dcgan(images, seconds=60, max_steps=4, log=lambda s: None)
    assert steps == 4 and not generator.training
    sample = bench.torch_sampler(generator)
    x = sample(5, 3)
    assert x.shape == (5, 28, 28, 1) and np.abs(x).max() <= 1
    np.testing.assert_array_equal(x, sample(5, 3))  # a seed gives the same draw
    _, steps, took = bench.train_dcgan(images, seconds=0.5, log=lambda s: None)  # stops on time
    assert steps >= 1 and took >= 0.5
    with pytest.raises(SystemExit):
        bench.parse_args([])  # needs --ours or --seconds
