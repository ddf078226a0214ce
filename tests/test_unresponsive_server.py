"""End to end: what a caller can rely on when ovsdb-server stops answering.

A real ovsdb-server is frozen with SIGSTOP (its socket stays open and the kernel keeps taking
bytes and connections for it, but nothing is answered) under ``twistd -n ovsdbus --timeout 1``
on a private bus.  A txdbus client makes writes, listens to the service's signals and its
``Connected`` property, and the database is checked with ``ovs-vsctl``.  The README ("If
ovsdb-server stops answering") promises what these tests check.

Without Open vSwitch and dbus-daemon installed these tests are skipped, and fail instead when
``CI`` is set.
"""

import os
import signal
import time

from twisted.internet import defer
from twisted.trial.unittest import TestCase
from txdbus.error import RemoteError

from tests import realstack
from tests.realstack import ERROR, INTERFACE, OBJECT_PATH, PROPERTIES, call, get_property, poll_until

TIMEOUT = ERROR + "Timeout"
DISCONNECTED = ERROR + "Disconnected"


def _continue(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


class FrozenServerTests(TestCase):
    """Writes to an ovsdb-server that stopped answering, and what follows once it answers again."""

    REQUEST_TIMEOUT = 1.0     # the service's --timeout
    ANSWER_WITHIN = 4.0       # every write in flight is answered within --timeout and a little
    RECONNECT_WITHIN = 20.0   # backoff starts at 0.5 s and doubles to 8 s

    @defer.inlineCallbacks
    def setUp(self):
        self.stack = realstack.RealStack(("--timeout", "%g" % self.REQUEST_TIMEOUT))
        self.addCleanup(self.stack.stop)
        self.stack.start()
        self.client = yield realstack.connect(self, self.stack.bus_address)
        #: What the client saw, in order: ("answer", outcome), (signal, *args), ("Connected", bool).
        self.events = []
        yield self.client.addMatch(self._signal_received, mtype="signal", path=OBJECT_PATH)
        yield poll_until(self.connected, 10, what="the service to connect")

    def _signal_received(self, message):
        if message.interface == INTERFACE:
            self.events.append((message.member, *message.body))
        elif message.interface == PROPERTIES and message.member == "PropertiesChanged":
            interface, changed = message.body[0], message.body[1]
            if interface == INTERFACE and "Connected" in changed:
                self.events.append(("Connected", changed["Connected"]))

    def connected(self):
        return get_property(self.client, "Connected")

    def answer(self, method, signature, *args):
        """Call ``method``; a Deferred of ``"ok"`` or the D-Bus error name, also noted in ``events``."""
        def ok(_):
            self.events.append(("answer", "ok"))
            return "ok"

        def failed(failure):
            failure.trap(RemoteError)
            self.events.append(("answer", failure.value.errName))
            return failure.value.errName

        return call(self.client, method, signature, *args).addCallbacks(ok, failed)

    def saw(self, event, what=None):
        return poll_until(lambda: event in self.events, 10, what=what or repr(event))

    def log_since(self, position):
        with open(os.path.join(self.stack.directory, "service.log"), encoding="utf-8", errors="replace") as log:
            log.seek(position)
            return log.read()

    @defer.inlineCallbacks
    def test_timed_out_writes_show_up_after_the_resync(self):
        """Writes to a frozen ovsdb-server: the first to reach --timeout answers Timeout and the others in
        flight Disconnected, all within about a second; Connected turns false before the Timeout answer
        arrives, and reads answer Disconnected.  While the server stays frozen the service tries again
        but never says Connected.  Once the server runs again it may still commit writes it had been
        sent (nothing can cancel them; it does commit the one that timed out): when Connected is true
        again, reads agree with ``ovs-vsctl``, and a subscriber got each late change that was
        committed exactly once, as ordinary signals, before Connected turned true, and nothing for
        the writes that were not."""
        yield self.answer("CreateBridge", "s", "br0")
        yield self.saw(("BridgeAdded", "br0"))
        pid = self.stack.ovsdb.pid
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(_continue, pid)

        started = time.monotonic()
        writes = [("CreateBridge", "s", "br1"), ("CreateBridge", "s", "br2"), ("AddPort", "ss", "br0", "p1")]
        answers = yield defer.gatherResults([self.answer(*write) for write in writes])
        self.assertLess(time.monotonic() - started, self.ANSWER_WITHIN)
        self.assertEqual(sorted(answers), [DISCONNECTED, DISCONNECTED, TIMEOUT])
        timed_out = writes[answers.index(TIMEOUT)][-1]
        frozen = self.events.index(("Connected", False))
        self.assertLess(frozen, self.events.index(("answer", TIMEOUT)))
        self.assertIs((yield self.connected()), False)
        self.assertEqual((yield self.answer("ListBridges", "")), DISCONNECTED)

        # The service tries again; the frozen server takes the connection but answers nothing.
        position = self.stack.log_position()
        yield poll_until(lambda: "preparing the connection to ovsdb-server failed" in self.log_since(position),
                         15, what="a reconnection attempt to be given up")
        self.assertIs((yield self.connected()), False)

        _continue(pid)
        yield poll_until(self.connected, self.RECONNECT_WITHIN, what="the service to reconnect")
        bridges = self.stack.vsctl("list-br").split()
        ports = self.stack.vsctl("list-ports", "br0").split()
        self.assertEqual((yield call(self.client, "ListBridges")), bridges)
        self.assertEqual((yield call(self.client, "ListBridgePorts", "s", "br0")), ports)
        for name in ("br1", "br2"):
            self.assertIs((yield call(self.client, "BridgeExists", "s", name)), name in bridges)
        self.assertIn(timed_out, bridges + ports, "the write that timed out was committed later")

        # Everything emitted so far has reached the client once the marker's signal has.
        self.stack.vsctl("add-br", "zzmarker")
        yield self.saw(("BridgeAdded", "zzmarker"))
        after = self.events[frozen:]
        back = after.index(("Connected", True))
        late = {("BridgeAdded", "br1"): "br1" in bridges, ("BridgeAdded", "br2"): "br2" in bridges,
                ("PortAdded", "br0", "p1"): "p1" in ports, ("InterfaceAdded", "p1", "p1"): "p1" in ports}
        self.assertEqual({e: after.count(e) for e in late}, {e: int(done) for e, done in late.items()}, after)
        self.assertEqual([e for e in after[:back] if e in late], [e for e in after if e in late])
        self.assertEqual(after.count(("Connected", True)), 1)
        self.assertEqual((yield self.answer("CreateBridge", "s", "br3")), "ok")
        self.assertEqual(self.stack.tracebacks_since(), "")
