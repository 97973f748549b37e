"""The one exception type for mistakes a user can fix; entry points print it as one line and exit 2."""


class TybaltInputError(ValueError):
    """Bad input (parameter, file, search space): the message names the input and says how to fix it."""
