"""The benchmark runs end to end on tiny shapes (a smoke check: no timing is asserted)."""
import subprocess
import sys
from pathlib import Path

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


def test_gemm_bound_smoke_run_prints_every_product():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gemm_bound.py"), "--smoke"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    rows = lines[lines.index("|---|---:|---:|---:|---:|---:|---:|---:|") + 1:]
    assert len(rows) == 4, proc.stdout
    for row in rows:  # seven numbers after the product's name: times, rates and ratios
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert len(cells) == 7 and all(float(c) > 0 for c in cells), row
