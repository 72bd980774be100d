"""Test-session set-up: Keras on its torch backend, and the oracles the suite cannot do without.

The suite compares our numbers with live oracles (Keras 3, PyTorch). They are part of the test
environment, not optional: a run without them stops before collecting anything and says how to
install them. `UPSAMPLING_SKIP_ORACLES=1` is the explicit opt-out for machines without them: the
tests that need an oracle skip, and the summary says how many did.
"""
import importlib.util
import os
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

# (importable module, pip requirement). Add an oracle here and to the `test` extra in pyproject.toml
# (tests/test_oracles_required.py checks that the two lists agree).
REQUIRED_ORACLES = [
    ("torch", "torch==2.13.0"),
    ("keras", "keras==3.15.1"),
    ("onnx", "onnx==1.23.2"),
    ("onnxruntime", "onnxruntime==1.32.0"),
]
SKIP_ENV = "UPSAMPLING_SKIP_ORACLES"


def _importable(module: str) -> bool:
    """Whether `import module` would find it (without importing it: torch takes seconds)."""
    if module in sys.modules:  # None there means "blocked": importing it raises ImportError
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_oracles() -> list:
    return [(module, req) for module, req in REQUIRED_ORACLES if not _importable(module)]


def pytest_configure(config):
    missing = missing_oracles()
    config._oracles_missing = missing
    if missing and os.environ.get(SKIP_ENV) != "1":
        names = ", ".join(module for module, _ in missing)
        reqs = " ".join(req for _, req in missing)
        raise pytest.UsageError(
            f"The test oracles are not installed: {names}. The suite checks its numbers against them, "
            f"so it does not run without them.\n"
            f"  Install them:  pip install -e '.[test]'   (or: pip install {reqs})\n"
            f"  or `make test`, which installs everything into .venv.\n"
            f"  To run only the tests that need no oracle, set {SKIP_ENV}=1 (those that need one are "
            f"skipped and counted)."
        )


def _oracle_skip(report, modules) -> bool:
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return any(f"could not import '{m}" in reason for m in modules)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    missing = getattr(config, "_oracles_missing", [])
    if not missing:
        return
    modules = [module for module, _ in missing]
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if _oracle_skip(r, modules)]
    terminalreporter.write_line(
        f"{SKIP_ENV}=1: {len(skipped)} tests skipped because the oracles {', '.join(modules)} are not "
        f"installed (pip install {' '.join(req for _, req in missing)}).", yellow=True, bold=True)
