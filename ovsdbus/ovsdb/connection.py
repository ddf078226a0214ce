"""One live, monitored connection to ovsdb-server.

:class:`OvsdbConnection` is a Twisted service around
:class:`~twisted.application.internet.ClientService`: it reconnects with a backoff
policy, and every new connection is prepared (``get_schema``, then the newest
monitor the server knows) before it is used.  The monitor feeds a
:class:`~ovsdbus.ovsdb.replica.Replica`; observers get each batch of row changes after
the whole update has been applied.

While no connection is prepared, :meth:`OvsdbConnection.transact` fails at once
with :class:`~ovsdbus.ovsdb.errors.Disconnected` (callers are never left hanging), and
:attr:`OvsdbConnection.synced` is false.

A request that ovsdb-server leaves unanswered for ``request_timeout`` seconds makes
the connection count as lost at that moment (:meth:`~ovsdbus.ovsdb.jsonrpc.JsonRpcProtocol.drop`):
``synced`` turns false, state observers hear it, and only then does the request fail
with :class:`~ovsdbus.ovsdb.errors.Timeout`.  A write that timed out cannot be cancelled
and may still be committed; the next connection's monitor brings whatever the server
did to the replica and to the observers, like a change by any other writer.
"""

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.address import UNIXAddress
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from ovsdbus.ovsdb.client import OvsdbClientProtocol
from ovsdbus.ovsdb.errors import Disconnected, Timeout
from ovsdbus.ovsdb.framing import DEFAULT_MAX_VALUE_SIZE
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema

MONITOR_ID = "ovsdbus"


class _ConnectionProtocol(OvsdbClientProtocol):
    """A client protocol that starts preparing itself (schema, monitor) once connected."""

    def __init__(self, connection):
        super().__init__(connection.clock, request_timeout=connection.request_timeout,
                         probe_interval=connection.probe_interval)
        self.max_value_size = connection.max_message_size
        self.connection = connection
        self.on_update = lambda *args: connection._update_received(self, *args)

    def connectionMade(self):
        if isinstance(self.transport.getPeer(), UNIXAddress):
            self.probe_interval = None   # a local socket needs no probe (ovsdb-server does not probe it either)
        super().connectionMade()
        self.connection._prepare(self)


class _ClientFactory(Factory):
    """Builds client protocols wired to their :class:`OvsdbConnection`."""

    def __init__(self, connection):
        self.connection = connection

    def buildProtocol(self, addr):
        protocol = _ConnectionProtocol(self.connection)
        protocol.factory = self
        return protocol


class OvsdbConnection(Service):
    """Keep ``table_columns`` of ``database`` mirrored from the server behind ``endpoint``.

    :param endpoint: an ``IStreamClientEndpoint`` (see :mod:`ovsdbus.ovsdb.remotes`).
    :param table_columns: ``{table: [column, ...]}`` to monitor.
    :param clock: ``IReactorTime`` for timeouts, probes and reconnect delays.
    :param request_timeout: seconds before a request fails with Timeout.
    :param probe_interval: seconds of silence on a tcp/ssl connection before an echo probe
        (``None``: never; unix socket connections are never probed).
    :param retry_policy: ``attempt -> seconds`` (default: exponential backoff to 8 s).
    """

    log = Logger()

    def __init__(self, endpoint, table_columns, clock, database="Open_vSwitch", request_timeout=30.0,
                 probe_interval=None, retry_policy=None, max_message_size=DEFAULT_MAX_VALUE_SIZE):
        self.endpoint = endpoint
        self.table_columns = table_columns
        self.clock = clock
        self.database = database
        self.request_timeout = request_timeout
        self.probe_interval = probe_interval
        self.max_message_size = max_message_size
        self.retry_policy = retry_policy or backoffPolicy(initialDelay=0.25, maxDelay=8.0, factor=2.0)
        self.replica = None
        self._protocol = None
        self._failed_preparations = 0
        self._last_txn_id = None
        self._observers = []
        self._state_observers = []
        self._change_waiters = []
        self._client_service = None

    # -- observers ---------------------------------------------------------

    def add_observer(self, observer):
        """Call ``observer(changes)`` with every non-empty list of RowChanges, in commit order."""
        self._observers.append(observer)

    def add_state_observer(self, observer):
        """Call ``observer(synced)`` whenever the connection becomes synced or is lost."""
        self._state_observers.append(observer)

    def next_change(self, timeout):
        """A Deferred that fires (with ``None``) at the replica's next change, or fails
        with Timeout after ``timeout`` seconds."""
        d = defer.Deferred()
        timer = self.clock.callLater(timeout, self._change_timed_out, d)
        self._change_waiters.append((d, timer))
        return d

    def _change_timed_out(self, d):
        self._change_waiters = [(w, t) for w, t in self._change_waiters if w is not d]
        d.errback(Timeout("no change from ovsdb-server"))

    def _notify(self, changes):
        if not changes:
            return
        for observer in list(self._observers):
            try:
                observer(changes)
            except Exception:
                self.log.failure("observer {observer!r} failed", observer=observer)
        waiters, self._change_waiters = self._change_waiters, []
        for d, timer in waiters:
            timer.cancel()
            d.callback(None)

    def _notify_state(self, synced):
        for observer in list(self._state_observers):
            try:
                observer(synced)
            except Exception:
                self.log.failure("state observer {observer!r} failed", observer=observer)

    # -- service -----------------------------------------------------------

    def startService(self):
        super().startService()
        self._client_service = ClientService(self.endpoint, _ClientFactory(self), self._retry_delay, self.clock)
        self._client_service.startService()

    def stopService(self):
        super().stopService()
        self._fail_change_waiters()
        service, self._client_service = self._client_service, None
        if service is None:
            return defer.succeed(None)
        return service.stopService()

    @property
    def synced(self):
        """True while connected with the replica in step with the server."""
        return self._protocol is not None

    # -- preparing a connection ----------------------------------------------
    #
    # A new connection is prepared (schema, then monitor) by the protocol itself once
    # connected, not through ClientService's prepareConnection: ClientService neither
    # closes a connection whose preparation failed nor expects to hear that it closed.
    # Here a failed preparation simply closes the connection; ClientService then
    # reconnects, and _retry_delay keeps the backoff growing across such attempts.

    def _retry_delay(self, attempt):
        return self.retry_policy(max(attempt, self._failed_preparations))

    def _prepare(self, protocol):
        d = protocol.get_schema(self.database)
        d.addCallback(self._got_schema)
        d.addCallback(lambda _: protocol.monitor_best(self.database, MONITOR_ID, self.replica.table_columns,
                                                      self._last_txn_id))
        d.addCallback(self._monitor_started, protocol)

        def failed(failure):
            self._failed_preparations += 1
            if self.running:
                if failure.check(Timeout, Disconnected):   # the server is unresponsive or went away
                    self.log.warn("preparing the connection to ovsdb-server failed: {error}", error=failure.value)
                else:
                    self.log.error("preparing the connection to ovsdb-server failed: {error}", error=failure.value)
            protocol.disconnect()

        d.addErrback(failed)
        return d

    def _got_schema(self, json):
        schema = DatabaseSchema.from_json(json)
        if self.replica is None:
            self.replica = Replica(schema, self.table_columns)
        else:
            self.replica.use_schema(schema)

    def _monitor_started(self, started, protocol):
        if started.found:
            changes = self.replica.apply_update(started.initial, started.version)
        else:
            changes = self.replica.resync(started.initial, started.version)
        self._last_txn_id = started.last_txn_id
        self._failed_preparations = 0
        self._protocol = protocol
        protocol.on_disconnect.addCallback(self._lost, protocol)
        self.log.info("connected to ovsdb-server ({method}), {n} changes since last sync",
                      method=started.method, n=len(changes))
        self._notify(changes)
        self._notify_state(True)

    def _lost(self, reason, protocol):
        if protocol is self._protocol:
            self._protocol = None
            if self.running:
                self.log.warn("lost connection to ovsdb-server; reconnecting")
            self._notify_state(False)
            self._fail_change_waiters()

    def _fail_change_waiters(self):
        waiters, self._change_waiters = self._change_waiters, []
        for d, timer in waiters:
            if timer.active():
                timer.cancel()
            d.errback(Disconnected("connection to ovsdb-server lost"))

    def _update_received(self, protocol, monitor_id, updates, version, last_txn_id):
        if protocol is not self._protocol or monitor_id != MONITOR_ID:
            return
        try:
            changes = self.replica.apply_update(updates, version)
        except Exception as e:
            # The replica is unchanged but no longer in step.  A protocol error gives the
            # connection up at once (on_disconnect fires now, so _lost stops serving from
            # the replica before this returns); a fresh connection resyncs it.
            protocol.protocol_error(e)
            return
        if last_txn_id is not None:
            self._last_txn_id = last_txn_id
        self._notify(changes)

    # -- requests ------------------------------------------------------------

    def transact(self, operations, timeout=None):
        """Run an OVSDB transaction on the synced connection.

        Fires with the result list once the reply is in, by which time the replica
        already holds the transaction's changes (the server sends monitor updates
        before the reply).  Fails with Disconnected when not synced or when the
        connection is lost before the reply, and with Timeout when the server does not
        answer in time; in both cases :attr:`synced` is already false when the
        Deferred fails, and the transaction may or may not be committed: once synced
        again, the replica shows which (a commit that comes later still reaches it,
        as an ordinary change).
        """
        if self._protocol is None:
            return defer.fail(Disconnected("not connected to ovsdb-server"))
        return self._protocol.transact(self.database, operations, timeout=timeout)
