"""Errors a user can fix, and caveats of answers given anyway. The CLI prints each as one line,
without a traceback."""


class FramestampError(Exception):
    """A problem with the user's input, files or setup, described in one line."""


class CheckpointError(FramestampError):
    """A checkpoint directory is missing, incomplete or corrupt."""


class ConfigError(FramestampError):
    """A configuration value is invalid."""


class AudioError(FramestampError):
    """An audio file cannot be used."""


class MissingDependencyError(FramestampError):
    """An optional dependency is not installed."""


class FramestampWarning(UserWarning):
    """The answer is given, with a caveat (the CLI prints these as one ``warning:`` line)."""
