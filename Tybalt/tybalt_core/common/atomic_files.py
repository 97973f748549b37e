"""Write files under a temporary name and rename them into place, so a crash never leaves half a file."""

from __future__ import annotations

import logging
import os
import re
import shutil
from contextlib import contextmanager
from typing import Iterable, Iterator

import pandas as pd

logger = logging.getLogger(__name__)

TEMPORARY_NAME = re.compile(r"^\.tmp\.(\d+)\.")


@contextmanager
def replaced_atomically(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (same extension); on success rename it to ``path``.

    An operating-system error that names no file (a full disk while writing) is given ``path``, so it can be reported.
    """
    directory, name = os.path.split(path)
    temporary = temporary_path(directory, name)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        error.filename = error.filename or path
        raise
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path: str, text: str) -> None:
    """Write a text file atomically."""
    write_chunks(path, [text])


def write_chunks(path: str, chunks: Iterable[str]) -> None:
    """Write a text file atomically from pieces produced one at a time (never all in memory at once)."""
    with replaced_atomically(path) as temporary, open(temporary, "w") as handle:
        handle.writelines(chunks)


def write_table(frame: pd.DataFrame, path: str, **to_csv_options) -> None:
    """Write a table atomically: tab-separated for .tsv paths, comma-separated otherwise."""
    with replaced_atomically(path) as temporary:
        frame.to_csv(temporary, sep="\t" if path.endswith(".tsv") else ",", **to_csv_options)


def temporary_path(directory: str, name: str) -> str:
    """The temporary name this process writes ``name`` under: ``.tmp.<pid>.<name>``, in the same folder."""
    return os.path.join(directory, f".tmp.{os.getpid()}.{name}")


def remove_stale_temporaries(folder: str, names: tuple[str, ...] = ()) -> list[str]:
    """Delete the ``.tmp.<pid>.*`` files and folders in ``folder`` (of ``names`` only, if given) whose process is gone.

    A kill between writing a temporary and renaming it leaves one behind. Call it only while holding the lock of
    what is written there, so no process on another machine (whose ids mean nothing here) is writing those names.
    """
    if not os.path.isdir(folder):
        return []
    stale = [os.path.join(folder, entry) for entry in os.listdir(folder)
             if (match := TEMPORARY_NAME.match(entry)) and (not names or entry[match.end():] in names)
             and not _process_alive(int(match.group(1)))]
    for path in stale:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    if stale:
        logger.info("removed %d unfinished temporary file(s) left in %s by killed runs", len(stale), folder)
    return stale


def _process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (this process counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; a number no process id can be
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
