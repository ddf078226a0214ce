"""JSON-RPC 1.0 in OVSDB's shape (RFC 7047 section 4).

A request is ``{"method", "params", "id"}``, a notification the same with
``"id": null``, a reply ``{"id", "result", "error"}`` with ``"error": null`` on
success.  There is no ``"jsonrpc"`` member: ovsdb-server drops a connection that
sends one.

:class:`JsonRpcProtocol` owns the per-connection id counter and the outstanding
Deferreds (all failed with :class:`~ovsdbus.ovsdb.errors.Disconnected` when the
connection drops), answers ``echo`` requests itself, times requests out, and can
probe an idle connection with its own ``echo``.  It knows nothing of OVSDB's methods.

A request that gets no reply in time means the peer is unresponsive: the request
fails with :class:`~ovsdbus.ovsdb.errors.Timeout` and the connection is given up at once
(see :meth:`JsonRpcProtocol.drop`), so that nobody goes on using a connection on
which the peer may still act, much later, on what was sent.  JSON-RPC has no way to
cancel a request (and ovsdb-server none to cancel a ``transact``): what was sent may
still take effect.

Every reply must answer a request this side sent and that is still waiting: ids are
positive integers from a per-connection counter, each answered once.  A reply with
any other id (a string, a float, ``true``, a negative or unknown number, an id
answered before) is a protocol error that drops the connection: the peer has lost
track of the conversation, and no reply on it can be trusted to be matched right.
"""

import ujson
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from ovsdbus.ovsdb.errors import Disconnected, ProtocolError, RpcError, Timeout
from ovsdbus.ovsdb.framing import JSONStreamProtocol


class JsonRpcProtocol(JSONStreamProtocol):
    """JSON-RPC endpoint over one connection, usable as client and as server.

    :param clock: an ``IReactorTime`` for timeouts and probes.
    :param request_timeout: default seconds before a request fails with
        :class:`~ovsdbus.ovsdb.errors.Timeout`; ``None`` for no limit.
    :param probe_interval: seconds of silence from the peer after which an
        ``echo`` is sent; if the peer then stays silent for another interval the
        connection is dropped.  ``None`` disables probing (right for unix sockets,
        which ovsdb-server does not probe either).

    Subclasses override :meth:`request_received` (to serve methods other than
    ``echo``) and :meth:`notification_received`.

    :attr:`on_disconnect` fires (with ``None``) as soon as the connection is
    unusable: when it closed, or at the moment it is given up (:meth:`drop`, a
    protocol error), before the transport has finished closing.  It fires before
    the outstanding requests fail, and with none outstanding any more.
    """

    log = Logger()

    #: Echo probes the peer may leave unanswered (while sending other data) before it is dropped.
    MAX_UNANSWERED_PROBES = 100

    def __init__(self, clock, request_timeout=None, probe_interval=None):
        self.clock = clock
        self.request_timeout = request_timeout
        self.probe_interval = probe_interval
        self.connected = False
        self._outstanding = {}
        self._last_id = 0
        self._probe_ids = set()
        self._probe_call = None
        self._probe_pending = False
        self._given_up = False
        self.on_disconnect = defer.Deferred()

    # -- connection life -------------------------------------------------

    def connectionMade(self):
        super().connectionMade()
        self.connected = True
        self._arm_probe()

    def connectionLost(self, reason=None):
        self._give_up("connection to ovsdb-server lost")

    def disconnect(self):
        """Close the connection; outstanding requests fail with Disconnected once it has closed."""
        if self.transport is not None and not self._given_up:
            self.transport.loseConnection()

    def drop(self, why):
        """Give up on this connection now: the peer is unresponsive or broken.

        Everything that depends on the connection learns at once, not when the transport
        has finished closing: :attr:`connected` turns false, every outstanding request
        fails with :class:`~ovsdbus.ovsdb.errors.Disconnected` (saying ``why``),
        :attr:`on_disconnect` fires.  Then the transport is aborted: unsent bytes are
        discarded (a frozen peer may never read them) and nothing more is read.
        """
        if self._given_up:
            return
        self._broken = True   # the framing layer reads nothing more
        self._give_up("connection to ovsdb-server dropped: %s" % why)
        if self.transport is not None:
            abort = getattr(self.transport, "abortConnection", None) or self.transport.loseConnection
            abort()

    def protocol_error(self, error):
        """Log ``error`` and drop the connection (see :meth:`drop`); nothing more is read from it."""
        if self._given_up:
            return
        super().protocol_error(error)
        self._give_up("connection to ovsdb-server dropped after a protocol error: %s" % error)

    def _give_up(self, why):
        if self._given_up:
            return
        self._given_up = True
        self.connected = False
        if self._probe_call is not None and self._probe_call.active():
            self._probe_call.cancel()
        self._probe_call = None
        self._probe_ids.clear()
        outstanding, self._outstanding = self._outstanding, {}
        for _, timer in outstanding.values():
            if timer is not None and timer.active():
                timer.cancel()
        # Those who watch the connection hear first, so that a caller whose request fails
        # below already finds everything saying "disconnected".
        d, self.on_disconnect = self.on_disconnect, None
        if d is not None:
            d.callback(None)
        for d, _ in outstanding.values():
            d.errback(Failure(Disconnected(why)))

    # -- sending -----------------------------------------------------------

    def request(self, method, params, timeout=None):
        """Send a request; return a Deferred firing with its result.

        The Deferred fails with :class:`~ovsdbus.ovsdb.errors.RpcError` when the peer
        answers with an error, :class:`~ovsdbus.ovsdb.errors.Timeout` after ``timeout``
        (or the protocol's default) seconds, and
        :class:`~ovsdbus.ovsdb.errors.Disconnected` if the connection is or goes down.

        A timeout gives the whole connection up (:meth:`drop`) before the Deferred
        fails: a peer that leaves one request unanswered for that long is taken
        for unresponsive, and the other outstanding requests fail with Disconnected.
        The peer may still act on the request later; nothing can cancel it.
        """
        if not self.connected:
            return defer.fail(Disconnected("not connected to ovsdb-server"))
        request_id = self._last_id + 1
        try:
            self.send_value({"method": method, "params": params, "id": request_id})
        except (ValueError, TypeError, OverflowError) as e:   # not encodable: nothing was sent
            return defer.fail(e)
        self._last_id = request_id
        d = defer.Deferred()
        if timeout is None:
            timeout = self.request_timeout
        timer = None
        if timeout is not None:
            timer = self.clock.callLater(timeout, self._timed_out, request_id, method, timeout)
        self._outstanding[request_id] = (d, timer)
        return d

    def notify(self, method, params):
        """Send a notification (a request with ``"id": null``; no reply comes)."""
        if self.connected:
            self.send_value({"method": method, "params": params, "id": None})

    @property
    def outstanding(self):
        """Number of requests still waiting for a reply."""
        return len(self._outstanding)

    def _timed_out(self, request_id, method, timeout):
        entry = self._outstanding.pop(request_id, None)
        if entry is None:
            return
        self.log.warn("ovsdb-server did not answer {method} within {timeout}s; dropping the connection "
                      "(what was sent may still take effect)", method=method, timeout=timeout)
        self.drop("%s got no reply within %gs" % (method, timeout))
        entry[0].errback(Failure(Timeout("%s: no reply from ovsdb-server within %gs" % (method, timeout))))

    # -- receiving ---------------------------------------------------------

    def dataReceived(self, data):
        # Any bytes count as activity: a large reply may take longer than the interval.
        self._arm_probe()
        super().dataReceived(data)

    def value_received(self, value):
        if not isinstance(value, dict):
            self.protocol_error(ProtocolError("JSON-RPC message is not an object"))
            return
        if "method" in value:
            method = value.get("method")
            params = value.get("params")
            msg_id = value.get("id")
            if not isinstance(method, str) or not isinstance(params, list):
                self.protocol_error(ProtocolError("malformed JSON-RPC request"))
                return
            if msg_id is None:
                self.notification_received(method, params)
            else:
                self._serve(method, params, msg_id)
        elif "result" in value or "error" in value:
            self._reply_received(value)
        else:
            self.protocol_error(ProtocolError("JSON-RPC message is neither request nor reply"))

    def _reply_received(self, value):
        reply_id = value.get("id")
        if type(reply_id) is not int:   # not bool, float or str: such ids are never sent
            self.protocol_error(ProtocolError("JSON-RPC reply with id %s, which was never sent (ids sent are "
                                              "integers)" % _show(reply_id)))
            return
        if reply_id in self._probe_ids:
            self._probe_ids.discard(reply_id)
            return
        entry = self._outstanding.pop(reply_id, None)
        if entry is None:
            if 0 < reply_id <= self._last_id:
                problem = "which was already answered"
            else:
                problem = "which was never sent"
            self.protocol_error(ProtocolError("JSON-RPC reply to id %d, %s" % (reply_id, problem)))
            return
        d, timer = entry
        if timer is not None and timer.active():
            timer.cancel()
        error = value.get("error")
        if error is not None:
            d.errback(Failure(RpcError(error)))
        else:
            d.callback(value.get("result"))

    def _serve(self, method, params, msg_id):
        if method == "echo":
            self.send_value({"id": msg_id, "result": params, "error": None})
            return
        d = defer.maybeDeferred(self.request_received, method, params)

        def ok(result):
            if self.connected:
                self.send_value({"id": msg_id, "result": result, "error": None})

        def failed(f):
            if f.check(RpcError):
                error = f.value.error
            else:
                self.log.failure("error serving {method}", f, method=method)
                error = {"error": "internal error", "details": str(f.value)}
            if self.connected:
                self.send_value({"id": msg_id, "result": None, "error": error})

        d.addCallbacks(ok, failed)

    def request_received(self, method, params):
        """Serve a request other than ``echo``: return a result or a Deferred of one.

        Raise :class:`~ovsdbus.ovsdb.errors.RpcError` to answer with that error.
        """
        raise RpcError("unknown method")

    def notification_received(self, method, params):
        """Called for each notification from the peer; override."""

    # -- inactivity probe -------------------------------------------------

    def _arm_probe(self):
        if self.probe_interval is None or not self.connected:
            return
        self._probe_pending = False
        if self._probe_call is not None and self._probe_call.active():
            self._probe_call.reset(self.probe_interval)
        else:
            self._probe_call = self.clock.callLater(self.probe_interval, self._probe)

    def _probe(self):
        self._probe_call = None
        if self._probe_pending:
            self.log.warn("ovsdb-server silent for {secs}s after an echo probe; dropping connection",
                          secs=2 * self.probe_interval)
            self.drop("no answer to an echo probe within %gs" % self.probe_interval)
            return
        if len(self._probe_ids) >= self.MAX_UNANSWERED_PROBES:
            self.protocol_error(ProtocolError("%d echo probes left unanswered" % len(self._probe_ids)))
            return
        self._probe_pending = True
        self._last_id += 1
        self._probe_ids.add(self._last_id)
        self.send_value({"method": "echo", "params": [], "id": self._last_id})
        self._probe_call = self.clock.callLater(self.probe_interval, self._probe)


def _show(value, limit=60):
    """``value`` as JSON for a log line, cut to ``limit`` characters."""
    try:
        text = ujson.dumps(value)
    except (ValueError, TypeError, OverflowError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
