"""Raft clusters: the pure member decisions (ovsdbus.ovsdb.cluster) and the connection moving
between members (ovsdbus.ovsdb.connection), on a Clock, against fake members in memory.

The fake members share one database (as a cluster's members hold the same data) and each has
its own ``_Server`` database, whose ``Database`` row the tests change as a real member's would
change (leader, connected, Raft index).
"""

import os
import random

from twisted.internet import defer, task
from twisted.internet.address import UNIXAddress
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.python import usage
from twisted.test import iosim
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from ovsdbus import tap
from ovsdbus.ovsdb import cluster
from ovsdbus.ovsdb.connection import OvsdbConnection
from ovsdbus.ovsdb.errors import Disconnected, RpcError, Timeout
from ovsdbus.ovsdb.remotes import RoundRobinEndpoint, parse_remotes
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory, FakeOvsdbProtocol
from ovsdbus.vswitch.operations import MONITORED_COLUMNS, Operations

SCHEMA = '{"name": "Open_vSwitch"}'


def clustered(**columns):
    """A ``_Server`` Database row of a clustered Open_vSwitch that may be used (leader, connected)."""
    row = {"name": "Open_vSwitch", "model": "clustered", "connected": True, "leader": True,
           "schema": SCHEMA, "index": 10}
    row.update(columns)
    return row


class CheckMemberTests(TestCase):
    """check_member: when a member's _Server row lets ovsdbus use it."""

    def test_standalone_is_used(self):
        """A standalone server is used as it is, as its own leader, whatever the index seen."""
        row = {"name": "Open_vSwitch", "model": "standalone", "connected": True, "leader": True,
               "schema": SCHEMA, "index": None}
        self.assertEqual(cluster.check_member(row, "Open_vSwitch", 99), cluster.Verdict(True, "", 99, True))

    def test_leader_is_used_and_raises_the_index(self):
        """The connected leader is used; its index becomes the lowest acceptable from now on."""
        self.assertEqual(cluster.check_member(clustered(index=12), "Open_vSwitch", 10),
                         cluster.Verdict(True, "", 12, True))

    def test_missing_database(self):
        """A server that does not hold the database is not used."""
        verdict = cluster.check_member(None, "Open_vSwitch", 0)
        self.assertFalse(verdict.usable)
        self.assertIn("does not have database Open_vSwitch", verdict.reason)

    def test_not_joined(self):
        """A member that has not joined its cluster (no schema yet) is not used."""
        verdict = cluster.check_member(clustered(schema=None), "Open_vSwitch", 0)
        self.assertEqual((verdict.usable, verdict.reason), (False, "the clustered database has not joined its "
                                                                   "cluster yet"))

    def test_disconnected_member(self):
        """A member cut off from its cluster is not used, even when it still thinks it leads and even
        without leader-only."""
        for leader_only in (True, False):
            verdict = cluster.check_member(clustered(connected=False), "Open_vSwitch", 0, leader_only)
            self.assertEqual((verdict.usable, verdict.reason),
                             (False, "the member is not connected to its cluster"))

    def test_follower(self):
        """A follower is refused with leader-only, and used (as a follower) without."""
        row = clustered(leader=False)
        refused = cluster.check_member(row, "Open_vSwitch", 0, leader_only=True)
        self.assertEqual((refused.usable, refused.reason),
                         (False, "the member is not the cluster leader (leader-only)"))
        self.assertEqual(cluster.check_member(row, "Open_vSwitch", 0, leader_only=False),
                         cluster.Verdict(True, "", 10, False))

    def test_stale_member(self):
        """A member whose data is older than what ovsdbus has seen is not used, and the index seen
        does not go down; one exactly as new is used."""
        verdict = cluster.check_member(clustered(index=9), "Open_vSwitch", 10)
        self.assertFalse(verdict.usable)
        self.assertEqual(verdict.min_index, 10)
        self.assertIn("older (Raft index 9) than what ovsdbus has already seen (index 10)", verdict.reason)
        self.assertTrue(cluster.check_member(clustered(index=10), "Open_vSwitch", 10).usable)

    def test_database_row(self):
        """The row of the database served is found among the _Server rows."""
        rows = {"u1": {"name": "_Server"}, "u2": {"name": "Open_vSwitch", "model": "clustered"}}
        self.assertEqual(cluster.database_row(rows, "Open_vSwitch"), rows["u2"])
        self.assertIsNone(cluster.database_row(rows, "OVN_Northbound"))


class NotCommittedTests(TestCase):
    """certainly_not_committed: only a refusal before execution allows sending a write again."""

    def test_refusals(self):
        """"database not available" and "not leader" are refusals before the transaction ran."""
        for kind in ("database not available", "not leader"):
            self.assertTrue(cluster.certainly_not_committed(RpcError({"error": kind, "details": "x"})), kind)

    def test_unknown_outcomes(self):
        """A lost connection, a timeout, or "canceled" (ovsdb-server may still commit it) are not."""
        for error in (Disconnected("lost"), Timeout("slow"), RpcError("canceled"), RpcError("unknown method")):
            self.assertFalse(cluster.certainly_not_committed(error), error)


class MemberOrderTests(TestCase):
    """The order in which remotes are tried."""

    def test_kept(self):
        """Without shuffling, remotes are tried as given."""
        self.assertEqual(cluster.member_order("abcdefgh", shuffle=False), list("abcdefgh"))

    def test_shuffled(self):
        """Shuffled (the default), the same remotes come in another order."""
        order = cluster.member_order("abcdefgh", rng=random.Random(1))
        self.assertEqual(sorted(order), list("abcdefgh"))
        self.assertNotEqual(order, list("abcdefgh"))

    def test_options(self):
        """twistd ovsdbus shuffles --ovsdb's remotes unless --no-shuffle-remotes; --leader-only is yes or no."""
        remotes = ",".join("unix:/m%d" % i for i in range(8))
        given = parse_remotes(remotes)
        options = tap.Options()
        options.parseOptions(["--ovsdb", remotes, "--no-shuffle-remotes"])
        self.assertEqual(options["remotes"], given)
        self.assertEqual(options["leader-only"], "yes")
        orders = set()
        for _ in range(20):
            options = tap.Options()
            options.parseOptions(["--ovsdb", remotes, "--leader-only", "no"])
            self.assertEqual(sorted(options["remotes"]), sorted(given))
            orders.add(tuple(options["remotes"]))
        self.assertGreater(len(orders), 1)
        self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--leader-only", "maybe"])


# -- the connection against fake members ----------------------------------------------------------


class _RecordingProtocol(FakeOvsdbProtocol):
    """A fake server connection that records the requests it serves in ``factory.requests``."""

    def _serve_request(self, method, params, msg_id):
        self.factory.requests.append((method, params))
        return super()._serve_request(method, params, msg_id)


class _Member(FakeOvsdbFactory):
    """One fake cluster member: the shared database and its own _Server row."""

    protocol = _RecordingProtocol

    def __init__(self, name, db, clock, **row):
        super().__init__(db, clock=clock)
        self.name = name
        self.up = True
        self.set_row(**clustered(**row))

    def set_row(self, **columns):
        """Change this member's _Server row for Open_vSwitch (its monitors hear it)."""
        self.databases["_Server"].transact([{"op": "update", "table": "Database",
                                             "where": [["name", "==", "Open_vSwitch"]], "row": columns}])


@implementer(IStreamClientEndpoint)
class _MemberEndpoint:
    """Connects to one fake member in memory (iosim), or is refused while the member is down."""

    def __init__(self, member, pumps, attempts):
        self.member = member
        self.pumps = pumps
        self.attempts = attempts

    def connect(self, factory):
        self.attempts.append(self.member.name)
        if not self.member.up:
            return defer.fail(ConnectionRefusedError(self.member.name))
        server = self.member.buildProtocol(None)
        address = UNIXAddress(self.member.name)
        client = factory.buildProtocol(address)
        self.pumps.append(iosim.connect(server, iosim.FakeTransport(server, isServer=True),
                                        client, iosim.FakeTransport(client, isServer=False, peerAddress=address),
                                        greet=False))
        return defer.succeed(client)


class _ClusterCase(TestCase):
    """An OvsdbConnection given three members a, b (the leader) and c, tried in that order."""

    leader_only = True

    def setUp(self):
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            self.skipTest("%s is not installed" % DEFAULT_SCHEMA_PATH)
        self.clock = task.Clock()
        self.db = FakeOvsdb.open_vswitch(keep_history=True)
        self.members = {n: _Member(n, self.db, self.clock, leader=(n == "b")) for n in "abc"}
        self.pumps = []
        self.attempts = []
        endpoint = RoundRobinEndpoint([_MemberEndpoint(self.members[n], self.pumps, self.attempts) for n in "abc"])
        self.delays = []

        def policy(rounds):
            self.delays.append(rounds)
            return 10.0 * rounds

        self.connection = OvsdbConnection(endpoint, MONITORED_COLUMNS, self.clock, "Open_vSwitch",
                                          request_timeout=5, retry_policy=policy, leader_only=self.leader_only,
                                          member_names=["unix:a", "unix:b", "unix:c"])
        self.changes = []
        self.states = []
        self.where = []
        self.connection.add_observer(self.changes.extend)
        self.connection.add_state_observer(self.states.append)
        self.connection.add_member_observer(lambda member, leader: self.where.append((member, leader)))
        self.operations = Operations(self.connection)
        self.connection.startService()
        self.addCleanup(self.stop)
        self.flush()

    def stop(self):
        d = self.connection.stopService()
        self.flush()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        return d

    def flush(self):
        """Move bytes between ovsdbus and the members, and run what is due now, until nothing moves."""
        for _ in range(10000):
            self.clock.advance(0)
            if not any([pump.pump() for pump in self.pumps]):
                return
        raise AssertionError("the connection never went quiet")

    def kill(self, name):
        """Member ``name`` dies: its connections drop and it refuses new ones."""
        member = self.members[name]
        member.up = False
        member.drop_all_connections()
        self.flush()

    def write(self, bridge):
        """Create ``bridge`` through the connection; it must be acknowledged."""
        d = self.operations.create_bridge(bridge)
        self.flush()
        return self.successResultOf(d)

    def inserts(self, table):
        """How many times each row of ``table`` was reported inserted."""
        counts = {}
        for change in self.changes:
            if change.table == table and change.kind == "insert":
                counts[change.uuid] = counts.get(change.uuid, 0) + 1
        return counts


class LeaderOnlyTests(_ClusterCase):
    """With leader-only (the default), only the leader serves."""

    def test_moves_to_the_leader(self):
        """Follower a is left at once for b, the leader: synced there, ClusterMember unix:b, Leader true."""
        self.assertTrue(self.connection.synced)
        self.assertEqual(self.attempts, ["a", "b"])
        self.assertEqual((self.connection.member, self.connection.leader), ("unix:b", True))
        self.assertEqual(self.where, [("unix:b", True)])
        self.assertEqual(self.delays, [])   # the second member of the round was tried without delay
        self.assertEqual(self.members["a"].connections, [])

    def test_leader_change(self):
        """When b stops leading and c takes over, ovsdbus leaves b at once (a write in flight there
        answers Disconnected), resumes on c from the transaction id it had (only what changed is
        sent), and every change reaches the observers exactly once."""
        self.write("br0")
        before = self.connection._last_txn_id
        self.members["b"].pause()
        in_flight = self.operations.create_bridge("br1")
        self.flush()
        self.members["b"].set_row(leader=False)
        self.members["c"].set_row(leader=True)
        self.flush()
        self.failureResultOf(in_flight, Disconnected)
        self.assertEqual(self.connection.member, "unix:c")
        self.assertEqual(self.where, [("unix:b", True), ("", False), ("unix:c", True)])
        self.assertEqual(self.states, [True, False, True])
        since = [p for m, p in self.members["c"].requests if m == "monitor_cond_since" and p[0] == "Open_vSwitch"]
        self.assertEqual(since[0][3], before)
        self.write("br2")
        self.assertEqual(sorted(self.operations.list_bridges()), ["br0", "br2"])
        self.assertEqual(set(self.inserts("Bridge").values()), {1})
        self.assertEqual(len(self.inserts("Bridge")), 2)

    def test_leader_killed(self):
        """When the leader dies, the next members are tried at once; the new leader is used."""
        self.write("br0")
        self.members["c"].set_row(leader=True)   # c won the election
        self.kill("b")
        self.assertEqual(self.connection.member, "unix:c")
        self.assertEqual(self.attempts, ["a", "b", "c"])
        self.write("br1")
        self.assertEqual(len(self.inserts("Bridge")), 2)
        self.assertEqual(set(self.inserts("Bridge").values()), {1})

    def test_partitioned_member_is_left(self):
        """A leader that loses its cluster (connected false) is left; with no other usable member,
        writes answer Disconnected, and the new leader is found at the next round."""
        self.members["b"].set_row(connected=False)
        self.flush()
        self.assertFalse(self.connection.synced)
        self.failureResultOf(self.operations.create_bridge("br0"), Disconnected)
        self.assertEqual(self.attempts, ["a", "b", "c", "a"])
        self.assertEqual(self.delays, [1])   # one whole round failed: the backoff applies
        self.members["a"].set_row(leader=True)
        self.clock.advance(10)
        self.flush()
        self.assertEqual(self.connection.member, "unix:a")

    def test_stale_member_waits_until_it_caught_up(self):
        """A leader whose Raft index is below what ovsdbus has seen is not used until it caught up."""
        self.members["b"].set_row(index=20)
        self.flush()
        self.members["a"].set_row(leader=True, index=15)   # elected with an older log (as after a restore)
        self.kill("b")
        self.assertFalse(self.connection.synced)
        self.members["a"].set_row(index=20)
        self.clock.advance(10)
        self.flush()
        self.assertEqual(self.connection.member, "unix:a")

    def test_refused_write_is_sent_again(self):
        """A write the leader refused before running it ("not leader") is sent again on the new
        leader and acknowledged once, committed once."""
        self.members["c"].set_row(leader=True)
        self.members["b"].fail_next({"error": "not leader", "details": "the leader changed"}, method="transact")
        d = self.operations.create_bridge("br0")
        self.flush()
        self.successResultOf(d)
        self.assertEqual(self.connection.member, "unix:c")
        self.assertEqual(self.operations.list_bridges(), ["br0"])
        self.assertEqual(len(self.db.rows("Bridge")), 1)

    def test_refused_write_without_a_leader_answers_disconnected(self):
        """A refused write with no usable member within its timeout answers Disconnected."""
        self.members["b"].fail_next({"error": "not leader"}, method="transact")
        d = self.operations.create_bridge("br0")
        self.flush()
        self.assertNoResult(d)
        self.clock.advance(5)
        self.flush()
        self.failureResultOf(d, Disconnected)
        self.assertEqual(len(self.db.rows("Bridge")), 0)


    def test_refused_write_when_stopping(self):
        """A refused write waiting for the next member answers Disconnected when ovsdbus stops."""
        self.members["b"].fail_next({"error": "database not available"}, method="transact")
        d = self.operations.create_bridge("br0")
        self.flush()
        self.assertNoResult(d)
        self.connection.stopService()
        self.flush()
        self.failureResultOf(d, Disconnected)


class FollowerTests(_ClusterCase):
    """With leader-only off, a follower connected to the cluster serves."""

    leader_only = False

    def test_follower_serves(self):
        """Follower a is used (Leader false) without leader-only; a becoming leader shows, without
        a reconnection."""
        self.assertEqual(self.attempts, ["a"])
        self.assertEqual((self.connection.member, self.connection.leader), ("unix:a", False))
        self.members["a"].set_row(leader=True)
        self.flush()
        self.assertEqual(self.where, [("unix:a", False), ("unix:a", True)])
        self.assertEqual(self.states, [True])

    def test_partitioned_follower_is_left(self):
        """A follower cut off from the cluster is left for a member that is connected."""
        self.members["a"].set_row(connected=False)
        self.flush()
        self.assertEqual(self.connection.member, "unix:b")
        self.write("br0")


class StandaloneTests(TestCase):
    """A server without a _Server database (older than OVS 2.9) is used as a standalone one."""

    def test_no_server_database(self):
        """The connection syncs with a server that does not know _Server, as with any standalone one."""
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            self.skipTest("%s is not installed" % DEFAULT_SCHEMA_PATH)
        clock = task.Clock()
        factory = FakeOvsdbFactory(FakeOvsdb.open_vswitch(), clock=clock, server_database=False)
        factory.name, factory.up = "old", True   # what _MemberEndpoint reads
        pumps = []
        connection = OvsdbConnection(_MemberEndpoint(factory, pumps, []), MONITORED_COLUMNS, clock, "Open_vSwitch",
                                     member_names=["unix:old"])
        connection.startService()
        for _ in range(1000):
            clock.advance(0)
            if not any([p.pump() for p in pumps]):
                break
        self.assertEqual((connection.synced, connection.member, connection.leader), (True, "unix:old", True))
        connection.stopService()
