"""The studio's user-facing error: a message that names what went wrong and the fix."""


class StudioError(Exception):
    """An error the user can act on; the CLI prints it without a traceback and exits 2."""
