"""One RFC 7047 transaction of the fake, run on a working copy of a :class:`~ovsdbus.testing.FakeOvsdb`.

:class:`Transaction` checks and executes the operations (insert, select, update, mutate, delete,
wait, commit, abort, comment, assert) one by one, then :meth:`Transaction.precommit` checks what
only the whole transaction can break, in ovsdb-server's order: strong references, garbage
collection, maxRows, weak references, unique indexes.  Committing it (and notifying monitors) is
the database's business.  Part of the fake OVSDB: use it through :mod:`ovsdbus.testing`.
"""

import collections

from ovsdbus.ovsdb.schema import (
    INTEGER,
    REAL,
    UUID_COLUMN_TYPE,
    BaseType,
    ColumnType,
    NamedUuid,
    SchemaError,
    is_valid_id,
)
from ovsdbus.testing.datum import (
    OpError,
    atom_text,
    atoms_of,
    check_atom,
    encode,
    from_atoms,
    hashable,
    map_uuids,
    new_uuid,
    parse_datum,
    ref_targets,
    relaxed,
    type_english,
)
from ovsdbus.testing.where import parse_where

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_ARITHMETIC = ("+=", "-=", "*=", "/=", "%=")
_MUTATORS = _ARITHMETIC + ("insert", "delete")
_MISSING = object()


class Blocked(Exception):
    """A ``wait`` operation does not hold yet and its timeout has not expired."""

    def __init__(self, timeout_ms):
        super().__init__(timeout_ms)
        self.timeout_ms = timeout_ms


class _Symbol:
    __slots__ = ("uuid", "created")

    def __init__(self, uuid):
        self.uuid = uuid
        self.created = False


# For each operation: members it requires (in the order they are checked) and allows.
_OP_MEMBERS = {
    "insert": (("table", "row"), ("uuid-name", "uuid")),
    "select": (("table", "where"), ("columns",)),
    "update": (("table", "where", "row"), ()),
    "mutate": (("table", "where", "mutations"), ()),
    "delete": (("table", "where"), ()),
    "wait": (("table", "where", "columns", "until", "rows"), ("timeout",)),
    "commit": (("durable",), ()),
    "abort": ((), ()),
    "comment": (("comment",), ()),
    "assert": (("lock",), ()),
}

_MEMBER_TYPES = {
    "table": str, "row": dict, "where": list, "columns": list, "mutations": list,
    "until": str, "rows": list, "timeout": (int, float), "durable": bool, "comment": str,
    "lock": str, "uuid-name": str, "uuid": str,
}


class Transaction:
    """One RFC 7047 transaction run against a working copy of the database.

    ``now`` and ``created`` (clock seconds) let ``wait`` operations block; without
    them a wait that does not hold answers "not supported" like an embedded OVSDB.
    """

    def __init__(self, db, now=None, created=None, session=None):
        self.db = db
        self.schema = db.schema
        self.tables = {name: dict(rows) for name, rows in db._tables.items()}
        self.symbols = {}
        self.deleted = set()
        self.now = now
        self.created = created
        self.session = session
        self.comments = []
        #: table -> rank: the order in which the transaction first touched each table, which
        #: decides whether a weak reference to a deleted row is removed (see _drop_dangling_weak_refs).
        self.table_order = {}

    def _touch(self, table_name):
        self.table_order.setdefault(table_name, len(self.table_order))

    # -- operations --------------------------------------------------------------

    def execute(self, ops):
        """Run ``ops``; return their result list (without the commit-time element)
        and whether all succeeded.  Raises Blocked for a wait that must block."""
        results = []
        n = len(ops)
        for index, op in enumerate(ops):
            try:
                results.append(self._execute_one(op, index, n))
            except OpError as e:
                results.append(e.to_json())
                results.extend([None] * (n - index - 1))
                return results, False
        return results, True

    def _execute_one(self, op, index, n):
        prefix = "Parsing ovsdb operation %d of %d failed: " % (index + 1, n)
        if not isinstance(op, dict):
            raise OpError("syntax error", prefix + "Object expected.")
        name = op.get("op")
        if "op" not in op:
            raise OpError("syntax error", prefix + "Required 'op' member is missing.", op)
        if not isinstance(name, str):
            raise OpError("syntax error", prefix + "Type mismatch for member 'op'.", op)
        if name not in _OP_MEMBERS:
            raise OpError("syntax error", prefix + 'No operation "%s"' % name, op)
        required, optional = _OP_MEMBERS[name]
        for member in required:
            if member not in op:
                raise OpError("syntax error", prefix + "Required '%s' member is missing." % member, op)
            self._check_member_type(op, member, prefix)
            if member == "table" and op["table"] not in self.schema.tables:
                raise OpError("syntax error", prefix + "No table named %s." % op["table"], op)
        for member in optional:
            if member in op:
                self._check_member_type(op, member, prefix)
        for member in sorted(op):
            if member != "op" and member not in required and member not in optional:
                raise OpError("syntax error",
                              prefix + "Member '%s' is present but not allowed here." % member, op)
        return getattr(self, "_op_" + name)(op)

    @staticmethod
    def _check_member_type(op, member, prefix):
        value = op[member]
        ok = isinstance(value, _MEMBER_TYPES[member])
        if member == "timeout":
            ok = ok and not isinstance(value, bool)
        if member == "uuid-name":
            ok = ok and is_valid_id(value)
        if not ok:
            raise OpError("syntax error", prefix + "Type mismatch for member '%s'." % member, op)

    def _symbol(self, name):
        symbol = self.symbols.get(name)
        if symbol is None:
            symbol = self.symbols[name] = _Symbol(new_uuid())
        return symbol

    def _resolve(self, ctype, value):
        def fix(atom):
            return self._symbol(str(atom)).uuid if isinstance(atom, NamedUuid) else atom
        return map_uuids(ctype, value, fix)

    def _value(self, ctype, json_value, check=True):
        return self._resolve(ctype, parse_datum(ctype, json_value, check))

    def _where(self, table, where):
        return parse_where(table, where, self._resolve)

    def _matching(self, table_name, clauses):
        return [(u, row) for u, row in self.tables[table_name].items()
                if all(c.matches(row) for c in clauses)]

    def _parse_row(self, table, row_json, immutable_error=None, op=None, internal=False):
        values = {}
        for column, json_value in row_json.items():
            if column in ("_uuid", "_version"):
                if internal:
                    values[column] = self._value(UUID_COLUMN_TYPE, json_value)
                    continue
                if immutable_error:
                    raise OpError("constraint violation", immutable_error % (column, table.name), op)
                continue  # ovsdb-server ignores them on insert
            if column not in table.columns:
                raise OpError("unknown column", "No column %s in table %s." % (column, table.name),
                              row_json)
            values[column] = self._value(table.columns[column].type, json_value)
        if immutable_error:
            for column in values:
                if not table.columns[column].mutable:
                    raise OpError("constraint violation", immutable_error % (column, table.name), op)
        return values

    def _op_insert(self, op):
        table = self.schema.tables[op["table"]]
        rows = self.tables[table.name]
        explicit = op.get("uuid")
        if explicit is not None:
            try:
                explicit = UUID_COLUMN_TYPE.key.atom_from_wire(["uuid", explicit])
            except SchemaError:
                raise OpError("syntax error", "bad uuid", op["uuid"]) from None
            if explicit in rows or (table.name, explicit) in self.deleted:
                raise OpError("duplicate uuid", "This UUID would duplicate a UUID already present "
                              "within the table or deleted within the same transaction.", op["uuid"])
        name = op.get("uuid-name")
        if name is not None:
            symbol = self.symbols.get(name)
            if symbol is not None and symbol.created:
                raise OpError("duplicate uuid-name",
                              'This "uuid-name" appeared on an earlier "insert" operation.', name)
            symbol = self._symbol(name)
            if explicit is not None:
                symbol.uuid = explicit
            symbol.created = True
            row_uuid = symbol.uuid
        else:
            row_uuid = explicit or new_uuid()
        row = {c: s.type.default() for c, s in table.columns.items()}
        given = self._parse_row(table, op["row"])
        # Like ovsdb-server, check the defaults of the columns not given too: an integer column
        # with minInteger 1 or a string enum has no valid default, so such a row needs a value.
        for column, value in row.items():
            if column in given:
                continue
            ctype = table.columns[column].type
            for atom in atoms_of(ctype, value):
                if ctype.is_map:
                    check_atom(ctype.key, atom[0])
                    check_atom(ctype.value, atom[1])
                else:
                    check_atom(ctype.key, atom)
        row.update(given)
        row["_uuid"] = row_uuid
        row["_version"] = new_uuid()
        rows[row_uuid] = row
        self._touch(table.name)
        return {"uuid": ["uuid", row_uuid]}

    def _columns(self, table, columns_json):
        for column in columns_json:
            if not isinstance(column, str) or (column not in table.columns
                                               and column not in ("_uuid", "_version")):
                raise OpError("syntax error", "%s is not a valid column name" % (column,), columns_json)
        return list(columns_json)

    def _op_select(self, op):
        table = self.schema.tables[op["table"]]
        clauses = self._where(table, op["where"])
        if "columns" in op:
            columns = self._columns(table, op["columns"])
        else:
            columns = list(table.columns) + ["_uuid", "_version"]
        rows = []
        for _, row in self._matching(table.name, clauses):
            rows.append({c: encode(table.column_type(c), row[c]) for c in columns})
        return {"rows": rows}

    def _op_update(self, op):
        table = self.schema.tables[op["table"]]
        values = self._parse_row(table, op["row"], "Cannot update immutable column %s in table %s.", op)
        clauses = self._where(table, op["where"])
        matched = self._matching(table.name, clauses)
        if matched:
            self._touch(table.name)
        rows = self.tables[table.name]
        for row_uuid, row in matched:
            new = dict(row)
            new.update(values)
            rows[row_uuid] = new
        return {"count": len(matched)}

    def _parse_mutation(self, table, mutation):
        if not (isinstance(mutation, list) and len(mutation) == 3 and isinstance(mutation[0], str)
                and isinstance(mutation[1], str)):
            raise OpError("syntax error", "Parse error in mutation.", mutation)
        column, mutator, argument = mutation
        if column not in table.columns and column not in ("_uuid", "_version"):
            raise OpError("unknown column", "No column %s in table %s." % (column, table.name), mutation)
        if column in ("_uuid", "_version") or not table.columns[column].mutable:
            raise OpError("constraint violation", "Cannot mutate immutable column %s in table %s."
                          % (column, table.name), mutation)
        if mutator not in _MUTATORS:
            raise OpError("unknown mutator", "No mutator named %s." % mutator)
        ctype = table.columns[column].type
        mismatch = OpError("syntax error", 'Type mismatch: "%s" operator may not be applied to column '
                           "%s of type %s." % (mutator, column, type_english(ctype)), mutation)
        if mutator in _ARITHMETIC:
            allowed = (INTEGER,) if mutator == "%=" else (INTEGER, REAL)
            if ctype.is_map or ctype.key.type not in allowed:
                raise mismatch
            # The argument is a plain atom: the column's constraints apply to the result.
            arg = self._value(ColumnType(BaseType(ctype.key.type)), argument)
        else:
            if ctype.is_scalar:
                raise mismatch
            # insert takes up to the column's maximum, delete any number; a map
            # delete takes either a map (pairs) or a set of keys.
            if mutator == "delete" and ctype.is_map and not (
                    isinstance(argument, list) and argument and argument[0] == "map"):
                arg = ("keys", self._value(ColumnType(ctype.key, None, 0, None), argument))
            else:
                arg_type = relaxed(ctype, ctype.max if mutator == "insert" else None)
                arg = self._value(arg_type, argument)
                if not ctype.is_map:
                    arg = atoms_of(arg_type, arg)
        return column, mutator, arg

    def _mutate(self, table, row, mutations):
        new = dict(row)
        for column, mutator, arg in mutations:
            ctype = table.columns[column].type
            value = new[column]
            if mutator in _ARITHMETIC:
                atoms = [_arithmetic(mutator, a, arg, ctype.key.type) for a in atoms_of(ctype, value)]
                if len(set(atoms)) != len(atoms):
                    raise OpError("constraint violation",
                                  'Result of "%s" operation contains duplicates.' % mutator)
                for atom in atoms:
                    check_atom(ctype.key, atom)
                new[column] = from_atoms(ctype, atoms)
                continue
            if ctype.is_map:
                result = dict(value)
                if mutator == "insert":
                    for k, v in arg.items():
                        result.setdefault(k, v)
                elif isinstance(arg, tuple):
                    for k in arg[1]:
                        result.pop(k, None)
                else:
                    for k, v in arg.items():
                        if result.get(k, _MISSING) == v:
                            del result[k]
                n, atoms = len(result), result.items()
            else:
                current = atoms_of(ctype, value)
                result = current | arg if mutator == "insert" else current - arg
                n, atoms = len(result), result
            if n < ctype.min or (ctype.max is not None and n > ctype.max):
                raise OpError("constraint violation", "Attempted to store %d elements in %s."
                              % (n, type_english(ctype)))
            new[column] = from_atoms(ctype, atoms)
        return new

    def _op_mutate(self, op):
        table = self.schema.tables[op["table"]]
        clauses = self._where(table, op["where"])
        mutations = [self._parse_mutation(table, m) for m in op["mutations"]]
        matched = self._matching(table.name, clauses)
        if matched:
            self._touch(table.name)
        rows = self.tables[table.name]
        for row_uuid, row in matched:
            rows[row_uuid] = self._mutate(table, row, mutations)
        return {"count": len(matched)}

    def _op_delete(self, op):
        table = self.schema.tables[op["table"]]
        clauses = self._where(table, op["where"])
        matched = self._matching(table.name, clauses)
        if matched:
            self._touch(table.name)
        rows = self.tables[table.name]
        for row_uuid, _ in matched:
            del rows[row_uuid]
            self.deleted.add((table.name, row_uuid))
        return {"count": len(matched)}

    def _op_wait(self, op):
        table = self.schema.tables[op["table"]]
        timeout = op.get("timeout")
        clauses = self._where(table, op["where"])
        columns = self._columns(table, op["columns"])
        until = op["until"]
        if until not in ("==", "!="):
            raise OpError("syntax error", '"until" must be "==" or "!="', op)
        expected = collections.Counter()
        for row_json in op["rows"]:
            if not isinstance(row_json, dict):
                raise OpError("syntax error", "rows must be objects", op["rows"])
            values = self._parse_row(table, row_json, internal=True)
            expected[tuple(hashable(values.get(c, table.column_type(c).default()))
                           for c in columns)] += 1
        actual = collections.Counter(tuple(hashable(row[c]) for c in columns)
                                     for _, row in self._matching(table.name, clauses))
        if (actual == expected) == (until == "=="):
            return {}
        if timeout == 0:
            raise OpError("timed out", '"where" clause test failed')
        if self.now is None:
            raise OpError("not supported", "triggers not supported")
        elapsed_ms = int(round((self.now - self.created) * 1000))
        if timeout is not None and elapsed_ms >= timeout:
            raise OpError("timed out", '"wait" timed out after %d ms' % elapsed_ms)
        raise Blocked(timeout)

    def _op_commit(self, op):
        return {}

    def _op_abort(self, op):
        raise OpError("aborted", "aborted by request")

    def _op_comment(self, op):
        self.comments.append(op["comment"])
        return {}

    def _op_assert(self, op):
        lock = op["lock"]
        if self.session is None or not self.session.holds_lock(lock):
            raise OpError("not owner", "Asserted lock %s not held." % lock)
        return {}

    # -- commit ----------------------------------------------------------------------

    def changes(self):
        """(table, uuid, old row or None, new row or None) for each row that really changed.

        Rows "changed" to their old content are put back as they were.
        """
        result = []
        for name, rows in self.tables.items():
            old_rows = self.db._tables[name]
            columns = self.schema.tables[name].columns
            for row_uuid, row in list(rows.items()):
                old = old_rows.get(row_uuid)
                if old is row:
                    continue
                if old is not None and all(old[c] == row[c] for c in columns):
                    rows[row_uuid] = old
                    continue
                result.append((name, row_uuid, old, row))
            for row_uuid, old in old_rows.items():
                if row_uuid not in rows:
                    result.append((name, row_uuid, old, None))
        return result

    def precommit(self):
        """Check what can only be checked on the whole transaction; return an OpError or None.

        Same order as ovsdb-server: strong references, garbage collection, maxRows,
        weak references, unique indexes.
        """
        changes = self.changes()
        if not changes:
            return None
        db, schema, old_tables = self.db, self.schema, self.db._tables
        # 1. New strong references must point to existing rows.
        for name, row_uuid, old, new in changes:
            if new is None:
                continue
            for column, ctype in db._strong_columns[name]:
                added = set(ref_targets(ctype, new[column], "strong"))
                if old is not None:
                    added -= set(ref_targets(ctype, old[column], "strong"))
                for ref_table, target in sorted(added):
                    if target == row_uuid:
                        continue
                    if target not in self.tables[ref_table] and target not in old_tables[ref_table]:
                        return OpError("referential integrity violation",
                                       "Table %s column %s row %s references nonexistent row %s in "
                                       "table %s." % (name, column, row_uuid, target, ref_table))
        # 2. A deleted row must not be referenced any more.
        counts = self._strong_ref_counts()
        for name, row_uuid, _, new in changes:
            if new is None and counts.get((name, row_uuid)):
                return OpError("referential integrity violation",
                               "cannot delete %s row %s because of %d remaining reference(s)"
                               % (name, row_uuid, counts[(name, row_uuid)]))
        # 3. Garbage collection of unreferenced rows in non-root tables.
        garbage = [(name, u) for name, rows in self.tables.items()
                   if not schema.tables[name].is_root for u in rows if not counts.get((name, u))]
        while garbage:
            name, row_uuid = garbage.pop()
            row = self.tables[name].pop(row_uuid, None)
            if row is None:
                continue
            self._touch(name)
            for column, ctype in db._strong_columns[name]:
                for ref_table, target in ref_targets(ctype, row[column], "strong"):
                    if target == row_uuid:
                        continue
                    key = (ref_table, target)
                    counts[key] = counts.get(key, 0) - 1
                    if counts[key] <= 0 and not schema.tables[ref_table].is_root:
                        garbage.append(key)
        # 4. maxRows.
        for name in {c[0] for c in changes}:
            max_rows = schema.tables[name].max_rows
            if max_rows is not None and len(self.tables[name]) > max_rows:
                return OpError("constraint violation",
                               'transaction causes "%s" table to contain %d rows, greater than the '
                               "schema-defined limit of %d row(s)" % (name, len(self.tables[name]),
                                                                      max_rows))
        # 5. Weak references to rows that do not exist (any more) are dropped.
        error = self._drop_dangling_weak_refs()
        if error is not None:
            return error
        # 6. Unique indexes.
        return self._check_indexes()

    def _strong_ref_counts(self):
        counts = {}
        for name, rows in self.tables.items():
            for column, ctype in self.db._strong_columns[name]:
                for row_uuid, row in rows.items():
                    for ref_table, target in ref_targets(ctype, row[column], "strong"):
                        if target != row_uuid:
                            key = (ref_table, target)
                            counts[key] = counts.get(key, 0) + 1
        return counts

    def _drop_dangling_weak_refs(self):
        """Drop weak references to rows that do not exist (any more), as ovsdb-server 3.1 does,
        with its quirk: ovsdb-server reassesses the rows of a transaction table by table, in the
        order the transaction first touched them (tables of garbage-collected rows last), so a row
        the transaction changed keeps, dangling, its weak references to rows deleted from a table
        touched after its own (found by experiment; monitors send the dangling reference too)."""
        for name, rows in self.tables.items():
            weak_columns = self.db._weak_columns[name]
            if not weak_columns:
                continue
            committed = self.db._tables[name]
            for row_uuid, row in list(rows.items()):
                before = committed.get(row_uuid)
                changed = before is not None and before != row
                new = None
                for column, ctype in weak_columns:
                    value = row[column]
                    if ctype.is_map:
                        kept = {k: v for k, v in value.items()
                                if not self._drops(name, changed, k, ctype.key)
                                and not self._drops(name, changed, v, ctype.value)}
                        removed = len(value) - len(kept)
                        atoms = kept.items()
                    else:
                        atoms = [a for a in atoms_of(ctype, value) if not self._drops(name, changed, a, ctype.key)]
                        removed = len(atoms_of(ctype, value)) - len(atoms)
                    if not removed:
                        continue
                    if len(atoms) < ctype.min:
                        inserted = row_uuid not in self.db._tables[name]
                        return OpError("constraint violation",
                                       'Deletion of %d weak reference(s) to deleted (or never-existing) '
                                       'rows from column "%s" in "%s" row %s %scaused this column to '
                                       "become empty, but constraints on this column disallow an "
                                       "empty column." % (removed, column, name, row_uuid,
                                                          "(inserted within this transaction) "
                                                          if inserted else ""))
                    if new is None:
                        new = dict(row)
                    new[column] = from_atoms(ctype, atoms)
                if new is not None:
                    rows[row_uuid] = new
        return None

    def _drops(self, table_name, changed, atom, base):
        """Whether the weak reference ``atom`` (of type ``base``) from a row of ``table_name``
        (``changed`` by the transaction or not) is removed at commit."""
        if not (base.ref_table and base.ref_type == "weak" and atom not in self.tables[base.ref_table]):
            return False
        order = self.table_order
        deleted_later = (atom in self.db._tables[base.ref_table]
                         and order.get(base.ref_table, -1) > order.get(table_name, -1))
        return not (changed and deleted_later)

    def _check_indexes(self):
        for name, rows in self.tables.items():
            table = self.schema.tables[name]
            for index in table.indexes:
                seen = {}
                for row_uuid, row in rows.items():
                    key = tuple(hashable(row[c]) for c in index)
                    other = seen.setdefault(key, row_uuid)
                    if other == row_uuid:
                        continue
                    # ovsdb-server names the row with the greater uuid first.
                    first, second = max(other, row_uuid), min(other, row_uuid)
                    return OpError("constraint violation", self._index_details(
                        table, index, key, first, second))
        return None

    def _index_details(self, table, index, key, first, second):
        rows, old_rows = self.tables[table.name], self.db._tables[table.name]

        def describe(title, row_uuid):
            old, new = old_rows.get(row_uuid), rows[row_uuid]
            text = "%s row, with UUID %s, " % (title, row_uuid)
            if old is new:
                return text + "existed in the database before this transaction and was not modified by " \
                              "the transaction."
            if old is None:
                return text + "was inserted by this transaction."
            if all(old[c] == new[c] for c in index):
                return text + ("existed in the database before this transaction, which modified some of "
                               "the row's columns but not any columns in this index.")
            return text + "had the following index values before the transaction: %s." % ", ".join(
                atom_text(old[c]) for c in index)

        values = ", ".join(atom_text(rows[first][c]) for c in index)
        if len(index) == 1:
            columns = 'column "%s"' % index[0]
        else:
            columns = "columns %s" % ", ".join('"%s"' % c for c in index)
        return ('Transaction causes multiple rows in "%s" table to have identical values (%s) for index '
                "on %s.  %s  %s" % (table.name, values, columns, describe("First", first),
                                    describe("Second", second)))


def _arithmetic(mutator, a, b, atom_type):
    if mutator == "+=":
        r = a + b
    elif mutator == "-=":
        r = a - b
    elif mutator == "*=":
        r = a * b
    else:
        if b == 0:
            raise OpError("domain error", "Division by zero.")
        if atom_type == REAL:
            r = a / b
        else:
            # C semantics: the quotient is truncated toward zero.
            q = abs(a) // abs(b)
            q = q if (a >= 0) == (b > 0) else -q
            r = q if mutator == "/=" else a - b * q
    if atom_type == INTEGER and not _INT64_MIN <= r <= _INT64_MAX:
        raise OpError("range error", 'Result of "%s" operation is out of range.' % mutator)
    return r
