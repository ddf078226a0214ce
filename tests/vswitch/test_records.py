"""Tests for ovsdbus.vswitch.records: naming records as ovs-vsctl does.

The generic rules (uuid, uuid prefix, ".", a ``name`` column, object paths) are shown on a small
schema written for the tests; ovs-vsctl's record ids of the Open_vSwitch tables are checked, one by
one, against ``ovs-vsctl get TABLE RECORD _uuid`` on a private ovsdb-server.
"""

import json
import unittest

from ovsdbus.ovsdb.errors import Ambiguous, InvalidArgs, NotFound
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema
from ovsdbus.vswitch import VSWITCH_SCHEMA_PATH, records
from ovsdbus.vswitch.records import RECORD_IDS, RecordId, find_record, record_ids
from tests.ovsdb.test_conditions import RealServer
from tests.vswitch.test_operations import ROOT, SCHEMA, Uuids, make_replica, standard_bridges


def _u(n):
    return "%08x-0000-4000-8000-%012x" % (0xA0, n)


#: A second database, unlike Open_vSwitch: named and nameless tables, a singleton, an integer name,
#: and tables called like Open_vSwitch's to show that ovs-vsctl's record ids do not leak into it.
ZOO = DatabaseSchema.from_json({
    "name": "Zoo",
    "version": "1.0.0",
    "tables": {
        "Animal": {"isRoot": True, "columns": {"name": {"type": "string"},
                                               "cage": {"type": {"key": {"type": "uuid", "refTable": "Cage"},
                                                                 "min": 0, "max": 1}}}},
        "Cage": {"isRoot": True, "columns": {"size": {"type": "integer"}}},
        "Keeper": {"isRoot": True, "indexes": [["name"]], "columns": {"name": {"type": "integer"}}},
        "Office": {"isRoot": True, "maxRows": 1, "columns": {"phone": {"type": "string"}}},
        "Controller": {"isRoot": True, "columns": {"name": {"type": {"key": "string", "min": 0, "max": 1}}}},
        "Bridge": {"isRoot": True, "columns": {"label": {"type": "string"},
                                               "controller": {"type": {"key": {"type": "uuid",
                                                                               "refTable": "Controller"},
                                                                       "min": 0, "max": 1}}}},
    },
})

ZOO_ROWS = {
    "Animal": {_u(1): {"name": "lion"}, _u(2): {"name": "zebra"}, _u(3): {"name": "zebra"},
               _u(4): {"name": "."}},
    "Cage": {_u(0x11): {"size": 3}, _u(0x12): {"size": 4}},
    "Keeper": {_u(0x21): {"name": 7}, _u(0x22): {"name": 70}},
    "Office": {_u(0x31): {"phone": "123"}},
    "Controller": {_u(0x41): {"name": ["set", ["c1"]]}, _u(0x42): {"name": ["set", []]}},
    "Bridge": {_u(0x51): {"label": "br0", "controller": ["set", [["uuid", _u(0x41)]]]}},
}


def zoo_replica(rows=ZOO_ROWS):
    replica = Replica(ZOO, {t: None for t in ZOO.tables})
    replica.apply_update({t: {u: {"initial": r} for u, r in table_rows.items()} for t, table_rows in rows.items()},
                         2)
    return replica


class RowsOnly:
    """A view with nothing but ``rows`` and ``row`` (as a transaction's overlay may be)."""

    def __init__(self, replica):
        self._replica = replica

    def rows(self, table):
        return self._replica.rows(table)

    def row(self, table, uuid):
        return self._replica.row(table, uuid)


class GenericRulesTests(unittest.TestCase):
    """Rules that work for any schema, shown on the Zoo database."""

    def setUp(self):
        self.replica = zoo_replica()

    def find(self, table, record, **kwargs):
        return find_record(self.replica, ZOO, table, record, **kwargs)

    def test_by_name_column(self):
        """A table with a name column finds rows by name."""
        self.assertEqual(self.find("Animal", "lion"), _u(1))

    def test_name_shared_by_rows_is_ambiguous(self):
        """A name two rows share is Ambiguous, naming the table and the name."""
        with self.assertRaises(Ambiguous) as caught:
            self.find("Animal", "zebra")
        self.assertIn("Animal", str(caught.exception))
        self.assertIn("zebra", str(caught.exception))

    def test_integer_name_column(self):
        """An integer name column is matched by the decimal number, never by a prefix or another spelling."""
        self.assertEqual(self.find("Keeper", "7"), _u(0x21))
        self.assertEqual(self.find("Keeper", "070"), _u(0x22))
        for record in ["7.0", "-7", "x7", "\u0667"]:
            with self.subTest(record=record), self.assertRaises(NotFound):
                self.find("Keeper", record)

    def test_optional_name_column(self):
        """An optional name column names the rows that have a name."""
        self.assertEqual(self.find("Controller", "c1"), _u(0x41))

    def test_nameless_table_by_uuid(self):
        """A table without a name column finds rows by uuid, in either case, and by nothing else."""
        self.assertEqual(self.find("Cage", _u(0x12)), _u(0x12))
        self.assertEqual(self.find("Cage", _u(0x12).upper()), _u(0x12))
        with self.assertRaises(NotFound):
            self.find("Cage", "3")

    def test_uuid_of_another_table(self):
        """A uuid of a row of another table is NotFound."""
        with self.assertRaises(NotFound):
            self.find("Cage", _u(1))

    def test_uuid_prefix(self):
        """A unique uuid prefix of 4 or more characters (either case) names its row; a prefix two rows share
        is Ambiguous; 3 characters are no prefix."""
        first, second = "abcd0000-0000-4000-8000-000000000001", "abcd1111-0000-4000-8000-000000000002"
        replica = zoo_replica({"Cage": {first: {"size": 1}, second: {"size": 2}}})
        self.assertEqual(find_record(replica, ZOO, "Cage", "abcd0"), first)
        self.assertEqual(find_record(replica, ZOO, "Cage", "ABCD1111-0"), second)
        with self.assertRaises(Ambiguous):
            find_record(replica, ZOO, "Cage", "abcd")
        with self.assertRaises(NotFound):
            find_record(replica, ZOO, "Cage", "abc")
        with self.assertRaises(NotFound):
            find_record(replica, ZOO, "Cage", "abcd0000_")

    def test_dot_names_the_only_row(self):
        """"." names the only row of a table that has exactly one; several rows are Ambiguous, none NotFound."""
        self.assertEqual(self.find("Office", "."), _u(0x31))
        with self.assertRaises(Ambiguous):
            self.find("Cage", ".")
        empty = zoo_replica({})
        with self.assertRaises(NotFound):
            find_record(empty, ZOO, "Office", ".")

    def test_object_path(self):
        """An object path is turned into a uuid by the caller's function, and must be a row of the table."""
        paths = {"/org/openvswitch/ovsdb/Cage/a": _u(0x11)}

        def uuid_of_path(path):
            try:
                return paths[path]
            except KeyError:
                raise NotFound("no object %s" % path) from None

        self.assertEqual(self.find("Cage", "/org/openvswitch/ovsdb/Cage/a", uuid_of_path=uuid_of_path), _u(0x11))
        with self.assertRaises(NotFound):
            self.find("Animal", "/org/openvswitch/ovsdb/Cage/a", uuid_of_path=uuid_of_path)
        with self.assertRaises(NotFound):
            self.find("Cage", "/org/openvswitch/ovsdb/Cage/b", uuid_of_path=uuid_of_path)
        with self.assertRaises(InvalidArgs):
            self.find("Cage", "/org/openvswitch/ovsdb/Cage/a")

    def test_open_vswitch_record_ids_stay_in_their_database(self):
        """A Controller and a Bridge table in another database use the generic rules: Controller by its own
        name column, not by a bridge's name; Bridge (no name column) only by uuid."""
        self.assertEqual(record_ids(ZOO, "Controller"), (RecordId("Controller", "name"),))
        self.assertEqual(record_ids(ZOO, "Bridge"), ())
        with self.assertRaises(NotFound):
            self.find("Controller", "br0")
        with self.assertRaises(NotFound):
            self.find("Bridge", "br0")

    def test_bad_arguments(self):
        """An unknown table or an empty or non-string record is InvalidArgs."""
        for table, record in [("Nosuch", "x"), (None, "x"), ("Animal", ""), ("Animal", None), ("Animal", 3)]:
            with self.subTest(table=table, record=record), self.assertRaises(InvalidArgs):
                self.find(table, record)

    def test_view_without_find(self):
        """A view that only has rows() and row() finds the same records."""
        view = RowsOnly(self.replica)
        self.assertEqual(find_record(view, ZOO, "Keeper", "70"), _u(0x22))
        self.assertEqual(find_record(view, ZOO, "Office", "."), _u(0x31))


class VswitchReplicaTests(unittest.TestCase):
    """The Open_vSwitch tables of a replica like the service's."""

    def setUp(self):
        self.uuid = Uuids()
        self.replica = make_replica(standard_bridges(), self.uuid)

    def test_names(self):
        """Bridges, ports and interfaces are found by name (through the name index)."""
        for table, name in [("Bridge", "br1"), ("Port", "bond0"), ("Interface", "eth2")]:
            with self.subTest(table=table):
                self.assertEqual(find_record(self.replica, SCHEMA, table, name), self.uuid(table, name))

    def test_dot_is_the_open_vswitch_row(self):
        """"." is the single Open_vSwitch row."""
        self.assertEqual(find_record(self.replica, SCHEMA, "Open_vSwitch", "."), ROOT)

    def test_missing_name(self):
        """A name no row has is NotFound naming record and table, as ovs-vsctl's "no row"."""
        with self.assertRaises(NotFound) as caught:
            find_record(self.replica, SCHEMA, "Port", "nosuch")
        self.assertEqual(str(caught.exception), 'no row "nosuch" in table Port')

    def test_record_ids_missing_from_schema_are_skipped(self):
        """Record ids whose tables or columns the server's schema lacks are ignored, not an error."""
        self.assertEqual(record_ids(SCHEMA, "Port"), (RecordId("Port", "name"),))
        self.assertEqual(record_ids(SCHEMA, "Open_vSwitch"), ())


class RealOvsVsctlTests(unittest.TestCase):
    """Every record id of RECORD_IDS against ``ovs-vsctl get TABLE RECORD _uuid`` on the same database."""

    def setUp(self):
        self.real = RealServer()
        self.addCleanup(self.real.stop)
        self.real.vsctl(
            "add-br", "br0", "--", "add-br", "br1", "--", "add-br", "br2",
            "--", "add-port", "br0", "p1", "--", "add-port", "br0", "p2",
            "--", "set-controller", "br0", "tcp:127.0.0.1:6653",
            "--", "set-controller", "br1", "tcp:127.0.0.1:1", "tcp:127.0.0.1:2",
            "--", "set-manager", "ptcp:6640:127.0.0.1",
            "--", "--id=@nf", "create", "NetFlow", "targets=\"127.0.0.1:2055\"", "--", "set", "Bridge", "br0",
            "netflow=@nf",
            "--", "--id=@sf", "create", "sFlow", "targets=\"127.0.0.1:6343\"", "--", "set", "Bridge", "br0",
            "sflow=@sf",
            "--", "--id=@ipfix", "create", "IPFIX", "targets=\"127.0.0.1:4739\"", "--", "set", "Bridge", "br0",
            "ipfix=@ipfix",
            "--", "--id=@aa", "create", "AutoAttach", "system_name=sys", "system_description=desc",
            "--", "set", "Bridge", "br0", "auto_attach=@aa",
            "--", "--id=@q", "create", "QoS", "type=linux-htb", "--", "set", "Port", "p1", "qos=@q",
            "--", "--id=@m", "create", "Mirror", "name=m0", "--", "add", "Bridge", "br0", "mirrors", "@m",
            "--", "--id=@d1", "create", "Mirror", "name=dup", "--", "add", "Bridge", "br0", "mirrors", "@d1",
            "--", "--id=@d2", "create", "Mirror", "name=dup", "--", "add", "Bridge", "br1", "mirrors", "@d2",
            "--", "--id=@ft", "create", "Flow_Table", "name=ft0", "--", "set", "Bridge", "br0",
            "flow_tables:0=@ft",
            "--", "--id=@b0", "get", "Bridge", "br0", "--", "--id=@b1", "get", "Bridge", "br1",
            "--", "create", "Flow_Sample_Collector_Set", "id=7", "bridge=@b0",
            "--", "create", "Flow_Sample_Collector_Set", "id=9", "bridge=@b0",
            "--", "create", "Flow_Sample_Collector_Set", "id=9", "bridge=@b1",
            "--", "set-ssl", "key.pem", "cert.pem", "ca.pem",
        )
        self.replica = self.real.replica()
        self.schema = self.replica.schema

    def vsctl_uuid(self, table, record):
        """What ovs-vsctl names ``record``: ``(uuid, None)`` or ``(None, its error message)``."""
        code, out, err = self.real.vsctl("get", table, record, "_uuid", check=False)
        return (out.strip(), None) if code == 0 else (None, err.strip())

    def test_every_record_id_agrees_with_ovs_vsctl(self):
        """For each table of RECORD_IDS, and for ".", find_record finds the row ovs-vsctl finds."""
        cases = [("Bridge", "br1"), ("Port", "p2"), ("Interface", "p1"), ("Mirror", "m0"),
                 ("Manager", "ptcp:6640:127.0.0.1"), ("Controller", "br0"), ("NetFlow", "br0"), ("sFlow", "br0"),
                 ("IPFIX", "br0"), ("AutoAttach", "br0"), ("QoS", "p1"), ("Flow_Table", "ft0"),
                 ("Flow_Sample_Collector_Set", "7"), ("Open_vSwitch", "."), ("SSL", ".")]
        self.assertEqual({t for t, _ in cases} - {"Open_vSwitch", "SSL"}, set(RECORD_IDS))
        for table, record in cases:
            with self.subTest(table=table, record=record):
                want, error = self.vsctl_uuid(table, record)
                self.assertIsNone(error)
                self.assertEqual(find_record(self.replica, self.schema, table, record), want)
                self.assertEqual(find_record(RowsOnly(self.replica), self.schema, table, record), want)

    def test_missing_records_agree_with_ovs_vsctl(self):
        """Where ovs-vsctl finds no row (a bridge without NetFlow, a port without QoS, an unknown name),
        find_record raises NotFound."""
        for table, record in [("NetFlow", "br1"), ("QoS", "p2"), ("Bridge", "nosuch"), ("Controller", "br2"),
                              ("Flow_Sample_Collector_Set", "8"), ("Manager", "ptcp:1")]:
            with self.subTest(table=table, record=record):
                want, error = self.vsctl_uuid(table, record)
                self.assertIsNone(want)
                self.assertIn("no row", error)
                with self.assertRaises(NotFound):
                    find_record(self.replica, self.schema, table, record)

    def test_ambiguous_names_agree_with_ovs_vsctl(self):
        """Two mirrors called alike, or two collector sets with one id, are "multiple rows" for ovs-vsctl
        and Ambiguous here."""
        for table, record in [("Mirror", "dup"), ("Flow_Sample_Collector_Set", "9")]:
            with self.subTest(table=table, record=record):
                _, error = self.vsctl_uuid(table, record)
                self.assertIn("multiple rows", error)
                with self.assertRaises(Ambiguous):
                    find_record(self.replica, self.schema, table, record)

    def test_deviations_are_clearer_errors(self):
        """Where ovs-vsctl says "no row" for a bridge with two controllers, find_record says Ambiguous."""
        _, error = self.vsctl_uuid("Controller", "br1")
        self.assertIn("no row", error)
        with self.assertRaises(Ambiguous) as caught:
            find_record(self.replica, self.schema, "Controller", "br1")
        self.assertIn("br1", str(caught.exception))

    def test_uuid_and_prefix_agree_with_ovs_vsctl(self):
        """A full uuid and a 4-character prefix name the same port for both."""
        uuid = find_record(self.replica, self.schema, "Port", "p2")
        for record in (uuid, uuid.upper(), uuid[:8]):
            with self.subTest(record=record):
                want, error = self.vsctl_uuid("Port", record)
                self.assertEqual(want, uuid, error)
                self.assertEqual(find_record(self.replica, self.schema, "Port", record), uuid)


class RecordIdsDataTests(unittest.TestCase):
    """The RECORD_IDS table fits the installed Open_vSwitch schema."""

    def test_every_entry_is_usable_with_the_installed_schema(self):
        """Every record id names existing tables and columns of the installed vswitch schema, so none is
        silently dropped (a schema change that drops one fails here)."""
        with open(VSWITCH_SCHEMA_PATH) as f:
            schema = DatabaseSchema.from_json(json.load(f))
        for table, ids in RECORD_IDS.items():
            with self.subTest(table=table):
                self.assertEqual(record_ids(schema, table), ids)
        self.assertEqual(records.VSWITCH_DATABASE, schema.name)


if __name__ == "__main__":  # pragma: no cover
    unittest.main()
