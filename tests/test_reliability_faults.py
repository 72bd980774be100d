"""Fault injection on `upsampling train`: kill -9 (also in the middle of checkpoint writes), a full
disk, SIGINT/SIGTERM (once and twice), two runs into one folder, a stale lock. After each fault the
last checkpoint is intact, and resuming gives a run bit-identical to one never interrupted."""
from __future__ import annotations

import errno
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from tests.reliability import assert_same_checkpoint, checkpoint_arrays, cli, make_images, python, train_args
from upsampling.cli import main

EPOCHS = 4  # 2 steps an epoch: a checkpoint every 2 steps


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Images and an uninterrupted run of EPOCHS epochs on them."""
    root = tmp_path_factory.mktemp("faults")
    images = make_images(root / "images")
    assert main(train_args(images, root / "reference", EPOCHS)) == 0
    return root


def _assert_finished_like_reference(run, reference):
    assert_same_checkpoint(run / "checkpoint.npz", reference / "reference" / "checkpoint.npz")
    from upsampling.models import load_model
    for a, b in zip(load_model(run / "generator.model").get_weights(),
                    load_model(reference / "reference" / "generator.model").get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not list(run.rglob("*.tmp")) and not (run / "run.lock").exists()


def _resume_or_start(images, run, epochs=EPOCHS):
    return train_args(images, run, epochs, *(["--resume"] if (run / "checkpoint.npz").exists() else []))


class Lines:
    """Read a child's stdout in a thread, so the test can wait for a line without blocking."""

    def __init__(self, proc):
        self.proc, self.seen, self._q = proc, [], queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._q.put(line)
        self._q.put(None)

    def wait_for(self, text, timeout=60.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self._q.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never appeared; output: {''.join(self.seen)[-2000:]}")

    def rest(self):
        while (line := self._q.get(timeout=60)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


_KILL_IN_WRITE = """
import os, signal, sys
real_fsync, count = os.fsync, 0
def fsync(fd):  # the k-th checkpoint write dies after its bytes are written, before the rename
    global count
    if "checkpoint.npz" in os.readlink(f"/proc/self/fd/{fd}"):
        count += 1
        if count == __K__:
            if __TORN__:  # and a torn write: only half of the bytes made it
                os.ftruncate(fd, os.fstat(fd).st_size // 2)
            os.kill(os.getpid(), signal.SIGKILL)
    real_fsync(fd)
os.fsync = fsync
from upsampling.cli import main
sys.exit(main(__ARGV__))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to find the file being written")
def test_kill_9_at_random_points_and_in_checkpoint_writes_then_an_identical_resume(reference, tmp_path):
    images, run = reference / "images", tmp_path / "run"
    rng = np.random.default_rng(7)  # fixed: the same kill points every time
    kills = [("write", 2, False), ("write", 1, True), ("random", None, None), ("write", 2, True),
             ("random", None, None)]
    left_tmp = False
    for kind, k, torn in kills:
        argv = _resume_or_start(images, run)
        if kind == "write":
            code = (_KILL_IN_WRITE.replace("__K__", str(k)).replace("__TORN__", str(torn))
                    .replace("__ARGV__", repr(argv)))
            proc = python(code)
            out, err = proc.communicate(timeout=120)
        else:
            proc = cli(argv)
            try:
                out, err = proc.communicate(timeout=float(rng.uniform(0.5, 3.0)))
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
        if left_tmp and kind == "write":  # (a random kill may come before the clean-up)
            assert "Removed 1 temporary file" in out  # the previous kill's leftover, cleaned at start
        assert proc.returncode in (-signal.SIGKILL, 0), err
        if (run / "checkpoint.npz").exists():
            meta = checkpoint_arrays(run / "checkpoint.npz")["meta"]  # intact: it loads
            assert meta["step"] == 2 * meta["epoch"] + meta["batch"]
        left_tmp = bool(list(run.glob(".checkpoint.npz.*.tmp")))
        if kind == "write" and proc.returncode == -signal.SIGKILL:
            assert left_tmp  # the kill hit the write
    assert main(_resume_or_start(images, run)) == 0
    _assert_finished_like_reference(run, reference)


def _free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@pytest.fixture(params=["tmpfs", "injected"])
def full_disk(request, tmp_path, monkeypatch):
    """A run folder on a small tmpfs (root only) or with ENOSPC injected into checkpoint writes;
    yields (folder, fill, unfill)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if request.param == "tmpfs":
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)],
                                               capture_output=True).returncode != 0:
            pytest.skip("mounting a small tmpfs needs root; the injected ENOSPC variant covers this machine")
        filler = disk / "filler"

        def fill():
            filler.write_bytes(b"\0" * max(_free_bytes(disk) - 8192, 0))

        yield disk, fill, filler.unlink
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
        return
    import upsampling.atomic as atomic
    real = atomic.os.fsync
    state = {"full": False}

    def fsync(fd):
        if state["full"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    yield disk, lambda: state.update(full=True), lambda: state.update(full=False)


def test_a_full_disk_keeps_the_last_checkpoint_and_the_run_resumes_identically(reference, full_disk, capsys):
    disk, fill, unfill = full_disk
    images, run = reference / "images", disk / "run"
    assert main(train_args(images, run, EPOCHS, "--max-steps", "2")) == 0
    saved = (run / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    fill()
    assert main(train_args(images, run, EPOCHS, "--resume")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: No space left on device"), err
    assert (run / "checkpoint.npz").read_bytes() == saved
    assert not list(run.rglob("*.tmp")) and not (run / "run.lock").exists()
    unfill()
    assert main(train_args(images, run, EPOCHS, "--resume")) == 0
    _assert_finished_like_reference(run, reference)


@pytest.mark.parametrize("signals", [("SIGINT",), ("SIGTERM",), ("SIGINT", "SIGINT"), ("SIGTERM", "SIGTERM")],
                         ids="+".join)
def test_signals_checkpoint_and_exit_with_128_plus_the_signal(reference, tmp_path, signals):
    """One signal: the step finishes, a checkpoint is written, exit 130/143. Two: stop at once with
    the last checkpoint intact. Either way the resumed run equals the uninterrupted one."""
    images, run = reference / "images", tmp_path / "run"
    proc = cli(train_args(images, run, 1000))
    lines = Lines(proc)
    lines.wait_for("Epoch 2/")
    for name in signals:
        proc.send_signal(getattr(signal, name))
    out = lines.rest()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 128 + getattr(signal, signals[-1]), err
    assert err.strip().splitlines() == [f"error: stopped by {signals[-1]}"], err
    if len(signals) == 1:
        assert "Interrupted: checkpoint written" in out
        meta = checkpoint_arrays(run / "checkpoint.npz")["meta"]
        assert meta["step"] > 2  # the step in progress at the signal was finished and saved
    assert not list(run.rglob("*.tmp")) and not (run / "run.lock").exists()
    assert main(train_args(images, run, EPOCHS, "--resume")) == 0
    _assert_finished_like_reference(run, reference)


def test_two_runs_into_one_folder_the_second_is_refused_naming_the_first(reference, tmp_path, capsys):
    images, run = reference / "images", tmp_path / "run"
    first = cli(train_args(images, run, 1000))
    lines = Lines(first)
    lines.wait_for("Epoch 2/")  # it holds the lock and has written its first checkpoint
    holder = json.loads((run / "run.lock").read_text())
    assert holder["pid"] == first.pid
    for extra in (["--overwrite"], ["--resume"]):
        capsys.readouterr()
        assert main(train_args(images, run, 1000, *extra)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"in use by another training run (process {first.pid}" in err[0], err
    assert (run / "checkpoint.npz").exists()  # --overwrite removed nothing of the first run
    first.send_signal(signal.SIGTERM)
    lines.rest()
    assert first.wait(timeout=60) == 143
    assert not (run / "run.lock").exists()
    assert main(train_args(images, run, EPOCHS, "--resume")) == 0  # the first run's state, uninterleaved
    _assert_finished_like_reference(run, reference)


def test_a_stale_lock_is_taken_over_and_leftover_temporaries_removed(reference, tmp_path, capsys):
    images, run = reference / "images", tmp_path / "run"
    dead = subprocess.Popen(["true"])
    dead.wait()
    run.mkdir()
    (run / "run.lock").write_text(json.dumps({"pid": dead.pid, "host": "h", "started": "then"}))
    (run / ".checkpoint.npz.k1ll3d.tmp").write_bytes(b"\0" * 1000)
    (run / "samples").mkdir()
    (run / "samples" / ".epoch_001.png.x.tmp").write_bytes(b"\0")
    assert main(train_args(images, run, EPOCHS)) == 0
    out = capsys.readouterr().out
    assert f"Took over the lock of process {dead.pid}" in out
    assert "Removed 2 temporary file(s)" in out
    _assert_finished_like_reference(run, reference)


def test_overwrite_replaces_a_finished_run(reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(reference / "reference", run)
    (run / "samples" / "epoch_009.png").write_bytes(b"from a longer, older run")
    assert main(train_args(reference / "images", run, EPOCHS, "--overwrite")) == 0
    assert not (run / "samples" / "epoch_009.png").exists()
    _assert_finished_like_reference(run, reference)
