"""The live connection (ovsdbus.connection) against the fake OVSDB on a unix socket."""

import os
import shutil
import tempfile

from twisted.internet import defer, reactor, task
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.trial.unittest import TestCase

from ovsdbus.connection import MONITOR_ID, OvsdbConnection
from ovsdbus.errors import Disconnected
from ovsdbus.operations import MONITORED_COLUMNS, Operations
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory
from tests.realstack import poll_until


class ConnectionTests(TestCase):
    def setUp(self):
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            self.skipTest("%s is not installed" % DEFAULT_SCHEMA_PATH)
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, "db.sock")
        self.factory = FakeOvsdbFactory(FakeOvsdb.open_vswitch())
        self.factory.listen_unix(path)
        self.addCleanup(self.factory.shutdown)
        self.connection = OvsdbConnection(UNIXClientEndpoint(reactor, path), MONITORED_COLUMNS, reactor,
                                          retry_policy=lambda attempt: 0.05)
        self.connection.startService()
        self.addCleanup(self.connection.stopService)
        self.states = []
        self.connection.add_state_observer(self.states.append)
        return poll_until(lambda: self.connection.synced, what="the first sync")

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
