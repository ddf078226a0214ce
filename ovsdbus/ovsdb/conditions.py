"""Conditions on rows with the semantics of ``ovs-vsctl find`` and ``wait-until``.

A condition is ``column[:key] OPERATOR value`` on one table.  The operators and their meaning
follow ovs-vsctl (``man ovs-vsctl``, "Database Command Syntax", ``find``), where the column's
value and the wanted value are both seen as *sets of elements* (a scalar is a set of one atom,
an optional a set of zero or one, a map a set of key-value pairs):

==========================  ============================================================
``=`` ``!=``                equal / not equal sets
``<`` ``>`` ``<=`` ``>=``   ovs-vsctl's total order on sets: the set with more elements is
                            larger; between sets of the same size, the first differing pair
                            of elements (both in increasing order) decides; for maps all
                            keys are compared first, then the values
``{=}`` ``{!=}``            set equality / inequality (the same as ``=`` / ``!=``)
``{<=}`` ``{<}``            the column is a subset / proper subset of the value
``{>=}`` ``{>}``            the column is a superset / proper superset of the value
``{in}``                    the same as ``{<=}`` (Open vSwitch 2.16 and later)
``{not-in}``                no element of the column is in the value
==========================  ============================================================

With ``column:key`` (map columns only) the left side is the set of the key's value: one
element if the map has the key, else empty.  The arithmetic operators (``= != < > <= >=``)
are false for a row whose map lacks the key, so ``other_config:mtu!=1500`` does not select
rows without an ``mtu`` key; the set operators compare against the empty set, so
``other_config:mtu{!=}1500`` does.

Atoms compare as OVSDB does: integers and reals by value, ``false < true``, strings by code
point (the order of their UTF-8 bytes), uuids by their text.

Values are Python values as :mod:`ovsdbus.ovsdb.schema` describes them, already converted by
the caller (from D-Bus or from text); for ``column:key`` the value is an atom of the map's value
type, or a set of them.  As in ovs-vsctl, a value for a whole column must be one the column
can hold (its number of elements, enum, range, length); a value for ``column:key`` may have any
number of elements, each one a valid value of the map.

Deviations from ovs-vsctl: column names are matched exactly, or else ignoring case and
treating ``-`` and ``_`` alike, but never abbreviated (an abbreviation that is unique today
becomes ambiguous when a schema grows); ``_uuid`` is not a condition column.

:meth:`Condition.to_where` expresses a condition as RFC 7047 ``where`` clauses when the server's
own functions (``== != < <= > >= includes excludes``) mean exactly the same thing, so a caller
can make a transaction conditional on it with a ``wait`` operation.
"""

import json
import math
import re
from collections.abc import Mapping

from ovsdbus.ovsdb.errors import InvalidArgs
from ovsdbus.ovsdb.schema import (
    BOOLEAN,
    INT64_MAX,
    INT64_MIN,
    INTEGER,
    REAL,
    STRING,
    UUID,
    ColumnType,
    SchemaError,
    SymbolicRef,
    is_uuid,
)
from ovsdbus.ovsdb.sets import SET_TYPES

#: The arithmetic operators: compare the column with ovs-vsctl's order on sets.
ARITHMETIC_OPERATORS = ("=", "!=", "<", ">", "<=", ">=")
#: The set operators.
SET_OPERATORS = ("{=}", "{!=}", "{<}", "{>}", "{<=}", "{>=}", "{in}", "{not-in}")
#: Every operator a condition may use.
OPERATORS = ARITHMETIC_OPERATORS + SET_OPERATORS

# Python's int() and float() also take spaces, underscores, "inf" and "nan": OVSDB's atoms do not.
_INTEGER_RE = re.compile(r"-?[0-9]+")
_REAL_RE = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")

_PYTHON_TYPES = {INTEGER: "integer", REAL: "real", BOOLEAN: "boolean", STRING: "string", UUID: "uuid"}


def _normalize_name(name):
    return name.replace("-", "_").lower()


def parse_column_spec(table_schema, spec):
    """Split ``"column"`` or ``"column:key"`` into ``(column, key_text)`` (``key_text`` ``None``
    without a key) for table ``table_schema``.

    ``column`` is the schema's spelling of the column.  The key text is everything after the
    first colon, unless it is a JSON string in double quotes (``external_ids:"a b"``, as
    ovs-vsctl writes keys), which is unquoted; ``column:""`` names the empty key.  Raises
    InvalidArgs for an unknown column, a key on a column that is not a map, or a bare ``:``.
    """
    table = table_schema.name
    if not isinstance(spec, str) or not spec:
        raise InvalidArgs("%s: a column name must be a non-empty string, got %r" % (table, spec))
    name, colon, key_text = spec.partition(":")
    column = _find_column(table_schema, name)
    if not colon:
        return column, None
    if not table_schema.columns[column].type.is_map:
        raise InvalidArgs("%s.%s is not a map: %r names a key" % (table, column, spec))
    if key_text.startswith('"'):
        try:
            unquoted = json.loads(key_text)
        except ValueError:
            unquoted = None
        if not isinstance(unquoted, str):
            raise InvalidArgs("%s.%s: bad quoted key %s" % (table, column, key_text))
        return column, unquoted
    if not key_text:
        raise InvalidArgs('%s.%s: empty key in %r (write column:"" for the empty key)' % (table, column, spec))
    return column, key_text


def _find_column(table_schema, name):
    if name in table_schema.columns:
        return name
    wanted = _normalize_name(name)
    found = [c for c in table_schema.columns if _normalize_name(c) == wanted]
    if len(found) == 1:
        return found[0]
    if found:
        raise InvalidArgs("%s: column name %r matches several columns: %s"
                          % (table_schema.name, name, ", ".join(sorted(found))))
    raise InvalidArgs("table %s has no column %r" % (table_schema.name, name))


def key_from_text(table, column, ctype, text):
    """The key atom of map column ``table.column`` (type ``ctype``) written as ``text``.

    Strings are taken as they are; integers, reals and booleans (``true``/``false``) are parsed;
    a uuid must be in full.  Raises InvalidArgs when ``text`` is no key of that type.  The key's
    constraints (enum, range) are checked too: no map can hold a key outside them.
    """
    base = ctype.key
    atom = None
    if base.type == STRING:
        atom = text
    elif base.type == INTEGER:
        if _INTEGER_RE.fullmatch(text):
            atom = int(text, 10)
            if not INT64_MIN <= atom <= INT64_MAX:
                atom = None
    elif base.type == REAL:
        if _REAL_RE.fullmatch(text):
            atom = float(text)
            if not math.isfinite(atom):
                atom = None
    elif base.type == BOOLEAN:
        atom = {"true": True, "false": False}.get(text)
    elif base.type == UUID and is_uuid(text):
        atom = text.lower()
    if atom is None:
        raise InvalidArgs("%s.%s: key %r is not a %s" % (table, column, text, base.type))
    try:
        base.check(atom)
    except SchemaError as e:
        raise InvalidArgs("%s.%s: key %r: %s" % (table, column, text, e)) from None
    return atom


def _check_atom(table, column, base, atom):
    """``atom`` as an atom of ``base``'s type, or InvalidArgs (constraints are not checked)."""
    t = base.type
    ok = False
    if t == INTEGER:
        ok = isinstance(atom, int) and not isinstance(atom, bool) and INT64_MIN <= atom <= INT64_MAX
    elif t == REAL:
        ok = isinstance(atom, (int, float)) and not isinstance(atom, bool)
        if ok:
            atom = float(atom)
    elif t == BOOLEAN:
        ok = isinstance(atom, bool)
    elif t == STRING:
        ok = isinstance(atom, str)
    elif t == UUID:
        # NamedUuid and SymbolicRef are str too: rows made earlier in the same transaction.
        ok = isinstance(atom, str) and atom != ""
        if ok and is_uuid(atom) and type(atom) is str:
            atom = atom.lower()
    if not ok:
        raise InvalidArgs("%s.%s: %r is not a %s" % (table, column, atom, _PYTHON_TYPES[t]))
    return atom


def _atoms(table, column, base, value):
    """A condition's value (atom, None, or a collection of atoms) as a frozenset of atoms."""
    if value is None:
        return frozenset()
    if isinstance(value, SET_TYPES + (list, tuple)):
        atoms = [_check_atom(table, column, base, a) for a in value]
        result = frozenset(atoms)
        if len(result) != len(atoms):
            raise InvalidArgs("%s.%s: repeated element in %r" % (table, column, value))
        return result
    return frozenset([_check_atom(table, column, base, value)])


def parse_condition(table_schema, column_spec, op, value, key=None):
    """The :class:`Condition` ``column_spec op value`` on table ``table_schema``.

    ``column_spec`` is ``"column"`` or ``"column:key"`` (see :func:`parse_column_spec`); the key
    text is converted with :func:`key_from_text` unless the caller passes the key atom as ``key``.
    ``value`` is a Python value: for a whole map column a dict; for a whole set, scalar or
    optional column an atom, ``None`` or a set of atoms; for ``column:key`` an atom of the map's
    value type, ``None`` (the empty set) or a set of them.  Raises InvalidArgs for an unknown
    operator or column, or a value of the wrong type.
    """
    column, key_text = parse_column_spec(table_schema, column_spec)
    table = table_schema.name
    if op not in OPERATORS:
        raise InvalidArgs("%s.%s: unknown operator %r (expected one of %s)"
                          % (table, column, op, " ".join(OPERATORS)))
    ctype = table_schema.columns[column].type
    if key_text is None:
        if key is not None:
            raise InvalidArgs("%s.%s: a key was given but the column spec %r names none"
                              % (table, column, column_spec))
        if ctype.is_map:
            if not isinstance(value, Mapping):
                raise InvalidArgs("%s.%s: expected a map, got %r" % (table, column, value))
            elements = frozenset((_check_atom(table, column, ctype.key, k), _check_atom(table, column, ctype.value, v))
                                 for k, v in value.items())
        else:
            elements = _atoms(table, column, ctype.key, value)
        _check_fits(table, column, ctype, elements)
        return Condition(table, column, ctype, op, elements)
    if key is None:
        key = key_from_text(table, column, ctype, key_text)
    else:
        key = _check_atom(table, column, ctype.key, key)
    elements = _atoms(table, column, ctype.value, value)
    _check_fits(table, column, ctype, elements, key_values=True)
    return Condition(table, column, ctype, op, elements, key=key, has_key=True)


def _check_fits(table, column, ctype, elements, key_values=False):
    """InvalidArgs unless ``elements`` is a value of column ``ctype`` (``key_values``: a set of
    any size of the map's values), as ovs-vsctl requires of a condition's value."""
    try:
        if key_values:
            for atom in elements:
                ctype.value.check(atom)
            return
        n = len(elements)
        if n < ctype.min or (ctype.max is not None and n > ctype.max):
            bounds = "%d to %s" % (ctype.min, "unlimited" if ctype.max is None else ctype.max)
            raise InvalidArgs("%s.%s: %d value(s) given, the column holds %s" % (table, column, n, bounds))
        for element in elements:
            if ctype.is_map:
                ctype.key.check(element[0])
                ctype.value.check(element[1])
            else:
                ctype.key.check(element)
    except SchemaError as e:
        raise InvalidArgs("%s.%s: %s" % (table, column, e)) from None


def _order_key(elements, is_map):
    """The key of ovs-vsctl's total order on sets (``ovsdb_datum_compare_3way``): the number of
    elements, then the sorted keys, then (maps) the values in key order."""
    ordered = sorted(elements)
    if is_map:
        return (len(ordered), tuple(k for k, _ in ordered), tuple(v for _, v in ordered))
    return (len(ordered), tuple(ordered))


def _relop(op, a, b, is_map):
    """Evaluate ``a op b`` for element sets ``a`` (the row's) and ``b`` (the wanted value)."""
    if op in ("=", "{=}"):
        return a == b
    if op in ("!=", "{!=}"):
        return a != b
    if op == "{<=}" or op == "{in}":
        return a <= b
    if op == "{>=}":
        return a >= b
    if op == "{<}":
        return a < b
    if op == "{>}":
        return a > b
    if op == "{not-in}":
        return a.isdisjoint(b)
    ka, kb = _order_key(a, is_map), _order_key(b, is_map)
    if op == "<":
        return ka < kb
    if op == ">":
        return ka > kb
    if op == "<=":
        return ka <= kb
    return ka >= kb


class Condition:
    """``column[:key] op value`` on ``table``; build it with :func:`parse_condition`.

    ``elements`` is the wanted value as a frozenset of elements (atoms, or key-value pairs for
    a whole map column); ``key`` the map key when ``has_key``.
    """

    __slots__ = ("table", "column", "ctype", "op", "elements", "key", "has_key")

    def __init__(self, table, column, ctype, op, elements, key=None, has_key=False):
        self.table = table
        self.column = column
        self.ctype = ctype
        self.op = op
        self.elements = elements
        self.key = key
        self.has_key = has_key

    def matches(self, row):
        """True if ``row`` (a dict of Python column values holding this column) satisfies it."""
        value = row[self.column]
        if self.has_key:
            if self.key in value:
                have = frozenset([value[self.key]])
            elif self.op in SET_OPERATORS:
                have = frozenset()
            else:
                return False
            return _relop(self.op, have, self.elements, False)
        return _relop(self.op, self.ctype.elements(value), self.elements, self.ctype.is_map)

    # -- RFC 7047 where clauses ----------------------------------------------

    def to_where(self):
        """RFC 7047 ``where`` clauses (a list, all must hold; ``[]`` is always true) that select
        exactly the rows :meth:`matches` selects, or ``None`` when the server's functions cannot
        say it (``!=`` on a key, ``<`` on a set, ``{<=}``, a value the column cannot hold, ...).
        """
        try:
            if self.has_key:
                return self._key_where()
            return self._column_where()
        except SchemaError:
            # A value outside the column's constraints: ovsdb-server would refuse the clause.
            return None

    def _wire(self, ctype, elements, exact=True):
        """``elements`` as a wire ``<value>``: of the column's own type when ``exact`` (what ``==``
        and ``!=`` need), else of any size (``includes``, ``excludes``).  SchemaError if an atom
        breaks the type's constraints, which ovsdb-server would refuse."""
        if any(isinstance(a, SymbolicRef) for e in elements for a in (e if isinstance(e, tuple) else (e,))):
            raise SchemaError("a row reference has no uuid yet")
        if not exact:
            ctype = ColumnType(ctype.key, ctype.value, 0, None)
        if ctype.is_map:
            value = dict(elements)
        elif ctype.is_scalar or ctype.is_optional:
            value = next(iter(elements)) if elements else None
        else:
            value = frozenset(elements)
        ctype.check(value)
        return ctype.to_wire(value)

    def _column_where(self):
        ctype, op, b, column = self.ctype, self.op, self.elements, self.column
        fits = len(b) >= ctype.min and (ctype.max is None or len(b) <= ctype.max)
        if op in ("=", "{=}", "!=", "{!=}"):
            # "==" needs a value the column can hold; an optional column's empty value is
            # compared specially by some ovsdb-server versions, so it is left to the caller.
            if not fits or (ctype.is_optional and not b):
                return None
            return [[column, "==" if op in ("=", "{=}") else "!=", self._wire(ctype, b)]]
        if op in ("<", ">", "<=", ">="):
            if ctype.is_scalar and ctype.key.type in (INTEGER, REAL) and len(b) == 1:
                return [[column, op, self._wire(ctype, b)]]
            return None
        if op == "{>=}":
            return [] if not b else [[column, "includes", self._wire(ctype, b, exact=False)]]
        if op == "{>}":
            if not b or not fits:
                return None
            return [[column, "includes", self._wire(ctype, b, exact=False)], [column, "!=", self._wire(ctype, b)]]
        if op == "{not-in}":
            return [] if not b else [[column, "excludes", self._wire(ctype, b, exact=False)]]
        return None  # {<=} {in} {<}: "subset of" has no RFC 7047 function

    def _key_where(self):
        ctype, op, b, column = self.ctype, self.op, self.elements, self.column

        def pair(v):
            return self._wire(ctype, frozenset([(self.key, v)]), exact=False)

        if op in ("=", "{=}", "{>=}") and len(b) == 1:
            return [[column, "includes", pair(next(iter(b)))]]
        if op == "{>=}" and not b:
            return []
        if op == "{!=}" and len(b) == 1:
            return [[column, "excludes", pair(next(iter(b)))]]
        if op == "{not-in}":
            return [[column, "excludes", pair(v)] for v in sorted(b)]
        return None

    def __str__(self):
        spec = self.column if not self.has_key else "%s:%s" % (self.column, self.key)
        return "%s.%s%s%s" % (self.table, spec, self.op, _show(sorted(self.elements)))

    def __repr__(self):
        return "Condition(%s)" % self


def _show(elements):
    if len(elements) == 1 and not isinstance(elements[0], tuple):
        return repr(elements[0])
    return "[%s]" % ", ".join("%r=%r" % e if isinstance(e, tuple) else repr(e) for e in elements)


def matches_all(conditions, row):
    """True if ``row`` satisfies every one of ``conditions`` (true for none)."""
    return all(c.matches(row) for c in conditions)


def matching(rows, conditions):
    """The uuids of ``rows`` (``{uuid: row}``, as ``Replica.rows``) that satisfy all ``conditions``,
    sorted."""
    return sorted(uuid for uuid, row in rows.items() if all(c.matches(row) for c in conditions))


def where_of(conditions):
    """The ``where`` clauses of all ``conditions`` together, or ``None`` if one has none."""
    clauses = []
    for condition in conditions:
        where = condition.to_where()
        if where is None:
            return None
        clauses.extend(where)
    return clauses
