"""The oracles are required: a run without them stops with install instructions, unless the
documented opt-out UPSAMPLING_SKIP_ORACLES=1 is set, which skips and counts the tests that need them."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REQUIRED_ORACLES, SKIP_ENV

ROOT = Path(__file__).resolve().parents[1]

# Runs pytest in a fresh interpreter in which the oracle modules cannot be imported, as on a
# machine where they were never installed (an import hook refuses them).
RUNNER = textwrap.dedent("""
    import sys
    BLOCKED = set(sys.argv[1].split(","))

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    import pytest
    sys.exit(pytest.main(["-p", "no:cacheprovider", *sys.argv[2:]]))
""")


def _run(tmp_path, blocked, *args, skip=None):
    script = tmp_path / "run_without_oracles.py"
    script.write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if k != SKIP_ENV}
    if skip is not None:
        env[SKIP_ENV] = skip
    return subprocess.run([sys.executable, str(script), ",".join(blocked), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_run_without_the_oracles_fails_and_says_how_to_install_them(tmp_path):
    modules = [m for m, _ in REQUIRED_ORACLES]
    proc = _run(tmp_path, modules, "tests/test_oracles_required.py")
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert "pip install -e '.[test]'" in out
    for _, requirement in REQUIRED_ORACLES:
        assert requirement in out
    assert SKIP_ENV in out
    assert "passed" not in out  # nothing ran


def test_the_opt_out_skips_and_counts_the_tests_that_need_an_oracle(tmp_path):
    proc = _run(tmp_path, ["torch", "keras"], "tests/ops/test_activations.py", "-k", "softplus", skip="1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    # softplus: its Keras comparison skipped; its finite-difference and other tests ran
    assert f"{SKIP_ENV}=1: 1 tests skipped because the oracles torch, keras are not installed" in out
    assert " passed, 1 skipped" in out


def test_the_oracle_pins_are_the_test_extra_pins():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    test_extra = project["optional-dependencies"]["test"]
    for _, requirement in REQUIRED_ORACLES:
        assert requirement in test_extra, f"{requirement} is required by tests/conftest.py but not pinned"


def test_ci_never_sets_the_opt_out():
    ci = ROOT / ".ci" / "run"
    assert SKIP_ENV not in ci.read_text()
    assert SKIP_ENV not in (ROOT / "Makefile").read_text()
