"""Atomic file writes: write beside the target, then rename over it in one step.

A crash or Ctrl-C mid-write leaves the previous file (or none), never a truncated one.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_target(path, suffix: str = TEMP_SUFFIX):
    """Yield a temporary path in `path`'s folder; when the block succeeds it replaces `path`
    (with the permissions a plain `open()` would give), otherwise it is removed. `path` must be
    a regular file or not exist: a folder or a device (say /dev/null) is never replaced."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, a device such as /dev/null, a pipe...
        raise IsADirectoryError(errno.EISDIR, "not a regular file: an atomic write only replaces files", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` atomically (flushed to disk before the rename)."""
    with atomic_target(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def remove_stale_temporaries(folder, *, recursive: bool = True) -> list:
    """Delete the temporary files (`.NAME.XXXXXXXX.tmp`) that killed atomic writes left in `folder`.

    Call it only while no other process writes there (under the run folder's lock): a live
    writer's temporary file looks the same. Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(f".*{TEMP_SUFFIX}") if recursive else folder.glob(f".*{TEMP_SUFFIX}")
    removed = []
    for path in found:
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed


def check_writable(path, what: str, *, folder: bool) -> None:
    """ValueError unless `path` (a `folder`, or a file) could be written: the nearest part of it that
    exists (the path itself for a folder, its parents for a file) must be a writable folder.
    `what` names the path in the message (say, '--out')."""
    path = Path(path)
    for parent in ([path] if folder else []) + list(path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{what} {path}: {parent} is a file, not a folder. Choose a folder.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValueError(f"{what} {path}: the folder {parent} is not writable. Choose a writable place.")
            return
