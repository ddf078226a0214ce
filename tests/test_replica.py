"""Tests for ovsdbus.replica: the monitor-fed copy of the database."""

import copy
import json
import os
import unittest

from twisted.trial.unittest import TestCase

from ovsdbus.errors import ProtocolError
from ovsdbus.replica import DELETE, INSERT, MODIFY, Replica, RowChange
from ovsdbus.schema import DatabaseSchema, SchemaError

VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"

ROOT = "11111111-1111-4111-8111-111111111111"
B1 = "b1b1b1b1-0000-4000-8000-000000000001"
B2 = "b2b2b2b2-0000-4000-8000-000000000002"
B3 = "b3b3b3b3-0000-4000-8000-000000000003"
P1 = "c1c1c1c1-0000-4000-8000-000000000001"
P2 = "c2c2c2c2-0000-4000-8000-000000000002"

SCHEMA = DatabaseSchema.from_json({
    "name": "Mini",
    "version": "1.0.0",
    "tables": {
        "Root": {"isRoot": True, "maxRows": 1, "columns": {
            "bridges": {"type": {"key": {"type": "uuid", "refTable": "Bridge"},
                                 "min": 0, "max": "unlimited"}},
            "cur_cfg": {"type": "integer"},
        }},
        "Bridge": {"indexes": [["name"]], "columns": {
            "name": {"type": "string", "mutable": False},
            "ports": {"type": {"key": {"type": "uuid", "refTable": "Port"}, "min": 0, "max": "unlimited"}},
            "fail_mode": {"type": {"key": {"type": "string", "enum": ["set", ["standalone", "secure"]]},
                                   "min": 0, "max": 1}},
            "external_ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
            "datapath_id": {"type": {"key": "string", "min": 0, "max": 1}, "ephemeral": True},
        }},
        "Port": {"indexes": [["name"]], "columns": {
            "name": {"type": "string"},
            "tag": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095},
                             "min": 0, "max": 1}},
        }},
        "Unmonitored": {"columns": {"x": {"type": "integer"}}},
    },
})

COLUMNS = {
    "Root": ["bridges", "cur_cfg"],
    "Bridge": ["name", "ports", "fail_mode", "external_ids"],
    "Port": ["name", "tag"],
}


def bridge_row(name, ports=(), fail_mode=None, external_ids=None):
    """A Bridge row as the replica holds it."""
    return {"name": name, "ports": frozenset(ports), "fail_mode": fail_mode,
            "external_ids": external_ids or {}}


def uuids(*us):
    return ["set", [["uuid", u] for u in us]]


def initial(version=2):
    """Initial contents: one root, bridges br0 (with port p1) and br1."""
    rows = {
        "Root": {ROOT: {"bridges": uuids(B1, B2), "cur_cfg": 3}},
        "Bridge": {B1: {"name": "br0", "ports": ["uuid", P1], "external_ids": ["map", [["k", "v"]]]},
                   B2: {"name": "br1", "fail_mode": "secure"}},
        "Port": {P1: {"name": "p1", "tag": 10}},
    }
    if version == 1:
        return {t: {u: {"new": r} for u, r in rs.items()} for t, rs in rows.items()}
    return {t: {u: {"initial": r} for u, r in rs.items()} for t, rs in rows.items()}


class ReplicaTestCase(TestCase):
    def setUp(self):
        self.replica = Replica(SCHEMA, COLUMNS)

    def load(self, version=2):
        return self.replica.apply_update(initial(version), version)

    def snapshot(self):
        """Everything observable about the replica, to compare before and after."""
        r = self.replica
        return ({t: dict(rows) for t, rows in r.tables.items()}, r.generation,
                {n: r.find("Bridge", name=n) for n in ("br0", "br1", "br2", "brX")},
                {n: r.find("Port", name=n) for n in ("p1", "p2")})


class InitialTests(ReplicaTestCase):
    """The monitor's initial contents fill the replica."""

    def check_loaded(self, changes):
        r = self.replica
        self.assertEqual(r.row("Bridge", B1), bridge_row("br0", [P1], external_ids={"k": "v"}))
        self.assertEqual(r.row("Bridge", B2), bridge_row("br1", fail_mode="secure"))
        self.assertEqual(r.row("Port", P1), {"name": "p1", "tag": 10})
        self.assertEqual(r.row("Root", ROOT), {"bridges": frozenset([B1, B2]), "cur_cfg": 3})
        self.assertEqual(sorted((c.table, c.uuid) for c in changes),
                         sorted([("Root", ROOT), ("Bridge", B1), ("Bridge", B2), ("Port", P1)]))
        for c in changes:
            self.assertEqual(c.kind, INSERT)
            self.assertIsNone(c.old)
            self.assertEqual(c.new, r.row(c.table, c.uuid))

    def test_initial_v2(self):
        """update2 "initial" rows appear with every monitored column, defaults for those not sent."""
        self.check_loaded(self.load(2))

    def test_initial_v1(self):
        """update (version 1) "new" rows appear the same way."""
        self.check_loaded(self.load(1))

    def test_empty_table(self):
        """A table with no rows reads as empty, not missing."""
        self.assertEqual(self.replica.rows("Port"), {})
        self.assertIsNone(self.replica.row("Port", P1))
        self.assertIsNone(self.replica.find("Port", name="p1"))

    def test_unmonitored_tables_and_columns_ignored(self):
        """Tables and columns we did not ask for are ignored, not errors."""
        changes = self.replica.apply_update({
            "Unmonitored": {B3: {"insert": {"x": 1}}},
            "Bridge": {B3: {"insert": {"name": "br2", "datapath_id": "0000aa", "nosuch": 1}}},
        }, 2)
        self.assertEqual(len(changes), 1)
        self.assertEqual(self.replica.row("Bridge", B3), bridge_row("br2"))

    def test_unknown_table_or_column_refused_at_construction(self):
        """Asking to monitor a table or column the schema lacks is an error up front."""
        self.assertRaises(SchemaError, Replica, SCHEMA, {"Nope": ["x"]})
        self.assertRaises(SchemaError, Replica, SCHEMA, {"Bridge": ["name", "nope"]})

    def test_all_columns(self):
        """None as the column list monitors every column of the table."""
        replica = Replica(SCHEMA, {"Bridge": None})
        replica.apply_update({"Bridge": {B1: {"insert": {"name": "br0"}}}}, 2)
        self.assertEqual(set(replica.row("Bridge", B1)),
                         {"name", "ports", "fail_mode", "external_ids", "datapath_id"})


class UpdateV2Tests(ReplicaTestCase):
    """update2/update3 row updates: insert, modify, delete."""

    def setUp(self):
        super().setUp()
        self.load()

    def test_insert(self):
        """An inserted row appears and is reported as an insert."""
        changes = self.replica.apply_update({"Bridge": {B3: {"insert": {"name": "br2"}}}}, 2)
        self.assertEqual(changes, [RowChange(INSERT, "Bridge", B3, None, bridge_row("br2"))])
        self.assertEqual(self.replica.row("Bridge", B3), bridge_row("br2"))

    def test_modify(self):
        """A modify applies its diffs; the change holds the whole row before and after."""
        old = self.replica.row("Bridge", B1)
        changes = self.replica.apply_update({"Bridge": {B1: {"modify": {
            "ports": ["set", [["uuid", P1], ["uuid", P2]]],
            "external_ids": ["map", [["k", "v"], ["new", "1"]]],
            "fail_mode": "standalone",
        }}}}, 2)
        new = bridge_row("br0", [P2], fail_mode="standalone", external_ids={"new": "1"})
        self.assertEqual(changes, [RowChange(MODIFY, "Bridge", B1, old, new)])
        self.assertEqual(self.replica.row("Bridge", B1), new)

    def test_modify_optional_value(self):
        """Changing Port.tag from 10 to 20 shows 20 (the server sends the new value of a max-1 column)."""
        self.replica.apply_update({"Port": {P1: {"modify": {"tag": 20}}}}, 2)
        self.assertEqual(self.replica.row("Port", P1)["tag"], 20)

    def test_clear_optional_value(self):
        """Clearing Port.tag (the server sends ["set", []]) shows no tag."""
        self.replica.apply_update({"Port": {P1: {"modify": {"tag": ["set", []]}}}}, 2)
        self.assertIsNone(self.replica.row("Port", P1)["tag"])

    def test_clear_optional_enum(self):
        """Clearing Bridge.fail_mode shows no fail mode."""
        self.replica.apply_update({"Bridge": {B2: {"modify": {"fail_mode": ["set", []]}}}}, 2)
        self.assertIsNone(self.replica.row("Bridge", B2)["fail_mode"])

    def test_delete(self):
        """A deleted row disappears; the change holds the row as it was."""
        old = self.replica.row("Bridge", B2)
        changes = self.replica.apply_update({"Bridge": {B2: {"delete": None}}}, 2)
        self.assertEqual(changes, [RowChange(DELETE, "Bridge", B2, old, None)])
        self.assertIsNone(self.replica.row("Bridge", B2))
        self.assertNotIn(B2, self.replica.rows("Bridge"))

    def test_delete_unknown_row(self):
        """Deleting a row we never saw changes nothing and reports nothing."""
        before = self.snapshot()
        self.assertEqual(self.replica.apply_update({"Bridge": {B3: {"delete": None}}}, 2), [])
        self.assertEqual(self.snapshot(), before)

    def test_rows_handed_out_do_not_change(self):
        """A row object a caller holds keeps its values after later updates."""
        row = self.replica.row("Bridge", B1)
        copy = dict(row)
        self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": ["uuid", P2]}}}}, 2)
        self.replica.apply_update({"Bridge": {B1: {"delete": None}}}, 2)
        self.assertEqual(row, copy)

    def test_several_tables_one_update(self):
        """A transaction touching several tables is reported as one batch of changes."""
        changes = self.replica.apply_update({
            "Port": {P2: {"insert": {"name": "p2"}}},
            "Bridge": {B1: {"modify": {"ports": ["uuid", P2]}}},
            "Root": {ROOT: {"modify": {"cur_cfg": 4}}},
        }, 2)
        self.assertEqual({(c.kind, c.table, c.uuid) for c in changes},
                         {(INSERT, "Port", P2), (MODIFY, "Bridge", B1), (MODIFY, "Root", ROOT)})
        self.assertEqual(self.replica.row("Root", ROOT)["cur_cfg"], 4)

    def test_changes_complete_before_return(self):
        """Every change returned is already visible in the replica (observers see a consistent copy)."""
        changes = self.replica.apply_update({
            "Port": {P2: {"insert": {"name": "p2"}}, P1: {"delete": None}},
            "Bridge": {B1: {"modify": {"ports": uuids(P1, P2)}}},
        }, 2)
        for c in changes:
            self.assertEqual(self.replica.row(c.table, c.uuid), c.new)


class UpdateV1Tests(ReplicaTestCase):
    """update (version 1) row updates: old/new pairs."""

    def setUp(self):
        super().setUp()
        self.load(1)

    def test_insert(self):
        """A row update with only "new" for an unknown row is an insert."""
        changes = self.replica.apply_update({"Bridge": {B3: {"new": {"name": "br2"}}}}, 1)
        self.assertEqual(changes, [RowChange(INSERT, "Bridge", B3, None, bridge_row("br2"))])

    def test_modify(self):
        """"old" with the changed columns and "new" with all of them is a modify."""
        old = self.replica.row("Port", P1)
        changes = self.replica.apply_update(
            {"Port": {P1: {"old": {"tag": 10}, "new": {"name": "p1", "tag": 20}}}}, 1)
        self.assertEqual(changes, [RowChange(MODIFY, "Port", P1, old, {"name": "p1", "tag": 20})])

    def test_modify_clears_optional(self):
        """A "new" with an empty optional clears it."""
        update = {"Port": {P1: {"old": {"tag": 10}, "new": {"name": "p1", "tag": ["set", []]}}}}
        self.replica.apply_update(update, 1)
        self.assertIsNone(self.replica.row("Port", P1)["tag"])

    def test_delete(self):
        """Only "old" is a delete."""
        old = self.replica.row("Bridge", B2)
        update = {"Bridge": {B2: {"old": {"name": "br1", "fail_mode": "secure"}}}}
        changes = self.replica.apply_update(update, 1)
        self.assertEqual(changes, [RowChange(DELETE, "Bridge", B2, old, None)])
        self.assertIsNone(self.replica.row("Bridge", B2))


class AtomicityTests(ReplicaTestCase):
    """An update that does not fit the schema is refused whole."""

    BAD_UPDATES = [
        {"Bridge": {B3: {"insert": {"name": "br2"}}}, "Port": {P2: {"insert": {"name": 5}}}},
        {"Port": {P2: {"insert": {"name": "p2"}}}, "Bridge": {B1: {"modify": {"fail_mode": 1}}}},
        {"Bridge": {B3: {"insert": {"name": "br2"}}, B1: {"frobnicate": {}}}},
        {"Bridge": {B3: {"insert": {"name": "br2"}}, B1: {"modify": {}, "delete": None}}},
        {"Bridge": {B3: {"insert": {"name": "br2"}}, B1: ["modify"]}},
        {"Bridge": {B3: {"insert": {"name": "br2"}}, "99999999-0000-4000-8000-000000000009": {"modify": {}}}},
        {"Bridge": {B3: {"insert": {"name": "br2"}}}, "Port": []},
        {"Bridge": {B3: {"insert": {"name": "br2", "ports": ["set", ["not-a-uuid"]]}}}},
        {"Bridge": {B3: {"insert": {"name": "br2", "external_ids": ["map", [["k"]]]}}}},
        {"Root": {ROOT: {"modify": {"bridges": ["uuid", B3]}}}, "Port": {P1: {"modify": {"tag": "x"}}}},
        ["Bridge"],
    ]

    def setUp(self):
        super().setUp()
        self.load()

    def test_invalid_update_changes_nothing(self):
        """A bad entry anywhere in an update raises ProtocolError and leaves rows, indexes and
        generation exactly as they were."""
        for update in self.BAD_UPDATES:
            before = self.snapshot()
            self.assertRaises(ProtocolError, self.replica.apply_update, update, 2)
            self.assertEqual(self.snapshot(), before, update)

    def test_invalid_v1_update_changes_nothing(self):
        """The same holds for version 1 updates."""
        before = self.snapshot()
        self.assertRaises(ProtocolError, self.replica.apply_update,
                          {"Bridge": {B3: {"new": {"name": "br2"}}}, "Port": {P1: {"new": {"tag": "x"}}}}, 1)
        self.assertEqual(self.snapshot(), before)

    def test_invalid_resync_changes_nothing(self):
        """A bad snapshot after reconnecting is refused whole too."""
        before = self.snapshot()
        self.assertRaises(ProtocolError, self.replica.resync,
                          {"Bridge": {B3: {"initial": {"name": 7}}}}, 2)
        self.assertEqual(self.snapshot(), before)


class IndexTests(ReplicaTestCase):
    """find() by name stays right through inserts, renames and deletes."""

    def setUp(self):
        super().setUp()
        self.load()

    def test_find(self):
        """A bridge is found by its name; an unknown name finds nothing."""
        self.assertEqual(self.replica.find("Bridge", name="br0"), B1)
        self.assertEqual(self.replica.find("Port", name="p1"), P1)
        self.assertIsNone(self.replica.find("Bridge", name="nope"))

    def test_rename(self):
        """After a rename the new name finds the row and the old name finds nothing."""
        self.replica.apply_update({"Bridge": {B1: {"modify": {"name": "brA"}}}}, 2)
        self.assertEqual(self.replica.find("Bridge", name="brA"), B1)
        self.assertIsNone(self.replica.find("Bridge", name="br0"))

    def test_swap_names(self):
        """Two rows swapping names in one transaction are each found under their new name."""
        for order in ((B1, B2), (B2, B1)):
            names = {B1: self.replica.row("Bridge", B1)["name"], B2: self.replica.row("Bridge", B2)["name"]}
            first, second = order
            update = {"Bridge": {first: {"modify": {"name": names[second]}},
                                 second: {"modify": {"name": names[first]}}}}
            self.replica.apply_update(update, 2)
            self.assertEqual(self.replica.find("Bridge", name=names[B1]), B2)
            self.assertEqual(self.replica.find("Bridge", name=names[B2]), B1)

    def test_delete(self):
        """A deleted row is no longer found."""
        self.replica.apply_update({"Bridge": {B2: {"delete": None}}}, 2)
        self.assertIsNone(self.replica.find("Bridge", name="br1"))

    def test_delete_and_reuse_name(self):
        """A name freed and taken by a new row in one transaction finds the new row, in either order."""
        self.replica.apply_update({"Bridge": {B3: {"insert": {"name": "br1"}}, B2: {"delete": None}}}, 2)
        self.assertEqual(self.replica.find("Bridge", name="br1"), B3)
        self.replica.apply_update({"Bridge": {B3: {"delete": None}, B2: {"insert": {"name": "br1"}}}}, 2)
        self.assertEqual(self.replica.find("Bridge", name="br1"), B2)

    def test_rename_then_reuse(self):
        """After br0 is renamed and a new br0 created, each name finds its own row."""
        self.replica.apply_update({"Bridge": {B1: {"modify": {"name": "old"}}}}, 2)
        self.replica.apply_update({"Bridge": {B3: {"insert": {"name": "br0"}}}}, 2)
        self.assertEqual(self.replica.find("Bridge", name="br0"), B3)
        self.assertEqual(self.replica.find("Bridge", name="old"), B1)

    def test_find_without_index(self):
        """find() on columns without an index still answers (by scanning)."""
        self.assertEqual(self.replica.find("Bridge", fail_mode="secure"), B2)
        self.assertIsNone(self.replica.find("Bridge", fail_mode="standalone"))

    def test_index_follows_resync(self):
        """After a resync the index matches the new contents."""
        self.replica.resync({"Bridge": {B3: {"initial": {"name": "br0"}}}}, 2)
        self.assertEqual(self.replica.find("Bridge", name="br0"), B3)
        self.assertIsNone(self.replica.find("Bridge", name="br1"))


class ResyncTests(ReplicaTestCase):
    """After a reconnect without history the snapshot is diffed against the old copy."""

    def setUp(self):
        super().setUp()
        self.load()

    def test_identical_snapshot(self):
        """The same contents again produce no change at all and no new generation."""
        before = self.snapshot()
        self.assertEqual(self.replica.resync(initial(), 2), [])
        self.assertEqual(self.snapshot(), before)

    def test_identical_snapshot_v1(self):
        """The same holds for a version 1 snapshot."""
        before = self.snapshot()
        self.assertEqual(self.replica.resync(initial(1), 1), [])
        self.assertEqual(self.snapshot(), before)

    def test_exact_differences(self):
        """Only rows that changed while we were away are reported: modified, deleted, inserted."""
        snapshot = initial()
        del snapshot["Bridge"][B2]
        snapshot["Root"][ROOT]["initial"]["bridges"] = uuids(B1, B3)
        snapshot["Bridge"][B3] = {"initial": {"name": "br2"}}
        snapshot["Port"][P1]["initial"]["tag"] = 11
        old = {("Bridge", B2): self.replica.row("Bridge", B2), ("Root", ROOT): self.replica.row("Root", ROOT),
               ("Port", P1): self.replica.row("Port", P1)}
        changes = self.replica.resync(snapshot, 2)
        self.assertEqual(sorted(changes, key=lambda c: (c.table, c.uuid)), [
            RowChange(DELETE, "Bridge", B2, old[("Bridge", B2)], None),
            RowChange(INSERT, "Bridge", B3, None, bridge_row("br2")),
            RowChange(MODIFY, "Port", P1, old[("Port", P1)], {"name": "p1", "tag": 11}),
            RowChange(MODIFY, "Root", ROOT, old[("Root", ROOT)],
                      {"bridges": frozenset([B1, B3]), "cur_cfg": 3}),
        ])
        self.assertEqual(set(self.replica.rows("Bridge")), {B1, B3})

    def test_everything_gone(self):
        """An empty snapshot deletes every row."""
        changes = self.replica.resync({}, 2)
        self.assertEqual(sorted((c.kind, c.uuid) for c in changes),
                         sorted((DELETE, u) for u in (ROOT, B1, B2, P1)))
        self.assertEqual(self.replica.rows("Bridge"), {})


class GenerationTests(ReplicaTestCase):
    """The generation counter tells callers whether anything changed since they looked."""

    def test_counts_changes(self):
        """Every update that changes something moves the generation forward."""
        g0 = self.replica.generation
        self.load()
        g1 = self.replica.generation
        self.assertGreater(g1, g0)
        self.replica.apply_update({"Port": {P1: {"modify": {"name": "p9"}}}}, 2)
        self.assertGreater(self.replica.generation, g1)

    def test_no_change_no_generation(self):
        """Updates that change nothing (empty, unmonitored tables, unknown deletions) keep it."""
        self.load()
        g = self.replica.generation
        self.replica.apply_update({}, 2)
        self.replica.apply_update({"Unmonitored": {B3: {"insert": {"x": 1}}}}, 2)
        self.replica.apply_update({"Bridge": {B3: {"delete": None}}}, 2)
        self.replica.resync(initial(), 2)
        self.assertEqual(self.replica.generation, g)


class VswitchReplicaTests(TestCase):
    """The replica against the installed Open_vSwitch schema."""

    def setUp(self):
        try:
            with open(VSWITCH_SCHEMA) as f:
                self.schema = DatabaseSchema.from_json(json.load(f))
        except FileNotFoundError:
            if os.environ.get("CI"):
                self.fail("%s is missing" % VSWITCH_SCHEMA)
            raise unittest.SkipTest("%s is not installed" % VSWITCH_SCHEMA) from None

    def test_flow_tables_and_tag(self):
        """Real vswitch columns decode: integer-keyed flow_tables, optional tag, trunks set."""
        replica = Replica(self.schema, {"Bridge": ["name", "flow_tables"], "Port": ["name", "tag", "trunks"]})
        replica.apply_update({
            "Bridge": {B1: {"initial": {"name": "br0", "flow_tables": ["map", [[0, ["uuid", P2]]]]}}},
            "Port": {P1: {"initial": {"name": "br0", "tag": 5, "trunks": ["set", [1, 2]]}}},
        }, 2)
        self.assertEqual(replica.row("Bridge", B1)["flow_tables"], {0: P2})
        self.assertEqual(replica.row("Port", P1), {"name": "br0", "tag": 5, "trunks": frozenset([1, 2])})
        self.assertEqual(replica.find("Bridge", name="br0"), B1)
        replica.apply_update({"Port": {P1: {"modify": {"trunks": ["set", [2, 3]]}}}}, 2)
        self.assertEqual(replica.row("Port", P1)["trunks"], frozenset([1, 3]))

    def test_server_diff_of_tag(self):
        """The update2 diffs ovsdb-server 3.1 sends when Port.tag goes 10 -> 20 -> none give
        the same values as ovs-vsctl would show."""
        replica = Replica(self.schema, {"Port": ["name", "tag", "trunks"]})
        replica.apply_update({"Port": {P1: {"initial": {"name": "p", "tag": 10}}}}, 2)
        replica.apply_update({"Port": {P1: {"modify": {"tag": 20, "trunks": ["set", [1, 2]]}}}}, 2)
        self.assertEqual(replica.row("Port", P1), {"name": "p", "tag": 20, "trunks": frozenset([1, 2])})
        replica.apply_update({"Port": {P1: {"modify": {"tag": ["set", []], "trunks": ["set", [1, 3]]}}}}, 2)
        self.assertEqual(replica.row("Port", P1), {"name": "p", "tag": None, "trunks": frozenset([2, 3])})


class SchemaChangeTests(ReplicaTestCase):
    """After a reconnect the server's schema is read again; it may have changed."""

    def test_schema_losing_a_mirrored_column_is_refused(self):
        """A schema without a column the replica mirrors is refused with a clear error, and the replica
        keeps working with the schema it had."""
        self.load()
        json = copy.deepcopy(SCHEMA.json)
        del json["tables"]["Bridge"]["columns"]["fail_mode"]
        error = self.assertRaises(SchemaError, self.replica.use_schema, DatabaseSchema.from_json(json))
        self.assertIn("fail_mode", str(error))
        self.assertEqual(self.replica.find("Bridge", name="br0"), B1)
        self.replica.apply_update({"Bridge": {B2: {"modify": {"fail_mode": "standalone"}}}}, 2)
        self.assertEqual(self.replica.row("Bridge", B2)["fail_mode"], "standalone")

    def test_new_schema_keeps_rows_and_indexes(self):
        """A compatible new schema (an extra column) keeps every row findable by name."""
        self.load()
        json = copy.deepcopy(SCHEMA.json)
        json["tables"]["Bridge"]["columns"]["new_column"] = {"type": "integer"}
        self.replica.use_schema(DatabaseSchema.from_json(json))
        self.assertEqual(self.replica.find("Bridge", name="br1"), B2)
        self.assertEqual(self.replica.find("Port", name="p1"), P1)
