"""JSON-RPC 1.0 in OVSDB's shape (RFC 7047 section 4).

A request is ``{"method", "params", "id"}``, a notification the same with
``"id": null``, a reply ``{"id", "result", "error"}`` with ``"error": null`` on
success.  There is no ``"jsonrpc"`` member: ovsdb-server drops a connection that
sends one.

:class:`JsonRpcProtocol` owns the per-connection id counter and the outstanding
Deferreds (all failed with :class:`~ovsdbus.errors.Disconnected` when the
connection drops), answers ``echo`` requests itself, times requests out, and can
probe an idle connection with its own ``echo``.  It knows nothing of OVSDB's methods.
"""

import itertools

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from ovsdbus.errors import Disconnected, ProtocolError, RpcError, Timeout
from ovsdbus.framing import JSONStreamProtocol


class JsonRpcProtocol(JSONStreamProtocol):
    """JSON-RPC endpoint over one connection, usable as client and as server.

    :param clock: an ``IReactorTime`` for timeouts and probes.
    :param request_timeout: default seconds before a request fails with
        :class:`~ovsdbus.errors.Timeout`; ``None`` for no limit.
    :param probe_interval: seconds of silence from the peer after which an
        ``echo`` is sent; if the peer then stays silent for another interval the
        connection is dropped.  ``None`` disables probing (right for unix sockets,
        which ovsdb-server does not probe either).

    Subclasses override :meth:`request_received` (to serve methods other than
    ``echo``) and :meth:`notification_received`.
    """

    log = Logger()

    def __init__(self, clock, request_timeout=None, probe_interval=None):
        self.clock = clock
        self.request_timeout = request_timeout
        self.probe_interval = probe_interval
        self.connected = False
        self._outstanding = {}
        self._ids = itertools.count(1)
        self._probe_call = None
        self._probe_pending = False
        self.on_disconnect = defer.Deferred()

    # -- connection life -------------------------------------------------

    def connectionMade(self):
        super().connectionMade()
        self.connected = True
        self._arm_probe()

    def connectionLost(self, reason=None):
        self.connected = False
        if self._probe_call is not None and self._probe_call.active():
            self._probe_call.cancel()
        self._probe_call = None
        outstanding, self._outstanding = self._outstanding, {}
        for d, timer in outstanding.values():
            if timer is not None and timer.active():
                timer.cancel()
            d.errback(Failure(Disconnected("connection to ovsdb-server lost")))
        d, self.on_disconnect = self.on_disconnect, None
        if d is not None:
            d.callback(None)

    def disconnect(self):
        """Close the connection; outstanding requests fail with Disconnected."""
        if self.transport is not None:
            self.transport.loseConnection()

    # -- sending -----------------------------------------------------------

    def request(self, method, params, timeout=None):
        """Send a request; return a Deferred firing with its result.

        The Deferred fails with :class:`~ovsdbus.errors.RpcError` when the peer
        answers with an error, :class:`~ovsdbus.errors.Timeout` after ``timeout``
        (or the protocol's default) seconds, and
        :class:`~ovsdbus.errors.Disconnected` if the connection is or goes down.
        """
        if not self.connected:
            return defer.fail(Disconnected("not connected to ovsdb-server"))
        request_id = next(self._ids)
        try:
            self.send_value({"method": method, "params": params, "id": request_id})
        except (ValueError, TypeError, OverflowError) as e:   # not encodable: nothing was sent
            return defer.fail(e)
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
        if entry is not None:
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
        if not isinstance(reply_id, (int, str)) or isinstance(reply_id, bool):
            self.protocol_error(ProtocolError("JSON-RPC reply with an id of type %s" % type(reply_id).__name__))
            return
        entry = self._outstanding.pop(reply_id, None)
        if entry is None:
            return  # a late reply to a timed-out request, or our own probe
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

        Raise :class:`~ovsdbus.errors.RpcError` to answer with that error.
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
        if self._probe_pending:
            self.log.warn("ovsdb-server silent for {secs}s after an echo probe; dropping connection",
                          secs=2 * self.probe_interval)
            self._probe_call = None
            self.disconnect()
            return
        self._probe_pending = True
        request_id = next(self._ids)
        self.send_value({"method": "echo", "params": [], "id": request_id})
        self._probe_call = self.clock.callLater(self.probe_interval, self._probe)
