"""Hundreds of writes in flight at once (they share OVSDB transactions): each caller still gets
the answer of its own call, and the database holds exactly what was acknowledged."""

from twisted.internet import defer
from twisted.trial.unittest import TestCase
from txdbus.error import RemoteError

from tests.realstack import call, poll_until
from tests.test_service import _StackTests

ERROR = "org.openvswitch.ovsdb.Error."


def _outcome(d):
    """A Deferred of ``"ok"`` or the D-Bus error name the call ended with."""
    d.addCallback(lambda _: "ok")
    d.addErrback(lambda f: f.value.errName if f.check(RemoteError) else repr(f.value))
    return d


class ConcurrentWriteTests(_StackTests, TestCase):
    """Many AddPort and DeletePort calls sent without waiting for the answers."""

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.stack.vsctl("add-br", "br0", "--", "add-br", "br1")
        yield self.until_bridges(["br0", "br1"])

    def ports(self, bridge):
        """The ports of ``bridge`` as ovs-vsctl sees them."""
        return set(self.stack.vsctl("list-ports", bridge).split())

    @defer.inlineCallbacks
    def test_many_adds_in_flight_each_get_their_own_answer(self):
        """300 AddPort sent at once, among them 20 names asked twice, 10 to a missing bridge and 10
        bad names: every name asked twice is made once (one ok, one AlreadyExists), the missing
        bridge is NotFound, the bad names InvalidArgs, and ovs-vsctl shows exactly the ports
        acknowledged."""
        requests = [("br0" if i % 2 else "br1", "q%d" % i) for i in range(250)]
        requests += [("br0", "q%d" % i) for i in range(1, 41, 2)]          # asked again
        requests += [("nobr", "z%d" % i) for i in range(10)]               # no such bridge
        requests += [("br0", "bad/%d" % i) for i in range(10)]             # not a device name
        outcomes = yield defer.gatherResults(
            [_outcome(call(self.client, "AddPort", "ss", bridge, port)) for bridge, port in requests])
        by_request = list(zip(requests, outcomes, strict=True))
        acknowledged = {}
        for (bridge, port), outcome in by_request:
            if outcome == "ok":
                self.assertNotIn(port, acknowledged, "%s acknowledged twice" % port)
                acknowledged[port] = bridge
        for i in range(1, 41, 2):
            answers = sorted(o for (b, p), o in by_request if p == "q%d" % i)
            self.assertEqual(answers, ["ok", ERROR + "AlreadyExists"], "q%d" % i)
        self.assertEqual({o for (b, p), o in by_request if b == "nobr"}, {ERROR + "NotFound"})
        self.assertEqual({o for (b, p), o in by_request if p.startswith("bad/")},
                         {"org.freedesktop.DBus.Error.InvalidArgs"})
        self.assertEqual(len(acknowledged), 250)
        self.assertEqual(self.ports("br0"), {p for p, b in acknowledged.items() if b == "br0"})
        self.assertEqual(self.ports("br1"), {p for p, b in acknowledged.items() if b == "br1"})

    @defer.inlineCallbacks
    def test_adds_and_deletes_in_flight(self):
        """With 100 ports in place, deleting them and adding 100 others, all at once, leaves exactly
        the new ones, and a second delete of a port in flight is NotFound."""
        self.stack.vsctl(*[a for i in range(100) for a in ("--", "add-port", "br0", "old%d" % i)])
        yield self.until_ports("br0", 100)
        calls = [call(self.client, "DeletePort", "ss", "br0", "old%d" % i) for i in range(100)]
        calls += [call(self.client, "AddPort", "ss", "br0", "new%d" % i) for i in range(100)]
        yield defer.gatherResults(calls)
        self.assertEqual(self.ports("br0"), {"new%d" % i for i in range(100)})
        outcome = yield _outcome(call(self.client, "DeletePort", "ss", "br0", "old7"))
        self.assertEqual(outcome, ERROR + "NotFound")

    def until_ports(self, bridge, n):
        """Wait until the service lists ``n`` ports on ``bridge``."""
        def check():
            return call(self.client, "ListBridgePorts", "s", bridge).addCallback(lambda ports: len(ports) == n)
        return poll_until(check, what="%d ports on %s" % (n, bridge))
