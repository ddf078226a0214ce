"""OVSDB schema (RFC 7047 section 3) and conversion of OVSDB data to Python values.

The schema always comes from the server (``get_schema``) or from an installed
schema file; ovsdbus carries no copy of any schema.

Python representation of a column's value, chosen by its type:

========================  ==========================================
column type               Python value
========================  ==========================================
scalar (min 1, max 1)     the atom
optional (min 0, max 1)   the atom or ``None``
set                       ``frozenset`` of atoms
map                       ``dict`` of atom to atom (never mutated)
========================  ==========================================

Atoms are ``int``, ``float``, ``bool``, ``str``; a uuid is its ``str`` form
(the type says it is a uuid), and a named uuid inside a transaction is a
:class:`NamedUuid`.  On the wire a one-element set may arrive as the bare atom,
which the decoders accept.  A large set that a replica's diff changed is a
:class:`~ovsdbus.ovsdb.sets.VersionedSet` (read-only, like a ``frozenset``): test a value
with ``isinstance(value, SET_TYPES)``, not against ``frozenset``.
"""

import re
from sys import intern

from ovsdbus.ovsdb.sets import changed_set

INTEGER, REAL, BOOLEAN, STRING, UUID = "integer", "real", "boolean", "string", "uuid"
ATOMIC_TYPES = (INTEGER, REAL, BOOLEAN, STRING, UUID)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
#: The range of an OVSDB integer (64-bit, signed).
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: What a fast atom decoder (:meth:`BaseType.fast_decoder`) returns for what it leaves to the full decoder.
_SLOW = object()
_EMPTY_SET = frozenset()


def detached(text):
    """A new ``str`` equal to ``text`` (a string of a decoded JSON text).

    What a replica keeps must not be the parser's own objects: one string of the monitor's
    initial reply kept in a row keeps the memory of all the reply's objects around it in use
    (the allocator returns memory to the system only in whole arenas), so that the megabytes of
    a parsed snapshot would stay allocated, half empty, for good."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


def canonical_uuid(text):
    """A uuid (already checked with :func:`is_uuid`) in lower case, interned: every copy of a row's
    uuid held by a replica (its key, the references to it) is then one string object."""
    return intern(text.lower())   # lower() makes a new string (see detached)


class SchemaError(ValueError):
    """A schema, or a datum checked against it, is malformed."""


class NamedUuid(str):
    """A ``uuid-name`` reference to a row inserted by the same transaction."""

    __slots__ = ()

    def __new__(cls, name):
        if not _ID_RE.fullmatch(name):
            raise SchemaError("invalid uuid-name %r" % name)
        return super().__new__(cls, name)

    def __repr__(self):
        return "NamedUuid(%s)" % str.__repr__(self)


class SymbolicRef(str):
    """A caller's ``@name`` for a row created earlier in the same batch of commands (as
    ``ovs-vsctl -- --id=@name create ...``); the batch turns it into the row's uuid-name."""

    __slots__ = ()

    def __new__(cls, name):
        if not name or not isinstance(name, str):
            raise SchemaError("empty row reference")
        return super().__new__(cls, name)

    def __repr__(self):
        return "SymbolicRef(%s)" % str.__repr__(self)


def is_uuid(text):
    """True if ``text`` is a uuid in its 36-character string form (either case)."""
    return isinstance(text, str) and bool(_UUID_RE.fullmatch(text))


def is_valid_id(name):
    """True if ``name`` matches OVSDB's ``<id>`` syntax (uuid-names, table and column names)."""
    return bool(_ID_RE.fullmatch(name))


class BaseType:
    """An atomic type with its constraints: enum, integer/real range, string length, refTable."""

    __slots__ = ("type", "enum", "min", "max", "min_length", "max_length", "ref_table", "ref_type")

    def __init__(self, type, enum=None, min=None, max=None, min_length=None, max_length=None,
                 ref_table=None, ref_type="strong"):
        if type not in ATOMIC_TYPES:
            raise SchemaError("unknown atomic type %r" % (type,))
        self.type = type
        self.enum = enum
        self.min = min
        self.max = max
        self.min_length = min_length
        self.max_length = max_length
        self.ref_table = ref_table
        self.ref_type = ref_type

    @classmethod
    def from_json(cls, json):
        """Parse an ``<atomic-type>`` or ``<base-type>`` from a schema."""
        if isinstance(json, str):
            return cls(json)
        if not isinstance(json, dict) or "type" not in json:
            raise SchemaError("bad base type %r" % (json,))
        base = cls(json["type"])
        if "enum" in json:
            base.enum = frozenset(base._decode_atoms(json["enum"]))
        if base.type == INTEGER:
            base.min, base.max = json.get("minInteger"), json.get("maxInteger")
        elif base.type == REAL:
            base.min, base.max = json.get("minReal"), json.get("maxReal")
        elif base.type == STRING:
            base.min_length, base.max_length = json.get("minLength"), json.get("maxLength")
        elif base.type == UUID:
            base.ref_table = json.get("refTable")
            base.ref_type = json.get("refType", "strong")
        return base

    def _decode_atoms(self, json):
        if isinstance(json, list) and len(json) == 2 and json[0] == "set":
            return [self.atom_from_wire(a) for a in json[1]]
        return [self.atom_from_wire(json)]

    def atom_from_wire(self, json, named=True):
        """Decode one ``<atom>`` of this type; raise SchemaError if it is not one.

        An integer must fit OVSDB's 64 bits.  ``named``: accept a ``["named-uuid", name]``
        (meaningful only inside a transaction; data from the server never holds one).
        """
        t = self.type
        if t == STRING:
            if isinstance(json, str):
                return detached(json)
        elif t == INTEGER:
            if isinstance(json, int) and not isinstance(json, bool):
                if INT64_MIN <= json <= INT64_MAX:
                    return json + 0   # a new int (see detached)
                raise SchemaError("%r does not fit a 64-bit integer" % (json,))
        elif t == BOOLEAN:
            if isinstance(json, bool):
                return json
        elif t == REAL:
            if isinstance(json, (int, float)) and not isinstance(json, bool):
                return float(json) + 0.0   # a new float (see detached)
        elif isinstance(json, list) and len(json) == 2:
            if json[0] == "uuid" and isinstance(json[1], str) and _UUID_RE.fullmatch(json[1]):
                return canonical_uuid(json[1])
            if json[0] == "named-uuid" and isinstance(json[1], str):
                if not named:
                    raise SchemaError("%r: a named uuid is only valid inside a transaction" % (json,))
                return NamedUuid(json[1])
        raise SchemaError("%r is not a valid %s" % (json, t))

    def fast_decoder(self):
        """A function ``json -> atom`` for the usual atoms of this type as the server sends them (a
        string, an integer in range, a boolean, a number, a lower-case ``["uuid", ...]``), returning
        a marker for anything else, which :meth:`atom_from_wire` then decodes or refuses.  Strings
        of an enum are interned (a few distinct values held by thousands of rows)."""
        t = self.type
        if t == STRING:
            if self.enum is not None:
                return lambda json: intern(detached(json)) if type(json) is str else _SLOW
            return lambda json: detached(json) if type(json) is str else _SLOW
        if t == INTEGER:
            # json + 0: a new int, not the parser's (see detached)
            return lambda json: json + 0 if type(json) is int and INT64_MIN <= json <= INT64_MAX else _SLOW
        if t == BOOLEAN:
            return lambda json: json if type(json) is bool else _SLOW
        if t == REAL:
            return lambda json: json + 0.0 if type(json) is float or type(json) is int else _SLOW

        def uuid_atom(json):
            if type(json) is list and len(json) == 2 and json[0] == "uuid":
                text = json[1]
                if type(text) is str and _UUID_RE.fullmatch(text):
                    return canonical_uuid(text)
            return _SLOW
        return uuid_atom

    def atom_to_wire(self, atom):
        """Encode one atom of this type."""
        if self.type == UUID:
            if isinstance(atom, NamedUuid):
                return ["named-uuid", str(atom)]
            return ["uuid", atom]
        return atom

    def check(self, atom):
        """Raise SchemaError if ``atom`` breaks this type's constraints."""
        if self.enum is not None and atom not in self.enum:
            raise SchemaError("%r is not one of the allowed values" % (atom,))
        if self.min is not None and atom < self.min:
            raise SchemaError("%r is less than minimum %r" % (atom, self.min))
        if self.max is not None and atom > self.max:
            raise SchemaError("%r is greater than maximum %r" % (atom, self.max))
        if self.min_length is not None or self.max_length is not None:
            n = len(atom)
            if self.min_length is not None and n < self.min_length:
                raise SchemaError("%r is shorter than %d characters" % (atom, self.min_length))
            if self.max_length is not None and n > self.max_length:
                raise SchemaError("%r is longer than %d characters" % (atom, self.max_length))

    def default_atom(self):
        """The default atom of this type (RFC 7047: 0, 0.0, false, "", the all-zero uuid)."""
        return {INTEGER: 0, REAL: 0.0, BOOLEAN: False, STRING: "", UUID: ZERO_UUID}[self.type]

    def __repr__(self):
        return "BaseType(%r)" % self.type


class ColumnType:
    """A column's type: key type, optional value type (then it is a map), min and max size.

    ``max`` is ``None`` for "unlimited".
    """

    __slots__ = ("key", "value", "min", "max", "_decoder")

    def __init__(self, key, value=None, min=1, max=1):
        self.key = key
        self.value = value
        self.min = min
        self.max = max
        self._decoder = None

    @classmethod
    def from_json(cls, json):
        """Parse a column ``<type>`` from a schema."""
        if isinstance(json, str):
            return cls(BaseType.from_json(json))
        if not isinstance(json, dict) or "key" not in json:
            raise SchemaError("bad column type %r" % (json,))
        key = BaseType.from_json(json["key"])
        value = BaseType.from_json(json["value"]) if "value" in json else None
        mn = json.get("min", 1)
        mx = json.get("max", 1)
        if mx == "unlimited":
            mx = None
        return cls(key, value, mn, mx)

    @property
    def is_map(self):
        """True for a map column."""
        return self.value is not None

    @property
    def is_scalar(self):
        """True for exactly one atom (min 1, max 1, not a map)."""
        return self.value is None and self.min == 1 and self.max == 1

    @property
    def is_optional(self):
        """True for zero or one atom (min 0, max 1, not a map)."""
        return self.value is None and self.min == 0 and self.max == 1

    def elements(self, value):
        """``value`` (this type's Python value) as a frozenset of its atoms, or of its
        ``(key, value)`` pairs for a map: the set OVSDB's set and map operations work on."""
        if self.is_map:
            return frozenset(value.items())
        if self.is_scalar:
            return frozenset([value])
        if self.is_optional:
            return frozenset() if value is None else frozenset([value])
        return frozenset(value)

    def default(self):
        """The default value of a column of this type."""
        if self.is_map:
            return {}
        if self.is_scalar:
            return self.key.default_atom()
        if self.is_optional:
            return None
        if self.min:
            return frozenset([self.key.default_atom()])
        return frozenset()

    # -- wire <-> Python ---------------------------------------------------

    def from_wire(self, json, named=False):
        """Decode a ``<value>`` of this type, as the server sends it, into its Python value.

        Raises SchemaError for anything the type cannot hold: atoms of the wrong type, a
        scalar or optional with the wrong number of atoms, a set with a repeated atom or a
        map with a repeated key (ovsdb-server refuses both), a named uuid unless ``named``.
        The schema's constraints (enum, range, length, set size) are :meth:`check`'s job.
        """
        if self.is_map:
            if not (isinstance(json, list) and len(json) == 2 and json[0] == "map"
                    and isinstance(json[1], list)):
                raise SchemaError("%r is not a map" % (json,))
            result = {}
            key, value = self.key, self.value
            for pair in json[1]:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise SchemaError("%r is not a map pair" % (pair,))
                result[key.atom_from_wire(pair[0], named)] = value.atom_from_wire(pair[1], named)
            if len(result) != len(json[1]):
                raise SchemaError("map %r has a repeated key" % (json,))
            return result
        atoms = self._atoms_from_wire(json, named)
        if self.is_scalar:
            if len(atoms) != 1:
                raise SchemaError("%r is not a single %s" % (json, self.key.type))
            return atoms[0]
        if self.is_optional:
            if len(atoms) > 1:
                raise SchemaError("%r has more than one value" % (json,))
            return atoms[0] if atoms else None
        return frozenset(atoms)

    def decoder(self):
        """A function ``json -> value`` that decodes what the server sends exactly as
        :meth:`from_wire` does (named uuids refused), made once per column type: the usual shapes
        (an atom, ``["set", []]``, ``["map", []]``, a set of plain atoms) take a fast path, and an
        empty set or map decodes to one value shared by every row (values are never mutated)."""
        if self._decoder is None:
            self._decoder = self._make_decoder()
        return self._decoder

    def _make_decoder(self):
        slow = self.from_wire
        if self.is_map:
            empty_map = {}

            def decode_map(json):
                if type(json) is list and len(json) == 2 and json[0] == "map" and json[1] == []:
                    return empty_map
                return slow(json)
            return decode_map
        atom = self.key.fast_decoder()
        if self.is_scalar:
            def decode_scalar(json):
                value = atom(json)
                return slow(json) if value is _SLOW else value
            return decode_scalar
        if self.is_optional:
            def decode_optional(json):
                value = atom(json)
                if value is not _SLOW:
                    return value
                if type(json) is list and len(json) == 2 and json[0] == "set" and json[1] == []:
                    return None
                return slow(json)
            return decode_optional

        def decode_set(json):
            value = atom(json)
            if value is not _SLOW:
                return frozenset((value,))
            if type(json) is list and len(json) == 2 and json[0] == "set" and type(json[1]) is list:
                atoms = [atom(a) for a in json[1]]
                if not atoms:
                    return _EMPTY_SET
                result = frozenset(atoms)
                if _SLOW not in result and len(result) == len(atoms):
                    return result
            return slow(json)
        return decode_set

    def _atoms_from_wire(self, json, named=False):
        if isinstance(json, list) and len(json) == 2 and json[0] == "set":
            if not isinstance(json[1], list):
                raise SchemaError("%r is not a set" % (json,))
            atoms = [self.key.atom_from_wire(a, named) for a in json[1]]
            if len(atoms) > 1 and len(set(atoms)) != len(atoms):
                raise SchemaError("set %r has a repeated element" % (json,))
            return atoms
        return [self.key.atom_from_wire(json, named)]

    def to_wire(self, value):
        """Encode a Python value of this type as an OVSDB ``<value>``."""
        if self.is_map:
            k, v = self.key.atom_to_wire, self.value.atom_to_wire
            return ["map", [[k(a), v(b)] for a, b in sorted(value.items(), key=_sort_key)]]
        if self.is_scalar:
            return self.key.atom_to_wire(value)
        if self.is_optional:
            return ["set", [] if value is None else [self.key.atom_to_wire(value)]]
        enc = self.key.atom_to_wire
        return ["set", [enc(a) for a in sorted(value, key=_atom_sort_key)]]

    def check(self, value):
        """Raise SchemaError if ``value`` breaks the type's size or atom constraints."""
        if self.is_map:
            atoms = value
            for k, v in value.items():
                self.key.check(k)
                self.value.check(v)
            n = len(atoms)
        elif self.is_scalar:
            self.key.check(value)
            return
        elif self.is_optional:
            if value is not None:
                self.key.check(value)
            return
        else:
            for a in value:
                self.key.check(a)
            n = len(value)
        if n < self.min:
            raise SchemaError("%d values is fewer than the minimum %d" % (n, self.min))
        if self.max is not None and n > self.max:
            raise SchemaError("%d values is more than the maximum %d" % (n, self.max))

    # -- update2 diffs -------------------------------------------------------

    def apply_diff(self, old, diff):
        """Apply an update2/update3 ``modify`` diff (wire form) to Python value ``old``.

        Sets take the symmetric difference; maps add new keys, change keys whose
        value differs and remove keys given with their current value; columns of
        at most one atom (scalars and optionals) take the value given.
        """
        if self.max == 1:
            # ovsdb-server sends the new value itself for columns of at most one element.
            return self.from_wire(diff)
        if self.is_map:
            new = dict(old)
            for k, v in self.from_wire(diff).items():
                if k in new and new[k] == v:
                    del new[k]
                else:
                    new[k] = v
            return new
        return self.set_diff(old, diff)[0]

    def set_diff(self, old, diff):
        """``(new, removed, added)``: a set column's ``modify`` diff (wire form) applied to the
        set ``old``, and the elements it removed and added (tuples).

        The elements are found by looking each atom of the diff up in ``old``; the new set is
        made by :func:`~ovsdbus.ovsdb.sets.changed_set`, so a one-element diff of a set of
        thousands (a bridge's ports) costs what changed: the large set is a
        :class:`~ovsdbus.ovsdb.sets.VersionedSet` sharing its storage with ``old``.
        """
        atoms = self._atoms_from_wire(diff)
        removed = tuple(a for a in atoms if a in old)
        added = tuple(a for a in atoms if a not in old) if len(removed) != len(atoms) else ()
        return changed_set(old, removed, added), removed, added

    def __repr__(self):
        return "ColumnType(%r, %r, %r, %r)" % (self.key, self.value, self.min, self.max)


def _atom_sort_key(atom):
    return (type(atom).__name__, atom)


def _sort_key(pair):
    return _atom_sort_key(pair[0])


class ColumnSchema:
    """One column: its name, type and flags."""

    __slots__ = ("name", "type", "mutable", "ephemeral")

    def __init__(self, name, type, mutable=True, ephemeral=False):
        self.name = name
        self.type = type
        self.mutable = mutable
        self.ephemeral = ephemeral

    @classmethod
    def from_json(cls, name, json):
        """Parse a ``<column-schema>``."""
        if not isinstance(json, dict) or "type" not in json:
            raise SchemaError("bad schema for column %r" % name)
        return cls(name, ColumnType.from_json(json["type"]), json.get("mutable", True),
                   json.get("ephemeral", False))


class TableSchema:
    """One table: columns (without the implicit ``_uuid`` and ``_version``), indexes, root flag."""

    def __init__(self, name, columns, is_root=False, indexes=(), max_rows=None):
        self.name = name
        self.columns = columns
        self.is_root = is_root
        self.indexes = [tuple(i) for i in indexes]
        self.max_rows = max_rows

    @classmethod
    def from_json(cls, name, json, root_by_default=False):
        """Parse a ``<table-schema>``; ``root_by_default`` for schemas without ``isRoot``."""
        if not isinstance(json, dict) or not isinstance(json.get("columns"), dict):
            raise SchemaError("bad schema for table %r" % name)
        columns = {c: ColumnSchema.from_json(c, j) for c, j in json["columns"].items()}
        return cls(name, columns, json.get("isRoot", root_by_default), json.get("indexes", ()),
                   json.get("maxRows"))

    def column_type(self, column):
        """The :class:`ColumnType` of ``column``, including ``_uuid`` and ``_version``."""
        if column in ("_uuid", "_version"):
            return UUID_COLUMN_TYPE
        return self.columns[column].type


UUID_COLUMN_TYPE = ColumnType(BaseType(UUID))


class DatabaseSchema:
    """A whole ``<database-schema>``; ``json`` keeps what the server sent."""

    def __init__(self, name, version, tables, json=None):
        self.name = name
        self.version = version
        self.tables = tables
        self.json = json

    @classmethod
    def from_json(cls, json):
        """Parse the result of ``get_schema`` (or a schema file's contents)."""
        if not isinstance(json, dict) or not isinstance(json.get("tables"), dict) or "name" not in json:
            raise SchemaError("not an OVSDB schema")
        # RFC 7047: a schema without any isRoot treats every table as root.
        any_root = any(isinstance(t, dict) and "isRoot" in t for t in json["tables"].values())
        tables = {n: TableSchema.from_json(n, t, root_by_default=not any_root)
                  for n, t in json["tables"].items()}
        return cls(json["name"], json.get("version"), tables, json)
