"""The replica: a monitor-fed, in-memory copy of selected OVSDB tables.

Pure data, no I/O but warnings to the log: :meth:`Replica.apply_update` applies one ``update``/``update2``
notification (or a monitor's initial contents) and :meth:`Replica.resync`
replaces the whole contents with a fresh snapshot; both apply everything before
returning, and return the list of :class:`RowChange` it made, in order, for the
caller to notify observers with.

A row is a ``dict`` of column name to Python value (see :mod:`ovsdbus.ovsdb.schema`)
holding the monitored columns; rows are replaced, never mutated, so a row handed
out stays as it was.

What the server sends is checked, and the replica never silently differs from it.
An update that cannot be applied exactly raises :class:`~ovsdbus.ovsdb.errors.ProtocolError`
naming the table, row and column, and leaves the replica as it was (the caller,
:class:`~ovsdbus.ovsdb.connection.OvsdbConnection`, then logs it, drops the connection and
resyncs from a fresh snapshot):

* a table or column the schema does not have, a row key that is not a uuid;
* a row entry of the wrong shape, a value the column's type cannot hold (wrong atom
  type, a scalar with no value, a repeated set element or map key, a named uuid, an
  integer beyond 64 bits);
* an insert (or ``initial``) of a row already held, a modify or delete of a row not held,
  a version 1 ``old`` value that differs from the row held;
* a strong reference from a monitored column to a row of a monitored table that does
  not exist once the whole update is applied, including a deleted row that something
  still refers to strongly.  ovsdb-server checks strong references at every commit, and
  each update carries whole transactions, so after each update every strong reference
  resolves.  References into tables that are not monitored are not checked.

Weak references are not checked: ovsdb-server (3.1) removes weak references to deleted
rows table by table in the order the transaction first touched the tables, and leaves
a weak reference dangling when the transaction changed the referring row before it
deleted (or garbage-collected) the target.  The replica keeps such a reference as the
server holds it; the projection shows no object for it.

Harmless surprises are logged as warnings (once per table, or table and column, for
each schema the replica is given, i.e. for each connection) and do not drop the
connection, because the monitored copy stays exact and a resync would bring back the
same data:

* rows of a table, or values of a column, that exist in the schema but were not asked
  for: they are ignored;
* a value of the right type that breaks the schema's constraints (enum, range, string
  length, number of elements): it is kept as the server sent it.
"""

from operator import itemgetter
from typing import NamedTuple

from twisted.logger import Logger

from ovsdbus.ovsdb.errors import ProtocolError
from ovsdbus.ovsdb.schema import UUID, SchemaError, canonical_uuid, is_uuid

INSERT, DELETE, MODIFY = "insert", "delete", "modify"

_ABSENT = object()
_ROW_COLUMNS = ("_uuid", "_version")
_MAX_TEXT = 300   # characters of a peer's value quoted in a log message


def _short(value):
    """``str(value)`` cut to a length fit for a log line (a peer may send megabytes)."""
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


class RowChange(NamedTuple):
    """One row's change: ``kind`` is insert, delete or modify; ``old``/``new`` are the
    row before and after (``None`` for a row that did not exist)."""

    kind: str
    table: str
    uuid: str
    old: dict
    new: dict


def _has_constraints(ctype):
    """True if values of ``ctype`` can break a constraint beyond their type."""
    for base in (ctype.key, ctype.value):
        if base is not None and any(x is not None for x in (base.enum, base.min, base.max,
                                                            base.min_length, base.max_length)):
            return True
    if ctype.is_scalar or ctype.is_optional:
        return False
    return ctype.min > 0 or ctype.max is not None


def _index_key(index):
    """``row -> key`` of a unique index (a tuple of column names) in the replica's index tables: the
    value of its one column, or the tuple of the values of its columns."""
    return itemgetter(*index)


def _reference_differ(ctype, key_table, value_table):
    """A function ``(old, new) -> (removed, added)``: the ``(table, uuid)`` references that a
    value of ``ctype`` going from ``old`` to ``new`` (either may be ``_ABSENT``) drops and adds.

    Only the difference is visited, so that adding one port to a bridge of thousands costs
    what the set operation costs.
    """
    if ctype.is_map:
        def refs(pairs):
            result = []
            for k, v in pairs:
                if key_table is not None:
                    result.append((key_table, k))
                if value_table is not None:
                    result.append((value_table, v))
            return result

        def differ(old, new):
            old_items = () if old is _ABSENT else old.items()
            new_items = () if new is _ABSENT else new.items()
            if old is _ABSENT or new is _ABSENT:
                return refs(old_items), refs(new_items)
            return refs(old_items - new_items), refs(new_items - old_items)
    elif ctype.is_scalar or ctype.is_optional:
        def differ(old, new):
            removed = [] if old is _ABSENT or old is None else [(key_table, old)]
            added = [] if new is _ABSENT or new is None else [(key_table, new)]
            return removed, added
    else:
        def differ(old, new):
            old = frozenset() if old is _ABSENT else old
            new = frozenset() if new is _ABSENT else new
            # One pass over the set in the usual case (elements only added, or only removed):
            # the sizes tell whether the other difference is empty.
            if len(new) >= len(old):
                added = new - old
                removed = old - new if len(new) - len(added) != len(old) else ()
            else:
                removed = old - new
                added = new - old if len(old) - len(removed) != len(new) else ()
            return [(key_table, u) for u in removed], [(key_table, u) for u in added]
    return differ


class Replica:
    """The copy of ``table_columns`` (``{table: [column, ...]}``) of a database.

    Unique indexes of the schema whose columns are all monitored are kept up to date,
    so :meth:`find` answers by index without scanning.
    """

    log = Logger()

    def __init__(self, schema, table_columns):
        self._wanted = table_columns
        self.tables = {t: {} for t in table_columns}
        self._table_names = {t: t for t in self.tables}
        #: Incremented by every call that changed anything.
        self.generation = 0
        # {(table, uuid, column): (old value, new value, removed, added)} of the set columns the
        # last update's diffs changed (see element_changes); filled while decoding.
        self._element_diffs = {}
        self._decoded_diffs = {}
        self.use_schema(schema)

    def use_schema(self, schema):
        """Decode with ``schema`` from now on (the server's, read again after every reconnect).

        Raises SchemaError, keeping the old one, if it lacks a table or column the replica
        mirrors; indexes are rebuilt from the rows held.
        """
        missing = [t for t in self._wanted if t not in schema.tables]
        if missing:
            raise SchemaError("database %s has no table %s" % (schema.name, ", ".join(missing)))
        table_columns = {}
        for table, columns in self._wanted.items():
            tschema = schema.tables[table]
            if columns is None:
                columns = sorted(tschema.columns)
            unknown = [c for c in columns if c not in tschema.columns]
            if unknown:
                raise SchemaError("table %s has no column %s" % (table, ", ".join(unknown)))
            table_columns[table] = list(columns)
        indexes = {}
        for table, columns in table_columns.items():
            for index in schema.tables[table].indexes:
                if all(c in columns for c in index):
                    # Keyed by the value itself for an index of one column (a name), else by the
                    # tuple of values (see _index_key): no tuple per row for the usual index.
                    key_of = _index_key(index)
                    indexes[(table, index)] = {key_of(row): uuid for uuid, row in self.tables[table].items()}
        references = {}
        constrained = {}
        for table, columns in table_columns.items():
            readers = []
            for column in columns:
                ctype = schema.tables[table].columns[column].type
                targets = [b.ref_table if b is not None and b.type == UUID and b.ref_table in self.tables
                           and b.ref_type == "strong" else None for b in (ctype.key, ctype.value)]
                if any(targets):
                    # A set's references: the elements a diff removed and added are its changes.
                    elements_of = targets[0] if not ctype.is_map and ctype.max != 1 else None
                    readers.append((column, _reference_differ(ctype, *targets), elements_of))
            if readers:
                references[table] = readers
            constrained[table] = frozenset(c for c in columns
                                           if _has_constraints(schema.tables[table].columns[c].type))
        self.schema = schema
        self.table_columns = table_columns
        self._indexes = indexes
        #: ``{table: [(index columns, {key: uuid})]}``: the indexes :meth:`_commit` keeps, by table.
        self._table_indexes = {table: [(_index_key(index), entries) for (t, index), entries in indexes.items()
                                       if t == table]
                               for table in table_columns}
        #: ``{(table, sorted index columns): (key of values, {key: uuid})}``: what :meth:`find` looks up.
        self._finders = {(table, tuple(sorted(index))): (_index_key(index), entries)
                         for (table, index), entries in indexes.items()}
        #: ``{table: {column: decoder}}`` of the monitored columns (see ColumnType.decoder).
        self._decoders = {table: {c: schema.tables[table].columns[c].type.decoder() for c in columns}
                          for table, columns in table_columns.items()}
        self._references = references
        self._constrained = constrained
        self._default_rows = {}
        self._warned = set()
        self._referenced = {t: {} for t in self.tables}
        for table, differs in references.items():
            for row in self.tables[table].values():
                for column, differ, _ in differs:
                    for key in differ(_ABSENT, row[column])[1]:
                        counts = self._referenced[key[0]]
                        counts[key[1]] = counts.get(key[1], 0) + 1

    # -- reading -----------------------------------------------------------

    def rows(self, table):
        """``{uuid: row}`` of ``table`` (do not modify)."""
        return self.tables[table]

    def row(self, table, uuid):
        """The row ``uuid`` of ``table``, or ``None``."""
        return self.tables[table].get(uuid)

    def element_changes(self, change, column):
        """``(removed, added)``: the elements set column ``column`` lost and gained in ``change``.

        For a change of the update last applied they are the diff ovsdb-server sent, recorded
        while applying it (so adding one port to a bridge of thousands costs nothing here); for
        any other change (an insert, a delete, a resync's differences) they are computed from
        the old and new values.
        """
        old = frozenset() if change.old is None else change.old[column]
        new = frozenset() if change.new is None else change.new[column]
        recorded = self._element_diffs.get((change.table, change.uuid, column))
        if recorded is not None and recorded[0] is old and recorded[1] is new:
            return recorded[2], recorded[3]
        if old is new:
            return (), ()
        return old - new, new - old

    def find(self, table, **values):
        """The uuid of the row whose unique index columns equal ``values``, or ``None``.

        Uses the schema's index on exactly those columns when there is one, else scans.
        """
        finder = self._finders.get((table, tuple(values) if len(values) == 1 else tuple(sorted(values))))
        if finder is not None:
            key_of, entries = finder
            return entries.get(key_of(values))
        for uuid, row in self.tables[table].items():
            if all(row.get(c) == v for c, v in values.items()):
                return uuid
        return None

    # -- updating ----------------------------------------------------------

    def apply_update(self, table_updates, version):
        """Apply table updates of format ``version`` (1: ``update``; 2: ``update2``/``update3``).

        Returns the list of :class:`RowChange`.  Raises ProtocolError, leaving the
        replica unchanged, if the update does not fit the schema or the rows held
        (see the module's documentation).
        """
        changes = self._decode(table_updates, version, self.tables)
        counts = self._check_references(changes)
        self._commit(changes, counts)
        self._element_diffs = self._decoded_diffs
        return changes

    def resync(self, table_updates, version):
        """Replace the contents with a full snapshot; return the changes from the old contents.

        After a reconnect a standalone ovsdb-server sends everything again; rows that
        did not change produce no :class:`RowChange`.  A snapshot that does not fit
        raises ProtocolError and changes nothing, as in :meth:`apply_update`.
        """
        fresh = self._decode(table_updates, version, {t: {} for t in self.tables})
        if not any(self.tables.values()):
            # The first sync: every row is new.  In the order the comparison below gives (the
            # replica's tables in turn, each in the order the server sent it).
            by_table = {t: [] for t in self.tables}
            for change in fresh:
                by_table[change.table].append(change)
            del fresh
            changes = [change for rows in by_table.values() for change in rows]
            del by_table
            counts = self._check_references(changes)
            self._commit(changes, counts)
            self._element_diffs = {}
            return changes
        new_tables = {t: {} for t in self.tables}
        for change in fresh:
            new_tables[change.table][change.uuid] = change.new
        changes = []
        for table, old_rows in self.tables.items():
            new_rows = new_tables[table]
            for uuid, old in old_rows.items():
                new = new_rows.get(uuid)
                if new is None:
                    changes.append(RowChange(DELETE, table, uuid, old, None))
                elif new != old:
                    changes.append(RowChange(MODIFY, table, uuid, old, new))
            for uuid, new in new_rows.items():
                if uuid not in old_rows:
                    changes.append(RowChange(INSERT, table, uuid, None, new))
        counts = self._check_references(changes)
        self._commit(changes, counts)
        self._element_diffs = {}
        return changes

    def _decode(self, table_updates, version, base):
        """Turn wire updates into RowChanges against ``base`` without changing anything."""
        if not isinstance(table_updates, dict):
            raise ProtocolError("table updates are not an object")
        decode = self._decode_v1 if version == 1 else self._decode_v2
        changes = []
        self._decoded_diffs = {}
        names = self._table_names
        for table, row_updates in table_updates.items():
            if table not in self.tables:
                self._unmonitored_table(table)
                continue
            table = names[table]   # the replica's own string, not the parser's (see schema.detached)
            if not isinstance(row_updates, dict):
                raise ProtocolError("table %s: its row updates are not an object" % table)
            current = base[table]
            seen = set()
            for uuid, update in row_updates.items():
                if not is_uuid(uuid):
                    raise ProtocolError("table %s: row key %s is not a uuid" % (table, _short(repr(uuid))))
                uuid = canonical_uuid(uuid)   # not the parser's string (see schema.detached)
                if uuid in seen:
                    raise ProtocolError("table %s: row %s is updated twice" % (table, uuid))
                seen.add(uuid)
                try:
                    changes.append(decode(table, uuid, update, current.get(uuid)))
                except (ValueError, TypeError, OverflowError) as e:   # SchemaError is a ValueError
                    raise ProtocolError("table %s, row %s: %s" % (table, uuid, _short(e))) from e
        return changes

    def _unmonitored_table(self, table):
        if table not in self.schema.tables:
            raise ProtocolError("update for table %s, which database %s does not have"
                                % (_short(repr(table)), self.schema.name))
        self._warn_once((table,), "ovsdb-server sent rows of table {table}, which is not monitored; "
                                  "ignored", table=table)

    def _unmonitored_column(self, table, uuid, column):
        if column not in self.schema.tables[table].columns and column not in _ROW_COLUMNS:
            raise ProtocolError("table %s, row %s: table %s has no column %s"
                                % (table, uuid, table, _short(repr(column))))
        self._warn_once((table, column), "ovsdb-server sent column {column} of table {table}, which is "
                                         "not monitored; ignored", table=table, column=column)

    def _warn_once(self, key, format, **kwargs):
        if key not in self._warned:
            self._warned.add(key)
            self.log.warn(format, **kwargs)

    def _default_row(self, table):
        row = self._default_rows.get(table)
        if row is None:
            tschema = self.schema.tables[table]
            row = self._default_rows[table] = {c: tschema.columns[c].type.default()
                                               for c in self.table_columns[table]}
        return row

    def _decode_row(self, table, uuid, json, base=None):
        """The row ``json`` (a ``<row>``: all columns, or only those not default) over ``base``."""
        if not isinstance(json, dict):
            raise ProtocolError("table %s, row %s: the row is not an object" % (table, uuid))
        decoders = self._decoders[table]
        row = dict(base if base is not None else self._default_row(table))
        for column, value in json.items():
            decode = decoders.get(column)
            if decode is None:
                self._unmonitored_column(table, uuid, column)
                continue
            try:
                row[column] = decode(value)
            except SchemaError as e:
                raise SchemaError("column %s: %s" % (column, e)) from None
        if self._constrained[table]:
            self._check_constraints(table, uuid, row, json)
        return row

    def _check_constraints(self, table, uuid, row, sent):
        """Warn (once per column) about values in ``sent`` columns that break the schema's
        constraints; they are kept, see the module's documentation."""
        constrained = self._constrained[table]
        if not constrained:
            return
        columns = self.schema.tables[table].columns
        for column in sent:
            if column in constrained:
                try:
                    columns[column].type.check(row[column])
                except SchemaError as e:
                    self._warn_once((table, column, "constraint"),
                                    "table {table}, row {uuid}, column {column}: {error}; kept as "
                                    "ovsdb-server sent it", table=table, uuid=uuid, column=column, error=_short(e))

    def _decode_v1(self, table, uuid, update, old):
        """A ``<row-update>``: "new" alone inserts, "old" and "new" modify, "old" alone deletes."""
        if not isinstance(update, dict) or not update or not set(update) <= {"old", "new"}:
            raise ProtocolError("table %s, row %s: a row update must be an object with \"old\" and/or "
                                "\"new\"" % (table, uuid))
        old_json, new_json = update.get("old"), update.get("new")
        if old_json is None and new_json is None:
            raise ProtocolError("table %s, row %s: a row update with neither \"old\" nor \"new\""
                                % (table, uuid))
        if old_json is None:
            if old is not None:
                raise ProtocolError("table %s: insert of row %s, which already exists" % (table, uuid))
            return RowChange(INSERT, table, uuid, None, self._decode_row(table, uuid, new_json))
        if old is None:
            raise ProtocolError("table %s: %s of row %s, which does not exist"
                                % (table, "delete" if new_json is None else "modify", uuid))
        self._check_old(table, uuid, old_json, old)
        if new_json is None:
            return RowChange(DELETE, table, uuid, old, None)
        return RowChange(MODIFY, table, uuid, old, self._decode_row(table, uuid, new_json, old))

    def _check_old(self, table, uuid, old_json, old):
        """A version 1 "old" must hold the values the replica has: else it is out of step."""
        if not isinstance(old_json, dict):
            raise ProtocolError("table %s, row %s: \"old\" is not an object" % (table, uuid))
        columns = self.schema.tables[table].columns
        for column, value in old_json.items():
            if column not in old:
                self._unmonitored_column(table, uuid, column)
                continue
            try:
                held = columns[column].type.from_wire(value)
            except SchemaError as e:
                raise SchemaError("column %s: %s" % (column, e)) from None
            if held != old[column]:
                raise ProtocolError("table %s, row %s: the old value of column %s is %s, the replica has %s"
                                    % (table, uuid, column, _short(repr(held)), _short(repr(old[column]))))

    def _decode_v2(self, table, uuid, update, old):
        """A ``<row-update2>``: one of initial, insert, modify (with diffs) or delete."""
        if not isinstance(update, dict) or len(update) != 1:
            raise ProtocolError("table %s, row %s: a row update2 must be an object with exactly one member"
                                % (table, uuid))
        (kind, body), = update.items()
        if kind in ("initial", "insert"):
            if old is not None:
                raise ProtocolError("table %s: %s of row %s, which already exists" % (table, kind, uuid))
            return RowChange(INSERT, table, uuid, None, self._decode_row(table, uuid, body))
        if kind not in ("modify", "delete"):
            raise ProtocolError("table %s, row %s: unknown row update kind %s" % (table, uuid, _short(repr(kind))))
        if old is None:
            raise ProtocolError("table %s: %s of row %s, which does not exist" % (table, kind, uuid))
        if kind == "delete":
            return RowChange(DELETE, table, uuid, old, None)
        if not isinstance(body, dict):
            raise ProtocolError("table %s, row %s: the modify is not an object" % (table, uuid))
        columns = self.schema.tables[table].columns
        new = dict(old)
        for column, diff in body.items():
            if column in new:
                try:
                    ctype = columns[column].type
                    if ctype.max != 1 and ctype.value is None:
                        value, removed, added = ctype.set_diff(old[column], diff)
                        new[column] = value
                        self._decoded_diffs[(table, uuid, column)] = (old[column], value, removed, added)
                    else:
                        new[column] = ctype.apply_diff(old[column], diff)
                except SchemaError as e:
                    raise SchemaError("column %s: %s" % (column, e)) from None
            else:
                self._unmonitored_column(table, uuid, column)
        self._check_constraints(table, uuid, new, body)
        return RowChange(MODIFY, table, uuid, old, new)

    def _check_references(self, changes):
        """Raise ProtocolError unless every reference resolves once ``changes`` are applied.

        Returns the changes in reference counts (``{(table, uuid): delta}``) for :meth:`_commit`.
        """
        if not self._references:
            return {}
        final = {}
        for change in changes:
            final[(change.table, change.uuid)] = change.new
        tables = self.tables
        deltas = {}
        recorded = self._decoded_diffs
        for change in changes:
            differs = self._references.get(change.table)
            if differs is None:
                continue
            for column, differ, elements_of in differs:
                old_value = _ABSENT if change.old is None else change.old[column]
                new_value = _ABSENT if change.new is None else change.new[column]
                if old_value is new_value:
                    continue
                diff = recorded.get((change.table, change.uuid, column)) if elements_of is not None else None
                if diff is not None:
                    removed = [(elements_of, u) for u in diff[2]]
                    added = [(elements_of, u) for u in diff[3]]
                elif old_value == new_value:
                    continue
                else:
                    removed, added = differ(old_value, new_value)
                for key in removed:
                    deltas[key] = deltas.get(key, 0) - 1
                for key in added:
                    deltas[key] = deltas.get(key, 0) + 1
                    target = final.get(key, _ABSENT)
                    if target is None or (target is _ABSENT and key[1] not in tables[key[0]]):
                        raise ProtocolError("table %s, row %s: column %s refers to row %s of table %s, "
                                            "which does not exist" % (change.table, change.uuid, column,
                                                                      key[1], key[0]))
        for key, new in final.items():
            if new is None:
                count = self._referenced[key[0]].get(key[1], 0) + deltas.get(key, 0)
                if count > 0:
                    raise ProtocolError("table %s: row %s was deleted while still referred to (%d reference%s)"
                                        % (key[0], key[1], count, "" if count == 1 else "s"))
        return deltas

    def _commit(self, changes, counts):
        if not changes:
            return
        table_indexes = self._table_indexes
        for change in changes:
            rows = self.tables[change.table]
            for key_of, entries in table_indexes[change.table]:
                if change.old is not None:
                    key = key_of(change.old)
                    if entries.get(key) == change.uuid:
                        del entries[key]
                if change.new is not None:
                    entries[key_of(change.new)] = change.uuid
            if change.new is None:
                rows.pop(change.uuid, None)
            else:
                rows[change.uuid] = change.new
        for (table, uuid), delta in counts.items():
            if delta:
                referenced = self._referenced[table]
                count = referenced.get(uuid, 0) + delta
                if count:
                    referenced[uuid] = count
                else:
                    del referenced[uuid]
        self.generation += 1
