"""The two errors a user can fix: reported as one sentence naming the file or setting (exit
code 2 from the CLI), never as a traceback."""


class ConfigError(ValueError):
    """A config file, key or value that cannot be used."""


class DataError(ValueError):
    """Input data (a corpus folder, a file, a manifest, a checkpoint) that cannot be used."""
