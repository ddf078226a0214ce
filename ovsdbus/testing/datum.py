"""OVSDB data in the fake: wire values <-> the Python values of :mod:`ovsdbus.ovsdb.schema`.

Parsing a ``<value>`` with ovsdb-server's checks and error words, encoding a column value as
ovsdb-server sends it (a one-element set as the bare atom), the ``modify`` diff of update2, the
uuids a value references, and :class:`OpError`, the ``{"error", "details", "syntax"}`` object that
a failed operation answers.  Part of the fake OVSDB: use it through :mod:`ovsdbus.testing`.
"""

import json
import uuid as uuid_module

from ovsdbus.ovsdb.schema import INTEGER, REAL, STRING, UUID, ColumnType, NamedUuid, SchemaError

_UINT_MAX = 4294967295


def json_text(value):
    """Compact JSON text of ``value``, as ovsdb-server puts it in a ``"syntax"`` member."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def new_uuid():
    """A fresh random uuid, as a string."""
    return str(uuid_module.uuid4())


class OpError(Exception):
    """An OVSDB error: ``{"error": error, "details": details, "syntax": <json text>}``."""

    _NO_SYNTAX = object()

    def __init__(self, error, details=None, syntax=_NO_SYNTAX):
        super().__init__(error, details)
        self.error = error
        self.details = details
        self.syntax = syntax

    def to_json(self):
        """The error object of a transaction result."""
        value = {"error": self.error}
        if self.details is not None:
            value["details"] = self.details
        if self.syntax is not self._NO_SYNTAX:
            value["syntax"] = json_text(self.syntax)
        return value


def atoms_of(ctype, value):
    """A column value as a frozenset of atoms, or of (key, value) pairs for a map."""
    return ctype.elements(value)


def from_atoms(ctype, atoms):
    """Build a column value of ``ctype`` from atoms (or pairs for a map)."""
    if ctype.is_map:
        return dict(atoms)
    if ctype.is_scalar:
        return next(iter(atoms))
    if ctype.is_optional:
        return next(iter(atoms)) if atoms else None
    return frozenset(atoms)


def encode(ctype, value):
    """Encode a column value as ovsdb-server does: a one-element set is the bare atom."""
    wire = ctype.to_wire(value)
    if (not ctype.is_map and isinstance(wire, list) and wire and wire[0] == "set"
            and len(wire[1]) == 1):
        return wire[1][0]
    return wire


def relaxed(ctype, max_size=None):
    """``ctype`` with any number of elements (from 0 to ``max_size``, None = unlimited)."""
    return ColumnType(ctype.key, ctype.value, 0, max_size)


def hashable(value):
    """``value`` usable as a set member or dict key (a map becomes a frozenset of pairs)."""
    return frozenset(value.items()) if isinstance(value, dict) else value


def _is_composite(ctype):
    """True for a type that can hold more than one value (ovsdb_type_is_composite)."""
    return ctype.max is None or ctype.max > 1


def diff(ctype, old, new):
    """The update2 ``modify`` entry for a column that changed from ``old`` to ``new``."""
    if not _is_composite(ctype):
        return encode(ctype, new)
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
        return encode(ctype, pairs)
    return encode(relaxed(ctype), atoms_of(ctype, old) ^ atoms_of(ctype, new))


def atom_text(atom):
    """An atom as ovsdb-server writes it in error details."""
    if isinstance(atom, bool):
        return "true" if atom else "false"
    if isinstance(atom, float):
        return repr(atom)
    return str(atom)


def type_english(ctype):
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
    text = atom_text(atom)
    if base.enum is not None and atom not in base.enum:
        allowed = ", ".join(atom_text(a) for a in sorted(base.enum))
        return "%s is not one of the allowed values ([%s])" % (text, allowed)
    if base.type in (INTEGER, REAL):
        if base.min is not None and base.max is not None:
            return "%s is not in the valid range %s to %s (inclusive)" % (
                text, atom_text(base.min), atom_text(base.max))
        if base.min is not None:
            return "%s is less than minimum allowed value %s" % (text, atom_text(base.min))
        return "%s is greater than maximum allowed value %s" % (text, atom_text(base.max))
    if base.type == STRING:
        if base.min_length is not None and len(atom) < base.min_length:
            return '"%s" length %d is less than minimum allowed length %d' % (
                atom, len(atom), base.min_length)
        return '"%s" length %d is greater than maximum allowed length %d' % (
            atom, len(atom), base.max_length)
    return "%s violates a constraint" % text


def check_atom(base, atom):
    """Raise an :class:`OpError` "constraint violation" if ``atom`` breaks the constraints of ``base``
    (named uuids are checked once resolved)."""
    if isinstance(atom, NamedUuid):
        return
    try:
        base.check(atom)
    except SchemaError:
        raise OpError("constraint violation", _constraint_details(base, atom)) from None


def _parse_atom(base, json_atom, check=True):
    try:
        atom = base.atom_from_wire(json_atom)
    except SchemaError:
        raise OpError("syntax error", "expected %s" % base.type, json_atom) from None
    if check:
        check_atom(base, atom)
    return atom


def _check_size(ctype, n, json_value, noun):
    mx = _UINT_MAX if ctype.max is None else ctype.max
    if n < ctype.min or n > mx:
        raise OpError("syntax error", "%s must have %d to %d members but %d are present"
                      % (noun, ctype.min, mx, n), json_value)


def parse_datum(ctype, json_value, check=True):
    """Decode a wire ``<value>`` of ``ctype`` like ovsdb-server; errors raise OpError.

    Named uuids come back as :class:`~ovsdbus.ovsdb.schema.NamedUuid` atoms.
    """
    if ctype.is_map:
        if not (isinstance(json_value, list) and len(json_value) == 2 and json_value[0] == "map"
                and isinstance(json_value[1], list)):
            raise OpError("syntax error", "expected map", json_value)
        _check_size(ctype, len(json_value[1]), json_value, "map")
        result = {}
        for pair in json_value[1]:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise OpError("syntax error", "expected <key, value> pair", pair)
            key = _parse_atom(ctype.key, pair[0], check)
            if key in result:
                raise OpError("ovsdb error", "map contains duplicate key")
            result[key] = _parse_atom(ctype.value, pair[1], check)
        return result
    if isinstance(json_value, list) and len(json_value) == 2 and json_value[0] == "set":
        if not isinstance(json_value[1], list):
            raise OpError("syntax error", "expected set", json_value)
        items = json_value[1]
    else:
        items = [json_value]
    _check_size(ctype, len(items), json_value, "set")
    atoms = [_parse_atom(ctype.key, a, check) for a in items]
    if len(set(atoms)) != len(atoms):
        raise OpError("ovsdb error", "set contains duplicate")
    return from_atoms(ctype, atoms)


def map_uuids(ctype, value, fix):
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


def ref_targets(ctype, value, ref_type):
    """Uuids referenced by ``value`` through ``ref_type`` ("strong"/"weak") references."""
    targets = []
    if ctype.is_map:
        if ctype.key.ref_table and ctype.key.ref_type == ref_type:
            targets.extend((ctype.key.ref_table, k) for k in value)
        if ctype.value.ref_table and ctype.value.ref_type == ref_type:
            targets.extend((ctype.value.ref_table, v) for v in value.values())
    elif ctype.key.ref_table and ctype.key.ref_type == ref_type:
        targets.extend((ctype.key.ref_table, a) for a in atoms_of(ctype, value))
    return targets
