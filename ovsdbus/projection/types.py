"""OVSDB values <-> D-Bus values, driven only by a column's schema type.

Pure code: no txdbus, no table names.  The same rules serve every table of every schema:

====================================  =========================  ===================================
OVSDB column type                     D-Bus signature            D-Bus value
====================================  =========================  ===================================
integer                               ``x``                      int
real                                  ``d``                      float
boolean                               ``b``                      bool
string                                ``s``                      str
uuid with a refTable                  ``o``                      the referenced row's object path
uuid without a refTable               ``s``                      the uuid, lowercase
set of T (any min/max but 1..1)       ``aT``                     list, sorted
optional T (min 0, max 1)             ``aT``                     list of 0 or 1 element
map K -> V                            ``a{KV}``                  dict
====================================  =========================  ===================================

Every row of every table is an object on the bus (:mod:`ovsdbus.projection`), so a uuid with a
refTable is always shown as an object path; the caller supplies ``path_of(table, uuid)``.

Values going out (:func:`to_dbus`, :func:`variant`) come from the replica, in the Python
representation of :mod:`ovsdbus.ovsdb.schema`.  A string D-Bus cannot carry (a NUL, a lone
surrogate) is shown with U+FFFD in its place (:func:`ovsdbus.projection.text.carriable`).  When
``path_of`` returns ``None`` (the row is not shown on the bus) the reference is left out of a
set, an optional value or a map, and a scalar reference reads ``/``.

Values coming in (:func:`from_dbus` and friends) are what txdbus unmarshals from a variant: the
D-Bus type is lost, so the checks are on the Python value:

- integers: any D-Bus integer type (``y n q i u x t``), range-checked to OVSDB's 64 bits and to
  the column's minimum and maximum; a boolean is not an integer;
- reals: a float or any integer, finite;
- booleans: ``b`` only; strings: ``s`` (also ``o`` and ``g``, which arrive as str), checked
  against the column's enum and length bounds (counted in characters, as OVSDB does);
- references (uuid columns): a uuid string (any case), an object path (resolved by the caller's
  ``uuid_of_path(path)``, which raises NotFound; when it gives ``(table, uuid)``, a row of
  another table than the column refers to is InvalidArgs), or ``"@name"``, a row created by an earlier
  command of the same ``Transact`` (:class:`ovsdbus.ovsdb.schema.SymbolicRef`);
- sets and optional values: an array without repeated elements (``ovs-vsctl set`` refuses them
  too), whose size fits the column's min and max.  A bare value where an array is expected is
  taken as an array of that one value (so ``"secure"`` sets an optional string column);
- maps: a dict; keys and values each checked as above.

Anything else is :class:`~ovsdbus.ovsdb.errors.InvalidArgs` whose message names the table,
the column and the expected signature with its constraints, e.g.
``Bridge.fail_mode: expected as (0 or 1 of "secure", "standalone"), got 3``.
"""

import json
import math
import re

from ovsdbus.ovsdb.errors import InvalidArgs, NotFound
from ovsdbus.ovsdb.schema import (
    BOOLEAN,
    INT64_MAX,
    INT64_MIN,
    INTEGER,
    REAL,
    STRING,
    UUID,
    SchemaError,
    SymbolicRef,
    is_uuid,
)
from ovsdbus.ovsdb.sets import SET_TYPES
from ovsdbus.projection.text import carriable

#: What a scalar reference to a row that is not shown on the bus reads as.
NO_OBJECT = "/"

_ATOM_SIGNATURES = {INTEGER: "x", REAL: "d", BOOLEAN: "b", STRING: "s"}

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,20}")   # longer is beyond 64 bits (and int() refuses 4300 digits)
_REAL_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


# -- signatures -----------------------------------------------------------------------------------

def atom_signature(base):
    """The D-Bus signature of one atom of :class:`~ovsdbus.ovsdb.schema.BaseType` ``base``."""
    if base.type == UUID:
        return "o" if base.ref_table else "s"
    return _ATOM_SIGNATURES[base.type]


def column_signature(ctype):
    """The D-Bus signature of a whole value of :class:`~ovsdbus.ovsdb.schema.ColumnType` ``ctype``:
    ``T`` for a scalar, ``aT`` for a set or an optional value, ``a{KV}`` for a map."""
    if ctype.value is not None:
        return "a{%s%s}" % (atom_signature(ctype.key), atom_signature(ctype.value))
    sig = atom_signature(ctype.key)
    return sig if ctype.min == 1 and ctype.max == 1 else "a" + sig


def map_key_signature(ctype):
    """The D-Bus signature of one key of map type ``ctype``."""
    return atom_signature(ctype.key)


def map_value_signature(ctype):
    """The D-Bus signature of one value of map type ``ctype`` (what ``Get`` of ``column:key`` answers)."""
    return atom_signature(ctype.value)


# -- OVSDB -> D-Bus -------------------------------------------------------------------------------

def _atom_to_dbus(base, atom, path_of):
    # None only for a reference to a row that is not shown.
    t = base.type
    if t == STRING:
        return carriable(atom)
    if t == UUID:
        return path_of(base.ref_table, atom) if base.ref_table else str(atom)
    if t == REAL:
        return float(atom)
    return atom


def to_dbus(ctype, value, path_of):
    """The D-Bus value, shaped for :func:`column_signature`, of ``value`` (the column's Python value).

    ``path_of(table, uuid)`` gives the object path of a referenced row, or ``None`` if that row
    is not on the bus (then the reference is left out of an array or a dict, and a scalar
    reference is ``/``).  Arrays are sorted, so equal values always look the same.
    """
    key = ctype.key
    if ctype.value is not None:
        vbase = ctype.value
        result = {}
        for k, v in value.items():
            dk = _atom_to_dbus(key, k, path_of)
            dv = _atom_to_dbus(vbase, v, path_of)
            if dk is not None and dv is not None:
                result[dk] = dv
        return result
    if ctype.min == 1 and ctype.max == 1:
        atom = _atom_to_dbus(key, value, path_of)
        return NO_OBJECT if atom is None else atom
    if ctype.max == 1:
        if value is None:
            return []
        atom = _atom_to_dbus(key, value, path_of)
        return [] if atom is None else [atom]
    atoms = [_atom_to_dbus(key, a, path_of) for a in value]
    if key.type == UUID and key.ref_table:
        atoms = [a for a in atoms if a is not None]
    atoms.sort()
    return atoms


def variant(ctype, value, path_of):
    """``(signature, value)``: the column's value as a variant for an ``a{sv}`` result (the form
    :mod:`ovsdbus.bus.wire` encodes)."""
    return column_signature(ctype), to_dbus(ctype, value, path_of)


def map_value_variant(ctype, atom, path_of):
    """``(signature, value)`` of one value of map type ``ctype`` (``Get`` of ``column:key``)."""
    dv = _atom_to_dbus(ctype.value, atom, path_of)
    return map_value_signature(ctype), NO_OBJECT if dv is None else dv


# -- D-Bus -> OVSDB -------------------------------------------------------------------------------

def from_dbus(table, column, ctype, value, uuid_of_path=None, part=False):
    """The column's Python value (as :mod:`ovsdbus.ovsdb.schema` represents it) for D-Bus ``value``.

    Checks everything the schema says about the column: atom types, enum, integer and real
    ranges, string lengths, and (unless ``part``) the number of elements.  ``uuid_of_path(path)``
    resolves an object path given for a reference (it raises NotFound); without it, object paths
    are refused.

    ``part``: the value is a part of a column's value (what ``Add`` inserts, ``Remove`` deletes,
    or a set-relation condition compares): the result is then a ``frozenset`` of atoms (a
    ``dict`` for a map) whatever the column's size, and its size is not checked.

    Raises :class:`InvalidArgs` naming table, column and the expected signature.
    """
    check = _Check(table, column, ctype, uuid_of_path)
    if ctype.value is not None:
        if not isinstance(value, dict):
            check.fail(show_value(value))
        result = {}
        for k, v in value.items():
            result[check.atom(ctype.key, k, "key ")] = check.atom(ctype.value, v, "value ", " for key " + show_value(k))
        if len(result) != len(value):
            check.fail("keys that repeat once resolved: %s" % show_value(value))
        if not part:
            check.size(len(result))
        return result
    if ctype.min == 1 and ctype.max == 1 and not part:
        if isinstance(value, (list, tuple, dict) + SET_TYPES):
            check.fail(show_value(value))
        return check.atom(ctype.key, value)
    items = value if isinstance(value, (list, tuple) + SET_TYPES) else (value,)
    inside = " in the array" if items is value else ""
    atoms = [check.atom(ctype.key, a, "", inside) for a in items]
    if len(atoms) > 1:
        unique = frozenset(atoms)
        if len(unique) != len(atoms):
            check.repeated(atoms)
        atoms = unique
    else:
        atoms = frozenset(atoms)
    if part:
        return atoms
    check.size(len(atoms))
    if ctype.max == 1:
        return next(iter(atoms)) if atoms else None
    return atoms


def from_dbus_keys(table, column, ctype, value, uuid_of_path=None):
    """A ``frozenset`` of keys of map column ``ctype`` from D-Bus ``value`` (an array, or one bare
    key), each checked against the key type: what ``Remove`` of a map's keys takes."""
    check = _Check(table, column, ctype, uuid_of_path)
    check.require_map()
    items = value if isinstance(value, (list, tuple) + SET_TYPES) else (value,)
    return frozenset(check.atom(ctype.key, k, "key ") for k in items)


def from_dbus_map_value(table, column, ctype, value, uuid_of_path=None):
    """One value of map column ``ctype`` from D-Bus ``value`` (``Set`` of ``column:key``)."""
    check = _Check(table, column, ctype, uuid_of_path)
    check.require_map()
    return check.atom(ctype.value, value, "value ")


def map_key_from_text(table, column, ctype, text):
    """The key atom that ``text`` names in ``column:key`` for map column ``ctype``.

    The text is taken as it is for string keys (no quoting: a D-Bus argument needs none); an
    integer key is decimal (``queues:0``), a real one a finite decimal number, a boolean one
    ``true`` or ``false``, a uuid one a uuid or ``@name``.  The key must meet the key type's
    constraints (enum, range, length).
    """
    check = _Check(table, column, ctype, None)
    check.require_map()
    base = ctype.key
    if not isinstance(text, str):
        check.fail("key " + show_value(text))
    t = base.type
    if t == STRING:
        value = text
    elif t == INTEGER:
        value = int(text) if _INTEGER_TEXT.fullmatch(text) else text
    elif t == REAL:
        value = float(text) if _REAL_TEXT.fullmatch(text) else text
    elif t == BOOLEAN:
        value = {"true": True, "false": False}.get(text, text)
    else:
        value = text
    if t not in (STRING, UUID) and value is text:
        check.fail("key " + show_value(text))
    return check.atom(base, value, "key ")


class _Check:
    """Checks of one column's D-Bus input; every failure names table, column and signature."""

    __slots__ = ("table", "column", "ctype", "uuid_of_path")

    def __init__(self, table, column, ctype, uuid_of_path):
        self.table = table
        self.column = column
        self.ctype = ctype
        self.uuid_of_path = uuid_of_path

    def fail(self, got):
        raise InvalidArgs("%s.%s: expected %s, got %s" % (self.table, self.column, describe(self.ctype), got))

    def require_map(self):
        if self.ctype.value is None:
            raise InvalidArgs("%s.%s: is not a map (it is %s), so it has no keys"
                              % (self.table, self.column, describe(self.ctype)))

    def repeated(self, atoms):
        seen = set()
        for a in atoms:
            if a in seen:
                self.fail("%s more than once in the array" % show_value(a))
            seen.add(a)

    def size(self, n):
        ctype = self.ctype
        if n < ctype.min or (ctype.max is not None and n > ctype.max):
            self.fail("%d element%s" % (n, "" if n == 1 else "s"))

    def atom(self, base, value, role="", where=""):
        """``value`` as an atom of ``base`` (``role``, ``where``: what the error message says it is)."""
        t = base.type
        if t == STRING:
            ok = isinstance(value, str)
        elif t == INTEGER:
            ok = isinstance(value, int) and not isinstance(value, bool)
            if ok and not INT64_MIN <= value <= INT64_MAX:
                self.fail("%s%d%s (beyond 64 bits)" % (role, value, where))
        elif t == REAL:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok:
                try:
                    value = float(value)
                except OverflowError:
                    ok = False
                else:
                    ok = math.isfinite(value)
        elif t == BOOLEAN:
            ok = isinstance(value, bool)
        else:
            if isinstance(value, str):
                return self._reference(value, role, where, base.ref_table)
            ok = False
        if not ok:
            self.fail(role + show_value(value) + where)
        try:
            base.check(value)
        except SchemaError:
            self.fail(role + show_value(value) + where)
        return value

    def _reference(self, text, role, where, ref_table):
        if text.startswith("@"):
            if len(text) == 1:
                self.fail(role + '"@" (a reference needs a name after the @)' + where)
            return SymbolicRef(text[1:])
        if is_uuid(text):
            return text.lower()
        if text.startswith("/"):
            if self.uuid_of_path is None:
                self.fail(role + show_value(text) + where + " (an object path cannot be used here)")
            try:
                uuid = self.uuid_of_path(text)
            except NotFound as e:
                raise NotFound("%s.%s: %s" % (self.table, self.column, e)) from None
            if uuid is None:
                raise NotFound("%s.%s: no object at %s" % (self.table, self.column, show_value(text)))
            if isinstance(uuid, tuple):   # (table, uuid): the row must be of the table referred to
                table, uuid = uuid
                if ref_table is not None and table != ref_table:
                    self.fail(role + show_value(text) + where + " (a row of %s, not of %s)" % (table, ref_table))
            return uuid
        self.fail(role + show_value(text) + where)


# -- descriptions for error messages --------------------------------------------------------------

def _bounds(low, high, unit=""):
    if low is not None and high is not None:
        return "%s to %s%s" % (low, high, unit)
    if low is not None:
        return "at least %s%s" % (low, unit)
    if high is not None:
        return "at most %s%s" % (high, unit)
    return ""


def _describe_atom(base):
    if base.enum is not None:
        return ", ".join(show_value(a) for a in sorted(base.enum))
    t = base.type
    if t in (INTEGER, REAL):
        return _bounds(base.min, base.max)
    if t == STRING:
        return _bounds(base.min_length, base.max_length, " characters")
    if t == UUID:
        if base.ref_table:
            return "a %s reference: object path, uuid or @name" % base.ref_table
        return "a uuid or @name"
    return ""


def describe(ctype):
    """The expected D-Bus signature of ``ctype`` with its constraints, for error messages:
    ``x (0 to 4095)``, ``as (0 or 1 of "secure", "standalone")``, ``a{ss}``."""
    sig = column_signature(ctype)
    atom = _describe_atom(ctype.key)
    if ctype.value is not None:
        parts = []
        count = _how_many(ctype)
        if count != "any number":
            parts.append(count + " pairs")
        if atom:
            parts.append("keys " + atom)
        value = _describe_atom(ctype.value)
        if value:
            parts.append("values " + value)
        return sig + (" (%s)" % "; ".join(parts) if parts else "")
    if ctype.min == 1 and ctype.max == 1:
        return sig + (" (%s)" % atom if atom else "")
    count = _how_many(ctype)
    if ctype.key.enum is not None:
        return "%s (%s of %s)" % (sig, count, atom)
    parts = [] if count == "any number" else [count + (" element" if ctype.max == 1 else " elements")]
    if atom:
        parts.append("each " + atom)
    return sig + (" (%s)" % ", ".join(parts) if parts else "")


def _how_many(ctype):
    if ctype.max == 1:
        return "0 or 1"
    if ctype.max is None:
        return "any number" if ctype.min == 0 else "%d or more" % ctype.min
    return "%d to %d" % (ctype.min, ctype.max)


def show_value(value, limit=64, nested=False):
    """A short, readable rendering of a D-Bus input value for an error message: strings
    JSON-quoted in ASCII and cut after ``limit`` characters, at most a few elements of an array
    or dict and nothing of the arrays inside it (whatever a caller sends, the message stays short)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) > limit:
            return json.dumps(value[:limit]) + "... (%d characters)" % len(value)
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        if nested:
            return "{...}"
        items = list(value.items())
        shown = ", ".join("%s: %s" % (show_value(k, 16, True), show_value(v, 16, True)) for k, v in items[:4])
        return "{%s%s}" % (shown, ", ..." if len(items) > 4 else "")
    if isinstance(value, (list, tuple) + SET_TYPES):
        if nested:
            return "[...]"
        items = list(value)
        shown = ", ".join(show_value(v, 16, True) for v in items[:6])
        return "[%s%s]" % (shown, ", ..." if len(items) > 6 else "")
    return "a %s" % type(value).__name__


#: The former private name, still used by callers.
_show = show_value
