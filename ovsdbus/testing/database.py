"""The fake's database: :class:`FakeOvsdb`, an in-memory OVSDB built from a schema.

It runs transactions (:mod:`ovsdbus.testing.transaction`) and commits them, holds the
transactions whose ``wait`` does not hold yet (ovsdb-server's triggers), tells commit listeners
(the monitors) about every commit, keeps a transaction history when asked to, and reads rows
back as Python values.  Also here: the ``_Server`` database a server describes itself with, and
seeding an Open_vSwitch database.  Part of the fake OVSDB: use it through :mod:`ovsdbus.testing`.
"""

import collections
import json

from twisted.internet import defer

from ovsdbus.ovsdb.schema import ZERO_UUID, DatabaseSchema
from ovsdbus.testing.datum import OpError, encode, new_uuid
from ovsdbus.testing.transaction import Blocked, Transaction
from ovsdbus.vswitch import VSWITCH_SCHEMA_PATH

#: The schema :meth:`FakeOvsdb.from_file` and :meth:`FakeOvsdb.open_vswitch` load by default.
DEFAULT_SCHEMA_PATH = VSWITCH_SCHEMA_PATH


def add_bridge_operations(name, **bridge_columns):
    """Raw operations equivalent to ``ovs-vsctl add-br NAME``: a Bridge with a local Port and
    an ``internal`` Interface of its name, linked from Open_vSwitch (for seeding a database)."""
    row = {"name": name, "ports": ["named-uuid", "port"]}
    row.update(bridge_columns)
    return [
        {"op": "insert", "table": "Interface", "row": {"name": name, "type": "internal"},
         "uuid-name": "iface"},
        {"op": "insert", "table": "Port", "row": {"name": name, "interfaces": ["named-uuid", "iface"]},
         "uuid-name": "port"},
        {"op": "insert", "table": "Bridge", "row": row, "uuid-name": "bridge"},
        {"op": "mutate", "table": "Open_vSwitch", "where": [],
         "mutations": [["bridges", "insert", ["named-uuid", "bridge"]]]},
    ]


class _Trigger:
    """A transaction waiting for its ``wait`` operations to hold (ovsdb-server's trigger)."""

    def __init__(self, ops, clock, session):
        self.ops = ops
        self.clock = clock
        self.session = session
        self.created = clock.seconds()
        self.timer = None
        self.deferred = None


class FakeOvsdb:
    """An in-memory OVSDB database built from a schema (the parsed JSON of an .ovsschema).

    :param schema_json: the schema, as ``get_schema`` returns it or as in a schema file.
    :param keep_history: keep a transaction history like a clustered server, so that
        ``monitor_cond_since`` can answer ``found`` true; the default behaves like a
        standalone server (no history, every transaction id is the all-zero uuid).
    :param history_size: number of transactions kept when ``keep_history`` is true.

    Rows are dicts of column name to the Python value described in
    :mod:`ovsdbus.ovsdb.schema`, plus ``"_uuid"`` and ``"_version"`` (uuid strings).
    """

    def __init__(self, schema_json, keep_history=False, history_size=1000):
        self.schema_json = schema_json
        self.schema = DatabaseSchema.from_json(schema_json)
        self.name = self.schema.name
        self.keep_history = keep_history
        self.last_txn_id = ZERO_UUID
        self._history = collections.deque(maxlen=history_size)
        self._tables = {name: {} for name in self.schema.tables}
        self._listeners = []
        self._triggers = []
        self._running_triggers = False
        self._triggers_dirty = False
        self._commit_failures = []
        self._strong_columns = {}
        self._weak_columns = {}
        for name, table in self.schema.tables.items():
            strong, weak = [], []
            for column, col_schema in table.columns.items():
                ctype = col_schema.type
                bases = [ctype.key] + ([ctype.value] if ctype.value is not None else [])
                if any(b.ref_table and b.ref_type == "strong" for b in bases):
                    strong.append((column, ctype))
                if any(b.ref_table and b.ref_type == "weak" for b in bases):
                    weak.append((column, ctype))
            self._strong_columns[name] = strong
            self._weak_columns[name] = weak

    @classmethod
    def from_file(cls, path=DEFAULT_SCHEMA_PATH, **kwargs):
        """Load the schema from ``path`` (default: the installed vswitch.ovsschema)."""
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f), **kwargs)

    @classmethod
    def open_vswitch(cls, path=DEFAULT_SCHEMA_PATH, init=True, **kwargs):
        """An Open_vSwitch database from the schema at ``path``, initialised like
        ``ovs-vsctl init`` unless ``init`` is false."""
        db = cls.from_file(path, **kwargs)
        if init:
            db.init_open_vswitch()
        return db

    def init_open_vswitch(self):
        """Do what ``ovs-vsctl init`` does: insert the Open_vSwitch row if there is none.

        Returns the uuid of the (new or existing) row.
        """
        existing = list(self._tables["Open_vSwitch"])
        if existing:
            return existing[0]
        result = self.transact([{"op": "insert", "table": "Open_vSwitch", "row": {}}])
        return result[0]["uuid"][1]

    # -- transactions ------------------------------------------------------------

    def transact(self, ops):
        """Run a transaction (a list of operations in wire form) and return the result list.

        Exactly what a ``transact`` request would answer, except that nothing can wait:
        a ``wait`` with a non-zero timeout that does not hold yet answers "not supported".
        Monitors see the changes, as if another client had made them.
        """
        return self._execute(ops)

    def transact_deferred(self, ops, clock, session=None):
        """Run a transaction that may wait: return a Deferred firing with the result list.

        ``wait`` operations that do not hold yet keep the transaction pending; it is
        retried after every commit and fails with "timed out" when a wait's timeout
        (milliseconds on ``clock``) expires.  Cancelling the Deferred drops it (and its
        timer: cancel what is still pending before a test ends).
        """
        trigger = _Trigger(ops, clock, session)
        trigger.deferred = defer.Deferred(lambda d: self._drop_trigger(trigger))
        if not self._attempt(trigger):
            self._triggers.append(trigger)
        return trigger.deferred

    def fail_next_commit(self, error="I/O error", details=None):
        """Make the next transaction that changes something fail at commit time.

        Its results then end with ``{"error": error, "details": details}`` and nothing
        changes, like a disk failure on ovsdb-server.
        """
        self._commit_failures.append(OpError(error, details))

    def _execute(self, ops, now=None, created=None, session=None):
        txn = Transaction(self, now, created, session)
        results, ok = txn.execute(ops)
        if not ok:
            return results
        error = txn.precommit()
        if error is None and self._commit_failures and txn.changes():
            error = self._commit_failures.pop(0)
        if error is not None:
            results.append(error.to_json())
            return results
        self._commit(txn)
        return results

    def _commit(self, txn):
        changes = []
        for name, row_uuid, old, new in txn.changes():
            if new is not None:
                new = dict(new)
                new["_version"] = new_uuid()
                txn.tables[name][row_uuid] = new
            changes.append((name, row_uuid, old, new))
        if not changes:
            return
        self._tables = txn.tables
        txn_id = ZERO_UUID
        if self.keep_history:
            txn_id = new_uuid()
            self._history.append((txn_id, changes))
        self.last_txn_id = txn_id
        for listener in list(self._listeners):
            listener(changes, txn_id)
        self._run_triggers()

    # -- triggers (waiting transactions) -----------------------------------------

    def _attempt(self, trigger):
        """Try a waiting transaction; True if it completed (its Deferred has fired)."""
        try:
            results = self._execute(trigger.ops, trigger.clock.seconds(), trigger.created,
                                    trigger.session)
        except Blocked as blocked:
            self._arm_trigger_timer(trigger, blocked.timeout_ms)
            return False
        if trigger in self._triggers:
            self._triggers.remove(trigger)
        if trigger.timer is not None and trigger.timer.active():
            trigger.timer.cancel()
        trigger.timer = None
        trigger.deferred.callback(results)
        return True

    def _arm_trigger_timer(self, trigger, timeout_ms):
        if trigger.timer is not None and trigger.timer.active():
            trigger.timer.cancel()
        trigger.timer = None
        if timeout_ms is None:
            return
        delay = max(0.0, trigger.created + timeout_ms / 1000.0 - trigger.clock.seconds())
        trigger.timer = trigger.clock.callLater(delay, self._trigger_timed_out, trigger)

    def _trigger_timed_out(self, trigger):
        trigger.timer = None
        if trigger in self._triggers:
            self._attempt(trigger)

    def _drop_trigger(self, trigger):
        if trigger in self._triggers:
            self._triggers.remove(trigger)
        if trigger.timer is not None and trigger.timer.active():
            trigger.timer.cancel()
        trigger.timer = None

    def _run_triggers(self):
        if self._running_triggers:
            self._triggers_dirty = True
            return
        self._running_triggers = True
        try:
            while True:
                self._triggers_dirty = False
                for trigger in list(self._triggers):
                    if trigger in self._triggers:
                        self._attempt(trigger)
                if not self._triggers_dirty:
                    break
        finally:
            self._running_triggers = False

    @property
    def pending_transactions(self):
        """Number of transactions waiting for a ``wait`` operation to hold."""
        return len(self._triggers)

    # -- change listeners and history ---------------------------------------------

    def add_commit_listener(self, listener):
        """Call ``listener(changes, txn_id)`` after each commit.

        ``changes`` is a list of ``(table, uuid, old_row, new_row)``; ``old_row`` is
        None for an insertion, ``new_row`` None for a deletion.  Do not mutate the rows.
        """
        self._listeners.append(listener)

    def remove_commit_listener(self, listener):
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def history(self):
        """The transaction ids kept (oldest first); empty unless ``keep_history``."""
        return [txn_id for txn_id, _ in self._history]

    def changes_since(self, txn_id):
        """Net changes committed after transaction ``txn_id``, or None if it is unknown.

        Only a database with ``keep_history`` knows any transaction.
        """
        if not self.keep_history or txn_id == ZERO_UUID:
            return None
        ids = self.history
        if txn_id not in ids:
            return None
        merged = collections.OrderedDict()
        for _, changes in list(self._history)[ids.index(txn_id) + 1:]:
            for name, row_uuid, old, new in changes:
                if (name, row_uuid) in merged:
                    old = merged[(name, row_uuid)][2]
                merged[(name, row_uuid)] = (name, row_uuid, old, new)
        return [c for c in merged.values() if c[2] is not None or c[3] is not None]

    # -- reading -------------------------------------------------------------------

    def rows(self, table):
        """All rows of ``table``: a dict of uuid to row (copies)."""
        return {u: _copy_row(row) for u, row in self._tables[table].items()}

    def row(self, table, row_uuid):
        """The row of ``table`` with uuid ``row_uuid`` (a copy), or None."""
        row = self._tables[table].get(row_uuid)
        return None if row is None else _copy_row(row)

    def find(self, table, **columns):
        """Rows of ``table`` whose columns equal the given Python values (copies).

        ``db.find("Bridge", name="br0")`` → ``[{"name": "br0", ...}]``.
        """
        return [_copy_row(row) for row in self._tables[table].values()
                if all(row[c] == v for c, v in columns.items())]

    def dump(self):
        """The whole database in wire form: ``{table: {uuid: {column: value}}}``."""
        result = {}
        for name, rows in self._tables.items():
            table = self.schema.tables[name]
            result[name] = {u: {c: encode(table.column_type(c), row[c]) for c in row}
                            for u, row in rows.items()}
        return result


def _copy_row(row):
    return {c: dict(v) if isinstance(v, dict) else v for c, v in row.items()}


def _server_schema_json():
    """The ``_Server`` schema as ovsdb-server 3.1 serves it (observed on the wire)."""
    return {
        "name": "_Server",
        "version": "1.2.0",
        "cksum": "3009684573 744",
        "tables": {"Database": {"columns": {
            "name": {"type": "string"},
            "model": {"type": {"key": {"type": "string",
                                       "enum": ["set", ["clustered", "relay", "standalone"]]}}},
            "connected": {"type": "boolean"},
            "leader": {"type": "boolean"},
            "schema": {"type": {"key": "string", "min": 0}},
            "sid": {"type": {"key": "uuid", "min": 0}},
            "cid": {"type": {"key": "uuid", "min": 0}},
            "index": {"type": {"key": "integer", "min": 0}},
        }}},
    }


def make_server_database(databases):
    """A ``_Server`` database describing ``databases`` as a standalone server does:
    one Database row each, model "standalone", connected and leader."""
    server = FakeOvsdb(_server_schema_json())
    ops = [{"op": "insert", "table": "Database",
            "row": {"name": db.name, "model": "standalone", "connected": True, "leader": True,
                    "schema": json.dumps(db.schema_json)}}
           for db in databases]
    server.transact(ops + [{"op": "insert", "table": "Database",
                            "row": {"name": "_Server", "model": "standalone", "connected": True,
                                    "leader": True, "schema": json.dumps(server.schema_json)}}])
    return server
