"""Atomic file writing shared by checkpoints, plots and animations.

``atomic_write(path)`` yields a binary file object opened on a temporary file in the directory of
``path``. When the ``with`` body finishes, the data is flushed, fsync'ed and the temporary file is
renamed onto ``path`` (``os.replace``, atomic on one file system), so a reader sees either the old
file or the complete new one, never a partial write. If the body (or the flush/rename) raises,
the temporary file is removed, an existing file at ``path`` is left untouched, and the exception
propagates.

A process killed while writing (``kill -9``, power loss) leaves its temporary file
``.<name>.<8 hex digits>.tmp`` behind. The next ``atomic_write`` of the same ``path`` removes
such stale temporary files of that name, and only those: files of other names, other patterns
and symbolic links are never touched. On POSIX systems a writer holds an advisory ``flock`` on
its temporary file until it is renamed, so the temporary file of a live writer (another process
writing the same ``path`` at the same time) is recognised and kept (on file systems without
``flock`` nothing is removed); elsewhere a file another process still has open cannot be removed
and is kept as well.

A write that fails (a full disk, a file system error) raises :class:`WriteError`, an ``OSError``
naming the file, its cause and that the earlier file is unchanged. ``save_torch(obj, handle)`` is
``torch.save`` into such a handle with the cause kept: torch turns an exception raised by the
handle's ``write`` (``OSError`` for a full disk, ``SystemExit`` from a signal handler) into its own
``RuntimeError: ... unexpected pos``; ``save_torch`` raises the original exception instead.

``name_too_long(path)`` says, before anything is written, whether ``path`` or the longest
temporary name ``atomic_write`` would create for it exceeds the file system's limit on one name
(``NAME_MAX``, 255 bytes on most), and ``OutputLock`` is an exclusive lock on a set of output
paths: a lock file ``<path>.lock`` holding the owner's PID, held with ``flock`` while the owner
lives (the kernel releases it when the process dies, so a lock file left by a killed process is
recognised as stale and taken over).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from collections.abc import Iterator
from typing import BinaryIO

try:  # POSIX only: advisory locks that tell live temporary files from stale ones
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LockedError",
    "OutputLock",
    "WriteError",
    "atomic_write",
    "lock_holder",
    "name_too_long",
    "save_torch",
    "temporary_name",
]

logger = logging.getLogger(__name__)

# Temporary files are opened with mode "xb" (create exclusively, fail if the name exists), so they
# get the same permission bits as a plain ``open(path, "wb")`` (0o666 minus the umask), whereas
# ``tempfile.mkstemp`` would force 0o600 onto the final file.
_MAX_NAME_ATTEMPTS = 100
_TOKEN_BYTES = 4  # secrets.token_hex(4): 8 lowercase hex digits


def _temporary_pattern(basename: str) -> re.Pattern[str]:
    """The names of the temporary files ``atomic_write`` creates for a target named ``basename``."""
    return re.compile(rf"\.{re.escape(basename)}\.[0-9a-f]{{{2 * _TOKEN_BYTES}}}\.tmp")


def _same_file(path: str, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not removed or replaced meanwhile)."""
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)


def _open_temporary(directory: str, basename: str) -> tuple[BinaryIO, str]:
    """Create, open and (POSIX) lock a new, uniquely named ``.<basename>.<random>.tmp`` file."""
    for _ in range(_MAX_NAME_ATTEMPTS):
        tmp = os.path.join(directory, f".{basename}.{secrets.token_hex(_TOKEN_BYTES)}.tmp")
        try:
            handle = open(tmp, "xb")  # noqa: SIM115 (closed by atomic_write)
        except FileExistsError:
            continue
        if fcntl is None:
            return handle, tmp
        # Another writer's clean-up may have judged the file stale between its creation and this
        # lock (it takes the lock, then removes the file): take a fresh name if so.
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            except OSError as err:  # a file system without flock: its clean-ups keep every file too
                logger.debug("writing %s without a lock: %s", tmp, err)
                return handle, tmp
            if _same_file(tmp, handle.fileno()):
                return handle, tmp
        except BaseException:
            handle.close()
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise
        handle.close()
    raise FileExistsError(f"could not create a unique temporary file for {basename!r} in {directory!r}")


def _remove_if_stale(path: str) -> None:
    """Remove the temporary file ``path`` unless a live writer still holds it."""
    if fcntl is None:  # pragma: no cover - Windows refuses to remove a file another process has open
        try:
            os.remove(path)
        except FileNotFoundError:
            return
        except OSError as err:
            logger.debug("kept temporary file %s: %s", path, err)
            return
        logger.info("removed stale temporary file %s", path)
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # already gone, or not ours to read
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live writer holds it
            return
        if not _same_file(path, fd):
            return
        try:
            os.remove(path)
        except FileNotFoundError:
            return
        except OSError as err:
            logger.warning("could not remove stale temporary file %s: %s", path, err)
            return
        logger.info("removed stale temporary file %s (left by an interrupted write)", path)
    finally:
        os.close(fd)


def _remove_stale_temporaries(directory: str, basename: str) -> None:
    """Remove the stale temporary files of target ``basename`` in ``directory`` (only those)."""
    pattern = _temporary_pattern(basename)
    try:
        entries = list(os.scandir(directory))
    except OSError as err:
        logger.debug("could not list %s for stale temporary files: %s", directory, err)
        return
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            _remove_if_stale(entry.path)


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


class WriteError(OSError):
    """Writing ``path`` failed (full disk, file system error); the earlier ``path``, if any, is unchanged."""

    def __init__(self, path: str, cause: OSError) -> None:
        reason = cause.strerror or str(cause) or type(cause).__name__
        super().__init__(cause.errno, f"could not write {path}: {reason} (the earlier file, if any, is unchanged)")
        self.path = path

    def __str__(self) -> str:
        return str(self.strerror)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Write ``path`` atomically: yield a binary file object, replace ``path`` on success.

    The parent directory is created if needed. The temporary file lives next to ``path`` (same
    file system, so the final rename is atomic) and is removed if anything raises. Stale
    temporary files of ``path`` left by killed writers are removed first (see the module
    docstring). An ``OSError`` while writing, flushing or renaming becomes :class:`WriteError`
    naming ``path``. Callers that want the written path can use ``os.fspath(path)``.
    """
    final = os.fspath(path)
    directory = os.path.dirname(final) or "."
    basename = os.path.basename(final)
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temporaries(directory, basename)
    handle, tmp = _open_temporary(directory, basename)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            if fcntl is not None:  # rename under the lock: a clean-up never sees this file unlocked
                os.replace(tmp, final)
        if fcntl is None:  # pragma: no cover - Windows cannot rename a file that is still open
            os.replace(tmp, final)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise WriteError(final, err) from err
        raise
    _fsync_directory(directory)


class _RecordingWriter:
    """A binary file object's ``write``, keeping the exception it raised (see :func:`save_torch`)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except BaseException as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.handle.flush()


def save_torch(obj: object, handle: BinaryIO) -> None:
    """``torch.save(obj, handle)``, raising what ``handle.write`` raised rather than torch's wrapper.

    Torch (2.x) writes through the file object's ``write`` from C++ and replaces any exception
    raised there by ``RuntimeError: [enforce fail at inline_container.cc] ... unexpected pos``; a
    full disk (``OSError``) or a signal handler's ``SystemExit`` during a checkpoint or
    training-state write would reach the user as that traceback. Test: tests/test_reliability.py.
    """
    import torch

    writer = _RecordingWriter(handle)
    try:
        torch.save(obj, writer)  # type: ignore[arg-type]
    except RuntimeError as err:
        if writer.error is not None:
            raise writer.error from None
        raise err


# ---------------------------------------------------------------------------------------- names
_DEFAULT_NAME_MAX = 255


def temporary_name(path: str | os.PathLike[str]) -> str:
    """The longest name ``atomic_write(path)`` gives a file: its temporary ``.<name>.<8 hex>.tmp``."""
    return f".{os.path.basename(os.fspath(path))}.{'0' * 2 * _TOKEN_BYTES}.tmp"


def _name_max(path: str) -> int:
    """``NAME_MAX`` of the file system ``path`` would be on (its nearest existing ancestor's)."""
    existing = os.path.abspath(os.path.dirname(path) or ".")
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    try:
        return int(os.pathconf(existing, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # not reported (or not POSIX): the usual limit
        return _DEFAULT_NAME_MAX


def name_too_long(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be written atomically because of its name's length (``None``: it can).

    Checks the name itself and the temporary name :func:`atomic_write` uses for it, in bytes of
    the file system encoding, against the limit of the file system it would be written on.
    """
    final = os.fspath(path)
    limit = _name_max(final)
    for name in (os.path.basename(final), temporary_name(final)):
        size = len(os.fsencode(name))
        if size > limit:
            return (
                f"{final!r} is written through the file name {name!r} of {size} bytes; "
                f"this file system allows at most {limit} bytes per name (NAME_MAX)"
            )
    return None


# ---------------------------------------------------------------------------------------- locks
class LockedError(OSError):
    """An output path is locked by another live process (``pid``: its PID, ``None`` if unknown)."""

    def __init__(self, message: str, lock: str, pid: int | None) -> None:
        super().__init__(message)
        self.lock, self.pid = lock, pid


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def lock_holder(lock: str | os.PathLike[str]) -> int | None:
    """The PID of the live process holding the lock file ``lock`` (``None``: no one holds it).

    Only looks: nothing is created or changed. A lock file no process holds (left by a killed
    process) counts as free.
    """
    if fcntl is None:  # pragma: no cover - Windows: no advisory locks, no lock
        return None
    try:
        fd = os.open(os.fspath(lock), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd) or -1
        return None
    finally:
        os.close(fd)


class OutputLock:
    """An exclusive lock on output paths: ``<path>.lock`` for each, holding this process's PID.

    :meth:`acquire` takes every lock or none (``LockedError`` naming the holder's PID when another
    live process has one); a lock file left by a dead process is taken over with a warning.
    :meth:`release` removes the lock files. The kernel drops the ``flock`` when the process dies,
    whatever the way, so a crash never leaves a lock that blocks the next run.
    """

    def __init__(self, paths: list[str]) -> None:
        self.locks = [f"{os.fspath(p)}.lock" for p in dict.fromkeys(os.path.abspath(p) for p in paths)]
        self._held: list[tuple[str, int]] = []
        self._created: list[str] = []

    def acquire(self) -> OutputLock:
        try:
            for lock in self.locks:
                self._held.append((lock, self._take(lock)))
        except BaseException:
            self.release()
            raise
        return self

    def _take(self, lock: str) -> int:
        directory = os.path.dirname(lock)
        missing = []
        while directory and not os.path.exists(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        os.makedirs(os.path.dirname(lock), exist_ok=True)
        self._created += missing  # removed again on release when empty
        for _ in range(_MAX_NAME_ATTEMPTS):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            if fcntl is None:  # pragma: no cover - Windows: the file marks the paths, nothing more
                return fd
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = _read_pid(fd)
                os.close(fd)
                who = f"PID {pid}" if pid else "another process"
                raise LockedError(f"locked by {who} ({lock})", lock, pid) from None
            if not _same_file(lock, fd):  # removed by its releasing owner meanwhile: lock the new file
                os.close(fd)
                continue
            stale = _read_pid(fd)
            if stale is not None and stale != os.getpid():
                logger.warning("took over the stale lock %s of PID %d, which no longer runs", lock, stale)
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        raise LockedError(f"could not lock {lock}: it keeps being replaced", lock, None)

    def release(self) -> None:
        """Remove the lock files (under the lock, so no other process sees them unlocked) and close them."""
        for lock, fd in reversed(self._held):
            with contextlib.suppress(OSError):
                if _same_file(lock, fd):
                    os.remove(lock)
            os.close(fd)
        self._held.clear()
        for directory in self._created:  # innermost first
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        self._created.clear()

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
