"""The fake ovsdb-server on the wire: :class:`FakeOvsdbProtocol` (one client connection, the
RFC 7047 methods) and :class:`FakeOvsdbFactory` (the databases served, connections, locks).

The fault-injection knobs of the factory are in :mod:`ovsdbus.testing.faults`.  Part of the fake
OVSDB: use it through :mod:`ovsdbus.testing`.
"""

import collections

from twisted.internet import defer
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger

from ovsdbus.ovsdb.errors import ProtocolError, RpcError
from ovsdbus.ovsdb.jsonrpc import JsonRpcProtocol
from ovsdbus.testing.database import FakeOvsdb, make_server_database
from ovsdbus.testing.datum import OpError, json_text, new_uuid
from ovsdbus.testing.faults import FaultKnobs
from ovsdbus.testing.monitor import Monitor, parse_monitor_requests
from ovsdbus.testing.where import no_named_uuids, parse_where

_MISSING = object()


def _id_key(value):
    return json_text(value)


_NO_REPLY = object()


class FakeOvsdbProtocol(JsonRpcProtocol):
    """One client connection to the fake ovsdb-server.

    Requests are taken in :meth:`value_received` rather than through
    ``request_received`` because the fake needs each request's id (``cancel`` names the
    request to drop, and a waiting transaction is answered later) and because
    ovsdb-server's error replies carry no ``"result"`` member.  Everything else
    (framing, notifications, the server's own requests) is :class:`JsonRpcProtocol`.
    """

    log = Logger()

    _METHODS = ("list_dbs", "get_schema", "transact", "monitor", "monitor_cond", "monitor_cond_since",
                "monitor_cond_change", "monitor_cancel", "lock", "steal", "unlock", "echo",
                "get_server_id", "set_db_change_aware")

    def __init__(self, factory):
        super().__init__(factory.clock)
        self.factory = factory
        self.monitors = collections.OrderedDict()   # id key -> Monitor
        self._pending = {}                          # request id key -> Deferred
        self._delayed = set()
        self._held = []

    # -- connection life -------------------------------------------------------------

    def connectionMade(self):
        super().connectionMade()
        self.factory._connection_made(self)
        if self.factory.reject_connections:
            self.transport.loseConnection()

    def connectionLost(self, reason=None):
        for monitor in self.monitors.values():
            monitor.db.remove_commit_listener(monitor.committed)
        self.monitors.clear()
        pending, self._pending = self._pending, {}
        for d in pending.values():
            d.cancel()
        for call in self._delayed:
            if call.active():
                call.cancel()
        self._delayed.clear()
        self._held = []
        self.factory._connection_lost(self)
        super().connectionLost(reason)

    def send_garbage(self, data=b"}\x00not json{"):
        """Write ``data`` raw on this connection (a peer's framing should reject it)."""
        self.transport.write(data)

    def holds_lock(self, name):
        """True if this connection owns lock ``name``."""
        return self.factory._lock_owner(name) is self

    # -- receiving ---------------------------------------------------------------------

    def value_received(self, value):
        if isinstance(value, dict) and "method" in value and value.get("id") is not None:
            extra = set(value) - {"method", "params", "id"}
            if extra or not isinstance(value["method"], str) or not isinstance(value.get("params"), list):
                self.protocol_error(ProtocolError("message has unexpected member or bad params: %s"
                                                  % json_text(value)[:200]))
                return
            self.factory.requests.append((value["method"], value["params"]))
            self._accept(value["method"], value["params"], value["id"])
            return
        super().value_received(value)

    def notification_received(self, method, params):
        if method == "cancel" and len(params) == 1:
            d = self._pending.pop(_id_key(params[0]), None)
            if d is not None:
                d.cancel()

    def _accept(self, method, params, msg_id):
        if self.factory.paused:
            self._held.append((method, params, msg_id))
            return
        delay = self.factory.reply_delay
        if delay:
            call = None

            def run():
                self._delayed.discard(call)
                self._serve_request(method, params, msg_id)
            call = self.clock.callLater(delay, run)
            self._delayed.add(call)
            return
        self._serve_request(method, params, msg_id)

    def _release_held(self):
        held, self._held = self._held, []
        for method, params, msg_id in held:
            if not self.connected:
                return
            self._accept(method, params, msg_id)

    def _serve_request(self, method, params, msg_id):
        if not self.connected:
            return
        failure = self.factory._take_failure(method)
        if failure is not None:
            self._send_error(msg_id, failure)
            return
        if method not in self._METHODS:
            self._send_error(msg_id, "unknown method")
            return
        try:
            result = getattr(self, "_rpc_" + method)(params, msg_id)
        except RpcError as e:
            self._send_error(msg_id, e.error)
            return
        except Exception:
            self.log.failure("fake ovsdb-server failed serving {method}", method=method)
            self._send_error(msg_id, {"error": "internal error", "details": "fake server bug"})
            return
        if result is not _NO_REPLY:
            self._send_result(msg_id, result)

    def _send_result(self, msg_id, result):
        if self.connected:
            self.send_value({"id": msg_id, "result": result, "error": None})

    def _send_error(self, msg_id, error):
        if self.connected:
            self.send_value({"id": msg_id, "error": error})

    # -- methods -----------------------------------------------------------------------

    def _database(self, method, params):
        if not params or not isinstance(params[0], str):
            raise RpcError({"error": "syntax error", "syntax": json_text(params),
                            "details": "%s request params must begin with <db-name>" % method})
        db = self.factory.databases.get(params[0])
        if db is None:
            raise RpcError({"error": "unknown database", "syntax": json_text(params),
                            "details": "%s request specifies unknown database %s" % (method, params[0])})
        return db

    def _rpc_list_dbs(self, params, msg_id):
        return list(self.factory.databases)

    def _rpc_get_schema(self, params, msg_id):
        return self._database("get_schema", params).schema_json

    def _rpc_echo(self, params, msg_id):
        return params

    def _rpc_get_server_id(self, params, msg_id):
        return self.factory.server_id

    def _rpc_set_db_change_aware(self, params, msg_id):
        return {}

    def _rpc_transact(self, params, msg_id):
        db = self._database("transact", params)
        key = _id_key(msg_id)
        if key in self._pending:
            raise RpcError("duplicate request ID")
        d = db.transact_deferred(params[1:], self.clock, session=self)
        self._pending[key] = d

        def done(results):
            if self._pending.get(key) is d:
                del self._pending[key]
            self._send_result(msg_id, results)

        def failed(f):
            if self._pending.get(key) is d:
                del self._pending[key]
            if f.check(defer.CancelledError):
                return None   # ovsdb-server 3.1 sends nothing for a canceled transaction
            self.log.failure("fake ovsdb-server transaction failed", f)
            self._send_error(msg_id, {"error": "internal error", "details": str(f.value)})
        d.addCallbacks(done, failed)
        return _NO_REPLY

    def _create_monitor(self, method, params, version):
        db = self._database(method, params)
        expected = 4 if version == 3 else 3
        if len(params) != expected:
            raise RpcError({"error": "syntax error", "details": "invalid parameters",
                            "syntax": json_text(params)})
        monitor_id = params[1]
        key = _id_key(monitor_id)
        try:
            tables = parse_monitor_requests(db, params[2], conditional=version > 1)
        except OpError as e:
            raise RpcError(e.to_json()) from None
        if key in self.monitors:
            raise RpcError({"error": "syntax error", "details": "duplicate monitor ID",
                            "syntax": json_text(monitor_id)})
        monitor = Monitor(self, db, monitor_id, version, tables)
        self.monitors[key] = monitor
        db.add_commit_listener(monitor.committed)
        return monitor

    def _rpc_monitor(self, params, msg_id):
        return self._create_monitor("monitor", params, 1).initial()

    def _rpc_monitor_cond(self, params, msg_id):
        return self._create_monitor("monitor_cond", params, 2).initial()

    def _rpc_monitor_cond_since(self, params, msg_id):
        monitor = self._create_monitor("monitor_cond_since", params, 3)
        last = params[3]
        changes = monitor.db.changes_since(last) if isinstance(last, str) else None
        if changes is None:
            return [False, monitor.db.last_txn_id, monitor.initial()]
        return [True, monitor.db.last_txn_id, monitor.compose(changes)]

    def _rpc_monitor_cond_change(self, params, msg_id):
        if len(params) != 3:
            raise RpcError({"error": "syntax error", "details": "invalid parameters",
                            "syntax": json_text(params)})
        old_id, new_id, requests = params
        monitor = self.monitors.get(_id_key(old_id))
        if monitor is None:
            raise RpcError({"error": "syntax error", "details": "unknown monitor session",
                            "syntax": json_text(old_id)})
        if _id_key(new_id) != _id_key(old_id) and _id_key(new_id) in self.monitors:
            raise RpcError({"error": "syntax error", "details": "duplicate monitor ID",
                            "syntax": json_text(new_id)})
        if not isinstance(requests, dict):
            raise RpcError({"error": "syntax error",
                            "details": "monitor-cond-change-requests must be object"})
        new_conditions = {}
        try:
            for name, value in requests.items():
                table = monitor.db.schema.tables.get(name)
                if table is None:
                    raise OpError("syntax error", "no table named %s" % name)
                where = _MISSING
                for request in (value if isinstance(value, list) else [value]):
                    if not isinstance(request, dict):
                        raise OpError("syntax error", "Parsing table %s failed: Object expected." % name,
                                      request)
                    if "columns" in request:
                        raise OpError("syntax error", "changing columns is unsupported", request)
                    if "where" in request and where is _MISSING:
                        where = parse_where(table, request["where"], no_named_uuids)
                if where is not _MISSING:
                    new_conditions[name] = where
        except OpError as e:
            raise RpcError(e.to_json()) from None
        del self.monitors[_id_key(old_id)]
        monitor.monitor_id = new_id
        self.monitors[_id_key(new_id)] = monitor
        monitor.change_conditions(new_conditions)
        return {}

    def _rpc_monitor_cancel(self, params, msg_id):
        if len(params) != 1:
            raise RpcError("invalid parameters")
        monitor = self.monitors.pop(_id_key(params[0]), None)
        if monitor is None:
            raise RpcError("unknown monitor")
        monitor.db.remove_commit_listener(monitor.committed)
        return {}

    def _lock_name(self, method, params):
        if len(params) != 1 or not isinstance(params[0], str):
            raise RpcError({"error": "syntax error", "syntax": json_text(params),
                            "details": "%s request params must be <id>" % method})
        return params[0]

    def _rpc_lock(self, params, msg_id):
        return self.factory._lock(self, self._lock_name("lock", params), params, steal=False)

    def _rpc_steal(self, params, msg_id):
        return self.factory._lock(self, self._lock_name("steal", params), params, steal=True)

    def _rpc_unlock(self, params, msg_id):
        return self.factory._unlock(self, self._lock_name("unlock", params), params)


class FakeOvsdbFactory(FaultKnobs, ServerFactory):
    """Serves :class:`FakeOvsdb` databases to any number of clients, with fault knobs.

    :param databases: a :class:`FakeOvsdb` or a list of them.
    :param clock: the ``IReactorTime`` for reply delays and ``wait`` timeouts
        (default: the global reactor); pass a ``twisted.internet.task.Clock`` in tests.
    :param server_database: also serve a ``_Server`` database, as ovsdb-server does.

    Fault-injection knobs (:class:`~ovsdbus.testing.faults.FaultKnobs`):

    * :meth:`drop_all_connections` — close every client connection now;
    * :attr:`reply_delay` — seconds (on ``clock``) before each request is served; the
      transaction, its update notifications and its reply all happen then, in order;
    * :meth:`pause` / :meth:`resume` — hold every request until resumed;
    * :meth:`fail_next` — answer the next request(s) with a given JSON-RPC error;
    * :meth:`send_garbage` — write bytes that are not JSON to every client;
    * :attr:`reject_connections` — accept connections and close them at once;
    * :meth:`stop_listening` — close the listening ports from :meth:`listen_unix`.
    """

    protocol = FakeOvsdbProtocol

    def __init__(self, databases, clock=None, server_database=True):
        if isinstance(databases, FakeOvsdb):
            databases = [databases]
        self.databases = collections.OrderedDict((db.name, db) for db in databases)
        if server_database and "_Server" not in self.databases:
            self.databases["_Server"] = make_server_database(list(self.databases.values()))
        super().__init__()
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.server_id = new_uuid()
        self.connections = []
        self.requests = []
        self._locks = {}
        self._ports = []
        self._connection_waiters = []
        self._disconnect_waiters = []

    @property
    def db(self):
        """The first database served (the one given first)."""
        return next(iter(self.databases.values()))

    def buildProtocol(self, addr):
        protocol = self.protocol(self)
        protocol.factory = self
        return protocol

    # -- connections -------------------------------------------------------------------

    def _connection_made(self, protocol):
        self.connections.append(protocol)
        waiters, self._connection_waiters = self._connection_waiters, []
        for d in waiters:
            d.callback(protocol)

    def _connection_lost(self, protocol):
        if protocol in self.connections:
            self.connections.remove(protocol)
        for name in list(self._locks):
            if protocol in self._locks[name]:
                self._unlock(protocol, name, [name])
        if not self.connections:
            waiters, self._disconnect_waiters = self._disconnect_waiters, []
            for d in waiters:
                d.callback(None)

    def wait_for_connection(self):
        """A Deferred firing with the protocol of the next client that connects."""
        d = defer.Deferred()
        self._connection_waiters.append(d)
        return d

    def wait_for_no_connections(self):
        """A Deferred firing once no client is connected (at once if none is)."""
        if not self.connections:
            return defer.succeed(None)
        d = defer.Deferred()
        self._disconnect_waiters.append(d)
        return d

    def listen_unix(self, path, reactor=None):
        """Listen on unix socket ``path``; return the listening port."""
        if reactor is None:
            from twisted.internet import reactor
        port = reactor.listenUNIX(path, self)
        self._ports.append(port)
        return port

    def stop_listening(self):
        """Stop accepting connections (existing ones stay up); return a Deferred."""
        ports, self._ports = self._ports, []
        return defer.DeferredList([defer.maybeDeferred(p.stopListening) for p in ports])

    def shutdown(self):
        """Stop listening and drop every connection; the Deferred fires when all are gone."""
        d = self.stop_listening()
        self.drop_all_connections()
        d.addCallback(lambda _: self.wait_for_no_connections())
        return d

    # -- locks ---------------------------------------------------------------------------

    def _lock_owner(self, name):
        queue = self._locks.get(name)
        return queue[0] if queue else None

    def _lock(self, protocol, name, params, steal):
        queue = self._locks.setdefault(name, [])
        if protocol in queue:
            verb = "steal" if steal else "lock"
            raise RpcError({"error": "syntax error", "syntax": json_text(params),
                            "details": 'must issue "unlock" before new "%s"' % verb})
        if steal:
            previous = queue[0] if queue else None
            queue.insert(0, protocol)
            if previous is not None:
                previous.notify("stolen", [name])
            return {"locked": True}
        queue.append(protocol)
        return {"locked": queue[0] is protocol}

    def _unlock(self, protocol, name, params):
        queue = self._locks.get(name)
        if not queue or protocol not in queue:
            raise RpcError({"error": "syntax error", "syntax": json_text(params),
                            "details": 'unlock: "unlock" without "lock" or "steal"'})
        was_owner = queue[0] is protocol
        queue.remove(protocol)
        if not queue:
            del self._locks[name]
        elif was_owner:
            queue[0].notify("locked", [name])
        return {}
