"""tokcost's version: one place, read by the package, the results it writes and ``--version``."""

__version__ = "0.1.0"
