"""Write files under a temporary name and rename them into place, so a crash never leaves half a file."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import pandas as pd


@contextmanager
def replaced_atomically(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (same extension); on success rename it to ``path``.

    An operating-system error that names no file (a full disk while writing) is given ``path``, so it can be reported.
    """
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".tmp.{os.getpid()}.{name}")
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
    with replaced_atomically(path) as temporary, open(temporary, "w") as handle:
        handle.write(text)


def write_table(frame: pd.DataFrame, path: str, **to_csv_options) -> None:
    """Write a table atomically: tab-separated for .tsv paths, comma-separated otherwise."""
    with replaced_atomically(path) as temporary:
        frame.to_csv(temporary, sep="\t" if path.endswith(".tsv") else ",", **to_csv_options)
