"""Tests for ovsdbus.ovsdb.replica: the monitor-fed copy of the database."""

import copy
import json
import os
import shutil
import tempfile
import unittest

from twisted.internet import defer, reactor
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.logger import Logger, LogLevel, formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.client import OvsdbClientProtocol, monitor_requests
from ovsdbus.ovsdb.connection import MONITOR_ID, OvsdbConnection
from ovsdbus.ovsdb.errors import ProtocolError
from ovsdbus.ovsdb.replica import DELETE, INSERT, MODIFY, Replica, RowChange
from ovsdbus.ovsdb.schema import ZERO_UUID, DatabaseSchema, SchemaError
from ovsdbus.testing import FakeOvsdb, FakeOvsdbFactory, sandbox
from ovsdbus.vswitch.operations import MONITORED_COLUMNS
from tests.realstack import poll_until, require_programs

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
        "Mirror": {"isRoot": True, "columns": {
            "output_port": {"type": {"key": {"type": "uuid", "refTable": "Port", "refType": "weak"},
                                     "min": 0, "max": 1}},
            "limit": {"type": {"key": {"type": "uuid", "refTable": "Unmonitored"}, "min": 0, "max": 1}},
        }},
        "Unmonitored": {"columns": {"x": {"type": "integer"}}},
    },
})

COLUMNS = {
    "Root": ["bridges", "cur_cfg"],
    "Bridge": ["name", "ports", "fail_mode", "external_ids"],
    "Port": ["name", "tag"],
    "Mirror": ["output_port", "limit"],
}


def bridge_row(name, ports=(), fail_mode=None, external_ids=None):
    """A Bridge row as the replica holds it."""
    return {"name": name, "ports": frozenset(ports), "fail_mode": fail_mode,
            "external_ids": external_ids or {}}


def uuids(*us):
    return ["set", [["uuid", u] for u in us]]


def toggle_root_bridges(*us):
    """The update2 entry that adds or removes ``us`` in Root.bridges (the root row is what keeps a
    bridge alive: a bridge comes and goes with its reference)."""
    return {ROOT: {"modify": {"bridges": uuids(*us)}}}


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
        """Tables and columns of the schema that we did not ask for are ignored, not errors."""
        changes = self.replica.apply_update({
            "Unmonitored": {B3: {"insert": {"x": 1}}},
            "Bridge": {B3: {"insert": {"name": "br2", "datapath_id": "0000aa", "_version": ["uuid", P2]}}},
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
        }}}, "Port": {P2: {"insert": {"name": "p2"}}, P1: {"delete": None}}}, 2)
        new = bridge_row("br0", [P2], fail_mode="standalone", external_ids={"new": "1"})
        self.assertEqual(changes[0], RowChange(MODIFY, "Bridge", B1, old, new))
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
        changes = self.replica.apply_update({"Bridge": {B2: {"delete": None}},
                                             "Root": toggle_root_bridges(B2)}, 2)
        self.assertEqual(changes[0], RowChange(DELETE, "Bridge", B2, old, None))
        self.assertIsNone(self.replica.row("Bridge", B2))
        self.assertNotIn(B2, self.replica.rows("Bridge"))

    def test_rows_handed_out_do_not_change(self):
        """A row object a caller holds keeps its values after later updates."""
        row = self.replica.row("Bridge", B1)
        copy = dict(row)
        self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": ["uuid", P2]}}},
                                   "Port": {P2: {"insert": {"name": "p2"}}}}, 2)
        self.replica.apply_update({"Bridge": {B1: {"delete": None}}, "Root": toggle_root_bridges(B1)}, 2)
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


class ElementChangesTests(ReplicaTestCase):
    """What a set column lost and gained in a change, as observers (the object tree) read it."""

    def setUp(self):
        super().setUp()
        self.load()

    def bridge_change(self, changes):
        return next(c for c in changes if c.table == "Bridge" and c.uuid == B1)

    def test_diff_of_the_last_update(self):
        """A port added to and one removed from a bridge in one update are the elements gained and lost."""
        changes = self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": uuids(P1, P2)}}},
                                             "Port": {P2: {"insert": {"name": "p2"}}, P1: {"delete": None}}}, 2)
        lost, gained = self.replica.element_changes(self.bridge_change(changes), "ports")
        self.assertEqual((set(lost), set(gained)), ({P1}, {P2}))
        self.assertEqual(self.replica.row("Bridge", B1)["ports"], frozenset([P2]))

    def test_one_element_added_to_a_large_set(self):
        """One port added to a bridge of 2 000 is one element gained, nothing lost, and the bridge holds all."""
        many = ["%08x-0000-4000-8000-%012x" % (i, i) for i in range(2000)]
        self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": uuids(*many)}}},
                                   "Port": {u: {"insert": {"name": "q%d" % i}} for i, u in enumerate(many)}}, 2)
        changes = self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": ["uuid", P2]}}},
                                             "Port": {P2: {"insert": {"name": "p2"}}}}, 2)
        self.assertEqual(self.replica.element_changes(self.bridge_change(changes), "ports"), ((), (P2,)))
        self.assertEqual(self.replica.row("Bridge", B1)["ports"], frozenset([P1, P2, *many]))

    def test_other_changes_are_computed(self):
        """For a change not of the last update (an insert, an older change) the elements come from the rows."""
        first = self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": ["uuid", P2]}}},
                                           "Port": {P2: {"insert": {"name": "p2"}}}}, 2)
        self.replica.apply_update({"Port": {P1: {"modify": {"tag": 11}}}}, 2)
        self.assertEqual(self.replica.element_changes(self.bridge_change(first), "ports"),
                         (frozenset(), frozenset([P2])))
        inserted = RowChange(INSERT, "Bridge", B3, None, bridge_row("br2", [P1]))
        self.assertEqual(self.replica.element_changes(inserted, "ports"), (frozenset(), frozenset([P1])))

    def test_reference_counts_follow_the_diff(self):
        """A port a bridge no longer lists can be deleted; one it still lists cannot (its count followed the diff)."""
        self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": ["uuid", P2]}}},
                                   "Port": {P2: {"insert": {"name": "p2"}}}}, 2)
        self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": ["uuid", P1]}}},
                                   "Port": {P1: {"delete": None}}}, 2)
        self.assertIsNone(self.replica.row("Port", P1))
        before = self.snapshot()
        self.assertRaises(ProtocolError, self.replica.apply_update, {"Port": {P2: {"delete": None}}}, 2)
        self.assertEqual(self.snapshot(), before)

    def test_set_diff_removes_and_adds_in_one_step(self):
        """ColumnType.set_diff says what the diff removed and added, and gives the new set."""
        ctype = SCHEMA.tables["Bridge"].columns["ports"].type
        new, removed, added = ctype.set_diff(frozenset([P1, B1]), uuids(P1, P2))
        self.assertEqual((new, removed, added), (frozenset([B1, P2]), (P1,), (P2,)))
        unchanged = frozenset([P1])
        self.assertIs(ctype.set_diff(unchanged, ["set", []])[0], unchanged)
        self.assertRaises(SchemaError, ctype.set_diff, unchanged, uuids(P2, P2))


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
        update = {"Bridge": {B2: {"old": {"name": "br1", "fail_mode": "secure"}}},
                  "Root": {ROOT: {"old": {"bridges": uuids(B1, B2)}, "new": {"bridges": uuids(B1), "cur_cfg": 3}}}}
        changes = self.replica.apply_update(update, 1)
        self.assertEqual(changes[0], RowChange(DELETE, "Bridge", B2, old, None))
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


M1 = "d1d1d1d1-0000-4000-8000-000000000001"
NOWHERE = "eeeeeeee-0000-4000-8000-00000000000e"


class ViolationTests(ReplicaTestCase):
    """Each way an update can contradict the schema or the rows held is a ProtocolError naming
    what was wrong; the replica stays exactly as it was (the connection then resyncs)."""

    def setUp(self):
        super().setUp()
        self.load()
        self.replica.apply_update({"Mirror": {M1: {"insert": {"output_port": ["uuid", P1]}}}}, 2)

    def assert_refused(self, update, *named, version=2, resync=False):
        """``update`` raises ProtocolError whose message holds each of ``named``; nothing changes."""
        before = self.snapshot()
        apply = self.replica.resync if resync else self.replica.apply_update
        error = self.assertRaises(ProtocolError, apply, update, version)
        for text in named:
            self.assertIn(text, str(error))
        self.assertEqual(self.snapshot(), before)
        return error

    def test_unknown_table(self):
        """Rows of a table the database does not have."""
        self.assert_refused({"Nosuch": {B3: {"insert": {}}}}, "Nosuch")

    def test_unknown_column(self):
        """A column the table does not have, in an insert, a modify or a version 1 old value."""
        self.assert_refused({"Bridge": {B3: {"insert": {"name": "br2", "nosuch": 1}}}}, "Bridge", B3, "nosuch")
        self.assert_refused({"Bridge": {B1: {"modify": {"nosuch": 1}}}}, "Bridge", B1, "nosuch")
        self.assert_refused({"Port": {P1: {"old": {"nosuch": 1}, "new": {"name": "p1"}}}}, "Port", P1, "nosuch",
                            version=1)

    def test_delete_of_unknown_row(self):
        """Deleting a row we do not hold: we missed its insert."""
        self.assert_refused({"Bridge": {B3: {"delete": None}}}, "Bridge", B3, "delete")
        self.assert_refused({"Bridge": {B3: {"old": {"name": "br2"}}}}, "Bridge", B3, "delete", version=1)

    def test_modify_of_unknown_row(self):
        """Modifying a row we do not hold (version 1 used to take it as an insert)."""
        self.assert_refused({"Port": {P2: {"modify": {"tag": 1}}}}, "Port", P2, "modify")
        self.assert_refused({"Port": {P2: {"old": {"tag": 1}, "new": {"name": "p2", "tag": 2}}}},
                            "Port", P2, "modify", version=1)

    def test_insert_over_existing_row(self):
        """Inserting a uuid we already hold (it used to become a silent modify)."""
        self.assert_refused({"Port": {P1: {"insert": {"name": "p1", "tag": 11}}}}, "Port", P1, "insert")
        self.assert_refused({"Port": {P1: {"initial": {"name": "p1"}}}}, "Port", P1, "initial")
        self.assert_refused({"Port": {P1: {"new": {"name": "p1", "tag": 11}}}}, "Port", P1, "insert", version=1)

    def test_row_key_not_a_uuid(self):
        """Row keys must be uuids (also no trailing newline)."""
        self.assert_refused({"Bridge": {"br2": {"insert": {"name": "br2"}}}}, "Bridge", "'br2'")
        self.assert_refused({"Bridge": {B3 + "\n": {"insert": {"name": "br2"}}}}, "Bridge", B3)

    def test_row_key_case(self):
        """A row key in upper case is the same row as in lower case (as uuid values are)."""
        self.replica.apply_update({"Port": {P2.upper(): {"insert": {"name": "p2"}}}}, 2)
        self.assertEqual(self.replica.row("Port", P2), {"name": "p2", "tag": None})
        self.assert_refused({"Port": {P1.upper(): {"insert": {"name": "x"}}}}, "Port", P1, "insert")

    def test_malformed_row_entries(self):
        """Row entries of the wrong shape, in both formats."""
        self.assert_refused({"Bridge": {B3: {"insert": ["name", "br2"]}}}, "Bridge", B3)
        self.assert_refused({"Bridge": {B1: {"modify": None}}}, "Bridge", B1)
        self.assert_refused({"Bridge": {B3: None}}, "Bridge", B3)
        self.assert_refused({"Bridge": {B1: {}}}, "Bridge", B1, version=1)
        self.assert_refused({"Bridge": {B1: {"new": {"name": "br0"}, "old": {}, "extra": 1}}}, "Bridge", B1,
                            version=1)
        self.assert_refused({"Bridge": {B1: {"old": ["name"], "new": {"name": "br0"}}}}, "Bridge", B1, version=1)

    def test_values_the_type_cannot_hold(self):
        """Values of the wrong type for their column, named with table, row and column."""
        cases = [
            ({"Bridge": {B3: {"insert": {"name": "br2", "ports": ["named-uuid", "p"]}}}}, "ports"),
            ({"Root": {ROOT: {"modify": {"cur_cfg": 2 ** 63}}}}, "cur_cfg"),
            ({"Root": {ROOT: {"modify": {"cur_cfg": -2 ** 63 - 1}}}}, "cur_cfg"),
            ({"Bridge": {B1: {"modify": {"external_ids": ["map", [["a", "1"], ["a", "2"]]]}}}}, "external_ids"),
            ({"Bridge": {B1: {"modify": {"ports": uuids(P2, P2)}}}, "Port": {P2: {"insert": {"name": "p2"}}}},
             "ports"),
            ({"Port": {P1: {"modify": {"tag": 1.5}}}}, "tag"),
            ({"Bridge": {B1: {"modify": {"name": ["set", []]}}}}, "name"),
        ]
        for update, column in cases:
            table, = [t for t in update if t != "Port"] or ["Port"]
            row, = update[table]
            self.assert_refused(update, table, row, column)

    def test_huge_bad_value_quoted_briefly(self):
        """A megabyte-long bad value is named in a message of reasonable length (it goes to the log)."""
        error = self.assert_refused({"Bridge": {B1: {"modify": {"name": ["x" * 1000000]}}}}, "Bridge", B1, "name")
        self.assertLess(len(str(error)), 1000)
        error = self.assert_refused({"Bridge": {B3: {"insert": {"y" * 1000000: 1}}}}, "Bridge", B3)
        self.assertLess(len(str(error)), 1000)

    def test_reference_to_missing_row(self):
        """A strong reference to a row that does not exist after the update."""
        self.assert_refused({"Bridge": {B3: {"insert": {"name": "br2", "ports": ["uuid", P2]}}}},
                            "Bridge", B3, "ports", P2)
        self.assert_refused({"Root": toggle_root_bridges(B3)}, "Root", ROOT, "bridges", B3)

    def test_deleted_row_still_referenced(self):
        """Deleting a row that monitored columns still refer to strongly."""
        self.assert_refused({"Bridge": {B2: {"delete": None}}}, "Bridge", B2, "still referred to")

    def test_dangling_weak_reference_kept_as_the_server_has_it(self):
        """A weak reference left pointing at a deleted row is what ovsdb-server 3.1 itself holds
        when a transaction changed the referring row before deleting the target: the replica
        takes the update (a resync would only bring it back) and keeps the reference."""
        self.replica.apply_update({"Port": {P1: {"delete": None}},
                                   "Bridge": {B1: {"modify": {"ports": ["uuid", P1]}}}}, 2)
        self.assertIsNone(self.replica.row("Port", P1))
        self.assertEqual(self.replica.row("Mirror", M1)["output_port"], P1)

    def test_weak_reference_removed_with_its_row(self):
        """A weak reference cleared in the same update as its row's deletion is fine."""
        self.replica.apply_update({"Port": {P1: {"delete": None}},
                                   "Bridge": {B1: {"modify": {"ports": ["uuid", P1]}}},
                                   "Mirror": {M1: {"modify": {"output_port": ["set", []]}}}}, 2)
        self.assertIsNone(self.replica.row("Port", P1))

    def test_references_into_unmonitored_tables_not_checked(self):
        """A reference to a table we do not monitor cannot be checked, and is not an error."""
        self.replica.apply_update({"Mirror": {M1: {"modify": {"limit": ["uuid", NOWHERE]}}}}, 2)
        self.assertEqual(self.replica.row("Mirror", M1)["limit"], NOWHERE)
        replica = Replica(SCHEMA, {"Bridge": ["name", "ports"]})
        replica.apply_update({"Bridge": {B1: {"insert": {"name": "br0", "ports": ["uuid", P1]}}}}, 2)
        self.assertEqual(replica.row("Bridge", B1)["ports"], frozenset([P1]))

    def test_references_checked_after_the_whole_update(self):
        """Rows may come in any order within an update: a reference to a row inserted later in
        the same update, or a referrer deleted later, is fine."""
        self.replica.apply_update({"Root": toggle_root_bridges(B3), "Bridge": {B3: {"insert": {"name": "br2"}}}}, 2)
        self.replica.apply_update({"Bridge": {B3: {"delete": None}}, "Root": toggle_root_bridges(B3)}, 2)
        self.assertIsNone(self.replica.row("Bridge", B3))

    def test_reference_count_follows_updates(self):
        """A row becomes deletable once the last reference to it is gone, however it went."""
        self.replica.apply_update({"Port": {P2: {"insert": {"name": "p2"}}},
                                   "Bridge": {B2: {"modify": {"ports": ["uuid", P1]}}}}, 2)
        self.replica.apply_update({"Bridge": {B1: {"modify": {"ports": uuids(P1, P2)}}}}, 2)
        # P1 is now referred to by B2 only, and by the mirror.
        self.assert_refused({"Port": {P1: {"delete": None}}, "Mirror": {M1: {"delete": None}}}, P1, "(1 reference)")
        self.replica.apply_update({"Bridge": {B2: {"delete": None}}, "Root": toggle_root_bridges(B2),
                                   "Mirror": {M1: {"delete": None}}, "Port": {P1: {"delete": None}}}, 2)
        self.assertEqual(set(self.replica.rows("Port")), {P2})

    def test_old_value_differs(self):
        """A version 1 "old" value that is not what the replica holds: the replica is out of step."""
        self.assert_refused({"Port": {P1: {"old": {"tag": 9}, "new": {"name": "p1", "tag": 20}}}},
                            "Port", P1, "tag", version=1)
        self.assert_refused({"Bridge": {B2: {"old": {"name": "brX"}}}, "Root": {ROOT: {
            "old": {"bridges": uuids(B1, B2)}, "new": {"bridges": uuids(B1), "cur_cfg": 3}}}},
            "Bridge", B2, "name", version=1)

    def test_snapshot_violations(self):
        """A resync snapshot is held to the same rules: no dangling references, no deletes or
        modifies (the snapshot has nothing to change), no repeated rows."""
        snapshot = initial()
        snapshot["Bridge"][B1]["initial"]["ports"] = ["uuid", P2]
        self.assert_refused(snapshot, "Bridge", B1, P2, resync=True)
        snapshot = initial()
        snapshot["Port"][P2] = {"delete": None}
        self.assert_refused(snapshot, "Port", P2, "delete", resync=True)
        snapshot = initial()
        snapshot["Port"][P1.upper()] = {"initial": {"name": "p1"}}
        self.assert_refused(snapshot, "Port", P1, resync=True)


class WarningTests(ReplicaTestCase):
    """Harmless surprises are kept out of the replica or kept as sent, with a logged warning."""

    def setUp(self):
        super().setUp()
        self.events = []
        self.replica.log = Logger(observer=self.events.append)
        self.load()

    def warnings(self):
        return [formatEvent(e) for e in self.events if e["log_level"] == LogLevel.warn]

    def test_unmonitored_table_warned_once(self):
        """Rows of a table we did not ask for are ignored, with one warning naming the table."""
        self.replica.apply_update({"Unmonitored": {B3: {"insert": {"x": 1}}}}, 2)
        self.replica.apply_update({"Unmonitored": {B3: {"modify": {"x": 2}}}}, 2)
        warnings = self.warnings()
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("Unmonitored", warnings[0])

    def test_unmonitored_column_warned_once(self):
        """A column of the schema we did not ask for is ignored, with one warning naming it."""
        self.replica.apply_update({"Bridge": {B3: {"insert": {"name": "br2", "datapath_id": "1"}}},
                                   "Root": toggle_root_bridges(B3)}, 2)
        self.replica.apply_update({"Bridge": {B3: {"modify": {"datapath_id": "2"}}}}, 2)
        self.assertEqual(self.replica.row("Bridge", B3), bridge_row("br2"))
        warnings = self.warnings()
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("datapath_id", warnings[0])
        self.assertIn("Bridge", warnings[0])

    def test_warned_again_after_a_new_schema(self):
        """Each connection (a schema read again) warns afresh."""
        self.replica.apply_update({"Unmonitored": {B3: {"insert": {"x": 1}}}}, 2)
        self.replica.use_schema(SCHEMA)
        self.replica.apply_update({"Unmonitored": {B3: {"modify": {"x": 2}}}}, 2)
        self.assertEqual(len(self.warnings()), 2)

    def test_constraint_violation_kept_and_warned(self):
        """A value of the right type that breaks a constraint (out of range, not in the enum) is
        kept as the server sent it, so the replica still equals the server, and warned about."""
        self.replica.apply_update({"Port": {P1: {"modify": {"tag": 5000}}},
                                   "Bridge": {B1: {"modify": {"fail_mode": "bogus"}}}}, 2)
        self.assertEqual(self.replica.row("Port", P1)["tag"], 5000)
        self.assertEqual(self.replica.row("Bridge", B1)["fail_mode"], "bogus")
        warnings = self.warnings()
        self.assertEqual(len(warnings), 2, warnings)
        self.assertTrue(any("tag" in w and P1 in w and "5000" in w for w in warnings), warnings)
        self.assertTrue(any("fail_mode" in w and B1 in w for w in warnings), warnings)

    def test_valid_updates_warn_nothing(self):
        """Ordinary updates log nothing."""
        self.replica.apply_update({"Port": {P1: {"modify": {"tag": 4095}}}}, 2)
        self.assertEqual(self.events, [])


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
        self.replica.apply_update({"Bridge": {B2: {"delete": None}}, "Root": toggle_root_bridges(B2)}, 2)
        self.assertIsNone(self.replica.find("Bridge", name="br1"))

    def test_delete_and_reuse_name(self):
        """A name freed and taken by a new row in one transaction finds the new row, in either order."""
        self.replica.apply_update({"Bridge": {B3: {"insert": {"name": "br1"}}, B2: {"delete": None}},
                                   "Root": toggle_root_bridges(B2, B3)}, 2)
        self.assertEqual(self.replica.find("Bridge", name="br1"), B3)
        self.replica.apply_update({"Bridge": {B3: {"delete": None}, B2: {"insert": {"name": "br1"}}},
                                   "Root": toggle_root_bridges(B2, B3)}, 2)
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
        """Updates that change nothing (empty, unmonitored tables, refused ones) keep it."""
        self.load()
        g = self.replica.generation
        self.replica.apply_update({}, 2)
        self.replica.apply_update({"Unmonitored": {B3: {"insert": {"x": 1}}}}, 2)
        self.assertRaises(ProtocolError, self.replica.apply_update, {"Bridge": {B3: {"delete": None}}}, 2)
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


def server_contents(db, table_columns):
    """The fake server's rows, as a replica of ``table_columns`` should hold them."""
    return {table: {u: {c: row[c] for c in columns} for u, row in db.rows(table).items()}
            for table, columns in table_columns.items()}


class ConnectionResyncTests(TestCase):
    """Through the fake ovsdb-server and OvsdbConnection: an update that breaks the rules drops
    the connection with a logged error naming what was wrong, and the resync that follows
    leaves the replica equal to the server, each change signalled once."""

    def setUp(self):
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, "db.sock")
        self.db = FakeOvsdb(SCHEMA.json)
        self.db.transact([
            {"op": "insert", "table": "Port", "row": {"name": "p1"}, "uuid-name": "p1"},
            {"op": "insert", "table": "Bridge", "row": {"name": "br0", "ports": ["named-uuid", "p1"]},
             "uuid-name": "br0"},
            {"op": "insert", "table": "Root", "row": {"bridges": ["named-uuid", "br0"]}},
        ])
        self.factory = FakeOvsdbFactory(self.db)
        self.factory.listen_unix(path)
        self.addCleanup(self.factory.shutdown)
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.connection = OvsdbConnection(UNIXClientEndpoint(reactor, path), COLUMNS, reactor, database="Mini",
                                          retry_policy=lambda attempt: 0.05)
        self.changes = []
        self.states = []
        self.connection.add_observer(self.changes.extend)
        self.connection.add_state_observer(self.states.append)
        self.connection.startService()
        self.addCleanup(self.connection.stopService)
        return poll_until(lambda: self.connection.synced, what="the first sync")

    @defer.inlineCallbacks
    def test_violation_drops_logs_and_resyncs(self):
        """A monitor update modifying br0 and deleting a row we never had is refused whole: the
        connection drops at once with an error naming the table and row, nothing of it reaches
        the replica or observers, and after reconnecting (the server having changed meanwhile)
        the replica equals the server and each row that changed is reported exactly once."""
        self.assertEqual(self.connection.replica.tables, server_contents(self.db, COLUMNS))
        before = server_contents(self.db, COLUMNS)
        br0 = self.db.find("Bridge", name="br0")[0]["_uuid"]
        server, = self.factory.connections
        del self.changes[:], self.states[:]
        self.factory.pause()   # the new connection's requests wait until the server has changed
        server.notify("update3", [MONITOR_ID, ZERO_UUID, {"Bridge": {br0: {"modify": {"name": "evil"}},
                                                                     NOWHERE: {"delete": None}}}])
        yield poll_until(lambda: not self.connection.synced, what="the connection to drop")
        self.assertEqual(self.connection.replica.tables, before)
        self.assertEqual(self.changes, [])
        self.db.transact([
            {"op": "insert", "table": "Bridge", "row": {"name": "br1"}, "uuid-name": "br1"},
            {"op": "mutate", "table": "Root", "where": [],
             "mutations": [["bridges", "insert", ["named-uuid", "br1"]]]},
        ])
        self.factory.resume()
        yield poll_until(lambda: self.connection.synced, what="the resync")
        after = server_contents(self.db, COLUMNS)
        self.assertEqual(self.connection.replica.tables, after)
        self.assertEqual(self.states, [False, True])
        changed = sorted((t, u) for t in after for u in set(before[t]) | set(after[t])
                         if before[t].get(u) != after[t].get(u))
        self.assertEqual(sorted((c.table, c.uuid) for c in self.changes), changed)
        self.assertEqual(len(changed), 2)   # the new bridge and the root row
        errors = [formatEvent(e) for e in self.events if e.get("log_level") == LogLevel.error]
        self.assertTrue(any("Bridge" in e and NOWHERE in e for e in errors), errors)


VSCTL_SESSION = [
    ["add-br", "br0"], ["add-port", "br0", "p1", "tag=5"], ["add-bond", "br0", "bond0", "e1", "e2"],
    ["set-controller", "br0", "tcp:127.0.0.1:6653", "tcp:127.0.0.1:6654"], ["add-br", "br1"],
    ["set", "port", "p1", "trunks=1,2,3"], ["set", "bridge", "br0", "external_ids:a=b", "other_config:x=y"],
    ["set", "bridge", "br0", "external_ids:a=c"], ["remove", "bridge", "br0", "external_ids", "a"],
    ["--", "--id=@m", "create", "Mirror", "name=m0", "select-all=true", "--", "add", "bridge", "br0", "mirrors", "@m"],
    ["del-controller", "br0"], ["del-port", "br0", "bond0"], ["set", "port", "p1", "tag=[]"],
    ["set", "interface", "p1", "type=internal", "options:k=v"], ["del-port", "p1"], ["del-br", "br0"],
    ["add-br", "br0"], ["add-port", "br0", "x1"], ["del-br", "br1"],
]


class RealServerTests(TestCase):
    """The checks against a real ovsdb-server: ordinary work done with ovs-vsctl (garbage
    collection, weak references, maps, optional values) never trips them, in any update format."""

    def setUp(self):
        require_programs("ovsdb-tool", "ovsdb-server", "ovs-vsctl")
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, directory, True)
        self.server = sandbox.OvsdbServer(directory)
        self.addCleanup(self.server.stop)
        self.server.start()
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    @defer.inlineCallbacks
    def follow(self, method):
        """A client with a ``method`` monitor of MONITORED_COLUMNS feeding a replica; returns
        ``(replica, errors)``."""
        client = OvsdbClientProtocol(reactor)
        yield connectProtocol(UNIXClientEndpoint(reactor, str(self.server.socket_path)), client)

        def close():
            closed = client.on_disconnect   # fires once the connection is gone
            client.disconnect()
            return closed

        self.addCleanup(close)
        replica = Replica(DatabaseSchema.from_json((yield client.get_schema("Open_vSwitch"))), MONITORED_COLUMNS)
        errors = []

        def update(monitor_id, table_updates, version, last_txn_id):
            try:
                replica.apply_update(table_updates, version)
            except ProtocolError as e:
                errors.append(e)

        client.on_update = update
        requests = monitor_requests(replica.table_columns, conditional=method != "monitor")
        started = yield client.monitor("Open_vSwitch", "m", requests, method)
        replica.resync(started.initial, started.version)
        return replica, errors

    @defer.inlineCallbacks
    def test_ovs_vsctl_session(self):
        """Replicas fed by monitor, monitor_cond and monitor_cond_since follow an ovs-vsctl
        session without a protocol error or a warning and end equal to a fresh snapshot."""
        followers = {}
        for method in ("monitor", "monitor_cond", "monitor_cond_since"):
            followers[method] = yield self.follow(method)
        for command in VSCTL_SESSION:
            self.server.vsctl(*command)
        fresh, _ = yield self.follow("monitor_cond")
        self.assertEqual(len(fresh.rows("Port")), 2)
        for method, (replica, errors) in followers.items():
            yield poll_until(lambda r=replica, e=errors: e or r.tables == fresh.tables, what="the %s replica" % method)
            self.assertEqual(errors, [], method)
            self.assertEqual(replica.tables, fresh.tables, method)
        noted = [formatEvent(e) for e in self.events if e.get("log_level") in (LogLevel.warn, LogLevel.error)]
        self.assertEqual(noted, [])
