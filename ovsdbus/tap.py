"""``twistd ovsdbus``: command-line options and the service they build."""

import grp
import os

from twisted.application.service import MultiService
from twisted.python import usage

from ovsdbus.authorization import POLKIT_MODES, Policy
from ovsdbus.connection import OvsdbConnection
from ovsdbus.framing import DEFAULT_MAX_VALUE_SIZE
from ovsdbus.operations import MONITORED_COLUMNS, Operations
from ovsdbus.remotes import DEFAULT_REMOTE, parse_remotes, remotes_endpoint

DEFAULT_PROBE_INTERVAL = 5.0


def _positive(text):
    value = float(text)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


class Options(usage.Options):
    """Options of ``twistd ovsdbus``."""

    synopsis = "[options]"
    longdesc = ("Serve Open vSwitch's database (OVSDB) on D-Bus as org.openvswitch.ovsdb. "
                "ovsdbus keeps one connection to ovsdb-server, reconnecting with backoff; while it is "
                "not connected, every method of org.openvswitch.ovsdb answers "
                "org.openvswitch.ovsdb.Error.Disconnected at once, and the objects and properties show the "
                "last state known (with Connected false).")
    optParameters = [
        ["ovsdb", None, DEFAULT_REMOTE,
         "ovsdb-server remote(s) in OVS syntax: unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT, or a "
         "comma-separated list tried in turn."],
        ["bus", None, "system", "D-Bus bus: system, session, or a D-Bus address such as unix:path=/run/x/bus."],
        ["timeout", None, 30.0, "Seconds to wait for each reply from ovsdb-server.", _positive],
        ["probe-interval", None, DEFAULT_PROBE_INTERVAL,
         "Seconds of silence on a tcp/ssl connection before an echo probe (unix sockets are not probed); "
         "0 disables.", float],
        ["max-message-size", None, DEFAULT_MAX_VALUE_SIZE, "Largest JSON message accepted from ovsdb-server, in bytes.",
         int],
        ["allow-group", None, None,
         "Members of this unix group (name or gid; a comma-separated list for several) may change the "
         "switch without asking polkit. root and the service's own user always may."],
        ["polkit", None, "auto",
         "Ask polkit (action org.openvswitch.ovsdb.modify) for other callers: auto (on the system bus, if "
         "polkit is there), yes (on any bus; refuse when polkit is not there), no (never; refuse). On another "
         "bus anyone could pose as polkit, so auto does not ask it there."],
    ]

    def postOptions(self):
        try:
            self["remotes"] = parse_remotes(self["ovsdb"])
        except ValueError as e:
            raise usage.UsageError("--ovsdb: %s" % e) from None
        if any(r.kind == "ssl" for r in self["remotes"]):
            raise usage.UsageError("--ovsdb: ssl remotes are not supported yet; use unix: or tcp:")
        if not self["bus"]:
            raise usage.UsageError("--bus must not be empty")
        if self["probe-interval"] < 0:
            raise usage.UsageError("--probe-interval must be >= 0")
        if self["max-message-size"] < 1024:
            raise usage.UsageError("--max-message-size must be at least 1024")
        if self["polkit"] not in POLKIT_MODES:
            raise usage.UsageError("--polkit must be one of %s" % ", ".join(POLKIT_MODES))
        self["allowed-gids"] = _parse_groups(self["allow-group"])


def _parse_groups(text):
    gids = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.isdigit():
            gids.append(int(item))
            continue
        try:
            gids.append(grp.getgrnam(item).gr_gid)
        except KeyError:
            raise usage.UsageError("--allow-group: no group named %r" % item) from None
    return gids


def _stop_process(reason):
    """The bus is gone (txdbus never reconnects): stop with exit status 1, so that the
    supervisor (systemd's Restart=on-failure) starts a fresh process."""
    from twisted.internet import reactor
    reactor.addSystemEventTrigger("after", "shutdown", os._exit, 1)
    if reactor.running:
        reactor.stop()
    else:
        reactor.callWhenRunning(reactor.stop)


def makeService(options, reactor=None):
    """Build the ovsdbus service: the OVSDB connection and the D-Bus service."""
    if reactor is None:
        from twisted.internet import reactor
    from ovsdbus.dbus import BusService

    connection = OvsdbConnection(
        remotes_endpoint(reactor, options["remotes"]), MONITORED_COLUMNS, reactor,
        request_timeout=options["timeout"],
        probe_interval=options["probe-interval"] or None,   # unix socket connections are never probed
        max_message_size=options["max-message-size"])
    operations = Operations(connection)
    top = MultiService()
    connection.setServiceParent(top)
    polkit = options["polkit"]
    if polkit == "auto" and options["bus"] != "system":
        polkit = "no"
    policy = Policy(allowed_gids=options["allowed-gids"], polkit=polkit)
    BusService(reactor, options["bus"], connection, operations, _stop_process, policy).setServiceParent(top)
    return top
