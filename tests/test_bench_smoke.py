"""The benchmark runs end to end on tiny shapes (a smoke check: no timing is asserted)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_bench_api_smoke_run_writes_every_case(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_api.py"), "--smoke", "--no-memory",
                           "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    for name in ("layer: Conv2DTranspose", "op: Conv2DTranspose", "UpSampling2D nearest", "UpSampling2D bilinear",
                 "layer: Conv2D ", "dcgan: tutorial MNIST GAN iteration", "train: default `upsampling train` step"):
        assert name in text, name
    for mode in ("| forward |", "| train step |", "| forward+backward |", "| iteration |", "| step |"):
        assert mode in text, mode


def test_gemm_bound_smoke_run_prints_a_row_per_bounded_case():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gemm_bound.py"), "--smoke"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    rows = lines[lines.index("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|") + 1:]
    # 2 transposed-convolution shapes x 4 (level, mode) pairs, Conv2D x 4, the default step
    assert len(rows) == 13, proc.stdout
    assert sum("default `upsampling train` step" in row for row in rows) == 1
    for row in rows:  # eight numbers after the case and mode: counts, times, rates and the ratio
        cells = [c.strip() for c in row.strip("|").split("|")][2:]
        assert len(cells) == 8 and all(float(c) > 0 for c in cells), row


def test_gemm_bound_product_lists_have_the_cases_shapes_and_sizes():
    """The lists' own shapes and arithmetic, written out here from the layers' sizes (the kernels
    themselves are not run: this pins what the table claims to time)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gemm_bound
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    convt = dict(kind="convT", level="layer", x=(128, 7, 7, 128), f=128, k=4, s=2)
    assert gemm_bound.conv_products(convt, "forward") == [(6272, 128, 2048, False)]
    assert gemm_bound.conv_products(convt, "forward+backward")[1:] == [(2048, 6272, 128, True),
                                                                        (6272, 2048, 128, False)]
    conv = dict(kind="conv", level="layer", x=(128, 14, 14, 64), f=64, k=3, s=2)
    assert gemm_bound.conv_products(conv, "train step") == [(6272, 576, 64, False), (576, 6272, 64, True)]
    step = gemm_bound.default_step_products(64)
    # 8.5 products of the 64->128 / 128->64 k4 s2 size (D's conv2 forward, dkernel, dx; G's convT1
    # forward, dx, dkernel; half a batch of fakes) carry almost all of the step's arithmetic
    big = 2 * 3136 * 1024 * 128
    flops = [2 * m * k * n for m, k, n, _ in step]
    assert sum(f for f in flops if f >= big / 2) == 8.5 * big
    assert sum(flops) == pytest.approx(9 * big, rel=0.01)  # the rest: the Dense layers and 1-channel convs
