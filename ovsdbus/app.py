"""Wiring: the OVSDB connection, the Open_vSwitch verbs and the D-Bus service, put together.

Used by :mod:`ovsdbus.tap` (``twistd ovsdbus``) and by tests that run the service in-process;
the only module besides the tap that imports every layer.
"""

from twisted.application.service import MultiService

from ovsdbus.bus.authorization import Policy
from ovsdbus.bus.service import BusService
from ovsdbus.ovsdb.connection import OvsdbConnection
from ovsdbus.ovsdb.remotes import remotes_endpoint
from ovsdbus.vswitch.operations import MONITORED_COLUMNS, Operations


def effective_polkit(polkit, bus):
    """The polkit mode in force: ``auto`` asks polkit only on the system bus, where nobody else can
    own its name."""
    if polkit == "auto" and bus != "system":
        return "no"
    return polkit


def build_service(reactor, remotes, bus, on_bus_lost, tls=None, timeout=30.0, probe_interval=None,
                  max_message_size=None, allowed_gids=(), polkit="auto"):
    """The whole service as a :class:`MultiService`: a connection to ``remotes`` (parsed OVS
    remotes, ``tls`` for ``ssl:`` ones) and the D-Bus service on ``bus``; ``on_bus_lost(reason)``
    is called when the bus connection fails or goes away."""
    options = {} if max_message_size is None else {"max_message_size": max_message_size}
    connection = OvsdbConnection(
        remotes_endpoint(reactor, remotes, tls), MONITORED_COLUMNS, reactor,
        request_timeout=timeout, probe_interval=probe_interval, **options)
    operations = Operations(connection)
    top = MultiService()
    connection.setServiceParent(top)
    policy = Policy(allowed_gids=allowed_gids, polkit=effective_polkit(polkit, bus))
    BusService(reactor, bus, connection, operations, on_bus_lost, policy).setServiceParent(top)
    return top
