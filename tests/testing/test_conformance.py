"""The same wire-level expectations, run against the fake and against a real ovsdb-server.

Each expectation is written once in :class:`_Expectations` and runs twice: in
:class:`FakeServerConformanceTests` against :mod:`ovsdbus.testing` listening on a unix
socket, and in :class:`RealServerConformanceTests` against ovsdb-server started in a
temporary directory (skipped when Open vSwitch is not installed, failed instead when
``CI`` is set).  A change that makes the fake drift from reality breaks one of the two.

The client is a plain :class:`ovsdbus.ovsdb.jsonrpc.JsonRpcProtocol` that also records every
message received, so that tests can check raw shapes and their order.
"""

import json
import os
import shutil
import tempfile

from twisted.internet import defer, reactor
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.trial import unittest

from ovsdbus.ovsdb.errors import RpcError
from ovsdbus.ovsdb.jsonrpc import JsonRpcProtocol
from ovsdbus.ovsdb.schema import ZERO_UUID, DatabaseSchema
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory, add_bridge_operations, sandbox
from tests.realstack import require_programs

REQUEST_TIMEOUT = 10
NOTIFICATION_TIMEOUT = 5


class _Client(JsonRpcProtocol):
    """A JSON-RPC client that records every message it receives, in order."""

    def __init__(self):
        super().__init__(reactor, request_timeout=REQUEST_TIMEOUT)
        self.received = []
        self.notifications = []
        self._waiters = []

    def value_received(self, value):
        self.received.append(value)
        super().value_received(value)

    def notification_received(self, method, params):
        self.notifications.append((method, params))
        self._check_waiters()

    def _check_waiters(self):
        for waiter in list(self._waiters):
            method, count, d = waiter
            matching = [p for m, p in self.notifications if m == method]
            if len(matching) >= count:
                self._waiters.remove(waiter)
                d.callback(matching[count - 1])

    def wait_notification(self, method, count=1):
        """A Deferred firing with the params of the ``count``-th ``method`` notification."""
        d = defer.Deferred()
        self._waiters.append((method, count, d))
        self._check_waiters()
        d.addTimeout(NOTIFICATION_TIMEOUT, reactor)
        return d

    def transact(self, *ops):
        return self.request("transact", ["Open_vSwitch"] + list(ops))

    def reply_to(self, request_id):
        """The raw reply message with ``request_id``."""
        [reply] = [m for m in self.received if m.get("id") == request_id and "method" not in m]
        return reply


add_bridge = add_bridge_operations


def by_name(name):
    return [["name", "==", name]]


def _describe_schema(schema_json):
    """Tables, columns and column types of a schema, independent of how it is spelled."""
    schema = DatabaseSchema.from_json(schema_json)

    def base(b):
        return None if b is None else (b.type, b.enum, b.min, b.max, b.min_length, b.max_length,
                                       b.ref_table, b.ref_type if b.ref_table else None)
    return (schema.name, schema.version, {
        name: (table.is_root, sorted(table.indexes), table.max_rows, {
            column: (base(c.type.key), base(c.type.value), c.type.min, c.type.max, c.mutable)
            for column, c in table.columns.items()})
        for name, table in schema.tables.items()})


class _Expectations:
    """What a client sees from ovsdb-server; ``start_server`` says which server."""

    def start_server(self, directory):
        """Start the server on a fresh, initialised Open_vSwitch database; return its socket."""
        raise NotImplementedError

    @defer.inlineCallbacks
    def setUp(self):
        directory = tempfile.mkdtemp(prefix="ovsdbus-")   # short: socket paths are limited
        self.addCleanup(shutil.rmtree, directory, True)
        self.socket_path = self.start_server(directory)
        self.client = yield self.connect()

    @defer.inlineCallbacks
    def connect(self):
        client = _Client()
        yield connectProtocol(UNIXClientEndpoint(reactor, self.socket_path), client)
        self.addCleanup(self._disconnect, client)
        return client

    def _disconnect(self, client):
        d = client.on_disconnect
        client.disconnect()
        return d if d is not None else defer.succeed(None)

    @defer.inlineCallbacks
    def rpc_error(self, d):
        """The JSON-RPC error ``d`` fails with."""
        try:
            yield d
        except RpcError as e:
            return e.error
        self.fail("the request succeeded")

    # -- plain methods -------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_list_dbs(self):
        """list_dbs names the Open_vSwitch database and _Server."""
        self.assertEqual(sorted((yield self.client.request("list_dbs", []))), ["Open_vSwitch", "_Server"])

    @defer.inlineCallbacks
    def test_get_schema(self):
        """get_schema answers the installed vswitch schema (same tables, columns and types)."""
        schema = yield self.client.request("get_schema", ["Open_vSwitch"])
        with open(DEFAULT_SCHEMA_PATH) as f:
            installed = json.load(f)
        self.assertEqual(_describe_schema(schema), _describe_schema(installed))

    @defer.inlineCallbacks
    def test_echo(self):
        """echo answers its params unchanged."""
        self.assertEqual((yield self.client.request("echo", ["x", 1, {"a": [True]}])),
                         ["x", 1, {"a": [True]}])

    @defer.inlineCallbacks
    def test_unknown_method(self):
        """An unknown method is the bare string "unknown method" in a reply without "result"."""
        error = yield self.rpc_error(self.client.request("no_such_method", []))
        self.assertEqual(error, "unknown method")
        self.assertEqual(self.client.received[-1], {"id": 1, "error": "unknown method"})

    @defer.inlineCallbacks
    def test_unknown_database(self):
        """A wrong database name is an error object "unknown database"."""
        error = yield self.rpc_error(self.client.request("transact", ["Nope"]))
        self.assertEqual(error, {"error": "unknown database", "syntax": '["Nope"]',
                                 "details": "transact request specifies unknown database Nope"})

    @defer.inlineCallbacks
    def test_jsonrpc_2_member_drops_the_connection(self):
        """A request carrying "jsonrpc": "2.0" makes the server drop the connection."""
        d = self.client.on_disconnect
        self.client.send_value({"method": "echo", "params": [], "id": 99, "jsonrpc": "2.0"})
        yield d
        self.assertFalse(self.client.connected)

    @defer.inlineCallbacks
    def test_server_database(self):
        """_Server has one Database row per database, standalone, connected and leader."""
        result = yield self.client.request("transact", ["_Server", {
            "op": "select", "table": "Database", "where": [],
            "columns": ["name", "model", "connected", "leader", "cid", "sid", "index"]}])
        rows = sorted(result[0]["rows"], key=lambda r: r["name"])
        self.assertEqual(rows, [
            {"name": name, "model": "standalone", "connected": True, "leader": True,
             "cid": ["set", []], "sid": ["set", []], "index": ["set", []]}
            for name in ("Open_vSwitch", "_Server")])

    # -- transactions ------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_initialised_database(self):
        """After "ovs-vsctl init" there is one Open_vSwitch row with default values."""
        result = yield self.client.transact({"op": "select", "table": "Open_vSwitch", "where": [],
                                             "columns": ["bridges", "next_cfg", "cur_cfg",
                                                         "external_ids", "ovs_version"]})
        self.assertEqual(result, [{"rows": [{"bridges": ["set", []], "next_cfg": 0, "cur_cfg": 0,
                                             "external_ids": ["map", []], "ovs_version": ["set", []]}]}])

    @defer.inlineCallbacks
    def test_insert_and_select(self):
        """Inserts answer their uuids, mutate its count, and the rows can be selected back."""
        result = yield self.client.transact(*add_bridge("br0"))
        self.assertEqual([sorted(r) for r in result], [["uuid"], ["uuid"], ["uuid"], ["count"]])
        self.assertEqual(result[3], {"count": 1})
        bridge = result[2]["uuid"]
        rows = yield self.client.transact({"op": "select", "table": "Bridge", "where": by_name("br0"),
                                           "columns": ["_uuid", "name", "ports", "stp_enable"]})
        self.assertEqual(rows, [{"rows": [{"_uuid": bridge, "name": "br0", "ports": result[1]["uuid"],
                                           "stp_enable": False}]}])

    @defer.inlineCallbacks
    def test_set_encoding(self):
        """A one-element set comes back as the bare atom, an empty one as ["set", []],
        a longer one sorted; an empty map as ["map", []]."""
        yield self.client.transact(*add_bridge("br0", flood_vlans=["set", [7]]))
        select = {"op": "select", "table": "Bridge", "where": [],
                  "columns": ["flood_vlans", "fail_mode", "other_config"]}
        self.assertEqual((yield self.client.transact(select)), [{"rows": [
            {"flood_vlans": 7, "fail_mode": ["set", []], "other_config": ["map", []]}]}])
        yield self.client.transact({"op": "update", "table": "Bridge", "where": [],
                                    "row": {"flood_vlans": ["set", [9, 3]], "fail_mode": "secure"}})
        self.assertEqual((yield self.client.transact(select)), [{"rows": [
            {"flood_vlans": ["set", [3, 9]], "fail_mode": "secure", "other_config": ["map", []]}]}])

    @defer.inlineCallbacks
    def test_unique_index_violation(self):
        """A duplicate bridge name fails at commit: one extra element after the op results."""
        yield self.client.transact(*add_bridge("br0"))
        result = yield self.client.transact(*add_bridge("br0"))
        self.assertEqual(len(result), 5)
        self.assertEqual(result[3], {"count": 1})
        self.assertEqual(sorted(result[4]), ["details", "error"])
        self.assertEqual(result[4]["error"], "constraint violation")
        self.assertIn('identical values (br0) for index on column "name".', result[4]["details"])
        rows = yield self.client.transact({"op": "select", "table": "Bridge", "where": [],
                                           "columns": ["name"]})
        self.assertEqual(rows, [{"rows": [{"name": "br0"}]}])

    @defer.inlineCallbacks
    def test_referential_integrity(self):
        """A strong reference to a missing row fails at commit with ovsdb-server's message."""
        missing = "11111111-2222-3333-4444-555555555555"
        ops = add_bridge("br0")
        ops[1]["row"]["interfaces"] = ["uuid", missing]
        result = yield self.client.transact(*ops)
        port = result[1]["uuid"][1]
        self.assertEqual(result[4], {
            "error": "referential integrity violation",
            "details": "Table Port column interfaces row %s references nonexistent row %s in table "
                       "Interface." % (port, missing)})

    @defer.inlineCallbacks
    def test_delete_referenced_row(self):
        """Deleting a Bridge still listed in Open_vSwitch.bridges fails at commit."""
        result = yield self.client.transact(*add_bridge("br0"))
        bridge = result[2]["uuid"][1]
        result = yield self.client.transact({"op": "delete", "table": "Bridge", "where": []})
        self.assertEqual(result, [{"count": 1}, {
            "error": "referential integrity violation",
            "details": "cannot delete Bridge row %s because of 1 remaining reference(s)" % bridge}])

    @defer.inlineCallbacks
    def test_garbage_collection(self):
        """Unreferenced Ports and Interfaces vanish at commit: a Port inserted without a bridge,
        and a bridge's rows once it leaves Open_vSwitch.bridges."""
        result = yield self.client.transact(
            {"op": "insert", "table": "Interface", "row": {"name": "lost"}, "uuid-name": "i"},
            {"op": "insert", "table": "Port", "row": {"name": "lost", "interfaces": ["named-uuid", "i"]}})
        self.assertEqual([sorted(r) for r in result], [["uuid"], ["uuid"]])
        yield self.client.transact(*add_bridge("br0"))
        counts = []
        for _ in range(2):
            rows = yield self.client.transact(
                *[{"op": "select", "table": t, "where": [], "columns": ["name"]}
                  for t in ("Bridge", "Port", "Interface")])
            counts.append([len(r["rows"]) for r in rows])
            yield self.client.transact({"op": "update", "table": "Open_vSwitch", "where": [],
                                        "row": {"bridges": ["set", []]}})
        self.assertEqual(counts, [[1, 1, 1], [0, 0, 0]])

    @defer.inlineCallbacks
    def test_weak_reference_removed(self):
        """A Mirror's weak references to a Port that goes away are dropped from the Mirror."""
        result = yield self.client.transact(*add_bridge("br0"))
        port = result[1]["uuid"]
        yield self.client.transact(
            {"op": "insert", "table": "Mirror", "uuid-name": "m",
             "row": {"name": "m", "select_src_port": port, "output_port": port}},
            {"op": "mutate", "table": "Bridge", "where": [], "mutations": [["mirrors", "insert",
                                                                           ["named-uuid", "m"]]]})
        yield self.client.transact({"op": "update", "table": "Bridge", "where": [],
                                    "row": {"ports": ["set", []]}})
        rows = yield self.client.transact({"op": "select", "table": "Mirror", "where": [],
                                           "columns": ["select_src_port", "output_port"]})
        self.assertEqual(rows, [{"rows": [{"select_src_port": ["set", []], "output_port": ["set", []]}]}])

    @defer.inlineCallbacks
    def test_wait_timeout_zero(self):
        """A wait with timeout 0 that does not hold fails with "timed out"; later ops are null
        and nothing changes."""
        yield self.client.transact(*add_bridge("br0"))
        result = yield self.client.transact(
            {"op": "wait", "table": "Bridge", "where": by_name("br0"), "columns": ["stp_enable"],
             "until": "==", "rows": [{"stp_enable": True}], "timeout": 0},
            {"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": True}})
        self.assertEqual(result, [{"error": "timed out", "details": '"where" clause test failed'}, None])
        rows = yield self.client.transact({"op": "select", "table": "Bridge", "where": [],
                                           "columns": ["stp_enable"]})
        self.assertEqual(rows, [{"rows": [{"stp_enable": False}]}])

    @defer.inlineCallbacks
    def test_wait_blocks_until_rows_match(self):
        """A wait without timeout holds the transaction until another client's change makes it
        hold; then it commits."""
        yield self.client.transact(*add_bridge("br0"))
        other = yield self.connect()
        waiting = self.client.transact(
            {"op": "wait", "table": "Bridge", "where": by_name("br0"), "columns": ["stp_enable"],
             "until": "==", "rows": [{"stp_enable": True}]},
            {"op": "update", "table": "Bridge", "where": [], "row": {"external_ids": ["map", [["w", "1"]]]}})
        yield other.request("echo", [])
        self.assertFalse(waiting.called)
        yield other.transact({"op": "update", "table": "Bridge", "where": [], "row": {"stp_enable": True}})
        self.assertEqual((yield waiting), [{}, {"count": 1}])

    @defer.inlineCallbacks
    def test_wait_timeout_expires(self):
        """A wait with a timeout that never holds fails with "timed out" after about that long."""
        yield self.client.transact(*add_bridge("br0"))
        [result] = yield self.client.transact(
            {"op": "wait", "table": "Bridge", "where": [], "columns": ["name"], "until": "!=",
             "rows": [{"name": "br0"}], "timeout": 30})
        self.assertEqual(result["error"], "timed out")
        self.assertTrue(result["details"].startswith('"wait" timed out after '), result)

    @defer.inlineCallbacks
    def test_map_insert_does_not_overwrite(self):
        """A map insert leaves existing keys alone; delete-then-insert replaces a value."""
        yield self.client.transact(*add_bridge("br0", external_ids=["map", [["a", "1"]]]))
        mutate = {"op": "mutate", "table": "Bridge", "where": [],
                  "mutations": [["external_ids", "insert", ["map", [["a", "2"], ["b", "3"]]]]]}
        select = {"op": "select", "table": "Bridge", "where": [], "columns": ["external_ids"]}
        result = yield self.client.transact(mutate, select)
        self.assertEqual(result, [{"count": 1},
                                  {"rows": [{"external_ids": ["map", [["a", "1"], ["b", "3"]]]}]}])
        result = yield self.client.transact(
            {"op": "mutate", "table": "Bridge", "where": [], "mutations": [
                ["external_ids", "delete", ["set", ["a"]]],
                ["external_ids", "insert", ["map", [["a", "2"]]]]]},
            select)
        self.assertEqual(result[1], {"rows": [{"external_ids": ["map", [["a", "2"], ["b", "3"]]]}]})

    @defer.inlineCallbacks
    def test_constraint_errors(self):
        """Enum, range, set size, immutable column and unknown column errors, word for word."""
        yield self.client.transact(*add_bridge("br0"))

        def update(row):
            return self.client.transact({"op": "update", "table": "Bridge", "where": [], "row": row})
        self.assertEqual((yield update({"fail_mode": "bogus"})), [{
            "error": "constraint violation",
            "details": "bogus is not one of the allowed values ([secure, standalone])"}])
        self.assertEqual((yield update({"flood_vlans": ["set", [1, 5000]]})), [{
            "error": "constraint violation",
            "details": "5000 is not in the valid range 0 to 4095 (inclusive)"}])
        self.assertEqual((yield update({"fail_mode": ["set", ["secure", "standalone"]]})), [{
            "error": "syntax error", "syntax": '["set",["secure","standalone"]]',
            "details": "set must have 0 to 1 members but 2 are present"}])
        self.assertEqual((yield update({"nocol": 1})), [{
            "error": "unknown column", "syntax": '{"nocol":1}',
            "details": "No column nocol in table Bridge."}])
        [immutable] = yield update({"name": "x"})
        self.assertEqual((immutable["error"], immutable["details"]),
                         ("constraint violation", "Cannot update immutable column name in table Bridge."))
        [mutation] = yield self.client.transact({"op": "mutate", "table": "Bridge", "where": [],
                                                 "mutations": [["fail_mode", "insert", "secure"],
                                                               ["fail_mode", "insert", "standalone"]]})
        self.assertEqual(mutation, {"error": "constraint violation",
                                    "details": "Attempted to store 2 elements in set of up to 1 strings."})

    @defer.inlineCallbacks
    def test_syntax_errors(self):
        """Malformed operations name the operation that failed."""
        result = yield self.client.transact({"op": "select", "table": "Bridge", "where": []},
                                            {"op": "select", "table": "Nope", "where": []})
        self.assertEqual(result[1], {
            "error": "syntax error", "syntax": '{"op":"select","table":"Nope","where":[]}',
            "details": "Parsing ovsdb operation 2 of 2 failed: No table named Nope."})
        [bad_name] = yield self.client.transact({"op": "insert", "table": "Interface", "row": {"name": "a"},
                                                 "uuid-name": "port-eth0"})
        self.assertEqual(bad_name["details"],
                         "Parsing ovsdb operation 1 of 1 failed: Type mismatch for member 'uuid-name'.")

    @defer.inlineCallbacks
    def test_abort(self):
        """abort fails the transaction with "aborted"; the ops after it are null."""
        result = yield self.client.transact(*(add_bridge("br0") + [{"op": "abort"}, {"op": "comment",
                                                                                   "comment": "x"}]))
        self.assertEqual(result[4:], [{"error": "aborted", "details": "aborted by request"}, None])
        rows = yield self.client.transact({"op": "select", "table": "Bridge", "where": []})
        self.assertEqual(rows, [{"rows": []}])

    @defer.inlineCallbacks
    def test_duplicate_uuid_name(self):
        """Two inserts naming the same uuid-name: "duplicate uuid-name" on the second."""
        result = yield self.client.transact(
            {"op": "insert", "table": "Interface", "row": {"name": "a"}, "uuid-name": "i"},
            {"op": "insert", "table": "Interface", "row": {"name": "b"}, "uuid-name": "i"})
        self.assertEqual(result[1], {
            "error": "duplicate uuid-name", "syntax": '"i"',
            "details": 'This "uuid-name" appeared on an earlier "insert" operation.'})

    # -- monitors ------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_update2_shapes_and_order(self):
        """monitor_cond: initial rows without defaults; insert, modify (diffs) and delete updates,
        each received before the reply to the transaction that caused it."""
        result = yield self.client.transact(*add_bridge("br0", external_ids=["map", [["a", "1"], ["b", "2"]]],
                                                        flood_vlans=["set", [1, 2]]))
        br0 = result[2]["uuid"][1]
        columns = ["name", "flood_vlans", "external_ids", "fail_mode", "stp_enable"]
        initial = yield self.client.request("monitor_cond", ["Open_vSwitch", "m", {"Bridge": [
            {"columns": columns}]}])
        self.assertEqual(initial, {"Bridge": {br0: {"initial": {
            "name": "br0", "flood_vlans": ["set", [1, 2]],
            "external_ids": ["map", [["a", "1"], ["b", "2"]]]}}}})

        d = self.client.transact({"op": "update", "table": "Bridge", "where": [], "row": {
            "flood_vlans": ["set", [2, 3]], "external_ids": ["map", [["b", "3"], ["c", "4"]]],
            "fail_mode": "secure", "stp_enable": True}})
        yield d
        result = yield self.client.transact(*add_bridge("br1"))
        br1 = result[2]["uuid"][1]
        yield self.client.transact({"op": "update", "table": "Bridge", "where": by_name("br0"),
                                    "row": {"fail_mode": ["set", []]}})
        yield self.client.transact({"op": "update", "table": "Open_vSwitch", "where": [],
                                    "row": {"bridges": ["set", [["uuid", br1]]]}})
        self.assertEqual([params for _, params in self.client.notifications], [
            ["m", {"Bridge": {br0: {"modify": {
                "flood_vlans": ["set", [1, 3]], "external_ids": ["map", [["a", "1"], ["b", "3"], ["c", "4"]]],
                "fail_mode": "secure", "stp_enable": True}}}}],
            ["m", {"Bridge": {br1: {"insert": {"name": "br1"}}}}],
            ["m", {"Bridge": {br0: {"modify": {"fail_mode": ["set", []]}}}}],
            ["m", {"Bridge": {br0: {"delete": None}}}],
        ])
        kinds = [m["method"] if "method" in m else "reply" for m in self.client.received[1:]]
        self.assertEqual(kinds, ["reply", "update2", "reply", "update2", "reply", "update2", "reply",
                                 "update2", "reply"])

    @defer.inlineCallbacks
    def test_update3_and_monitor_cond_since_reply(self):
        """monitor_cond_since on a standalone server: [false, zero id, initial]; then update3
        [id, zero id, updates] before the transact reply."""
        yield self.client.transact(*add_bridge("br0"))
        reply = yield self.client.request("monitor_cond_since", [
            "Open_vSwitch", ["m", 3], {"Bridge": [{"columns": ["name"]}], "Port": [{"columns": ["name"]}]},
            "11111111-2222-3333-4444-555555555555"])
        found, last, initial = reply
        self.assertEqual((found, last), (False, ZERO_UUID))
        self.assertEqual(sorted(initial), ["Bridge", "Port"])
        self.assertEqual([list(r.values()) for r in initial.values()],
                         [[{"initial": {"name": "br0"}}], [{"initial": {"name": "br0"}}]])
        result = yield self.client.transact(*add_bridge("br1"))
        self.assertEqual(self.client.received[-2]["method"], "update3")
        [(method, params)] = self.client.notifications
        self.assertEqual(params, [["m", 3], ZERO_UUID, {
            "Bridge": {result[2]["uuid"][1]: {"insert": {"name": "br1"}}},
            "Port": {result[1]["uuid"][1]: {"insert": {"name": "br1"}}}}])

    @defer.inlineCallbacks
    def test_monitor_v1_shapes(self):
        """monitor: "new" rows; updates carry every monitored column in "new" and the changed
        ones in "old"; a deletion carries "old" only."""
        result = yield self.client.transact(*add_bridge("br0"))
        br0 = result[2]["uuid"][1]
        initial = yield self.client.request("monitor", ["Open_vSwitch", None, {
            "Bridge": {"columns": ["name", "stp_enable", "flood_vlans"]}}])
        self.assertEqual(initial, {"Bridge": {br0: {"new": {"name": "br0", "stp_enable": False,
                                                            "flood_vlans": ["set", []]}}}})
        yield self.client.transact({"op": "update", "table": "Bridge", "where": [],
                                    "row": {"stp_enable": True}})
        yield self.client.transact({"op": "update", "table": "Open_vSwitch", "where": [],
                                    "row": {"bridges": ["set", []]}})
        self.assertEqual(self.client.notifications, [
            ("update", [None, {"Bridge": {br0: {
                "new": {"name": "br0", "stp_enable": True, "flood_vlans": ["set", []]},
                "old": {"stp_enable": False}}}}]),
            ("update", [None, {"Bridge": {br0: {
                "old": {"name": "br0", "stp_enable": True, "flood_vlans": ["set", []]}}}}]),
        ])

    @defer.inlineCallbacks
    def test_monitor_condition_and_change(self):
        """A condition selects rows; monitor_cond_change sends inserts and deletes for the rows
        that enter or leave it, under the new monitor id."""
        r0 = yield self.client.transact(*add_bridge("br0"))
        r1 = yield self.client.transact(*add_bridge("br1"))
        br0, br1 = r0[2]["uuid"][1], r1[2]["uuid"][1]
        initial = yield self.client.request("monitor_cond", ["Open_vSwitch", "m", {"Bridge": [
            {"columns": ["name"], "where": [["name", "==", "br0"], ["name", "==", "nope"]]}]}])
        self.assertEqual(initial, {"Bridge": {br0: {"initial": {"name": "br0"}}}})
        result = yield self.client.request("monitor_cond_change", ["m", "m2", {
            "Bridge": [{"where": [["name", "==", "br1"]]}]}])
        self.assertEqual(result, {})
        self.assertEqual(self.client.notifications, [("update2", ["m2", {"Bridge": {
            br0: {"delete": None}, br1: {"insert": {"name": "br1"}}}}])])

    @defer.inlineCallbacks
    def test_monitor_cancel(self):
        """monitor_cancel answers {}; no more updates come; a second cancel is "unknown monitor"."""
        yield self.client.request("monitor_cond", ["Open_vSwitch", "m", {"Bridge": [{"columns": ["name"]}]}])
        self.assertEqual((yield self.client.request("monitor_cancel", ["m"])), {})
        yield self.client.transact(*add_bridge("br0"))
        self.assertEqual(self.client.notifications, [])
        self.assertEqual((yield self.rpc_error(self.client.request("monitor_cancel", ["m"]))),
                         "unknown monitor")

    @defer.inlineCallbacks
    def test_monitor_request_errors(self):
        """Bad monitor requests (that do not crash ovsdb-server 3.1) get its error objects."""
        yield self.client.request("monitor_cond", ["Open_vSwitch", "m", {}])
        cases = [
            (["Open_vSwitch", "m", {}], {"error": "syntax error", "details": "duplicate monitor ID",
                                         "syntax": '"m"'}),
            (["Open_vSwitch", "x", {"Nope": {}}],
             {"error": "syntax error", "details": "no table named Nope"}),
            (["Open_vSwitch", "x", {"Bridge": [{"columns": ["nope"]}]}], {
                "error": "syntax error", "syntax": '["nope"]', "details": "nope is not a valid column name"}),
        ]
        for params, expected in cases:
            self.assertEqual((yield self.rpc_error(self.client.request("monitor_cond", params))), expected)

    # -- locks -----------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_lock_steal_unlock(self):
        """lock/steal/unlock hand a lock between clients with "stolen" and "locked" notifications,
        and assert succeeds only for the owner."""
        other = yield self.connect()
        self.assertEqual((yield self.client.request("lock", ["L"])), {"locked": True})
        self.assertEqual((yield other.request("lock", ["L"])), {"locked": False})
        self.assertEqual((yield other.transact({"op": "assert", "lock": "L"})),
                         [{"error": "not owner", "details": "Asserted lock L not held."}])
        self.assertEqual((yield other.request("unlock", ["L"])), {})
        self.assertEqual((yield other.request("steal", ["L"])), {"locked": True})
        self.assertEqual((yield self.client.wait_notification("stolen")), ["L"])
        self.assertEqual((yield other.transact({"op": "assert", "lock": "L"})), [{}])
        yield self.client.request("unlock", ["L"])
        yield self.client.request("lock", ["L"])
        yield other.request("unlock", ["L"])
        self.assertEqual((yield self.client.wait_notification("locked")), ["L"])


class FakeServerConformanceTests(_Expectations, unittest.TestCase):
    """The expectations against the fake (:mod:`ovsdbus.testing`) on a unix socket."""

    def start_server(self, directory):
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            if os.environ.get("CI"):
                raise AssertionError("%s missing (CI is set)" % DEFAULT_SCHEMA_PATH)
            raise unittest.SkipTest("%s not installed" % DEFAULT_SCHEMA_PATH)
        self.factory = FakeOvsdbFactory(FakeOvsdb.open_vswitch())
        path = os.path.join(directory, "db.sock")
        self.factory.listen_unix(path)
        self.addCleanup(self.factory.shutdown)
        return path


class RealServerConformanceTests(_Expectations, unittest.TestCase):
    """The expectations against a real ovsdb-server started in a temporary directory."""

    def start_server(self, directory):
        require_programs("ovsdb-tool", "ovsdb-server", "ovs-vsctl")
        self.server = sandbox.OvsdbServer(directory)
        self.addCleanup(self.server.stop)
        self.server.start()   # also "ovs-vsctl init"
        return str(self.server.socket_path)



class RequireProgramsTests(unittest.TestCase):
    """The policy for tests that need real programs (tests/realstack.py)."""

    def test_missing_program_skips_on_a_developer_machine(self):
        """Without CI, a missing program skips the test."""
        self.patch(os, "environ", {k: v for k, v in os.environ.items() if k != "CI"})
        with self.assertRaises(unittest.SkipTest):
            require_programs("ovsdbus-no-such-program")

    def test_missing_program_fails_under_ci(self):
        """With CI set, a missing program fails the test instead of skipping it."""
        self.patch(os, "environ", dict(os.environ, CI="1"))
        with self.assertRaises(AssertionError) as caught:
            require_programs("ovsdbus-no-such-program")
        self.assertNotIsInstance(caught.exception, unittest.SkipTest)
        self.assertIn("ovsdbus-no-such-program", str(caught.exception))

    def test_present_programs_pass(self):
        """Installed programs (sbin included) let the test run."""
        self.patch(os, "environ", dict(os.environ, CI="1"))
        require_programs("sh", "ovsdb-server")
