"""The rules of a training run's folder: one writer at a time, and nothing finished overwritten.

`check_run_folder` says whether `--out` may be used (a folder, writable, and either new, or
holding a run that is resumed or explicitly overwritten); `RunLock` makes one process its only
writer: an advisory `fcntl` lock on `run.lock`, a file that also names the holding process, so a
second run into the same folder is refused with the holder's pid. The kernel drops the lock of a
process that dies, so a lock file left by a dead process is simply taken over.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from upsampling.atomic import check_writable

LOCK_NAME = "run.lock"
# Files a run writes; `--overwrite` removes them before a new run starts.
RUN_FILES = ("checkpoint.npz", "generator.model", "generator_best.model", "generator_last.model", "losses.png")


class RunFolderError(ValueError):
    """`--out` cannot be used as asked (holds a finished run, is locked, is not a folder...)."""


def finished_run_files(out) -> list:
    out = Path(out)
    return [name for name in RUN_FILES[:4] if (out / name).exists()]


def check_run_folder(out, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Refuse an `out` that is not a usable run folder; returns it as a Path. Creates nothing."""
    out = Path(out)
    if resume and overwrite:
        raise RunFolderError("--resume and --overwrite contradict each other: --resume continues the run in "
                             f"{out}, --overwrite discards it. Pass only one.")
    check_writable(out, "--out", folder=True)
    existing = finished_run_files(out)
    if existing and not (resume or overwrite):
        raise RunFolderError(f"--out {out} already holds a run ({', '.join(existing)}). Continue it with "
                             "--resume, replace it with --overwrite, or choose another --out.")
    return out


def clear_run(out) -> None:
    """Remove a previous run's files (for `--overwrite`), keeping anything else in the folder."""
    out = Path(out)
    for name in RUN_FILES:
        if (out / name).is_file():
            (out / name).unlink()
    samples = out / "samples"
    if samples.is_dir():
        for png in samples.glob("epoch_*.png"):
            png.unlink()


def _read_holder(path: Path) -> dict:
    try:
        holder = json.loads(path.read_text())
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


class RunLock:
    """Hold `out/run.lock` while a run writes into `out` (a context manager).

    Raises `RunFolderError` naming the holder when another live process holds it. `took_over`
    names the dead process whose lock file was found, if any.
    """

    def __init__(self, out):
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self._fd = None
        self.took_over: dict | None = None

    def acquire(self) -> "RunLock":
        import fcntl
        self.out.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = _read_holder(self.path)
                who = (f"process {holder.get('pid')} on {holder.get('host')}, started "
                       f"{holder.get('started')}" if holder else "another process")
                raise RunFolderError(f"--out {self.out} is in use by another training run ({who}; lock file "
                                     f"{self.path}). Wait for it to finish, stop it, or choose another --out.") from None
            except BaseException:
                os.close(fd)
                raise
            # The holder before us may have removed the file after we opened it: lock the file on disk.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read_holder(self.path)
        if previous.get("pid") and previous.get("pid") != os.getpid():
            self.took_over = previous  # its process is gone (or it would still hold the lock)
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.unlink(self.path)  # while still locked: a waiting opener re-checks and retries
        except FileNotFoundError:
            pass
        os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
