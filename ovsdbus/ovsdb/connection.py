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

Clusters (several remotes, tried in turn): on every connection the ``_Server`` database's
``Database`` table is monitored first, and :func:`ovsdbus.ovsdb.cluster.check_member`
decides, at the start and after every change of that row, whether the member may be
used (connected to its cluster, the leader with ``leader_only``, data not older than the
Raft index already seen).  A member that may not is dropped at once (``synced`` turns
false, requests in flight fail with Disconnected: a write among them may or may not have
committed) and the next remote is tried at once; only after a whole round of remotes
failed does the backoff delay apply.  The last transaction id is kept across
connections, so ``monitor_cond_since`` lets the next member send only what changed since;
a member without that history sends everything and :meth:`~ovsdbus.ovsdb.replica.Replica.resync`
turns it into the differences.  A write the member refused before executing it (see
:data:`ovsdbus.ovsdb.cluster.NOT_COMMITTED_ERRORS`) is sent again on the next member
within its timeout.
"""

import gc

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.address import UNIXAddress
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from ovsdbus.ovsdb import cluster
from ovsdbus.ovsdb.client import OvsdbClientProtocol
from ovsdbus.ovsdb.errors import Disconnected, ProtocolError, RpcError, Timeout
from ovsdbus.ovsdb.framing import DEFAULT_MAX_VALUE_SIZE
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema

MONITOR_ID = "ovsdbus"
SERVER_MONITOR_ID = "ovsdbus-server"
SERVER_DATABASE = "_Server"
#: Rows held from which the objects present after a sync are taken out of the cyclic garbage
#: collector's sight (see ``OvsdbConnection._monitor_started``).
FREEZE_AT_ROWS = 1000
#: Seconds after the start by which the connection counts as settled (see
#: ``OvsdbConnection.when_settled``) even if the first attempt has neither synced nor failed yet
#: (a server that accepts the connection but does not answer fails it only after the request timeout).
#: Once a usable member has answered the schema request, only its sync or a failure settles it.
SETTLE_TIMEOUT = 5.0
#: The columns of ``_Server``'s ``Database`` table the cluster checks read (those a server has).
SERVER_COLUMNS = ("name", "model", "connected", "leader", "schema", "index")


class _MemberUnusable(Exception):
    """The member's ``_Server`` row says it may not be used (the message says why)."""

#: ``table_columns`` for :class:`OvsdbConnection` to monitor every table and column of the
#: database.  The tables are those of the schema read at the first connection; a later schema
#: without one of them is refused (SchemaError), as for a table named explicitly.
ALL = None


class _ConnectionProtocol(OvsdbClientProtocol):
    """A client protocol that starts preparing itself (schema, monitor) once connected."""

    def __init__(self, connection):
        super().__init__(connection.clock, request_timeout=connection.request_timeout,
                         probe_interval=connection.probe_interval)
        self.max_value_size = connection.max_message_size
        self.connection = connection
        self.on_update = lambda *args: connection._update_received(self, *args)
        self.member = connection._attempted_member()
        self.server_replica = None   # this member's _Server Database rows
        self.verdict = None          # the latest cluster.Verdict on it
        self.left_because = None     # why ovsdbus gave this member up, if it did

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
    :param table_columns: ``{table: [column, ...]}`` to monitor (``[...]`` may be ``None``: every
        column of that table), or :data:`ALL`: every column of every table of the schema the
        server gives at the first connection.
    :param clock: ``IReactorTime`` for timeouts, probes and reconnect delays.
    :param database: the name of the database to mirror (required: this layer assumes no particular one).
    :param request_timeout: seconds before a request fails with Timeout.
    :param probe_interval: seconds of silence on a tcp/ssl connection before an echo probe
        (``None``: never; unix socket connections are never probed).
    :param retry_policy: ``attempt -> seconds`` (default: exponential backoff to 8 s); with
        several remotes, ``attempt`` counts whole rounds of them and the remotes of a round
        are tried without delay.
    :param leader_only: use a clustered database only on its leader (see :mod:`ovsdbus.ovsdb.cluster`).
    :param member_names: the names of the remotes, in the order ``endpoint`` tries them (a
        :class:`~ovsdbus.ovsdb.remotes.RoundRobinEndpoint` says which it tried last), for
        :attr:`member` and the log.
    :param settle_timeout: seconds after the start by which the connection counts as settled
        (:meth:`when_settled`) even while the first attempt has neither synced nor failed
        (``None``: only a sync or a failure settles it).
    """

    log = Logger()

    def __init__(self, endpoint, table_columns, clock, database, request_timeout=30.0,
                 probe_interval=None, retry_policy=None, max_message_size=DEFAULT_MAX_VALUE_SIZE,
                 leader_only=True, member_names=None, settle_timeout=SETTLE_TIMEOUT):
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
        self.leader_only = leader_only
        self.member_names = list(member_names or [])
        self._min_index = 0            # the highest Raft index seen on any member
        self._attempts_since_sync = 0
        self._member_observers = []
        self._sync_waiters = []
        self._observers = []
        self._state_observers = []
        self._change_waiters = {}   # Deferred -> its timeout call, in the order they came
        self._client_service = None
        self._settled = False
        self._settle_waiters = []
        self.settle_timeout = settle_timeout
        self._settle_call = None

    # -- observers ---------------------------------------------------------

    def add_observer(self, observer):
        """Call ``observer(changes)`` with every non-empty list of RowChanges, in commit order."""
        self._observers.append(observer)

    def add_state_observer(self, observer):
        """Call ``observer(synced)`` whenever the connection becomes synced or is lost."""
        self._state_observers.append(observer)

    def add_member_observer(self, observer):
        """Call ``observer(member, leader)`` whenever :attr:`member` or :attr:`leader` changes."""
        self._member_observers.append(observer)

    @property
    def settled(self):
        """True once the first sync has been applied, or the first connection attempt (with several
        remotes: the first round of them) has failed, or ``settle_timeout`` seconds have passed since
        the start without either; it stays true."""
        return self._settled

    def when_settled(self):
        """A Deferred that fires (with ``None``) once :attr:`settled` is true: at once if it is.

        Whoever shows the replica waits for it before being found (ovsdbus owns its bus name from
        then on): after a first sync the whole database is there to be read, after a failure
        :attr:`synced` is false, and a later sync is announced as changes."""
        if self._settled:
            return defer.succeed(None)
        d = defer.Deferred()
        self._settle_waiters.append(d)
        return d

    def _cancel_settle_timer(self):
        if self._settle_call is not None and self._settle_call.active():
            self._settle_call.cancel()
        self._settle_call = None

    def _settle(self):
        if self._settled:
            return
        self._settled = True
        self._cancel_settle_timer()
        waiters, self._settle_waiters = self._settle_waiters, []
        for d in waiters:
            d.callback(None)

    def next_change(self, timeout):
        """A Deferred that fires (with ``None``) at the replica's next change, or fails
        with Timeout after ``timeout`` seconds."""
        d = defer.Deferred()
        timer = self.clock.callLater(timeout, self._change_timed_out, d)
        self._change_waiters[d] = timer
        return d

    def caught_up(self, replica, generation, timeout):
        """A Deferred that fires (with ``None``, never failing) once ``replica`` has moved past
        ``generation``: at once if it has, else at the next change or after ``timeout`` seconds.

        After a write failed because another writer changed what it relied on, the server has sent
        their update before its reply, so the replica normally shows it already; this waits for it
        when it does not, before the write is planned again."""
        if replica.generation != generation:
            return defer.succeed(None)
        d = self.next_change(timeout)
        d.addErrback(lambda failure: failure.trap(Timeout) and None)
        return d

    def _change_timed_out(self, d):
        self._change_waiters.pop(d, None)
        d.errback(Timeout("no change from ovsdb-server"))

    def _notify(self, changes):
        if not changes:
            return
        for observer in list(self._observers):
            try:
                observer(changes)
            except Exception:
                self.log.failure("observer {observer!r} failed", observer=observer)
        waiters, self._change_waiters = self._change_waiters, {}
        for d, timer in waiters.items():
            timer.cancel()
            d.callback(None)

    def _notify_state(self, synced):
        for observer in list(self._state_observers):
            try:
                observer(synced)
            except Exception:
                self.log.failure("state observer {observer!r} failed", observer=observer)

    def _notify_member(self):
        member, leader = self.member, self.leader
        for observer in list(self._member_observers):
            try:
                observer(member, leader)
            except Exception:
                self.log.failure("member observer {observer!r} failed", observer=observer)

    # -- service -----------------------------------------------------------

    def startService(self):
        super().startService()
        self._client_service = ClientService(self.endpoint, _ClientFactory(self), self._retry_delay, self.clock)
        if not self._settled and self.settle_timeout is not None:
            self._settle_call = self.clock.callLater(self.settle_timeout, self._settle)
        self._client_service.startService()

    def stopService(self):
        super().stopService()
        self._cancel_settle_timer()
        self._fail_change_waiters()
        self._fail_sync_waiters(Disconnected("ovsdbus is stopping"))
        service, self._client_service = self._client_service, None
        if service is None:
            return defer.succeed(None)
        return service.stopService()

    @property
    def synced(self):
        """True while connected with the replica in step with the server."""
        return self._protocol is not None

    @property
    def member(self):
        """The remote (as given in ``member_names``) of the synced connection, or ``""``."""
        return self._protocol.member if self._protocol is not None else ""

    @property
    def leader(self):
        """True while synced with a member that commits writes itself: a cluster's leader, or a
        standalone server."""
        return self._protocol is not None and self._protocol.verdict.leader

    def _attempted_member(self):
        if not self.member_names:
            return ""
        index = getattr(self.endpoint, "current", 0)
        return self.member_names[index % len(self.member_names)]

    # -- preparing a connection ----------------------------------------------
    #
    # A new connection is prepared (schema, then monitor) by the protocol itself once
    # connected, not through ClientService's prepareConnection: ClientService neither
    # closes a connection whose preparation failed nor expects to hear that it closed.
    # Here a failed preparation simply closes the connection; ClientService then
    # reconnects, and _retry_delay keeps the backoff growing across such attempts.

    def _retry_delay(self, attempt):
        # Called once for every connection that failed, was refused or was lost.
        self._attempts_since_sync += 1
        attempts = max(attempt, self._failed_preparations, self._attempts_since_sync)
        members = len(getattr(self.endpoint, "endpoints", ())) or 1
        if self._attempts_since_sync >= members:
            self._settle()   # every remote was tried once, and none gave a sync
        if members == 1:
            return self.retry_policy(attempts)
        if attempts % members:
            return 0   # the next member of this round, at once
        return self.retry_policy(attempts // members)

    def _prepare(self, protocol):
        d = self._check_member(protocol)
        d.addCallback(lambda _: protocol.get_schema(self.database))
        d.addCallback(self._got_schema)
        d.addCallback(self._member_answered)
        d.addCallback(lambda _: protocol.monitor_best(self.database, MONITOR_ID, self.replica.table_columns,
                                                      self._last_txn_id))
        d.addCallback(self._monitor_started, protocol)

        def failed(failure):
            self._failed_preparations += 1
            if self.running:
                if failure.check(_MemberUnusable):
                    self.log.info("not using ovsdb-server {member}: {reason}; trying the next one",
                                  member=protocol.member, reason=failure.getErrorMessage())
                elif protocol.left_because is not None:
                    pass   # logged when it was left
                elif failure.check(Timeout, Disconnected):   # the server is unresponsive or went away
                    self.log.warn("preparing the connection to ovsdb-server failed: {error}", error=failure.value)
                else:
                    self.log.error("preparing the connection to ovsdb-server failed: {error}", error=failure.value)
            protocol.disconnect()

        d.addErrback(failed)
        return d

    def _check_member(self, protocol):
        """Monitor the member's ``_Server`` Database rows; fail with _MemberUnusable if it may not
        be used.  A server without a ``_Server`` database (older than OVS 2.9) counts as standalone."""
        d = protocol.get_schema(SERVER_DATABASE)

        def no_server_database(failure):
            failure.trap(RpcError)
            if failure.value.kind != "unknown database":
                return failure
            protocol.verdict = cluster.Verdict(True, "", self._min_index, True)

        def got_schema(json):
            schema = DatabaseSchema.from_json(json)
            table = schema.tables.get("Database")
            if table is None or "name" not in table.columns:
                raise ProtocolError("the _Server database has no Database table with a name column")
            columns = [c for c in SERVER_COLUMNS if c in table.columns]
            protocol.server_replica = Replica(schema, {"Database": columns})
            started = protocol.monitor_best(SERVER_DATABASE, SERVER_MONITOR_ID, {"Database": columns})
            started.addCallback(server_monitor_started)
            return started

        def server_monitor_started(started):
            protocol.server_replica.apply_update(started.initial, started.version)
            verdict = self._judge(protocol)
            if not verdict.usable:
                raise _MemberUnusable(verdict.reason)

        d.addCallbacks(got_schema, no_server_database)
        return d

    def _judge(self, protocol):
        row = cluster.database_row(protocol.server_replica.rows("Database"), self.database)
        verdict = cluster.check_member(row, self.database, self._min_index, self.leader_only)
        protocol.verdict = verdict
        if verdict.usable:
            self._min_index = verdict.min_index
        return verdict

    def _server_update(self, protocol, updates, version):
        if protocol.server_replica is None or protocol.left_because is not None:
            return
        try:
            protocol.server_replica.apply_update(updates, version)
        except Exception as e:
            protocol.protocol_error(e)
            return
        if protocol.verdict is None:
            return   # still starting: judged once the monitor's reply is in
        was_leader = protocol.verdict.leader
        verdict = self._judge(protocol)
        if not verdict.usable:
            self.leave(protocol, verdict.reason)
        elif protocol is self._protocol and verdict.leader != was_leader:
            self._notify_member()

    def leave(self, protocol, reason):
        """Give up the member behind ``protocol`` at once (for ``reason``) and try the next one."""
        if protocol.left_because is not None:
            return
        protocol.left_because = reason
        if self.running:
            self.log.info("leaving ovsdb-server {member}: {reason}; trying the next one",
                          member=protocol.member, reason=reason)
        protocol.drop("ovsdbus left the member: %s" % reason)

    def _got_schema(self, json):
        schema = DatabaseSchema.from_json(json)
        if self.replica is None:
            table_columns = self.table_columns
            if table_columns is ALL:
                table_columns = {table: None for table in sorted(schema.tables)}
            self.replica = Replica(schema, table_columns)
        else:
            self.replica.use_schema(schema)

    def _member_answered(self, result):
        """A usable member answered: the settle timeout is for servers that answer nothing.  Its
        sync will come, however long a large database takes to send and apply (50 000 ports: about
        5 s), or this attempt fails (the request timeout); either settles the connection."""
        self._cancel_settle_timer()
        return result

    def _monitor_started(self, started, protocol):
        # The initial contents (or a resync) allocate objects that stay (rows, and the objects
        # observers build from them): the cyclic collector, run every few hundred allocations,
        # would walk the growing heap over and over.  It is paused while they are applied and
        # followed; then, for a large database, what is there is moved out of its sight for
        # good (gc.freeze), so that its full collections never walk the thousands of rows again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._apply_monitor_reply(started, protocol)
        finally:
            if collecting:
                gc.enable()
                if self.replica is not None and sum(map(len, self.replica.tables.values())) >= FREEZE_AT_ROWS:
                    gc.freeze()
        if self._protocol is protocol:
            self._settle()   # after the collector is back: whoever waits may carry on as usual

    def _apply_monitor_reply(self, started, protocol):
        if started.found:
            changes = self.replica.apply_update(started.initial, started.version)
        else:
            changes = self.replica.resync(started.initial, started.version)
        self._last_txn_id = started.last_txn_id
        self._failed_preparations = 0
        self._attempts_since_sync = 0
        self._protocol = protocol
        protocol.on_disconnect.addCallback(self._lost, protocol)
        self.log.info("connected to ovsdb-server {member}{role} ({method}{history}), {n} changes since last sync",
                      member=protocol.member, role="" if protocol.verdict.leader else " (a follower)",
                      method=started.method, history=", from its history" if started.found else "", n=len(changes))
        self._notify(changes)
        self._notify_state(True)
        self._notify_member()
        waiters, self._sync_waiters = self._sync_waiters, []
        for d, timer in waiters:
            timer.cancel()
            d.callback(None)

    def _lost(self, reason, protocol):
        if protocol is self._protocol:
            self._protocol = None
            if self.running:
                self.log.warn("lost connection to ovsdb-server; reconnecting")
            self._notify_state(False)
            self._notify_member()
            self._fail_change_waiters()

    def _fail_change_waiters(self):
        waiters, self._change_waiters = self._change_waiters, {}
        for d, timer in waiters.items():
            if timer.active():
                timer.cancel()
            d.errback(Disconnected("connection to ovsdb-server lost"))

    def _update_received(self, protocol, monitor_id, updates, version, last_txn_id):
        if monitor_id == SERVER_MONITOR_ID:
            self._server_update(protocol, updates, version)
            return
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

        A transaction the member refused before executing it (it certainly did not commit:
        :func:`ovsdbus.ovsdb.cluster.certainly_not_committed`) makes ovsdbus leave that member
        and send it again once synced with the next one, within the same ``timeout``; if no
        member is usable by then it fails with Disconnected.
        """
        if self._protocol is None:
            return defer.fail(Disconnected("not connected to ovsdb-server"))
        protocol = self._protocol
        deadline = self.clock.seconds() + (self.request_timeout if timeout is None else timeout)
        d = protocol.transact(self.database, operations, timeout=timeout)
        d.addErrback(self._refused_before_commit, protocol, operations, deadline)
        return d

    def _refused_before_commit(self, failure, protocol, operations, deadline):
        if not (failure.check(RpcError) and cluster.certainly_not_committed(failure.value)):
            return failure
        self.leave(protocol, "it refused a transaction (%s)" % failure.value)
        remaining = deadline - self.clock.seconds()
        if remaining <= 0 or not self.running:
            raise Disconnected("ovsdb-server %s refused the transaction (%s), and it was not committed"
                               % (protocol.member, failure.value))
        d = self._wait_for_sync(remaining)
        d.addCallback(lambda _: self.transact(operations, timeout=max(deadline - self.clock.seconds(), 0.001)))
        return d

    def _wait_for_sync(self, timeout):
        """A Deferred firing once synced again, or failing with Disconnected after ``timeout`` s."""
        d = defer.Deferred()

        def expired():
            self._sync_waiters = [(w, t) for w, t in self._sync_waiters if w is not d]
            d.errback(Disconnected("no usable ovsdb-server within the timeout; the transaction was not committed"))

        self._sync_waiters.append((d, self.clock.callLater(timeout, expired)))
        return d

    def _fail_sync_waiters(self, error):
        waiters, self._sync_waiters = self._sync_waiters, []
        for d, timer in waiters:
            if timer.active():
                timer.cancel()
            d.errback(error)
