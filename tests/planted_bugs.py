"""Plant the bugs the test suite must catch, one at a time, and report which tests catch each.

    python -m tests.planted_bugs [NAME ...]      (from the repository root; all bugs by default)
    PATHS="tests/ops tests/layers" python -m tests.planted_bugs leaky_slope

Each bug is a one-line edit of the package; the suite runs twice per bug, with the oracles and as a
machine without them (UPSAMPLING_SKIP_ORACLES=1 and torch/keras made unimportable), stopping at
the first failure. The file is restored afterwards, whatever happens. Not collected by pytest (its
name does not start with test_); docs/testing.md lists the results.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# name -> (file, the exact text there, the buggy text)
BUGS = {
    "leaky_slope": ("upsampling/ops/activations.py",
        "slope = np.asarray(negative_slope, dy.dtype)\n", "slope = np.asarray(0.2, dy.dtype)\n"),
    "softplus_bwd": ("upsampling/ops/activations.py",
        "def softplus_backward(dy, x, y):\n    return dy * sigmoid(x)", "def softplus_backward(dy, x, y):\n    return dy * sigmoid(x) * (1 - sigmoid(x))"),
    "relu6_bwd": ("upsampling/ops/activations.py",
        "return dy * ((x > 0) & (x < 6))", "return dy * (x > 0)"),
    "dropout_scale": ("upsampling/layers/core.py",
        "mask = (rng.random(shape) >= self.rate).astype(x.dtype) / x.dtype.type(1 - self.rate)",
        "mask = (rng.random(shape) >= self.rate).astype(x.dtype)"),
    "crop_off_by_one": ("upsampling/shapes.py",
        "before = (ke - s) // 2 if ke >= s else 0", "before = (ke - s + 1) // 2 if ke >= s else 0"),
    "bn_momentum_swapped": ("upsampling/layers/normalization.py",
        "self.moving_mean.assign(self.moving_mean.value * m + mean * (1 - m))\n            self.moving_variance.assign(self.moving_variance.value * m + var * (1 - m))",
        "self.moving_mean.assign(self.moving_mean.value * (1 - m) + mean * m)\n            self.moving_variance.assign(self.moving_variance.value * (1 - m) + var * m)"),
    "adam_bias_correction": ("upsampling/optimizers.py",
        "alpha = lr * np.sqrt(dt(1) - b2 ** t) / (dt(1) - b1 ** t)", "alpha = lr * (dt(1) - b2 ** t) / (dt(1) - b1 ** t)"),
    "label_smoothing": ("upsampling/ops/losses.py",
        "y_true = y_true * t(1.0 - label_smoothing) + t(0.5 * label_smoothing)",
        "y_true = y_true * t(1.0 - label_smoothing) + t(label_smoothing)"),
    "gan_labels_swapped": ("upsampling/gan/trainer.py",
        "y = np.concatenate([np.ones((half, 1), np.float32), np.zeros((half, 1), np.float32)])",
        "y = np.concatenate([np.zeros((half, 1), np.float32), np.ones((half, 1), np.float32)])"),
    "phase_tap_groups_swapped": ("upsampling/ops/conv_transpose.py",
        "np.matmul(xs, kg[a, t, :, :width], out=z.reshape(m * h * w, width))",
        "np.matmul(xs, kg[a, groups_w - 1 - t, :, :width], out=z.reshape(m * h * w, width))"),
    "bn_whole_dbeta_sign": ("upsampling/ops/normalization.py",
        "    dx += dbeta\n", "    dx -= dbeta\n"),
    "first_layer_flag_leaks": ("upsampling/models.py",
        "grads.input_needed = first if i == 0 else True", "grads.input_needed = first"),
    "g_toward_fake": ("upsampling/gan/trainer.py",
        "g_loss = self.gan.train_on_batch(latent, np.ones((2 * half, 1), np.float32))",
        "g_loss = self.gan.train_on_batch(latent, np.zeros((2 * half, 1), np.float32))"),
    "scatter_blocks_overlap": ("upsampling/ops/im2col.py",
        "blocks = [slice(n0, n0 + step) for n0 in range(0, n, step)]",
        "blocks = [slice(None, n0 + step) for n0 in range(0, n, step)]"),
    "phase_output_float64": ("upsampling/ops/conv_transpose.py",
        "y = np.empty((n, ho, wo, f), dtype=dtype)", "y = np.empty((n, ho, wo, f), dtype=np.float64)"),
}

# Runs pytest as on a machine without the oracles: an import hook refuses torch and keras.
RUNNER = """import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "keras"):
            raise ModuleNotFoundError(name, name=name)
sys.meta_path.insert(0, Refuse())
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def run(paths, oracles, runner):
    env = dict(os.environ, KERAS_BACKEND="torch")
    cmd = [PY, "-m", "pytest"] if oracles else [PY, runner]
    if not oracles:
        env["UPSAMPLING_SKIP_ORACLES"] = "1"
    start = time.time()
    proc = subprocess.run(cmd + ["-x", "-q", "-p", "no:cacheprovider", "-rf"] + paths, cwd=ROOT, env=env,
                          capture_output=True, text=True)
    failed = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return proc.returncode, failed[:1], time.time() - start


def main(names):
    paths = os.environ.get("PATHS", "tests").split()
    runner = Path(tempfile.mkdtemp()) / "without_oracles.py"
    runner.write_text(RUNNER)
    for name in names:
        path, old, new = BUGS[name]
        full = ROOT / path
        src = full.read_text()
        assert src.count(old) == 1, f"{name}: the line to change is not (uniquely) in {path}"
        full.write_text(src.replace(old, new))
        try:
            for oracles in (True, False):
                rc, failed, seconds = run(paths, oracles, str(runner))
                print(f"{name:22s} oracles={'yes' if oracles else 'no '} {'CAUGHT' if rc else 'SURVIVED'} "
                      f"({seconds:.0f}s) {failed[0] if failed else ''}", flush=True)
        finally:
            full.write_text(src)


if __name__ == "__main__":
    main(sys.argv[1:] or list(BUGS))
