"""The one exception type that reaches users as a one-line message (exit code 2)."""


class SSLKitError(Exception):
    """A problem the user can fix: bad input, missing data, an unknown name.

    The CLI prints ``str(error)`` as one red line and exits with code 2; ``--debug`` shows the
    traceback. The message must say what is wrong *and* how to fix it.
    """
