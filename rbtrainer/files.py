"""Atomic file writing shared by checkpoints, plots and animations.

``atomic_write(path)`` yields a binary file object opened on a temporary file in the directory of
``path``. When the ``with`` body finishes, the data is flushed, fsync'ed and the temporary file is
renamed onto ``path`` (``os.replace``, atomic on one file system), so a reader sees either the old
file or the complete new one, never a partial write. If the body (or the flush/rename) raises,
the temporary file is removed, an existing file at ``path`` is left untouched, and the exception
propagates.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["atomic_write"]

# Temporary files are opened with mode "xb" (create exclusively, fail if the name exists), so they
# get the same permission bits as a plain ``open(path, "wb")`` (0o666 minus the umask), whereas
# ``tempfile.mkstemp`` would force 0o600 onto the final file.
_MAX_NAME_ATTEMPTS = 100


def _open_temporary(directory: str, basename: str) -> tuple[BinaryIO, str]:
    """Create and open a new, uniquely named ``.<basename>.<random>.tmp`` file in ``directory``."""
    for _ in range(_MAX_NAME_ATTEMPTS):
        tmp = os.path.join(directory, f".{basename}.{secrets.token_hex(4)}.tmp")
        try:
            return open(tmp, "xb"), tmp  # closed by atomic_write
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a unique temporary file for {basename!r} in {directory!r}")


def _fsync_directory(directory: str) -> None:
    """Persist the rename itself (POSIX); silently skipped where directories cannot be opened."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Write ``path`` atomically: yield a binary file object, replace ``path`` on success.

    The parent directory is created if needed. The temporary file lives next to ``path`` (same
    file system, so the final rename is atomic) and is removed if anything raises. Callers that
    want the written path can use ``os.fspath(path)``.
    """
    final = os.fspath(path)
    directory = os.path.dirname(final) or "."
    os.makedirs(directory, exist_ok=True)
    handle, tmp = _open_temporary(directory, os.path.basename(final))
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_directory(directory)
