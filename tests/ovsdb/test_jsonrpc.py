"""Tests for ovsdbus.ovsdb.jsonrpc: OVSDB's JSON-RPC 1.0 over one connection.

The peer is played by the test through ``StringTransport``; time is a ``task.Clock``.
"""

import ujson
from twisted.internet import defer, task
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.errors import Disconnected, RpcError, Timeout
from ovsdbus.ovsdb.framing import JSONValueSplitter
from ovsdbus.ovsdb.jsonrpc import JsonRpcProtocol

REQUEST_KEYS = {"method", "params", "id"}
REPLY_KEYS = {"id", "result", "error"}


class Peer:
    """The far end of the connection: reads what the protocol sent, sends it messages."""

    def __init__(self, protocol, transport):
        self.protocol = protocol
        self.transport = transport
        self._splitter = JSONValueSplitter()

    def received(self):
        """The messages sent to the peer since the last call."""
        data = self.transport.value()
        self.transport.clear()
        return [ujson.loads(t) for t in self._splitter.feed(data)]

    def send(self, message):
        self.protocol.dataReceived(ujson.dumps(message).encode("utf-8"))

    def reply(self, msg_id, result=None, error=None):
        self.send({"id": msg_id, "result": result, "error": error})


class RecordingProtocol(JsonRpcProtocol):
    """Records what reaches the layer above JSON-RPC."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests = []
        self.notifications = []

    def request_received(self, method, params):
        self.requests.append((method, params))
        if method == "add":
            return sum(params)
        if method == "later":
            self.later = defer.Deferred()
            return self.later
        return super().request_received(method, params)

    def notification_received(self, method, params):
        self.notifications.append((method, params))


class JsonRpcTestCase(TestCase):
    """Sets up a connected protocol; checks at the end that no timer is left behind."""

    request_timeout = None
    probe_interval = None

    def setUp(self):
        self.clock = task.Clock()
        self.protocol = RecordingProtocol(self.clock, request_timeout=self.request_timeout,
                                          probe_interval=self.probe_interval)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.peer = Peer(self.protocol, self.transport)
        self.addCleanup(self._no_timers_left)

    def _no_timers_left(self):
        if self.protocol.connected:
            self.lose_connection()
        self.assertEqual(self.clock.getDelayedCalls(), [], "timers left after the connection closed")

    def lose_connection(self):
        self.protocol.connectionLost(Failure(ConnectionDone()))

    def assertWellFormed(self, messages):
        """Every message is a JSON-RPC 1.0 request or reply, with no "jsonrpc" member."""
        for m in messages:
            self.assertNotIn("jsonrpc", m)
            self.assertIn(set(m), (REQUEST_KEYS, REPLY_KEYS), m)
            if "method" in m:
                self.assertIsInstance(m["params"], list)


class RequestTests(JsonRpcTestCase):
    """Requests go out with fresh ids and their replies come back to the right caller."""

    def test_request_shape(self):
        """A request is {method, params, id}: no "jsonrpc" member, which ovsdb-server would refuse."""
        d = self.protocol.request("list_dbs", [])
        sent = self.peer.received()
        self.assertEqual(len(sent), 1)
        self.assertWellFormed(sent)
        self.assertEqual(sent[0]["method"], "list_dbs")
        self.assertEqual(sent[0]["params"], [])
        self.assertIsNotNone(sent[0]["id"])
        self.peer.reply(sent[0]["id"], ["Open_vSwitch"])
        self.assertEqual(self.successResultOf(d), ["Open_vSwitch"])

    def test_ids_increase(self):
        """Each request on a connection gets a new, larger id."""
        ds = [self.protocol.request("echo", [i]) for i in range(5)]
        ids = [m["id"] for m in self.peer.received()]
        self.assertEqual(len(ids), 5)
        self.assertEqual(ids, sorted(set(ids)))
        for i, msg_id in enumerate(ids):
            self.peer.reply(msg_id, [i])
        self.assertEqual([self.successResultOf(d) for d in ds], [[i] for i in range(5)])

    def test_replies_out_of_order(self):
        """Replies arriving in any order reach the request they answer."""
        ds = {name: self.protocol.request(name, []) for name in ("a", "b", "c")}
        ids = {m["method"]: m["id"] for m in self.peer.received()}
        self.peer.reply(ids["c"], "C")
        self.assertNoResult(ds["a"])
        self.assertNoResult(ds["b"])
        self.peer.reply(ids["a"], "A")
        self.assertNoResult(ds["b"])
        self.peer.reply(ids["b"], "B")
        self.assertEqual({n: self.successResultOf(d) for n, d in ds.items()}, {"a": "A", "b": "B", "c": "C"})
        self.assertEqual(self.protocol.outstanding, 0)

    def test_replies_in_one_chunk(self):
        """Several replies arriving in one read each complete their request."""
        d1 = self.protocol.request("a", [])
        d2 = self.protocol.request("b", [])
        id1, id2 = [m["id"] for m in self.peer.received()]
        self.protocol.dataReceived(ujson.dumps({"id": id2, "result": 2, "error": None}).encode()
                                   + ujson.dumps({"id": id1, "result": 1, "error": None}).encode())
        self.assertEqual((self.successResultOf(d1), self.successResultOf(d2)), (1, 2))

    def test_null_error_is_success(self):
        """A reply with "error": null succeeds, even when the result itself is null or falsy."""
        for result in [None, [], {}, 0, False, ""]:
            d = self.protocol.request("m", [])
            (sent,) = self.peer.received()
            self.peer.reply(sent["id"], result, None)
            self.assertEqual(self.successResultOf(d), result)

    def test_string_error(self):
        """A bare string error ("unknown method") fails the request with RpcError of that kind."""
        d = self.protocol.request("frobnicate", [])
        (sent,) = self.peer.received()
        self.peer.reply(sent["id"], None, "unknown method")
        error = self.failureResultOf(d, RpcError).value
        self.assertEqual(error.kind, "unknown method")
        self.assertIsNone(error.details)
        self.assertEqual(error.error, "unknown method")

    def test_object_error(self):
        """An error object gives RpcError with its "error" as kind and its "details"."""
        d = self.protocol.request("transact", ["Nope"])
        (sent,) = self.peer.received()
        err = {"error": "unknown database", "details": "Nope is not a valid database name"}
        self.peer.reply(sent["id"], None, err)
        error = self.failureResultOf(d, RpcError).value
        self.assertEqual(error.kind, "unknown database")
        self.assertEqual(error.details, "Nope is not a valid database name")
        self.assertIn("Nope is not a valid database name", str(error))

    def test_notify(self):
        """A notification goes out with "id": null and expects no reply."""
        self.protocol.notify("hello", [1])
        sent = self.peer.received()
        self.assertWellFormed(sent)
        self.assertEqual(sent, [{"method": "hello", "params": [1], "id": None}])
        self.assertEqual(self.protocol.outstanding, 0)


class PeerRequestTests(JsonRpcTestCase):
    """Requests and notifications the peer sends us."""

    def test_echo_answered(self):
        """An echo from the server is answered with the same params (else it drops us) and
        does not reach the layer above."""
        self.peer.send({"method": "echo", "params": ["x", 1, {"a": []}], "id": "echo-7"})
        sent = self.peer.received()
        self.assertWellFormed(sent)
        self.assertEqual(sent, [{"id": "echo-7", "result": ["x", 1, {"a": []}], "error": None}])
        self.assertEqual(self.protocol.requests, [])
        self.assertEqual(self.protocol.notifications, [])

    def test_echo_with_empty_params(self):
        """ovsdb-server's own probe, an echo with no params, gets an empty result."""
        self.peer.send({"method": "echo", "params": [], "id": 0})
        self.assertEqual(self.peer.received(), [{"id": 0, "result": [], "error": None}])
        self.assertEqual(self.protocol.requests, [])

    def test_notification_delivered(self):
        """A notification ("id": null) reaches notification_received and is not answered."""
        self.peer.send({"method": "update2", "params": ["m", {}], "id": None})
        self.assertEqual(self.protocol.notifications, [("update2", ["m", {}])])
        self.assertEqual(self.peer.received(), [])

    def test_request_served(self):
        """A peer's request is answered with request_received's result."""
        self.peer.send({"method": "add", "params": [1, 2, 3], "id": 9})
        self.assertEqual(self.peer.received(), [{"id": 9, "result": 6, "error": None}])

    def test_request_served_later(self):
        """A request answered by a Deferred gets its reply when that fires."""
        self.peer.send({"method": "later", "params": [], "id": 10})
        self.assertEqual(self.peer.received(), [])
        self.protocol.later.callback("done")
        self.assertEqual(self.peer.received(), [{"id": 10, "result": "done", "error": None}])

    def test_unknown_request_answered_with_error(self):
        """A method we do not serve is answered "unknown method", not left hanging."""
        self.peer.send({"method": "lock", "params": ["x"], "id": 11})
        sent = self.peer.received()
        self.assertWellFormed(sent)
        self.assertEqual(sent, [{"id": 11, "result": None, "error": "unknown method"}])

    def test_non_object_message(self):
        """A message that is not a JSON object closes the connection."""
        self.peer.send([1, 2, 3])
        self.assertTrue(self.transport.disconnecting)

    def test_neither_request_nor_reply(self):
        """An object without method, result or error closes the connection."""
        self.peer.send({"id": 1})
        self.assertTrue(self.transport.disconnecting)

    def test_request_params_not_array(self):
        """A request whose params is not an array closes the connection."""
        self.peer.send({"method": "echo", "params": {"a": 1}, "id": 1})
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.peer.received(), [])


class DisconnectTests(JsonRpcTestCase):
    """Requests never hang because the connection went away."""

    request_timeout = 30

    def test_loss_fails_outstanding(self):
        """When the connection drops, every waiting request fails with Disconnected."""
        ds = [self.protocol.request("m%d" % i, []) for i in range(3)]
        self.lose_connection()
        for d in ds:
            self.failureResultOf(d, Disconnected)
        self.assertEqual(self.protocol.outstanding, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_request_while_disconnected(self):
        """A request on a closed connection fails at once and sends nothing."""
        self.lose_connection()
        self.transport.clear()
        d = self.protocol.request("m", [])
        self.failureResultOf(d, Disconnected)
        self.assertEqual(self.transport.value(), b"")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_request_before_connection(self):
        """A request before the connection is made fails at once with Disconnected."""
        protocol = JsonRpcProtocol(self.clock)
        self.failureResultOf(protocol.request("m", []), Disconnected)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_on_disconnect_fires(self):
        """on_disconnect fires once the connection is gone, with no request outstanding any more, and
        before the requests fail: whoever hears Disconnected finds the connection already known down."""
        events = []
        d = self.protocol.request("m", [])
        d.addErrback(lambda f: events.append(f.type))
        self.protocol.on_disconnect.addCallback(lambda _: events.append(("down", self.protocol.outstanding)))
        self.lose_connection()
        self.assertEqual(events, [("down", 0), Disconnected])

    def test_new_request_from_errback_fails(self):
        """Code that retries from its Disconnected errback gets Disconnected at once, not a hang."""
        retried = []
        d = self.protocol.request("m", [])
        d.addErrback(lambda f: retried.append(self.protocol.request("m", [])))
        self.lose_connection()
        self.assertEqual(len(retried), 1)
        self.failureResultOf(retried[0], Disconnected)


class TimeoutTests(JsonRpcTestCase):
    """Requests that get no reply fail with Timeout."""

    request_timeout = 10

    def test_default_timeout(self):
        """Without a reply within the protocol's request_timeout, the request fails with Timeout."""
        d = self.protocol.request("m", [])
        self.clock.advance(9.9)
        self.assertNoResult(d)
        self.clock.advance(0.1)
        self.failureResultOf(d, Timeout)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_per_request_timeout(self):
        """A per-request timeout overrides the default."""
        d = self.protocol.request("m", [], timeout=2)
        self.clock.advance(2)
        self.failureResultOf(d, Timeout)

    def test_timeout_drops_the_connection_first(self):
        """A timeout means the server is unresponsive: the connection is given up (transport aborted,
        ``connected`` false, on_disconnect fired) before the caller hears Timeout, so whoever reacts
        to the Timeout already sees the connection down."""
        events = []
        d = self.protocol.request("transact", [], timeout=1)
        self.protocol.on_disconnect.addCallback(lambda _: events.append(("disconnect", self.protocol.connected)))
        d.addErrback(lambda f: events.append((f.type.__name__, self.protocol.connected)))
        self.clock.advance(1)
        self.assertEqual(events, [("disconnect", False), ("Timeout", False)])
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_late_reply_is_not_taken(self):
        """A reply arriving after the timeout (already on its way) is not read: nothing is answered,
        and the caller's Timeout stays the only outcome."""
        d = self.protocol.request("m", [], timeout=1)
        (sent,) = self.peer.received()
        self.clock.advance(1)
        self.failureResultOf(d, Timeout)
        self.peer.reply(sent["id"], "late")
        self.peer.send({"method": "echo", "params": [], "id": "server-probe"})
        self.assertEqual(self.peer.received(), [])
        self.assertEqual(self.protocol.outstanding, 0)

    def test_requests_after_a_timeout_fail_at_once(self):
        """Once a request timed out, new requests (even from the Timeout errback) fail with
        Disconnected at once and send nothing: they would go to the unresponsive server."""
        retried = []
        d = self.protocol.request("m", [], timeout=1)
        d.addErrback(lambda f: retried.append(self.protocol.request("again", [])))
        self.peer.received()
        self.clock.advance(1)
        self.failureResultOf(retried[0], Disconnected)
        self.failureResultOf(self.protocol.request("later", []), Disconnected)
        self.assertEqual(self.peer.received(), [])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_reply_cancels_timer(self):
        """A request answered in time leaves no timer behind."""
        results = []
        self.protocol.request("m", []).addBoth(results.append)
        (sent,) = self.peer.received()
        self.clock.advance(5)
        self.peer.reply(sent["id"], "ok")
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(100)
        self.assertEqual(results, ["ok"])

    def test_error_reply_cancels_timer(self):
        """A request answered with an error leaves no timer behind."""
        d = self.protocol.request("m", [])
        (sent,) = self.peer.received()
        self.peer.reply(sent["id"], None, "canceled")
        self.failureResultOf(d, RpcError)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timeout_fails_the_other_requests_with_disconnected(self):
        """When one request times out, the others still waiting on the connection fail at that moment
        with Disconnected (their outcome is as unknown), not after their own, longer deadline."""
        short = self.protocol.request("short", [], timeout=1)
        long_ = self.protocol.request("long", [], timeout=5)
        self.clock.advance(1)
        self.failureResultOf(short, Timeout)
        error = self.failureResultOf(long_, Disconnected).value
        self.assertIn("short got no reply within 1s", str(error))
        self.assertEqual(self.protocol.outstanding, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class NoTimeoutTests(JsonRpcTestCase):
    """With no request timeout, a request waits as long as the connection lives."""

    def test_waits_forever(self):
        """No timeout means no timer and no failure, however long the server takes."""
        d = self.protocol.request("m", [])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(10 ** 6)
        self.assertNoResult(d)
        (sent,) = self.peer.received()
        self.peer.reply(sent["id"], 1)
        self.assertEqual(self.successResultOf(d), 1)


class ProbeTests(JsonRpcTestCase):
    """The inactivity probe: silence -> echo; more silence -> disconnect."""

    probe_interval = 5

    def probes(self):
        return [m for m in self.peer.received() if m.get("method") == "echo"]

    def test_silence_sends_echo(self):
        """After probe_interval seconds of silence the client sends an echo."""
        self.clock.advance(4.9)
        self.assertEqual(self.peer.received(), [])
        self.clock.advance(0.1)
        sent = self.peer.received()
        self.assertWellFormed(sent)
        self.assertEqual([m["method"] for m in sent], ["echo"])
        self.assertIsNotNone(sent[0]["id"])
        self.assertFalse(self.transport.disconnecting)

    def test_continued_silence_disconnects(self):
        """If the peer does not answer the echo within another interval, the connection is dropped."""
        self.clock.advance(5)
        self.clock.advance(4.9)
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(self.transport.disconnecting)
        self.lose_connection()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_unanswered_probe_fails_requests_at_once(self):
        """When the probe gives up on a silent peer, waiting requests fail with Disconnected at that
        moment, not when the transport has finished closing."""
        d = self.protocol.request("m", [])
        self.clock.advance(5)
        self.assertNoResult(d)
        self.clock.advance(5)
        self.assertTrue(self.transport.disconnecting)
        self.assertFalse(self.protocol.connected)
        self.failureResultOf(d, Disconnected)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_probe_replies_answered_out_of_order(self):
        """Replies to several echo probes are all taken, in any order, while data keeps the
        connection alive; a second reply to the same probe is a protocol error."""
        ids = []
        for _ in range(3):
            self.clock.advance(5)
            (probe,) = self.probes()
            ids.append(probe["id"])
            self.peer.send({"method": "update2", "params": ["m", {}], "id": None})
        for probe_id in reversed(ids):
            self.peer.reply(probe_id, [])
        self.assertFalse(self.transport.disconnecting)
        self.peer.reply(ids[0], [])
        self.assertTrue(self.transport.disconnecting)

    def test_peer_that_never_answers_probes_is_dropped(self):
        """A peer that keeps sending other messages but never answers an echo probe is dropped after
        MAX_UNANSWERED_PROBES probes (its unanswered ids are not kept forever)."""
        limit = self.protocol.MAX_UNANSWERED_PROBES
        for _ in range(limit):
            self.clock.advance(5)
            self.peer.send({"method": "update2", "params": ["m", {}], "id": None})
        self.assertEqual(len(self.probes()), limit)
        self.assertFalse(self.transport.disconnecting)
        self.clock.advance(5)
        self.assertEqual(self.probes(), [])
        self.assertTrue(self.transport.disconnecting)

    def test_echo_reply_keeps_connection(self):
        """A peer that answers the probes keeps the connection for as long as it likes."""
        for _ in range(10):
            self.clock.advance(5)
            (probe,) = self.probes()
            self.clock.advance(1)
            self.peer.reply(probe["id"], probe["params"])
        self.assertFalse(self.transport.disconnecting)

    def test_received_message_resets_probe(self):
        """Any message from the peer counts as life: the probe is pushed back."""
        self.clock.advance(4)
        self.peer.send({"method": "update2", "params": ["m", {}], "id": None})
        self.clock.advance(4.9)
        self.assertEqual(self.probes(), [])
        self.clock.advance(0.1)
        self.assertEqual(len(self.probes()), 1)

    def test_message_after_probe_cancels_disconnect(self):
        """A message arriving after the echo was sent (not necessarily its reply) keeps the connection."""
        self.clock.advance(5)
        self.assertEqual(len(self.probes()), 1)
        self.clock.advance(4)
        self.peer.send({"method": "echo", "params": [], "id": "server-probe"})
        self.clock.advance(4.9)
        self.assertFalse(self.transport.disconnecting)

    def test_partial_data_resets_probe(self):
        """Bytes of a large message still arriving count as life: a slow initial monitor reply
        is not mistaken for a dead server."""
        self.clock.advance(4)
        self.protocol.dataReceived(b'{"method": "update2", "params": ["m", {"Bridge": ')
        self.clock.advance(4)
        self.assertEqual(self.probes(), [])
        self.protocol.dataReceived(b'{}}], "id": null}')
        self.assertEqual(self.protocol.notifications, [("update2", ["m", {"Bridge": {}}])])

    def test_partial_data_after_probe_keeps_connection(self):
        """Bytes arriving after an echo was sent keep the connection, even before a message completes."""
        self.clock.advance(5)
        self.assertEqual(len(self.probes()), 1)
        self.protocol.dataReceived(b'{"method": "update2", "params": ["m", {"pad": "')
        for _ in range(10):
            self.clock.advance(4)
            self.protocol.dataReceived(b"x" * 100)
            self.assertFalse(self.transport.disconnecting)
        self.protocol.dataReceived(b'"}], "id": null}')
        self.assertEqual(self.protocol.notifications, [("update2", ["m", {"pad": "x" * 1000}])])

    def test_probe_reply_does_not_answer_requests(self):
        """The reply to our own echo probe is not mistaken for the reply to a caller's request."""
        d = self.protocol.request("slow", [])
        (request,) = self.peer.received()
        self.clock.advance(5)
        (probe,) = self.probes()
        self.assertNotEqual(probe["id"], request["id"])
        self.peer.reply(probe["id"], [])
        self.assertNoResult(d)
        self.peer.reply(request["id"], "ok")
        self.assertEqual(self.successResultOf(d), "ok")

    def test_connection_loss_stops_probe(self):
        """After the connection is gone nothing more is sent and no timer remains."""
        self.clock.advance(3)
        self.lose_connection()
        self.transport.clear()
        self.clock.advance(100)
        self.assertEqual(self.transport.value(), b"")
        self.assertEqual(self.clock.getDelayedCalls(), [])


class NoProbeTests(JsonRpcTestCase):
    """Without probe_interval (unix sockets) nothing is ever sent unasked."""

    def test_no_echo_ever(self):
        """Hours of silence send no echo, keep the connection and arm no timer."""
        self.assertEqual(self.clock.getDelayedCalls(), [])
        for _ in range(10):
            self.clock.advance(3600)
        self.assertEqual(self.transport.value(), b"")
        self.assertFalse(self.transport.disconnecting)
        self.peer.send({"method": "update2", "params": ["m", {}], "id": None})
        self.assertEqual(self.clock.getDelayedCalls(), [])


class RobustnessTests(TestCase):
    """What a bad request or a bad reply does to the connection."""

    def setUp(self):
        self.clock = task.Clock()
        self.protocol = JsonRpcProtocol(self.clock, request_timeout=5)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def test_unencodable_request_fails_at_once(self):
        """A request that cannot be encoded fails at once and leaves no timer or pending entry behind."""
        self.failureResultOf(self.protocol.request("echo", ["\ud800"]))
        self.assertEqual(self.protocol.outstanding, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_reply_with_a_strange_id_is_a_protocol_error(self):
        """A reply whose id is not a number or string closes the connection instead of crashing."""
        d = self.protocol.request("echo", [])
        self.protocol.dataReceived(b'{"id": [1], "result": [], "error": null}')
        self.assertTrue(self.transport.disconnecting)
        self.protocol.connectionLost(None)
        self.failureResultOf(d)


class ReplyIdTests(JsonRpcTestCase):
    """A reply must answer a request that was sent and is still waiting; any other id is a logged
    protocol error that drops the connection (ovsdbus then reconnects and resyncs)."""

    request_timeout = 30

    def setUp(self):
        super().setUp()
        self.events = []
        self.protocol.log = Logger(observer=self.events.append)
        self.waiting = self.protocol.request("transact", [])
        (self.sent,) = self.peer.received()

    def assertDroppedFor(self, reply_id, reason):
        """The reply with ``reply_id`` dropped the connection at once, failed the waiting request with
        Disconnected, and logged an error naming ``reason``."""
        self.peer.send({"id": reply_id, "result": ["bogus"], "error": None})
        self.assertTrue(self.transport.disconnecting)
        self.assertFalse(self.protocol.connected)
        self.failureResultOf(self.waiting, Disconnected)
        errors = [formatEvent(e) for e in self.events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1, errors)
        self.assertIn(reason, errors[0])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_unknown_id(self):
        """A reply to a positive id never sent (the next one, or far beyond) is a protocol error."""
        self.assertDroppedFor(self.sent["id"] + 1, "reply to id %d, which was never sent" % (self.sent["id"] + 1))

    def test_negative_id(self):
        """A reply to a negative id (ids sent start at 1) is a protocol error."""
        self.assertDroppedFor(-1, "reply to id -1, which was never sent")

    def test_zero_id(self):
        """A reply to id 0 (never sent: ids start at 1) is a protocol error."""
        self.assertDroppedFor(0, "reply to id 0, which was never sent")

    def test_huge_id(self):
        """A reply to an id beyond 64 bits is a protocol error."""
        self.assertDroppedFor(2 ** 70, "reply to id %d, which was never sent" % 2 ** 70)

    def test_float_id(self):
        """A reply whose id is a float, even one equal to the id sent, is a protocol error: only the
        integer sent is the same id."""
        self.assertDroppedFor(float(self.sent["id"]), "reply with id %s, which was never sent"
                              % ujson.dumps(float(self.sent["id"])))

    def test_string_id(self):
        """A reply whose id is a string, even the digits of the id sent, is a protocol error."""
        self.assertDroppedFor(str(self.sent["id"]), 'reply with id "%d", which was never sent' % self.sent["id"])

    def test_long_string_id_is_cut_in_the_log(self):
        """A reply with a long string id is a protocol error whose log line shows only its start."""
        self.assertDroppedFor("x" * 10000, 'reply with id "xxxxx')
        self.assertNotIn("x" * 100, formatEvent(self.events[-1]))

    def test_boolean_id(self):
        """A reply with id true (which Python would take for 1) is a protocol error."""
        self.assertDroppedFor(True, "reply with id true, which was never sent")

    def test_null_id(self):
        """A reply with id null (the id of a notification, which gets no reply) is a protocol error."""
        self.assertDroppedFor(None, "reply with id null, which was never sent")

    def test_already_answered_id(self):
        """A second reply to a request already answered is a protocol error: the peer has lost
        track of the conversation, so no later reply can be trusted to be matched right."""
        self.peer.reply(self.sent["id"], "first")
        self.assertEqual(self.successResultOf(self.waiting), "first")
        self.waiting = self.protocol.request("transact", [])
        self.peer.received()
        self.assertDroppedFor(self.sent["id"], "reply to id %d, which was already answered" % self.sent["id"])

    def test_good_reply_in_the_same_chunk_after_a_bad_one_is_not_taken(self):
        """Messages after the bad reply, even in the same read, are not taken."""
        good = self.protocol.request("m", [])
        (sent,) = self.peer.received()
        self.protocol.dataReceived(ujson.dumps({"id": "bogus", "result": 1, "error": None}).encode()
                                   + ujson.dumps({"id": sent["id"], "result": 2, "error": None}).encode())
        self.failureResultOf(good, Disconnected)
        self.failureResultOf(self.waiting, Disconnected)
