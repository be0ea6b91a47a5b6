"""The command line: parse flags, call the core, render, choose the exit code (``tokcost.cli.app`` is the entry
point). One module per command group; :mod:`tokcost.cli.common` holds the shared options, the error guard and the
output writer, :mod:`tokcost.cli.environment` every decision taken from the environment. Nothing outside this
package imports it."""
