"""The one exception type for mistakes a user can fix; entry points print it as one line and exit 2."""

from typing import Any

LONGEST_SHOWN_VALUE = 40


class TybaltInputError(ValueError):
    """Bad input (parameter, file, search space): the message names the input and says how to fix it."""


def shown(value: Any) -> str:
    """A value as a message quotes it (its repr), shortened when very long (a 400-digit number)."""
    text = repr(value)
    return text if len(text) <= LONGEST_SHOWN_VALUE else f"{text[:LONGEST_SHOWN_VALUE - 3]}..."
