"""Atomic file writes: a file is replaced only by a complete new one, or not at all.

Every file allocate writes goes through this module: the content is written to a temporary
file in the target's folder (so the final rename stays on one file system), flushed to disk,
and only then renamed over the target with `os.replace`, which is atomic on POSIX and
Windows. If anything fails or is interrupted before the rename (a full disk, a character the
format cannot hold, Ctrl-C), the temporary file is removed and the old file is untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from allocate.domain.errors import InvalidProblemError

T = TypeVar("T")


def target(path: str | Path) -> Path:
    """The file to write: symlinks followed (the link is kept), never an existing folder."""
    final = Path(os.path.realpath(path))
    if final.is_dir():
        raise InvalidProblemError((str(path),), "is a folder; give the name of a file to write")
    return final


def _temporary(final: Path) -> Path:
    """A new empty file next to `final`, with the permissions `final` has (or `open` would give)."""
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        if final.exists():
            os.chmod(tmp, stat.S_IMODE(final.stat().st_mode))
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(final)) from None
    return tmp


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_all(files: Mapping[Path, T], write: Callable[[Path, T], None]) -> None:
    """Write several files so that all are replaced or none is.

    `write(tmp, content)` writes one file. Every temporary file is written and synced first;
    only when all are complete are they renamed over their targets.
    """
    finals = {target(p): content for p, content in files.items()}
    temps: dict[Path, Path] = {}
    try:
        for final, content in finals.items():
            temps[final] = tmp = _temporary(final)
            write(tmp, content)
            _sync(tmp)
        for final, tmp in temps.items():
            os.replace(tmp, final)
    except BaseException:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`: write it; on success it replaces `path`."""
    final = target(path)
    tmp = _temporary(final)
    try:
        yield tmp
        _sync(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically (encoded before anything is written)."""
    write_bytes(path, text.encode("utf-8"))
