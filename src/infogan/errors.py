"""The library's own exception types.

The library raises these for every problem a user can cause or fix (bad files,
bad values, missing data); the CLI turns them into one-line messages. Anything
else escaping the library is a bug.
"""


class InfoGANError(Exception):
    """Base class of every error the user can act on."""


class ConfigError(InfoGANError):
    """A configuration value is out of range or unknown."""


class DataError(InfoGANError):
    """Data files are missing, unreachable, truncated or do not match their digest."""


class CheckpointError(InfoGANError):
    """A checkpoint file is missing, truncated, tampered with, or of another format."""


class RunDirError(InfoGANError):
    """A run directory cannot be used (not writable, already holds a run, not a run)."""
