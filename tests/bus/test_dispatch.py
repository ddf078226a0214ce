"""Dispatch of org.openvswitch.ovsdb.Database on the root object (ovsdbus.bus.service.RootObject), with a
stub facade: converted arguments reach the facade, results go back as variants, mutating methods are
authorized first, bad input and a lost connection never reach it.  The conversions themselves are
tested in tests/projection/test_args.py (whose schema these tests share)."""

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from ovsdbus import api
from ovsdbus.bus.service import Caller, RootObject
from ovsdbus.ovsdb.errors import AccessDenied, Disconnected, InvalidArgs
from tests.projection.test_args import SCHEMA, U1


class StubDatabase:
    """The vswitch Database facade's surface, recording calls."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append((name,) + args)
            return {"get": {"name": "b"}, "list": [], "find": [], "create": U1,
                    "transact": [{"changed": True}], "schema_json": {"name": "Garden"}}.get(name)
        return call


class StubConnection:
    synced = True

    class replica:
        schema = SCHEMA


class RootDispatchTests(TestCase):
    def setUp(self):
        self.database = StubDatabase()
        self.connection = StubConnection()
        self.allow = True
        self.authorized = []
        self.actions = []

        def authorize(caller, action):
            self.authorized.append(caller)
            self.actions.append(action)
            return defer.succeed(None) if self.allow else defer.fail(AccessDenied("no"))

        self.root = RootObject(object(), self.connection, authorize, self.database)

    def call(self, method, *args):
        handler = self.root.handlers[(api.DATABASE_INTERFACE, method)]
        return handler(*(list(args) + [Caller(":1.9")]))

    def test_exports_database_interface(self):
        """The root object implements org.openvswitch.ovsdb.Database, introspected with argument names and docs."""
        xml = self.root.introspection_xml()
        self.assertIn('<interface name="org.openvswitch.ovsdb.Database">', xml)
        self.assertIn('<arg name="conditions" type="a(ssv)" direction="in"/>', xml)
        self.assertIn("ovs-vsctl find", xml)

    def test_get_converts_both_ways(self):
        """Get passes converted arguments to the facade and answers a{sv} variants."""
        result = self.successResultOf(self.call("Get", "Bed", "b", ["name"]))
        self.assertEqual(result, {"name": ("s", "b")})
        self.assertEqual(self.database.calls, [("get", "Bed", "b", ["name"])])
        self.assertEqual(self.authorized, [])

    def test_mutating_methods_are_authorized_first(self):
        """Set, Add, Remove, Clear, Create, Destroy and Transact ask authorization first; refused, they
        fail with AccessDenied and never reach the facade; reads are not asked about."""
        self.allow = False
        calls = [("Set", "Bed", "b", {"rows": 1}), ("Add", "Bed", "b", "notes", {"a": "b"}),
                 ("Remove", "Bed", "b", "notes", ["a"]), ("Clear", "Bed", "b", ["notes"]),
                 ("Create", "Bed", {"name": "x"}), ("Destroy", "Bed", ["b"]),
                 ("Transact", [("List", {"table": "Bed"})], {})]
        for call in calls:
            self.failureResultOf(self.call(*call), AccessDenied)
        self.assertEqual(len(self.authorized), len(calls))
        self.assertEqual(self.database.calls, [])
        self.successResultOf(self.call("List", "Bed", []))
        self.successResultOf(self.call("GetSchema"))
        self.assertEqual(len(self.authorized), len(calls))
        self.assertEqual({m.name for m in api.DATABASE_SPEC.methods if m.mutating}, {c[0] for c in calls})

    def test_remote_control_needs_its_own_action(self):
        """Controllers, managers and SSL (the methods, generic writes to their tables or to the columns
        that refer to them, and a Transact holding either) ask org.openvswitch.ovsdb.modify-remote;
        other writes ask org.openvswitch.ovsdb.modify."""
        self.allow = False
        remote, modify = "org.openvswitch.ovsdb.modify-remote", "org.openvswitch.ovsdb.modify"
        cases = [
            ((api.INTERFACE, "SetControllers", "br0", ["tcp:127.0.0.1:6653"], {}), remote),
            ((api.INTERFACE, "SetManagers", ["ptcp:6640"]), remote),
            ((api.INTERFACE, "DeleteSSL"), remote),
            ((api.INTERFACE, "SetPortVlan", "p1", "access", 10, []), modify),
            ((api.DATABASE_INTERFACE, "Set", "Bridge", "br0", {"controller": []}), remote),
            ((api.DATABASE_INTERFACE, "Create", "Manager", {"target": "ptcp:6640"}), remote),
            ((api.DATABASE_INTERFACE, "Add", "Open_vSwitch", ".", "manager_options", []), remote),
            ((api.DATABASE_INTERFACE, "Set", "Bridge", "br0", {"external_ids:a": "b"}), modify),
            ((api.DATABASE_INTERFACE, "Transact", [("AddPort", {"bridge": "br0", "port": "p"}),
                                                   ("SetManagers", {"targets": ["ptcp:1"]})], {}), remote),
            ((api.DATABASE_INTERFACE, "Transact", [("Destroy", {"table": "Controller", "records": ["x"]})], {}),
             remote),
            ((api.DATABASE_INTERFACE, "Transact", [("AddPort", {"bridge": "br0", "port": "p"})], {}), modify),
        ]
        for (interface, method, *args), action in cases:
            handler = self.root.handlers[(interface, method)]
            self.failureResultOf(handler(*(list(args) + [Caller(":1.9")])), AccessDenied)
            self.assertEqual(self.actions[-1], action, method)
        self.assertEqual(self.database.calls, [])

    def test_writes_reach_the_facade(self):
        """Allowed writes reach the facade with Python values; Create answers the uuid."""
        self.assertIsNone(self.successResultOf(self.call("Set", "Bed", "b", {"rows": 1, "notes:a": "b"})))
        self.assertEqual(self.successResultOf(self.call("Create", "Bed", {"name": "x"})), U1)
        results = self.successResultOf(self.call("Transact", [("Set", {"table": "Bed", "record": "b",
                                                                       "values": {"rows": 2}})], {"dry_run": True}))
        self.assertEqual(results, [{"changed": ("b", True)}])
        self.assertEqual(self.database.calls[0], ("set", "Bed", "b", {"rows": 1}, {"notes": {"a": "b"}}))
        self.assertEqual(self.database.calls[1], ("create", "Bed", {"name": "x"}))
        self.assertEqual(self.database.calls[2][0], "transact")
        self.assertEqual(self.database.calls[2][2], {"dry_run": True})

    def test_bad_input_never_reaches_the_facade(self):
        """Invalid arguments fail with InvalidArgs before anything is sent."""
        self.failureResultOf(self.call("Set", "Bed", "b", {"rows": 0}), InvalidArgs)
        self.failureResultOf(self.call("Find", "Bed", [["rows", "~", 1]], []), InvalidArgs)
        self.assertEqual(self.database.calls, [])

    def test_disconnected(self):
        """While not connected to ovsdb-server every Database method answers Disconnected."""
        self.connection.synced = False
        self.failureResultOf(self.call("List", "Bed", []), Disconnected)
        self.failureResultOf(self.call("GetSchema"), Disconnected)

    def test_schema(self):
        """GetSchema answers the schema as JSON text."""
        self.assertEqual(self.successResultOf(self.call("GetSchema")), '{"name": "Garden"}')

    def test_properties_introspected_before_database(self):
        """Introspection lists org.freedesktop.DBus.Properties before the Database interface, so a client
        proxy that takes the first method of a name (txdbus's callRemote("Get", interface, property))
        still reads properties."""
        names = [e.split('"')[1] for e in self.root.introspection_xml().split("<interface name=")[1:]]
        self.assertLess(names.index("org.freedesktop.DBus.Properties"), names.index(api.DATABASE_INTERFACE))

    def test_get_without_interface(self):
        """A call of Get without an interface goes to the method whose signature it has: Properties.Get
        with (ss), Database.Get with (ssas)."""
        self.assertEqual(self.root.find_method(None, "Get", "ss")[0], "org.freedesktop.DBus.Properties")
        self.assertEqual(self.root.find_method(None, "Get", "ssas")[0], api.DATABASE_INTERFACE)
