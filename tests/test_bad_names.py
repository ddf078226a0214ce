"""End to end: names and strings D-Bus cannot carry, sent by an OVSDB peer, never stop the service.

A D-Bus string is UTF-8 with no NUL; dbus-daemon drops the connection of a sender that breaks
this, and the service exits when it loses the bus.  The policy (README, "Names"; ovsdbus.projection.view):
a bridge, port or interface whose name D-Bus cannot carry is not shown anywhere, with one
warning in the log per row; any other string is shown with U+FFFD in place of what D-Bus
cannot carry.

ovsdb-server 3.1 itself never sends such names: it refuses ``"\\u0000"`` in a JSON string ("null
bytes not supported in quoted strings"), a lone ``"\\ud800"`` ("malformed escaped surrogate
pair") and the UTF-8 bytes of a surrogate ("not a valid UTF-8 string").  So the peer here is the
fake OVSDB of :mod:`ovsdbus.testing`, in this process on a unix socket, writing its JSON in
ASCII (a lone surrogate as the escape ``\\ud800``, as any JSON writer may).  The service is the
real ``twistd -n ovsdbus`` on a private dbus-daemon (:mod:`tests.realstack`); the client is
txdbus in this process.  Missing programs skip these tests, or fail them under CI.
"""

import os
import unittest
from types import SimpleNamespace

import ujson
from twisted.internet import defer
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import TestCase
from txdbus.message import parseMessage

from ovsdbus.bus import wire as dbuswire
from ovsdbus.bus.service import BusService
from ovsdbus.projection.view import escape_path_element
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory, FakeOvsdbProtocol
from tests import realstack

OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
ROOT_SIGNALS = ("BridgeAdded", "BridgeRemoved", "PortAdded", "PortRemoved", "InterfaceAdded", "InterfaceRemoved")

#: Seconds to wait for anything the service should do.
DEADLINE = 20.0

NUL_NAME = "ev\0il"
SURROGATE_NAME = "\ud800x"
#: A noncharacter: odd, but D-Bus carries it (dbus-daemon 1.14, GLib 2.74), so it is shown.
NONCHARACTER_NAME = "nc\ufdd0"


class _AsciiJsonProtocol(FakeOvsdbProtocol):
    """The fake OVSDB writing ASCII-only JSON: a lone surrogate goes out as ``\\ud800``."""

    def send_value(self, value):
        self.transport.write(ujson.dumps(value, ensure_ascii=True, escape_forward_slashes=False).encode("ascii"))


class _AsciiJsonFactory(FakeOvsdbFactory):
    protocol = _AsciiJsonProtocol


def bridge_ops(name, **columns):
    """Raw operations like ``ovs-vsctl add-br NAME``."""
    row = dict(name=name, ports=["named-uuid", "bp"], **columns)
    return [
        {"op": "insert", "table": "Interface", "row": {"name": name, "type": "internal"}, "uuid-name": "bi"},
        {"op": "insert", "table": "Port", "row": {"name": name, "interfaces": ["named-uuid", "bi"]},
         "uuid-name": "bp"},
        {"op": "insert", "table": "Bridge", "row": row, "uuid-name": "bb"},
        {"op": "mutate", "table": "Open_vSwitch", "where": [],
         "mutations": [["bridges", "insert", ["named-uuid", "bb"]]]},
    ]


def port_ops(bridge, port):
    """Raw operations like ``ovs-vsctl add-port BRIDGE PORT``."""
    return [
        {"op": "insert", "table": "Interface", "row": {"name": port}, "uuid-name": "pi"},
        {"op": "insert", "table": "Port", "row": {"name": port, "interfaces": ["named-uuid", "pi"]},
         "uuid-name": "pp"},
        {"op": "mutate", "table": "Bridge", "where": [["name", "==", bridge]],
         "mutations": [["ports", "insert", ["set", [["named-uuid", "pp"]]]]]},
    ]


def bridge_path(name):
    return "%s/bridge/%s" % (realstack.OBJECT_PATH, escape_path_element(name))


def port_path(name):
    return "%s/port/%s" % (realstack.OBJECT_PATH, escape_path_element(name))


class BadNamesTests(TestCase):
    """The real service, fed names D-Bus cannot carry, keeps running and answering for the rest."""

    def setUp(self):
        realstack.require_programs(*realstack.STACK_PROGRAMS)
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            message = "%s is not installed (Debian: openvswitch-common)" % DEFAULT_SCHEMA_PATH
            if os.environ.get("CI"):
                raise AssertionError(message + "; CI must provide it")
            raise unittest.SkipTest(message)
        self.db = FakeOvsdb.open_vswitch(DEFAULT_SCHEMA_PATH)
        self.transact(*bridge_ops("br0"))
        self.transact(*port_ops("br0", "p1"))
        self.factory = _AsciiJsonFactory(self.db)
        self.stack = None
        self.messages = []

    @defer.inlineCallbacks
    def start(self):
        """Start dbus-daemon and the service on the fake; connect and subscribe a client; wait
        until the service is in step with the fake."""
        def listen(stack):
            socket_path = os.path.join(stack.directory, "fake.sock")
            self.factory.listen_unix(socket_path)
            self.addCleanup(self.factory.shutdown)
            return "unix:" + socket_path

        self.stack = realstack.RealStack()
        self.addCleanup(self.stack.stop)
        self.stack.start(ovsdb=False, remote=listen)
        self.addCleanup(self.assert_service_alive)
        yield self.connect()

    @defer.inlineCallbacks
    def connect(self):
        """A txdbus client subscribed to the service's signals, once the service is connected."""
        self.client = yield realstack.connect(self, self.stack.bus_address)

        def received(msg):
            if msg.sender != "org.freedesktop.DBus":
                self.messages.append((msg.member, tuple(msg.body or ())))
        self.client.signalReceived = received
        yield self.client.callRemote("/org/freedesktop/DBus", "AddMatch", interface="org.freedesktop.DBus",
                                     destination="org.freedesktop.DBus", signature="s",
                                     body=["type='signal',sender='%s'" % realstack.BUS_NAME])
        yield realstack.poll_until(lambda: realstack.get_property(self.client, "Connected"), DEADLINE,
                                   what="the service to be connected to the fake")

    def assert_service_alive(self):
        """The service still runs and logged no traceback."""
        if not self.stack.service.running:
            self.fail("the service exited:\n" + self.stack.service_log())
        found = self.stack.tracebacks_since(0)
        if found:
            self.fail("the service logged an error:\n" + found)

    def transact(self, *ops):
        result = self.db.transact(list(ops))
        self.assertFalse([r for r in result if isinstance(r, dict) and "error" in r], result)

    def uuid_of(self, table, name):
        (row,) = self.db.find(table, name=name)
        return row["_uuid"]

    def root_signals(self):
        return [(member, *args) for member, args in self.messages if member in ROOT_SIGNALS]

    def wait_signal(self, member, *args):
        return realstack.poll_until(lambda: (member, *args) in self.root_signals(), DEADLINE,
                                    what="%s%r" % (member, args))

    def service_log(self):
        with open(os.path.join(self.stack.directory, "service.log"), encoding="utf-8", errors="replace") as f:
            return f.read()

    def add_bad_rows(self):
        """Bridges named with a NUL, a lone surrogate and a noncharacter; a port with a NUL on br0;
        a good port on the NUL bridge; a NUL in br0's external_ids."""
        self.transact(*bridge_ops(NUL_NAME))
        self.transact(*bridge_ops(SURROGATE_NAME))
        self.transact(*bridge_ops(NONCHARACTER_NAME))
        self.transact(*port_ops("br0", "p\0"))
        self.transact(*port_ops(NUL_NAME, "good1"))
        self.transact({"op": "update", "table": "Bridge", "where": [["name", "==", "br0"]],
                       "row": {"external_ids": ["map", [["note", "a\0b"]]]}})

    #: Rows whose names D-Bus cannot carry once add_bad_rows ran: each is logged once.
    HIDDEN = [(t, n) for n in (NUL_NAME, SURROGATE_NAME) for t in ("Bridge", "Port", "Interface")] \
        + [("Port", "p\0"), ("Interface", "p\0")]

    @defer.inlineCallbacks
    def assert_answers_for_the_good_rows(self):
        """ListBridges, ListBridgePorts, BridgeExists and GetManagedObjects answer, without the
        rows whose names D-Bus cannot carry; br0's external_ids show U+FFFD for the NUL."""
        call = realstack.call
        self.assertEqual((yield call(self.client, "ListBridges")), sorted(["br0", "br1", NONCHARACTER_NAME]))
        self.assertEqual((yield call(self.client, "ListBridgePorts", "s", "br0")), ["p1"])
        self.assertEqual((yield call(self.client, "ListBridgePorts", "s", NONCHARACTER_NAME)), [])
        self.assertIs((yield call(self.client, "BridgeExists", "s", "br0")), True)
        self.assertIs((yield call(self.client, "BridgeExists", "s", NONCHARACTER_NAME)), True)
        objects = yield call(self.client, "GetManagedObjects", interface=OBJECT_MANAGER)
        bridges = sorted(p for p in objects if "/bridge/" in p)
        self.assertEqual(bridges, sorted(bridge_path(n) for n in ("br0", "br1", NONCHARACTER_NAME)))
        self.assertNotIn(port_path("p\0"), objects)
        self.assertEqual(objects[port_path("good1")][realstack.INTERFACE + ".Port"]["Bridge"], "/")
        br0 = objects[bridge_path("br0")][realstack.INTERFACE + ".Bridge"]
        self.assertEqual((br0["ExternalIds"], br0["Ports"]), ({"note": "a\ufffdb"}, [port_path("br0"),
                                                                                      port_path("p1")]))

    def assert_each_hidden_row_logged_once(self):
        text = self.service_log()
        counts = {(table, ascii(name)): text.count("%s %s is not shown on D-Bus" % (table, self.uuid_of(table, name)))
                  for table, name in self.HIDDEN}
        self.assertEqual(counts, {key: 1 for key in counts})

    @defer.inlineCallbacks
    def test_rows_added_while_running(self):
        """Rows named with a NUL or a lone surrogate, added while the service runs, give no signal
        and no object; the service keeps running, later changes are still heard, every method
        answers for the other rows, and each hidden row is logged once."""
        yield self.start()
        self.add_bad_rows()
        self.transact(*bridge_ops("br1"))
        yield self.wait_signal("InterfaceAdded", "br1", "br1")
        self.assertTrue(self.stack.service.running, self.stack.service_log())
        self.assertIn(("BridgeAdded", NONCHARACTER_NAME), self.root_signals())
        self.assertIn(("InterfaceAdded", "good1", "good1"), self.root_signals())
        heard = {a for _, *args in self.root_signals() for a in args}
        self.assertEqual(heard - {"br0", "p1", "br1", NONCHARACTER_NAME, "good1"}, set())
        yield self.assert_answers_for_the_good_rows()
        self.assert_each_hidden_row_logged_once()
        # GLib takes the noncharacter too (gdbus prints what it cannot show as an escape).
        code, out, err = yield realstack.gdbus_call(self.stack.bus_address, "ListBridges")
        self.assertEqual((code, out.strip()), (0, "(['br0', 'br1', 'nc\\ufdd0'],)"), err)

    @defer.inlineCallbacks
    def test_restart_with_the_rows_present(self):
        """The service started on a database already holding such rows (as after a restart) owns
        its name, syncs, answers for the other rows and hears later changes; and so again when it
        is restarted."""
        self.add_bad_rows()
        self.transact(*bridge_ops("br1"))
        yield self.start()
        for restart in (False, True):
            if restart:
                yield realstack.disconnect(self.client)
                self.stack.service.stop(remove=False)
                self.stack.service.start()
                self.messages = []
                yield self.connect()
            yield self.assert_answers_for_the_good_rows()
            name = "br-later%d" % restart
            self.transact(*bridge_ops(name))
            yield self.wait_signal("BridgeAdded", name)
            self.transact({"op": "mutate", "table": "Open_vSwitch", "where": [],
                           "mutations": [["bridges", "delete", ["set", [["uuid", self.uuid_of("Bridge", name)]]]]]})
            yield self.wait_signal("BridgeRemoved", name)
            self.assertTrue(self.stack.service.running, self.stack.service_log())


class ManagedObjectsTests(TestCase):
    """GetManagedObjects answers for every object it can encode, even if one cannot be."""

    def test_object_that_cannot_be_encoded_is_left_out(self):
        """Should a property value D-Bus cannot carry ever reach the adapter (the view replaces
        them, so this would be a bug), that one object is left out of GetManagedObjects, with an
        error logged, and the other objects are answered."""
        shown = [("/a/good", "i.x", {"N": ("s", "fine")}), ("/a/bad", "i.x", {"N": ("s", "ev\0il")}),
                 ("/a/also", "i.x", {"M": ("as", ["ok"])})]
        errors = []
        observer = errors.append
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        service = SimpleNamespace(view=SimpleNamespace(shown=lambda: shown), _encoded={},
                                  _encode_object=BusService._encode_object, _with_flows=lambda interfaces: interfaces)
        body = BusService.managed_objects_body(service)
        raw = dbuswire.method_return(2, 1, ":1.1", "a{oa{sa{sv}}}", raw_body=body)
        self.assertEqual(parseMessage(raw, []).body, [{"/a/good": {"i.x": {"N": "fine"}},
                                                       "/a/also": {"i.x": {"M": ["ok"]}}}])
        self.assertEqual([e["path"] for e in errors if e.get("log_level") == LogLevel.error], ["/a/bad"])
