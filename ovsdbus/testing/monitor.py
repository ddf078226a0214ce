"""Monitors of the fake: ``monitor``, ``monitor_cond`` and ``monitor_cond_since`` requests, and the
``update``/``update2``/``update3`` notifications each commit causes.

Part of the fake OVSDB: use it through :mod:`ovsdbus.testing`.
"""

import collections

from ovsdbus.testing.datum import OpError, diff, encode
from ovsdbus.testing.where import no_named_uuids, parse_where

_SELECT_KINDS = ("initial", "insert", "delete", "modify")


class _TableMonitor:
    """What one monitor watches in one table."""

    def __init__(self, table):
        self.table = table
        self.columns = collections.OrderedDict()   # column -> frozenset of select kinds
        self.select = set()
        self.where = None                          # None: no condition given yet
        self.where_given = False

    def matches(self, row):
        if row is None:
            return False
        if not self.where:
            return True
        return any(clause.matches(row) for clause in self.where)

    def row_update(self, version, old, new, initial, matches=None):
        """The ``<row-update>`` (version 1) or ``<row-update2>`` for one row, or None.

        ``matches`` overrides the condition: (old row matched, new row matches).
        """
        if version == 1:
            kind = "initial" if initial else ("insert" if old is None else
                                              "delete" if new is None else "modify")
        else:
            if matches is None:
                matches = (self.matches(old), self.matches(new))
            kind = self._kind2(old, new, initial, *matches)
            if kind is None:
                return None
        if kind not in self.select:
            return None
        table = self.table
        changed = set()
        if kind == "modify":
            changed = {c for c in self.columns if old[c] != new[c]}
            if not changed:
                return None
        if version == 1:
            update = {}
            if kind in ("delete", "modify"):
                update["old"] = {c: encode(table.column_type(c), old[c]) for c, kinds in
                                 self.columns.items() if kind in kinds and (kind == "delete" or c in changed)}
            if kind != "delete":
                update["new"] = {c: encode(table.column_type(c), new[c])
                                 for c, kinds in self.columns.items() if kind in kinds}
            return update
        if kind == "delete":
            return {"delete": None}
        body = {}
        for column, kinds in self.columns.items():
            if kind not in kinds:
                continue
            ctype = table.column_type(column)
            if kind == "modify":
                if column in changed:
                    body[column] = diff(ctype, old[column], new[column])
            elif column in ("_uuid", "_version") or new[column] != ctype.default():
                body[column] = encode(ctype, new[column])
        return {kind: body}

    @staticmethod
    def _kind2(old, new, initial, old_match, new_match):
        if initial:
            return "initial" if new_match else None
        if old is None:
            return "insert" if new_match else None
        if new is None:
            return "delete" if old_match else None
        if not old_match and not new_match:
            return None
        return "insert" if not old_match else "delete" if not new_match else "modify"


def parse_monitor_requests(db, requests, conditional):
    """Parse ``<monitor-requests>``; return {table: _TableMonitor} or raise OpError."""
    if not isinstance(requests, dict):
        raise OpError("syntax error", "monitor-requests must be object", requests)
    tables = collections.OrderedDict()
    for name, value in requests.items():
        if name not in db.schema.tables:
            raise OpError("syntax error", "no table named %s" % name)
        table = db.schema.tables[name]
        monitor = tables[name] = _TableMonitor(table)
        for request in (value if isinstance(value, list) else [value]):
            _parse_monitor_request(table, monitor, request, conditional)
    return tables


def _parse_monitor_request(table, monitor, request, conditional):
    where_prefix = "Parsing table %s failed: " % table.name
    if not isinstance(request, dict):
        raise OpError("syntax error", where_prefix + "Object expected.", request)
    allowed = ("columns", "select", "where") if conditional else ("columns", "select")
    types = {"columns": list, "select": dict, "where": list}
    for member in allowed:
        if member in request and not isinstance(request[member], types[member]):
            raise OpError("syntax error", where_prefix + "Type mismatch for member '%s'." % member,
                          request)
    for member in sorted(request):
        if member not in allowed:
            raise OpError("syntax error",
                          where_prefix + "Member '%s' is present but not allowed here." % member, request)
    kinds = set(_SELECT_KINDS)
    select = request.get("select")
    if select is not None:
        select_prefix = "Parsing table %s select failed: " % table.name
        for member in sorted(select):
            if member not in _SELECT_KINDS:
                raise OpError("syntax error", select_prefix
                              + "Member '%s' is present but not allowed here." % member, select)
            if not isinstance(select[member], bool):
                raise OpError("syntax error", select_prefix + "Type mismatch for member '%s'." % member,
                              select)
            if not select[member]:
                kinds.discard(member)
    kinds = frozenset(kinds)
    monitor.select |= kinds
    columns_json = request.get("columns")
    if columns_json is None:
        columns = [c for c in table.columns] + ["_version"]
    else:
        columns = columns_json
    for column in columns:
        if not isinstance(column, str):
            raise OpError("syntax error", "array of column names expected", columns_json)
        if column not in table.columns and column not in ("_uuid", "_version"):
            raise OpError("syntax error", "%s is not a valid column name" % column, columns_json)
        if column in monitor.columns:
            if columns_json is None:
                raise OpError("syntax error", "column %s mentioned more than once" % column)
            raise OpError("syntax error", "column %s mentioned more than once" % column, columns_json)
        monitor.columns[column] = kinds
    if conditional and not monitor.where_given:
        monitor.where_given = True
        where = request.get("where")
        if where is not None:
            monitor.where = parse_where(table, where, no_named_uuids)


class Monitor:
    """One client's monitor: its id, version (1, 2 or 3) and tables."""

    METHODS = {1: "update", 2: "update2", 3: "update3"}

    def __init__(self, protocol, db, monitor_id, version, tables):
        self.protocol = protocol
        self.db = db
        self.monitor_id = monitor_id
        self.version = version
        self.tables = tables

    def compose(self, changes, initial=False):
        """``<table-updates>`` (or ``<table-updates2>``) for ``changes``; {} when nothing."""
        updates = {}
        for name, row_uuid, old, new in changes:
            monitor = self.tables.get(name)
            if monitor is None:
                continue
            update = monitor.row_update(self.version, old, new, initial)
            if update is not None:
                updates.setdefault(name, {})[row_uuid] = update
        return updates

    def initial(self):
        """The initial contents for the reply to the monitor request."""
        rows = [(name, u, None, row) for name in self.tables for u, row in self.db._tables[name].items()]
        return self.compose(rows, initial=True)

    def change_conditions(self, conditions):
        """Give the tables in ``conditions`` (``{table: parsed where}``) their new condition and
        send, as ``insert`` and ``delete``, the rows that start or stop matching
        (``monitor_cond_change``).  A version 1 monitor has no conditions: nothing changes."""
        if self.version == 1:
            return
        updates = {}
        for name, where in conditions.items():
            table_monitor = self.tables.get(name)
            if table_monitor is None:
                continue
            rows = self.db._tables[name]
            before = {u for u, row in rows.items() if table_monitor.matches(row)}
            table_monitor.where = where
            for row_uuid, row in rows.items():
                was, now = row_uuid in before, table_monitor.matches(row)
                if was == now:
                    continue
                update = table_monitor.row_update(2, row, row, False, matches=(was, now))
                if update is not None:
                    updates.setdefault(name, {})[row_uuid] = update
        self.send(updates, self.db.last_txn_id)

    def send(self, updates, txn_id):
        """Send ``updates`` (if any) as this monitor's update notification."""
        if not updates:
            return
        params = [self.monitor_id, updates]
        if self.version == 3:
            params = [self.monitor_id, txn_id, updates]
        self.protocol.notify(self.METHODS[self.version], params)

    def committed(self, changes, txn_id):
        """Commit listener: send what a commit changed that this monitor watches."""
        self.send(self.compose(changes), txn_id)
