"""Tests for ovsdbus.ovsdb.client: the RFC 7047 methods on one connection.

The server is played by the test through ``StringTransport``.
"""

import ujson
from twisted.internet import task
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.client import OvsdbClientProtocol, check_transaction_result, monitor_requests
from ovsdbus.ovsdb.errors import (
    ConstraintViolation,
    Disconnected,
    NotSupported,
    ProtocolError,
    ReferentialIntegrity,
    ResourcesExhausted,
    RpcError,
    Timeout,
    TransactionError,
    WaitTimedOut,
)
from ovsdbus.ovsdb.framing import JSONValueSplitter

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
TXN_ID = "9e4d8b2a-1c3f-4e5a-8b7c-6d5e4f3a2b1c"
ROW_UUID = "0cfa1d5b-5d4f-4e2c-9c3e-9b1a1a0e3f11"

COLUMNS = {"Bridge": ["name", "ports"], "Open_vSwitch": ["bridges"]}


class ClientTestCase(TestCase):
    """A connected client; the test plays ovsdb-server."""

    def setUp(self):
        self.clock = task.Clock()
        self.client = OvsdbClientProtocol(self.clock, request_timeout=60)
        self.transport = StringTransport()
        self.client.makeConnection(self.transport)
        self._splitter = JSONValueSplitter()
        self.updates = []
        self.client.on_update = lambda *args: self.updates.append(args)
        self.addCleanup(self._close)

    def _close(self):
        if self.client.connected:
            self.client.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def sent(self):
        """Messages the client sent since the last call."""
        data = self.transport.value()
        self.transport.clear()
        messages = [ujson.loads(t) for t in self._splitter.feed(data)]
        for m in messages:
            self.assertNotIn("jsonrpc", m)
        return messages

    def one_request(self):
        messages = self.sent()
        self.assertEqual(len(messages), 1, messages)
        self.assertIsInstance(messages[0]["params"], list)
        return messages[0]

    def server_sends(self, message):
        self.client.dataReceived(ujson.dumps(message).encode("utf-8"))

    def reply(self, request, result=None, error=None):
        self.server_sends({"id": request["id"], "result": result, "error": error})


class SimpleMethodTests(ClientTestCase):
    """The plain methods send RFC 7047's request shapes and return the result."""

    def test_list_dbs(self):
        """list_dbs sends an empty params array and returns the database names."""
        d = self.client.list_dbs()
        request = self.one_request()
        self.assertEqual((request["method"], request["params"]), ("list_dbs", []))
        self.reply(request, ["Open_vSwitch", "_Server"])
        self.assertEqual(self.successResultOf(d), ["Open_vSwitch", "_Server"])

    def test_get_schema(self):
        """get_schema sends [database] and returns the schema object."""
        d = self.client.get_schema("Open_vSwitch")
        request = self.one_request()
        self.assertEqual((request["method"], request["params"]), ("get_schema", ["Open_vSwitch"]))
        self.reply(request, {"name": "Open_vSwitch", "tables": {}})
        self.assertEqual(self.successResultOf(d), {"name": "Open_vSwitch", "tables": {}})

    def test_echo(self):
        """echo round-trips its arguments as an array."""
        d = self.client.echo("a", 1)
        request = self.one_request()
        self.assertEqual((request["method"], request["params"]), ("echo", ["a", 1]))
        self.reply(request, ["a", 1])
        self.assertEqual(self.successResultOf(d), ["a", 1])

    def test_monitor_cancel(self):
        """monitor_cancel sends [monitor-id]."""
        d = self.client.monitor_cancel("m1")
        request = self.one_request()
        self.assertEqual((request["method"], request["params"]), ("monitor_cancel", ["m1"]))
        self.reply(request, {})
        self.assertEqual(self.successResultOf(d), {})

    def test_pipelined(self):
        """Several requests may be outstanding at once on the one connection."""
        d1 = self.client.get_schema("Open_vSwitch")
        d2 = self.client.list_dbs()
        r1, r2 = self.sent()
        self.reply(r2, ["Open_vSwitch"])
        self.reply(r1, {"name": "Open_vSwitch", "tables": {}})
        self.assertEqual(self.successResultOf(d2), ["Open_vSwitch"])
        self.assertEqual(self.successResultOf(d1)["name"], "Open_vSwitch")


INSERT = {"op": "insert", "table": "Bridge", "row": {"name": "br0"}}
WAIT = {"op": "wait", "table": "Bridge", "where": [["name", "==", "br0"]], "columns": ["name"],
        "until": "==", "rows": [], "timeout": 0}
COMMENT = {"op": "comment", "comment": "test"}


class TransactTests(ClientTestCase):
    """transact: request shape and the checking of its result array."""

    def transact(self, operations, result):
        d = self.client.transact("Open_vSwitch", operations)
        request = self.one_request()
        self.reply(request, result)
        return d

    def test_request_shape(self):
        """transact sends ["Open_vSwitch", op1, op2, ...] as its params."""
        d = self.client.transact("Open_vSwitch", [WAIT, INSERT])
        request = self.one_request()
        self.assertEqual(request["method"], "transact")
        self.assertEqual(request["params"], ["Open_vSwitch", WAIT, INSERT])
        self.reply(request, [{}, {"uuid": ["uuid", ROW_UUID]}])
        self.assertEqual(self.successResultOf(d), [{}, {"uuid": ["uuid", ROW_UUID]}])

    def test_success(self):
        """All operations succeeding gives their results, in order."""
        d = self.transact([WAIT, INSERT, COMMENT], [{}, {"uuid": ["uuid", ROW_UUID]}, {}])
        self.assertEqual(self.successResultOf(d), [{}, {"uuid": ["uuid", ROW_UUID]}, {}])

    def test_failing_operation(self):
        """The first failing operation's error fails the transaction, naming that operation."""
        d = self.transact([COMMENT, INSERT, COMMENT],
                          [{}, {"error": "constraint violation", "details": "duplicate name br0"}, None])
        error = self.failureResultOf(d, ConstraintViolation).value
        self.assertEqual(error.error, "constraint violation")
        self.assertEqual(error.details, "duplicate name br0")
        self.assertEqual(error.op_index, 1)
        self.assertIn("duplicate name br0", str(error))

    def test_error_without_details(self):
        """An error result without "details" still fails, with details None."""
        d = self.transact([WAIT, INSERT], [{"error": "timed out"}, None])
        error = self.failureResultOf(d, WaitTimedOut).value
        self.assertIsNone(error.details)
        self.assertEqual(error.op_index, 0)

    def test_commit_time_error(self):
        """A failure at commit time (an extra element after the last result) fails the transaction
        with no operation index."""
        d = self.transact([INSERT, COMMENT],
                          [{"uuid": ["uuid", ROW_UUID]}, {},
                           {"error": "referential integrity violation",
                            "details": "cannot delete Bridge row because of 1 remaining reference"}])
        error = self.failureResultOf(d, ReferentialIntegrity).value
        self.assertIsNone(error.op_index)
        self.assertEqual(error.details, "cannot delete Bridge row because of 1 remaining reference")

    def test_commit_time_constraint(self):
        """A commit-time constraint violation (say a duplicate index value) is a ConstraintViolation."""
        d = self.transact([INSERT], [{"uuid": ["uuid", ROW_UUID]},
                                     {"error": "constraint violation", "details": "duplicate"}])
        self.assertIsNone(self.failureResultOf(d, ConstraintViolation).value.op_index)

    def test_error_mapping(self):
        """Each OVSDB error string maps to its error class; others are a plain TransactionError."""
        table = [
            ("constraint violation", ConstraintViolation),
            ("referential integrity violation", ReferentialIntegrity),
            ("resources exhausted", ResourcesExhausted),
            ("not supported", NotSupported),
            ("timed out", WaitTimedOut),
            ("syntax error", TransactionError),
            ("I/O error", TransactionError),
            ("domain error", TransactionError),
            ("aborted", TransactionError),
            ("not owner", TransactionError),
        ]
        for kind, cls in table:
            d = self.transact([INSERT], [{"error": kind, "details": "x"}])
            error = self.failureResultOf(d, TransactionError).value
            self.assertIs(type(error), cls, kind)
            self.assertEqual(error.error, kind)

    def test_only_first_error_reported(self):
        """When several elements carry errors, the first failing operation is the one reported."""
        d = self.transact([WAIT, INSERT], [{"error": "timed out"}, {"error": "constraint violation"}])
        error = self.failureResultOf(d, WaitTimedOut).value
        self.assertEqual(error.op_index, 0)

    def test_rpc_error(self):
        """A JSON-RPC level error (e.g. unknown database) fails with RpcError, not TransactionError."""
        d = self.client.transact("Nope", [INSERT])
        request = self.one_request()
        self.reply(request, None, {"error": "unknown database", "details": "Nope"})
        error = self.failureResultOf(d, RpcError).value
        self.assertEqual(error.kind, "unknown database")

    def test_short_result(self):
        """A result with fewer elements than operations and no error is a protocol error."""
        d = self.transact([WAIT, INSERT], [{}])
        self.failureResultOf(d, ProtocolError)

    def test_result_not_array(self):
        """A result that is not an array is a protocol error."""
        d = self.transact([INSERT], {"uuid": ["uuid", ROW_UUID]})
        self.failureResultOf(d, ProtocolError)

    def test_timeout_argument(self):
        """A transact timeout shorter than the default applies to that transaction."""
        d = self.client.transact("Open_vSwitch", [INSERT], timeout=1)
        self.one_request()
        self.clock.advance(1)
        self.failureResultOf(d, Timeout)

    def test_disconnect_during_transact(self):
        """A transaction whose connection drops fails with Disconnected (the outcome is unknown)."""
        d = self.client.transact("Open_vSwitch", [INSERT])
        self.one_request()
        self.client.connectionLost(Failure(ConnectionDone()))
        self.failureResultOf(d, Disconnected)

    def test_check_transaction_result_directly(self):
        """check_transaction_result returns the result untouched on success."""
        result = [{}, {"count": 1}]
        self.assertIs(check_transaction_result(result, [WAIT, INSERT]), result)
        self.assertRaises(ConstraintViolation, check_transaction_result,
                          [{}, {"error": "constraint violation"}], [WAIT, INSERT])


class MonitorTests(ClientTestCase):
    """Monitor requests and the fallback from the newest method to the oldest."""

    def test_monitor_requests_shapes(self):
        """monitor_cond needs an array of requests per table; plain monitor takes one object."""
        self.assertEqual(monitor_requests(COLUMNS, conditional=True),
                         {"Bridge": [{"columns": ["name", "ports"]}],
                          "Open_vSwitch": [{"columns": ["bridges"]}]})
        self.assertEqual(monitor_requests(COLUMNS, conditional=False),
                         {"Bridge": {"columns": ["name", "ports"]}, "Open_vSwitch": {"columns": ["bridges"]}})

    def test_monitor_cond_since(self):
        """A server that knows monitor_cond_since gets [db, id, requests, last-txn-id] and its
        [found, last-txn-id, initial] reply is reported with update2 format."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS, last_txn_id=TXN_ID)
        request = self.one_request()
        self.assertEqual(request["method"], "monitor_cond_since")
        self.assertEqual(request["params"], ["Open_vSwitch", "m1", monitor_requests(COLUMNS), TXN_ID])
        initial = {"Bridge": {ROW_UUID: {"initial": {"name": "br0"}}}}
        self.reply(request, [True, "d3b07384-d9a0-4c9b-8b1b-2e4e5e0f0a11", initial])
        started = self.successResultOf(d)
        self.assertEqual(started.method, "monitor_cond_since")
        self.assertTrue(started.found)
        self.assertEqual(started.last_txn_id, "d3b07384-d9a0-4c9b-8b1b-2e4e5e0f0a11")
        self.assertEqual(started.initial, initial)
        self.assertEqual(started.version, 2)

    def test_monitor_cond_since_without_history(self):
        """Without a last transaction id, monitor_cond_since asks from the all-zero id and a
        "not found" reply says the initial contents are a full snapshot."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
        request = self.one_request()
        self.assertEqual(request["params"][3], ZERO_UUID)
        self.reply(request, [False, TXN_ID, {}])
        started = self.successResultOf(d)
        self.assertFalse(started.found)
        self.assertEqual(started.last_txn_id, TXN_ID)
        self.assertEqual(started.initial, {})

    def test_malformed_monitor_cond_since_reply(self):
        """A monitor_cond_since reply that is not [found, id, updates] fails with ProtocolError."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
        self.reply(self.one_request(), {"Bridge": {}})
        self.failureResultOf(d, ProtocolError)

    def test_monitor_cond_since_reply_with_bad_members(self):
        """A monitor_cond_since reply whose "found" is not a boolean or whose transaction id is not
        a uuid fails with ProtocolError (the id would be sent back to resume from)."""
        for found, txn_id in [(1, TXN_ID), ("true", TXN_ID), (True, "x"), (False, None), (True, TXN_ID + "\n")]:
            d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
            self.reply(self.one_request(), [found, txn_id, {}])
            self.failureResultOf(d, ProtocolError)

    def test_fallback_to_monitor_cond(self):
        """A server without monitor_cond_since ("unknown method") is asked with monitor_cond,
        [db, id, requests] with per-table request arrays; its reply is update2 format."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS, last_txn_id=TXN_ID)
        self.reply(self.one_request(), None, "unknown method")
        self.assertNoResult(d)
        request = self.one_request()
        self.assertEqual(request["method"], "monitor_cond")
        self.assertEqual(request["params"], ["Open_vSwitch", "m1", monitor_requests(COLUMNS)])
        initial = {"Bridge": {ROW_UUID: {"initial": {"name": "br0"}}}}
        self.reply(request, initial)
        started = self.successResultOf(d)
        self.assertEqual(started.method, "monitor_cond")
        self.assertFalse(started.found)
        self.assertIsNone(started.last_txn_id)
        self.assertEqual(started.initial, initial)
        self.assertEqual(started.version, 2)

    def test_fallback_to_monitor(self):
        """A server knowing neither conditional method is asked with monitor, one request object
        per table; its reply is update (version 1) format."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
        self.reply(self.one_request(), None, "unknown method")
        self.reply(self.one_request(), None, {"error": "unknown method"})
        request = self.one_request()
        self.assertEqual(request["method"], "monitor")
        self.assertEqual(request["params"],
                         ["Open_vSwitch", "m1", monitor_requests(COLUMNS, conditional=False)])
        initial = {"Bridge": {ROW_UUID: {"new": {"name": "br0"}}}}
        self.reply(request, initial)
        started = self.successResultOf(d)
        self.assertEqual(started.method, "monitor")
        self.assertEqual(started.version, 1)
        self.assertEqual(started.initial, initial)

    def test_empty_initial(self):
        """An empty database gives empty initial updates, not None."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
        self.reply(self.one_request(), None, "unknown method")
        self.reply(self.one_request(), {})
        self.assertEqual(self.successResultOf(d).initial, {})

    def test_no_fallback_on_other_errors(self):
        """Any error other than "unknown method" (unknown database, syntax error...) fails at once
        without trying older methods."""
        for error in ["unknown database", {"error": "syntax error", "details": "bad columns"}, "canceled"]:
            d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
            self.reply(self.one_request(), None, error)
            self.failureResultOf(d, RpcError)
            self.assertEqual(self.sent(), [])

    def test_all_methods_unknown(self):
        """When even plain monitor is unknown, the call fails with that RpcError."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
        methods = []
        for _ in range(3):
            request = self.one_request()
            methods.append(request["method"])
            self.reply(request, None, "unknown method")
        self.assertEqual(methods, ["monitor_cond_since", "monitor_cond", "monitor"])
        self.assertEqual(self.failureResultOf(d, RpcError).value.kind, "unknown method")
        self.assertEqual(self.sent(), [])

    def test_disconnect_during_fallback(self):
        """A connection lost while negotiating the monitor fails it with Disconnected."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
        self.reply(self.one_request(), None, "unknown method")
        self.client.connectionLost(Failure(ConnectionDone()))
        self.failureResultOf(d, Disconnected)

    def test_monitor_explicit_method(self):
        """monitor() with an explicit method sends just that method."""
        d = self.client.monitor("Open_vSwitch", "m2", monitor_requests(COLUMNS), method="monitor_cond")
        request = self.one_request()
        self.assertEqual(request["method"], "monitor_cond")
        self.assertEqual(len(request["params"]), 3)
        self.reply(request, {})
        self.assertEqual(self.successResultOf(d).method, "monitor_cond")


class UpdateNotificationTests(ClientTestCase):
    """update, update2 and update3 notifications reach on_update with their format and txn id."""

    def start_monitor(self, monitor_id="m1", method="monitor_cond"):
        """Start a monitor the way the server sees it: request, then reply."""
        d = self.client.monitor("Open_vSwitch", monitor_id, monitor_requests(COLUMNS), method)
        request = self.one_request()
        self.reply(request, [False, ZERO_UUID, {}] if method == "monitor_cond_since" else {})
        self.successResultOf(d)

    def test_update3(self):
        """update3 [id, last-txn-id, updates] is delivered as version 2 with its transaction id."""
        self.start_monitor(method="monitor_cond_since")
        updates = {"Bridge": {ROW_UUID: {"modify": {"name": "br1"}}}}
        self.server_sends({"method": "update3", "params": ["m1", TXN_ID, updates], "id": None})
        self.assertEqual(self.updates, [("m1", updates, 2, TXN_ID)])

    def test_update2(self):
        """update2 [id, updates] is delivered as version 2 without a transaction id."""
        self.start_monitor()
        updates = {"Bridge": {ROW_UUID: {"delete": None}}}
        self.server_sends({"method": "update2", "params": ["m1", updates], "id": None})
        self.assertEqual(self.updates, [("m1", updates, 2, None)])

    def test_update(self):
        """update [id, updates] is delivered as version 1 (a monitor id may be any JSON value)."""
        self.start_monitor(None, "monitor")
        updates = {"Bridge": {ROW_UUID: {"old": {"name": "br0"}, "new": {"name": "br1"}}}}
        self.server_sends({"method": "update", "params": [None, updates], "id": None})
        self.assertEqual(self.updates, [(None, updates, 1, None)])

    def test_updates_in_order(self):
        """Updates arriving together are delivered in the order the server sent them."""
        self.start_monitor()
        messages = [{"method": "update2", "params": ["m1", {"Bridge": {ROW_UUID: {"modify": {"name": n}}}}],
                     "id": None} for n in ("a", "b", "c")]
        self.client.dataReceived(b"".join(ujson.dumps(m).encode() for m in messages))
        self.assertEqual([u[1]["Bridge"][ROW_UUID]["modify"]["name"] for u in self.updates], ["a", "b", "c"])

    def test_update_before_transact_reply(self):
        """The server sends a transaction's update before its reply; the update is seen first."""
        self.start_monitor()
        order = []
        self.client.on_update = lambda *args: order.append("update")
        d = self.client.transact("Open_vSwitch", [INSERT])
        d.addCallback(lambda _: order.append("reply"))
        request = self.one_request()
        update = {"method": "update2", "params": ["m1", {}], "id": None}
        reply = {"id": request["id"], "result": [{"uuid": ["uuid", ROW_UUID]}], "error": None}
        self.client.dataReceived(ujson.dumps(update).encode() + ujson.dumps(reply).encode())
        self.assertEqual(order, ["update", "reply"])

    def test_update_before_monitor_reply(self):
        """An update that overtakes the monitor's reply (the request is out) is delivered."""
        d = self.client.monitor("Open_vSwitch", "m1", monitor_requests(COLUMNS), "monitor_cond")
        request = self.one_request()
        self.server_sends({"method": "update2", "params": ["m1", {}], "id": None})
        self.reply(request, {})
        self.successResultOf(d)
        self.assertEqual(self.updates, [("m1", {}, 2, None)])
        self.assertFalse(self.transport.disconnecting)

    def test_other_notifications_ignored(self):
        """Notifications other than updates (locked, stolen...) do not reach on_update."""
        self.server_sends({"method": "locked", "params": ["lock"], "id": None})
        self.assertEqual(self.updates, [])
        self.assertFalse(self.transport.disconnecting)

    def assert_refused(self, message, logged):
        """``message`` from the server is not delivered; the connection drops with a logged error
        naming ``logged``."""
        events = []
        self.client.log = Logger(observer=events.append)
        self.server_sends(message)
        self.assertEqual(self.updates, [])
        self.assertTrue(self.transport.disconnecting)
        errors = [formatEvent(e) for e in events if e["log_level"] == LogLevel.error]
        self.assertTrue(any(logged in e for e in errors), errors)

    def test_malformed_update3(self):
        """An update3 with the wrong number of params breaks the connection and is not delivered."""
        self.start_monitor(method="monitor_cond_since")
        self.assert_refused({"method": "update3", "params": ["m1", {}], "id": None}, "malformed update3")

    def test_malformed_update2(self):
        """An update2 with the wrong number of params breaks the connection and is not delivered."""
        self.start_monitor()
        self.assert_refused({"method": "update2", "params": ["m1", TXN_ID, {}], "id": None},
                            "malformed update2")

    def test_update3_transaction_id_not_a_uuid(self):
        """An update3 whose last-txn-id is not a uuid is refused: it would be sent back to the
        server on the next reconnect as the point to resume from."""
        self.start_monitor(method="monitor_cond_since")
        self.assert_refused({"method": "update3", "params": ["m1", TXN_ID + "\n", {}], "id": None},
                            "transaction id that is not a uuid")

    def test_update_for_unknown_monitor(self):
        """An update for a monitor this connection never started is a logged protocol error
        that drops the connection (it could be our data under the wrong id), not ignored."""
        self.start_monitor()
        self.assert_refused({"method": "update2", "params": ["m2", {}], "id": None}, '"m2"')

    def test_update_for_cancelled_monitor(self):
        """Once the server confirmed monitor_cancel, an update for that monitor is refused."""
        self.start_monitor()
        d = self.client.monitor_cancel("m1")
        self.reply(self.one_request(), {})
        self.successResultOf(d)
        self.assert_refused({"method": "update2", "params": ["m1", {}], "id": None}, "not started")

    def test_update_for_refused_monitor(self):
        """A monitor request the server refused leaves no monitor: its updates are refused."""
        d = self.client.monitor("Open_vSwitch", "m1", monitor_requests(COLUMNS), "monitor_cond")
        self.reply(self.one_request(), None, "unknown database")
        self.failureResultOf(d, RpcError)
        self.assert_refused({"method": "update2", "params": ["m1", {}], "id": None}, "not started")

    def test_update_in_the_wrong_format(self):
        """A version 1 update for a monitor_cond monitor (update2 format) is refused: read in the
        wrong format it would change the wrong things."""
        self.start_monitor()
        self.assert_refused({"method": "update", "params": ["m1", {}], "id": None}, "receives update2")

    def test_fallback_monitor_receives_its_own_format(self):
        """After falling back from monitor_cond_since to monitor_cond, update2 is accepted and
        update3 refused."""
        d = self.client.monitor_best("Open_vSwitch", "m1", COLUMNS)
        self.reply(self.one_request(), None, "unknown method")
        self.reply(self.one_request(), {})
        self.successResultOf(d)
        self.server_sends({"method": "update2", "params": ["m1", {}], "id": None})
        self.assertEqual(len(self.updates), 1)
        del self.updates[:]
        self.assert_refused({"method": "update3", "params": ["m1", TXN_ID, {}], "id": None}, "receives update2")

    def test_no_observer(self):
        """Without on_update, updates are dropped quietly and the connection stays up."""
        self.start_monitor()
        self.client.on_update = None
        self.server_sends({"method": "update2", "params": ["m1", {}], "id": None})
        self.assertFalse(self.transport.disconnecting)
