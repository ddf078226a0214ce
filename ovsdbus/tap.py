"""``twistd ovsdbus``: command-line options and the service they build."""

import grp
import os
import signal
import sys

from twisted.internet.error import ReactorNotRunning
from twisted.logger import Logger
from twisted.python import usage

from ovsdbus.bus.authorization import POLKIT_MODES
from ovsdbus.openflow.keeper import DEFAULT_CHECK_INTERVAL
from ovsdbus.openflow.ofctl import DEFAULT_TIMEOUT as DEFAULT_OFCTL_TIMEOUT
from ovsdbus.openflow.ofctl import default_rundir
from ovsdbus.ovsdb.cluster import member_order
from ovsdbus.ovsdb.framing import DEFAULT_MAX_VALUE_SIZE
from ovsdbus.ovsdb.remotes import DEFAULT_REMOTE, TlsFiles, TlsSetupError, parse_remotes, tls_context
from ovsdbus.ovsdb.schema import is_valid_id

DEFAULT_PROBE_INTERVAL = 5.0

#: Where ovsdbus keeps its state (systemd's StateDirectory=ovsdbus).
DEFAULT_STATE_DIRECTORY = "/var/lib/ovsdbus"

log = Logger()


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
    optFlags = [
        ["no-shuffle-remotes", None,
         "Try the remotes of --ovsdb in the order given. By default they are tried in a random order "
         "(as ovs-vsctl's --shuffle-remotes), so that many clients spread over a cluster's members."],
    ]
    optParameters = [
        ["ovsdb", None, DEFAULT_REMOTE,
         "ovsdb-server remote(s) in OVS syntax: unix:PATH, tcp:HOST:PORT, ssl:HOST:PORT, or a "
         "comma-separated list tried in turn. ssl: needs --private-key, --certificate and --ca-cert "
         "(or --bootstrap-ca-cert)."],
        ["private-key", "p", None, "For ssl: remotes, the PEM file with ovsdbus's private key (as ovs-vsctl's)."],
        ["certificate", "c", None,
         "For ssl: remotes, the PEM file with the certificate of --private-key, signed by a CA ovsdb-server "
         "trusts (ovsdb-server requires a client certificate)."],
        ["ca-cert", "C", None,
         "For ssl: remotes, the PEM file with the CA certificate ovsdb-server's certificate must be signed by. "
         "As with ovs-vsctl, only that is checked, not the host name (OVS certificates name none)."],
        ["bootstrap-ca-cert", None, None,
         "Instead of --ca-cert: use this PEM file as the CA certificate if it exists; if not, trust the CA "
         "certificate ovsdb-server sends on the first connection (ovsdb-server --peer-ca-cert), save it here "
         "and reconnect. Exposes that first connection to a man in the middle, as in OVS."],
        ["database", None, "Open_vSwitch",
         "Name of the database to serve. With another database than Open_vSwitch (any schema), the "
         "generic methods of org.openvswitch.ovsdb.Database and the object tree work, and the Open_vSwitch "
         "verbs answer org.openvswitch.ovsdb.Error.NotSupported."],
        ["leader-only", None, "yes",
         "yes: with a clustered (Raft) database, use only the cluster's leader, moving to the new leader "
         "when it changes; no: any member connected to the cluster (reads may then lag a little behind the "
         "leader; writes are forwarded to it). Either way a member whose data is older than what ovsdbus "
         "has already seen is not used."],
        ["bus", None, "system", "D-Bus bus: system, session, or a D-Bus address such as unix:path=/run/x/bus."],
        ["timeout", None, 30.0, "Seconds to wait for each reply from ovsdb-server.", _positive],
        ["probe-interval", None, DEFAULT_PROBE_INTERVAL,
         "Seconds of silence on a tcp/ssl connection before an echo probe (unix sockets are not probed); "
         "0 disables.", float],
        ["max-message-size", None, DEFAULT_MAX_VALUE_SIZE, "Largest JSON message accepted from ovsdb-server, in bytes.",
         int],
        ["allow-group", None, None,
         "Members of this unix group (name or gid; a comma-separated list for several) may change the "
         "switch without asking polkit (but not open it to remote control: see --allow-remote-group). root "
         "and the service's own user always may."],
        ["allow-remote-group", None, None,
         "Members of this unix group (name or gid; comma-separated for several) may also set controllers, "
         "managers and SSL (polkit action org.openvswitch.ovsdb.modify-remote) without asking polkit."],
        ["polkit", None, "auto",
         "Ask polkit (action org.openvswitch.ovsdb.modify) for other callers: auto (on the system bus, if "
         "polkit is there), yes (on any bus; refuse when polkit is not there), no (never; refuse). On another "
         "bus anyone could pose as polkit, so auto does not ask it there."],
        ["state-directory", None, DEFAULT_STATE_DIRECTORY,
         "Directory of ovsdbus's state: flows.json, the OpenFlow flows kept across ovs-vswitchd restarts "
         "(org.openvswitch.ovsdb.Flows with persist true). Empty: flows cannot be persisted."],
        ["ovs-rundir", None, default_rundir(),
         "Open vSwitch's run directory, where ovs-vswitchd's <bridge>.mgmt OpenFlow sockets are (default: "
         "$OVS_RUNDIR, else /var/run/openvswitch)."],
        ["ofctl-timeout", None, DEFAULT_OFCTL_TIMEOUT,
         "Seconds each ovs-ofctl run (one Flows call) may take before ovs-vswitchd counts as not answering "
         "(org.openvswitch.ovsdb.Error.SwitchUnavailable).", _positive],
        ["flows-check-interval", None, DEFAULT_CHECK_INTERVAL,
         "Seconds between checks that the persisted flows are installed (they are also checked when OVSDB "
         "shows ovs-vswitchd restarting or a bridge re-created); 0: only then.", float],
    ]

    def postOptions(self):
        try:
            self["remotes"] = member_order(parse_remotes(self["ovsdb"]), shuffle=not self["no-shuffle-remotes"])
        except ValueError as e:
            raise usage.UsageError("--ovsdb: %s" % e) from None
        self["tls"] = self._tls_files()
        if not is_valid_id(self["database"]):
            raise usage.UsageError("--database: %r is not an OVSDB database name" % self["database"])
        if self["leader-only"] not in ("yes", "no"):
            raise usage.UsageError("--leader-only must be yes or no")
        if not self["bus"]:
            raise usage.UsageError("--bus must not be empty")
        if self["probe-interval"] < 0:
            raise usage.UsageError("--probe-interval must be >= 0")
        if self["max-message-size"] < 1024:
            raise usage.UsageError("--max-message-size must be at least 1024")
        if self["polkit"] not in POLKIT_MODES:
            raise usage.UsageError("--polkit must be one of %s" % ", ".join(POLKIT_MODES))
        self["allowed-gids"] = _parse_groups(self["allow-group"])
        self["remote-gids"] = _parse_groups(self["allow-remote-group"], "--allow-remote-group")
        if self["flows-check-interval"] < 0:
            raise usage.UsageError("--flows-check-interval must be >= 0")
        if not self["ovs-rundir"]:
            raise usage.UsageError("--ovs-rundir must not be empty")

    def _tls_files(self):
        """The TlsFiles for ssl remotes (None when there are none), checked now, so that a wrong
        path or a key that does not match its certificate stops ovsdbus at once."""
        if not any(r.kind == "ssl" for r in self["remotes"]):
            return None
        if self["ca-cert"] and self["bootstrap-ca-cert"]:
            raise usage.UsageError("--ca-cert and --bootstrap-ca-cert exclude each other")
        missing = [o for o in ("private-key", "certificate") if not self[o]]
        if not (self["ca-cert"] or self["bootstrap-ca-cert"]):
            missing.append("ca-cert (or --bootstrap-ca-cert)")
        if missing:
            raise usage.UsageError("--ovsdb: ssl remotes need %s" % ", ".join("--" + o for o in missing))
        if self["ca-cert"] == "none":
            raise usage.UsageError("--ca-cert none (no verification of ovsdb-server) is not supported")
        bootstrap = bool(self["bootstrap-ca-cert"])
        files = TlsFiles(self["private-key"], self["certificate"], self["ca-cert"] or self["bootstrap-ca-cert"],
                         bootstrap)
        if bootstrap and not os.path.isdir(os.path.dirname(os.path.abspath(files.ca_cert))):
            raise usage.UsageError("--bootstrap-ca-cert %s: no such directory" % files.ca_cert)
        try:
            tls_context(files)
        except TlsSetupError as e:
            raise usage.UsageError(str(e)) from None
        return files


def _parse_groups(text, option="--allow-group"):
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
            raise usage.UsageError("%s: no group named %r" % (option, item)) from None
    return gids


class ProcessExit:
    """How the ovsdbus process ends, and with which exit status.

    - A requested stop (SIGTERM, as from systemd, or SIGINT) exits with status 0 and logs no
      error, even when the bus goes away meanwhile: at system shutdown dbus-daemon gets its
      SIGTERM at the same moment.
    - Losing the bus while running logs an error and exits with status 1, so that the
      supervisor (systemd's ``Restart=on-failure``) starts a fresh process: txdbus never
      reconnects.

    Twisted's own SIGTERM handler would make twistd kill itself with SIGTERM once stopped
    (no exit status at all), and a second ``reactor.stop()`` raises ``ReactorNotRunning``;
    :meth:`install` puts this object's handler in its place, and every way of stopping goes
    through :meth:`_stop`, which stops the reactor once.

    :param reactor: the reactor (``IReactorCore``) to stop.
    :param exit: called with the status after the reactor has shut down when it is not 0
        (default :func:`os._exit`; twistd ends with 0 by itself).
    """

    def __init__(self, reactor, exit=os._exit):
        self.reactor = reactor
        self._exit = exit
        self.stop_requested = False
        self.bus_lost = False
        self._stopping = False

    @property
    def status(self):
        """The exit status the process will have: 0 unless the bus was lost without a requested stop."""
        return 1 if self.bus_lost and not self.stop_requested else 0

    def install(self):
        """Handle SIGTERM and SIGINT once the reactor runs (after Twisted installed its own
        handlers, which these replace) and exit with :attr:`status` after shutdown."""
        self.reactor.callWhenRunning(self._take_signals)
        self.reactor.addSystemEventTrigger("after", "shutdown", self._exit_with_status)

    def _take_signals(self):
        signal.signal(signal.SIGTERM, self.request_stop)
        # SIGINT only where Twisted handles it (not when it was inherited as ignored).
        if callable(signal.getsignal(signal.SIGINT)):
            signal.signal(signal.SIGINT, self.request_stop)

    def request_stop(self, signum=None, frame=None):
        """Stop the process with status 0 (also a signal handler: it only takes a note and
        hands the stop over to the reactor)."""
        self.stop_requested = True
        self.reactor.callFromThread(self._stop, signum)

    def on_bus_lost(self, reason):
        """``BusService``'s ``on_bus_lost``: log ``reason`` and stop, with status 1 unless a
        stop was requested (then the bus going away is expected and logged as information)."""
        self.bus_lost = True
        if self.stop_requested:
            log.info("{reason} (while stopping)", reason=reason)
        else:
            log.error("{reason}; stopping with exit status 1 so that a fresh process can start", reason=reason)
        self._stop()

    def _stop(self, signum=None):
        if signum is not None:
            log.info("received {signal}: stopping", signal=signal.Signals(signum).name)
        if self._stopping:
            return
        self._stopping = True
        if self.reactor.running:
            self._stop_reactor()
        else:
            self.reactor.callWhenRunning(self._stop_reactor)

    def _stop_reactor(self):
        try:
            self.reactor.stop()
        except ReactorNotRunning:
            pass  # someone else stopped it already: it is shutting down, as wanted

    def _exit_with_status(self):
        status = self.status
        if status:
            sys.stdout.flush()
            sys.stderr.flush()
            self._exit(status)


def makeService(options, reactor=None):
    """Build the ovsdbus service: the OVSDB connection and the D-Bus service.

    The process's SIGTERM/SIGINT handling and exit status are taken over (see :class:`ProcessExit`).
    """
    if reactor is None:
        from twisted.internet import reactor
    from ovsdbus.app import build_service  # txdbus only once the service is built

    process_exit = ProcessExit(reactor)
    process_exit.install()
    return build_service(
        reactor, options["remotes"], options["bus"], process_exit.on_bus_lost, tls=options["tls"],
        database=options["database"], leader_only=options["leader-only"] == "yes",
        timeout=options["timeout"],
        probe_interval=options["probe-interval"] or None,   # unix socket connections are never probed
        max_message_size=options["max-message-size"],
        allowed_gids=options["allowed-gids"], remote_gids=options["remote-gids"], polkit=options["polkit"],
        state_directory=options["state-directory"] or None, ovs_rundir=options["ovs-rundir"],
        ofctl_timeout=options["ofctl-timeout"], flows_check_interval=options["flows-check-interval"])
