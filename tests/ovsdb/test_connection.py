"""The live connection (ovsdbus.ovsdb.connection) against the fake OVSDB on a unix socket."""

import os
import shutil
import tempfile

from twisted.internet import defer, reactor, task
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.connection import MONITOR_ID, OvsdbConnection
from ovsdbus.ovsdb.errors import Disconnected, Timeout
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory
from ovsdbus.vswitch.operations import MONITORED_COLUMNS, Operations
from tests.realstack import poll_until


class _FakeServerTestCase(TestCase):
    """A synced OvsdbConnection to the fake OVSDB on a unix socket; ``states`` records its state changes."""

    #: seconds before a request to the fake server fails with Timeout
    request_timeout = 30.0

    def setUp(self):
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            self.skipTest("%s is not installed" % DEFAULT_SCHEMA_PATH)
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, "db.sock")
        self.factory = FakeOvsdbFactory(FakeOvsdb.open_vswitch())
        self.factory.listen_unix(path)
        self.addCleanup(self.factory.shutdown)
        self.connection = OvsdbConnection(UNIXClientEndpoint(reactor, path), MONITORED_COLUMNS, reactor, "Open_vSwitch",
                                          request_timeout=self.request_timeout, retry_policy=lambda attempt: 0.05)
        self.connection.startService()
        self.addCleanup(self.connection.stopService)
        self.states = []
        self.connection.add_state_observer(self.states.append)
        return poll_until(lambda: self.connection.synced, what="the first sync")


class ConnectionTests(_FakeServerTestCase):
    """Staying in step with the server."""

    @defer.inlineCallbacks
    def test_malformed_update_stops_serving_at_once(self):
        """An update that does not fit the schema makes the service stop answering from its replica
        at once (Disconnected), not when the connection has finished closing; then it resyncs."""
        protocol = self.connection._protocol
        del self.states[:]
        self.connection._update_received(protocol, MONITOR_ID, {"Bridge": {"x": {"modify": {"name": 5}}}}, 2, None)
        self.assertFalse(self.connection.synced)
        self.assertEqual(self.states, [False])
        yield self.assertFailure(Operations(self.connection).create_bridge("br0"), Disconnected)
        yield poll_until(lambda: self.connection.synced, what="the resync")

    @defer.inlineCallbacks
    def test_change_waiters_fail_when_the_connection_drops(self):
        """Someone waiting for the next change hears Disconnected as soon as the connection drops,
        not when their timeout runs out."""
        waiting = self.connection.next_change(60)
        self.factory.drop_all_connections()
        yield self.assertFailure(waiting, Disconnected)
        yield poll_until(lambda: self.connection.synced, what="the reconnection")

    @defer.inlineCallbacks
    def test_change_waiters_fire_on_a_change(self):
        """A change made by anyone wakes whoever waits for the next change."""
        waiting = self.connection.next_change(60)
        yield task.deferLater(reactor, 0, lambda: None)
        self.factory.db.transact([{"op": "insert", "table": "QoS", "row": {"type": "x"}}])
        yield Operations(self.connection).create_bridge("br0")
        yield waiting

    @defer.inlineCallbacks
    def test_reply_nobody_asked_for_makes_it_resync(self):
        """A reply to an id ovsdbus never sent makes the service stop serving from its replica at once
        (synced false, Disconnected) and resync over a new connection."""
        (server,) = self.factory.connections
        del self.states[:]
        server.send_value({"id": 12345, "result": [], "error": None})
        yield poll_until(lambda: self.states, what="the connection to be given up")
        self.assertEqual(self.states, [False])
        yield poll_until(lambda: self.connection.synced, what="the resync")
        self.assertEqual(self.states, [False, True])
        yield Operations(self.connection).create_bridge("br0")


class UnresponsiveServerTests(_FakeServerTestCase):
    """What a request that times out does to the connection (the fake server holds every request)."""

    request_timeout = 0.5

    @defer.inlineCallbacks
    def test_timeout_loses_the_connection_before_the_caller_hears(self):
        """A write ovsdb-server does not answer in time fails with Timeout; by the time the caller hears
        it, the connection counts as lost (synced false, state observers told, reads refused) and a
        second write in flight has failed with Disconnected.  Once the server answers again the
        connection is resynced by itself."""
        operations = Operations(self.connection)
        del self.states[:]
        self.factory.pause()
        seen = []
        first = operations.create_bridge("br0")
        second = operations.create_bridge("br1")
        for d in (first, second):
            d.addErrback(lambda f: seen.append((f.type, self.connection.synced, list(self.states))) or f)
        yield self.assertFailure(first, Timeout)
        yield self.assertFailure(second, Disconnected)
        self.assertEqual(seen, [(Disconnected, False, [False]), (Timeout, False, [False])])
        self.assertRaises(Disconnected, operations.list_bridges)
        self.factory.resume()
        yield poll_until(lambda: self.connection.synced, what="the resync")
        self.assertEqual(self.states[:1], [False])
        self.assertEqual(self.states[-1], True)
        yield operations.create_bridge("br2")
        self.assertIn("br2", operations.list_bridges())

    @defer.inlineCallbacks
    def test_no_sync_while_the_server_does_not_answer(self):
        """While the server stays unresponsive, new connections are made and given up (each request
        times out) and the service never says it is synced; afterwards it is."""
        del self.states[:]
        self.factory.pause()
        yield self.assertFailure(Operations(self.connection).create_bridge("br0"), Timeout)
        made = len(self.factory.requests)
        # Wait until two more connection attempts were given up on the paused server.
        yield poll_until(lambda: sum(1 for m, _ in self.factory.requests[made:] if m == "get_schema") >= 3,
                         10, what="two attempts given up")
        self.assertEqual(self.states, [False])
        self.assertFalse(self.connection.synced)
        self.factory.resume()
        yield poll_until(lambda: self.connection.synced, what="the resync")
