"""The one error path of every command-line tool: a mistake the user can fix is one line, exit code 2.

``tybalt_baseline_keras2.py``, ``upf_runner.py``, ``hpo_results.py`` and ``workflow_files.py`` run their work through
``run_command``: a ``TybaltInputError``, an operating-system error (missing path, permission, disk full) or running
out of memory (a huge hidden_dim) prints ``tybalt: error: <what is wrong>; <how to fix it>`` on stderr, with no traceback.
"""

from __future__ import annotations

import argparse
import errno
import sys
from typing import Callable, NoReturn, TypeVar

from tybalt_core.common.errors import TybaltInputError

BAD_INPUT_EXIT = 2
INTERRUPTED_EXIT = 130
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
Result = TypeVar("Result")


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose mistakes (unknown flag, wrong type) become one-line TybaltInputErrors.

    Build it with ``allow_abbrev=False``: a mistyped flag such as ``--epoch`` is then refused instead of silently
    taken as an abbreviation of ``--epochs``.
    """

    def error(self, message: str) -> NoReturn:
        raise TybaltInputError(f"{message}; run with --help to list the parameters and their types")


def run_command(command: Callable[[], Result],
                interrupted: str = "interrupted; rerun the same command to continue") -> Result:
    """Run a tool's work; turn the user's mistakes into one ``tybalt: error:`` line and exit 2 (130 on Ctrl-C)."""
    try:
        return command()
    except TybaltInputError as error:
        exit_with_error(str(error))
    except OSError as error:
        exit_with_error(describe_os_error(error))
    except out_of_memory_errors():
        exit_with_error("out of memory; use smaller sizes (samples, genes, hidden_dim, latent_dim, batch_size) "
                        "or a machine with more memory")
    except KeyboardInterrupt:
        exit_with_error(interrupted, INTERRUPTED_EXIT)


def out_of_memory_errors() -> tuple[type[BaseException], ...]:
    """MemoryError, and TensorFlow's failed allocation once TensorFlow is imported (the tools never import it here)."""
    tensorflow = sys.modules.get("tensorflow")
    return (MemoryError,) + ((tensorflow.errors.ResourceExhaustedError,) if tensorflow is not None else ())


def describe_os_error(error: OSError) -> str:
    """One line for an operating-system error: the path it concerns and what to do about it."""
    path = f" {error.filename}" if error.filename else ""
    if error.errno in DISK_FULL:
        return (f"cannot write{path}: {error.strerror}; free space on that disk or write to another one "
                f"(--output_dir, --data_dir, --ckpt_directory)")
    return (f"cannot use{path}: {error.strerror or error}; check that the path exists, is the right kind "
            f"(file or folder) and that you may read and write it")


def exit_with_error(message: str, code: int = BAD_INPUT_EXIT) -> NoReturn:
    """Print one line on stderr (no traceback; a message quoting several lines is joined) and exit; 2 = bad input."""
    print(f"tybalt: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)
