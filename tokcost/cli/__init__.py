"""The command line: parse flags, call the core, render, choose the exit code (``tokcost.cli.app`` is the entry
point). One module per command group; :mod:`tokcost.cli.common` holds the shared options, the error guard and the
output writer, :mod:`tokcost.cli.environment` every decision taken from the environment. Nothing outside this
package imports it.

The command modules leave out ``from __future__ import annotations``: typer reads every command's annotations at
start-up (``typing.get_type_hints``), and a string annotation costs a ``compile`` each (some 280 per run)."""
