"""A three-member Raft cluster of real ovsdb-servers under ``twistd ovsdbus``.

The cluster is built in a temporary directory with ``ovsdb-tool create-cluster``/``join-cluster``,
every member on unix sockets with its own pidfile, control socket and log; the tests stop, kill
and freeze only the members they started, by pid.
"""

import json
import os
import shutil
import signal
import sys
import time

from twisted.internet import defer, reactor, task
from twisted.trial.unittest import TestCase
from txdbus.error import RemoteError

from ovsdbus.testing import sandbox
from tests import realstack
from tests.realstack import ERROR, INTERFACE, OBJECT_PATH, call, get_property, poll_until, require_programs

#: Seconds for a new leader to be elected, a member to (re)join, ovsdbus to move.
DEADLINE = 20.0
#: ovsdbus's --timeout (seconds for each reply from ovsdb-server) in these tests.
REQUEST_TIMEOUT = 3


class Member:
    """One ovsdb-server of the cluster: ``DIR/NAME.db``, served on ``unix:DIR/NAME.sock``."""

    def __init__(self, directory, name):
        self.name = name
        base = os.path.join(directory, name)
        self.db = base + ".db"
        self.raft = "unix:%s.raft" % base
        self.socket = base + ".sock"
        self.remote = "unix:" + self.socket
        self.pidfile = base + ".pid"
        self.ctl = base + ".ctl"
        self.log = base + ".log"
        self.env = dict(os.environ, OVS_RUNDIR=directory, OVS_LOGDIR=directory, OVS_DBDIR=directory)
        self.pid = None

    def start(self, serve_clients=True):
        """Start ovsdb-server on the member's file (it returns once listening).  Without
        ``serve_clients`` it listens for clients on another socket than :attr:`remote`, so that it
        takes part in the cluster but ovsdbus cannot use it."""
        client_socket = self.socket if serve_clients else self.socket.replace(".sock", "-hidden.sock")
        sandbox._run([sandbox.find_binary("ovsdb-server"), self.db, "--remote=punix:" + client_socket,
                      "--pidfile=" + self.pidfile, "--detach", "--unixctl=" + self.ctl, "--log-file=" + self.log],
                     env=self.env, log_file=self.log)
        with open(self.pidfile) as f:
            self.pid = int(f.read().strip())

    @property
    def running(self):
        return self.pid is not None and sandbox.pid_alive(self.pid)

    def kill(self):
        """SIGKILL the member (no goodbye to its peers or clients) and wait until it is gone."""
        os.kill(self.pid, signal.SIGKILL)
        sandbox.wait_until(lambda: not sandbox.pid_alive(self.pid), 10, "ovsdb-server %s to die" % self.name)
        self.pid = None

    def stop(self):
        """SIGTERM (SIGCONT first, in case it is frozen) and wait."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            sandbox.stop_pid(self.pid, 10, "ovsdb-server " + self.name)
            self.pid = None

    def status(self):
        """Deferred of ``cluster/status`` as ``{key: value}`` ("Role", "Status", ...); ``{}`` when not running."""
        if not self.running:
            return defer.succeed({})
        d = realstack.run([sandbox.find_binary("ovs-appctl"), "-t", self.ctl, "cluster/status", "Open_vSwitch"],
                          env=self.env, timeout=5)
        return d.addCallback(lambda result: dict(line.split(": ", 1) for line in result[1].splitlines()
                                                 if ": " in line) if result[0] == 0 else {})

    def is_leader(self):
        """Deferred: whether the member leads the cluster now."""
        return self.status().addCallback(lambda status: status.get("Role") == "leader")

    def in_cluster(self):
        """Deferred: whether the member runs as a member of the cluster (joined, not leaving)."""
        return self.status().addCallback(lambda status: status.get("Status") == "cluster member")

    def appctl(self, *args):
        """``ovs-appctl -t CTL ARGS`` to this member; its output."""
        return sandbox._run([sandbox.find_binary("ovs-appctl"), "-t", self.ctl, *args], env=self.env)

    def bridges(self):
        """The bridge names of the member's data, read with ``ovsdb-client dump``."""
        out = sandbox._run([sandbox.find_binary("ovsdb-client"), "dump", "--format=json", self.remote,
                            "Open_vSwitch", "Bridge", "name"], env=self.env)
        (table,) = [json.loads(line) for line in out.splitlines() if line.strip()]
        return sorted(row[table["headings"].index("name")] for row in table["data"])


class Cluster:
    """Three members a, b, c of one Open_vSwitch cluster, created (``ovs-vsctl init`` done) and started."""

    def __init__(self, directory, election_timer=None):
        self.members = [Member(directory, n) for n in "abc"]
        a, others = self.members[0], self.members[1:]
        tool = sandbox.find_binary("ovsdb-tool")
        timer = ["--election-timer=%d" % election_timer] if election_timer else []
        sandbox._run([tool, *timer, "create-cluster", a.db, sandbox.DEFAULT_SCHEMA, a.raft], env=a.env)
        for m in others:
            sandbox._run([tool, "join-cluster", m.db, "Open_vSwitch", m.raft, a.raft], env=m.env)
        for m in self.members:
            m.start()
        # Joining members wait for the leader to add them; ovs-vsctl waits for a leader to commit.
        sandbox._run([sandbox.find_binary("ovs-vsctl"), "--db=" + self.remotes, "--no-wait", "--timeout=20", "init"],
                     env=a.env)

    @property
    def remotes(self):
        """``unix:a.sock,unix:b.sock,unix:c.sock``."""
        return ",".join(m.remote for m in self.members)

    @defer.inlineCallbacks
    def formed(self):
        """Deferred: whether every member has joined."""
        for m in self.members:
            if not (yield m.in_cluster()):
                return False
        return True

    @defer.inlineCallbacks
    def leader(self):
        """Deferred of the member that leads now, or ``None`` (none, or two during an election)."""
        leaders = []
        for m in self.members:
            if (yield m.is_leader()):
                leaders.append(m)
        return leaders[0] if len(leaders) == 1 else None

    def stop(self):
        for m in self.members:
            m.stop()


class _ClusterCase(TestCase):
    """``twistd ovsdbus --ovsdb unix:a,unix:b,unix:c`` (plus ``service_args``) on a private bus, a
    D-Bus client that records the service's root signals in ``heard``."""

    service_args = ()
    #: The members in the order ovsdbus is given them (with --no-shuffle-remotes, tried in it).
    order = "abc"
    #: The cluster's election timer in milliseconds (None: ovsdb-server's default, 1000).
    election_timer = None

    def setUp(self):
        require_programs(*realstack.STACK_PROGRAMS, "ovs-appctl")
        self.stack = realstack.RealStack(("--timeout", str(REQUEST_TIMEOUT)) + self.service_args)
        self.addCleanup(self.stack.stop)
        self.cluster = Cluster(self.stack.directory, self.election_timer)
        self.addCleanup(self.cluster.stop)
        members = {m.name: m for m in self.cluster.members}
        self.stack.start(ovsdb=False, remote=",".join(members[name].remote for name in self.order))
        self.heard = []
        d = realstack.connect(self, self.stack.bus_address)

        @d.addCallback
        def connected(client):
            self.client = client
            return client.addMatch(lambda m: self.heard.append((m.member, tuple(m.body))), mtype="signal",
                                   path=OBJECT_PATH, interface=INTERFACE)

        d.addCallback(lambda _: poll_until(self.connected, DEADLINE, what="Connected"))
        d.addCallback(lambda _: poll_until(self.cluster.formed, DEADLINE, what="all three members to join"))
        return d

    def connected(self):
        return get_property(self.client, "Connected")

    @defer.inlineCallbacks
    def where(self):
        """(Connected, ClusterMember, Leader)."""
        values = []
        for name in ("Connected", "ClusterMember", "Leader"):
            values.append((yield get_property(self.client, name)))
        return tuple(values)


class FailoverTests(_ClusterCase):
    """The leader dies under writes."""

    @defer.inlineCallbacks
    def test_writes_through_leader_failovers(self):
        """Writes go on while the leader is killed three times: every acknowledged write is in the
        database, every other call failed with Disconnected or Timeout within the timeout, the
        replica ends equal to the cluster's data, and subscribers heard each new bridge once."""
        leader = yield poll_until(self.cluster.leader, DEADLINE, what="a leader")
        self.assertEqual((yield self.where()), (True, leader.remote, True))
        acknowledged, unknown, durations, failovers, done = [], [], [], [], []
        state = {"stop": False, "n": 0}

        @defer.inlineCallbacks
        def writer():
            while not state["stop"]:
                state["n"] += 1
                name = "br%d" % state["n"]
                started = time.monotonic()
                try:
                    yield call(self.client, "CreateBridge", "s", name)
                except RemoteError as e:
                    durations.append(time.monotonic() - started)
                    self.assertIn(e.errName, (ERROR + "Disconnected", ERROR + "Timeout"), name)
                    unknown.append(name)
                    yield task.deferLater(reactor, 0.05, lambda: None)   # pace the retries while disconnected
                else:
                    durations.append(time.monotonic() - started)
                    acknowledged.append(name)
                    done.append((started, time.monotonic()))

        writing = writer()
        for _ in range(3):
            yield poll_until(lambda: len(acknowledged) >= 3, DEADLINE, what="writes to go through")
            leader = yield poll_until(self.cluster.leader, DEADLINE, what="a leader")
            before = len(acknowledged)
            killed_at = time.monotonic()
            leader.kill()
            after = yield poll_until(lambda t=killed_at: [end for start, end in done if start > t], DEADLINE,
                                     what="a write sent after the leader died to be acknowledged")
            failovers.append(after[0] - killed_at)
            yield poll_until(self.cluster.leader, DEADLINE, what="a new leader")
            leader.start()
            yield poll_until(leader.in_cluster, DEADLINE, what="%s to rejoin" % leader.name)
            yield poll_until(lambda before=before: len(acknowledged) >= before + 3, DEADLINE, what="more writes")
        state["stop"] = True
        yield writing

        leader = yield poll_until(self.cluster.leader, DEADLINE, what="a leader")
        in_database = leader.bridges()
        self.assertEqual(set(acknowledged) - set(in_database), set(), "acknowledged writes lost")
        self.assertEqual(set(in_database) - set(acknowledged) - set(unknown), set())
        self.assertLess(max(durations), REQUEST_TIMEOUT + 2)
        listed = yield poll_until(lambda: call(self.client, "ListBridges").addCallback(
            lambda names: names if sorted(names) == in_database else None), DEADLINE, what="the replica to match")
        self.assertEqual(sorted(listed), in_database)
        added = [body[0] for member, body in self.heard if member == "BridgeAdded"]
        self.assertEqual(sorted(added), in_database)   # each exactly once
        self.assertEqual([m for m, _ in self.heard if m == "BridgeRemoved"], [])
        self.assertEqual((yield self.where()), (True, leader.remote, True))
        sys.stderr.write("\nraft: %d writes acknowledged, %d unknown; failover (leader killed -> first "
                         "acknowledged write): %s s\n" % (len(acknowledged), len(unknown),
                                                          ", ".join("%.2f" % f for f in failovers)))


class PartitionTests(_ClusterCase):
    """A member cut off from its peers is left for one that is connected."""

    service_args = ("--leader-only", "no", "--no-shuffle-remotes")

    @defer.inlineCallbacks
    def test_partitioned_member_is_left(self):
        """ovsdbus (not leader-only, a tried first) is on a; when b and c stop, a is cut off and
        ovsdbus stops serving from it; with a frozen and b and c back, ovsdbus serves from b or c."""
        a, b, c = self.cluster.members
        self.assertEqual((yield self.where())[:2], (True, a.remote))
        yield call(self.client, "CreateBridge", "s", "br0")
        b.kill()
        c.kill()
        yield poll_until(lambda: self.connected().addCallback(lambda up: not up), DEADLINE,
                         what="ovsdbus to leave the cut-off member")
        self.assertEqual((yield self.where()), (False, "", False))
        os.kill(a.pid, signal.SIGSTOP)   # a can neither vote nor answer
        b.start()
        c.start()
        yield poll_until(self.connected, DEADLINE + REQUEST_TIMEOUT, what="ovsdbus on a connected member")
        connected, member, _ = yield self.where()
        self.assertIn(member, (b.remote, c.remote))
        self.assertEqual((yield call(self.client, "ListBridges")), ["br0"])
        os.kill(a.pid, signal.SIGCONT)


class StaleMemberTests(_ClusterCase):
    """A member that comes back with an older copy of the database is not used until it caught up."""

    service_args = ("--leader-only", "no", "--no-shuffle-remotes")
    order = "cab"

    def service_log(self):
        with open(os.path.join(self.stack.directory, "service.log"), encoding="utf-8", errors="replace") as log:
            return log.read()

    @defer.inlineCallbacks
    def test_member_restarted_with_older_database(self):
        """ovsdbus (reads from any member, c tried first) writes br1 on c; c stops and its database file
        is kept aside; br2..br4 are written on a and b; a and b stop and c starts alone on the old file:
        ovsdbus refuses c, says Disconnected rather than answer from its older data, and never reports a
        bridge removed.  When b is back (serving no clients, so only c can serve ovsdbus) c catches up
        from it, and only then does ovsdbus use c, with all four bridges."""
        a, b, c = self.cluster.members
        self.assertEqual((yield self.where())[:2], (True, c.remote))
        yield call(self.client, "CreateBridge", "s", "br1")
        c.stop()
        shutil.copy(c.db, c.db + ".old")
        # Until a or b leads, the one ovsdbus moves to may still leave its cluster for an election
        # (ovsdbus then rightly answers Disconnected): write once the cluster has a leader again.
        yield poll_until(lambda: self.cluster.leader().addCallback(lambda leader: leader in (a, b)), DEADLINE,
                         what="a or b to lead")
        yield poll_until(lambda: self.where().addCallback(lambda w: w[0] and w[1] != c.remote), DEADLINE,
                         what="ovsdbus to move from c to another member")
        written = ["br1"]
        for name in ("br2", "br3", "br4"):
            yield call(self.client, "CreateBridge", "s", name)
            written.append(name)
        self.assertEqual(a.bridges(), written)

        # From here on, every answer ovsdbus gives must hold all four bridges.
        answers, errors, state = [], [], {"stop": False}

        @defer.inlineCallbacks
        def reader():
            while not state["stop"]:
                try:
                    answers.append(sorted((yield call(self.client, "ListBridges"))))
                except RemoteError as e:
                    errors.append(e.errName)
                yield task.deferLater(reactor, 0.05, lambda: None)

        reading = reader()

        def stop_reading():
            state["stop"] = True
            return reading
        self.addCleanup(stop_reading)
        a.stop()
        b.stop()
        yield poll_until(lambda: self.connected().addCallback(lambda up: not up), DEADLINE,
                         what="ovsdbus to be disconnected with a and b down")
        os.replace(c.db + ".old", c.db)
        c.start()
        refusal = "not using ovsdb-server %s: the member is not connected to its cluster" % c.remote
        yield poll_until(lambda: self.service_log().count(refusal) >= 2, DEADLINE,
                         what="ovsdbus to refuse the restarted c twice")
        self.assertEqual(c.bridges(), ["br1"])   # c really serves the older data
        self.assertEqual((yield self.where()), (False, "", False))
        self.assertEqual((yield realstack.call_error(self.client, "ListBridges")), ERROR + "Disconnected")

        b.start(serve_clients=False)
        yield poll_until(lambda: self.where().addCallback(lambda w: w[:2] == (True, c.remote)), DEADLINE,
                         what="ovsdbus to use c once it caught up")
        self.assertEqual(sorted((yield call(self.client, "ListBridges"))), written)
        self.assertEqual(c.bridges(), written)
        yield stop_reading()
        self.assertEqual([answer for answer in answers if answer != written], [], "a read went back in time")
        self.assertEqual(set(errors), {ERROR + "Disconnected"})
        self.assertEqual([body for member, body in self.heard if member == "BridgeRemoved"], [])
        self.assertEqual(sorted(body[0] for member, body in self.heard if member == "BridgeAdded"), written)


class LaggingMemberTests(_ClusterCase):
    """A member that says it is connected to its cluster but whose data is older than what ovsdbus has
    already served is not used: the Raft index in its ``_Server`` row gives it away."""

    service_args = ("--leader-only", "no", "--no-shuffle-remotes")
    order = "acb"
    #: Long enough that a member cut off from its peers keeps calling itself connected during the test.
    election_timer = 10000

    def service_log(self):
        with open(os.path.join(self.stack.directory, "service.log"), encoding="utf-8", errors="replace") as log:
            return log.read()

    @defer.inlineCallbacks
    def test_member_behind_by_raft_index_is_refused(self):
        """ovsdbus reads from a (tried first); c stops exchanging Raft messages (ovsdb-server's
        stop-raft-rpc failure test) but, its election timer not yet expired, still says it is connected;
        br2 and br3 are committed by a and b; a is killed.  ovsdbus refuses c, whose Raft index is older
        than the one it saw on a, and serves from b: all three bridges, none ever reported removed."""
        a, c, b = (self.cluster.members[i] for i in (0, 2, 1))
        self.assertEqual((yield self.where())[:2], (True, a.remote))
        yield call(self.client, "CreateBridge", "s", "br1")
        yield poll_until(lambda: c.bridges() == ["br1"], DEADLINE, what="c to have br1")
        self.assertEqual(c.appctl("cluster/failure-test", "stop-raft-rpc").strip(), "test engaged")
        for name in ("br2", "br3"):
            yield call(self.client, "CreateBridge", "s", name)
        self.assertEqual(c.bridges(), ["br1"])
        self.assertEqual((yield c.status()).get("Status"), "cluster member")
        a.kill()
        yield poll_until(lambda: self.where().addCallback(lambda w: w[:2] == (True, b.remote)), DEADLINE,
                         what="ovsdbus to move to b")
        self.assertRegex(self.service_log(), r"not using ovsdb-server %s: the member's data is older \(Raft index "
                                             r"\d+\) than what ovsdbus has already seen" % c.remote)
        self.assertEqual(sorted((yield call(self.client, "ListBridges"))), ["br1", "br2", "br3"])
        self.assertEqual([body for member, body in self.heard if member == "BridgeRemoved"], [])
        self.assertEqual(sorted(body[0] for member, body in self.heard if member == "BridgeAdded"),
                         ["br1", "br2", "br3"])
