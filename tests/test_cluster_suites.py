"""The conformance and end-to-end suites again, against a three-member Raft cluster and over ``ssl:``.

The classes here are the standalone suites' own tests (the same functions, not copies of their
code) run on another kind of :class:`tests.realstack.RealStack`: ``"cluster"`` (``twistd ovsdbus
--ovsdb unix:a,unix:b,unix:c``, ``ovs-vsctl --db=`` the same three, ``ovsdb-client dump`` on the
leader) and ``"tls"`` (ovsdb-server on ``pssl:`` with certificates made by ``openssl`` at start,
the service on ``ssl:`` with ``--private-key``/``--certificate``/``--ca-cert``).  A representative
set of each suite runs, to keep the time they add to CI small: every method from every kind of
client, the Database interface, signals in commit order, and (cluster only) the wire conformance
expectations against a cluster member.
"""

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.schema import ZERO_UUID
from ovsdbus.testing import add_bridge_operations, sandbox
from tests import realstack
from tests import test_database as database_tests
from tests import test_service as service_tests
from tests import test_signals as signal_tests
from tests.realstack import require_programs
from tests.testing import test_conformance as conformance_tests


class _FreshStackOfKind:
    """For the signal tests (a new stack per test): start it of ``stack_kind``."""

    stack_kind = "standalone"

    def setUp(self):
        require_programs(*realstack.STACK_PROGRAMS)
        self.stack = realstack.RealStack(kind=self.stack_kind).start()
        self.addCleanup(self.stack.stop)
        self.addCleanup(self.assert_service_alive)
        self.directory = self.stack.directory


class ClusterMethodTests(service_tests.MethodTests):
    """Every method from every kind of client, against a three-member cluster."""

    stack_kind = "cluster"


class ClusterErrorTests(service_tests.ErrorTests):
    """The documented error names, against a three-member cluster."""

    stack_kind = "cluster"


class ClusterConcurrencyTests(service_tests.ConcurrencyTests):
    """Racing writers, against a three-member cluster."""

    stack_kind = "cluster"


class ClusterDatabaseTests(database_tests.DatabaseTests):
    """The Database interface, against a three-member cluster."""

    stack_kind = "cluster"


class TlsMethodTests(service_tests.MethodTests):
    """Every method from every kind of client, with the service on ssl:."""

    stack_kind = "tls"


class TlsErrorTests(service_tests.ErrorTests):
    """The documented error names, with the service on ssl:."""

    stack_kind = "tls"


class TlsDatabaseTests(database_tests.DatabaseTests):
    """The Database interface, with the service on ssl:."""

    stack_kind = "tls"


#: The signal tests run on a cluster and over ssl: (the others are about D-Bus, not about the server).
_SIGNALS = ("test_vsctl_changes_in_commit_order", "test_object_manager_signals_come_from_the_root",
            "test_signals_describe_the_whole_update", "test_properties_changed_once_per_update",
            "test_burst_of_1000_ports")


def _signal_tests(kind, label):
    """A class running the :data:`_SIGNALS` tests of SignalTests (the same functions) on a fresh stack
    of ``kind`` per test."""
    namespace = {name: vars(signal_tests.SignalTests)[name] for name in _SIGNALS}
    namespace.update(stack_kind=kind, __module__=__name__, __qualname__=label + "SignalTests",
                     __doc__="Signals in commit order, once each, against %s." % label.lower())
    return type(label + "SignalTests", (_FreshStackOfKind, signal_tests._RealStackTestCase), namespace)


ClusterSignalTests = _signal_tests("cluster", "Cluster")
TlsSignalTests = _signal_tests("tls", "Tls")


class ClusterConformanceTests(conformance_tests._Expectations, TestCase):
    """The wire expectations of ovsdb-server, against the leader of a three-member cluster."""

    def start_server(self, directory):
        require_programs("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovs-appctl")
        self.cluster = sandbox.OvsdbCluster(directory)
        self.addCleanup(self.cluster.stop)
        self.cluster.start()   # also "ovs-vsctl init"
        return str(sandbox.wait_until(self.cluster.leader, 20, "a leader").socket_path)

    # A cluster member answers these two differently from a standalone server (whose expectations
    # the base class holds): ovsdbus relies on exactly these differences.

    @defer.inlineCallbacks
    def test_server_database(self):
        """_Server says the Open_vSwitch database is clustered, with its cluster and server ids and the
        Raft index of the newest applied entry, connected and (here) leader; _Server stays standalone."""
        result = yield self.client.request("transact", ["_Server", {
            "op": "select", "table": "Database", "where": [],
            "columns": ["name", "model", "connected", "leader", "cid", "sid", "index"]}])
        rows = {r["name"]: r for r in result[0]["rows"]}
        self.assertEqual(sorted(rows), ["Open_vSwitch", "_Server"])
        clustered = rows["Open_vSwitch"]
        self.assertEqual((clustered["model"], clustered["connected"], clustered["leader"]), ("clustered", True, True))
        self.assertEqual((clustered["cid"][0], clustered["sid"][0]), ("uuid", "uuid"))
        self.assertIsInstance(clustered["index"], int)
        self.assertGreater(clustered["index"], 0)
        self.assertEqual(rows["_Server"]["model"], "standalone")

    @defer.inlineCallbacks
    def test_update3_and_monitor_cond_since_reply(self):
        """monitor_cond_since on a cluster member: an unknown id gives [false, the newest transaction id,
        initial]; each update3 carries its transaction's id; a monitor resumed from a known id is
        [true, that id, nothing]: the member keeps history, so a failover need not resend everything."""
        yield self.client.transact(*add_bridge_operations("br0"))
        tables = {"Bridge": [{"columns": ["name"]}], "Port": [{"columns": ["name"]}]}
        found, last, initial = yield self.client.request("monitor_cond_since", [
            "Open_vSwitch", ["m", 3], tables, "11111111-2222-3333-4444-555555555555"])
        self.assertIs(found, False)
        self.assertNotEqual(last, ZERO_UUID)
        self.assertEqual([list(r.values()) for _, r in sorted(initial.items())],
                         [[{"initial": {"name": "br0"}}], [{"initial": {"name": "br0"}}]])
        result = yield self.client.transact(*add_bridge_operations("br1"))
        self.assertEqual(self.client.received[-2]["method"], "update3")
        [(method, params)] = self.client.notifications
        self.assertEqual(params[0], ["m", 3])
        self.assertNotIn(params[1], (ZERO_UUID, last))
        self.assertEqual(params[2], {"Bridge": {result[2]["uuid"][1]: {"insert": {"name": "br1"}}},
                                     "Port": {result[1]["uuid"][1]: {"insert": {"name": "br1"}}}})
        resumed = yield self.client.request("monitor_cond_since", ["Open_vSwitch", ["m", 4], tables, params[1]])
        self.assertEqual(resumed, [True, params[1], {}])
