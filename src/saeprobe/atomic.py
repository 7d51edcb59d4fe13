"""Atomic file writes: a killed job never leaves a file that looks complete.

Every writer creates a temporary sibling (same directory, so the rename stays
on one filesystem) and renames it over the target only after a flush + fsync;
the next writer of a target removes the sibling a SIGKILL left behind.
``read_json`` is ``write_json``'s reader, whose errors name the file.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary name keeps the target's suffix, so writers that dispatch on
    it (``np.save``, ``save_npz``, parquet) behave as for the real file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp{glob.escape(target.suffix)}"):
        stale.unlink(missing_ok=True)  # left by a writer of this target that was killed (SIGKILL skips cleanup)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}"
    )
    # mkstemp makes the file private (0600) and the rename keeps that mode:
    # give it the mode an ordinary open() would, so colleagues can read results.
    os.fchmod(fd, 0o666 & ~_current_umask())
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it replaces ``path``
    (a folder left by an earlier run included), with the mode the umask gives."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*"):
        if stale.is_dir():  # left by a killed writer of this folder
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        os.chmod(staging, 0o777 & ~_current_umask())  # mkdtemp's folder is private (0700)
        yield staging
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _current_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


class JSONFileError(ValueError):
    """A JSON file that cannot be parsed; the message names the file and the place."""


def read_json(path: str | os.PathLike) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise JSONFileError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                            f"restore the file or write it again") from None


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save one array as ``.npy`` (readable with ``np.load(mmap_mode="r")``)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array))


def write_table(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as parquet, or CSV when the suffix is ``.csv``."""
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
