"""Tests for ovsdbus.vswitch.batch: batches of commands as one transaction, against the fake OVSDB
and a real ovsdb-server."""

import json
import os
import shutil
import tempfile

from twisted.internet import defer, reactor, task
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.connection import OvsdbConnection
from ovsdbus.ovsdb.errors import (
    AlreadyExists,
    ConstraintViolation,
    InvalidArgs,
    NotFound,
    ReferentialIntegrity,
    ResourcesExhausted,
    Timeout,
    TransactionError,
    WaitTimedOut,
    transaction_error,
)
from ovsdbus.ovsdb.schema import SymbolicRef
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory, sandbox
from ovsdbus.vswitch.batch import MAX_WAITING, Database
from tests.realstack import poll_until, require_programs
from tests.vswitch.test_dbverbs import World
from tests.vswitch.test_operations import StubConnection


def _all_columns():
    with open(DEFAULT_SCHEMA_PATH, encoding="utf-8") as f:
        return {t: None for t in json.load(f)["tables"]}


class _Base:
    """A Database over a synced connection; subclasses provide ``start_server`` -> unix socket path
    and ``snapshot`` -> the whole database contents."""

    @defer.inlineCallbacks
    def setUp(self):
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            self.skipTest("%s is not installed" % DEFAULT_SCHEMA_PATH)
        self.directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        path = self.start_server()
        self.connections = []
        self.database = yield self.connect(path)
        yield self.database.transact([("CreateBridge", {"name": "br0"}), ("AddPort", {"bridge": "br0", "port": "p1"})])

    @defer.inlineCallbacks
    def connect(self, path):
        connection = OvsdbConnection(UNIXClientEndpoint(reactor, path), _all_columns(), reactor, "Open_vSwitch",
                                     retry_policy=lambda attempt: 0.05)
        connection.startService()
        self.addCleanup(connection.stopService)
        yield poll_until(lambda: connection.synced, what="the first sync")
        return Database(connection)

    @defer.inlineCallbacks
    def test_failure_in_last_command_changes_nothing(self):
        """When command N of N fails on the server, none of the batch is applied, and the error names
        the command and keeps the cause's class."""
        before = self.snapshot()
        commands = [("CreateBridge", {"name": "br1"}), ("AddPort", {"bridge": "br1", "port": "p2"}),
                    ("Set", {"table": "Bridge", "record": "br0", "values": {"flood_vlans": frozenset(range(5000))}})]
        e = yield self.assertFailure(self.database.transact(commands), InvalidArgs, ConstraintViolation)
        self.assertTrue(str(e).startswith("command 3 (Set Bridge br0): "), str(e))
        self.assertEqual(self.snapshot(), before)

    @defer.inlineCallbacks
    def test_server_error_names_its_command(self):
        """An error only the server finds (a reference to a row that does not exist) names the command
        that wrote it, and nothing is applied."""
        before = self.snapshot()
        commands = [("AddPort", {"bridge": "br0", "port": "p2"}),
                    ("Set", {"table": "Port", "record": "p1",
                             "values": {"qos": "00000000-0000-4000-8000-00000000abcd"}})]
        e = yield self.assertFailure(self.database.transact(commands), Exception)
        self.assertIn("command 2 (Set Port p1): ", str(e))
        self.assertEqual(self.snapshot(), before)

    @defer.inlineCallbacks
    def test_named_references(self):
        """Create QoS id=@q then Set Port p1 qos=@q: the port refers to the new QoS row."""
        results = yield self.database.transact([
            ("Create", {"table": "QoS", "values": {"type": "linux-htb"}, "id": "@q"}),
            ("Set", {"table": "Port", "record": "p1", "values": {"qos": SymbolicRef("q")}}),
        ])
        uuid = results[0]["uuid"]
        self.assertEqual(self.database.get("Port", "p1", ["qos"])["qos"], uuid)
        self.assertEqual(self.database.get("QoS", uuid, ["type"])["type"], "linux-htb")

    @defer.inlineCallbacks
    def test_unknown_or_unused_reference(self):
        """A reference to a name no earlier command created, and a name never used, are InvalidArgs; nothing
        is applied."""
        before = self.snapshot()
        e = yield self.assertFailure(self.database.transact([
            ("AddPort", {"bridge": "br0", "port": "p2"}),
            ("Set", {"table": "Port", "record": "p1", "values": {"qos": SymbolicRef("q")}})]), InvalidArgs)
        self.assertIn("command 2", str(e))
        self.assertIn("@q", str(e))
        e = yield self.assertFailure(self.database.transact([
            ("Create", {"table": "QoS", "values": {}, "id": "@q"})]), InvalidArgs)
        self.assertIn("never used", str(e))
        self.assertEqual(self.snapshot(), before)

    @defer.inlineCallbacks
    def test_dry_run(self):
        """A dry run changes nothing; when it fails it fails as the real run would."""
        before = self.snapshot()
        results = yield self.database.transact([("AddPort", {"bridge": "br0", "port": "p2"})], {"dry_run": True})
        self.assertTrue(results[0]["dry_run"])
        self.assertEqual(self.snapshot(), before)
        bad = [("AddPort", {"bridge": "br0", "port": "p3"}),
               ("Set", {"table": "Port", "record": "p1", "values": {"qos": "00000000-0000-4000-8000-00000000abcd"}})]
        dry = yield self.assertFailure(self.database.transact(bad, {"dry_run": True}), Exception)
        real = yield self.assertFailure(self.database.transact(bad), Exception)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual((type(dry), str(dry)), (type(real), str(real)))

    @defer.inlineCallbacks
    def test_dry_run_checks_required_references_left_at_their_default(self):
        """A new row whose required reference is left at its default (the all-zero uuid, which names no
        row) fails the dry run as the real run fails, ReferentialIntegrity naming the column, and
        nothing is applied."""
        before = self.snapshot()
        bad = [("Create", {"table": "Flow_Sample_Collector_Set", "values": {"id": 9}})]
        dry = yield self.assertFailure(self.database.transact(bad, {"dry_run": True}), ReferentialIntegrity)
        real = yield self.assertFailure(self.database.transact(bad), ReferentialIntegrity)
        self.assertEqual(str(dry), str(real))
        self.assertIn("column bridge", str(dry))
        self.assertEqual(self.snapshot(), before)

    @defer.inlineCallbacks
    def test_concurrent_batches_exactly_once(self):
        """Two connections adding the same port at the same moment: one succeeds, the other is AlreadyExists."""
        other = yield self.connect(self.socket_path)
        batch = [("AddPort", {"bridge": "br0", "port": "p9"}),
                 ("Set", {"table": "Port", "record": "p9", "values": {"tag": 9}})]
        outcomes = yield defer.DeferredList([self.database.transact(batch), other.transact(batch)],
                                            consumeErrors=True)
        successes = [r for ok, r in outcomes if ok]
        failures = [r.value for ok, r in outcomes if not ok]
        self.assertEqual(len(successes), 1, outcomes)
        self.assertEqual(len(failures), 1)
        self.assertIsInstance(failures[0], AlreadyExists)
        yield poll_until(lambda: self.database.get("Port", "p9", ["tag"])["tag"] == 9, what="the port")


    @defer.inlineCallbacks
    def test_new_row_referenced_by_name(self):
        """A row of a non-root table created with id=@c is kept when a later command refers to it, and a
        later command can name it as its record."""
        results = yield self.database.transact([
            ("Create", {"table": "Controller", "values": {"target": "tcp:127.0.0.1:6653"}, "id": "@c"}),
            ("Add", {"table": "Bridge", "record": "br0", "column": "controller", "values": [SymbolicRef("c")]}),
            ("Set", {"table": "Controller", "record": "@c", "values": {"max_backoff": 2000}}),
            ("Get", {"table": "Controller", "record": "@c", "columns": ["target", "max_backoff"]}),
        ])
        uuid = results[0]["uuid"]
        self.assertEqual(results[3]["rows"], [{"_uuid": uuid, "target": "tcp:127.0.0.1:6653", "max_backoff": 2000}])
        self.assertEqual(self.database.get("Bridge", "br0", ["controller"])["controller"], frozenset([uuid]))
        self.assertEqual(self.database.get("Controller", "br0", ["max_backoff"])["max_backoff"], 2000)


class FakeServerTests(_Base, TestCase):
    """Batches against the fake OVSDB."""

    def start_server(self):
        self.socket_path = os.path.join(self.directory, "db.sock")
        self.factory = FakeOvsdbFactory(FakeOvsdb.open_vswitch())
        self.factory.listen_unix(self.socket_path)
        self.addCleanup(self.factory.shutdown)
        return self.socket_path

    def snapshot(self):
        return self.factory.db.dump()

    @defer.inlineCallbacks
    def test_facade_writes(self):
        """set/add/remove/clear/destroy/create of the facade change the database as asked."""
        db = self.database
        yield db.set("Port", "p1", {"tag": 7}, {"external_ids": {"a": "1"}})
        yield db.add("Port", "p1", "trunks", frozenset([1, 2]))
        yield db.remove("Port", "p1", "trunks", [1])
        row = db.get("Port", "p1", ["tag", "trunks", "external_ids:a"])
        self.assertEqual((row["tag"], row["trunks"], row["external_ids:a"]), (7, frozenset([2]), "1"))
        yield db.clear("Port", "p1", ["trunks"])
        self.assertEqual(db.get("Port", "p1", ["trunks"])["trunks"], frozenset())
        yield db.destroy("Port", ["p1"])
        self.assertEqual([r["name"] for r in db.list("Port", ["name"])], ["br0"])
        yield self.assertFailure(db.create("Controller", {"target": "tcp:127.0.0.1:6653"}), InvalidArgs)
        yield self.assertFailure(db.set("Port", "nope", {"tag": 1}), NotFound)

    @defer.inlineCallbacks
    def test_wait_until(self):
        """wait_until fires once another writer makes the conditions true, and is Timeout when they never do."""
        db = self.database
        waiting = db.wait_until("Port", "p1", [("tag", "=", 4)], timeout=30)
        self.assertNoResult(waiting)
        yield db.set("Port", "p1", {"tag": 4})
        yield waiting
        e = yield self.assertFailure(db.wait_until("Port", "p1", [("tag", "=", 5)], timeout=0.2), Timeout)
        self.assertIn("command 1 (WaitUntil Port p1)", str(e))

    @defer.inlineCallbacks
    def test_options_checked(self):
        """Unknown options and empty batches are InvalidArgs."""
        yield self.assertFailure(self.database.transact([("ListBridges", {})], {"dryrun": True}), InvalidArgs)
        yield self.assertFailure(self.database.transact([]), InvalidArgs)
        yield self.assertFailure(self.database.transact([("Nope", {})]), InvalidArgs)
        results = yield self.database.transact([("ListBridges", {})], {"comment": "hi", "timeout": 5})
        self.assertEqual(results, [{"value": ["br0"], "changed": False}])

    @defer.inlineCallbacks
    def test_malformed_arguments(self):
        """Arguments of the wrong shape are InvalidArgs naming the command, never a crash."""
        e = yield self.assertFailure(self.database.transact([
            ("Find", {"table": "Port", "conditions": 5})]), InvalidArgs)
        self.assertIn("command 1 (Find Port)", str(e))
        yield self.assertFailure(self.database.transact([("Set", {"table": "Port", "record": ["p1"],
                                                                  "values": {"tag": 1}})]), InvalidArgs)
        yield self.assertFailure(self.database.transact([("Get", {"table": 7, "record": "p1"})]), InvalidArgs)
        self.assertRaises(InvalidArgs, self.database.find, "Port", 5)


class RealServerTests(_Base, TestCase):
    """Batches against a real ovsdb-server (compared with ``ovsdb-client dump``)."""

    def start_server(self):
        require_programs("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovsdb-client")
        self.server = sandbox.OvsdbServer(self.directory).start()
        self.addCleanup(self.server.stop)
        self.socket_path = str(self.server.socket_path)
        return self.socket_path

    def snapshot(self):
        argv = [sandbox.find_binary("ovsdb-client"), "dump", "--format=json", self.server.remote, "Open_vSwitch"]
        return sandbox._run(argv, env=self.server._ovs_env())


class RetryAndBlameTests(TestCase):
    """Conflicts are retried from a fresh plan; server errors are traced to their command (hand-driven
    connection and clock)."""

    def setUp(self):
        self.world = World()
        self.clock = task.Clock()
        self.connection = StubConnection(self.world.replica, self.clock)
        self.database = Database(self.connection, max_attempts=3, conflict_wait=2.0)

    def test_conflict_is_planned_again(self):
        """A transaction refused because what it read changed is planned again from the updated replica,
        and its second outcome is what the caller gets."""
        d = self.database.transact([("AddPort", {"bridge": "br0", "port": "p9"})])
        self.connection.fail(WaitTimedOut("timed out"))
        self.assertEqual(len(self.connection.waiters), 1)   # nothing new in the replica yet: wait for it
        bridge = self.world.replica.find("Bridge", name="br0")
        self.connection.change({"Bridge": {bridge: {"modify": {"external_ids": ["map", [["k", "v"]]]}}}})
        self.assertEqual(len(self.connection.transactions), 2)
        ops = self.connection.transactions[1]
        index = next(i for i, op in enumerate(ops) if op["op"] == "insert" and op["table"] == "Port")
        results = [{}] * len(ops)
        results[index] = {"uuid": ["uuid", "00000000-0000-4000-8000-000000000999"]}
        self.connection.reply(results)
        (result,) = self.successResultOf(d)
        self.assertEqual(result["uuid"], "00000000-0000-4000-8000-000000000999")

    def test_gives_up(self):
        """A batch that keeps conflicting fails after max_attempts with a "conflict" TransactionError."""
        d = self.database.transact([("AddPort", {"bridge": "br0", "port": "p9"})])
        for _ in range(3):
            self.connection.fail(WaitTimedOut("timed out"))
            self.clock.advance(2.0)
        e = self.failureResultOf(d, TransactionError).value
        self.assertEqual(e.error, "conflict")
        self.assertEqual(len(self.connection.transactions), 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_error_of_an_operation_names_its_command(self):
        """The server's error for operation i is reported as the error of the command that planned it,
        with the same class."""
        d = self.database.transact([("AddPort", {"bridge": "br0", "port": "p9"}),
                                    ("Set", {"table": "Port", "record": "p1", "values": {"tag": 5}})])
        ops = self.connection.transactions[0]
        index = next(i for i, op in enumerate(ops) if op["op"] == "update")
        self.connection.fail(transaction_error("constraint violation", "bad", index))
        e = self.failureResultOf(d, ConstraintViolation).value
        self.assertEqual(str(e), "command 2 (Set Port p1): constraint violation: bad")
        self.assertEqual(e.details, "bad")

    def test_commit_error_names_the_command_that_wrote_the_row(self):
        """An error the server finds at commit (no operation index) is blamed on the command that wrote
        the row its details name."""
        p1 = self.world.replica.find("Port", name="p1")
        d = self.database.transact([("Set", {"table": "Port", "record": "p1", "values": {"tag": 5}}),
                                    ("AddPort", {"bridge": "br0", "port": "p9"})])
        self.connection.fail(transaction_error("referential integrity violation",
                                               "cannot delete Port row %s because of 1 remaining reference" % p1))
        e = self.failureResultOf(d, ReferentialIntegrity).value
        self.assertTrue(str(e).startswith("command 1 (Set Port p1): referential integrity violation"), str(e))

    def test_wait_until_times_out_on_the_clock(self):
        """WaitUntil waits for changes without blocking, and is Timeout once its timeout passes on the clock."""
        d = self.database.wait_until("Port", "p1", [("tag", "=", 5)], timeout=10)
        self.assertNoResult(d)
        self.clock.advance(9)
        self.assertNoResult(d)
        self.clock.advance(1)
        self.failureResultOf(d, Timeout)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.connection.transactions, [])

    def test_waiting_calls_are_bounded(self):
        """At most MAX_WAITING WaitUntil calls wait at once (each is planned again at every change of
        the replica): one more is ResourcesExhausted at once, a slot frees when one ends, and a
        timeout over a day is InvalidArgs."""
        waiting = [self.database.wait_until("Port", "p1", [("tag", "=", 5)], timeout=10)
                   for _ in range(MAX_WAITING)]
        for d in waiting:
            self.assertNoResult(d)
        e = self.failureResultOf(self.database.wait_until("Port", "p1", [("tag", "=", 5)], timeout=10),
                                 ResourcesExhausted).value
        self.assertIn("waiting already", str(e))
        self.clock.advance(10)
        for d in waiting:
            self.failureResultOf(d, Timeout)
        d = self.database.wait_until("Port", "p1", [("tag", "=", 5)], timeout=10)
        self.assertNoResult(d)
        self.clock.advance(10)
        self.failureResultOf(d, Timeout)
        self.failureResultOf(self.database.wait_until("Port", "p1", [], timeout=86401), InvalidArgs)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_wait_until_without_timeout(self):
        """WaitUntil without a timeout keeps waiting past any one wait for a change, and fires at the change
        that makes its conditions true."""
        d = self.database.wait_until("Port", "p1", [("tag", "=", 5)])
        self.clock.advance(3600 * 3 + 1)
        self.assertNoResult(d)
        p1 = self.world.replica.find("Port", name="p1")
        self.connection.change({"Port": {p1: {"modify": {"tag": 5}}}})
        self.assertEqual(self.successResultOf(d), {"changed": False})
        self.assertEqual(self.clock.getDelayedCalls(), [])
