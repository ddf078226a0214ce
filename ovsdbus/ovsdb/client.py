"""The OVSDB client: RFC 7047 methods over one JSON-RPC connection.

:class:`OvsdbClientProtocol` adds OVSDB's methods to
:class:`~ovsdbus.ovsdb.jsonrpc.JsonRpcProtocol`.  Every method returns a Deferred, and
all requests share (are pipelined on) the one connection.  It knows nothing
about reconnecting or about what the database means.
"""

import json

from ovsdbus.ovsdb.errors import ProtocolError, RpcError, transaction_error
from ovsdbus.ovsdb.jsonrpc import JsonRpcProtocol
from ovsdbus.ovsdb.schema import is_uuid

#: Monitor methods from newest to oldest, with the update notification each one sends.
MONITOR_METHODS = (
    ("monitor_cond_since", "update3"),
    ("monitor_cond", "update2"),
    ("monitor", "update"),
)


class MonitorStarted:
    """What starting a monitor gave: the method used, whether history was found, the
    last transaction id (``monitor_cond_since`` only), and the initial table updates
    with their format version (1 for ``update``, 2 for ``update2``/``update3``)."""

    __slots__ = ("method", "found", "last_txn_id", "initial", "version")

    def __init__(self, method, found, last_txn_id, initial, version):
        self.method = method
        self.found = found
        self.last_txn_id = last_txn_id
        self.initial = initial
        self.version = version


class OvsdbClientProtocol(JsonRpcProtocol):
    """RFC 7047 client.

    ``on_update(monitor_id, table_updates, version, last_txn_id)`` is called for
    every ``update``/``update2``/``update3`` notification; assign a callable to
    :attr:`on_update` to receive them.

    An update notification is a protocol error (logged, connection dropped) when its
    params are malformed, when it names a monitor this connection never started (or
    whose cancellation the server confirmed), or when its method is not the one the
    monitor's request promises (``monitor`` -> ``update``, ``monitor_cond`` ->
    ``update2``, ``monitor_cond_since`` -> ``update3``): data meant for another monitor,
    or in another format, would make the replica differ from the server.
    """

    on_update = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._monitors = {}   # monitor id as JSON text -> the update method it receives

    def list_dbs(self):
        """The names of the server's databases."""
        return self.request("list_dbs", [])

    def get_schema(self, database):
        """The schema of ``database`` as JSON."""
        return self.request("get_schema", [database])

    def echo(self, *params):
        """Round trip ``params`` through the server."""
        return self.request("echo", list(params))

    def transact(self, database, operations, timeout=None):
        """Run ``operations`` atomically; fire with the result list.

        Fails with the matching :class:`~ovsdbus.ovsdb.errors.TransactionError` if any
        operation, or the commit, failed (see :func:`check_transaction_result`).
        """
        d = self.request("transact", [database] + list(operations), timeout=timeout)
        d.addCallback(check_transaction_result, operations)
        return d

    def monitor(self, database, monitor_id, requests, method="monitor", last_txn_id=None):
        """Start a monitor with ``method`` (``monitor``, ``monitor_cond`` or
        ``monitor_cond_since``); fire with a :class:`MonitorStarted`."""
        params = [database, monitor_id, requests]
        if method == "monitor_cond_since":
            params.append(last_txn_id or "00000000-0000-0000-0000-000000000000")
        key = _monitor_key(monitor_id)
        registered = key not in self._monitors
        if registered:
            # From the request on: the server may send updates before its reply reaches us.
            self._monitors[key] = dict(MONITOR_METHODS)[method]
        d = self.request(method, params)

        def failed(failure):
            if registered:
                self._monitors.pop(key, None)
            return failure

        d.addCallbacks(_monitor_started, failed, callbackArgs=(method,))
        return d

    def monitor_best(self, database, monitor_id, table_columns, last_txn_id=None):
        """Start the newest monitor the server knows, falling back on "unknown method".

        ``table_columns`` maps table name to the list of columns to monitor.
        """
        methods = [m for m, _ in MONITOR_METHODS]

        def attempt(_=None):
            method = methods.pop(0)
            requests = monitor_requests(table_columns, conditional=method != "monitor")
            d = self.monitor(database, monitor_id, requests, method, last_txn_id)
            d.addErrback(fall_back)
            return d

        def fall_back(failure):
            failure.trap(RpcError)
            if methods and failure.value.kind == "unknown method":
                return attempt()
            return failure

        return attempt()

    def monitor_cancel(self, monitor_id):
        """Cancel a monitor; once the server confirms, no more updates may come for it."""
        d = self.request("monitor_cancel", [monitor_id])

        def cancelled(result):
            self._monitors.pop(_monitor_key(monitor_id), None)
            return result

        d.addCallback(cancelled)
        return d

    def notification_received(self, method, params):
        if method not in ("update", "update2", "update3"):
            return
        try:
            if method == "update3":
                monitor_id, last_txn_id, updates = params
                version = 2
            else:
                monitor_id, updates = params
                last_txn_id = None
                version = 1 if method == "update" else 2
        except ValueError:
            self.protocol_error(ProtocolError("malformed %s notification" % method))
            return
        if method == "update3" and not is_uuid(last_txn_id):
            self.protocol_error(ProtocolError("update3 with a transaction id that is not a uuid: %.100r"
                                              % (last_txn_id,)))
            return
        key = _monitor_key(monitor_id)
        expected = self._monitors.get(key)
        if expected is None:
            self.protocol_error(ProtocolError("%s for monitor %.100s, which was not started" % (method, key)))
            return
        if method != expected:
            self.protocol_error(ProtocolError("%s for monitor %.100s, which receives %s" % (method, key, expected)))
            return
        if self.on_update is not None:
            self.on_update(monitor_id, updates, version, last_txn_id)


def _monitor_key(monitor_id):
    """A monitor id (any JSON value) as a dict key."""
    return json.dumps(monitor_id, sort_keys=True)


def monitor_requests(table_columns, conditional=True):
    """Build monitor requests for ``{table: [columns]}`` (all rows, all changes)."""
    requests = {}
    for table, columns in table_columns.items():
        request = {"columns": list(columns)}
        requests[table] = [request] if conditional else request
    return requests


def _monitor_started(result, method):
    if method == "monitor_cond_since":
        if not (isinstance(result, list) and len(result) == 3):
            raise ProtocolError("malformed monitor_cond_since reply")
        found, last_txn_id, initial = result
        if not isinstance(found, bool) or not is_uuid(last_txn_id):
            raise ProtocolError("monitor_cond_since reply without a boolean and a transaction id: %.200r"
                                % (result[:2],))
        return MonitorStarted(method, found, last_txn_id, initial or {}, 2)
    return MonitorStarted(method, False, None, result or {}, 1 if method == "monitor" else 2)


def check_transaction_result(result, operations):
    """Return ``result`` if every operation succeeded, else raise its error.

    The failing operation's result is ``{"error": E, "details"?: D}``; a failure at
    commit time is an extra element after the last operation's result.
    """
    if not isinstance(result, list):
        raise ProtocolError("transact result is not an array")
    for index, item in enumerate(result):
        if isinstance(item, dict) and item.get("error") is not None:
            raise transaction_error(item["error"], item.get("details"),
                                    index if index < len(operations) else None)
    if len(result) < len(operations):
        raise ProtocolError("transact result has %d elements for %d operations"
                            % (len(result), len(operations)))
    return result
