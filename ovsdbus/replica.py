"""The replica: a monitor-fed, in-memory copy of selected OVSDB tables.

Pure data, no I/O: :meth:`Replica.apply_update` applies one ``update``/``update2``
notification (or a monitor's initial contents) and :meth:`Replica.resync`
replaces the whole contents with a fresh snapshot; both apply everything before
returning, and return the list of :class:`RowChange` it made, in order, for the
caller to notify observers with.

A row is a ``dict`` of column name to Python value (see :mod:`ovsdbus.schema`)
holding the monitored columns; rows are replaced, never mutated, so a row handed
out stays as it was.
"""

from typing import NamedTuple

from ovsdbus.errors import ProtocolError
from ovsdbus.schema import SchemaError

INSERT, DELETE, MODIFY = "insert", "delete", "modify"


class RowChange(NamedTuple):
    """One row's change: ``kind`` is insert, delete or modify; ``old``/``new`` are the
    row before and after (``None`` for a row that did not exist)."""

    kind: str
    table: str
    uuid: str
    old: dict
    new: dict



class Replica:
    """The copy of ``table_columns`` (``{table: [column, ...]}``) of a database.

    Unique indexes of the schema whose columns are all monitored are kept up to date,
    so :meth:`find` answers by index without scanning.
    """

    def __init__(self, schema, table_columns):
        self._wanted = table_columns
        self.tables = {t: {} for t in table_columns}
        #: Incremented by every call that changed anything.
        self.generation = 0
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
                    indexes[(table, index)] = {tuple(row[c] for c in index): uuid
                                               for uuid, row in self.tables[table].items()}
        self.schema = schema
        self.table_columns = table_columns
        self._indexes = indexes
        self._default_rows = {}

    # -- reading -----------------------------------------------------------

    def rows(self, table):
        """``{uuid: row}`` of ``table`` (do not modify)."""
        return self.tables[table]

    def row(self, table, uuid):
        """The row ``uuid`` of ``table``, or ``None``."""
        return self.tables[table].get(uuid)

    def find(self, table, **values):
        """The uuid of the row whose unique index columns equal ``values``, or ``None``.

        Uses the schema's index on exactly those columns when there is one, else scans.
        """
        key = tuple(sorted(values))
        for (t, index), entries in self._indexes.items():
            if t == table and tuple(sorted(index)) == key:
                return entries.get(tuple(values[c] for c in index))
        for uuid, row in self.tables[table].items():
            if all(row.get(c) == v for c, v in values.items()):
                return uuid
        return None

    # -- updating ----------------------------------------------------------

    def apply_update(self, table_updates, version):
        """Apply table updates of format ``version`` (1: ``update``; 2: ``update2``/``update3``).

        Returns the list of :class:`RowChange`.  Raises ProtocolError, leaving the
        replica unchanged, if the update does not fit the schema.
        """
        changes = self._decode(table_updates, version, self.tables)
        self._commit(changes)
        return changes

    def resync(self, table_updates, version):
        """Replace the contents with a full snapshot; return the changes from the old contents.

        After a reconnect a standalone ovsdb-server sends everything again; rows that
        did not change produce no :class:`RowChange`.
        """
        fresh = self._decode(table_updates, version, {t: {} for t in self.tables})
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
        self._commit(changes)
        return changes

    def _decode(self, table_updates, version, base):
        """Turn wire updates into RowChanges against ``base`` without changing anything."""
        if not isinstance(table_updates, dict):
            raise ProtocolError("table updates are not an object")
        changes = []
        try:
            for table, row_updates in table_updates.items():
                if table not in self.tables:
                    continue
                if not isinstance(row_updates, dict):
                    raise ProtocolError("updates of table %s are not an object" % table)
                current = base[table]
                pending = {}
                for uuid, update in row_updates.items():
                    old = pending.get(uuid, current.get(uuid))
                    change = (self._decode_v1 if version == 1 else self._decode_v2)(table, uuid, update, old)
                    if change is not None:
                        pending[uuid] = change.new
                        changes.append(change)
        except (SchemaError, TypeError, AttributeError, KeyError, ValueError) as e:
            raise ProtocolError("update does not fit the schema: %s" % e) from e
        return changes

    def _default_row(self, table):
        row = self._default_rows.get(table)
        if row is None:
            tschema = self.schema.tables[table]
            row = self._default_rows[table] = {c: tschema.columns[c].type.default()
                                               for c in self.table_columns[table]}
        return row

    def _decode_row(self, table, json, base=None):
        tschema = self.schema.tables[table]
        row = dict(base if base is not None else self._default_row(table))
        for column, value in json.items():
            if column in row:
                row[column] = tschema.columns[column].type.from_wire(value)
        return row

    def _decode_v1(self, table, uuid, update, old):
        new_json = update.get("new")
        if new_json is None:
            return RowChange(DELETE, table, uuid, old, None) if old is not None else None
        if old is None:
            return RowChange(INSERT, table, uuid, None, self._decode_row(table, new_json))
        return RowChange(MODIFY, table, uuid, old, self._decode_row(table, new_json, old))

    def _decode_v2(self, table, uuid, update, old):
        if len(update) != 1:
            raise ProtocolError("row update2 must have exactly one member")
        (kind, body), = update.items()
        if kind in ("initial", "insert"):
            row = self._decode_row(table, body)
            return RowChange(INSERT if old is None else MODIFY, table, uuid, old, row)
        if kind == "delete":
            return RowChange(DELETE, table, uuid, old, None) if old is not None else None
        if kind == "modify":
            if old is None:
                raise ProtocolError("modify of unknown row %s in %s" % (uuid, table))
            tschema = self.schema.tables[table]
            new = dict(old)
            for column, diff in body.items():
                if column in new:
                    new[column] = tschema.columns[column].type.apply_diff(old[column], diff)
            return RowChange(MODIFY, table, uuid, old, new)
        raise ProtocolError("unknown row update kind %r" % kind)

    def _commit(self, changes):
        if not changes:
            return
        for change in changes:
            rows = self.tables[change.table]
            for (table, index), entries in self._indexes.items():
                if table != change.table:
                    continue
                if change.old is not None:
                    key = tuple(change.old[c] for c in index)
                    if entries.get(key) == change.uuid:
                        del entries[key]
                if change.new is not None:
                    entries[tuple(change.new[c] for c in index)] = change.uuid
            if change.new is None:
                rows.pop(change.uuid, None)
            else:
                rows[change.uuid] = change.new
        self.generation += 1
