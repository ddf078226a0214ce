"""Tests for ovsdbus.ovsdb.txn: the overlay a batch plans on, and the waits it sends."""

from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.client import check_transaction_result
from ovsdbus.ovsdb.errors import ConstraintViolation, InvalidArgs, NotFound, WaitTimedOut
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema, NamedUuid, is_valid_id
from ovsdbus.ovsdb.txn import TABLE_WAIT_THRESHOLD, Txn, is_index_conflict
from ovsdbus.testing import FakeOvsdb

#: A small schema of its own: no Open_vSwitch table names in the generic layer's tests.
SCHEMA_JSON = {
    "name": "Zoo",
    "version": "1.0.0",
    "tables": {
        "Zoo": {"isRoot": True, "maxRows": 1, "columns": {
            "pens": {"type": {"key": {"type": "uuid", "refTable": "Pen"}, "min": 0, "max": "unlimited"}}}},
        "Pen": {"indexes": [["name"]], "columns": {
            "name": {"type": "string", "mutable": False},
            "animals": {"type": {"key": {"type": "uuid", "refTable": "Animal"}, "min": 1, "max": "unlimited"}},
            "labels": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
            "size": {"type": {"key": {"type": "integer", "minInteger": 1, "maxInteger": 100}}},
            "keeper": {"type": {"key": "string", "min": 0, "max": 1}}}},
        "Animal": {"columns": {"kind": {"type": {"key": {"type": "string", "enum": ["set", ["cat", "dog"]]}}}}},
    },
}
SCHEMA = DatabaseSchema.from_json(SCHEMA_JSON)


def _wire_rows(dump):
    return {t: {u: {"initial": {c: v for c, v in row.items() if c not in ("_uuid", "_version")}}
                for u, row in rows.items()} for t, rows in dump.items()}


class World:
    """A fake server holding the Zoo database and a replica kept in step with it by hand."""

    def __init__(self):
        self.db = FakeOvsdb(SCHEMA_JSON)
        self.sync()

    def sync(self):
        self.replica = Replica(SCHEMA, {t: None for t in SCHEMA.tables})
        self.replica.apply_update(_wire_rows(self.db.dump()), 2)

    def run(self, ops):
        """Commit ``ops`` on the server (raising its error), then bring the replica up to date."""
        results = check_transaction_result(self.db.transact(ops), ops)
        self.sync()
        return results

    def txn(self):
        return Txn(self.replica, "Zoo")

    def seed(self):
        """A zoo with pen "a" (two cats) and pen "b" (a dog)."""
        txn = self.txn()
        zoo = txn.insert("Zoo", {})
        cats = [txn.insert("Animal", {"kind": "cat"}) for _ in range(2)]
        dog = txn.insert("Animal", {"kind": "dog"})
        a = txn.insert("Pen", {"name": "a", "animals": frozenset(cats), "size": 10, "labels": {"x": "1"}})
        b = txn.insert("Pen", {"name": "b", "animals": frozenset([dog]), "size": 5})
        txn.update("Zoo", zoo, {"pens": frozenset([a, b])})
        self.run(txn.operations())
        return self


def waits(ops):
    return [op for op in ops if op["op"] == "wait"]


class OverlayTests(TestCase):
    """Later reads see earlier writes of the same transaction."""

    def setUp(self):
        self.world = World().seed()

    def test_inserted_row_is_seen_with_defaults(self):
        """A row inserted earlier is found by its index and read with every column, defaults filled in."""
        txn = self.world.txn()
        cat = txn.insert("Animal", {"kind": "cat"})
        pen = txn.insert("Pen", {"name": "c", "animals": frozenset([cat]), "size": 3})
        self.assertEqual(txn.find("Pen", name="c"), pen)
        row = txn.row("Pen", pen)
        self.assertEqual((row["keeper"], row["labels"], row["size"]), (None, {}, 3))
        self.assertIn(pen, txn.rows("Pen"))
        self.assertEqual(len(txn.rows("Pen")), 3)

    def test_uuid_names_are_unique_and_valid(self):
        """Every inserted row gets its own valid uuid-name, even many of the same table."""
        txn = self.world.txn()
        names = [txn.insert("Animal", {"kind": "dog"}) for _ in range(50)]
        self.assertEqual(len(set(names)), 50)
        for name in names:
            self.assertIsInstance(name, NamedUuid)
            self.assertTrue(is_valid_id(name))

    def test_deleted_row_disappears(self):
        """A deleted row is gone for later reads, and deleting it again is NotFound."""
        txn = self.world.txn()
        b = txn.find("Pen", name="b")
        zoo = next(iter(txn.rows("Zoo")))
        txn.mutate("Zoo", zoo, "pens", "delete", frozenset([b]))
        txn.delete("Pen", b)
        self.assertIsNone(txn.row("Pen", b))
        self.assertIsNone(txn.find("Pen", name="b"))
        self.assertNotIn(b, txn.rows("Pen"))
        self.assertRaises(NotFound, txn.delete, "Pen", b)
        self.world.run(txn.operations())
        self.assertEqual(self.world.db.find("Pen", name="b"), [])

    def test_map_insert_keeps_existing_keys(self):
        """A map insert leaves a key already present alone (OVSDB's rule), in the overlay and on the server."""
        txn = self.world.txn()
        a = txn.find("Pen", name="a")
        txn.mutate("Pen", a, "labels", "insert", {"x": "changed", "y": "2"})
        self.assertEqual(txn.row("Pen", a)["labels"], {"x": "1", "y": "2"})
        self.world.run(txn.operations())
        self.assertEqual(self.world.db.find("Pen", name="a")[0]["labels"], {"x": "1", "y": "2"})

    def test_map_delete_by_keys_and_by_pairs(self):
        """A map delete takes keys, or key-value pairs of which only exact matches go."""
        txn = self.world.txn()
        a = txn.find("Pen", name="a")
        txn.mutate("Pen", a, "labels", "insert", {"y": "2", "z": "3"})
        txn.mutate("Pen", a, "labels", "delete", frozenset(["x"]))
        txn.mutate("Pen", a, "labels", "delete", {"y": "other", "z": "3"})
        self.assertEqual(txn.row("Pen", a)["labels"], {"y": "2"})
        self.world.run(txn.operations())
        self.assertEqual(self.world.db.find("Pen", name="a")[0]["labels"], {"y": "2"})

    def test_updates_of_a_new_row_go_into_its_insert(self):
        """Changing a row created in the same transaction changes its insert, so even an immutable
        column can be given later, and no update is sent for a row the server does not have yet."""
        txn = self.world.txn()
        cat = txn.insert("Animal", {"kind": "cat"})
        pen = txn.insert("Pen", {"name": "c", "animals": frozenset([cat]), "size": 3})
        txn.update("Pen", pen, {"keeper": "kim"})
        txn.mutate("Pen", pen, "labels", "insert", {"k": "v"})
        zoo = next(iter(txn.rows("Zoo")))
        txn.mutate("Zoo", zoo, "pens", "insert", frozenset([pen]))
        ops = txn.operations()
        self.assertEqual([op["op"] for op in ops if op["op"] != "wait"], ["insert", "insert", "mutate"])
        results = self.world.run(ops)
        uuid = txn.resolve(results)[pen]
        row = self.world.db.row("Pen", uuid)
        self.assertEqual((row["name"], row["keeper"], row["labels"]), ("c", "kim", {"k": "v"}))


class CheckTests(TestCase):
    """Values are checked against the schema before anything is sent."""

    def setUp(self):
        self.world = World().seed()
        self.txn = self.world.txn()
        self.a = self.txn.find("Pen", name="a")

    def test_bad_values_are_invalid_args(self):
        """A value outside the enum, the range, or of the wrong size is InvalidArgs naming table and column."""
        e = self.assertRaises(InvalidArgs, self.txn.insert, "Animal", {"kind": "cow"})
        self.assertIn("Animal.kind", str(e))
        e = self.assertRaises(InvalidArgs, self.txn.update, "Pen", self.a, {"size": 1000})
        self.assertIn("Pen.size", str(e))
        self.assertRaises(InvalidArgs, self.txn.update, "Pen", self.a, {"animals": frozenset()})
        self.assertRaises(InvalidArgs, self.txn.update, "Pen", self.a, {"nope": 1})
        self.assertRaises(InvalidArgs, self.txn.rows, "Nope")

    def test_immutable_column_of_existing_row(self):
        """An immutable column of a row that exists cannot be changed."""
        e = self.assertRaises(InvalidArgs, self.txn.update, "Pen", self.a, {"name": "z"})
        self.assertIn("Pen.name", str(e))

    def test_mutation_below_minimum(self):
        """Removing the last element of a set that needs one is a constraint violation, as the server says."""
        row = self.txn.row("Pen", self.a)
        animals = frozenset(row["animals"])
        self.assertRaises(ConstraintViolation, self.txn.mutate, "Pen", self.a, "animals", "delete", animals)

    def test_unique_index(self):
        """A second row with the same indexed name is refused at once, as the server would at commit."""
        cat = self.txn.insert("Animal", {"kind": "cat"})
        e = self.assertRaises(ConstraintViolation, self.txn.insert, "Pen",
                              {"name": "a", "animals": frozenset([cat]), "size": 1})
        self.assertIn("index", str(e))

    def test_missing_row(self):
        """Writing to a row that does not exist is NotFound."""
        self.assertRaises(NotFound, self.txn.update, "Pen", "00000000-0000-4000-8000-000000000001", {"size": 2})


class WaitTests(TestCase):
    """What the transaction read from the replica is asserted, and nothing more."""

    def setUp(self):
        self.world = World().seed()

    def test_wait_on_exactly_the_columns_read(self):
        """Reading one column of a row asserts that column of that row only; a column the transaction
        replaces is not asserted."""
        txn = self.world.txn()
        a = txn.find("Pen", name="a")
        size = txn.row("Pen", a)["size"]
        txn.update("Pen", a, {"keeper": "kim", "size": size + 1})
        txn.row("Pen", a)["keeper"]
        (wait,) = waits(txn.operations())
        self.assertEqual(wait["columns"], ["name", "size"])
        self.assertEqual(wait["where"], [["_uuid", "==", ["uuid", a]]])
        self.assertEqual(wait["rows"], [{"name": "a", "size": 10}])
        self.assertEqual(wait["timeout"], 0)

    def test_change_by_another_writer_fails_the_transaction(self):
        """If another writer changes a value the plan read, the server refuses the whole plan (timed out)
        and nothing of it is applied."""
        txn = self.world.txn()
        a = txn.find("Pen", name="a")
        if txn.row("Pen", a)["size"] == 10:
            txn.update("Pen", a, {"keeper": "kim"})
        ops = txn.operations()
        self.world.db.transact([{"op": "update", "table": "Pen", "where": [["name", "==", "a"]],
                                 "row": {"size": 11}}])
        self.assertRaises(WaitTimedOut, self.world.run, ops)
        self.world.sync()
        self.assertIsNone(self.world.replica.row("Pen", a)["keeper"])
        self.assertEqual(self.world.replica.row("Pen", a)["size"], 11)

    def test_absent_lookup_is_asserted(self):
        """A lookup that found nothing asserts that nothing is there: a row created meanwhile by
        another writer fails the transaction."""
        txn = self.world.txn()
        self.assertIsNone(txn.find("Pen", name="c"))
        zoo = next(iter(txn.rows("Zoo")))
        txn.mutate("Zoo", zoo, "pens", "delete", frozenset())
        ops = txn.operations()
        self.assertIn({"op": "wait", "table": "Pen", "where": [["name", "==", "c"]], "columns": ["name"],
                       "until": "==", "rows": [], "timeout": 0}, ops)
        other = self.world.txn()
        cat = other.insert("Animal", {"kind": "cat"})
        pen = other.insert("Pen", {"name": "c", "animals": frozenset([cat]), "size": 1})
        other.mutate("Zoo", zoo, "pens", "insert", frozenset([pen]))
        self.world.db.transact(other.operations())
        self.assertRaises(WaitTimedOut, self.world.run, ops)

    def test_written_row_must_still_exist(self):
        """A row the plan writes to is asserted to exist, even when no column of it was read."""
        txn = self.world.txn()
        zoo = next(iter(txn.rows("Zoo")))
        txn.mutate("Zoo", zoo, "pens", "delete", frozenset())
        (wait,) = waits(txn.operations())
        self.assertEqual((wait["table"], wait["columns"], wait["rows"]), ("Zoo", ["_uuid"], [{"_uuid": ["uuid", zoo]}]))

    def test_many_rows_read_make_one_wait(self):
        """Reading a column of many rows (a scan) asserts that column of the whole table in one wait."""
        world = self.world
        txn = world.txn()
        zoo = next(iter(txn.rows("Zoo")))
        count = TABLE_WAIT_THRESHOLD + 2
        for i in range(count):
            cat = txn.insert("Animal", {"kind": "cat"})
            pen = txn.insert("Pen", {"name": "p%d" % i, "animals": frozenset([cat]), "size": 1})
            txn.mutate("Zoo", zoo, "pens", "insert", frozenset([pen]))
        world.run(txn.operations())
        reader = world.txn()
        names = sorted(row["name"] for row in reader.rows("Pen").values())
        self.assertEqual(len(names), count + 2)
        (wait,) = waits(reader.operations())
        self.assertEqual((wait["table"], wait["where"], wait["columns"]), ("Pen", [], ["name"]))
        self.assertEqual(sorted(r["name"] for r in wait["rows"]), names)
        world.run(reader.operations())


class ResultTests(TestCase):
    """Operations and results."""

    def test_dry_run_and_comment(self):
        """A dry run ends with abort; comments are sent; the server then changes nothing."""
        world = World().seed()
        txn = world.txn()
        a = txn.find("Pen", name="a")
        txn.update("Pen", a, {"keeper": "kim"})
        txn.comment("hello")
        txn.abort()
        ops = txn.operations()
        self.assertEqual(ops[-2:], [{"op": "comment", "comment": "hello"}, {"op": "abort"}])
        results = world.db.transact(ops)
        self.assertEqual(results[-1]["error"], "aborted")
        world.sync()
        self.assertIsNone(world.replica.row("Pen", a)["keeper"])

    def test_owner_of_operations(self):
        """Each operation remembers which command planned it."""
        world = World().seed()
        txn = world.txn()
        txn.owner = 0
        a = txn.find("Pen", name="a")
        txn.owner = 1
        txn.update("Pen", a, {"keeper": "kim"})
        ops = txn.operations()
        index = next(i for i, op in enumerate(ops) if op["op"] == "update")
        self.assertEqual(txn.owner_of(index), 1)
        self.assertEqual(txn.owner_of_uuid("Pen", a), 1)
        self.assertIsNone(txn.owner_of(len(ops)))

    def test_unreferenced_inserts(self):
        """A new row of a non-root table that nothing refers to is reported (the server would collect it)."""
        world = World().seed()
        txn = world.txn()
        txn.owner = 3
        lonely = txn.insert("Animal", {"kind": "cat"})
        kept = txn.insert("Animal", {"kind": "dog"})
        txn.mutate("Pen", txn.find("Pen", name="a"), "animals", "insert", frozenset([kept]))
        self.assertEqual(txn.unreferenced_inserts(), [(3, "Animal", lonely)])


class AbsenceWaitTests(TestCase):
    """Lookups that found nothing are asserted cheaply but still exactly."""

    def setUp(self):
        self.world = World().seed()

    def _add_pen(self, txn, name):
        cat = txn.insert("Animal", {"kind": "cat"})
        pen = txn.insert("Pen", {"name": name, "animals": frozenset([cat]), "size": 1})
        txn.mutate("Zoo", next(iter(txn.rows("Zoo"))), "pens", "insert", frozenset([pen]))
        return pen

    def test_inserted_index_values_need_no_wait(self):
        """Looking a name up and then inserting a row of that name sends no absence wait: a row of that name
        committed meanwhile makes the server refuse the commit as an index duplicate, which
        is_index_conflict recognises."""
        txn = self.world.txn()
        self.assertIsNone(txn.find("Pen", name="c"))
        self._add_pen(txn, "c")
        ops = txn.operations()
        self.assertEqual([w for w in waits(ops) if w["table"] == "Pen"], [])
        other = self.world.txn()
        self._add_pen(other, "c")
        self.world.db.transact(other.operations())
        with self.assertRaises(ConstraintViolation) as caught:
            self.world.run(ops)
        self.assertTrue(is_index_conflict(caught.exception))
        self.assertFalse(is_index_conflict(ConstraintViolation("constraint violation", "Pen.size: 0 < 1")))

    def test_many_lookups_in_a_small_table_make_one_wait(self):
        """Many lookups that found nothing in a table of few rows are asserted by one wait on the table's
        values of that column; a row added meanwhile still fails the transaction."""
        txn = self.world.txn()
        for i in range(TABLE_WAIT_THRESHOLD + 1):
            self.assertIsNone(txn.find("Pen", name="q%d" % i))
        zoo = next(iter(txn.rows("Zoo")))
        txn.mutate("Zoo", zoo, "pens", "delete", frozenset())
        pen_waits = [w for w in waits(txn.operations()) if w["table"] == "Pen"]
        self.assertEqual(len(pen_waits), 1)
        self.assertEqual((pen_waits[0]["where"], pen_waits[0]["columns"]), ([], ["name"]))
        self.assertEqual(sorted(r["name"] for r in pen_waits[0]["rows"]), ["a", "b"])
        other = self.world.txn()
        self._add_pen(other, "zz")
        self.world.db.transact(other.operations())
        self.assertRaises(WaitTimedOut, self.world.run, txn.operations())

    def test_set_mutations_of_one_row_are_merged(self):
        """Consecutive insertions into one set of one row go out as one mutation holding them all."""
        txn = self.world.txn()
        names = [self._add_pen(txn, "n%d" % i) for i in range(5)]
        ops = txn.operations()
        (mutate,) = [op for op in ops if op["op"] == "mutate"]
        self.assertEqual(sorted(a[1] for a in mutate["mutations"][0][2][1]), sorted(names))
        results = self.world.run(ops)
        self.assertEqual(len(self.world.replica.rows("Pen")), 7)
        self.assertEqual(len(txn.resolve(results)), 10)


class ScanTests(TestCase):
    """A scan depends on which rows exist."""

    def test_new_matching_row_fails_a_scan(self):
        """A plan that scanned a table and found no match fails when another writer adds a matching row,
        even though no row it read changed."""
        world = World().seed()
        txn = world.txn()
        big = [u for u, row in txn.rows("Pen").items() if row["size"] > 50]
        self.assertEqual(big, [])
        txn.update("Pen", txn.find("Pen", name="a"), {"keeper": "kim"})
        ops = txn.operations()
        other = world.txn()
        cat = other.insert("Animal", {"kind": "cat"})
        pen = other.insert("Pen", {"name": "c", "animals": frozenset([cat]), "size": 99})
        other.mutate("Zoo", next(iter(other.rows("Zoo"))), "pens", "insert", frozenset([pen]))
        world.db.transact(other.operations())
        self.assertRaises(WaitTimedOut, world.run, ops)
