"""Tests for ovsdbus.app: how build_service wires the layers for the options twistd passes.

Nothing is started: the services are built on a ``task.Clock`` and inspected, so no ovsdb-server,
no bus and no real reactor are involved.
"""

import json
import os
import uuid

from twisted.application.service import IServiceCollection
from twisted.internet import task
from twisted.trial.unittest import TestCase

from ovsdbus.api import OBJECT_PATH
from ovsdbus.api.legacy import BRIDGE_INTERFACE, INTERFACE_INTERFACE, LEGACY, MEMBERSHIP_SIGNALS, PORT_INTERFACE
from ovsdbus.app import OtherDatabaseVerbs, build_service, effective_polkit
from ovsdbus.bus.service import BusService
from ovsdbus.ovsdb.connection import ALL, OvsdbConnection
from ovsdbus.ovsdb.errors import NotSupported
from ovsdbus.ovsdb.remotes import parse_remotes
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema
from ovsdbus.projection.tree import TABLE_INTERFACE_PREFIX
from ovsdbus.projection.view import TreeView
from ovsdbus.vswitch.batch import Database
from ovsdbus.vswitch.operations import QUIET_COLUMNS, Operations
from tests.projection.test_view import ROOT, bridge_rows, load_schema, merge, uuids

REMOTES = "unix:first.sock,unix:second.sock"
ZOO_SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "zoo.ovsschema")
OLDER_INTERFACES = {BRIDGE_INTERFACE, PORT_INTERFACE, INTERFACE_INTERFACE}

#: A database that is not Open_vSwitch but has tables called Bridge and Port, with none of
#: Open_vSwitch's other columns.
LAB_SCHEMA = {
    "name": "Lab",
    "version": "1.0.0",
    "tables": {
        "Bridge": {"isRoot": True, "columns": {
            "name": {"type": "string"},
            "ports": {"type": {"key": {"type": "uuid", "refTable": "Port"}, "min": 0, "max": "unlimited"}}}},
        "Port": {"columns": {"name": {"type": "string"}}},
    },
}


def build(**kwargs):
    """build_service on a Clock with two remotes; returns (top, connection, bus service)."""
    lost = []
    top = build_service(task.Clock(), parse_remotes(REMOTES), "session", lost.append, **kwargs)
    connection, bus_service = list(IServiceCollection(top))
    return top, connection, bus_service


def follow(bus_service, schema, update):
    """Feed one update2 notification on ``schema`` (every table monitored) to the objects the bus
    service shows; return the delta they give."""
    replica = Replica(schema, {t: None for t in schema.tables})
    return bus_service.view.update(replica, replica.apply_update(update, 2))


def row_id(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


class EffectivePolkitTests(TestCase):
    def test_auto_asks_polkit_only_on_the_system_bus(self):
        """``--polkit auto`` consults polkit on the system bus only: on the session bus or a bus given by
        address anyone could own polkit's name, so auto means no there."""
        self.assertEqual(effective_polkit("auto", "system"), "auto")
        self.assertEqual(effective_polkit("auto", "session"), "no")
        self.assertEqual(effective_polkit("auto", "unix:path=/run/some/bus"), "no")

    def test_explicit_choice_is_kept(self):
        """``--polkit yes`` and ``--polkit no`` mean what they say on any bus."""
        for bus in ("system", "session", "unix:path=/run/some/bus"):
            self.assertEqual(effective_polkit("yes", bus), "yes")
            self.assertEqual(effective_polkit("no", bus), "no")


class BuildServiceTests(TestCase):
    def test_children_connection_then_bus(self):
        """The service is the OVSDB connection and the D-Bus service, in that order: the connection
        starts first and stops last, so the bus side never outlives what it serves."""
        top, connection, bus_service = build()
        self.assertIsInstance(connection, OvsdbConnection)
        self.assertIsInstance(bus_service, BusService)
        self.assertIs(connection.parent, top)
        self.assertIs(bus_service.parent, top)
        self.assertIs(bus_service.connection, connection)
        self.assertFalse(top.running)

    def test_connection_options(self):
        """The command line's database, remotes, timeout, probe interval, leader-only and message size
        reach the connection, which monitors every table of the database."""
        _, connection, _ = build(database="Zoo", timeout=7.5, probe_interval=3.0, leader_only=False,
                                 max_message_size=12345)
        self.assertEqual(connection.database, "Zoo")
        self.assertEqual(connection.member_names, ["unix:first.sock", "unix:second.sock"])
        self.assertEqual(connection.request_timeout, 7.5)
        self.assertEqual(connection.probe_interval, 3.0)
        self.assertFalse(connection.leader_only)
        self.assertEqual(connection.max_message_size, 12345)
        self.assertIs(connection.table_columns, ALL)

    def test_default_database_is_open_vswitch(self):
        """Without --database the service mirrors Open_vSwitch and serves its verbs (CreateBridge, ...)
        from the same connection, with the vswitchd counters kept off the bus."""
        _, connection, bus_service = build()
        self.assertEqual(connection.database, "Open_vSwitch")
        self.assertIsInstance(bus_service.operations, Operations)
        self.assertIs(bus_service.operations.connection, connection)
        tree = bus_service.view.projections[0][0]
        self.assertEqual(tree.quiet, {t: frozenset(c) for t, c in QUIET_COLUMNS.items()})

    def test_other_database_refuses_open_vswitch_verbs(self):
        """With another database the Open_vSwitch verbs answer NotSupported naming the database served
        (nothing is sent to the server), and no column is kept quiet: the schema is not Open_vSwitch's."""
        _, _, bus_service = build(database="Zoo")
        self.assertIsInstance(bus_service.operations, OtherDatabaseVerbs)
        for verb, args in [("list_bridges", ()), ("create_bridge", ("br0",)), ("add_port", ("br0", "p0"))]:
            e = self.assertRaises(NotSupported, getattr(bus_service.operations, verb), *args)
            self.assertIn("Zoo", str(e))
            self.assertIn("Open_vSwitch", str(e))
        self.assertFalse(hasattr(bus_service.operations, "_private"))
        self.assertEqual(bus_service.view.projections[0][0].quiet, {})

    def test_generic_verbs_name_records_by_object_path(self):
        """The generic Database methods work on the same connection and accept object paths of the
        object tree the service exports as record names."""
        _, connection, bus_service = build(database="Zoo")
        database = bus_service.root.database
        self.assertIsInstance(database, Database)
        self.assertIs(database.connection, connection)
        self.assertEqual(database.uuid_of_path, bus_service.view.uuid_of_path)

    def test_authorization_policy(self):
        """--allowed-gids and the effective polkit mode make the policy for mutating calls."""
        _, _, bus_service = build(allowed_gids=(27, 1000), polkit="auto")
        self.assertEqual(bus_service.policy.allowed_gids, frozenset({27, 1000}))
        self.assertEqual(bus_service.policy.polkit, "no")
        _, _, bus_service = build(polkit="yes")
        self.assertEqual(bus_service.policy.polkit, "yes")


class ObjectsTests(TestCase):
    """Which objects build_service shows: the older Bridge, Port and Interface interfaces and their
    root signals on Open_vSwitch only; any other database gets the generic tree alone."""

    def test_open_vswitch_shows_the_older_interfaces(self):
        """On Open_vSwitch a new bridge is an object with the Bridge interface as well as its table's,
        and the root sends BridgeAdded and PortAdded."""
        _, _, bus_service = build()
        views = [p for p, _ in bus_service.view.projections if isinstance(p, TreeView)]
        self.assertEqual([(v.legacy, v.membership) for v in views], [(LEGACY, MEMBERSHIP_SIGNALS)])
        delta = follow(bus_service, load_schema(),
                       merge({"Open_vSwitch": {ROOT: {"insert": {"bridges": uuids(row_id("br0"))}}}},
                             {"Bridge": {row_id("br0"): {"insert": {"name": "br0"}}}}))
        added = dict(delta.added)
        self.assertEqual(set(added[OBJECT_PATH + "/bridge/br0"]), {BRIDGE_INTERFACE, TABLE_INTERFACE_PREFIX + "Bridge"})
        self.assertEqual(bus_service.view.spec(BRIDGE_INTERFACE).name, BRIDGE_INTERFACE)
        self.assertIn(("BridgeAdded", ("br0",)), [(s.name, s.args) for s in delta.signals])

    def test_bridge_port_signals_on_open_vswitch(self):
        """On Open_vSwitch ``add-br`` with a port gives BridgeAdded, then PortAdded for each port and
        InterfaceAdded for each interface, from the membership declarations."""
        _, _, bus_service = build()
        rows = bridge_rows("br0", ports=["p1"])
        delta = follow(bus_service, load_schema(), merge(
            {"Open_vSwitch": {ROOT: {"insert": {"bridges": uuids(*rows["Bridge"])}}}}, rows))
        self.assertEqual([(s.name, s.args) for s in delta.signals],
                         [("BridgeAdded", ("br0",)), ("PortAdded", ("br0", "br0")), ("PortAdded", ("br0", "p1")),
                          ("InterfaceAdded", ("br0", "br0")), ("InterfaceAdded", ("p1", "p1"))])

    def test_other_database_has_no_older_interfaces(self):
        """For another database (the Zoo schema) every row is an object with its table's interface
        only: no Bridge, Port or Interface interface is known or shown, and no root signal is sent."""
        _, _, bus_service = build(database="Zoo")
        self.assertEqual([type(p) for p, _ in bus_service.view.projections if isinstance(p, TreeView)], [])
        for interface in OLDER_INTERFACES:
            self.assertRaises(KeyError, bus_service.view.spec, interface)
        with open(ZOO_SCHEMA, encoding="utf-8") as f:
            schema = DatabaseSchema.from_json(json.load(f))
        delta = follow(bus_service, schema, {"Enclosure": {row_id("a"): {"insert": {"name": "a"}}},
                                             "Park": {row_id("park"): {"insert": {"motto": "hi"}}}})
        shown = {i for _, interfaces in delta.added for i in interfaces}
        self.assertEqual(shown, {TABLE_INTERFACE_PREFIX + "Enclosure", TABLE_INTERFACE_PREFIX + "Park"})
        self.assertEqual(delta.signals, [])

    def test_other_database_with_a_bridge_table(self):
        """A database that is not Open_vSwitch but has tables called Bridge and Port (with none of
        Open_vSwitch's other columns) is shown by the generic tree alone: its rows are objects with
        their tables' interfaces, nothing fails, and no BridgeAdded or PortAdded is sent."""
        _, _, bus_service = build(database="Lab")
        schema = DatabaseSchema.from_json(LAB_SCHEMA)
        delta = follow(bus_service, schema, {
            "Bridge": {row_id("b"): {"insert": {"name": "br0", "ports": uuids(row_id("p"))}}},
            "Port": {row_id("p"): {"insert": {"name": "p0"}}}})
        shown = {i for _, interfaces in delta.added for i in interfaces}
        self.assertEqual(shown, {TABLE_INTERFACE_PREFIX + "Bridge", TABLE_INTERFACE_PREFIX + "Port"})
        self.assertEqual(delta.signals, [])
