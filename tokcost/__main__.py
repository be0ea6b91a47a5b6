"""``python -m tokcost``: the command line."""

from .cli.app import main

main()
