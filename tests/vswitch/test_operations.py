"""Tests for ovsdbus.vswitch.operations: Open_vSwitch verbs planned against a replica, and their retries."""

import json
import os
import unittest

from twisted.internet import defer, task
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.connection import OvsdbConnection
from ovsdbus.ovsdb.errors import (
    AlreadyExists,
    ConstraintViolation,
    Disconnected,
    InvalidArgs,
    NotFound,
    Timeout,
    TransactionError,
    WaitTimedOut,
)
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema, is_valid_id
from ovsdbus.vswitch import operations
from ovsdbus.vswitch.operations import (
    MONITORED_COLUMNS,
    Operations,
    check_name,
    list_bridge_ports,
    list_bridges,
    plan_add_port,
    plan_create_bridge,
    plan_delete_bridge,
    plan_delete_port,
)

VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def _ref_set(table, min_=0):
    return {"type": {"key": {"type": "uuid", "refTable": table}, "min": min_, "max": "unlimited"}}


#: The part of the Open_vSwitch schema the planners use, written out by hand.
SCHEMA = DatabaseSchema.from_json({
    "name": "Open_vSwitch",
    "version": "8.3.1",
    "tables": {
        "Open_vSwitch": {"isRoot": True, "maxRows": 1, "columns": {"bridges": _ref_set("Bridge")}},
        "Bridge": {"indexes": [["name"]], "columns": {"name": {"type": "string", "mutable": False},
                                                      "ports": _ref_set("Port")}},
        "Port": {"indexes": [["name"]], "columns": {"name": {"type": "string", "mutable": False},
                                                    "interfaces": _ref_set("Interface", 1)}},
        "Interface": {"indexes": [["name"]], "columns": {"name": {"type": "string", "mutable": False},
                                                         "type": {"type": "string"}}},
    },
})
COLUMNS = {"Open_vSwitch": ["bridges"], "Bridge": ["name", "ports"], "Port": ["name", "interfaces"],
           "Interface": ["name", "type"]}

ROOT = "00000000-0000-4000-8000-0000000000aa"


class Uuids:
    """Deterministic, readable uuids: one per (table, name)."""

    def __init__(self):
        self._by_key = {}

    def __call__(self, table, name):
        key = (table, name)
        if key not in self._by_key:
            table_number = "OBPI".index(table[0]) + 1
            self._by_key[key] = "%08x-0000-4000-8000-%012x" % (table_number, len(self._by_key) + 1)
        return self._by_key[key]


def make_replica(bridges, uuid=None, root=True):
    """A replica holding ``bridges``: ``{bridge: {port: [interface, ...]}}``."""
    uuid = uuid or Uuids()
    replica = Replica(SCHEMA, COLUMNS)
    replica.apply_update(contents(bridges, uuid, root), 2)
    return replica


def contents(bridges, uuid, root=True, kind="initial"):
    """Table updates creating ``bridges`` (see make_replica)."""
    updates = {"Open_vSwitch": {}, "Bridge": {}, "Port": {}, "Interface": {}}
    for bridge, ports in bridges.items():
        port_uuids = []
        for port, ifaces in ports.items():
            iface_uuids = []
            for iface in ifaces:
                u = uuid("Interface", iface)
                iface_uuids.append(["uuid", u])
                iface_type = "internal" if iface == bridge else ""
                updates["Interface"][u] = {kind: {"name": iface, "type": iface_type}}
            u = uuid("Port", port)
            port_uuids.append(["uuid", u])
            updates["Port"][u] = {kind: {"name": port, "interfaces": ["set", iface_uuids]}}
        updates["Bridge"][uuid("Bridge", bridge)] = {kind: {"name": bridge, "ports": ["set", port_uuids]}}
    if root:
        updates["Open_vSwitch"][ROOT] = {kind: {"bridges": ["set", [["uuid", uuid("Bridge", b)]
                                                                    for b in bridges]]}}
    return updates


def standard_bridges():
    """br0 with its local port, eth0 and a bond of eth1+eth2; br1 with only its local port."""
    return {"br0": {"br0": ["br0"], "eth0": ["eth0"], "bond0": ["eth1", "eth2"]},
            "br1": {"br1": ["br1"]}}


VALID_NAMES = ["br0", "a", "x" * 15, "eth0.100", "veth-a_b", "br\u00e9", "\u00e9" * 7, "\u20ac" * 5]
INVALID_NAMES = ["", "x" * 16, "a/b", "a b", "a:b", ".", "..", "\u00e9" * 8, "\u20ac" * 6, "tab\there",
                 "new\nline", "nul\x00", "del\x7f", " br0", "br0 ", None, b"br0", 0]


def assert_wellformed(testcase, ops):
    """A plan ovsdb-server would accept as written: waits (timeout 0) before everything else, valid
    and unique uuid-names, every named-uuid referring to a row the plan inserts."""
    kinds = [op["op"] for op in ops]
    n_waits = kinds.count("wait")
    testcase.assertGreater(n_waits, 0, "a plan must assert what it relies on")
    testcase.assertEqual(kinds[:n_waits], ["wait"] * n_waits, "waits must come first: %r" % kinds)
    for op in ops[:n_waits]:
        testcase.assertEqual(op["timeout"], 0)
        testcase.assertIn(op["until"], ("==", "!="))
        testcase.assertIsInstance(op["where"], list)
    names = [op["uuid-name"] for op in ops if "uuid-name" in op]
    testcase.assertEqual(len(names), len(set(names)))
    for name in names:
        testcase.assertTrue(is_valid_id(name), name)
    refs = []

    def collect(value):
        if isinstance(value, list):
            if len(value) == 2 and value[0] == "named-uuid":
                refs.append(value[1])
            else:
                for v in value:
                    collect(v)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)

    collect(ops)
    for ref in refs:
        testcase.assertIn(ref, names, "named-uuid %r is never inserted" % ref)
    testcase.assertNotIn(None, [op.get("table") for op in ops if op["op"] != "comment"])


def ops_of(ops, op, table=None):
    return [o for o in ops if o["op"] == op and (table is None or o["table"] == table)]


def waits_absent(ops):
    """{(table, name)} that the plan requires to be unused."""
    result = set()
    for w in ops_of(ops, "wait"):
        if w["rows"] == [] and w["until"] == "==":
            (cond,) = w["where"]
            if cond[:2] == ["name", "=="]:
                result.add((w["table"], cond[2]))
    return result


class NameTests(TestCase):
    """Names are checked as Linux checks network device names."""

    def test_valid(self):
        """Names the kernel accepts (up to 15 bytes of UTF-8) pass."""
        for name in VALID_NAMES:
            check_name(name)

    def test_invalid(self):
        """Empty, over 15 bytes, '/', ':', whitespace, control characters, '.', '..' and non-strings
        are InvalidArgs."""
        for name in INVALID_NAMES:
            self.assertRaises(InvalidArgs, check_name, name)

    def test_new_names_are_checked(self):
        """Creating a bridge or port with a name no network device can have is InvalidArgs."""
        replica = make_replica(standard_bridges())
        for name in INVALID_NAMES:
            self.assertRaises(InvalidArgs, plan_create_bridge, replica, name)
            self.assertRaises(InvalidArgs, plan_add_port, replica, "br0", name)

    def test_lookups_take_any_name(self):
        """Looking up a name ovsdbus would not create is no error, since other tools may have made
        it: it is simply not there (NotFound).  Only non-strings, empty and oversize names are
        InvalidArgs."""
        replica = make_replica(standard_bridges())
        lookups = [
            lambda name: plan_delete_bridge(replica, name),
            lambda name: plan_add_port(replica, name, "p9"),
            lambda name: plan_delete_port(replica, "br0", name),
            lambda name: plan_delete_port(replica, name, "eth0"),
            lambda name: list_bridge_ports(replica, name),
        ]
        for name in INVALID_NAMES + ["x" * 2000]:
            expected = NotFound if isinstance(name, str) and 0 < len(name) <= 1024 else InvalidArgs
            for lookup in lookups:
                self.assertRaises(expected, lookup, name)

    def test_bridges_other_tools_named_are_found(self):
        """A bridge ovs-vsctl made with a name ovsdbus would refuse (a colon, 16 bytes) is listed,
        its ports are listed, and it can be deleted."""
        replica = make_replica({"br:legacy0": {"eth0": ["eth0"]}, "verylongbridge16": {}})
        self.assertEqual(list_bridges(replica), ["br:legacy0", "verylongbridge16"])
        self.assertEqual(list_bridge_ports(replica, "br:legacy0"), ["eth0"])
        assert_wellformed(self, plan_delete_bridge(replica, "verylongbridge16"))
        assert_wellformed(self, plan_delete_port(replica, "br:legacy0", "eth0"))

    def test_message_is_bounded(self):
        """A huge bogus name does not produce a huge error message."""
        error = self.assertRaises(InvalidArgs, check_name, "x" * 100000)
        self.assertLess(len(str(error)), 500)


class ReadTests(TestCase):
    """Reads answered from the replica."""

    def setUp(self):
        self.replica = make_replica(standard_bridges())

    def test_list_bridges(self):
        """All bridges, sorted by name."""
        self.assertEqual(list_bridges(self.replica), ["br0", "br1"])
        self.assertEqual(list_bridges(make_replica({"zz": {}, "aa": {}, "mm": {}})), ["aa", "mm", "zz"])

    def test_list_bridge_ports(self):
        """A bridge's ports, sorted, without the bridge's own local port (as ovs-vsctl list-ports)."""
        self.assertEqual(list_bridge_ports(self.replica, "br0"), ["bond0", "eth0"])
        self.assertEqual(list_bridge_ports(self.replica, "br1"), [])

    def test_list_ports_sorted(self):
        """Ports come back sorted whatever order the database holds them in."""
        replica = make_replica({"br0": {n: [n] for n in ["z9", "a1", "br0", "m5", "b2"]}})
        self.assertEqual(list_bridge_ports(replica, "br0"), ["a1", "b2", "m5", "z9"])

    def test_list_ports_of_missing_bridge(self):
        """Listing the ports of a bridge that does not exist is NotFound."""
        self.assertRaises(NotFound, list_bridge_ports, self.replica, "nope")

    def test_port_is_not_a_bridge(self):
        """A port's name is not a bridge name."""
        self.assertRaises(NotFound, list_bridge_ports, self.replica, "eth0")
        self.assertFalse(operations.bridge_exists(self.replica, "eth0"))
        self.assertTrue(operations.bridge_exists(self.replica, "br1"))


class CreateBridgeTests(TestCase):
    """plan_create_bridge: like ovs-vsctl add-br."""

    def setUp(self):
        self.uuid = Uuids()
        self.replica = make_replica(standard_bridges(), self.uuid)

    def test_plan(self):
        """The plan creates bridge, local port and internal interface, all named NAME, and links the
        bridge from the Open_vSwitch row; that nothing else is called NAME is left to the three
        tables' unique name indexes (a wait would cost ovsdb-server a scan of each table)."""
        ops = plan_create_bridge(self.replica, "br9")
        assert_wellformed(self, ops)
        self.assertEqual(waits_absent(ops), set())
        (iface,) = ops_of(ops, "insert", "Interface")
        (port,) = ops_of(ops, "insert", "Port")
        (bridge,) = ops_of(ops, "insert", "Bridge")
        self.assertEqual(iface["row"], {"name": "br9", "type": "internal"})
        self.assertEqual(port["row"]["name"], "br9")
        self.assertIn(iface["uuid-name"], json.dumps(port["row"]["interfaces"]))
        self.assertEqual(bridge["row"]["name"], "br9")
        self.assertIn(port["uuid-name"], json.dumps(bridge["row"]["ports"]))
        (mutate,) = ops_of(ops, "mutate")
        self.assertEqual(mutate["table"], "Open_vSwitch")
        self.assertEqual(mutate["where"], [["_uuid", "==", ["uuid", ROOT]]])
        (mutation,) = mutate["mutations"]
        self.assertEqual(mutation[:2], ["bridges", "insert"])
        self.assertIn(bridge["uuid-name"], json.dumps(mutation[2]))
        self.assertEqual([o["op"] for o in ops if o["op"] not in ("wait", "insert", "mutate", "comment")], [])

    def test_plan_waits_for_root(self):
        """The plan asserts the Open_vSwitch row it links from still exists."""
        ops = plan_create_bridge(self.replica, "br9")
        self.assertTrue(any(w["table"] == "Open_vSwitch" and ROOT in json.dumps(w["where"])
                            for w in ops_of(ops, "wait")))

    def test_already_exists(self):
        """A bridge, port or interface already called NAME gives AlreadyExists."""
        for name in ["br0", "br1", "eth0", "bond0", "eth1", "eth2"]:
            self.assertRaises(AlreadyExists, plan_create_bridge, self.replica, name)

    def test_no_root_row(self):
        """A database never initialised (no Open_vSwitch row) gives NotFound, not a crash."""
        replica = make_replica({}, root=False)
        self.assertRaises(NotFound, plan_create_bridge, replica, "br0")

    def test_longest_name(self):
        """A 15-byte name (multi-byte characters count in bytes) is accepted."""
        for name in ["x" * 15, "\u00e9" * 7 + "x"]:
            assert_wellformed(self, plan_create_bridge(self.replica, name))


class DeleteBridgeTests(TestCase):
    """plan_delete_bridge: like ovs-vsctl del-br."""

    def setUp(self):
        self.uuid = Uuids()
        self.replica = make_replica(standard_bridges(), self.uuid)

    def test_plan(self):
        """The plan removes the bridge from Open_vSwitch.bridges (the rest is garbage collected),
        asserting first that the bridge still exists."""
        ops = plan_delete_bridge(self.replica, "br0")
        assert_wellformed(self, ops)
        br0 = self.uuid("Bridge", "br0")
        self.assertTrue(any(w["table"] == "Bridge" and br0 in json.dumps(w["where"])
                            for w in ops_of(ops, "wait")))
        (mutate,) = ops_of(ops, "mutate")
        self.assertEqual(mutate["table"], "Open_vSwitch")
        self.assertEqual(mutate["mutations"], [["bridges", "delete", ["set", [["uuid", br0]]]]])
        self.assertEqual(ops_of(ops, "delete"), [])
        self.assertEqual(ops_of(ops, "insert"), [])

    def test_not_found(self):
        """Deleting a bridge that does not exist is NotFound, also when a port has that name."""
        for name in ["nope", "eth0", "eth1"]:
            self.assertRaises(NotFound, plan_delete_bridge, self.replica, name)


class AddPortTests(TestCase):
    """plan_add_port: like ovs-vsctl add-port."""

    def setUp(self):
        self.uuid = Uuids()
        self.replica = make_replica(standard_bridges(), self.uuid)

    def test_plan(self):
        """The plan inserts an Interface and a Port named PORT and adds the port to the bridge,
        asserting that the bridge exists and no bridge is called PORT (no port or interface is, by the
        Port and Interface tables' unique name indexes)."""
        ops = plan_add_port(self.replica, "br1", "veth9")
        assert_wellformed(self, ops)
        self.assertEqual(waits_absent(ops), {("Bridge", "veth9")})
        br1 = self.uuid("Bridge", "br1")
        self.assertTrue(any(w["table"] == "Bridge" and br1 in json.dumps(w["where"])
                            for w in ops_of(ops, "wait")))
        (iface,) = ops_of(ops, "insert", "Interface")
        (port,) = ops_of(ops, "insert", "Port")
        self.assertEqual(iface["row"]["name"], "veth9")
        self.assertEqual(iface["row"].get("type", ""), "")
        self.assertEqual(port["row"]["name"], "veth9")
        self.assertIn(iface["uuid-name"], json.dumps(port["row"]["interfaces"]))
        (mutate,) = ops_of(ops, "mutate")
        self.assertEqual(mutate["table"], "Bridge")
        self.assertEqual(mutate["where"], [["_uuid", "==", ["uuid", br1]]])
        (mutation,) = mutate["mutations"]
        self.assertEqual(mutation[:2], ["ports", "insert"])
        self.assertIn(port["uuid-name"], json.dumps(mutation[2]))
        self.assertEqual(ops_of(ops, "insert", "Bridge"), [])

    def test_bridge_not_found(self):
        """Adding a port to a bridge that does not exist is NotFound."""
        self.assertRaises(NotFound, plan_add_port, self.replica, "nope", "veth9")
        self.assertRaises(NotFound, plan_add_port, self.replica, "eth0", "veth9")

    def test_already_exists(self):
        """A port name used by any bridge, port or interface (on any bridge) is AlreadyExists."""
        for name in ["br0", "br1", "eth0", "bond0", "eth2"]:
            self.assertRaises(AlreadyExists, plan_add_port, self.replica, "br1", name)

    def test_bridge_checked_first(self):
        """A missing bridge is reported even when the port name is also taken."""
        self.assertRaises(NotFound, plan_add_port, self.replica, "nope", "eth0")


class DeletePortTests(TestCase):
    """plan_delete_port: like ovs-vsctl del-port BRIDGE PORT."""

    def setUp(self):
        self.uuid = Uuids()
        self.replica = make_replica(standard_bridges(), self.uuid)

    def test_plan(self):
        """The plan removes the port from the bridge's ports, asserting it is still there."""
        ops = plan_delete_port(self.replica, "br0", "bond0")
        assert_wellformed(self, ops)
        br0, bond0 = self.uuid("Bridge", "br0"), self.uuid("Port", "bond0")
        (wait,) = ops_of(ops, "wait")
        self.assertEqual(wait["table"], "Bridge")
        self.assertIn(br0, json.dumps(wait["where"]))
        self.assertIn(["ports", "includes", ["set", [["uuid", bond0]]]], wait["where"])
        (mutate,) = ops_of(ops, "mutate")
        self.assertEqual(mutate["table"], "Bridge")
        self.assertEqual(mutate["where"], [["_uuid", "==", ["uuid", br0]]])
        self.assertEqual(mutate["mutations"], [["ports", "delete", ["set", [["uuid", bond0]]]]])

    def test_not_found(self):
        """No such bridge, no such port, or a port of another bridge: NotFound."""
        self.assertRaises(NotFound, plan_delete_port, self.replica, "nope", "eth0")
        self.assertRaises(NotFound, plan_delete_port, self.replica, "br0", "nope")
        self.assertRaises(NotFound, plan_delete_port, self.replica, "br1", "eth0")
        self.assertRaises(NotFound, plan_delete_port, self.replica, "br0", "br1")

    def test_interface_name_is_not_a_port(self):
        """An interface of a bond is not a port: deleting it by that name is NotFound."""
        self.assertRaises(NotFound, plan_delete_port, self.replica, "br0", "eth1")

    def test_local_port(self):
        """The bridge's own local port cannot be deleted on its own: InvalidArgs."""
        self.assertRaises(InvalidArgs, plan_delete_port, self.replica, "br0", "br0")


class VswitchSchemaTests(TestCase):
    """The monitored columns exist in the real schema, and their names are indexed."""

    def test_monitored_columns_cover_the_declared_properties(self):
        """Every column a Bridge/Port/Interface property is derived from is among MONITORED_COLUMNS, so a
        service monitoring only those shows every property (a new declared property cannot break it)."""
        from ovsdbus.api.legacy import JOINED, LEGACY, NAME, OWNER
        for table, kind in LEGACY.items():
            for prop in kind.properties:
                if prop.kind == NAME:
                    needed = [(table, "name")]
                elif prop.kind == OWNER:
                    needed = [(prop.args[0], prop.args[1])]
                elif prop.kind == JOINED:
                    needed = [(table, prop.args[0]), (prop.args[1], prop.args[2])]
                else:
                    needed = [(table, prop.args[0])]
                for t, column in needed:
                    self.assertIn(column, MONITORED_COLUMNS.get(t, ()), "%s.%s (for %s)" % (t, column, prop.name))

    def test_monitored_columns_exist(self):
        """A replica of MONITORED_COLUMNS builds against the installed schema (no misspelt column),
        keeps Bridge/Port/Interface names indexed, and the planners work on it."""
        try:
            with open(VSWITCH_SCHEMA) as f:
                schema = DatabaseSchema.from_json(json.load(f))
        except FileNotFoundError:
            if os.environ.get("CI"):
                self.fail("%s is missing" % VSWITCH_SCHEMA)
            raise unittest.SkipTest("%s is not installed" % VSWITCH_SCHEMA) from None
        replica = Replica(schema, MONITORED_COLUMNS)
        for table in operations.NAMED_TABLES:
            self.assertIn(("name",), schema.tables[table].indexes)
        uuid = Uuids()
        replica.apply_update(contents(standard_bridges(), uuid), 2)
        self.assertEqual(list_bridge_ports(replica, "br0"), ["bond0", "eth0"])
        assert_wellformed(self, plan_create_bridge(replica, "br9"))
        self.assertRaises(AlreadyExists, plan_add_port, replica, "br1", "eth2")


class StubConnection:
    """Stands in for OvsdbConnection: the test answers each transaction by hand."""

    def __init__(self, replica, clock):
        self.replica = replica
        self.clock = clock
        self.synced = True
        self.transactions = []
        self.pending = []
        self.waiters = []

    def transact(self, ops, timeout=None):
        if not self.synced:
            return defer.fail(Disconnected("not connected"))
        d = defer.Deferred()
        self.transactions.append(ops)
        self.pending.append(d)
        return d

    #: The real waiting for the replica to catch up, over this stub's next_change.
    caught_up = OvsdbConnection.caught_up

    def next_change(self, timeout):
        d = defer.Deferred()
        timer = self.clock.callLater(timeout, self._timed_out, d)
        self.waiters.append((d, timer))
        return d

    def _timed_out(self, d):
        self.waiters = [(w, t) for w, t in self.waiters if w is not d]
        d.errback(Timeout("no change"))

    def change(self, updates):
        """Another client's transaction reaches us: apply it, then wake the waiters."""
        changes = self.replica.apply_update(updates, 2)
        waiters, self.waiters = self.waiters, []
        for d, timer in waiters:
            timer.cancel()
            d.callback(None)
        return changes

    def reply(self, result=None):
        self.pending.pop(0).callback(result or [])

    def fail(self, error):
        self.pending.pop(0).errback(error)


class OperationsTests(TestCase):
    """Operations: run a plan, and plan again when someone else changed what it assumed."""

    def setUp(self):
        self.clock = task.Clock()
        self.uuid = Uuids()
        self.replica = make_replica(standard_bridges(), self.uuid)
        self.connection = StubConnection(self.replica, self.clock)
        self.ops = Operations(self.connection, max_attempts=3, conflict_wait=2.0)
        self.addCleanup(lambda: self.assertEqual(self.clock.getDelayedCalls(), []))

    def someone_creates(self, name):
        """Another client creates bridge ``name`` (as ovs-vsctl add-br would)."""
        update = contents({name: {name: [name]}}, self.uuid, root=False, kind="insert")
        update["Open_vSwitch"] = {ROOT: {"modify": {"bridges": ["uuid", self.uuid("Bridge", name)]}}}
        return self.connection.change(update)

    def test_success(self):
        """A verb whose transaction commits fires with None after one transaction."""
        d = self.ops.create_bridge("br9")
        self.assertNoResult(d)
        self.assertEqual(len(self.connection.transactions), 1)
        self.assertEqual(self.connection.transactions[0], plan_create_bridge(self.replica, "br9"))
        self.connection.reply()
        self.assertIsNone(self.successResultOf(d))

    def test_conflict_already_in_replica(self):
        """When a wait fails because another client created the same bridge, and its update has
        arrived (the server sends it before our reply), the retry reports AlreadyExists."""
        d = self.ops.create_bridge("br9")
        self.someone_creates("br9")
        self.connection.fail(WaitTimedOut("timed out", None, 1))
        self.failureResultOf(d, AlreadyExists)
        self.assertEqual(len(self.connection.transactions), 1)

    def test_conflict_update_arrives_later(self):
        """When the wait failed but the other client's update is not in yet, the verb waits for
        the next change and then re-plans: AlreadyExists."""
        d = self.ops.create_bridge("br9")
        self.connection.fail(WaitTimedOut("timed out", None, 1))
        self.assertNoResult(d)
        self.assertEqual(len(self.connection.waiters), 1)
        self.someone_creates("br9")
        self.failureResultOf(d, AlreadyExists)
        self.assertEqual(len(self.connection.transactions), 1)

    def test_conflict_unrelated_change_retries(self):
        """After a conflict caused by an unrelated change, the re-planned transaction is sent and
        its success is the verb's success."""
        d = self.ops.create_bridge("br9")
        self.someone_creates("other")
        self.connection.fail(WaitTimedOut("timed out", None, 0))
        self.assertEqual(len(self.connection.transactions), 2)
        self.assertNoResult(d)
        self.connection.reply()
        self.assertIsNone(self.successResultOf(d))

    def test_conflict_without_visible_change_retries_after_wait(self):
        """If no change shows up within conflict_wait, the verb plans again anyway."""
        d = self.ops.create_bridge("br9")
        self.connection.fail(WaitTimedOut("timed out", None, 0))
        self.assertEqual(len(self.connection.transactions), 1)
        self.clock.advance(2.0)
        self.assertEqual(len(self.connection.transactions), 2)
        self.connection.reply()
        self.assertIsNone(self.successResultOf(d))

    def test_gives_up(self):
        """A transaction that keeps conflicting fails with TransactionError after max_attempts."""
        d = self.ops.add_port("br0", "veth9")
        for attempt in range(3):
            self.assertEqual(len(self.connection.transactions), attempt + 1)
            self.someone_creates("x%d" % attempt)
            self.connection.fail(WaitTimedOut("timed out", None, 0))
        error = self.failureResultOf(d, TransactionError).value
        self.assertNotIsInstance(error, WaitTimedOut)
        self.assertEqual(len(self.connection.transactions), 3)

    def test_gives_up_after_waiting(self):
        """Conflicts with no visible change also end in TransactionError, with no timer left behind."""
        d = self.ops.delete_bridge("br1")
        for _ in range(3):
            self.connection.fail(WaitTimedOut("timed out", None, 0))
            self.clock.advance(2.0)
        self.failureResultOf(d, TransactionError)
        self.assertEqual(len(self.connection.transactions), 3)

    def test_bridge_deleted_under_add_port(self):
        """A port added to a bridge another client just deleted ends in NotFound, not a retry loop."""
        d = self.ops.add_port("br1", "veth9")
        br1 = self.uuid("Bridge", "br1")
        self.connection.change({"Open_vSwitch": {ROOT: {"modify": {"bridges": ["uuid", br1]}}},
                                "Bridge": {br1: {"delete": None}},
                                "Port": {self.uuid("Port", "br1"): {"delete": None}},
                                "Interface": {self.uuid("Interface", "br1"): {"delete": None}}})
        self.connection.fail(WaitTimedOut("timed out", None, 0))
        self.failureResultOf(d, NotFound)
        self.assertEqual(len(self.connection.transactions), 1)

    def test_other_errors_not_retried(self):
        """Errors other than a failed wait are reported as they are, without retrying."""
        d = self.ops.create_bridge("br9")
        self.connection.fail(ConstraintViolation("constraint violation", "duplicate", None))
        self.failureResultOf(d, ConstraintViolation)
        self.assertEqual(len(self.connection.transactions), 1)

    def test_disconnect_during_transaction(self):
        """A connection lost during the transaction is reported as Disconnected, not retried."""
        d = self.ops.delete_port("br0", "eth0")
        self.connection.fail(Disconnected("lost"))
        self.failureResultOf(d, Disconnected)
        self.assertEqual(len(self.connection.transactions), 1)

    def test_not_synced(self):
        """Without a synced connection every verb fails with Disconnected and sends nothing."""
        self.connection.synced = False
        for d in [self.ops.create_bridge("br9"), self.ops.delete_bridge("br0"),
                  self.ops.add_port("br0", "p9"), self.ops.delete_port("br0", "eth0")]:
            self.failureResultOf(d, Disconnected)
        self.assertRaises(Disconnected, self.ops.list_bridges)
        self.assertRaises(Disconnected, self.ops.list_bridge_ports, "br0")
        self.assertRaises(Disconnected, self.ops.bridge_exists, "br0")
        self.assertEqual(self.connection.transactions, [])

    def _two_in_flight_and_waiting(self, *ports):
        """AddPort p1 and p2 sent (two transactions await replies), then AddPort of ``ports``."""
        sent = [self.ops.add_port("br0", "p1"), self.ops.add_port("br0", "p2")]
        waiting = [self.ops.add_port(bridge, port) for bridge, port in ports]
        self.assertEqual(len(self.connection.transactions), 2)
        return sent, waiting

    def test_calls_waiting_for_a_reply_share_one_transaction(self):
        """Beyond two transactions in flight, calls wait; at the next reply all that waited go in
        one transaction holding each call's plan (uuid-names kept apart), and all succeed with it."""
        sent, waiting = self._two_in_flight_and_waiting(("br0", "p3"), ("br1", "p4"), ("br0", "p5"))
        for d in waiting:
            self.assertNoResult(d)
        self.connection.reply()
        self.assertEqual(len(self.connection.transactions), 3)
        shared = self.connection.transactions[2]
        plans = [plan_add_port(self.replica, b, p) for b, p in (("br0", "p3"), ("br1", "p4"), ("br0", "p5"))]
        self.assertEqual(len(shared), sum(len(p) for p in plans))
        names = [op["uuid-name"] for op in shared if "uuid-name" in op]
        self.assertEqual(len(names), 6)
        self.assertEqual(len(set(names)), 6)
        self.assertEqual([op["comment"] for op in shared if op["op"] == "comment"],
                         ["ovsdbus: AddPort br0 p3", "ovsdbus: AddPort br1 p4", "ovsdbus: AddPort br0 p5"])
        port_of_p4 = next(op["uuid-name"] for op in shared if op["op"] == "insert" and op["table"] == "Port"
                          and op["row"]["name"] == "p4")
        mutate_br1 = [op for op in shared if op["op"] == "mutate"][1]
        self.assertEqual(mutate_br1["mutations"][0][2], ["set", [["named-uuid", port_of_p4]]])
        self.connection.reply()
        self.connection.reply()
        for d in sent + waiting:
            self.assertIsNone(self.successResultOf(d))

    def test_bad_call_among_waiting_ones_fails_alone(self):
        """A waiting call whose plan fails (no such bridge) gets its own error; the others go."""
        sent, waiting = self._two_in_flight_and_waiting(("br0", "p3"), ("nope", "p4"), ("br0", "p5"))
        self.connection.reply()
        self.failureResultOf(waiting[1], NotFound)
        comments = [op["comment"] for op in self.connection.transactions[2] if op["op"] == "comment"]
        self.assertEqual(comments, ["ovsdbus: AddPort br0 p3", "ovsdbus: AddPort br0 p5"])

    def test_failed_shared_transaction_runs_each_call_alone(self):
        """When the shared transaction fails (nothing of it committed), each call is planned and
        sent alone, and each gets the answer of its own transaction."""
        sent, waiting = self._two_in_flight_and_waiting(("br0", "p3"), ("br0", "p4"))
        self.connection.reply()
        self.connection.reply()
        self.connection.fail(ConstraintViolation("constraint violation", "Transaction causes multiple rows in "
                                                 "\"Port\" table to have identical values (p4) for index on "
                                                 "column \"name\".", None))
        self.assertEqual(len(self.connection.transactions), 5)
        self.assertEqual(self.connection.transactions[3], plan_add_port(self.replica, "br0", "p3"))
        self.assertEqual(self.connection.transactions[4], plan_add_port(self.replica, "br0", "p4"))
        self.connection.reply()
        self.connection.fail(ConstraintViolation("constraint violation", "a constraint", None))
        self.assertIsNone(self.successResultOf(waiting[0]))
        self.failureResultOf(waiting[1], ConstraintViolation)

    def test_shared_transaction_lost(self):
        """A connection lost under a shared transaction fails each of its calls with Disconnected."""
        sent, waiting = self._two_in_flight_and_waiting(("br0", "p3"), ("br0", "p4"))
        self.connection.reply()
        self.connection.reply()
        self.connection.fail(Disconnected("lost"))
        for d in waiting:
            self.failureResultOf(d, Disconnected)
        self.assertEqual(len(self.connection.transactions), 3)

    def test_waiting_calls_fail_when_the_connection_is_gone(self):
        """Calls still waiting when the connection is lost fail with Disconnected, unsent."""
        sent, waiting = self._two_in_flight_and_waiting(("br0", "p3"), ("br0", "p4"))
        self.connection.synced = False
        self.connection.fail(Disconnected("lost"))
        for d in waiting + sent[:1]:
            self.failureResultOf(d, Disconnected)
        self.assertEqual(len(self.connection.transactions), 2)
        self.connection.fail(Disconnected("lost"))
        self.failureResultOf(sent[1], Disconnected)

    def test_lost_while_waiting_for_change(self):
        """A connection lost while waiting to re-plan fails the verb with Disconnected."""
        d = self.ops.create_bridge("br9")
        self.connection.fail(WaitTimedOut("timed out", None, 0))
        self.connection.synced = False
        self.clock.advance(2.0)
        self.failureResultOf(d, Disconnected)

    def test_planning_errors_as_failed_deferreds(self):
        """Caller mistakes come back as failed Deferreds (NotFound, AlreadyExists, InvalidArgs)."""
        self.failureResultOf(self.ops.create_bridge("br0"), AlreadyExists)
        self.failureResultOf(self.ops.delete_bridge("nope"), NotFound)
        self.failureResultOf(self.ops.add_port("br0", "a/b"), InvalidArgs)
        self.failureResultOf(self.ops.delete_port("br0", "br0"), InvalidArgs)
        self.assertEqual(self.connection.transactions, [])

    def test_reads(self):
        """Reads answer from the replica with no transaction."""
        self.assertEqual(self.ops.list_bridges(), ["br0", "br1"])
        self.assertEqual(self.ops.list_bridge_ports("br0"), ["bond0", "eth0"])
        self.assertTrue(self.ops.bridge_exists("br0"))
        self.assertFalse(self.ops.bridge_exists("eth0"))
        self.assertFalse(self.ops.bridge_exists("a b"))
        self.assertRaises(InvalidArgs, self.ops.bridge_exists, "")
        self.assertEqual(self.connection.transactions, [])
