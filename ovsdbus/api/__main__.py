"""``python3 -m ovsdbus.api``: write the introspection files (see :func:`ovsdbus.api.main`)."""

from ovsdbus.api import main

main()
