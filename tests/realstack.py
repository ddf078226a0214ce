"""The real stack for end-to-end tests: ovsdb-server, a private dbus-daemon and ``twistd -n ovsdbus``.

Blocking parts (starting and stopping daemons, :meth:`RealStack.vsctl`, :meth:`RealStack.dump`)
use :mod:`ovsdbus.testing.sandbox` and serve ``setUp`` code; the asynchronous parts (:func:`connect`,
:func:`poll_until`, :func:`run`) keep the reactor turning while the service, a separate process,
works.  Everything lives in a fresh ``tempfile.mkdtemp(prefix="ovsdbus-")`` directory (short:
unix socket paths are limited to 107 bytes) and every daemon is stopped by its pid.

trial does not call ``setUpClass``/``tearDownClass``, so a stack shared by the tests of a class is
started lazily by :func:`shared_stack` and stopped when a test of another class asks for its own,
by ``tearDownClass`` under pytest, or at the latest when the test process exits.

Missing programs skip the tests on a developer machine but fail them when ``CI`` is set.
"""

import atexit
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

from twisted.internet import defer, reactor, task, utils
from txdbus import client as txdbus_client
from txdbus.error import RemoteError

from ovsdbus.api import BUS_NAME, INTERFACE, OBJECT_PATH  # noqa: F401 (re-exported for the tests)
from ovsdbus.testing import sandbox

PROPERTIES = "org.freedesktop.DBus.Properties"
ERROR = "org.openvswitch.ovsdb.Error."
DBUS_ERROR = "org.freedesktop.DBus.Error."

#: Programs every real-stack test needs.
STACK_PROGRAMS = ("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovsdb-client", "dbus-daemon", "busctl")

#: Seconds any one D-Bus call may take before a test gives up on it.
CALL_TIMEOUT = 10.0


def require_programs(*names):
    """Skip the test when a program is missing; fail it instead when ``CI`` is set."""
    missing = sandbox.missing_binaries(*names)
    if missing:
        message = "not installed: %s" % ", ".join(missing)
        if os.environ.get("CI"):
            raise AssertionError(message + " (CI is set: real-stack tests must run, not skip)")
        raise unittest.SkipTest(message)


#: What :class:`RealStack` runs the service against: one ovsdb-server on a unix socket, a
#: three-member Raft cluster (``--ovsdb unix:a,unix:b,unix:c``), or one ovsdb-server reached over
#: ``ssl:`` with certificates made at start.
KINDS = ("standalone", "cluster", "tls")


class RealStack:
    """ovsdb-server + dbus-daemon + the ovsdbus service, in a new short temporary directory.

    ``service_args`` are extra ``twistd ovsdbus`` options.  ``kind`` (one of :data:`KINDS`) says
    what stands for ovsdb-server: a :class:`~ovsdbus.testing.sandbox.OvsdbServer`, an
    :class:`~ovsdbus.testing.sandbox.OvsdbCluster` (same interface; ``vsctl`` goes through all
    members, ``dump`` reads the leader), or an OvsdbServer also listening on ``pssl:`` that the
    service reaches over ``ssl:`` with ``--private-key``/``--certificate``/``--ca-cert``
    (``vsctl`` and ``dump`` still use the unix socket).  :meth:`start` starts all three
    (ovsdb-server only with ``ovsdb=True``); :meth:`stop` stops whatever runs and removes the
    directory.  The database file survives :meth:`stop_ovsdb`/:meth:`start_ovsdb`.
    """

    def __init__(self, service_args=(), kind="standalone"):
        if kind not in KINDS:
            raise ValueError("kind must be one of %s, not %r" % (", ".join(KINDS), kind))
        require_programs(*STACK_PROGRAMS, *{"cluster": ("ovs-appctl",), "tls": ("openssl",)}.get(kind, ()))
        self.kind = kind
        self.directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.tls = None
        if kind == "cluster":
            self.ovsdb = sandbox.OvsdbCluster(self.directory)
        elif kind == "tls":
            self.tls = sandbox.make_pki(self.directory)
            self.ovsdb = sandbox.OvsdbServer(self.directory, tls=self.tls)
            service_args = (*self.tls.client_args(), *service_args)
        else:
            self.ovsdb = sandbox.OvsdbServer(self.directory)
        self.dbus = sandbox.DbusDaemon(self.directory)
        self.service_args = tuple(service_args)
        self.service = None

    @property
    def bus_address(self):
        """The private bus's address, ``unix:path=DIR/bus.sock,guid=...``."""
        return self.dbus.address

    def start(self, ovsdb=True, remote=None):
        """Start ovsdb-server (if ``ovsdb``), the bus and the service; return ``self``.

        The service connects to ``remote``: by default ovsdb-server's unix socket; a callable is
        called with this stack once ovsdb-server runs (so it can add a listener) and returns the
        ``--ovsdb`` value.  On failure everything started so far is stopped and the directory removed.
        """
        try:
            if ovsdb:
                self.ovsdb.start()
            if remote is None:
                remote = self.ovsdb.ssl_remote if self.kind == "tls" else self.ovsdb.remote
            elif callable(remote):
                remote = remote(self)
            self.dbus.start()
            self.service = sandbox.ServiceProcess(remote, self.dbus.address, self.service_args,
                                                  directory=self.directory)
            self.service.start()
        except BaseException:
            self.stop()
            raise
        return self

    def add_tcp_remote(self):
        """Make the running ovsdb-server also listen on a free 127.0.0.1 port; return ``tcp:127.0.0.1:PORT``.

        The listener lasts as long as this ovsdb-server process (``ovs-appctl`` ``add-remote``).
        """
        require_programs("ovs-appctl")
        port = sandbox.free_tcp_port()
        sandbox._run([sandbox.find_binary("ovs-appctl"), "-t", str(self.ovsdb.ctl_path),
                      "ovsdb-server/add-remote", "ptcp:%d:127.0.0.1" % port], env=self.ovsdb._ovs_env())
        sandbox.wait_until(lambda: sandbox.accepts(port), 5, "ovsdb-server to listen on port %d" % port)
        return "tcp:127.0.0.1:%d" % port

    @property
    def healthy(self):
        """True while all three processes run."""
        return self.ovsdb.running and self.dbus.running and self.service is not None and self.service.running

    def start_ovsdb(self):
        """(Re)start ovsdb-server on the same database file."""
        self.ovsdb.start()

    def stop_ovsdb(self):
        """Stop ovsdb-server (by pid); the database file stays."""
        self.ovsdb.stop()

    def stop(self):
        """Stop the service, the bus and ovsdb-server, each by pid, and remove the directory."""
        try:
            if self.service is not None:
                self.service.stop(remove=False)
            self.dbus.stop()
            self.ovsdb.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def service_log(self):
        """The last lines of the service's log, for failure messages."""
        return sandbox.log_tail(self.directory + "/service.log")

    def log_position(self):
        """Where the service's log ends now; see :meth:`tracebacks_since`."""
        try:
            return os.path.getsize(os.path.join(self.directory, "service.log"))
        except OSError:
            return 0

    def tracebacks_since(self, position=0):
        """The unhandled errors and tracebacks the service logged after ``position``, as one text
        (empty when there are none)."""
        try:
            with open(os.path.join(self.directory, "service.log"), encoding="utf-8", errors="replace") as log:
                log.seek(position)
                text = log.read()
        except OSError:
            return ""
        lines = text.splitlines()
        found = [i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line
                 or "Unhandled Error" in line or "Unhandled error in Deferred" in line]
        return "\n".join(lines[max(0, found[0] - 3):found[0] + 40]) if found else ""

    # -- looking at the database directly ----------------------------------------

    def vsctl(self, *args):
        """``ovs-vsctl --db=REMOTE --no-wait ARGS``; returns stdout, raises SandboxError on failure."""
        return self.ovsdb.vsctl(*args)

    def vsctl_async(self, *args):
        """``ovs-vsctl --db=REMOTE --no-wait ARGS`` without blocking the reactor: Deferred of
        ``(code, stdout, stderr)``."""
        argv = [sandbox.find_binary("ovs-vsctl"), "--db=" + self.ovsdb.remote, "--no-wait", "--timeout=10"]
        return run(argv + [str(a) for a in args], env=self.ovsdb._ovs_env())

    def clear(self):
        """Delete every bridge with ovs-vsctl (their ports and interfaces go with them)."""
        args = []
        for bridge in self.vsctl("list-br").split():
            args += ["--", "del-br", bridge]
        if args:
            self.vsctl(*args[1:])

    def dump(self):
        """The whole database as ``{table: sorted [row JSON text]}`` (uuids and versions included).

        Two dumps are equal exactly when nothing in the database changed in between.
        """
        remote = self.ovsdb.remote
        if self.kind == "cluster":   # ovsdb-client dump takes one remote: the leader has every commit
            leader = sandbox.wait_until(self.ovsdb.leader, 20, "the cluster to have a leader")
            remote = leader.remote
        argv = [sandbox.find_binary("ovsdb-client"), "dump", "--format=json", remote, "Open_vSwitch"]
        out = sandbox._run(argv, env=self.ovsdb._ovs_env())
        tables = {}
        for line in out.splitlines():
            if line.strip():
                table = json.loads(line)
                name = table["caption"].rsplit(" table", 1)[0]
                tables[name] = sorted(json.dumps(dict(zip(table["headings"], row, strict=True)), sort_keys=True)
                                      for row in table["data"])
        return tables

    def rows(self, table):
        """The rows of ``table`` as dicts of decoded OVSDB JSON."""
        return [json.loads(r) for r in self.dump().get(table, [])]

    def integrity_problems(self):
        """Rows nothing refers to, and references to rows that do not exist; empty when sound.

        A bridge not in Open_vSwitch.bridges, a port no bridge has, an interface no port has:
        OVSDB's garbage collection should never let one survive a transaction.
        """
        tables = {t: [json.loads(r) for r in rows] for t, rows in self.dump().items()}
        uuids = {t: {r["_uuid"][1]: r for r in rows} for t, rows in tables.items()}
        problems = []
        for child, parent, column in (("Bridge", "Open_vSwitch", "bridges"), ("Port", "Bridge", "ports"),
                                      ("Interface", "Port", "interfaces")):
            referenced = set()
            for row in tables.get(parent, []):
                referenced |= set(uuid_set(row[column]))
            for uuid, row in uuids.get(child, {}).items():
                if uuid not in referenced:
                    problems.append("%s %r (%s) is not in any %s.%s" % (child, row.get("name"), uuid, parent, column))
            for uuid in referenced - set(uuids.get(child, {})):
                problems.append("%s.%s refers to missing %s %s" % (parent, column, child, uuid))
        return problems

    def names(self, table):
        """Sorted names of the rows of ``table``."""
        return sorted(r["name"] for r in self.rows(table))


def tcp_client_ports(server_port):
    """Local ports of this machine's established IPv4 TCP connections to 127.0.0.1:``server_port``.

    Read from /proc/net/tcp, so it works while the server is frozen (the kernel completes
    handshakes into the listen backlog even then).
    """
    ports = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "01" and remote == "0100007F:%04X" % server_port:
                ports.add(int(local.split(":")[1], 16))
    return ports



def uuid_set(value):
    """The uuids in an OVSDB JSON set of uuids (a one-element set may be a bare ``["uuid", u]``)."""
    if value[0] == "uuid":
        return [value[1]]
    return [atom[1] for atom in value[1]]


# -- one shared stack per test class -------------------------------------------------

_shared = {"owner": None, "stack": None}


def shared_stack(owner, service_args=()):
    """The stack shared by the tests of class ``owner``, started on first use.

    Its kind is ``owner.stack_kind`` (default ``"standalone"``; see :data:`KINDS`), so that a
    subclass with ``stack_kind = "cluster"`` runs the same tests against a Raft cluster.
    A stack left by another class is stopped first; one whose processes died is replaced.
    """
    stack = _shared["stack"]
    if stack is not None and (_shared["owner"] is not owner or not stack.healthy):
        stop_shared_stack()
        stack = None
    if stack is None:
        stack = RealStack(service_args, kind=getattr(owner, "stack_kind", "standalone")).start()
        _shared["owner"], _shared["stack"] = owner, stack
    return stack


def stop_shared_stack(owner=None):
    """Stop the shared stack (only if it belongs to ``owner``, when given)."""
    stack = _shared["stack"]
    if stack is not None and (owner is None or _shared["owner"] is owner):
        _shared["owner"], _shared["stack"] = None, None
        stack.stop()


atexit.register(stop_shared_stack)


# -- asynchronous helpers ------------------------------------------------------------------

@defer.inlineCallbacks
def poll_until(predicate, timeout=10.0, interval=0.05, what=None):
    """Call ``predicate`` (it may return a Deferred) until its result is true; fire with that result.

    Fails with AssertionError naming ``what`` when ``timeout`` seconds pass first.  Exceptions
    from the predicate count as "not yet".
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = yield defer.maybeDeferred(predicate)
        except Exception as e:
            value, last = None, e
        else:
            last = value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %s s waiting for %s (last: %r)"
                                 % (timeout, what or getattr(predicate, "__name__", "a condition"), last))
        yield task.deferLater(reactor, interval, lambda: None)


@defer.inlineCallbacks
def connect(testcase, bus_address):
    """A txdbus client connection to ``bus_address``, disconnected (and waited for) at cleanup."""
    conn = yield txdbus_client.connect(reactor, bus_address)
    testcase.addCleanup(disconnect, conn)
    return conn


def disconnect(conn):
    """Disconnect a txdbus connection; the Deferred fires once the socket is closed."""
    if conn.transport is None or not conn.transport.connected:
        return defer.succeed(None)
    d = defer.Deferred()
    conn.notifyOnDisconnect(lambda _conn, _reason: d.called or d.callback(None))
    conn.disconnect()
    return d


def call(conn, method, signature="", *args, interface=INTERFACE, path=OBJECT_PATH, timeout=CALL_TIMEOUT):
    """Call ``method`` of the service with an explicit ``signature``; Deferred of the result."""
    return conn.callRemote(path, method, interface=interface, destination=BUS_NAME,
                           signature=signature or None, body=list(args) or None, timeout=timeout)


@defer.inlineCallbacks
def call_error(conn, method, signature="", *args, **kwargs):
    """The D-Bus error name ``method`` answers with; AssertionError if it succeeds."""
    try:
        result = yield call(conn, method, signature, *args, **kwargs)
    except RemoteError as e:
        return e.errName
    raise AssertionError("%s%r succeeded (%r) but should have failed" % (method, args, result))


def get_property(conn, name, interface=INTERFACE, path=OBJECT_PATH):
    """Deferred of property ``name`` of the root object (org.freedesktop.DBus.Properties.Get)."""
    return call(conn, "Get", "ss", interface, name, interface=PROPERTIES, path=path)


def run(argv, env=None, timeout=30):
    """Run a program without blocking the reactor; Deferred of ``(code, stdout, stderr)`` as text.

    The program is killed after ``timeout`` seconds (by coreutils' timeout, by pid; status 124).
    """
    limiter = sandbox.find_binary("timeout")
    if limiter is not None and timeout is not None:
        argv = [limiter, "-k", "5", str(timeout)] + list(argv)
    d = utils.getProcessOutputAndValue(argv[0], argv[1:], env=dict(os.environ if env is None else env))

    def decode(result):
        out, err, code = result
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def killed(failure):
        # getProcessOutputAndValue errbacks with (out, err, signal) when the program was killed.
        value = failure.value
        out, err, signum = value if isinstance(value, tuple) else value.args
        return -signum, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    return d.addCallbacks(decode, killed)


def busctl(bus_address, *args):
    """``busctl --address=BUS ARGS`` (Deferred of ``(code, stdout, stderr)``)."""
    return run([sandbox.find_binary("busctl"), "--address=" + bus_address, *args])


def busctl_call(bus_address, method, signature="", *args):
    """``busctl call`` a method of the service."""
    extra = [signature, *args] if signature else []
    return busctl(bus_address, "call", BUS_NAME, OBJECT_PATH, INTERFACE, method, *extra)


def gdbus_call(bus_address, method, *args, interface=INTERFACE):
    """``gdbus call`` a method of the service (gdbus gets the signature by introspection)."""
    return run([sandbox.find_binary("gdbus"), "call", "--address", bus_address, "--dest", BUS_NAME,
                "--object-path", OBJECT_PATH, "--method", "%s.%s" % (interface, method), *args])


def twistd_argv(*args):
    """``python -c 'twistd' ARGS`` as ServiceProcess runs it (needs :func:`checkout_env`)."""
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", *args]


def checkout_env():
    """``os.environ`` with this checkout first on PYTHONPATH, so twistd finds the ovsdbus plugin."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


# -- a stack with ovs-vswitchd ---------------------------------------------------------------

class VswitchdStack(RealStack):
    """A :class:`RealStack` with an ovs-vswitchd (:class:`~ovsdbus.testing.sandbox.Vswitchd`, its
    ``datapath``) applying the database, started after the service and stopped with the stack.

    A test may stop :attr:`vswitchd` (to see what happens without it); :func:`shared_vswitchd_stack`
    starts it again for the next test.
    """

    def __init__(self, service_args=(), kind="standalone", datapath="dummy"):
        require_programs("ovs-vswitchd", "ovs-appctl", "ovs-ofctl")
        super().__init__(service_args, kind)
        self.vswitchd = sandbox.Vswitchd(self.directory, self.ovsdb, datapath=datapath)

    def start(self, ovsdb=True, remote=None):
        """Start what :meth:`RealStack.start` starts, then ovs-vswitchd; return ``self``."""
        super().start(ovsdb, remote)
        try:
            self.vswitchd.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop ovs-vswitchd (by pid), then the rest as :meth:`RealStack.stop` does."""
        try:
            self.vswitchd.stop()
        finally:
            super().stop()

    def appctl(self, *args):
        """``ovs-appctl -t VSWITCHD_CTL ARGS``: ovs-vswitchd's stdout (SandboxError on failure)."""
        return self.vswitchd.appctl(*args)

    def ofctl(self, *args):
        """``ovs-ofctl ARGS`` with this stack's run directory (where ``BRIDGE.mgmt`` sockets are)."""
        return sandbox._run([sandbox.find_binary("ovs-ofctl"), *[str(a) for a in args]],
                            env=self.ovsdb._ovs_env())

    def mgmt(self, bridge):
        """The OpenFlow management socket of ``bridge`` (for ``ovs-ofctl``), as a ``unix:`` target."""
        return "unix:%s/%s.mgmt" % (self.directory, bridge)


def shared_vswitchd_stack(owner, service_args=(), datapath="dummy"):
    """Like :func:`shared_stack`, with a :class:`VswitchdStack`; ovs-vswitchd is (re)started if a
    previous test stopped it."""
    stack = _shared["stack"]
    if stack is not None and (_shared["owner"] is not owner or not stack.healthy
                              or not isinstance(stack, VswitchdStack)):
        stop_shared_stack()
        stack = None
    if stack is None:
        stack = VswitchdStack(service_args, kind=getattr(owner, "stack_kind", "standalone"),
                              datapath=datapath).start()
        _shared["owner"], _shared["stack"] = owner, stack
    if not stack.vswitchd.running:
        stack.vswitchd.start()
    return stack
