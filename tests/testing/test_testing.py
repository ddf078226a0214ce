"""Unit tests for the fake ovsdb-server shipped in :mod:`ovsdbus.testing`.

Wire-level agreement with the real ovsdb-server is checked in ``test_conformance``;
here the fake is driven directly (``FakeOvsdb.transact``) and over in-memory
connections (``twisted.test.iosim``, ``StringTransport``) with a
``twisted.internet.task.Clock``.
"""

import json
import os
import shutil
import tempfile

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport
from twisted.test import iosim
from twisted.trial import unittest

from ovsdbus.ovsdb.errors import Disconnected, RpcError
from ovsdbus.ovsdb.jsonrpc import JsonRpcProtocol
from ovsdbus.ovsdb.schema import ZERO_UUID
from ovsdbus.testing import (
    DEFAULT_SCHEMA_PATH,
    FakeOvsdb,
    FakeOvsdbFactory,
    add_bridge_operations,
    make_server_database,
)


def _need_schema():
    if not os.path.exists(DEFAULT_SCHEMA_PATH):
        if os.environ.get("CI"):
            raise AssertionError("%s missing (CI is set)" % DEFAULT_SCHEMA_PATH)
        raise unittest.SkipTest("%s not installed" % DEFAULT_SCHEMA_PATH)


def vswitch():
    """A fresh Open_vSwitch database, initialised like ``ovs-vsctl init``."""
    _need_schema()
    return FakeOvsdb.open_vswitch()


add_bridge = add_bridge_operations


def add_port(bridge, name):
    """Operations equivalent to ``ovs-vsctl add-port BRIDGE NAME``."""
    return [
        {"op": "insert", "table": "Interface", "row": {"name": name}, "uuid-name": "iface"},
        {"op": "insert", "table": "Port", "row": {"name": name, "interfaces": ["named-uuid", "iface"]},
         "uuid-name": "port"},
        {"op": "mutate", "table": "Bridge", "where": [["name", "==", bridge]],
         "mutations": [["ports", "insert", ["named-uuid", "port"]]]},
    ]


def by_name(name):
    return [["name", "==", name]]


def select(db, table, where=(), columns=None):
    op = {"op": "select", "table": table, "where": list(where)}
    if columns is not None:
        op["columns"] = columns
    result = db.transact([op])[0]
    assert "rows" in result, result
    return result["rows"]


class DatabaseTests(unittest.TestCase):
    """Loading schemas and reading the database without a connection."""

    def test_open_vswitch_is_initialised_once(self):
        """open_vswitch() gives the single Open_vSwitch row ovs-vsctl init would create,
        and initialising again does not add a second one."""
        db = vswitch()
        first = db.init_open_vswitch()
        self.assertEqual(list(db.rows("Open_vSwitch")), [first])
        self.assertEqual(db.init_open_vswitch(), first)
        self.assertEqual(len(db.rows("Open_vSwitch")), 1)
        self.assertEqual(db.row("Open_vSwitch", first)["next_cfg"], 0)

    def test_from_file_reads_the_given_path(self):
        """A schema at any path can be served; its name and tables are the file's."""
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, "tiny.ovsschema")
        with open(path, "w") as f:
            json.dump({"name": "Tiny", "version": "1.0.0", "tables": {
                "T": {"columns": {"n": {"type": "integer"}}}}}, f)
        db = FakeOvsdb.from_file(path)
        self.assertEqual(db.name, "Tiny")
        self.assertEqual(db.transact([{"op": "insert", "table": "T", "row": {"n": 3}}])[0].keys(),
                         {"uuid"})
        self.assertEqual([r["n"] for r in db.rows("T").values()], [3])

    def test_schema_without_isroot_keeps_unreferenced_rows(self):
        """RFC 7047: when no table says isRoot, every table is a root and nothing is collected."""
        db = FakeOvsdb({"name": "Tiny", "version": "1.0.0", "tables": {
            "T": {"columns": {"n": {"type": "integer"}}}}})
        db.transact([{"op": "insert", "table": "T", "row": {"n": 1}}])
        self.assertEqual(len(db.rows("T")), 1)

    def test_find_row_and_dump_give_python_and_wire_values(self):
        """Tests can read rows as Python values (find/row) or in wire form (dump)."""
        db = vswitch()
        db.transact(add_bridge("br0", flood_vlans=["set", [5]], external_ids=["map", [["k", "v"]]]))
        [bridge] = db.find("Bridge", name="br0")
        self.assertEqual(bridge["flood_vlans"], frozenset([5]))
        self.assertEqual(bridge["external_ids"], {"k": "v"})
        self.assertIsNone(bridge["fail_mode"])
        self.assertEqual(db.row("Bridge", bridge["_uuid"])["name"], "br0")
        self.assertIsNone(db.row("Bridge", ZERO_UUID))
        wire = db.dump()["Bridge"][bridge["_uuid"]]
        self.assertEqual(wire["flood_vlans"], 5)
        self.assertEqual(wire["fail_mode"], ["set", []])
        self.assertEqual(wire["external_ids"], ["map", [["k", "v"]]])

    def test_rows_are_copies(self):
        """Changing a row returned by rows() does not change the database."""
        db = vswitch()
        db.transact(add_bridge("br0", external_ids=["map", [["k", "v"]]]))
        [bridge] = db.rows("Bridge").values()
        bridge["external_ids"]["k"] = "changed"
        bridge["name"] = "other"
        self.assertEqual(db.find("Bridge")[0]["external_ids"], {"k": "v"})
        self.assertEqual(db.find("Bridge")[0]["name"], "br0")

    def test_server_database_lists_the_databases(self):
        """The _Server database describes each served database as a standalone server does."""
        db = vswitch()
        server = make_server_database([db])
        rows = {r["name"]: r for r in server.rows("Database").values()}
        self.assertEqual(set(rows), {"Open_vSwitch", "_Server"})
        self.assertEqual(rows["Open_vSwitch"]["model"], "standalone")
        self.assertTrue(rows["Open_vSwitch"]["leader"])
        self.assertEqual(json.loads(rows["Open_vSwitch"]["schema"])["name"], "Open_vSwitch")


class TransactTests(unittest.TestCase):
    """Operations, their results and their errors, run directly on the database."""

    def setUp(self):
        self.db = vswitch()

    def test_insert_and_select(self):
        """An inserted, referenced row can be selected back with _uuid and _version."""
        result = self.db.transact(add_bridge("br0"))
        self.assertEqual(result[3], {"count": 1})
        bridge_uuid = result[2]["uuid"][1]
        [row] = select(self.db, "Bridge", by_name("br0"))
        self.assertEqual(row["_uuid"], ["uuid", bridge_uuid])
        self.assertEqual(row["_version"][0], "uuid")
        self.assertEqual(row["name"], "br0")
        self.assertEqual(row["stp_enable"], False)

    def test_select_columns(self):
        """select returns only the columns asked for."""
        self.db.transact(add_bridge("br0"))
        self.assertEqual(select(self.db, "Bridge", columns=["name"]), [{"name": "br0"}])

    def test_one_element_set_is_a_bare_atom(self):
        """Like ovsdb-server, a set of one is sent as the atom itself; empty optionals are
        ["set", []], longer sets are sorted."""
        self.db.transact(add_bridge("br0", flood_vlans=["set", [7]]))
        [row] = select(self.db, "Bridge", columns=["flood_vlans", "fail_mode", "external_ids"])
        self.assertEqual(row, {"flood_vlans": 7, "fail_mode": ["set", []], "external_ids": ["map", []]})
        self.db.transact([{"op": "update", "table": "Bridge", "where": [],
                           "row": {"flood_vlans": ["set", [9, 3]]}}])
        self.assertEqual(select(self.db, "Bridge", columns=["flood_vlans"]),
                         [{"flood_vlans": ["set", [3, 9]]}])

    def test_explicit_uuid(self):
        """insert may choose the row's uuid; reusing it is "duplicate uuid"."""
        uuid = "11111111-2222-3333-4444-555555555555"
        ops = add_bridge("br0")
        ops[2]["uuid"] = uuid
        self.assertEqual(self.db.transact(ops)[2], {"uuid": ["uuid", uuid]})
        ops = add_bridge("br1")
        ops[2]["uuid"] = uuid
        self.assertEqual(self.db.transact(ops)[2]["error"], "duplicate uuid")

    def test_duplicate_uuid_name(self):
        """Two inserts with one uuid-name: the second fails, later ops are null."""
        result = self.db.transact([
            {"op": "insert", "table": "Interface", "row": {"name": "a"}, "uuid-name": "i"},
            {"op": "insert", "table": "Interface", "row": {"name": "b"}, "uuid-name": "i"},
            {"op": "comment", "comment": "never reached"}])
        self.assertIn("uuid", result[0])
        self.assertEqual(result[1]["error"], "duplicate uuid-name")
        self.assertIsNone(result[2])
        self.assertEqual(len(result), 3)

    def test_bad_uuid_name_is_a_syntax_error(self):
        """A uuid-name must be an <id>: "port-eth0" is refused."""
        result = self.db.transact([{"op": "insert", "table": "Interface", "row": {"name": "a"},
                                    "uuid-name": "port-eth0"}])
        self.assertEqual(result[0]["error"], "syntax error")
        self.assertIn("uuid-name", result[0]["details"])

    def test_forward_named_uuid_reference(self):
        """A named-uuid may be used before the insert that names it."""
        result = self.db.transact([
            {"op": "insert", "table": "Port", "row": {"name": "p", "interfaces": ["named-uuid", "i"]},
             "uuid-name": "port"},
            {"op": "insert", "table": "Interface", "row": {"name": "p"}, "uuid-name": "i"},
            {"op": "insert", "table": "Bridge", "row": {"name": "b", "ports": ["named-uuid", "port"]},
             "uuid-name": "br"},
            {"op": "mutate", "table": "Open_vSwitch", "where": [],
             "mutations": [["bridges", "insert", ["named-uuid", "br"]]]}])
        self.assertEqual(len(result), 4, result)
        [port] = self.db.find("Port", name="p")
        self.assertEqual(port["interfaces"], frozenset([result[1]["uuid"][1]]))

    def test_update_counts_matched_rows(self):
        """update answers how many rows matched, even when nothing changes."""
        self.db.transact(add_bridge("br0"))
        self.db.transact(add_bridge("br1"))
        update = {"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": False}}
        self.assertEqual(self.db.transact([update]), [{"count": 2}])
        update["where"] = by_name("none")
        self.assertEqual(self.db.transact([update]), [{"count": 0}])

    def test_version_changes_only_on_real_changes(self):
        """_version is renewed when a row changes and kept for a no-op update."""
        self.db.transact(add_bridge("br0"))
        version = self.db.find("Bridge")[0]["_version"]
        self.db.transact([{"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": False}}])
        self.assertEqual(self.db.find("Bridge")[0]["_version"], version)
        self.db.transact([{"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": True}}])
        self.assertNotEqual(self.db.find("Bridge")[0]["_version"], version)

    def test_immutable_columns(self):
        """Bridge.name, _uuid and _version cannot be updated or mutated."""
        self.db.transact(add_bridge("br0"))
        for row in ({"name": "x"}, {"_uuid": ["uuid", ZERO_UUID]}, {"_version": ["uuid", ZERO_UUID]}):
            result = self.db.transact([{"op": "update", "table": "Bridge", "where": [], "row": row}])
            self.assertEqual(result[0]["error"], "constraint violation", row)
            self.assertIn("immutable", result[0]["details"])
        result = self.db.transact([{"op": "mutate", "table": "Bridge", "where": [],
                                    "mutations": [["name", "insert", "x"]]}])
        self.assertEqual(result[0]["error"], "constraint violation")

    def test_column_constraints(self):
        """Enum, range and set-size constraints and wrong types are refused like ovsdb-server."""
        self.db.transact(add_bridge("br0"))

        def update(row):
            return self.db.transact([{"op": "update", "table": "Bridge", "where": [], "row": row}])[0]
        self.assertEqual(update({"fail_mode": "bogus"}), {
            "error": "constraint violation",
            "details": "bogus is not one of the allowed values ([secure, standalone])"})
        self.assertEqual(update({"flood_vlans": ["set", [1, 5000]]}), {
            "error": "constraint violation",
            "details": "5000 is not in the valid range 0 to 4095 (inclusive)"})
        self.assertEqual(update({"fail_mode": ["set", ["secure", "standalone"]]})["details"],
                         "set must have 0 to 1 members but 2 are present")
        self.assertEqual(update({"fail_mode": 3})["error"], "syntax error")
        self.assertEqual(update({"nocol": 1})["error"], "unknown column")
        self.assertEqual(update({"flood_vlans": ["set", [1, 1]]})["error"], "ovsdb error")
        self.assertEqual(self.db.find("Bridge")[0]["fail_mode"], None)

    def test_malformed_operations(self):
        """Unknown ops and tables, missing and extra members are syntax errors naming the op."""
        cases = [
            ({"op": "frob", "table": "Bridge"}, 'No operation "frob"'),
            ({"op": "insert", "table": "Nope", "row": {}}, "No table named Nope."),
            ({"op": "select", "table": "Bridge"}, "Required 'where' member is missing."),
            ({"op": "select", "table": "Bridge", "where": [], "x": 1},
             "Member 'x' is present but not allowed here."),
            ({"op": "select", "table": "Bridge", "where": {}}, "Type mismatch for member 'where'."),
            (5, "Object expected."),
        ]
        for op, details in cases:
            [result] = self.db.transact([op])
            self.assertEqual(result["error"], "syntax error", op)
            self.assertEqual(result["details"], "Parsing ovsdb operation 1 of 1 failed: " + details)

    def test_empty_transaction(self):
        """A transaction without operations succeeds with an empty result."""
        self.assertEqual(self.db.transact([]), [])

    def test_where_functions(self):
        """Conditions support ==, !=, includes, excludes, ordering on numbers, true and false."""
        self.db.transact(add_bridge("br0", flood_vlans=["set", [1, 2]]))
        self.db.transact(add_bridge("br1"))

        def names(where):
            return sorted(r["name"] for r in select(self.db, "Bridge", where, ["name"]))
        self.assertEqual(names([["flood_vlans", "includes", 1]]), ["br0"])
        self.assertEqual(names([["flood_vlans", "excludes", ["set", [1]]]]), ["br1"])
        self.assertEqual(names([["flood_vlans", "==", ["set", []]]]), ["br1"])
        self.assertEqual(names([["name", "!=", "br0"]]), ["br1"])
        self.assertEqual(names([True]), ["br0", "br1"])
        self.assertEqual(names([True, False]), [])
        self.assertEqual(names([["name", "==", "br0"], ["stp_enable", "==", False]]), ["br0"])
        self.assertEqual(select(self.db, "Open_vSwitch", [["next_cfg", "<", 1]], ["next_cfg"]),
                         [{"next_cfg": 0}])
        result = self.db.transact([{"op": "select", "table": "Bridge", "where": [["name", "<", "x"]]}])
        self.assertEqual(result[0]["error"], "syntax error")
        result = self.db.transact([{"op": "select", "table": "Bridge", "where": [["name", "~", "x"]]}])
        self.assertEqual(result[0]["error"], "unknown function")

    def test_mutate_arithmetic(self):
        """+= -= *= /= %= apply to every element; /= 0 is a domain error; overflow a range error."""
        ops = [{"op": "mutate", "table": "Open_vSwitch", "where": [],
                "mutations": [["next_cfg", "+=", 7], ["next_cfg", "*=", 3], ["next_cfg", "-=", 1],
                              ["next_cfg", "/=", -4], ["next_cfg", "%=", 3]]}]
        self.assertEqual(self.db.transact(ops), [{"count": 1}])
        # ((0 + 7) * 3 - 1) = 20; 20 / -4 = -5 (truncated); -5 % 3 = -2 (C remainder)
        self.assertEqual(self.db.find("Open_vSwitch")[0]["next_cfg"], -2)
        ops[0]["mutations"] = [["next_cfg", "/=", 0]]
        self.assertEqual(self.db.transact(ops)[0]["error"], "domain error")
        ops[0]["mutations"] = [["next_cfg", "+=", 2 ** 62], ["next_cfg", "*=", 4]]
        self.assertEqual(self.db.transact(ops)[0]["error"], "range error")
        self.assertEqual(self.db.find("Open_vSwitch")[0]["next_cfg"], -2)

    def test_mutate_set_results_are_checked(self):
        """A mutation whose result breaks a constraint or duplicates elements fails."""
        self.db.transact(add_bridge("br0", flood_vlans=["set", [1, 2]]))

        def mutate(*mutations):
            return self.db.transact([{"op": "mutate", "table": "Bridge", "where": [],
                                      "mutations": list(mutations)}])[0]
        self.assertEqual(mutate(["flood_vlans", "*=", 0])["details"],
                         'Result of "*=" operation contains duplicates.')
        self.assertEqual(mutate(["flood_vlans", "-=", 2])["error"], "constraint violation")
        self.assertEqual(mutate(["fail_mode", "insert", "secure"], ["fail_mode", "insert", "standalone"]),
                         {"error": "constraint violation",
                          "details": "Attempted to store 2 elements in set of up to 1 strings."})
        self.assertEqual(mutate(["external_ids", "+=", 1])["error"], "syntax error")
        self.assertEqual(mutate(["flood_vlans", "frob", 1])["error"], "unknown mutator")
        self.assertEqual(mutate(["flood_vlans", "delete", 1]), {"count": 1})
        self.assertEqual(self.db.find("Bridge")[0]["flood_vlans"], frozenset([2]))

    def test_map_insert_does_not_overwrite(self):
        """Inserting a key that exists keeps the old value; delete by key or by pair."""
        self.db.transact(add_bridge("br0", external_ids=["map", [["a", "1"]]]))

        def mutate(*mutations):
            self.assertEqual(self.db.transact([{"op": "mutate", "table": "Bridge", "where": [],
                                                "mutations": list(mutations)}]), [{"count": 1}])
            return self.db.find("Bridge")[0]["external_ids"]
        self.assertEqual(mutate(["external_ids", "insert", ["map", [["a", "2"], ["b", "3"]]]]),
                         {"a": "1", "b": "3"})
        self.assertEqual(mutate(["external_ids", "delete", ["map", [["b", "9"]]]]), {"a": "1", "b": "3"})
        self.assertEqual(mutate(["external_ids", "delete", ["map", [["b", "3"]]]]), {"a": "1"})
        self.assertEqual(mutate(["external_ids", "delete", ["set", ["a"]]]), {})

    def test_delete(self):
        """delete counts the rows it removed."""
        self.db.transact(add_bridge("br0"))
        result = self.db.transact([
            {"op": "update", "table": "Open_vSwitch", "where": [], "row": {"bridges": ["set", []]}},
            {"op": "delete", "table": "Bridge", "where": by_name("br0")},
            {"op": "delete", "table": "Bridge", "where": by_name("br0")}])
        self.assertEqual(result, [{"count": 1}, {"count": 1}, {"count": 0}])
        self.assertEqual(self.db.rows("Bridge"), {})

    def test_failed_operation_changes_nothing(self):
        """A transaction is atomic: an error in a later op undoes the earlier ones."""
        result = self.db.transact(add_bridge("br0") + [{"op": "abort"}, {"op": "comment", "comment": "x"}])
        self.assertEqual(result[4], {"error": "aborted", "details": "aborted by request"})
        self.assertIsNone(result[5])
        self.assertEqual(self.db.rows("Bridge"), {})
        self.assertEqual(self.db.find("Open_vSwitch")[0]["bridges"], frozenset())

    def test_commit_comment_and_assert(self):
        """commit and comment answer {}; assert of a lock nobody holds is "not owner"."""
        result = self.db.transact([{"op": "commit", "durable": False}, {"op": "comment", "comment": "hi"},
                                   {"op": "assert", "lock": "l"}])
        self.assertEqual(result[:2], [{}, {}])
        self.assertEqual(result[2], {"error": "not owner", "details": "Asserted lock l not held."})

    def test_wait(self):
        """wait with timeout 0 succeeds when the rows match and fails with "timed out" otherwise."""
        self.db.transact(add_bridge("br0"))
        wait = {"op": "wait", "table": "Bridge", "where": by_name("br0"), "columns": ["stp_enable"],
                "until": "==", "rows": [{"stp_enable": False}], "timeout": 0}
        self.assertEqual(self.db.transact([wait]), [{}])
        wait["until"] = "!="
        self.assertEqual(self.db.transact([wait, {"op": "delete", "table": "Bridge", "where": []}]), [
            {"error": "timed out", "details": '"where" clause test failed'}, None])
        wait.update(until="==", columns=["_uuid"], rows=[{"_uuid": ["uuid", ZERO_UUID]}])
        self.assertEqual(self.db.transact([wait])[0]["error"], "timed out")

    def test_direct_wait_cannot_block(self):
        """Called directly, a wait with a timeout that does not hold answers "not supported"."""
        self.db.transact(add_bridge("br0"))
        result = self.db.transact([{"op": "wait", "table": "Bridge", "where": [], "columns": ["name"],
                                    "until": "==", "rows": [], "timeout": 1000}])
        self.assertEqual(result, [{"error": "not supported", "details": "triggers not supported"}])

    def test_fail_next_commit(self):
        """fail_next_commit makes the next changing transaction fail at commit, once."""
        self.db.fail_next_commit("I/O error", "disk full")
        self.assertEqual(self.db.transact([{"op": "comment", "comment": "no change"}]), [{}])
        result = self.db.transact(add_bridge("br0"))
        self.assertEqual(result[4], {"error": "I/O error", "details": "disk full"})
        self.assertEqual(self.db.rows("Bridge"), {})
        self.assertEqual(len(self.db.transact(add_bridge("br0"))), 4)


class IntegrityTests(unittest.TestCase):
    """What is checked at commit time: references, garbage collection, indexes, maxRows."""

    def setUp(self):
        self.db = vswitch()

    def test_unique_index_violation(self):
        """A second bridge with a used name fails at commit: an extra result element, no change."""
        self.db.transact(add_bridge("br0"))
        result = self.db.transact(add_bridge("br0"))
        self.assertEqual(len(result), 5)
        self.assertEqual(result[3], {"count": 1})
        self.assertEqual(result[4]["error"], "constraint violation")
        self.assertIn('identical values (br0) for index on column "name"', result[4]["details"])
        self.assertEqual(len(self.db.rows("Bridge")), 1)

    def test_reference_to_missing_row(self):
        """A strong reference to a row that does not exist is a referential integrity violation."""
        missing = "11111111-2222-3333-4444-555555555555"
        ops = add_bridge("br0")
        ops[1]["row"]["interfaces"] = ["uuid", missing]
        result = self.db.transact(ops)
        self.assertEqual(result[4]["error"], "referential integrity violation")
        self.assertIn("references nonexistent row %s in table Interface" % missing, result[4]["details"])
        self.assertEqual(self.db.rows("Port"), {})

    def test_delete_referenced_row(self):
        """Deleting a row that is still referenced fails; removing the reference collects it."""
        self.db.transact(add_bridge("br0"))
        result = self.db.transact([{"op": "delete", "table": "Bridge", "where": []}])
        self.assertEqual(result[1]["error"], "referential integrity violation")
        self.assertIn("because of 1 remaining reference(s)", result[1]["details"])
        self.db.transact([{"op": "update", "table": "Open_vSwitch", "where": [],
                           "row": {"bridges": ["set", []]}}])
        self.assertEqual((self.db.rows("Bridge"), self.db.rows("Port"), self.db.rows("Interface")),
                         ({}, {}, {}))

    def test_unreferenced_rows_are_collected(self):
        """An inserted Port nobody references disappears at commit; the insert still succeeds."""
        result = self.db.transact(add_port("nobridge", "p0"))
        self.assertEqual(result[2], {"count": 0})
        self.assertIn("uuid", result[1])
        self.assertEqual(self.db.rows("Port"), {})
        self.assertEqual(self.db.rows("Interface"), {})

    def test_root_rows_are_not_collected(self):
        """Rows of root tables (QoS) stay even when nothing references them."""
        self.db.transact([{"op": "insert", "table": "QoS", "row": {"type": "linux-htb"}}])
        self.assertEqual(len(self.db.rows("QoS")), 1)

    def test_weak_references_are_removed(self):
        """When a Port goes away, Mirror references to it (weak) are dropped from the Mirror."""
        self.db.transact(add_bridge("br0"))
        self.db.transact(add_port("br0", "p1"))
        port = self.db.find("Port", name="p1")[0]["_uuid"]
        self.db.transact([
            {"op": "insert", "table": "Mirror", "uuid-name": "m",
             "row": {"name": "m", "select_src_port": ["uuid", port], "output_port": ["uuid", port]}},
            {"op": "mutate", "table": "Bridge", "where": [], "mutations": [["mirrors", "insert",
                                                                           ["named-uuid", "m"]]]}])
        self.assertEqual(self.db.find("Mirror")[0]["output_port"], port)
        self.db.transact([{"op": "mutate", "table": "Bridge", "where": [],
                           "mutations": [["ports", "delete", ["uuid", port]]]}])
        [mirror] = self.db.find("Mirror")
        self.assertEqual((mirror["select_src_port"], mirror["output_port"]), (frozenset(), None))

    def test_weak_reference_to_missing_row_is_dropped(self):
        """A weak reference to a row that does not exist is silently left out."""
        self.db.transact(add_bridge("br0"))
        self.db.transact([
            {"op": "insert", "table": "Mirror", "uuid-name": "m",
             "row": {"name": "m", "select_src_port": ["named-uuid", "nosuch"]}},
            {"op": "mutate", "table": "Bridge", "where": [], "mutations": [["mirrors", "insert",
                                                                           ["named-uuid", "m"]]]}])
        self.assertEqual(self.db.find("Mirror")[0]["select_src_port"], frozenset())

    def test_max_rows(self):
        """Open_vSwitch has maxRows 1: a second row is a constraint violation at commit."""
        result = self.db.transact([{"op": "insert", "table": "Open_vSwitch", "row": {}}])
        self.assertEqual(result[1]["error"], "constraint violation")
        self.assertIn("greater than the schema-defined limit of 1 row(s)", result[1]["details"])


class _RecordingClient(JsonRpcProtocol):
    """A JSON-RPC client that keeps every message received, in order."""

    def __init__(self, clock):
        super().__init__(clock)
        self.received = []
        self.notifications = []

    def value_received(self, value):
        self.received.append(value)
        super().value_received(value)

    def notification_received(self, method, params):
        self.notifications.append((method, params))


class _ClockPump:
    """Moves bytes both ways and runs the Clock's due calls until nothing moves.

    (``iosim.connect`` takes a clock only from Twisted 23 on; this works on 22.4 too.)
    """

    def __init__(self, pump, clock):
        self.pump = pump
        self.clock = clock
        pump.flush()

    def flush(self):
        for _ in range(10000):
            self.clock.advance(0)
            if not self.pump.pump():
                return
        raise AssertionError("the connection never went quiet")


class _ProtocolTestCase(unittest.TestCase):
    """Helpers: a factory on a Clock and in-memory client connections to it."""

    def setUp(self):
        self.clock = task.Clock()
        self.db = vswitch()
        self.factory = FakeOvsdbFactory(self.db, clock=self.clock)

    def connect(self):
        server = self.factory.buildProtocol(None)
        client = _RecordingClient(self.clock)
        client.pump = _ClockPump(iosim.connect(server, iosim.FakeTransport(server, isServer=True),
                                               client, iosim.FakeTransport(client, isServer=False),
                                               greet=False), self.clock)
        client.server = server
        return client

    def request(self, client, method, *params):
        d = client.request(method, list(params))
        client.pump.flush()
        return d

    def call(self, client, method, *params):
        """Send a request and return its result (it must have been answered)."""
        return self.successResultOf(self.request(client, method, *params))

    def call_error(self, client, method, *params):
        """Send a request that must fail; return the RPC error it got."""
        return self.failureResultOf(self.request(client, method, *params), RpcError).value.error

    def transact(self, client, *ops):
        return self.call(client, "transact", "Open_vSwitch", *ops)


class ProtocolTests(_ProtocolTestCase):
    """The RPC methods other than monitors, over a connection."""

    def test_list_dbs_and_get_schema(self):
        """A client sees Open_vSwitch and _Server and gets the schema the fake was built from."""
        client = self.connect()
        self.assertEqual(self.call(client, "list_dbs"), ["Open_vSwitch", "_Server"])
        self.assertEqual(self.call(client, "get_schema", "Open_vSwitch"), self.db.schema_json)
        self.assertEqual(self.call(client, "get_schema", "_Server")["name"], "_Server")

    def test_unknown_database(self):
        """A wrong database name is an "unknown database" error object."""
        client = self.connect()
        for method in ("get_schema", "transact", "monitor_cond"):
            error = self.call_error(client, method, "nope")
            self.assertEqual(error["error"], "unknown database", method)
            self.assertEqual(error["details"], "%s request specifies unknown database nope" % method)
        self.assertEqual(self.call_error(client, "transact")["error"], "syntax error")

    def test_unknown_method_reply_has_no_result_member(self):
        """Unknown methods get the bare string error, in a reply shaped like ovsdb-server's."""
        client = self.connect()
        self.assertEqual(self.call_error(client, "frobnicate"), "unknown method")
        self.assertEqual(client.received[-1], {"id": 1, "error": "unknown method"})

    def test_cancel_request_is_unknown(self):
        """cancel sent as a request (with an id) is answered "unknown method", as in 3.1."""
        client = self.connect()
        self.assertEqual(self.call_error(client, "cancel", 5), "unknown method")

    def test_echo(self):
        """echo answers its own params."""
        client = self.connect()
        self.assertEqual(self.call(client, "echo", "a", 1, [2]), ["a", 1, [2]])

    def test_transact(self):
        """transact runs on the shared database and answers the result list."""
        client = self.connect()
        result = self.transact(client, *add_bridge("br0"))
        self.assertEqual(result[3], {"count": 1})
        self.assertEqual(self.db.find("Bridge")[0]["name"], "br0")

    def test_server_id_and_db_change_aware(self):
        """get_server_id answers a uuid; set_db_change_aware answers {}."""
        client = self.connect()
        self.assertEqual(self.call(client, "get_server_id"), self.factory.server_id)
        self.assertEqual(self.call(client, "set_db_change_aware", True), {})

    def test_requests_are_logged(self):
        """Tests can see which requests a client sent, in order."""
        client = self.connect()
        self.call(client, "echo")
        self.call(client, "list_dbs")
        self.assertEqual(self.factory.requests, [("echo", []), ("list_dbs", [])])

    def test_jsonrpc_member_drops_the_connection(self):
        """A request with an unexpected member (a JSON-RPC 2.0 "jsonrpc") drops the connection."""
        transport = StringTransport()
        server = self.factory.buildProtocol(None)
        server.makeConnection(transport)
        server.dataReceived(b'{"method":"echo","params":[],"id":1,"jsonrpc":"2.0"}')
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), b"")
        self.flushLoggedErrors()

    def test_replies_over_string_transport(self):
        """Requests split across writes and merged in one write are all answered."""
        transport = StringTransport()
        server = self.factory.buildProtocol(None)
        server.makeConnection(transport)
        server.dataReceived(b'{"method":"echo","par')
        server.dataReceived(b'ams":[1],"id":1}{"method":"list_dbs","params":[],"id":2}')
        replies = [json.loads(line) for line in transport.value().splitlines()]
        self.assertEqual(replies, [{"id": 1, "result": [1], "error": None},
                                   {"id": 2, "result": ["Open_vSwitch", "_Server"], "error": None}])


class MonitorTests(_ProtocolTestCase):
    """monitor, monitor_cond, monitor_cond_since and their notifications."""

    def setUp(self):
        super().setUp()
        self.db.transact(add_bridge("br0"))
        self.bridge = self.db.find("Bridge")[0]["_uuid"]

    def test_monitor_initial_and_update(self):
        """monitor sends "new" rows; an update sends "new" with all monitored columns and "old"
        with the changed ones."""
        client = self.connect()
        initial = self.call(client, "monitor", "Open_vSwitch", "m",
                            {"Bridge": {"columns": ["name", "stp_enable"]}})
        self.assertEqual(initial, {"Bridge": {self.bridge: {"new": {"name": "br0", "stp_enable": False}}}})
        self.transact(client, {"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": True}})
        self.assertEqual(client.notifications, [("update", ["m", {"Bridge": {self.bridge: {
            "new": {"name": "br0", "stp_enable": True}, "old": {"stp_enable": False}}}}])])

    def test_monitor_cond_initial_omits_defaults(self):
        """update2 "initial" rows carry only columns whose value is not the default."""
        client = self.connect()
        initial = self.call(client, "monitor_cond", "Open_vSwitch", "m",
                            {"Bridge": [{"columns": ["name", "stp_enable", "ports"]}]})
        port = self.db.find("Port")[0]["_uuid"]
        self.assertEqual(initial, {"Bridge": {self.bridge: {"initial": {
            "name": "br0", "ports": ["uuid", port]}}}})

    def test_update2_arrives_before_the_reply(self):
        """The update2 for a client's own transaction is received before the transact reply."""
        client = self.connect()
        self.call(client, "monitor_cond", "Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]})
        self.transact(client, *add_bridge("br1"))
        kinds = [m.get("method", "reply") for m in client.received[1:]]
        self.assertEqual(kinds, ["update2", "reply"])
        [(method, (monitor_id, updates))] = client.notifications
        [(row_uuid, update)] = updates["Bridge"].items()
        self.assertEqual(update, {"insert": {"name": "br1"}})

    def test_update2_modify_diffs(self):
        """modify carries set symmetric differences, changed map pairs and new scalar values."""
        self.db.transact([{"op": "update", "table": "Bridge", "where": [], "row": {
            "flood_vlans": ["set", [1, 2]], "external_ids": ["map", [["a", "1"], ["b", "2"]]],
            "fail_mode": "secure"}}])
        client = self.connect()
        self.call(client, "monitor_cond", "Open_vSwitch", "m",
                  {"Bridge": [{"columns": ["flood_vlans", "external_ids", "fail_mode", "stp_enable"]}]})
        self.transact(client, {"op": "update", "table": "Bridge", "where": [], "row": {
            "flood_vlans": ["set", [2, 3]], "external_ids": ["map", [["b", "3"], ["c", "4"]]],
            "fail_mode": ["set", []], "stp_enable": True}})
        self.assertEqual(client.notifications[0][1][1]["Bridge"][self.bridge], {"modify": {
            "flood_vlans": ["set", [1, 3]],
            "external_ids": ["map", [["a", "1"], ["b", "3"], ["c", "4"]]],
            "fail_mode": ["set", []],
            "stp_enable": True}})

    def test_update2_delete_and_unmonitored_changes(self):
        """A deleted row is {"delete": null}; changes to unmonitored columns send nothing."""
        client = self.connect()
        self.call(client, "monitor_cond", "Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]})
        self.transact(client, {"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": True}})
        self.assertEqual(client.notifications, [])
        self.transact(client, {"op": "update", "table": "Open_vSwitch", "where": [],
                               "row": {"bridges": ["set", []]}})
        self.assertEqual(client.notifications, [
            ("update2", ["m", {"Bridge": {self.bridge: {"delete": None}}}])])

    def test_select_flags(self):
        """select {"initial": false, "modify": false} leaves out the initial rows and modifications."""
        client = self.connect()
        initial = self.call(client, "monitor_cond", "Open_vSwitch", "m", {
            "Bridge": [{"columns": ["name", "stp_enable"], "select": {"initial": False, "modify": False}}]})
        self.assertEqual(initial, {})
        self.transact(client, {"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": True}})
        self.transact(client, *add_bridge("br1"))
        self.assertEqual([list(p[1]["Bridge"].values()) for _, p in client.notifications],
                         [[{"insert": {"name": "br1"}}]])

    def test_all_columns_include_version(self):
        """Without "columns", every column and _version are monitored."""
        client = self.connect()
        initial = self.call(client, "monitor", "Open_vSwitch", "m", {"Bridge": {}})
        row = initial["Bridge"][self.bridge]["new"]
        self.assertIn("_version", row)
        self.assertNotIn("_uuid", row)
        self.assertEqual(set(row) - {"_version"}, set(self.db.schema.tables["Bridge"].columns))

    def test_conditions(self):
        """A condition limits the rows; rows entering or leaving it are inserted or deleted."""
        self.db.transact(add_bridge("br1"))
        client = self.connect()
        initial = self.call(client, "monitor_cond", "Open_vSwitch", "m", {
            "Bridge": [{"columns": ["name"], "where": [["stp_enable", "==", True]]}]})
        self.assertEqual(initial, {})
        self.transact(client, {"op": "update", "table": "Bridge", "where": by_name("br0"),
                               "row": {"stp_enable": True}})
        self.transact(client, {"op": "update", "table": "Bridge", "where": by_name("br0"),
                               "row": {"stp_enable": False}})
        self.assertEqual([p[1]["Bridge"][self.bridge] for _, p in client.notifications],
                         [{"insert": {"name": "br0"}}, {"delete": None}])

    def test_condition_clauses_are_ored(self):
        """Monitor condition clauses match a row when any of them does."""
        self.db.transact(add_bridge("br1"))
        client = self.connect()
        initial = self.call(client, "monitor_cond", "Open_vSwitch", "m", {
            "Bridge": [{"columns": ["name"], "where": [["name", "==", "br0"], ["name", "==", "br1"]]}]})
        self.assertEqual(sorted(r["initial"]["name"] for r in initial["Bridge"].values()), ["br0", "br1"])

    def test_monitor_cond_change(self):
        """Changing the condition sends inserts and deletes (before the reply) under the new id."""
        self.db.transact(add_bridge("br1"))
        br1 = self.db.find("Bridge", name="br1")[0]["_uuid"]
        client = self.connect()
        self.call(client, "monitor_cond", "Open_vSwitch", "m", {
            "Bridge": [{"columns": ["name"], "where": [["name", "==", "br0"]]}]})
        result = self.call(client, "monitor_cond_change", "m", "m2",
                           {"Bridge": [{"where": [["name", "==", "br1"]]}]})
        self.assertEqual(result, {})
        self.assertEqual(client.received[-2]["method"], "update2")
        self.assertEqual(client.notifications, [("update2", ["m2", {"Bridge": {
            self.bridge: {"delete": None}, br1: {"insert": {"name": "br1"}}}}])])
        self.assertEqual(self.call_error(client, "monitor_cond_change", "m", "m3", {})["details"],
                         "unknown monitor session")
        self.assertEqual(self.call(client, "monitor_cancel", "m2"), {})

    def test_monitor_cond_since_standalone(self):
        """By default the fake keeps no history: found is false, ids are all-zero, update3 follows."""
        client = self.connect()
        reply = self.call(client, "monitor_cond_since", "Open_vSwitch", "m",
                          {"Bridge": [{"columns": ["name"]}]}, ZERO_UUID)
        self.assertEqual(reply, [False, ZERO_UUID, {"Bridge": {self.bridge: {"initial": {"name": "br0"}}}}])
        self.transact(client, {"op": "delete", "table": "Bridge", "where": []},
                      {"op": "update", "table": "Open_vSwitch", "where": [], "row": {"bridges": ["set", []]}})
        self.assertEqual(client.notifications, [
            ("update3", ["m", ZERO_UUID, {"Bridge": {self.bridge: {"delete": None}}}])])

    def test_monitor_cond_since_with_history(self):
        """With keep_history, a known last-txn-id gives found true and only the changes since."""
        db = FakeOvsdb.open_vswitch(keep_history=True)
        self.factory = FakeOvsdbFactory(db, clock=self.clock)
        db.transact(add_bridge("br0"))
        since = db.last_txn_id
        self.assertNotEqual(since, ZERO_UUID)
        db.transact(add_bridge("br1"))
        client = self.connect()
        found, last, updates = self.call(client, "monitor_cond_since", "Open_vSwitch", "m",
                                         {"Bridge": [{"columns": ["name", "stp_enable"]}]}, since)
        self.assertEqual((found, last), (True, db.last_txn_id))
        self.assertEqual([list(u.values()) for u in updates.values()], [[{"insert": {"name": "br1"}}]])
        self.transact(client, {"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": True}})
        self.transact(client, *add_bridge("br2"))
        self.assertEqual([n[1][1] for n in client.notifications], db.history[-2:])
        found, _, _ = self.call(client, "monitor_cond_since", "Open_vSwitch", "m2",
                                {"Bridge": [{"columns": ["name"]}]}, "11111111-2222-3333-4444-555555555555")
        self.assertFalse(found)

    def test_monitor_cancel(self):
        """After monitor_cancel no more updates come; cancelling twice is "unknown monitor"."""
        client = self.connect()
        self.call(client, "monitor_cond", "Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]})
        self.assertEqual(self.call(client, "monitor_cancel", "m"), {})
        self.transact(client, *add_bridge("br1"))
        self.assertEqual(client.notifications, [])
        self.assertEqual(self.call_error(client, "monitor_cancel", "m"), "unknown monitor")

    def test_bad_monitor_requests(self):
        """Malformed monitor requests get ovsdb-server's errors, without dropping the connection
        (ovsdb-server 3.1 itself crashes on missing parameters)."""
        client = self.connect()
        self.call(client, "monitor_cond", "Open_vSwitch", "m", {})
        cases = [
            (("Open_vSwitch", "m"), "invalid parameters"),
            (("Open_vSwitch", "m", {}), "duplicate monitor ID"),
            (("Open_vSwitch", "x", {"Nope": {}}), "no table named Nope"),
            (("Open_vSwitch", "x", {"Bridge": [{"columns": ["nope"]}]}), "nope is not a valid column name"),
            (("Open_vSwitch", "x", {"Bridge": [{"columns": ["name", "name"]}]}),
             "column name mentioned more than once"),
            (("Open_vSwitch", "x", {"Bridge": [{"foo": 1}]}),
             "Parsing table Bridge failed: Member 'foo' is present but not allowed here."),
            (("Open_vSwitch", "x", 5), "monitor-requests must be object"),
        ]
        for params, details in cases:
            error = self.call_error(client, "monitor_cond", *params)
            self.assertEqual((error["error"], error["details"]), ("syntax error", details), params)
        error = self.call_error(client, "monitor_cond", "Open_vSwitch", "x",
                                {"Bridge": [{"where": [["nope", "==", 1]]}]})
        self.assertEqual(error["error"], "unknown column")
        self.assertEqual(self.call_error(client, "monitor_cancel"), "invalid parameters")
        self.assertTrue(client.connected)

    def test_connection_loss_ends_monitors(self):
        """A disconnected client's monitors stop listening to the database."""
        client = self.connect()
        self.call(client, "monitor_cond", "Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]})
        self.assertEqual(len(self.db._listeners), 1)
        client.transport.loseConnection()
        client.pump.flush()
        self.assertEqual(self.db._listeners, [])
        self.db.transact(add_bridge("br1"))


class WaitingTransactionTests(_ProtocolTestCase):
    """Transactions held by wait operations (ovsdb-server's triggers)."""

    def setUp(self):
        super().setUp()
        self.db.transact(add_bridge("br0"))

    def wait_op(self, stp, timeout=None):
        op = {"op": "wait", "table": "Bridge", "where": by_name("br0"), "columns": ["stp_enable"],
              "until": "==", "rows": [{"stp_enable": stp}]}
        if timeout is not None:
            op["timeout"] = timeout
        return op

    def set_stp(self, value):
        self.db.transact([{"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": value}}])

    def test_wait_completes_when_rows_match(self):
        """A waiting transaction runs (and commits) as soon as another change makes it hold."""
        client = self.connect()
        d = self.request(client, "transact", "Open_vSwitch", self.wait_op(True),
                         {"op": "update", "table": "Bridge", "where": [],
                          "row": {"external_ids": ["map", [["woke", "yes"]]]}})
        self.assertNoResult(d)
        self.assertEqual(self.db.pending_transactions, 1)
        self.set_stp(True)
        client.pump.flush()
        self.assertEqual(self.successResultOf(d), [{}, {"count": 1}])
        self.assertEqual(self.db.find("Bridge")[0]["external_ids"], {"woke": "yes"})
        self.assertEqual(self.db.pending_transactions, 0)

    def test_wait_times_out_on_the_clock(self):
        """A wait with a timeout answers "timed out" once that much time passed on the clock."""
        client = self.connect()
        d = self.request(client, "transact", "Open_vSwitch", self.wait_op(True, timeout=100))
        self.clock.advance(0.099)
        client.pump.flush()
        self.assertNoResult(d)
        self.clock.advance(0.001)
        client.pump.flush()
        self.assertEqual(self.successResultOf(d),
                         [{"error": "timed out", "details": '"wait" timed out after 100 ms'}])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cancel_drops_the_transaction_silently(self):
        """A cancel notification drops the waiting transaction; no reply ever comes (3.1)."""
        client = self.connect()
        d = self.request(client, "transact", "Open_vSwitch", self.wait_op(True, timeout=100))
        client.notify("cancel", [1])
        client.pump.flush()
        self.assertEqual(self.db.pending_transactions, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.set_stp(True)
        client.pump.flush()
        self.assertNoResult(d)
        client.transport.loseConnection()
        client.pump.flush()
        self.failureResultOf(d, Disconnected)

    def test_disconnect_drops_waiting_transactions(self):
        """A client that goes away leaves no waiting transaction or timer behind."""
        client = self.connect()
        d = self.request(client, "transact", "Open_vSwitch", self.wait_op(True, timeout=1000))
        client.transport.loseConnection()
        client.pump.flush()
        self.failureResultOf(d, Disconnected)
        self.assertEqual(self.db.pending_transactions, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_direct_deferred_api(self):
        """transact_deferred lets tests wait without a connection; cancelling drops it."""
        d = self.db.transact_deferred([self.wait_op(True)], self.clock)
        self.assertNoResult(d)
        d.cancel()
        self.failureResultOf(d, defer.CancelledError)
        self.assertEqual(self.db.pending_transactions, 0)
        d = self.db.transact_deferred([self.wait_op(False)], self.clock)
        self.assertEqual(self.successResultOf(d), [{}])


class LockTests(_ProtocolTestCase):
    """lock, steal, unlock and the assert operation."""

    def test_lock_queue_and_notifications(self):
        """The second locker waits and is told "locked" when the owner unlocks."""
        a, b = self.connect(), self.connect()
        self.assertEqual(self.call(a, "lock", "L"), {"locked": True})
        self.assertEqual(self.call(b, "lock", "L"), {"locked": False})
        self.assertEqual(self.transact(a, {"op": "assert", "lock": "L"}), [{}])
        self.assertEqual(self.transact(b, {"op": "assert", "lock": "L"})[0]["error"], "not owner")
        self.assertEqual(self.call(a, "unlock", "L"), {})
        b.pump.flush()
        self.assertEqual(b.notifications, [("locked", ["L"])])

    def test_steal(self):
        """steal takes the lock at once and tells the previous owner "stolen"."""
        a, b = self.connect(), self.connect()
        self.call(a, "lock", "L")
        self.assertEqual(self.call(b, "steal", "L"), {"locked": True})
        a.pump.flush()
        self.assertEqual(a.notifications, [("stolen", ["L"])])
        self.assertEqual(self.call_error(a, "lock", "L")["details"], 'must issue "unlock" before new "lock"')

    def test_lock_errors_and_disconnect(self):
        """Bad lock params and unlocking what one does not hold are errors; a disconnect unlocks."""
        a, b = self.connect(), self.connect()
        self.assertEqual(self.call_error(a, "lock")["details"], "lock request params must be <id>")
        self.assertEqual(self.call_error(a, "unlock", "L")["error"], "syntax error")
        self.call(a, "lock", "L")
        self.call(b, "lock", "L")
        a.transport.loseConnection()
        a.pump.flush()
        b.pump.flush()
        self.assertEqual(b.notifications, [("locked", ["L"])])


class FaultKnobTests(_ProtocolTestCase):
    """The fault-injection knobs of FakeOvsdbFactory."""

    def test_drop_all_connections(self):
        """drop_all_connections closes every client; outstanding requests fail Disconnected."""
        a, b = self.connect(), self.connect()
        self.factory.pause()
        d = a.request("echo", [])
        self.factory.drop_all_connections()
        a.pump.flush()
        b.pump.flush()
        self.assertFalse(a.connected or b.connected)
        self.failureResultOf(d, Disconnected)
        self.assertEqual(self.factory.connections, [])

    def test_reply_delay(self):
        """With reply_delay, requests are served that many seconds later on the clock, in order."""
        client = self.connect()
        self.call(client, "monitor_cond", "Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]})
        self.factory.reply_delay = 2
        first = self.request(client, "transact", "Open_vSwitch", *add_bridge("br0"))
        second = self.request(client, "echo", "after")
        self.clock.advance(1.9)
        client.pump.flush()
        self.assertNoResult(first)
        self.assertEqual(self.db.rows("Bridge"), {})
        self.clock.advance(0.1)
        client.pump.flush()
        self.assertEqual(len(self.successResultOf(first)), 4)
        self.assertEqual(self.successResultOf(second), ["after"])
        self.assertEqual([m.get("method", m.get("id")) for m in client.received[1:]], ["update2", 2, 3])

    def test_reply_delay_and_disconnect_leave_no_timer(self):
        """Requests still delayed when the client goes away leave no delayed call behind."""
        client = self.connect()
        self.factory.reply_delay = 5
        d = self.request(client, "echo")
        client.transport.loseConnection()
        client.pump.flush()
        self.failureResultOf(d, Disconnected)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_pause_and_resume(self):
        """While paused nothing is answered; resume serves the held requests in order."""
        client = self.connect()
        self.factory.pause()
        d1 = self.request(client, "echo", 1)
        d2 = self.request(client, "echo", 2)
        self.assertNoResult(d1)
        self.assertNoResult(d2)
        self.factory.resume()
        client.pump.flush()
        self.assertEqual([self.successResultOf(d1), self.successResultOf(d2)], [[1], [2]])

    def test_fail_next(self):
        """fail_next answers the next requests with the given error, optionally per method."""
        client = self.connect()
        self.factory.fail_next({"error": "ovsdb error", "details": "injected"}, method="transact")
        self.factory.fail_next("canceled", count=2)
        self.assertEqual(self.call(client, "echo", 1), [1])
        self.assertEqual(self.call_error(client, "list_dbs"), "canceled")
        self.assertEqual(self.call_error(client, "transact", "Open_vSwitch"),
                         {"error": "ovsdb error", "details": "injected"})
        self.assertEqual(self.call_error(client, "get_schema", "Open_vSwitch"), "canceled")
        self.assertEqual(self.call(client, "list_dbs"), ["Open_vSwitch", "_Server"])

    def test_send_garbage(self):
        """Garbage bytes make a client's framing give up and drop the connection."""
        client = self.connect()
        self.factory.send_garbage()
        client.pump.flush()
        self.assertFalse(client.connected)
        self.assertEqual(self.factory.connections, [])
        self.flushLoggedErrors()

    def test_reject_connections(self):
        """With reject_connections, clients are disconnected as soon as they connect."""
        self.factory.reject_connections = True
        client = self.connect()
        self.assertFalse(client.connected)
        self.assertEqual(self.factory.connections, [])

    def test_wait_for_connection(self):
        """wait_for_connection fires with the server side of the next client."""
        d = self.factory.wait_for_connection()
        self.assertNoResult(d)
        client = self.connect()
        self.assertIs(self.successResultOf(d), client.server)


class ListenTests(unittest.TestCase):
    """Serving on a real unix socket with the real reactor."""

    @defer.inlineCallbacks
    def test_listen_and_stop_listening(self):
        """A client can connect on the socket; after stop_listening new connections are refused
        while the existing one keeps working."""
        from twisted.internet import reactor
        from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
        from twisted.internet.error import ConnectError
        factory = FakeOvsdbFactory(vswitch())
        directory = tempfile.mkdtemp(prefix="ovsdbus-")   # short: socket paths are limited
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "db.sock")
        factory.listen_unix(path)
        client = _RecordingClient(reactor)
        yield connectProtocol(UNIXClientEndpoint(reactor, path), client)
        self.addCleanup(factory.shutdown)
        self.assertEqual((yield client.request("list_dbs", [])), ["Open_vSwitch", "_Server"])
        yield factory.stop_listening()
        with self.assertRaises(ConnectError):
            yield connectProtocol(UNIXClientEndpoint(reactor, path), _RecordingClient(reactor))
        self.assertEqual((yield client.request("echo", ["still"])), ["still"])
        yield factory.shutdown()
        yield client.on_disconnect
        self.assertFalse(client.connected)
