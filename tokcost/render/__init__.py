"""Formatters: each is a pure ``format(result, **opts) -> str``. :mod:`tokcost.render.registry` maps every
command's ``--format`` values to them; :mod:`tokcost.text` holds every number format."""
