"""Paths and text the user hands in: the wrong kind of path or text that is not UTF-8 is one clear error.

Every tool reads its text inputs (config files, search spaces, ``.upf``, ``result.txt``, ``parameters.txt``,
``genes.txt``) through ``read_text``, so a folder, a FIFO, a binary, UTF-16 or Latin-1 file gets the same kind of
message everywhere instead of a traceback (or, for a FIFO, a read that never returns).
"""

from __future__ import annotations

import ast
import codecs
import errno
import os
import stat
from typing import Any

from tybalt_core.common.errors import TybaltInputError

# What ast.literal_eval raises on text that is not a literal: bad syntax, an unhashable key ({[1]: 2}), deep nesting.
LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)
UTF16_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def path_problem(path: str) -> str | None:
    """What keeps ``path`` from being read as a regular file, in words; None when it is one."""
    link = link_problem(path)
    if link:
        return link
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "not found"
    except NotADirectoryError:
        return "not found (a folder in its path is a file)"
    except OSError as error:
        return f"cannot be opened ({error.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    return "is a device or socket, not a regular file"


def link_problem(path: str) -> str | None:
    """What is wrong with ``path`` if it is a symbolic link that cannot be followed (a loop, or to nothing)."""
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link that loops back on itself"
        return f"is a symbolic link to {os.readlink(path)}, which does not exist"
    return None


def require_file(path: str, what: str, fix: str) -> None:
    """Refuse a path that is not a regular file: '<what> <path> <what it is>; <fix>'."""
    problem = path_problem(path)
    if problem:
        raise TybaltInputError(f"{what} {path} {problem}; {fix}")


def require_folder(path: str, what: str, fix: str) -> None:
    """Refuse a path that is not a folder: '<what> <path> not found; <fix>' or '... is a file, not a folder; ...'."""
    if not os.path.isdir(path):
        problem = link_problem(path) or ("is a file, not a folder" if os.path.lexists(path) else "not found")
        raise TybaltInputError(f"{what} {path} {problem}; {fix}")


def read_text(path: str, what: str, fix: str) -> str:
    """The text of a UTF-8 file (a leading byte-order mark is dropped); any other file is a TybaltInputError."""
    require_file(path, what, fix)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise TybaltInputError(f"{what} {path} cannot be read ({error.strerror}); {fix}") from None
    return decode_utf8(raw, f"{what} {path}")


def decode_utf8(raw: bytes, source: str) -> str:
    """Decode UTF-8 text; UTF-16, binary (NUL bytes) and other encodings are refused naming ``source``."""
    if raw.startswith(UTF16_MARKS) or b"\x00" in raw:
        detail = "it holds NUL bytes: UTF-16 or binary"
    else:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            detail = f"byte 0x{raw[error.start]:02x} at offset {error.start} is not UTF-8"
    raise TybaltInputError(f"{source} is not UTF-8 text ({detail}); save it as UTF-8 plain text")


def require_writable_folder(folder: str, what: str, flag: str) -> None:
    """Refuse a folder that cannot be made or written: its nearest existing ancestor must be a writable folder."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        if link_problem(existing):
            raise TybaltInputError(f"{what} {folder} cannot be written: {existing} {link_problem(existing)}; "
                                   f"choose another {flag}")
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        problem = "is not a folder" if not os.path.isdir(existing) else "is not writable"
        raise TybaltInputError(f"{what} {folder} cannot be written: {existing} {problem}; choose another {flag}")


def literal_or_text(text: str) -> Any:
    """``text`` as a Python literal (number, string, list, ...) when it is one, else the text itself."""
    try:
        return ast.literal_eval(text)
    except LITERAL_ERRORS:
        return text
