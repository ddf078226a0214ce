"""Start-up: when ovsdbus takes its bus name, and what it announces of the first sync.

ovsdbus asks for ``org.openvswitch.ovsdb`` only once its connection to ovsdb-server has settled
(:meth:`~ovsdbus.ovsdb.connection.OvsdbConnection.when_settled`): after the first sync has been
applied, or after the first attempt to reach ovsdb-server failed.  Before that no client can follow
the tree, so the objects of the first sync are never announced; a client that sees the name appear
reads ``Connected`` true and every object at once.  When ovsdb-server is absent the name appears
anyway (``Connected`` false), and the objects of the later sync are announced as any change is.

In process: the service's own OvsdbConnection and BusService on the fake OVSDB
(:mod:`ovsdbus.testing`) and a private dbus-daemon, with a txdbus client that listens to every
signal from before the service starts; and BusService alone with stand-ins for its connections,
for the order in which the bus and ovsdb-server come up.
"""

import gc
import os
import shutil
import tempfile

from twisted.internet import defer, reactor
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.trial.unittest import TestCase

from ovsdbus.api.legacy import LEGACY, MEMBERSHIP_SIGNALS
from ovsdbus.bus import service as service_module
from ovsdbus.bus.service import BusService, object_tree
from ovsdbus.ovsdb import connection as connection_module
from ovsdbus.ovsdb.connection import OvsdbConnection
from ovsdbus.ovsdb.remotes import RoundRobinEndpoint
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory, sandbox
from ovsdbus.testing.server import FakeOvsdbProtocol
from ovsdbus.vswitch.operations import MONITORED_COLUMNS, Operations
from tests import realstack
from tests.test_signals import _missing, add_bridge_ops, add_port_ops, bridge_path, interface_path, port_path

BUS_NAME = "org.openvswitch.ovsdb"
ROOT = "/org/openvswitch/ovsdb"
DBUS = "org.freedesktop.DBus"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
DEADLINE = 20.0


def _fake_db(*bridges):
    """The fake Open_vSwitch database with ``bridges`` (each with port ``<bridge>-p``)."""
    db = FakeOvsdb.open_vswitch(DEFAULT_SCHEMA_PATH)
    for name in bridges:
        db.transact(add_bridge_ops(name))
        db.transact(add_port_ops(name, name + "-p"))
    return db


def _objects_of(*bridges):
    """The Bridge/Port/Interface paths of ``bridges`` made by :func:`_fake_db`."""
    paths = set()
    for name in bridges:
        paths |= {bridge_path(name), port_path(name), interface_path(name), port_path(name + "-p"),
                  interface_path(name + "-p")}
    return paths


class _StartupTestCase(TestCase):
    """A private dbus-daemon, the fake OVSDB (not listening until :meth:`listen`), and a client on the
    bus recording every signal (``self.signals``: ``(sender, path, interface, member, body)``) from
    before the service starts."""

    def setUp(self):
        realstack.require_programs("dbus-daemon")
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            _missing("%s is not installed" % DEFAULT_SCHEMA_PATH)
        self.directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)
        self.bus = sandbox.DbusDaemon(self.directory).start()
        self.addCleanup(self.bus.stop)
        self.socket_path = os.path.join(self.directory, "db.sock")
        self.factory = FakeOvsdbFactory(_fake_db("br0", "br1"))
        self.addCleanup(self.factory.shutdown)
        self.signals = []
        self.name_appeared = None   # (Connected, GetManagedObjects) read as soon as the name appeared
        return self._subscribe()

    @defer.inlineCallbacks
    def _subscribe(self):
        client = yield realstack.connect(self, self.bus.address)
        self.client = client
        appeared = defer.Deferred()
        self.appeared = appeared

        def received(msg):
            self.signals.append((msg.sender, msg.path, msg.interface, msg.member, msg.body))
            if msg.member == "NameOwnerChanged" and msg.body[0] == BUS_NAME and msg.body[2] and not appeared.called:
                # What a client reads the moment it sees the name: GLib's object manager does this.
                reads = defer.gatherResults([realstack.get_property(client, "Connected"),
                                             client.callRemote(ROOT, "GetManagedObjects", interface=OBJECT_MANAGER,
                                                               destination=BUS_NAME)], consumeErrors=True)
                reads.chainDeferred(appeared)
        client.signalReceived = received
        yield client.callRemote("/org/freedesktop/DBus", "AddMatch", interface=DBUS, destination=DBUS,
                                signature="s", body=["type='signal'"])

    def listen(self):
        self.factory.listen_unix(self.socket_path)

    def start_service(self):
        """Start the connection and the bus service (stopped at cleanup)."""
        self.connection = OvsdbConnection(UNIXClientEndpoint(reactor, self.socket_path), MONITORED_COLUMNS, reactor,
                                          "Open_vSwitch", request_timeout=10, retry_policy=lambda attempt: 0.05)
        self.bus_lost = []
        self.service = BusService(reactor, self.bus.address, self.connection, Operations(self.connection),
                                  self.bus_lost.append,
                                  objects=object_tree(legacy=LEGACY, membership=MEMBERSHIP_SIGNALS))
        self.connection.startService()
        self.addCleanup(self.connection.stopService)
        self.addCleanup(self._stop_bus_service)
        return self.service.startService()

    def _stop_bus_service(self):
        bus_connection = self.service._bus_connection
        self.service.stopService()
        self.assertEqual(self.bus_lost, [])
        if bus_connection is None:
            return None
        return realstack.disconnect(bus_connection)

    def name_owned(self):
        return self.client.callRemote("/org/freedesktop/DBus", "NameHasOwner", interface=DBUS, destination=DBUS,
                                      signature="s", body=[BUS_NAME])

    def from_service(self, member=None):
        """``(path, member, body)`` of the signals the service sent (by its unique name), in order."""
        return [(path, m, body) for sender, path, _, m, body in self.signals
                if sender != DBUS and (member is None or m == member)]

    @defer.inlineCallbacks
    def marker(self, name):
        """Add bridge ``name`` on the fake and wait for its BridgeAdded: every signal of what came
        before has been received then."""
        self.factory.db.transact(add_bridge_ops(name))
        yield realstack.poll_until(lambda: any(m == "BridgeAdded" and body == [name]
                                               for _, m, body in self.from_service()),
                                   DEADLINE, interval=0.01, what="BridgeAdded of " + name)


class NameAfterFirstSyncTests(_StartupTestCase):
    """With ovsdb-server up, the name appears once the tree is filled."""

    @defer.inlineCallbacks
    def test_name_appears_with_the_tree_complete_and_nothing_announced(self):
        """While ovsdb-server has not answered yet the service is on the bus but does not own its
        name; when it appears, Connected is already true and GetManagedObjects holds every bridge,
        port and interface; the first sync sent no InterfacesAdded, no root signal and no
        PropertiesChanged (nobody could have heard them).  Later changes are announced as usual."""
        self.listen()
        self.factory.pause()   # the server holds every request: no sync until resumed
        yield self.start_service()
        yield realstack.poll_until(lambda: self.factory.connections and self.service.handler is not None,
                                   DEADLINE, what="the service to reach the bus and the fake")
        owned = yield self.name_owned()
        self.assertFalse(owned, "the name is owned before the first sync")
        self.factory.resume()
        connected, objects = yield self.appeared
        self.assertTrue(connected)
        self.assertTrue(_objects_of("br0", "br1") <= set(objects), sorted(objects))
        self.assertIn("org.openvswitch.ovsdb.Bridge", objects[bridge_path("br1")])

        yield self.marker("zz")
        self.assertEqual({path for path, _, _ in self.from_service("PropertiesChanged")} & _objects_of("br0", "br1"),
                         set(), "properties of the first sync's objects were announced")
        added = {body[0] for _, _, body in self.from_service("InterfacesAdded")}
        self.assertEqual(added & _objects_of("br0", "br1"), set(), "the first sync's objects were announced")
        self.assertIn(bridge_path("zz"), added)
        self.assertEqual([body for _, _, body in self.from_service("BridgeAdded")], [["zz"]])
        self.assertEqual([body[1]["Connected"] for path, _, body in self.from_service("PropertiesChanged")
                          if path == ROOT and "Connected" in body[1]], [])


class NameWithoutServerTests(_StartupTestCase):
    """With ovsdb-server absent, the name appears at the first failed attempt."""

    @defer.inlineCallbacks
    def test_name_appears_disconnected_then_objects_are_announced(self):
        """Nothing listens at the OVSDB socket: the name appears all the same, Connected false and no
        row objects.  Once ovsdb-server is there, its objects are announced with InterfacesAdded
        (and BridgeAdded, PortAdded, ...) before Connected turns true."""
        yield self.start_service()
        connected, objects = yield self.appeared
        self.assertFalse(connected)
        self.assertEqual(set(objects) & _objects_of("br0", "br1"), set())

        self.listen()
        yield realstack.poll_until(lambda: self.connection.synced, DEADLINE, what="the sync")
        yield self.marker("zz")
        signals = self.from_service()
        connected_at = [i for i, (path, member, body) in enumerate(signals)
                        if member == "PropertiesChanged" and path == ROOT and body[1].get("Connected") is True]
        self.assertEqual(len(connected_at), 1, signals)
        before = signals[:connected_at[0]]
        self.assertTrue(_objects_of("br0", "br1") <= {body[0] for _, m, body in before if m == "InterfacesAdded"})
        self.assertEqual(sorted(body for _, m, body in before if m == "BridgeAdded"), [["br0"], ["br1"]])


class ConnectionSettledTests(TestCase):
    """OvsdbConnection.when_settled: after the first sync, or once every remote failed once."""

    def setUp(self):
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            _missing("%s is not installed" % DEFAULT_SCHEMA_PATH)
        self.directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)
        self.factory = FakeOvsdbFactory(_fake_db("br0"))
        self.addCleanup(self.factory.shutdown)

    def start(self, *names, settle_timeout=DEADLINE):
        """A connection to the unix sockets ``names`` (in the test's directory), in turn."""
        endpoints = [UNIXClientEndpoint(reactor, os.path.join(self.directory, n)) for n in names]
        endpoint = endpoints[0] if len(endpoints) == 1 else RoundRobinEndpoint(endpoints)
        connection = OvsdbConnection(endpoint, MONITORED_COLUMNS, reactor, "Open_vSwitch", request_timeout=10,
                                     retry_policy=lambda attempt: 0.05, settle_timeout=settle_timeout)
        self.states = []
        connection.add_state_observer(self.states.append)
        connection.startService()
        self.addCleanup(connection.stopService)
        return connection

    @defer.inlineCallbacks
    def test_settles_at_the_first_sync(self):
        """With the server up, the connection settles once the first sync is applied and observers
        heard of it; a later waiter hears at once."""
        self.factory.listen_unix(os.path.join(self.directory, "db.sock"))
        connection = self.start("db.sock")
        self.assertFalse(connection.settled)
        yield connection.when_settled()
        self.assertTrue(connection.synced)
        self.assertEqual(self.states, [True])
        self.assertTrue(connection.when_settled().called)

    @defer.inlineCallbacks
    def test_settles_when_the_first_attempt_fails(self):
        """With nothing listening, the connection settles at the first failed attempt, not synced;
        it syncs once the server is there."""
        connection = self.start("db.sock")
        yield connection.when_settled()
        self.assertFalse(connection.synced)
        self.factory.listen_unix(os.path.join(self.directory, "db.sock"))
        yield realstack.poll_until(lambda: connection.synced, DEADLINE, what="the sync")

    @defer.inlineCallbacks
    def test_settles_after_the_settle_timeout_when_the_server_does_not_answer(self):
        """A server that accepts the connection but answers nothing settles the connection after
        ``settle_timeout`` seconds, not synced (the request timeout has not failed the attempt yet);
        once it answers, the connection syncs."""
        self.factory.listen_unix(os.path.join(self.directory, "db.sock"))
        self.factory.pause()
        connection = self.start("db.sock", settle_timeout=0.2)
        yield connection.when_settled()
        self.assertFalse(connection.synced)
        self.assertEqual(self.states, [])
        self.factory.resume()
        yield realstack.poll_until(lambda: connection.synced, DEADLINE, what="the sync")

    @defer.inlineCallbacks
    def test_a_server_that_answered_is_waited_for_past_the_settle_timeout(self):
        """A server that answers the schema requests but takes longer than ``settle_timeout`` to
        send its database (a large one) settles the connection only with its sync."""
        self.factory.listen_unix(os.path.join(self.directory, "db.sock"))
        serve = FakeOvsdbProtocol._serve_request

        def slow_monitor(protocol, method, params, msg_id):
            if method.startswith("monitor") and params[0] == "Open_vSwitch":
                reactor.callLater(0.6, serve, protocol, method, params, msg_id)
            else:
                serve(protocol, method, params, msg_id)
        self.patch(FakeOvsdbProtocol, "_serve_request", slow_monitor)
        connection = self.start("db.sock", settle_timeout=0.2)
        yield connection.when_settled()
        self.assertTrue(connection.synced)
        self.assertEqual(self.states, [True])

    @defer.inlineCallbacks
    def test_rows_of_a_large_first_sync_are_out_of_the_collectors_sight(self):
        """After a first sync of at least FREEZE_AT_ROWS rows (here lowered to 5), the rows are
        frozen (gc.freeze: full collections never walk them again) and the collector runs again."""
        self.patch(connection_module, "FREEZE_AT_ROWS", 5)
        gc.unfreeze()
        self.addCleanup(gc.unfreeze)
        self.factory.listen_unix(os.path.join(self.directory, "db.sock"))
        connection = self.start("db.sock")
        yield connection.when_settled()
        self.assertTrue(gc.isenabled())
        self.assertGreater(gc.get_freeze_count(), 0)
        row = next(iter(connection.replica.rows("Bridge").values()))
        self.assertFalse(any(o is row for o in gc.get_objects()), "a row is still in the collector's generations")

    @defer.inlineCallbacks
    def test_with_several_remotes_a_whole_round_fails_first(self):
        """With two remotes, the first absent and the second up, the failure of the first does not
        settle the connection: the sync with the second does."""
        self.factory.listen_unix(os.path.join(self.directory, "b.sock"))
        connection = self.start("a.sock", "b.sock")
        yield connection.when_settled()
        self.assertTrue(connection.synced)


# -- the order in which the bus and ovsdb-server come up, with stand-ins ----------------------------

class _Connection:
    """What BusService uses of an OvsdbConnection; :meth:`settle` settles it."""

    synced = False
    member = ""
    leader = False
    replica = None

    def __init__(self):
        self.settled = False
        self._waiters = []

    def add_observer(self, observer):
        pass

    add_state_observer = add_member_observer = add_observer

    def when_settled(self):
        d = defer.Deferred()
        if self.settled:
            d.callback(None)
        else:
            self._waiters.append(d)
        return d

    def settle(self):
        self.settled = True
        for d in self._waiters:
            d.callback(None)


class _BusConnection:
    """What BusService uses of a txdbus connection; records the names asked for."""

    def __init__(self):
        self.requested = []
        self._receivedFDs = []
        self.transport = None

    def rawDBusMessageReceived(self, raw):
        pass

    def notifyOnDisconnect(self, callback):
        pass

    def requestBusName(self, name):
        self.requested.append(name)
        return defer.succeed(1)

    def disconnect(self):
        pass


class OrderTests(TestCase):
    """The name is asked for once both the bus and the OVSDB connection are ready, in either order."""

    def setUp(self):
        self.connection = _Connection()
        self.bus_connection = _BusConnection()
        self.lost = []
        self.service = BusService(reactor, "session", self.connection, None, self.lost.append)
        self.bus_up = defer.Deferred()
        self.patch(service_module, "connect", lambda reactor, bus: self.bus_up)
        self.service.startService()
        self.addCleanup(self.service.stopService)

    def test_bus_first(self):
        """Connected to the bus before the OVSDB connection settled: the name is asked for when it
        settles, not before, and nothing is queued to be sent meanwhile."""
        self.bus_up.callback(self.bus_connection)
        self.service._state_changed(False)
        self.assertEqual(self.bus_connection.requested, [])
        self.assertFalse(self.service.announcing)
        self.assertEqual(len(self.service._outbox), 0)
        self.connection.settle()
        self.assertEqual(self.bus_connection.requested, [BUS_NAME])
        self.assertTrue(self.service.announcing)
        self.assertEqual(self.lost, [])

    def test_sync_first(self):
        """The OVSDB connection settled before the bus connected: the name is asked for at once
        when the bus connects, and only once."""
        self.connection.settle()
        self.assertEqual(self.bus_connection.requested, [])
        self.bus_up.callback(self.bus_connection)
        self.service._own_name()
        self.assertEqual(self.bus_connection.requested, [BUS_NAME])
        self.assertEqual(self.lost, [])
