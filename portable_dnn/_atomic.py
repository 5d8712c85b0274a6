"""Atomic file writes: a temporary file beside the target, flushed to disk, renamed over it.

An interrupted write (an error, Ctrl-C or, in the main thread, SIGTERM) leaves
the old file, or none, never a broken one; the temporary file is removed. A
file whose owner has no write permission is not replaced.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Callable
from typing import Any

# The temporary file of a save: a hidden name that stays short whatever the
# target's length (a name near NAME_MAX still saves), ending in ".tmp" so that no
# "*.npz" pattern picks it up after a crash.
_TMP_STEM = 32
TMP_NAME = re.compile(r"^\..*\.[0-9a-f]{8}\.tmp$", re.DOTALL)


def _replaceable(func: str, path: str) -> os.stat_result | None:
    """The status of the file a save will replace (None when there is none), after refusing read-only ones."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _cannot_write(func, path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{func}: {path!r} is a folder, expected a model file path")
    euid = os.geteuid() if hasattr(os, "geteuid") else None
    # os.access answers yes to root for any file: the owner's write bit is what
    # says "do not overwrite" there (and for the owner, whatever os.access says).
    owner_says_no = euid in (0, st.st_uid) and not st.st_mode & stat.S_IWUSR
    if owner_says_no or not os.access(path, os.W_OK):
        raise PermissionError(
            f"{func}: {path!r} is read-only (mode {oct(stat.S_IMODE(st.st_mode))}), so it was not replaced"
        )
    return st


def _cannot_write(func: str, path: str, exc: OSError) -> OSError:
    """``exc`` (same class) with a message naming the target rather than the temporary file."""
    return type(exc)(f"{func}: cannot write {path!r} ({exc.strerror or exc})")


class _Terminated(BaseException):
    """SIGTERM during a save: unwinds it, so that the temporary file is removed, before the process ends."""


class _SigtermUnwinds:
    """In the main thread, a SIGTERM unwinds the code within (running ``finally``), then ends the process.

    Only a default SIGTERM disposition is replaced: an ignored SIGTERM stays
    ignored, and a Python handler already runs between bytecodes (whatever it
    raises unwinds the save too). Another thread cannot install handlers, so
    there a SIGTERM still ends the process at once.
    """

    def __init__(self) -> None:
        self.active = False
        self.pending = False
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.active:
            self.active = False  # a second SIGTERM must not interrupt the cleanup
            raise _Terminated(signum)
        self.pending = True

    def __enter__(self) -> _SigtermUnwinds:
        if threading.current_thread() is not threading.main_thread():
            return self
        with contextlib.suppress(ValueError, OSError, AttributeError):
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                self.previous = signal.signal(signal.SIGTERM, self._handler)
                self.active = True
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.previous is None:
            return
        self.active = False
        signal.signal(signal.SIGTERM, self.previous)
        self.previous = None
        if exc_type is _Terminated or self.pending:
            signal.raise_signal(signal.SIGTERM)  # the default action: the process ends as it would have


def _create_temp(func: str, path: str, folder: str) -> tuple[int, str]:
    # O_CREAT with 0o666 lets the kernel apply the umask, as for any new file
    # (mkstemp would give 0o600 whatever the umask).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    stem = os.path.basename(path)[:_TMP_STEM]
    for _ in range(100):
        tmp = os.path.join(folder, f".{stem}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise _cannot_write(func, path, exc) from None
    raise FileExistsError(f"{func}: cannot create a temporary file beside {path!r}")


def atomic_write(func: str, path: str, write: Callable[[Any], None]) -> None:
    """``write(fh)`` into a temporary file beside ``path``, flushed to disk, then renamed over ``path``:
    an interrupted write leaves the old file (or none), never a broken one."""
    old = _replaceable(func, path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    with _SigtermUnwinds():
        try:
            fd, tmp = _create_temp(func, path, folder)
            with os.fdopen(fd, "wb") as fh:
                if old is not None:
                    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != os.fstat(fd)[4:6]:
                        with contextlib.suppress(OSError):  # only root may give a file away
                            os.fchown(fd, old.st_uid, old.st_gid)
                    os.chmod(tmp, stat.S_IMODE(old.st_mode))
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.replace(tmp, path)
            except OSError as exc:  # its own message names the temporary file, not the target
                raise _cannot_write(func, path, exc) from None
        except BaseException:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
            raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
