"""Exclusive file locks (``fcntl.flock``) for what concurrent runs share: an output folder and the data they produce.

A lock is a file ``<name>.lock`` holding the owner's process id. The kernel releases it when the owner exits, however
it dies, so a killed run never leaves a folder locked. The owner deletes the lock file when it is done; a waiter that
then finds it locked a deleted file simply locks the new one.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from contextlib import contextmanager
from typing import Iterator

from tybalt_core.common.atomic_files import remove_stale_temporaries

logger = logging.getLogger(__name__)


class LockHeld(Exception):
    """Another process holds the lock (only raised when not waiting for it)."""

    def __init__(self, path: str, holder: str):
        super().__init__(f"{path} is held by process {holder or '(unknown)'}")
        self.path, self.holder = path, holder


@contextmanager
def exclusive_lock(path: str, *, wait: bool = True, purpose: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block; if ``wait`` is False raise ``LockHeld`` when it is taken.

    ``purpose`` (e.g. "writing the binary cache of x.tsv") is logged while this process waits for another one.
    """
    descriptor = _acquire(path, wait, purpose)
    try:
        yield
    finally:
        os.unlink(path)  # while still holding it: a waiter re-checks that the file it locked is the current one
        os.close(descriptor)


def _acquire(path: str, wait: bool, purpose: str) -> int:
    """Open-and-lock until the locked file is still the one at ``path``; write this process's id into it."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(descriptor, path, wait, purpose)
        except BaseException:
            os.close(descriptor)
            raise
        if _is_current(descriptor, path):
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
            return descriptor
        os.close(descriptor)  # the previous owner deleted this file as it released it: lock the new one


def _lock(descriptor: int, path: str, wait: bool, purpose: str) -> None:
    """Take the flock, without blocking first so a wait can be logged (or refused when not waiting).

    On a file system without locks the run goes on unprotected, with a warning, rather than not at all.
    """
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
        logger.warning("the file system of %s does not support file locks (%s); runs sharing it are not protected "
                       "from each other", path, error.strerror)
        return
    if not wait:
        raise LockHeld(path, holder)
    logger.info("waiting for process %s, which is %s", holder or "(unknown)", purpose or f"holding {path}")
    fcntl.flock(descriptor, fcntl.LOCK_EX)


def _is_current(descriptor: int, path: str) -> bool:
    """Whether the open file is still the one named ``path`` (not deleted or replaced since it was opened)."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


@contextmanager
def producer_lock(stem: str, products: tuple[str, ...], purpose: str) -> Iterator[None]:
    """Hold ``<stem>.lock`` while making the data files ``products`` (others wait, then reuse what was made).

    The products' temporaries left by a killed producer are removed first (all products share one folder).
    """
    with exclusive_lock(f"{stem}.lock", purpose=purpose):
        remove_stale_temporaries(os.path.dirname(stem), tuple(os.path.basename(path) for path in products))
        yield
