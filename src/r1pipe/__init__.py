"""r1pipe: the DeepSeek-R1 training recipe as reproducible, incremental DVC stages."""

__version__ = "0.1.0"


class R1pipeError(Exception):
    """A problem the user can fix (bad params, missing file, malformed row).

    The CLI prints it as one line and exits with code 2, without a traceback.
    """
