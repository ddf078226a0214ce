"""``where`` clauses of the fake: RFC 7047 conditions parsed against a table and matched on rows.

Shared by the transaction operations (select, update, mutate, delete, wait) and by conditional
monitors.  Part of the fake OVSDB: use it through :mod:`ovsdbus.testing`.
"""

from ovsdbus.ovsdb.schema import INTEGER, REAL, NamedUuid
from ovsdbus.testing.datum import OpError, atoms_of, map_uuids, parse_datum, relaxed, type_english

_FUNCTIONS = ("<", "<=", "==", "!=", ">=", ">", "includes", "excludes")
_ORDERING = ("<", "<=", ">=", ">")


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
        atoms = atoms_of(self.ctype, value)
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
        raise OpError("syntax error", "Parse error in condition.", clause)
    column, function, argument = clause
    if column not in table.columns and column not in ("_uuid", "_version"):
        raise OpError("unknown column", "No column %s in table %s." % (column, table.name), clause)
    if function not in _FUNCTIONS:
        raise OpError("unknown function", "No function named %s." % function)
    ctype = table.column_type(column)
    if function in _ORDERING:
        if not (ctype.is_scalar and ctype.key.type in (INTEGER, REAL)):
            raise OpError("syntax error", 'Type mismatch: "%s" operator may not be applied to column '
                          "%s of type %s." % (function, column, type_english(ctype)), clause)
        return _Clause(column, ctype, function, resolve(ctype, parse_datum(ctype, argument)))
    arg_type = relaxed(ctype, ctype.max if function in ("==", "!=") else None)
    value = resolve(arg_type, parse_datum(arg_type, argument))
    return _Clause(column, ctype, function, atoms_of(arg_type, value))


def parse_where(table, where, resolve):
    """Parse a ``where`` array of ``table``; ``resolve(ctype, value)`` turns named uuids into uuids."""
    return [_parse_clause(table, clause, resolve) for clause in where]


def no_named_uuids(ctype, value):
    """A ``resolve`` for places without named uuids (monitor conditions): a name stays a plain string."""
    return map_uuids(ctype, value, lambda a: str(a) if isinstance(a, NamedUuid) else a)
