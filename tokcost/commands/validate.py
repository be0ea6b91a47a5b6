"""`tokcost validate` (being written)."""


def register(app) -> None:
    """Placeholder until the command lands; registers nothing."""
