"""Tests for ovsdbus.vswitch.dbverbs: the database verbs planned on a transaction and committed on the fake OVSDB."""

import json
import os
import unittest

from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.client import check_transaction_result
from ovsdbus.ovsdb.errors import AlreadyExists, InvalidArgs, NotFound, ReferentialIntegrity
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema
from ovsdbus.ovsdb.txn import Txn
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, add_bridge_operations
from ovsdbus.vswitch.dbverbs import VERBS, Context, NotYet
from tests.ovsdb.test_txn import World as ZooWorld


def _wire_rows(dump):
    return {t: {u: {"initial": {c: v for c, v in row.items() if c not in ("_uuid", "_version")}}
                for u, row in rows.items()} for t, rows in dump.items()}


class World:
    """The fake Open_vSwitch database with bridge br0 (ports p1, p2) and a replica of all of it."""

    def __init__(self):
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            raise unittest.SkipTest("%s is not installed" % DEFAULT_SCHEMA_PATH)
        self.db = FakeOvsdb.open_vswitch()
        self.schema = DatabaseSchema.from_json(_schema_json())
        self.db.transact(add_bridge_operations("br0"))
        self.sync()
        for port in ("p1", "p2"):
            self.commit([("AddPort", {"bridge": "br0", "port": port})])

    def sync(self):
        self.replica = Replica(self.schema, {t: None for t in self.schema.tables})
        self.replica.apply_update(_wire_rows(self.db.dump()), 2)

    def plan(self, commands):
        """Plan ``commands`` on one Txn; return (txn, results)."""
        txn = Txn(self.replica, "Open_vSwitch")
        ctx = Context(txn)
        results = []
        for index, (verb, args) in enumerate(commands):
            txn.owner = index
            results.append(VERBS[verb].plan(ctx, **VERBS[verb].arguments(args)))
        return txn, results

    def send(self, txn):
        ops = txn.operations()
        results = check_transaction_result(self.db.transact(ops), ops)
        self.sync()
        return txn.resolve(results)

    def commit(self, commands):
        txn, results = self.plan(commands)
        self.send(txn)
        return results

    def read(self, verb, **args):
        return VERBS[verb].plan(Context(self.replica), **args)

    def get(self, table, record, *columns):
        return self.read("Get", table=table, record=record, columns=list(columns))["rows"][0]


def _schema_json():
    with open(DEFAULT_SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


class ReadTests(TestCase):
    """Get, List and Find answer from the replica."""

    def setUp(self):
        self.world = World()

    def test_get_columns_and_keys(self):
        """Get returns the columns asked for, ``column:key`` gives one map value, and ``_uuid`` is always there."""
        self.world.commit([("Set", {"table": "Bridge", "record": "br0", "values": {"other_config": {"a": "1"}}})])
        row = self.world.get("Bridge", "br0", "name", "other_config:a")
        self.assertEqual(row["name"], "br0")
        self.assertEqual(row["other_config:a"], "1")
        self.assertEqual(row["_uuid"], self.world.replica.find("Bridge", name="br0"))
        self.assertRaises(NotFound, self.world.get, "Bridge", "br0", "other_config:nope")
        self.assertRaises(InvalidArgs, self.world.get, "Bridge", "br0", "nope")
        self.assertRaises(NotFound, self.world.get, "Bridge", "br9")

    def test_get_all_columns(self):
        """Get with no columns returns every column of the schema."""
        row = self.world.get("Port", "p1")
        self.assertEqual(set(row), set(self.world.schema.tables["Port"].columns) | {"_uuid"})

    def test_list_and_find(self):
        """List returns every row; Find only those matching every condition."""
        names = sorted(r["name"] for r in self.world.read("List", table="Port", columns=["name"])["rows"])
        self.assertEqual(names, ["br0", "p1", "p2"])
        found = self.world.read("Find", table="Port", conditions=[("name", "!=", "br0")], columns=["name"])["rows"]
        self.assertEqual(sorted(r["name"] for r in found), ["p1", "p2"])


class WriteTests(TestCase):
    """Set, Add, Remove, Clear, Create and Destroy."""

    def setUp(self):
        self.world = World()

    def test_set_key_is_a_mutation(self):
        """Setting ``column:key`` leaves the map's other keys alone, even one another writer adds after
        the plan was made."""
        world = self.world
        world.commit([("Set", {"table": "Bridge", "record": "br0", "values": {"external_ids": {"old": "x"}}})])
        txn, _ = world.plan([("Set", {"table": "Bridge", "record": "br0", "values": {"external_ids:k": "v",
                                                                                   "external_ids:old": "y"}})])
        world.db.transact([{"op": "mutate", "table": "Bridge", "where": [["name", "==", "br0"]],
                            "mutations": [["external_ids", "insert", ["map", [["other", "w"]]]]]}])
        world.sync()
        world.send(txn)
        self.assertEqual(world.get("Bridge", "br0", "external_ids")["external_ids"],
                         {"old": "y", "k": "v", "other": "w"})

    def test_add_and_remove(self):
        """Add inserts into sets and maps (an existing key stays); Remove deletes from a set, from a map by
        keys, or by key-value pairs (only exact pairs go)."""
        world = self.world
        world.commit([
            ("Add", {"table": "Port", "record": "p1", "column": "trunks", "values": frozenset([1, 2])}),
            ("Add", {"table": "Port", "record": "p1", "column": "other_config", "values": {"a": "1", "b": "2"}}),
            ("Add", {"table": "Port", "record": "p1", "column": "other_config", "values": {"a": "9", "c": "3"}}),
        ])
        row = world.get("Port", "p1", "trunks", "other_config")
        self.assertEqual(row["trunks"], frozenset([1, 2]))
        self.assertEqual(row["other_config"], {"a": "1", "b": "2", "c": "3"})
        world.commit([
            ("Remove", {"table": "Port", "record": "p1", "column": "trunks", "values": [2]}),
            ("Remove", {"table": "Port", "record": "p1", "column": "other_config", "values": ["a"]}),
            ("Remove", {"table": "Port", "record": "p1", "column": "other_config", "values": {"b": "x", "c": "3"}}),
        ])
        row = world.get("Port", "p1", "trunks", "other_config")
        self.assertEqual(row["trunks"], frozenset([1]))
        self.assertEqual(row["other_config"], {"b": "2"})

    def test_clear(self):
        """Clear empties sets, maps and optional columns; a column that must hold a value cannot be cleared."""
        world = self.world
        world.commit([("Set", {"table": "Port", "record": "p1", "values": {"tag": 5, "trunks": frozenset([3])}})])
        world.commit([("Clear", {"table": "Port", "record": "p1", "columns": ["tag", "trunks"]})])
        row = world.get("Port", "p1", "tag", "trunks")
        self.assertEqual((row["tag"], row["trunks"]), (None, frozenset()))
        self.assertRaises(InvalidArgs, world.plan, [("Clear", {"table": "Port", "record": "p1",
                                                               "columns": ["interfaces"]})])

    def test_destroy_unlinks(self):
        """Destroying a port removes it from its bridge first, as ovs-vsctl would have to."""
        world = self.world
        world.commit([("Destroy", {"table": "Port", "records": ["p1"]})])
        self.assertIsNone(world.replica.find("Port", name="p1"))
        self.assertEqual(len(world.get("Bridge", "br0", "ports")["ports"]), 2)

    def test_destroy_refuses_when_a_referrer_needs_the_row(self):
        """Destroying a port's only interface is ReferentialIntegrity naming the port that needs it."""
        e = self.assertRaises(ReferentialIntegrity, self.world.plan,
                              [("Destroy", {"table": "Interface", "records": ["p1"]})])
        self.assertIn("Port", str(e))
        self.assertIn("p1", str(e))
        self.assertIn("interfaces", str(e))

    def test_if_exists(self):
        """With if_exists a missing record is no error and changes nothing."""
        _, results = self.world.plan([("Set", {"table": "Port", "record": "nope", "values": {"tag": 1},
                                               "if_exists": True})])
        self.assertEqual(results, [{"changed": False}])

    def test_create_root_row(self):
        """Create inserts a row with the values given (checked against the schema)."""
        world = self.world
        txn, results = world.plan([("Create", {"table": "Flow_Sample_Collector_Set",
                                               "values": {"id": 7, "bridge": world.replica.find("Bridge",
                                                                                                 name="br0")}})])
        names = world.send(txn)
        uuid = names[results[0]["uuid"]]
        self.assertEqual(world.replica.row("Flow_Sample_Collector_Set", uuid)["id"], 7)
        self.assertRaises(InvalidArgs, world.plan, [("Create", {"table": "Port", "values": {"tag": 99999}})])


class BatchSemanticsTests(TestCase):
    """Later commands of one transaction see what earlier ones did."""

    def setUp(self):
        self.world = World()

    def test_create_bridge_then_add_port(self):
        """CreateBridge br1 then AddPort br1 p0 in one transaction works."""
        world = self.world
        world.commit([("CreateBridge", {"name": "br1"}), ("AddPort", {"bridge": "br1", "port": "p0"})])
        ports = world.get("Bridge", "br1", "ports")["ports"]
        self.assertEqual(sorted(world.replica.row("Port", p)["name"] for p in ports), ["br1", "p0"])

    def test_add_port_twice(self):
        """AddPort br0 p0 twice in one transaction is AlreadyExists; with may_exist it is no change."""
        add = ("AddPort", {"bridge": "br0", "port": "p0"})
        self.assertRaises(AlreadyExists, self.world.plan, [add, add])
        _, results = self.world.plan([add, ("AddPort", {"bridge": "br0", "port": "p0", "may_exist": True})])
        self.assertFalse(results[1]["changed"])

    def test_delete_port_then_add_it_again(self):
        """DeletePort then AddPort of the same name in one transaction gives a fresh port."""
        world = self.world
        old = world.replica.find("Port", name="p1")
        world.commit([("DeletePort", {"bridge": "br0", "port": "p1"}), ("AddPort", {"bridge": "br0", "port": "p1"})])
        new = world.replica.find("Port", name="p1")
        self.assertNotEqual(old, new)
        self.assertIsNotNone(new)

    def test_delete_bridge_then_create_it(self):
        """DeleteBridge br0 then CreateBridge br0 in one transaction works, and the old ports are gone."""
        world = self.world
        world.commit([("DeleteBridge", {"name": "br0"}), ("CreateBridge", {"name": "br0"})])
        self.assertIsNone(world.replica.find("Port", name="p1"))
        self.assertEqual(world.read("ListBridgePorts", bridge="br0")["value"], [])

    def test_existing_verbs_as_reads(self):
        """BridgeExists, ListBridges and ListBridgePorts answer like operations.py's reads."""
        self.assertTrue(self.world.read("BridgeExists", name="br0")["value"])
        self.assertEqual(self.world.read("ListBridges")["value"], ["br0"])
        self.assertEqual(self.world.read("ListBridgePorts", bridge="br0")["value"], ["p1", "p2"])

    def test_wait_until(self):
        """WaitUntil holds only once the record exists and matches (NotYet before)."""
        world = self.world
        args = {"table": "Port", "record": "p1", "conditions": [("tag", "=", 5)], "timeout": 3}
        self.assertRaises(NotYet, world.plan, [("WaitUntil", args)])
        world.commit([("Set", {"table": "Port", "record": "p1", "values": {"tag": 5}})])
        world.plan([("WaitUntil", args)])
        self.assertRaises(NotYet, world.plan, [("WaitUntil", dict(args, record="p9"))])

    def test_arguments_checked(self):
        """A missing or unknown argument is InvalidArgs naming it."""
        e = self.assertRaises(InvalidArgs, VERBS["Set"].arguments, {"table": "Port", "record": "p1"})
        self.assertIn("values", str(e))
        e = self.assertRaises(InvalidArgs, VERBS["Get"].arguments, {"table": "Port", "record": "p1", "colums": []})
        self.assertIn("colums", str(e))


class GenericSchemaTests(TestCase):
    """The generic verbs know no Open_vSwitch table: they work the same on a small schema of their own."""

    def setUp(self):
        self.world = ZooWorld().seed()

    def plan(self, commands):
        txn = self.world.txn()
        ctx = Context(txn)
        results = [VERBS[verb].plan(ctx, **VERBS[verb].arguments(args)) for verb, args in commands]
        return txn, results

    def commit(self, commands):
        txn, results = self.plan(commands)
        self.world.run(txn.operations())
        return results

    def read(self, verb, **args):
        return VERBS[verb].plan(Context(self.world.replica), **args)

    def test_get_set_add_remove_by_name(self):
        """Records are named by the table's name column; Set, Add and Remove change what Get reads."""
        self.commit([("Set", {"table": "Pen", "record": "a", "values": {"keeper": "kim", "labels:y": "2"}}),
                     ("Remove", {"table": "Pen", "record": "a", "column": "labels", "values": ["x"]}),
                     ("Set", {"table": "Pen", "record": "b", "values": {"size": 6}})])
        (row,) = self.read("Get", table="Pen", record="a", columns=["keeper", "labels", "labels:y"])["rows"]
        self.assertEqual((row["keeper"], row["labels"], row["labels:y"]), ("kim", {"y": "2"}, "2"))
        found = self.read("Find", table="Pen", conditions=[("size", ">", 5)], columns=["name"])["rows"]
        self.assertEqual(sorted(r["name"] for r in found), ["a", "b"])
        found = self.read("Find", table="Pen", conditions=[("size", ">", 6)], columns=["name"])["rows"]
        self.assertEqual([r["name"] for r in found], ["a"])

    def test_destroy_unlinks_or_refuses(self):
        """Destroying a pen takes it out of the zoo's set; destroying the only animal of a pen is refused
        naming the pen and its column."""
        self.commit([("Destroy", {"table": "Pen", "records": ["b"]})])
        self.assertEqual([r["name"] for r in self.read("List", table="Pen", columns=["name"])["rows"]], ["a"])
        dog_pen_animals = self.world.replica.row("Pen", self.world.replica.find("Pen", name="a"))["animals"]
        self.commit([("Destroy", {"table": "Animal", "records": [sorted(dog_pen_animals)[0]]})])
        (last,) = self.world.replica.row("Pen", self.world.replica.find("Pen", name="a"))["animals"]
        e = self.assertRaises(ReferentialIntegrity, self.plan, [("Destroy", {"table": "Animal", "records": [last]})])
        self.assertIn("Pen", str(e))
        self.assertIn("animals", str(e))

    def test_only_row_by_dot(self):
        """The only row of a table is "."."""
        (row,) = self.read("Get", table="Zoo", record=".", columns=["pens"])["rows"]
        self.assertEqual(len(row["pens"]), 2)
