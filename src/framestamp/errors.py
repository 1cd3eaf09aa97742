"""Errors a user can fix. The CLI prints them as one line, without a traceback."""


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
