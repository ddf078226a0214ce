"""A typed OVSDB transaction builder over the replica: an overlay of pending rows, and waits
on exactly what was read.

A :class:`Txn` lets planners read the database as it *will* be once the operations
planned so far are applied (rows inserted, updated, mutated and deleted by earlier
commands of the same transaction are seen), and write with Python values (see
:mod:`ovsdbus.ovsdb.schema`).  :meth:`Txn.operations` turns it into RFC 7047 operations
that start with ``wait`` operations (``timeout`` 0) asserting every replica value the
plan read: if another writer changed any of it meanwhile, ovsdb-server refuses the whole
transaction with "timed out" (:class:`~ovsdbus.ovsdb.errors.WaitTimedOut`) and the caller
plans again from the updated replica.

What counts as read:

- a column of a replica row read through :meth:`Txn.row` or :meth:`Txn.rows` (rows are
  read-only mappings that record which columns are looked at); a column the transaction
  itself replaced with :meth:`Txn.update` is not asserted, since its value no longer
  depends on the database;
- the set of rows of a table whose rows were iterated (a scan, such as Find): one ``wait``
  on the whole table with the columns read, so a matching row added meanwhile is noticed;
- a lookup with :meth:`Txn.find` that found nothing in the replica: a ``wait`` that no row
  has those values (answered from the replica's unique indexes) — unless the values are a
  unique index of the table and the transaction inserts a row holding them, since the
  server's index check then refuses the commit if such a row appeared meanwhile
  (:func:`is_index_conflict` tells that refusal apart, so the caller plans again);
- the existence of every replica row the plan writes to.

Rows inserted by the transaction are named by :class:`~ovsdbus.ovsdb.schema.NamedUuid`
values from a per-transaction allocator (``port1``, ``port2``, ...), so two inserted rows
never collide; :meth:`Txn.resolve` maps them to the real uuids of a commit's results.

The overlay applies OVSDB's own rules to what it shows: a map ``insert`` mutation leaves
keys that are already present alone; a map ``delete`` takes a set of keys or a map of
key-value pairs; a value that breaks the column's constraints, a change to an immutable
column of an existing row, a duplicate in a unique index, or a strong reference to a row
that does not exist is refused before anything is sent (so a dry run, whose ``abort`` stops
the server before its commit-time checks, reports these too).  Garbage collection of
unreferenced non-root rows is not simulated: planners that unlink a row delete it
explicitly, and :meth:`Txn.unreferenced_inserts` tells a caller which inserted non-root
rows nothing refers to.
"""

import collections
import re
from collections.abc import Mapping

from ovsdbus.ovsdb.errors import ConstraintViolation, InvalidArgs, NotFound, ReferentialIntegrity
from ovsdbus.ovsdb.schema import UUID, NamedUuid, SchemaError
from ovsdbus.ovsdb.sets import SET_TYPES

#: Reading more rows than this of one table with the same columns asserts the whole
#: table's values of those columns in one ``wait`` instead of one ``wait`` per row; so do
#: more lookups than this that found nothing, when the table has no more rows than lookups.
TABLE_WAIT_THRESHOLD = 16

_MUTATORS = ("insert", "delete")
_NOT_ID = re.compile(r"[^A-Za-z0-9_]")


class _Row(Mapping):
    """A read-only row of the overlay that reports each column looked up to ``on_read``."""

    __slots__ = ("_row", "_on_read")

    def __init__(self, row, on_read):
        self._row = row
        self._on_read = on_read

    def __getitem__(self, column):
        value = self._row[column]
        self._on_read(column)
        return value

    def get(self, column, default=None):
        """The column's value (recorded as read), or ``default`` for an unknown column."""
        if column in self._row:
            return self[column]
        return default

    def __iter__(self):
        return iter(self._row)

    def __len__(self):
        return len(self._row)

    def __contains__(self, column):
        return column in self._row

    def __eq__(self, other):
        return dict(self.items()) == other

    def __repr__(self):
        return "_Row(%r)" % (self._row,)


class _Rows(Mapping):
    """``{uuid: row}`` of one table as the overlay shows it (a snapshot taken when asked for)."""

    def __init__(self, txn, table):
        self._txn = txn
        self._table = table
        self._uuids = txn._uuids(table)

    def __getitem__(self, uuid):
        if uuid not in self._uuids:
            raise KeyError(uuid)
        return self._txn.row(self._table, uuid)

    def __iter__(self):
        self._txn._scanned.add(self._table)
        return iter(self._uuids)

    def __len__(self):
        self._txn._scanned.add(self._table)
        return len(self._uuids)

    def __contains__(self, uuid):
        return uuid in self._uuids


class Txn:
    """One OVSDB transaction being planned against ``replica`` for ``database``.

    ``replica`` is anything with ``schema``, ``rows(table)``, ``row(table, uuid)`` and
    ``find(table, **values)`` (a :class:`~ovsdbus.ovsdb.replica.Replica`).  ``owner`` is an
    arbitrary label (the batch sets it to the index of the command being planned) recorded
    with every operation, so that a failure reported by the server for operation ``i`` can
    be traced back with :meth:`owner_of`.
    """

    def __init__(self, replica, database):
        self.replica = replica
        self.schema = replica.schema
        self.database = database
        self.owner = None
        self._reads = {}            # (table, uuid) -> set of columns read from the replica
        self._absent = []           # (owner, table, {column: value}) lookups that found nothing
        self._ops = []              # (owner, op) writes; insert ops hold Python rows until operations()
        self._inserted = {}         # table -> {NamedUuid: row}
        self._insert_ops = {}       # NamedUuid -> (table, insert op, set of columns given)
        self._changed = {}          # table -> {uuid: row as it will be}
        self._replaced = {}         # (table, uuid) -> set of columns replaced by update()
        self._deleted = {}          # table -> set of uuids
        self._pindex = {}           # (table, columns) -> {values: [uuid]} of inserted and changed rows
        self._defaults = {}         # table -> {column: default value} (values are never mutated)
        self._last_write = {}       # (table, uuid) -> (index in _ops, (column, mutator), atoms) of a set mutation
        self._index_sets = {}       # table -> {sorted columns of a unique index}
        self._set_mutations = {}    # id(op) -> (column, mutator, key type, atoms) of set mutations to encode
        self._touched = {}          # (table, uuid) -> owner of the first write to a replica row
        self._scanned = set()       # tables whose rows were iterated (so their set of rows was read)
        self._names = collections.Counter()
        self._comments = []
        self._abort = False

    # -- reading -------------------------------------------------------------------

    def _uuids(self, table):
        self._table_schema(table)
        deleted = self._deleted.get(table, ())
        uuids = dict.fromkeys(u for u in self.replica.rows(table) if u not in deleted)
        uuids.update(dict.fromkeys(self._inserted.get(table, ())))
        return uuids

    def rows(self, table):
        """``{uuid: row}`` of ``table`` as it will be (rows record the columns read)."""
        return _Rows(self, table)

    def row(self, table, uuid):
        """Row ``uuid`` of ``table`` as it will be, or ``None`` (deleted, or never existed)."""
        self._table_schema(table)
        inserted = self._inserted.get(table)
        if inserted is not None and uuid in inserted:
            return inserted[uuid]
        if uuid in self._deleted.get(table, ()):
            return None
        row = self._changed.get(table, {}).get(uuid)
        if row is None:
            row = self.replica.row(table, uuid)
            if row is None:
                return None
        key = (table, uuid)
        replaced = self._replaced.get(key, ())

        def on_read(column):
            if column not in replaced:
                self._reads.setdefault(key, set()).add(column)

        return _Row(row, on_read)

    def find(self, table, **values):
        """The uuid of the row of ``table`` whose columns equal ``values``, or ``None``.

        Answered from the replica's unique index on those columns when it has one.  A
        replica row found has those columns asserted; finding none asserts that no row has
        them (a ``wait`` for no rows), unless a value names a row inserted by this
        transaction, which the database cannot hold yet.
        """
        self._table_schema(table)
        for uuid in self._pending_matches(table, values):
            if isinstance(uuid, NamedUuid):
                return uuid
            tracked = self.row(table, uuid)
            if all(tracked[c] == v for c, v in values.items()):
                return uuid
        uuid = self.replica.find(table, **values)
        if uuid is not None:
            # A row this transaction deleted or changed away from ``values`` is no match; no
            # ``wait`` for absence then, since the database does hold it (a new row taking the
            # values meanwhile breaks a unique index, which the server refuses).
            if uuid not in self._deleted.get(table, ()):
                tracked = self.row(table, uuid)
                if all(tracked[c] == v for c, v in values.items()):
                    return uuid
            return None
        if not any(isinstance(v, NamedUuid) for v in values.values()):
            self._absent.append((self.owner, table, dict(values)))
        return None

    def touched(self, table):
        """The rows of ``table`` this transaction inserts (their :class:`NamedUuid`) or changes, and does
        not delete, in the order first written."""
        deleted = self._deleted.get(table, ())
        rows = list(self._inserted.get(table, ())) + list(self._changed.get(table, ()))
        return [uuid for uuid in rows if uuid not in deleted]

    def raw_rows(self, table):
        """``[(uuid, row)]`` of ``table`` as it will be, without recording any read: for scans whose
        outcome the server checks anyway (such as looking for rows that refer to one being deleted)."""
        result = []
        for uuid in self._uuids(table):
            inserted = self._inserted.get(table, {})
            row = inserted.get(uuid) or self._changed.get(table, {}).get(uuid) or self.replica.row(table, uuid)
            result.append((uuid, row))
        return result

    def is_inserted(self, uuid):
        """True if ``uuid`` names a row this transaction inserts."""
        return isinstance(uuid, NamedUuid) and uuid in self._insert_ops

    # -- writing -------------------------------------------------------------------

    def _table_schema(self, table):
        try:
            return self.schema.tables[table]
        except KeyError:
            raise InvalidArgs("database %s has no table %r" % (self.schema.name, table)) from None

    def _column(self, table, column):
        tschema = self._table_schema(table)
        try:
            return tschema.columns[column]
        except KeyError:
            raise InvalidArgs("table %s has no column %r" % (table, column)) from None

    def _check(self, table, column, value, error=InvalidArgs):
        cschema = self._column(table, column)
        ctype = cschema.type
        try:
            if ctype.is_map:
                if not isinstance(value, Mapping):
                    raise SchemaError("expected a map, got %r" % (value,))
                _check_atoms(ctype.key, value.keys())
                _check_atoms(ctype.value, value.values())
            elif ctype.is_scalar:
                _check_atoms(ctype.key, (value,))
            elif ctype.is_optional:
                _check_atoms(ctype.key, () if value is None else (value,))
            else:
                if not isinstance(value, SET_TYPES):
                    raise SchemaError("expected a set, got %r" % (value,))
                _check_atoms(ctype.key, value)
            ctype.check(value)
        except (SchemaError, TypeError) as e:
            if error is InvalidArgs:
                raise InvalidArgs("%s.%s: %s" % (table, column, e)) from None
            raise ConstraintViolation("constraint violation", "%s.%s: %s" % (table, column, e)) from None
        return cschema

    def _check_references(self, table, column, value):
        """Refuse a strong reference to a row that does not exist (the server would at commit)."""
        ctype = self._column(table, column).type
        for part, base in (("key", ctype.key), ("value", ctype.value)):
            if base is None or base.type != UUID or base.ref_table is None or base.ref_type != "strong":
                continue
            for atom in _part_atoms(ctype, part, value):
                if self._exists(base.ref_table, atom):
                    continue
                raise ReferentialIntegrity(
                    "referential integrity violation",
                    "Table %s column %s refers to row %s, which table %s does not have"
                    % (table, column, atom, base.ref_table))

    def _exists(self, table, uuid):
        if isinstance(uuid, NamedUuid):
            return uuid in self._inserted.get(table, {})
        if uuid in self._deleted.get(table, ()):
            return False
        return self.replica.row(table, uuid) is not None

    def _check_unique(self, table, uuid, row, columns):
        """Refuse a row whose values of a unique index, one of whose ``columns`` changes, another row has."""
        for index in self._table_schema(table).indexes:
            if not any(c in columns for c in index):
                continue
            values = {c: row[c] for c in index}
            other = self._find_untracked(table, values)
            if other is not None and other != uuid:
                raise ConstraintViolation(
                    "constraint violation",
                    "Transaction causes multiple rows in \"%s\" table to have identical values (%s) for "
                    "index on %s" % (table, ", ".join(repr(values[c]) for c in index), ", ".join(index)))

    def _find_untracked(self, table, values):
        for uuid in self._pending_matches(table, values):
            return uuid
        deleted = self._deleted.get(table, ())
        uuid = self.replica.find(table, **values)
        if uuid is None or uuid in deleted or uuid in self._changed.get(table, {}):
            return None
        return uuid

    def _pending_rows(self, table):
        deleted = self._deleted.get(table, ())
        yield from self._inserted.get(table, {}).items()
        for uuid, row in self._changed.get(table, {}).items():
            if uuid not in deleted:
                yield uuid, row

    def _pending_matches(self, table, values):
        """The uuids of inserted and changed rows of ``table`` whose columns equal ``values``
        (through an index kept up to date as the overlay changes)."""
        columns = tuple(values) if len(values) == 1 else tuple(sorted(values))
        try:
            key = tuple(_hashable(values[c]) for c in columns)
            hash(key)
        except TypeError:
            return [u for u, row in self._pending_rows(table) if all(row.get(c) == v for c, v in values.items())]
        index = self._pindex.get((table, columns))
        if index is None:
            index = {}
            for uuid, row in self._pending_rows(table):
                index.setdefault(_index_key(row, columns), []).append(uuid)
            self._pindex[(table, columns)] = index
        return list(index.get(key, ()))

    def _reindex(self, table, uuid, old, new):
        for (t, columns), index in self._pindex.items():
            if t != table:
                continue
            if old is not None:
                uuids = index.get(_index_key(old, columns))
                if uuids and uuid in uuids:
                    uuids.remove(uuid)
            if new is not None:
                index.setdefault(_index_key(new, columns), []).append(uuid)

    def _new_name(self, table):
        base = _NOT_ID.sub("_", table.lower())
        if not base or base[0].isdigit():
            base = "row_" + base
        self._names[base] += 1
        return NamedUuid("%s%d" % (base, self._names[base]))

    def insert(self, table, row):
        """Insert ``row`` (``{column: Python value}``) into ``table``; return its :class:`NamedUuid`.

        Columns not given take their default.  The values are checked against the schema
        (InvalidArgs) and the unique indexes (ConstraintViolation).
        """
        tschema = self._table_schema(table)
        for column, value in row.items():
            self._check(table, column, value)
            self._check_references(table, column, value)
        defaults = self._defaults.get(table)
        if defaults is None:
            defaults = self._defaults[table] = {c: s.type.default() for c, s in tschema.columns.items()}
        full = dict(defaults)
        full.update(row)
        name = self._new_name(table)
        self._check_unique(table, name, full, row)
        full["_uuid"] = name
        op = {"op": "insert", "table": table, "row": None, "uuid-name": str(name)}
        self._inserted.setdefault(table, {})[name] = full
        self._reindex(table, name, None, full)
        self._insert_ops[name] = (table, op, set(row))
        self._ops.append((self.owner, op))
        return name

    def _existing(self, table, uuid):
        """The current overlay row ``uuid`` of ``table`` (untracked); NotFound if there is none."""
        if uuid in self._inserted.get(table, {}):
            return self._inserted[table][uuid]
        if uuid in self._deleted.get(table, ()):
            raise NotFound("%s row %s is deleted earlier in this transaction" % (table, uuid))
        row = self._changed.get(table, {}).get(uuid) or self.replica.row(table, uuid)
        if row is None:
            raise NotFound("%s has no row %s" % (table, uuid))
        if not isinstance(uuid, NamedUuid):
            self._touched.setdefault((table, uuid), self.owner)
        return row

    def _set_row(self, table, uuid, new, columns):
        self._check_unique(table, uuid, new, columns)
        if uuid in self._inserted.get(table, {}):
            old = self._inserted[table][uuid]
            self._inserted[table][uuid] = new
            self._insert_ops[uuid][2].update(columns)
        else:
            old = self._changed.get(table, {}).get(uuid)
            self._changed.setdefault(table, {})[uuid] = new
        self._reindex(table, uuid, old, new)

    def update(self, table, uuid, columns):
        """Replace ``columns`` (``{column: Python value}``) of row ``uuid``.

        For a row inserted by this transaction the values go into its insert operation
        (so even immutable columns may be given); an immutable column of an existing row is
        InvalidArgs, as is a value the column's type does not allow.
        """
        self._table_schema(table)
        row = self._existing(table, uuid)
        inserted = uuid in self._inserted.get(table, {})
        for column, value in columns.items():
            cschema = self._check(table, column, value)
            if not inserted and not cschema.mutable:
                raise InvalidArgs("%s.%s cannot be changed once the row exists" % (table, column))
            self._check_references(table, column, value)
        new = dict(row)
        new.update(columns)
        self._set_row(table, uuid, new, columns)
        if not inserted:
            self._replaced.setdefault((table, uuid), set()).update(columns)
            self._write(table, uuid, {"op": "update", "table": table, "where": _by_uuid(uuid),
                                      "row": _encode_row(self._table_schema(table), columns)})

    def mutate(self, table, uuid, column, mutator, value):
        """Apply OVSDB mutation ``mutator`` (``insert`` or ``delete``) of ``value`` to a set or map column.

        ``value`` is a set (``frozenset``/``set``/list) of atoms, or, for a map, a ``dict``
        (insert: pairs whose key is absent; delete: pairs equal to one held) or, for
        ``delete`` only, a set of keys.  The column's value after the mutation must still
        fit its type (ConstraintViolation otherwise, as the server would say).
        """
        if mutator not in _MUTATORS:
            raise InvalidArgs("unknown mutator %r" % (mutator,))
        cschema = self._column(table, column)
        ctype = cschema.type
        if ctype.is_scalar:
            raise InvalidArgs("%s.%s holds exactly one value; it cannot be mutated with %s"
                              % (table, column, mutator))
        row = self._existing(table, uuid)
        old = row[column]
        if ctype.is_map:
            new = dict(old)
            if mutator == "insert":
                if not isinstance(value, Mapping):
                    raise InvalidArgs("%s.%s: insert into a map takes key-value pairs" % (table, column))
                for k, v in value.items():
                    new.setdefault(k, v)
                wire = ctype.to_wire(dict(value))
            elif isinstance(value, Mapping):
                for k, v in value.items():
                    if k in new and new[k] == v:
                        del new[k]
                wire = ctype.to_wire(dict(value))
            else:
                keys = frozenset(value)
                for k in keys:
                    new.pop(k, None)
                wire = ["set", [ctype.key.atom_to_wire(k) for k in sorted(keys, key=_atom_key)]]
        else:
            atoms = frozenset([value] if isinstance(value, (str, int, float)) else value)
            old_atoms = frozenset() if old is None else (frozenset([old]) if ctype.is_optional else old)
            new_atoms = old_atoms | atoms if mutator == "insert" else old_atoms - atoms
            if ctype.is_optional:
                if len(new_atoms) > 1:
                    raise ConstraintViolation("constraint violation",
                                              "%s.%s: at most one value allowed" % (table, column))
                new = next(iter(new_atoms)) if new_atoms else None
            else:
                new = new_atoms
            wire = None   # encoded by operations(): set mutations may still be merged
        try:
            if mutator == "insert":
                if ctype.is_map:
                    _check_atoms(ctype.key, value.keys())
                    _check_atoms(ctype.value, value.values())
                else:
                    _check_atoms(ctype.key, atoms)
        except SchemaError as e:
            raise InvalidArgs("%s.%s: %s" % (table, column, e)) from None
        n = 0 if new is None else (1 if ctype.is_optional else len(new))
        if n < ctype.min or (ctype.max is not None and n > ctype.max):
            raise ConstraintViolation("constraint violation", "%s.%s: %d values, but the column takes %d to %s"
                                      % (table, column, n, ctype.min,
                                         "unlimited" if ctype.max is None else ctype.max))
        if mutator == "insert":
            self._check_references(table, column, value if ctype.is_map else atoms)
        full = dict(row)
        full[column] = new
        self._set_row(table, uuid, full, (column,))
        if uuid in self._inserted.get(table, {}):
            return
        if ctype.is_map or ctype.is_optional:
            if wire is None:
                wire = _encode_atoms(ctype.key, atoms)
            self._write(table, uuid, {"op": "mutate", "table": table, "where": _by_uuid(uuid),
                                      "mutations": [[column, mutator, wire]]})
            return
        # Consecutive set mutations of one column of one row go out as one mutation (the server
        # then copies a large set once, not once per command: 100 AddPort to one bridge).
        last = self._last_write.get((table, uuid))
        if last is not None and last[1] == (column, mutator):
            self._ops[last[0]] = None
            atoms = last[2] | atoms
        op = {"op": "mutate", "table": table, "where": _by_uuid(uuid), "mutations": None}
        self._set_mutations[id(op)] = (column, mutator, ctype.key, atoms)
        self._write(table, uuid, op, ((column, mutator), atoms))

    def delete(self, table, uuid):
        """Delete row ``uuid`` of ``table`` (NotFound if it is not there)."""
        self._existing(table, uuid)
        if uuid in self._inserted.get(table, {}):
            raise InvalidArgs("%s row %s was created by this transaction; delete it by not creating it"
                              % (table, uuid))
        self._reindex(table, uuid, self._changed.get(table, {}).get(uuid), None)
        self._deleted.setdefault(table, set()).add(uuid)
        self._write(table, uuid, {"op": "delete", "table": table, "where": _by_uuid(uuid)})

    def _write(self, table, uuid, op, mergeable=None):
        """Add write ``op`` on row ``uuid``; ``mergeable`` = ``((column, mutator), atoms)`` for a set
        mutation a following one of the same column and mutator may be merged into."""
        self._ops.append((self.owner, op))
        if mergeable is None:
            self._last_write.pop((table, uuid), None)
        else:
            self._last_write[(table, uuid)] = (len(self._ops) - 1,) + mergeable

    def comment(self, text):
        """Add a ``comment`` operation (ovsdb-server logs it with the transaction)."""
        self._comments.append(str(text))

    def abort(self):
        """End the transaction with an ``abort`` operation: the server checks every operation,
        then discards them all (a dry run)."""
        self._abort = True

    # -- the result ------------------------------------------------------------------

    @property
    def writes(self):
        """True if the transaction changes anything."""
        return any(entry is not None for entry in self._ops)

    def references_to(self):
        """The set of :class:`NamedUuid` values that some written value refers to."""
        found = set()

        def visit(value):
            if isinstance(value, NamedUuid):
                found.add(value)
            elif isinstance(value, Mapping):
                for k, v in value.items():
                    visit(k)
                    visit(v)
            elif isinstance(value, (list, tuple) + SET_TYPES):
                for v in value:
                    visit(v)

        for name, (table, _op, columns) in self._insert_ops.items():
            row = self._inserted[table][name]
            for column in columns:
                visit(row[column])
        for entry in self._ops:
            if entry is None:
                continue
            pending = self._set_mutations.get(id(entry[1]))
            if pending is not None:
                visit(pending[3])
            elif entry[1]["op"] != "insert":
                visit_json_names(entry[1], found)
        return found

    def unreferenced_inserts(self):
        """``[(owner, table, name)]`` of inserted rows of non-root tables nothing refers to:
        ovsdb-server would delete them again when it commits (garbage collection)."""
        referenced = self.references_to()
        result = []
        for name, (table, _op, _columns) in self._insert_ops.items():
            if not self._table_schema(table).is_root and name not in referenced:
                result.append((self._owner_of_insert(name), table, name))
        return result

    def dangling_inserts(self):
        """``[(owner, table, name, column, uuid)]``: strong references of inserted rows, as they
        stand after every write (columns left at their default included: a required reference
        defaults to the all-zero uuid), to rows that do not exist.  ovsdb-server refuses such a
        transaction when it commits, so a dry run that stops before commit checks them here."""
        result = []
        strong = {}   # table -> [(column, ctype, part, base)] of its strong references
        for name, (table, _op, _columns) in self._insert_ops.items():
            row = self._inserted[table][name]
            references = strong.get(table)
            if references is None:
                references = strong[table] = [
                    (column, cschema.type, part, base)
                    for column, cschema in self._table_schema(table).columns.items()
                    for part, base in (("key", cschema.type.key), ("value", cschema.type.value))
                    if base is not None and base.type == UUID and base.ref_table is not None
                    and base.ref_type == "strong"]
            for column, ctype, part, base in references:
                for atom in _part_atoms(ctype, part, row[column]):
                    if not self._exists(base.ref_table, atom):
                        result.append((self._owner_of_insert(name), table, name, column, atom))
        return result

    def _owner_of_insert(self, name):
        op = self._insert_ops[name][1]
        for entry in self._ops:
            if entry is not None and entry[1] is op:
                return entry[0]
        return None

    def _waits(self):
        waits = []
        scanned = {table: set() for table in self._scanned}
        grouped = collections.defaultdict(list)
        for (table, uuid), columns in self._reads.items():
            if table in scanned:
                scanned[table].update(columns)
            else:
                grouped[(table, frozenset(columns))].append(uuid)
        for table, columns in sorted(scanned.items()):
            # A scan depends on which rows there are: assert the whole table, new rows included.
            tschema = self._table_schema(table)
            cols = sorted(columns) or ["_uuid"]
            rows = [_encode_row(tschema, {c: row[c] if c != "_uuid" else uuid for c in cols})
                    for uuid, row in self.replica.rows(table).items()]
            waits.append(_wait(table, [], cols, rows))
        for (table, uuid) in self._touched:
            if (table, uuid) not in self._reads and table not in scanned:
                grouped[(table, frozenset())].append(uuid)
        for (table, columns), uuids in grouped.items():
            tschema = self._table_schema(table)
            cols = sorted(columns)
            if len(uuids) > TABLE_WAIT_THRESHOLD and cols:
                rows = [_encode_row(tschema, {c: row[c] for c in cols})
                        for row in self.replica.rows(table).values()]
                waits.append(_wait(table, [], cols, rows))
                continue
            for uuid in uuids:
                row = self.replica.row(table, uuid)
                if row is None:
                    continue
                if cols:
                    waits.append(_wait(table, _by_uuid(uuid), cols,
                                       [_encode_row(tschema, {c: row[c] for c in cols})]))
                else:
                    waits.append(_wait(table, _by_uuid(uuid), ["_uuid"], [{"_uuid": ["uuid", uuid]}]))
        absent = collections.defaultdict(dict)   # (table, columns) -> {repr of where: where}
        for _owner, table, values in self._absent:
            if self._inserts_index_values(table, values):
                continue
            tschema = self._table_schema(table)
            where = [[c, "==", tschema.column_type(c).to_wire(v)] for c, v in sorted(values.items())]
            absent[(table, tuple(sorted(values)))][repr(where)] = where
        for (table, columns), wheres in absent.items():
            rows = self.replica.rows(table)
            if len(wheres) > TABLE_WAIT_THRESHOLD and len(rows) <= len(wheres):
                # Cheaper for the server: the table's values of these columns, all unchanged.
                tschema = self._table_schema(table)
                waits.append(_wait(table, [], list(columns),
                                   [_encode_row(tschema, {c: row[c] for c in columns}) for row in rows.values()]))
                continue
            for where in wheres.values():
                waits.append(_wait(table, where, list(columns), []))
        return waits

    def _inserts_index_values(self, table, values):
        """True if ``values`` are a whole unique index of ``table`` and this transaction inserts a row
        holding them: then a row with those values appearing meanwhile makes the server refuse the
        commit anyway (a duplicate in the index), and no ``wait`` for their absence is needed.  The
        batch treats that refusal like a failed wait (see :func:`is_index_conflict`)."""
        if (tuple(values) if len(values) == 1 else tuple(sorted(values))) not in self._sorted_indexes(table):
            return False
        return any(isinstance(u, NamedUuid) for u in self._pending_matches(table, values))

    def _sorted_indexes(self, table):
        indexes = self._index_sets.get(table)
        if indexes is None:
            indexes = self._index_sets[table] = {tuple(sorted(i)) for i in self._table_schema(table).indexes}
        return indexes

    def operations(self):
        """The RFC 7047 operations: waits, then writes in the order planned, comments, and
        ``abort`` for a dry run.  Also records which owner each operation belongs to."""
        for name, (table, op, columns) in self._insert_ops.items():
            row = self._inserted[table][name]
            op["row"] = _encode_row(self._table_schema(table), {c: row[c] for c in sorted(columns)})
        waits = self._waits()
        ops = list(waits)
        self._owners = [None] * len(waits)
        for entry in self._ops:
            if entry is not None:
                op = entry[1]
                pending = self._set_mutations.get(id(op))
                if pending is not None:
                    column, mutator, base, atoms = pending
                    op["mutations"] = [[column, mutator, _encode_atoms(base, atoms)]]
                ops.append(op)
                self._owners.append(entry[0])
        if self._comments:
            ops.append({"op": "comment", "comment": "; ".join(self._comments)})
            self._owners.append(None)
        if self._abort:
            ops.append({"op": "abort"})
            self._owners.append(None)
        self._sent = ops
        return ops

    def owner_of(self, index):
        """The owner of operation ``index`` of the last :meth:`operations`, or ``None``."""
        owners = getattr(self, "_owners", [])
        if index is not None and 0 <= index < len(owners):
            return owners[index]
        return None

    def write_owners(self):
        """The owners of the write operations, in order (as last built by :meth:`operations`)."""
        return [owner for owner, op in zip(getattr(self, "_owners", ()), getattr(self, "_sent", ()), strict=False)
                if owner is not None and op["op"] != "wait"]

    def owner_of_uuid(self, table, uuid):
        """The owner that first wrote replica row ``uuid`` of ``table``, or ``None``."""
        return self._touched.get((table, uuid))

    def resolve(self, results):
        """``{NamedUuid: uuid}`` for the rows inserted, from the results of the last :meth:`operations`."""
        names = {}
        for op, result in zip(getattr(self, "_sent", ()), results, strict=False):
            if op["op"] == "insert" and isinstance(result, dict) and "uuid" in result:
                names[NamedUuid(op["uuid-name"])] = result["uuid"][1]
        return names


def _part_atoms(ctype, part, value):
    """The atoms of ``value`` (a column value of ``ctype``, or a set of elements of it) that are its
    keys (``part`` "key") or its map values (``part`` "value")."""
    if ctype.is_map:
        return value.keys() if part == "key" else value.values()
    if isinstance(value, SET_TYPES + (list, tuple)):
        return value
    return () if value is None else (value,)


def is_index_conflict(error):
    """True if transaction ``error`` is ovsdb-server's refusal of a commit that would put two rows with
    the same values in a unique index ("constraint violation", "... identical values ... for index
    ..."): when a row another writer just committed is one of them, planning again is the answer."""
    details = str(getattr(error, "details", "") or "")
    return getattr(error, "error", None) == "constraint violation" and "identical values" in details \
        and "index" in details


def visit_json_names(json, found):
    """Add to ``found`` the :class:`NamedUuid` of every ``["named-uuid", name]`` in ``json``
    except an insert's own ``uuid-name``."""
    if isinstance(json, list):
        if len(json) == 2 and json[0] == "named-uuid" and isinstance(json[1], str):
            found.add(NamedUuid(json[1]))
            return
        for v in json:
            visit_json_names(v, found)
    elif isinstance(json, dict):
        for k, v in json.items():
            if k != "uuid-name":
                visit_json_names(v, found)


_ATOMS = frozenset((str, int, float, bool, type(None)))


def _hashable(value):
    if type(value) in _ATOMS:   # the usual case (names), without the slower isinstance of an ABC
        return value
    return frozenset(value.items()) if isinstance(value, Mapping) else value


def _index_key(row, columns):
    try:
        key = tuple(_hashable(row.get(c)) for c in columns)
        hash(key)
        return key
    except TypeError:
        return None


def _check_atoms(base, atoms):
    """Raise SchemaError unless every atom is of ``base``'s type and within its constraints."""
    for atom in atoms:
        base.atom_from_wire(base.atom_to_wire(atom))
        base.check(atom)


def _encode_atoms(base, atoms):
    return ["set", [base.atom_to_wire(a) for a in sorted(atoms, key=_atom_key)]]


def _atom_key(atom):
    return (type(atom).__name__, atom)


def _by_uuid(uuid):
    if isinstance(uuid, NamedUuid):
        return [["_uuid", "==", ["named-uuid", str(uuid)]]]
    return [["_uuid", "==", ["uuid", uuid]]]


def _wait(table, where, columns, rows):
    return {"op": "wait", "table": table, "where": where, "columns": columns, "until": "==", "rows": rows,
            "timeout": 0}


def _encode_row(tschema, values):
    return {c: tschema.column_type(c).to_wire(v) for c, v in values.items()}


def references(schema, table):
    """``[(referring table, column, key_or_value, ref_type)]``: every column of ``schema``
    whose keys (``"key"``) or values (``"value"``) are uuids of rows of ``table``."""
    found = []
    for tname, tschema in schema.tables.items():
        for cname, cschema in tschema.columns.items():
            ctype = cschema.type
            for part, base in (("key", ctype.key), ("value", ctype.value)):
                if base is not None and base.type == UUID and base.ref_table == table:
                    found.append((tname, cname, part, base.ref_type))
    return found
