"""Atomic writes, folder swaps and inter-process locks: the one place the package writes files for keeps.

Every file the package keeps (a release, the pins, a checkpoint, a catalog record) is written
through here, so that a reader, or a crash at any moment, sees the old content or the new one,
whole, never a torn or half-made file:

- :func:`write_bytes` / :func:`write_text`: a temporary file in the same folder, flushed to disk,
  then ``os.replace``-d over the target (one atomic rename on POSIX).
- :func:`publish_dir`: a finished temporary folder becomes ``out``. Without ``replace`` it is
  create-exclusive (``renameat2(RENAME_NOREPLACE)``): of two processes publishing the same
  folder, one wins and the other gets :class:`FileExistsError`. With ``replace`` an existing
  ``out`` is swapped with the new folder in one step (``renameat2(RENAME_EXCHANGE)``), so a reader
  of ``out`` sees the old folder or the new one at every moment; the caller then removes the old
  one, which now sits at the temporary path.
- :func:`lock`: an exclusive ``flock`` on a lock file (``filelock``), held for a read-modify-write
  (the pins file, a provenance record). Lock files are left in place: removing one while another
  process waits on it would let two writers in.

``renameat2`` is Linux (glibc 2.28+, kernels since 3.15 on ext4, xfs, btrfs, tmpfs and overlayfs).
Where it is missing, :func:`publish_dir` falls back to plain renames: still create-exclusive
for a non-empty folder (``rename`` refuses to replace one), but a replacement is then two renames
with a moment in between where ``out`` is absent (:data:`HAVE_RENAMEAT2` says which applies).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import UserError

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_SYSCALL_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}
LOCK_TIMEOUT_S = 600.0


class LockTimeout(UserError):
    """Another process held a lock for longer than the timeout."""


def _renameat2_fn():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        fn.restype = ctypes.c_int
        return fn
    number = _SYSCALL_RENAMEAT2.get(os.uname().machine)
    if number is None or not hasattr(libc, "syscall"):
        return None

    def via_syscall(olddirfd, old, newdirfd, new, flags):
        return libc.syscall(number, olddirfd, old, newdirfd, new, flags)

    return via_syscall


_renameat2 = _renameat2_fn()
HAVE_RENAMEAT2 = _renameat2 is not None


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; True when done, False when the system does not support it.

    Raises OSError (FileExistsError, FileNotFoundError, ...) for every other failure.
    """
    if _renameat2 is None:
        return False
    rc = _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644,
                tmp_dir: str | os.PathLike | None = None) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file, fsync, ``os.replace`` over ``path``.

    The temporary file is hidden (``.<name>.*.tmp``), made in ``tmp_dir`` (default: beside ``path``;
    it must be on the same file system) and removed if anything fails. A process killed mid-write
    leaves ``path`` as it was and, at most, that hidden file in ``tmp_dir``: pass a ``tmp_dir``
    outside a folder whose listing must stay exact (a release folder).
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=tmp_dir or p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(p.parent)
    return p


def write_text(path: str | os.PathLike, text: str, mode: int = 0o644,
               tmp_dir: str | os.PathLike | None = None) -> Path:
    """:func:`write_bytes` of ``text`` encoded as UTF-8."""
    return write_bytes(path, text.encode("utf-8"), mode, tmp_dir)


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike) -> Iterator[Path]:
    """A hidden temporary folder beside ``out`` (``.<name>.*.tmp``, mode 0755) to write a folder whole in.

    The block fills it and publishes it (:func:`publish_dir`, or ``release.move_into_place``); if the
    block raises, the temporary folder (this function's own) is removed and ``out`` is untouched.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; what is published is for reading
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def publish_dir(tmp: str | os.PathLike, out: str | os.PathLike, replace: bool = False) -> Path | None:
    """Make the finished folder ``tmp`` appear at ``out`` in one step.

    Args:
      tmp: a complete folder on the same file system as ``out``.
      out: where it goes.
      replace: swap with an existing ``out`` (atomic exchange) instead of refusing.
    Returns:
      The path now holding the *old* ``out`` (``tmp``'s path) when one was replaced, else None.
      The caller removes it (it is the old folder, which the caller asked to replace).
    Raises:
      FileExistsError: ``out`` exists and ``replace`` is False (also when another process
        published it first).
    """
    tmp, out = Path(tmp), Path(out)
    if not replace or not os.path.lexists(out):
        try:
            if _rename2(tmp, out, _RENAME_NOREPLACE):
                _fsync_dir(out.parent)
                return None
        except FileExistsError:
            if not replace:
                raise
        else:  # no renameat2: rename refuses a non-empty folder, and we refuse anything else present
            if not os.path.lexists(out):
                try:
                    os.rename(tmp, out)
                    return None
                except OSError as e:
                    if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                        raise
            if not replace:
                raise FileExistsError(errno.EEXIST, "already exists", str(out))
    if _rename2(tmp, out, _RENAME_EXCHANGE):
        _fsync_dir(out.parent)
        return tmp
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old.rmdir()
    os.rename(out, old)  # the fallback: two renames, out absent in between
    os.rename(tmp, out)
    return old


@contextlib.contextmanager
def lock(path: str | os.PathLike, timeout: float = LOCK_TIMEOUT_S, what: str | None = None) -> Iterator[Path]:
    """Hold an exclusive lock on the lock file ``path`` (created if absent, never removed).

    ``filelock.FileLock``: an ``flock`` on the file, which the kernel drops when the holder dies, so a
    killed process never leaves a stale lock. Without a fallback to a "soft" lock (a file whose mere
    existence is the lock, removed on release): where ``flock`` is missing this raises OSError.

    Raises:
      LockTimeout: another process held it for ``timeout`` seconds.
    """
    import filelock

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    held = filelock.FileLock(p, timeout=timeout, mode=0o644, thread_local=False, fallback_to_soft=False)
    try:
        held.acquire()
    except filelock.Timeout:
        raise LockTimeout(f"{what or str(p)!r} is locked by another process (lock file {str(p)!r}) "
                          f"for over {timeout:g} s; wait for it to finish and try again") from None
    try:
        yield p
    finally:
        held.release()
