"""A fake ovsdb-server for tests: a schema-driven in-memory OVSDB speaking the real wire format.

This is not a stub with canned replies.  :class:`FakeOvsdb` holds a database built
from any OVSDB schema (normally the installed ``vswitch.ovsschema``) and runs RFC 7047
transactions against it with the rules of ovsdb-server 3.1: atomic transactions,
column types and constraints, unique indexes, referential integrity, garbage
collection of unreferenced rows in non-root tables, weak references, ``_uuid`` and
``_version``.  Results and errors have the shapes and, as far as practical, the
wording of the real server; ``tests/test_conformance.py`` runs the same expectations
against both so that the two cannot drift apart.

:class:`FakeOvsdbFactory` serves one or more :class:`FakeOvsdb` over any Twisted
stream transport (``reactor.listenUNIX``, ``StringTransport``, ``iosim``) and offers
fault-injection knobs: drop every connection, delay or hold replies, answer requests
with an error, send garbage bytes, refuse connections, stop listening.

Typical use::

    db = FakeOvsdb.open_vswitch()          # installed schema, "ovs-vsctl init" done
    factory = FakeOvsdbFactory(db, clock=task.Clock())
    factory.listen_unix(path)              # or factory.buildProtocol(None) on a test transport
    db.transact([{"op": "insert", ...}])   # change it behind the clients' back
    db.find("Bridge", name="br0")          # read it as Python values
    factory.fail_next("canceled")          # break it
    yield factory.shutdown()               # stop listening, drop clients

Behaviour of the real server that the fake reproduces, checked by experiment against
ovsdb-server 3.1:

* Error replies are ``{"id": ID, "error": E}`` with no ``"result"`` member.
* A one-element set is sent as the bare atom; an empty optional as ``["set", []]``.
* The update notifications caused by a transaction reach the client that sent it
  before the transact reply.
* ``update2``/``update3``: ``initial`` and ``insert`` carry only the columns whose
  value is not the default; ``modify`` carries the changed columns, as the symmetric
  difference for sets, as added, removed (old value) and changed (new value) pairs for
  maps, and as the new value for columns holding at most one value (optional columns
  included: going from a value to none is ``["set", []]``); ``delete`` is ``null``.
* Monitor conditions are OR-ed clauses (an empty condition matches every row); when
  several requests for one table carry a ``where``, the first one applies.
* A standalone server keeps no transaction history: ``monitor_cond_since`` answers
  ``found`` false with the all-zero transaction id, and ``update3`` carries that id.
  ``FakeOvsdb(keep_history=True)`` behaves like a clustered server instead.
* ``wait`` with ``"timeout": 0`` that does not hold fails with "timed out"; with a
  longer or no timeout the transaction is held and retried after every commit until it
  holds or its timeout (measured on the factory's clock) expires.  Direct calls to
  :meth:`FakeOvsdb.transact` cannot wait: like an embedded OVSDB they answer
  "not supported" / "triggers not supported" for a wait that does not hold yet.
* A ``cancel`` notification drops the held transaction without any reply (that is what
  ovsdb-server 3.1 does, although RFC 7047 promises a "canceled" error); ``cancel``
  sent as a request gets "unknown method".
* Weak references to deleted rows are removed in the same transaction, except from a
  row that the transaction changed in another column: that row keeps them, dangling
  (ovsdb-server 3.1 does so, for explicitly deleted and for garbage-collected rows).
* ``lock``/``steal``/``unlock`` with ``locked``/``stolen`` notifications, and the
  ``assert`` operation.
* A request with a member other than method, params and id drops the connection.

Known differences: ``get_schema`` returns the schema as loaded, where ovsdb-server
returns it re-serialised (defaults omitted, enums sorted): the content is the same.
Error *details* texts follow the real server's wording where it was observed and are
otherwise descriptive.  Unlike ovsdb-server 3.1, which crashes on a ``monitor``
request with missing parameters, the fake answers "invalid parameters".  ``convert``
and clustering are not implemented; garbage collection considers every unreferenced
row of a non-root table, not just the rows the transaction touched (the same thing
for a database that only ever changed through transactions).
"""

import collections
import json
import uuid as uuid_module

from twisted.internet import defer
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger

from ovsdbus.ovsdb.errors import ProtocolError, RpcError
from ovsdbus.ovsdb.jsonrpc import JsonRpcProtocol
from ovsdbus.ovsdb.schema import (
    INTEGER,
    REAL,
    STRING,
    UUID,
    UUID_COLUMN_TYPE,
    VSWITCH_SCHEMA_PATH,
    ZERO_UUID,
    BaseType,
    ColumnType,
    DatabaseSchema,
    NamedUuid,
    SchemaError,
    is_valid_id,
)

__all__ = [
    "add_bridge_operations",
    "DEFAULT_SCHEMA_PATH", "FakeOvsdb", "FakeOvsdbFactory", "FakeOvsdbProtocol",
    "make_server_database",
]

DEFAULT_SCHEMA_PATH = VSWITCH_SCHEMA_PATH

_UINT_MAX = 4294967295
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_SELECT_KINDS = ("initial", "insert", "delete", "modify")
_ARITHMETIC = ("+=", "-=", "*=", "/=", "%=")
_MUTATORS = _ARITHMETIC + ("insert", "delete")
_FUNCTIONS = ("<", "<=", "==", "!=", ">=", ">", "includes", "excludes")
_ORDERING = ("<", "<=", ">=", ">")
_MISSING = object()


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


def _json_text(value):
    """Compact JSON text of ``value``, as ovsdb-server puts it in a ``"syntax"`` member."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _new_uuid():
    return str(uuid_module.uuid4())


class _OpError(Exception):
    """An OVSDB error: ``{"error": error, "details": details, "syntax": <json text>}``."""

    _NO_SYNTAX = object()

    def __init__(self, error, details=None, syntax=_NO_SYNTAX):
        super().__init__(error, details)
        self.error = error
        self.details = details
        self.syntax = syntax

    def to_json(self):
        value = {"error": self.error}
        if self.details is not None:
            value["details"] = self.details
        if self.syntax is not self._NO_SYNTAX:
            value["syntax"] = _json_text(self.syntax)
        return value


class _Blocked(Exception):
    """A ``wait`` operation does not hold yet and its timeout has not expired."""

    def __init__(self, timeout_ms):
        super().__init__(timeout_ms)
        self.timeout_ms = timeout_ms


# -- data: Python values of schema.py <-> atoms, wire ----------------------------

def _atoms_of(ctype, value):
    """A column value as a frozenset of atoms, or of (key, value) pairs for a map."""
    if ctype.is_map:
        return frozenset(value.items())
    if ctype.is_scalar:
        return frozenset([value])
    if ctype.is_optional:
        return frozenset() if value is None else frozenset([value])
    return frozenset(value)


def _from_atoms(ctype, atoms):
    """Build a column value of ``ctype`` from atoms (or pairs for a map)."""
    if ctype.is_map:
        return dict(atoms)
    if ctype.is_scalar:
        return next(iter(atoms))
    if ctype.is_optional:
        return next(iter(atoms)) if atoms else None
    return frozenset(atoms)


def _encode(ctype, value):
    """Encode a column value as ovsdb-server does: a one-element set is the bare atom."""
    wire = ctype.to_wire(value)
    if (not ctype.is_map and isinstance(wire, list) and wire and wire[0] == "set"
            and len(wire[1]) == 1):
        return wire[1][0]
    return wire


def _relaxed(ctype, max_size=None):
    """``ctype`` with any number of elements (from 0 to ``max_size``, None = unlimited)."""
    return ColumnType(ctype.key, ctype.value, 0, max_size)


def _hashable(value):
    return frozenset(value.items()) if isinstance(value, dict) else value


def _is_composite(ctype):
    """True for a type that can hold more than one value (ovsdb_type_is_composite)."""
    return ctype.max is None or ctype.max > 1


def _diff(ctype, old, new):
    """The update2 ``modify`` entry for a column that changed from ``old`` to ``new``."""
    if not _is_composite(ctype):
        return _encode(ctype, new)
    if ctype.is_map:
        pairs = {}
        for k, v in old.items():
            if k not in new:
                pairs[k] = v
            elif new[k] != v:
                pairs[k] = new[k]
        for k, v in new.items():
            if k not in old:
                pairs[k] = v
        return _encode(ctype, pairs)
    return _encode(_relaxed(ctype), _atoms_of(ctype, old) ^ _atoms_of(ctype, new))


def _atom_text(atom):
    if isinstance(atom, bool):
        return "true" if atom else "false"
    if isinstance(atom, float):
        return repr(atom)
    return str(atom)


def _type_english(ctype):
    """Describe a column type in ovsdb-server's words ("set of up to 1 strings")."""
    if ctype.is_scalar:
        return ctype.key.type
    if ctype.is_map:
        noun, what = "map", "(%s, %s) pairs" % (ctype.key.type, ctype.value.type)
    else:
        noun, what = "set", ctype.key.type + "s"
    mn, mx = ctype.min, ctype.max
    if mn == 0 and mx is None:
        return "%s of %s" % (noun, what)
    if mn == 0:
        return "%s of up to %d %s" % (noun, mx, what)
    if mx is None:
        return "%s of %d or more %s" % (noun, mn, what)
    if mn == mx:
        return "%s of exactly %d %s" % (noun, mn, what)
    return "%s of %d to %d %s" % (noun, mn, mx, what)


def _constraint_details(base, atom):
    """ovsdb-server's words for an atom that breaks its type's constraints."""
    text = _atom_text(atom)
    if base.enum is not None and atom not in base.enum:
        allowed = ", ".join(_atom_text(a) for a in sorted(base.enum))
        return "%s is not one of the allowed values ([%s])" % (text, allowed)
    if base.type in (INTEGER, REAL):
        if base.min is not None and base.max is not None:
            return "%s is not in the valid range %s to %s (inclusive)" % (
                text, _atom_text(base.min), _atom_text(base.max))
        if base.min is not None:
            return "%s is less than minimum allowed value %s" % (text, _atom_text(base.min))
        return "%s is greater than maximum allowed value %s" % (text, _atom_text(base.max))
    if base.type == STRING:
        if base.min_length is not None and len(atom) < base.min_length:
            return '"%s" length %d is less than minimum allowed length %d' % (
                atom, len(atom), base.min_length)
        return '"%s" length %d is greater than maximum allowed length %d' % (
            atom, len(atom), base.max_length)
    return "%s violates a constraint" % text


def _check_atom(base, atom):
    if isinstance(atom, NamedUuid):
        return
    try:
        base.check(atom)
    except SchemaError:
        raise _OpError("constraint violation", _constraint_details(base, atom)) from None


def _parse_atom(base, json_atom, check=True):
    try:
        atom = base.atom_from_wire(json_atom)
    except SchemaError:
        raise _OpError("syntax error", "expected %s" % base.type, json_atom) from None
    if check:
        _check_atom(base, atom)
    return atom


def _check_size(ctype, n, json_value, noun):
    mx = _UINT_MAX if ctype.max is None else ctype.max
    if n < ctype.min or n > mx:
        raise _OpError("syntax error", "%s must have %d to %d members but %d are present"
                       % (noun, ctype.min, mx, n), json_value)


def _parse_datum(ctype, json_value, check=True):
    """Decode a wire ``<value>`` of ``ctype`` like ovsdb-server; errors raise _OpError.

    Named uuids come back as :class:`~ovsdbus.ovsdb.schema.NamedUuid` atoms.
    """
    if ctype.is_map:
        if not (isinstance(json_value, list) and len(json_value) == 2 and json_value[0] == "map"
                and isinstance(json_value[1], list)):
            raise _OpError("syntax error", "expected map", json_value)
        _check_size(ctype, len(json_value[1]), json_value, "map")
        result = {}
        for pair in json_value[1]:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise _OpError("syntax error", "expected <key, value> pair", pair)
            key = _parse_atom(ctype.key, pair[0], check)
            if key in result:
                raise _OpError("ovsdb error", "map contains duplicate key")
            result[key] = _parse_atom(ctype.value, pair[1], check)
        return result
    if isinstance(json_value, list) and len(json_value) == 2 and json_value[0] == "set":
        if not isinstance(json_value[1], list):
            raise _OpError("syntax error", "expected set", json_value)
        items = json_value[1]
    else:
        items = [json_value]
    _check_size(ctype, len(items), json_value, "set")
    atoms = [_parse_atom(ctype.key, a, check) for a in items]
    if len(set(atoms)) != len(atoms):
        raise _OpError("ovsdb error", "set contains duplicate")
    return _from_atoms(ctype, atoms)


def _map_uuids(ctype, value, fix):
    """Apply ``fix`` to every atom of ``value`` (used to resolve named uuids)."""
    if ctype.key.type != UUID and (ctype.value is None or ctype.value.type != UUID):
        return value
    if ctype.is_map:
        return {fix(k): fix(v) for k, v in value.items()}
    if ctype.is_scalar:
        return fix(value)
    if ctype.is_optional:
        return None if value is None else fix(value)
    return frozenset(fix(a) for a in value)


def _ref_targets(ctype, value, ref_type):
    """Uuids referenced by ``value`` through ``ref_type`` ("strong"/"weak") references."""
    targets = []
    if ctype.is_map:
        if ctype.key.ref_table and ctype.key.ref_type == ref_type:
            targets.extend((ctype.key.ref_table, k) for k in value)
        if ctype.value.ref_table and ctype.value.ref_type == ref_type:
            targets.extend((ctype.value.ref_table, v) for v in value.values())
    elif ctype.key.ref_table and ctype.key.ref_type == ref_type:
        targets.extend((ctype.key.ref_table, a) for a in _atoms_of(ctype, value))
    return targets


# -- conditions ------------------------------------------------------------------

class _Clause:
    """One parsed ``where`` clause (or a literal true/false)."""

    __slots__ = ("column", "ctype", "function", "argument", "literal")

    def __init__(self, column=None, ctype=None, function=None, argument=None, literal=None):
        self.column = column
        self.ctype = ctype
        self.function = function
        self.argument = argument
        self.literal = literal

    def matches(self, row):
        if self.literal is not None:
            return self.literal
        value = row[self.column]
        f = self.function
        if f in _ORDERING:
            a = self.argument
            return {"<": value < a, "<=": value <= a, ">=": value >= a, ">": value > a}[f]
        atoms = _atoms_of(self.ctype, value)
        arg = self.argument
        if f == "==":
            return atoms == arg
        if f == "!=":
            return atoms != arg
        if f == "includes":
            return arg <= atoms
        return atoms.isdisjoint(arg)


def _parse_clause(table, clause, resolve):
    if isinstance(clause, bool):
        return _Clause(literal=clause)
    if not (isinstance(clause, list) and len(clause) == 3 and isinstance(clause[0], str)
            and isinstance(clause[1], str)):
        raise _OpError("syntax error", "Parse error in condition.", clause)
    column, function, argument = clause
    if column not in table.columns and column not in ("_uuid", "_version"):
        raise _OpError("unknown column", "No column %s in table %s." % (column, table.name), clause)
    if function not in _FUNCTIONS:
        raise _OpError("unknown function", "No function named %s." % function)
    ctype = table.column_type(column)
    if function in _ORDERING:
        if not (ctype.is_scalar and ctype.key.type in (INTEGER, REAL)):
            raise _OpError("syntax error", 'Type mismatch: "%s" operator may not be applied to column '
                           "%s of type %s." % (function, column, _type_english(ctype)), clause)
        return _Clause(column, ctype, function, resolve(ctype, _parse_datum(ctype, argument)))
    arg_type = _relaxed(ctype, ctype.max if function in ("==", "!=") else None)
    value = resolve(arg_type, _parse_datum(arg_type, argument))
    return _Clause(column, ctype, function, _atoms_of(arg_type, value))


def _parse_where(table, where, resolve):
    return [_parse_clause(table, clause, resolve) for clause in where]


def _no_named_uuids(ctype, value):
    return _map_uuids(ctype, value, lambda a: str(a) if isinstance(a, NamedUuid) else a)


# -- transactions ----------------------------------------------------------------

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


class _Transaction:
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
        and whether all succeeded.  Raises _Blocked for a wait that must block."""
        results = []
        n = len(ops)
        for index, op in enumerate(ops):
            try:
                results.append(self._execute_one(op, index, n))
            except _OpError as e:
                results.append(e.to_json())
                results.extend([None] * (n - index - 1))
                return results, False
        return results, True

    def _execute_one(self, op, index, n):
        prefix = "Parsing ovsdb operation %d of %d failed: " % (index + 1, n)
        if not isinstance(op, dict):
            raise _OpError("syntax error", prefix + "Object expected.")
        name = op.get("op")
        if "op" not in op:
            raise _OpError("syntax error", prefix + "Required 'op' member is missing.", op)
        if not isinstance(name, str):
            raise _OpError("syntax error", prefix + "Type mismatch for member 'op'.", op)
        if name not in _OP_MEMBERS:
            raise _OpError("syntax error", prefix + 'No operation "%s"' % name, op)
        required, optional = _OP_MEMBERS[name]
        for member in required:
            if member not in op:
                raise _OpError("syntax error", prefix + "Required '%s' member is missing." % member, op)
            self._check_member_type(op, member, prefix)
            if member == "table" and op["table"] not in self.schema.tables:
                raise _OpError("syntax error", prefix + "No table named %s." % op["table"], op)
        for member in optional:
            if member in op:
                self._check_member_type(op, member, prefix)
        for member in sorted(op):
            if member != "op" and member not in required and member not in optional:
                raise _OpError("syntax error",
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
            raise _OpError("syntax error", prefix + "Type mismatch for member '%s'." % member, op)

    def _symbol(self, name):
        symbol = self.symbols.get(name)
        if symbol is None:
            symbol = self.symbols[name] = _Symbol(_new_uuid())
        return symbol

    def _resolve(self, ctype, value):
        def fix(atom):
            return self._symbol(str(atom)).uuid if isinstance(atom, NamedUuid) else atom
        return _map_uuids(ctype, value, fix)

    def _value(self, ctype, json_value, check=True):
        return self._resolve(ctype, _parse_datum(ctype, json_value, check))

    def _where(self, table, where):
        return _parse_where(table, where, self._resolve)

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
                    raise _OpError("constraint violation", immutable_error % (column, table.name), op)
                continue  # ovsdb-server ignores them on insert
            if column not in table.columns:
                raise _OpError("unknown column", "No column %s in table %s." % (column, table.name),
                               row_json)
            values[column] = self._value(table.columns[column].type, json_value)
        if immutable_error:
            for column in values:
                if not table.columns[column].mutable:
                    raise _OpError("constraint violation", immutable_error % (column, table.name), op)
        return values

    def _op_insert(self, op):
        table = self.schema.tables[op["table"]]
        rows = self.tables[table.name]
        explicit = op.get("uuid")
        if explicit is not None:
            try:
                explicit = UUID_COLUMN_TYPE.key.atom_from_wire(["uuid", explicit])
            except SchemaError:
                raise _OpError("syntax error", "bad uuid", op["uuid"]) from None
            if explicit in rows or (table.name, explicit) in self.deleted:
                raise _OpError("duplicate uuid", "This UUID would duplicate a UUID already present "
                               "within the table or deleted within the same transaction.", op["uuid"])
        name = op.get("uuid-name")
        if name is not None:
            symbol = self.symbols.get(name)
            if symbol is not None and symbol.created:
                raise _OpError("duplicate uuid-name",
                               'This "uuid-name" appeared on an earlier "insert" operation.', name)
            symbol = self._symbol(name)
            if explicit is not None:
                symbol.uuid = explicit
            symbol.created = True
            row_uuid = symbol.uuid
        else:
            row_uuid = explicit or _new_uuid()
        row = {c: s.type.default() for c, s in table.columns.items()}
        given = self._parse_row(table, op["row"])
        # Like ovsdb-server, check the defaults of the columns not given too: an integer column
        # with minInteger 1 or a string enum has no valid default, so such a row needs a value.
        for column, value in row.items():
            if column in given:
                continue
            ctype = table.columns[column].type
            for atom in _atoms_of(ctype, value):
                if ctype.is_map:
                    _check_atom(ctype.key, atom[0])
                    _check_atom(ctype.value, atom[1])
                else:
                    _check_atom(ctype.key, atom)
        row.update(given)
        row["_uuid"] = row_uuid
        row["_version"] = _new_uuid()
        rows[row_uuid] = row
        self._touch(table.name)
        return {"uuid": ["uuid", row_uuid]}

    def _columns(self, table, columns_json):
        for column in columns_json:
            if not isinstance(column, str) or (column not in table.columns
                                               and column not in ("_uuid", "_version")):
                raise _OpError("syntax error", "%s is not a valid column name" % (column,), columns_json)
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
            rows.append({c: _encode(table.column_type(c), row[c]) for c in columns})
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
            raise _OpError("syntax error", "Parse error in mutation.", mutation)
        column, mutator, argument = mutation
        if column not in table.columns and column not in ("_uuid", "_version"):
            raise _OpError("unknown column", "No column %s in table %s." % (column, table.name), mutation)
        if column in ("_uuid", "_version") or not table.columns[column].mutable:
            raise _OpError("constraint violation", "Cannot mutate immutable column %s in table %s."
                           % (column, table.name), mutation)
        if mutator not in _MUTATORS:
            raise _OpError("unknown mutator", "No mutator named %s." % mutator)
        ctype = table.columns[column].type
        mismatch = _OpError("syntax error", 'Type mismatch: "%s" operator may not be applied to column '
                            "%s of type %s." % (mutator, column, _type_english(ctype)), mutation)
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
                arg_type = _relaxed(ctype, ctype.max if mutator == "insert" else None)
                arg = self._value(arg_type, argument)
                if not ctype.is_map:
                    arg = _atoms_of(arg_type, arg)
        return column, mutator, arg

    def _mutate(self, table, row, mutations):
        new = dict(row)
        for column, mutator, arg in mutations:
            ctype = table.columns[column].type
            value = new[column]
            if mutator in _ARITHMETIC:
                atoms = [_arithmetic(mutator, a, arg, ctype.key.type) for a in _atoms_of(ctype, value)]
                if len(set(atoms)) != len(atoms):
                    raise _OpError("constraint violation",
                                   'Result of "%s" operation contains duplicates.' % mutator)
                for atom in atoms:
                    _check_atom(ctype.key, atom)
                new[column] = _from_atoms(ctype, atoms)
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
                current = _atoms_of(ctype, value)
                result = current | arg if mutator == "insert" else current - arg
                n, atoms = len(result), result
            if n < ctype.min or (ctype.max is not None and n > ctype.max):
                raise _OpError("constraint violation", "Attempted to store %d elements in %s."
                               % (n, _type_english(ctype)))
            new[column] = _from_atoms(ctype, atoms)
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
            raise _OpError("syntax error", '"until" must be "==" or "!="', op)
        expected = collections.Counter()
        for row_json in op["rows"]:
            if not isinstance(row_json, dict):
                raise _OpError("syntax error", "rows must be objects", op["rows"])
            values = self._parse_row(table, row_json, internal=True)
            expected[tuple(_hashable(values.get(c, table.column_type(c).default()))
                           for c in columns)] += 1
        actual = collections.Counter(tuple(_hashable(row[c]) for c in columns)
                                     for _, row in self._matching(table.name, clauses))
        if (actual == expected) == (until == "=="):
            return {}
        if timeout == 0:
            raise _OpError("timed out", '"where" clause test failed')
        if self.now is None:
            raise _OpError("not supported", "triggers not supported")
        elapsed_ms = int(round((self.now - self.created) * 1000))
        if timeout is not None and elapsed_ms >= timeout:
            raise _OpError("timed out", '"wait" timed out after %d ms' % elapsed_ms)
        raise _Blocked(timeout)

    def _op_commit(self, op):
        return {}

    def _op_abort(self, op):
        raise _OpError("aborted", "aborted by request")

    def _op_comment(self, op):
        self.comments.append(op["comment"])
        return {}

    def _op_assert(self, op):
        lock = op["lock"]
        if self.session is None or not self.session.holds_lock(lock):
            raise _OpError("not owner", "Asserted lock %s not held." % lock)
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
        """Check what can only be checked on the whole transaction; return an _OpError or None.

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
                added = set(_ref_targets(ctype, new[column], "strong"))
                if old is not None:
                    added -= set(_ref_targets(ctype, old[column], "strong"))
                for ref_table, target in sorted(added):
                    if target == row_uuid:
                        continue
                    if target not in self.tables[ref_table] and target not in old_tables[ref_table]:
                        return _OpError("referential integrity violation",
                                        "Table %s column %s row %s references nonexistent row %s in "
                                        "table %s." % (name, column, row_uuid, target, ref_table))
        # 2. A deleted row must not be referenced any more.
        counts = self._strong_ref_counts()
        for name, row_uuid, _, new in changes:
            if new is None and counts.get((name, row_uuid)):
                return _OpError("referential integrity violation",
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
                for ref_table, target in _ref_targets(ctype, row[column], "strong"):
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
                return _OpError("constraint violation",
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
                    for ref_table, target in _ref_targets(ctype, row[column], "strong"):
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
                        atoms = [a for a in _atoms_of(ctype, value) if not self._drops(name, changed, a, ctype.key)]
                        removed = len(_atoms_of(ctype, value)) - len(atoms)
                    if not removed:
                        continue
                    if len(atoms) < ctype.min:
                        inserted = row_uuid not in self.db._tables[name]
                        return _OpError("constraint violation",
                                        'Deletion of %d weak reference(s) to deleted (or never-existing) '
                                        'rows from column "%s" in "%s" row %s %scaused this column to '
                                        "become empty, but constraints on this column disallow an "
                                        "empty column." % (removed, column, name, row_uuid,
                                                           "(inserted within this transaction) "
                                                           if inserted else ""))
                    if new is None:
                        new = dict(row)
                    new[column] = _from_atoms(ctype, atoms)
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
                    key = tuple(_hashable(row[c]) for c in index)
                    other = seen.setdefault(key, row_uuid)
                    if other == row_uuid:
                        continue
                    # ovsdb-server names the row with the greater uuid first.
                    first, second = max(other, row_uuid), min(other, row_uuid)
                    return _OpError("constraint violation", self._index_details(
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
                _atom_text(old[c]) for c in index)

        values = ", ".join(_atom_text(rows[first][c]) for c in index)
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
            raise _OpError("domain error", "Division by zero.")
        if atom_type == REAL:
            r = a / b
        else:
            # C semantics: the quotient is truncated toward zero.
            q = abs(a) // abs(b)
            q = q if (a >= 0) == (b > 0) else -q
            r = q if mutator == "/=" else a - b * q
    if atom_type == INTEGER and not _INT64_MIN <= r <= _INT64_MAX:
        raise _OpError("range error", 'Result of "%s" operation is out of range.' % mutator)
    return r


class _Trigger:
    """A transaction waiting for its ``wait`` operations to hold (ovsdb-server's trigger)."""

    def __init__(self, ops, clock, session):
        self.ops = ops
        self.clock = clock
        self.session = session
        self.created = clock.seconds()
        self.timer = None
        self.deferred = None


# -- the database ----------------------------------------------------------------

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
        self._commit_failures.append(_OpError(error, details))

    def _execute(self, ops, now=None, created=None, session=None):
        txn = _Transaction(self, now, created, session)
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
                new["_version"] = _new_uuid()
                txn.tables[name][row_uuid] = new
            changes.append((name, row_uuid, old, new))
        if not changes:
            return
        self._tables = txn.tables
        txn_id = ZERO_UUID
        if self.keep_history:
            txn_id = _new_uuid()
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
        except _Blocked as blocked:
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
            result[name] = {u: {c: _encode(table.column_type(c), row[c]) for c in row}
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


# -- monitors --------------------------------------------------------------------

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
                update["old"] = {c: _encode(table.column_type(c), old[c]) for c, kinds in
                                 self.columns.items() if kind in kinds and (kind == "delete" or c in changed)}
            if kind != "delete":
                update["new"] = {c: _encode(table.column_type(c), new[c])
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
                    body[column] = _diff(ctype, old[column], new[column])
            elif column in ("_uuid", "_version") or new[column] != ctype.default():
                body[column] = _encode(ctype, new[column])
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


def _parse_monitor_requests(db, requests, conditional):
    """Parse ``<monitor-requests>``; return {table: _TableMonitor} or raise _OpError."""
    if not isinstance(requests, dict):
        raise _OpError("syntax error", "monitor-requests must be object", requests)
    tables = collections.OrderedDict()
    for name, value in requests.items():
        if name not in db.schema.tables:
            raise _OpError("syntax error", "no table named %s" % name)
        table = db.schema.tables[name]
        monitor = tables[name] = _TableMonitor(table)
        for request in (value if isinstance(value, list) else [value]):
            _parse_monitor_request(table, monitor, request, conditional)
    return tables


def _parse_monitor_request(table, monitor, request, conditional):
    where_prefix = "Parsing table %s failed: " % table.name
    if not isinstance(request, dict):
        raise _OpError("syntax error", where_prefix + "Object expected.", request)
    allowed = ("columns", "select", "where") if conditional else ("columns", "select")
    types = {"columns": list, "select": dict, "where": list}
    for member in allowed:
        if member in request and not isinstance(request[member], types[member]):
            raise _OpError("syntax error", where_prefix + "Type mismatch for member '%s'." % member,
                           request)
    for member in sorted(request):
        if member not in allowed:
            raise _OpError("syntax error",
                           where_prefix + "Member '%s' is present but not allowed here." % member, request)
    kinds = set(_SELECT_KINDS)
    select = request.get("select")
    if select is not None:
        select_prefix = "Parsing table %s select failed: " % table.name
        for member in sorted(select):
            if member not in _SELECT_KINDS:
                raise _OpError("syntax error", select_prefix
                               + "Member '%s' is present but not allowed here." % member, select)
            if not isinstance(select[member], bool):
                raise _OpError("syntax error", select_prefix + "Type mismatch for member '%s'." % member,
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
            raise _OpError("syntax error", "array of column names expected", columns_json)
        if column not in table.columns and column not in ("_uuid", "_version"):
            raise _OpError("syntax error", "%s is not a valid column name" % column, columns_json)
        if column in monitor.columns:
            if columns_json is None:
                raise _OpError("syntax error", "column %s mentioned more than once" % column)
            raise _OpError("syntax error", "column %s mentioned more than once" % column, columns_json)
        monitor.columns[column] = kinds
    if conditional and not monitor.where_given:
        monitor.where_given = True
        where = request.get("where")
        if where is not None:
            monitor.where = _parse_where(table, where, _no_named_uuids)


class _Monitor:
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

    def send(self, updates, txn_id):
        if not updates:
            return
        params = [self.monitor_id, updates]
        if self.version == 3:
            params = [self.monitor_id, txn_id, updates]
        self.protocol.notify(self.METHODS[self.version], params)

    def committed(self, changes, txn_id):
        self.send(self.compose(changes), txn_id)


# -- the server protocol ---------------------------------------------------------

def _id_key(value):
    return _json_text(value)


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
        self.monitors = collections.OrderedDict()   # id key -> _Monitor
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
                                                  % _json_text(value)[:200]))
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
            raise RpcError({"error": "syntax error", "syntax": _json_text(params),
                            "details": "%s request params must begin with <db-name>" % method})
        db = self.factory.databases.get(params[0])
        if db is None:
            raise RpcError({"error": "unknown database", "syntax": _json_text(params),
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
                            "syntax": _json_text(params)})
        monitor_id = params[1]
        key = _id_key(monitor_id)
        try:
            tables = _parse_monitor_requests(db, params[2], conditional=version > 1)
        except _OpError as e:
            raise RpcError(e.to_json()) from None
        if key in self.monitors:
            raise RpcError({"error": "syntax error", "details": "duplicate monitor ID",
                            "syntax": _json_text(monitor_id)})
        monitor = _Monitor(self, db, monitor_id, version, tables)
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
                            "syntax": _json_text(params)})
        old_id, new_id, requests = params
        monitor = self.monitors.get(_id_key(old_id))
        if monitor is None:
            raise RpcError({"error": "syntax error", "details": "unknown monitor session",
                            "syntax": _json_text(old_id)})
        if _id_key(new_id) != _id_key(old_id) and _id_key(new_id) in self.monitors:
            raise RpcError({"error": "syntax error", "details": "duplicate monitor ID",
                            "syntax": _json_text(new_id)})
        if not isinstance(requests, dict):
            raise RpcError({"error": "syntax error",
                            "details": "monitor-cond-change-requests must be object"})
        new_conditions = {}
        try:
            for name, value in requests.items():
                table = monitor.db.schema.tables.get(name)
                if table is None:
                    raise _OpError("syntax error", "no table named %s" % name)
                where = _MISSING
                for request in (value if isinstance(value, list) else [value]):
                    if not isinstance(request, dict):
                        raise _OpError("syntax error", "Parsing table %s failed: Object expected." % name,
                                       request)
                    if "columns" in request:
                        raise _OpError("syntax error", "changing columns is unsupported", request)
                    if "where" in request and where is _MISSING:
                        where = _parse_where(table, request["where"], _no_named_uuids)
                if where is not _MISSING:
                    new_conditions[name] = where
        except _OpError as e:
            raise RpcError(e.to_json()) from None
        del self.monitors[_id_key(old_id)]
        monitor.monitor_id = new_id
        self.monitors[_id_key(new_id)] = monitor
        if monitor.version == 1:
            return {}
        updates = {}
        for name, where in new_conditions.items():
            table_monitor = monitor.tables.get(name)
            if table_monitor is None:
                continue
            rows = monitor.db._tables[name]
            before = {u for u, row in rows.items() if table_monitor.matches(row)}
            table_monitor.where = where
            for row_uuid, row in rows.items():
                was, now = row_uuid in before, table_monitor.matches(row)
                if was == now:
                    continue
                update = table_monitor.row_update(2, row, row, False, matches=(was, now))
                if update is not None:
                    updates.setdefault(name, {})[row_uuid] = update
        monitor.send(updates, monitor.db.last_txn_id)
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
            raise RpcError({"error": "syntax error", "syntax": _json_text(params),
                            "details": "%s request params must be <id>" % method})
        return params[0]

    def _rpc_lock(self, params, msg_id):
        return self.factory._lock(self, self._lock_name("lock", params), params, steal=False)

    def _rpc_steal(self, params, msg_id):
        return self.factory._lock(self, self._lock_name("steal", params), params, steal=True)

    def _rpc_unlock(self, params, msg_id):
        return self.factory._unlock(self, self._lock_name("unlock", params), params)


class FakeOvsdbFactory(ServerFactory):
    """Serves :class:`FakeOvsdb` databases to any number of clients, with fault knobs.

    :param databases: a :class:`FakeOvsdb` or a list of them.
    :param clock: the ``IReactorTime`` for reply delays and ``wait`` timeouts
        (default: the global reactor); pass a ``twisted.internet.task.Clock`` in tests.
    :param server_database: also serve a ``_Server`` database, as ovsdb-server does.

    Fault-injection knobs:

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
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.server_id = _new_uuid()
        self.connections = []
        self.requests = []
        self.reply_delay = 0
        self.paused = False
        self.reject_connections = False
        self._failures = []
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

    # -- fault knobs -------------------------------------------------------------------

    def drop_all_connections(self, abort=False):
        """Close every client connection (``abort``: without flushing what is queued)."""
        for protocol in list(self.connections):
            if abort and hasattr(protocol.transport, "abortConnection"):
                protocol.transport.abortConnection()
            else:
                protocol.transport.loseConnection()

    def fail_next(self, error, count=1, method=None):
        """Answer the next ``count`` requests (of ``method`` only, if given) with ``error``.

        ``error`` is what goes in the reply's ``"error"`` member: a string such as
        "unknown method" or an object such as ``{"error": "ovsdb error"}``.  Without
        ``method``, ``echo`` requests are not affected.
        """
        for _ in range(count):
            self._failures.append((method, error))

    def _take_failure(self, method):
        for index, (wanted, error) in enumerate(self._failures):
            if wanted == method or (wanted is None and method != "echo"):
                del self._failures[index]
                return error
        return None

    def send_garbage(self, data=b"}\x00not json{"):
        """Write ``data`` (not valid JSON by default) to every connected client."""
        for protocol in list(self.connections):
            protocol.send_garbage(data)

    def pause(self):
        """Hold every request from now on (nothing is answered) until :meth:`resume`."""
        self.paused = True

    def resume(self):
        """Serve the held requests, in order, and stop holding new ones."""
        self.paused = False
        for protocol in list(self.connections):
            protocol._release_held()

    # -- locks ---------------------------------------------------------------------------

    def _lock_owner(self, name):
        queue = self._locks.get(name)
        return queue[0] if queue else None

    def _lock(self, protocol, name, params, steal):
        queue = self._locks.setdefault(name, [])
        if protocol in queue:
            verb = "steal" if steal else "lock"
            raise RpcError({"error": "syntax error", "syntax": _json_text(params),
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
            raise RpcError({"error": "syntax error", "syntax": _json_text(params),
                            "details": 'unlock: "unlock" without "lock" or "steal"'})
        was_owner = queue[0] is protocol
        queue.remove(protocol)
        if not queue:
            del self._locks[name]
        elif was_owner:
            queue[0].notify("locked", [name])
        return {}
