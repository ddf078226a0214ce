"""Every verb a batch takes, by name: the database verbs and the bridge and port verbs of
:mod:`ovsdbus.vswitch.dbverbs`, and the configuration verbs of :mod:`ovsdbus.vswitch.config`."""

from ovsdbus.vswitch import config, dbverbs

#: Verb name -> :class:`~ovsdbus.vswitch.dbverbs.Verb`.
VERBS = {**dbverbs.VERBS, **config.VERBS}

#: The verbs whose result is a row they created, and so may take ``id: "@name"``.
CREATING_VERBS = dbverbs.CREATING_VERBS | config.CREATING_VERBS
