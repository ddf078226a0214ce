"""The arguments and results of ``org.openvswitch.ovsdb.Database``, converted between D-Bus and Python.

Pure code between the D-Bus adapter (:mod:`ovsdbus.bus.service`) and the vswitch ``Database``
facade: D-Bus values come in as txdbus unmarshals them (the signature of a variant is lost) and
leave as ``(signature, value)`` variants that :mod:`ovsdbus.bus.wire` encodes.  Every value is
converted by its column's type in the server's schema (:mod:`ovsdbus.projection.types`), so the
same code serves every table of every schema.

A call is described by its argument names from :data:`ovsdbus.api.DATABASE_SPEC` (the same names
``Transact`` takes its commands' arguments by), and :meth:`DatabaseArgs.call_args` turns the
D-Bus values of a call into the Python values of the facade:

=============  ==============================================================================
argument       Python value
=============  ==============================================================================
table          the table's name (InvalidArgs if the schema has no such table)
record(s)      as given (the facade looks the record up: name, record id, uuid or object path)
columns        the column specs as given, each ``column`` or ``column:key`` (checked against the
               schema; the rows read come back keyed by them)
values         of ``Set``: ``{column: value}``, and ``key_values`` ``{column: {key: value}}`` for
               the ``column:key`` entries; of ``Create``: ``{column: value}`` with ``column:key``
               entries merged into their maps; of ``Add``/``Remove``: a ``frozenset`` of set
               elements, a ``dict`` of map pairs, or (``Remove`` only) a ``frozenset`` of map keys
               given as an array
column         the column's name as the schema spells it
conditions     ``[(column spec, operator, value)]``, the value converted by the column's type (of
               its map's values for ``column:key``): what
               :func:`~ovsdbus.ovsdb.conditions.parse_condition` takes
timeout        seconds, a finite float > 0
others         (the ``org.openvswitch.ovsdb`` verbs' names) as given
=============  ==============================================================================

Errors are :class:`~ovsdbus.ovsdb.errors.InvalidArgs` (or NotFound for an object path that names
no row) and carry no D-Bus names; inside ``Transact`` their message starts with the command:
``command 2 (Set Port p1): Port.tag: expected ax (0 or 1 element, each 0 to 4095), got 5000``.
"""

import math

from ovsdbus import api
from ovsdbus.ovsdb import conditions as ovsdb_conditions
from ovsdbus.ovsdb.errors import InvalidArgs, OvsdbusError
from ovsdbus.projection import types

#: Column specs that read a row's own uuid and version (``Get``/``List``/``Find`` columns).
META_COLUMNS = ("_uuid", "_version")

#: Arguments a ``Transact`` command may leave out, with the value they take then.
OPTIONAL_ARGS = {"columns": [], "conditions": []}

#: What each argument signature of a ``Transact`` command must arrive as (txdbus's Python types).
_SHAPES = {
    "s": "a string", "o": "an object path", "b": "a boolean", "d": "a number", "x": "an integer",
    "as": "an array of strings", "ax": "an array of integers", "a{sv}": "a dict of string to variant",
    "a{ss}": "a dict of string to string", "a{ua{ss}}": "a dict of number to dict of string to string",
    "a(ssv)": "an array of (column, operator, value)", "v": "any value",
}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_string_map(value):
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _is_shaped(signature, value):
    if signature in ("s", "o"):
        return isinstance(value, str)
    if signature == "b":
        return isinstance(value, bool)
    if signature == "d":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if signature == "x":
        return _is_int(value) and -2**63 <= value < 2**63
    if signature == "as":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    if signature == "ax":
        return isinstance(value, (list, tuple)) and all(_is_int(v) for v in value)
    if signature == "a{ss}":
        return _is_string_map(value)
    if signature == "a{ua{ss}}":
        return isinstance(value, dict) and all(_is_int(k) and 0 <= k < 2**32 and _is_string_map(v)
                                               for k, v in value.items())
    if signature == "a{sv}":
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if signature == "a(ssv)":
        return isinstance(value, (list, tuple)) and all(
            isinstance(c, (list, tuple)) and len(c) == 3 and isinstance(c[0], str) and isinstance(c[1], str)
            for c in value)
    return True


def command_label(verb, args):
    """How a ``Transact`` command is named in error messages: the verb, then its string
    arguments that say what it works on (``Set Port p1``, ``AddPort br0 p0``)."""
    spec = api.batch_verbs().get(verb)
    words = [str(verb)]
    if spec is not None and isinstance(args, dict):
        for arg in spec.inputs:
            if arg.signature == "s" and arg.name != "column" and isinstance(args.get(arg.name), str):
                words.append(args[arg.name])
    return " ".join(words)


#: Options of a configuration method that are about the whole transaction (how long to wait, for what).
WAIT_OPTIONS = tuple(name for name, _ in api.WAIT_OPTIONS)


def lift_wait(commands, options):
    """``options`` (of ``Transact``) plus the ``wait``/``apply_timeout`` of the commands' own
    ``options`` dicts, which lose them; InvalidArgs when two say different things."""
    result = dict(options)
    for verb, args in commands:
        own = args.get("options")
        if not isinstance(own, dict):
            continue
        for name in WAIT_OPTIONS:
            if name in own:
                value = own.pop(name)
                if name in result and result[name] != value:
                    raise InvalidArgs("%s: option %s is %s, but another command or Transact's options say %s"
                                      % (verb, name, types._show(value), types._show(result[name])))
                result[name] = value
    return result


class DatabaseArgs:
    """Conversions for one call against ``schema`` (a :class:`~ovsdbus.ovsdb.schema.DatabaseSchema`).

    :param path_of: ``(table, uuid) -> object path or None`` (rows not on the bus have none).
    :param uuid_of_path: ``path -> uuid`` of the row an object path names; raises NotFound.
    """

    def __init__(self, schema, path_of, uuid_of_path):
        self.schema = schema
        self.path_of = path_of
        self.uuid_of_path = uuid_of_path

    # -- D-Bus -> Python ----------------------------------------------------------------------

    def table(self, table):
        """The :class:`~ovsdbus.ovsdb.schema.TableSchema` of ``table``; InvalidArgs if there is none."""
        if not isinstance(table, str) or table not in self.schema.tables:
            raise InvalidArgs("database %s has no table %s" % (self.schema.name, types._show(table)))
        return self.schema.tables[table]

    def column_spec(self, tschema, spec, key=True):
        """``(column, key_text)`` of ``column`` or ``column:key`` (``key_text`` None without a key);
        ``key``: whether a key is allowed.  InvalidArgs for an unknown column or a key on a
        column that is not a map."""
        column, key_text = ovsdb_conditions.parse_column_spec(tschema, spec)
        if key_text is not None and not key:
            raise InvalidArgs("%s.%s: a whole column is needed here, not %s"
                              % (tschema.name, column, types._show(spec)))
        return column, key_text

    def columns(self, table, specs):
        """The column specs of ``Get``/``List``/``Find``/``Clear``, each checked; ``_uuid`` and
        ``_version`` are allowed where reading (``meta``)."""
        tschema = self.table(table)
        result = []
        for spec in specs:
            if spec in META_COLUMNS:
                result.append(spec)
                continue
            self.column_spec(tschema, spec)
            result.append(spec)
        return result

    def _key(self, tschema, column, key_text):
        ctype = tschema.columns[column].type
        return types.map_key_from_text(tschema.name, column, ctype, key_text)

    def set_values(self, table, values):
        """``(values, key_values)`` for ``Set``: whole columns, and ``{column: {key: value}}`` for
        the ``column:key`` entries."""
        tschema = self.table(table)
        whole, keyed = {}, {}
        for spec, value in values.items():
            column, key_text = self.column_spec(tschema, spec)
            ctype = tschema.columns[column].type
            if key_text is None:
                if column in whole:
                    raise InvalidArgs("%s.%s is given twice" % (table, column))
                whole[column] = types.from_dbus(table, column, ctype, value, self.uuid_of_path)
            else:
                key = self._key(tschema, column, key_text)
                pairs = keyed.setdefault(column, {})
                if key in pairs:
                    raise InvalidArgs("%s.%s: key %s is given twice" % (table, column, types._show(key_text)))
                pairs[key] = types.from_dbus_map_value(table, column, ctype, value, self.uuid_of_path)
        for column in keyed:
            if column in whole:
                raise InvalidArgs("%s.%s is given both whole and by key" % (table, column))
        return whole, keyed

    def create_values(self, table, values):
        """``{column: value}`` for ``Create``: ``column:key`` entries become keys of their map."""
        tschema = self.table(table)
        whole, keyed = self.set_values(table, values)
        for column, pairs in keyed.items():
            whole[column] = pairs
            ctype = tschema.columns[column].type
            n = len(whole[column])
            if n < ctype.min or (ctype.max is not None and n > ctype.max):
                raise InvalidArgs("%s.%s: expected %s, got %d pairs" % (table, column, types.describe(ctype), n))
        return whole

    def delta(self, table, column, value, remove=False):
        """What ``Add`` inserts into or ``Remove`` deletes from set or map ``column``: a frozenset
        of elements, a dict of pairs, or (``remove`` from a map, given as an array) a frozenset of keys."""
        tschema = self.table(table)
        name, _ = self.column_spec(tschema, column, key=False)
        ctype = tschema.columns[name].type
        if ctype.is_scalar:
            raise InvalidArgs("%s.%s holds exactly one value (%s): use Set, not %s"
                              % (table, name, types.describe(ctype), "Remove" if remove else "Add"))
        if ctype.is_map and remove and not isinstance(value, dict):
            return types.from_dbus_keys(table, name, ctype, value, self.uuid_of_path)
        return types.from_dbus(table, name, ctype, value, self.uuid_of_path, part=True)

    def conditions(self, table, conditions):
        """``[(column spec, operator, Python value)]`` of ``(column, operator, value)`` triples
        (``Find``, ``WaitUntil``), each checked by parsing it as a condition."""
        tschema = self.table(table)
        result = []
        for spec, op, value in conditions:
            column, key_text = self.column_spec(tschema, spec)
            if op not in ovsdb_conditions.OPERATORS:
                raise InvalidArgs("%s.%s: unknown operator %s (expected one of %s)"
                                  % (table, column, types._show(op), " ".join(ovsdb_conditions.OPERATORS)))
            ctype = tschema.columns[column].type
            if key_text is None:
                python = types.from_dbus(table, column, ctype, value, self.uuid_of_path, part=True)
            else:
                self._key(tschema, column, key_text)
                if isinstance(value, (list, tuple)):
                    python = frozenset(types.from_dbus_map_value(table, column, ctype, v, self.uuid_of_path)
                                       for v in value)
                else:
                    python = types.from_dbus_map_value(table, column, ctype, value, self.uuid_of_path)
            ovsdb_conditions.parse_condition(tschema, spec, op, python)
            result.append((spec, op, python))
        return result

    @staticmethod
    def timeout(value):
        """Seconds to wait: a finite number above 0."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InvalidArgs("timeout: expected a number of seconds above 0, got %s" % types._show(value))
        return float(value)

    def call_args(self, verb, args):
        """The facade's Python arguments, by name, for method ``verb`` called with ``args``
        (``{argument name: D-Bus value}``, every input of the method)."""
        out = dict(args)
        table = args.get("table")
        if "table" in args:
            self.table(table)
        if "columns" in args:
            out["columns"] = self.columns(table, args["columns"])
        if "conditions" in args:
            out["conditions"] = self.conditions(table, args["conditions"])
        if "timeout" in args:
            out["timeout"] = self.timeout(args["timeout"])
        if "column" in args:
            out["column"], _ = self.column_spec(self.table(table), args["column"], key=False)
        if "records" in args:
            out["records"] = list(args["records"])
        if "options" in args:
            out["options"] = self.method_options(verb, args["options"])
        if "values" in args:
            if verb == "Set":
                out["values"], out["key_values"] = self.set_values(table, args["values"])
            elif verb == "Create":
                out["values"] = self.create_values(table, args["values"])
            else:
                out["values"] = self.delta(table, args["column"], args["values"], remove=verb == "Remove")
        return out

    @staticmethod
    def method_options(verb, options):
        """The ``a{sv} options`` of configuration method ``verb`` checked against the keys and
        signatures its :class:`~ovsdbus.api.MethodSpec` declares: InvalidArgs for an unknown key or a
        value of another type.  Values stay as given (the planner writes them to their columns, whose
        types check them further)."""
        spec = api.batch_verbs().get(verb)
        declared = {a.name: a.signature for a in spec.options} if spec is not None else {}
        if not isinstance(options, dict):
            raise InvalidArgs("options: expected a{sv}, got %s" % types._show(options))
        for name, value in options.items():
            signature = declared.get(name)
            if signature is None:
                raise InvalidArgs("%s has no option %s (it takes %s)"
                                  % (verb, types._show(name), ", ".join(sorted(declared)) or "none"))
            if not _is_shaped(signature, value):
                raise InvalidArgs("option %s: expected %s (%s), got %s"
                                  % (name, signature, _SHAPES.get(signature, signature), types._show(value)))
        return dict(options)

    def method_call(self, verb, args):
        """``(python args, Transact options)`` for a direct call of configuration method ``verb`` with
        ``args`` (``{input name: D-Bus value}``): its ``wait``/``apply_timeout`` options become the
        transaction's, ``may_exist`` stays in the options (the planner takes it from there)."""
        python = self.call_args(verb, args)
        return python, lift_wait([(verb, python)], {})

    def command(self, index, verb, args):
        """``(verb, python args)`` of ``Transact`` command number ``index`` (from 1): its arguments
        by the method's input names, plus its batch options (``id``, ``if_exists``, ``may_exist``)."""
        verbs = api.batch_verbs()
        spec = verbs.get(verb)
        label = "command %d (%s)" % (index, command_label(verb, args))
        if spec is None:
            raise InvalidArgs("%s: unknown verb %s (expected one of %s)"
                              % (label, types._show(verb), ", ".join(sorted(verbs))))
        try:
            inputs = {a.name: a.signature for a in spec.inputs}
            options = {o: api.BATCH_OPTION_SIGNATURES[o] for o in spec.batch_options}
            for name in args:
                if name not in inputs and name not in options:
                    raise InvalidArgs("no argument %s (%s takes %s)" % (
                        types._show(name), verb, ", ".join(list(inputs) + list(options)) or "none"))
            given = {}
            for name, signature in list(inputs.items()) + list(options.items()):
                if name not in args:
                    if name in OPTIONAL_ARGS and name in inputs:
                        given[name] = list(OPTIONAL_ARGS[name])
                    elif name in inputs:
                        raise InvalidArgs("argument %s is missing" % types._show(name))
                    continue
                value = args[name]
                if not _is_shaped(signature, value):
                    raise InvalidArgs("argument %s: expected %s (%s), got %s"
                                      % (name, signature, _SHAPES.get(signature, signature), types._show(value)))
                given[name] = value
            if "id" in given:
                ref = given["id"]
                if not ref.startswith("@") or len(ref) < 2:
                    raise InvalidArgs("id: expected \"@name\", got %s" % types._show(ref))
            python = self.call_args(verb, {k: v for k, v in given.items() if k in inputs})
            python.update({k: v for k, v in given.items() if k in options})
            return verb, python
        except OvsdbusError as e:
            raise type(e)("%s: %s" % (label, e)) from None

    def commands(self, commands):
        """``[(verb, python args)]`` of ``Transact``'s ``a(sa{sv})`` commands."""
        if not commands:
            raise InvalidArgs("Transact needs at least one command")
        if len(commands) > api.MAX_TRANSACT_COMMANDS:
            raise InvalidArgs("Transact takes at most %d commands, not %d" % (api.MAX_TRANSACT_COMMANDS, len(commands)))
        return [self.command(i, verb, args) for i, (verb, args) in enumerate(commands, 1)]

    def transact(self, commands, options):
        """``(commands, options)`` of ``Transact``: the commands converted, and its options checked,
        with any ``wait``/``apply_timeout`` a command's own options give (the whole transaction waits)."""
        commands = self.commands(commands)
        return commands, lift_wait(commands, self.options(options))

    @staticmethod
    def options(options):
        """``Transact``'s options, checked: ``dry_run`` (bool), ``comment`` (str), ``timeout`` (seconds)."""
        result = {}
        for name, value in options.items():
            signature = api.TRANSACT_OPTIONS.get(name)
            if signature is None:
                raise InvalidArgs("Transact has no option %s (expected %s)"
                                  % (types._show(name), ", ".join(api.TRANSACT_OPTIONS)))
            if not _is_shaped(signature, value):
                raise InvalidArgs("option %s: expected %s, got %s" % (name, signature, types._show(value)))
            result[name] = DatabaseArgs.timeout(value) if name == "timeout" else value
        return result

    # -- Python -> D-Bus ----------------------------------------------------------------------

    def value(self, table, spec, value):
        """``(signature, value)`` of column spec ``spec`` (``column``, ``column:key``, ``_uuid``) of ``table``."""
        tschema = self.schema.tables[table]
        if spec in META_COLUMNS:
            return "s", str(value)
        column, key_text = ovsdb_conditions.parse_column_spec(tschema, spec)
        ctype = tschema.columns[column].type
        if key_text is None:
            return types.variant(ctype, value, self.path_of)
        return types.map_value_variant(ctype, value, self.path_of)

    def row(self, table, row):
        """A row (``{column spec: Python value}``, perhaps with ``_uuid``) as ``a{sv}``; a row with a
        ``_uuid`` that is an object also gets its ``_path``."""
        result = {spec: self.value(table, spec, value) for spec, value in row.items()}
        uuid = row.get("_uuid")
        if uuid is not None and "_path" not in row:
            path = self.path_of(table, uuid)
            if path:
                result["_path"] = ("o", path)
        return result

    def rows(self, table, rows):
        """Rows as ``aa{sv}``."""
        return [self.row(table, r) for r in rows]

    def results(self, commands, results):
        """``Transact``'s ``aa{sv}``: one dict per command from the facade's per-command results
        (see :mod:`ovsdbus.vswitch.dbverbs`): ``uuid`` (s) and ``path`` (o) of the row created,
        ``rows`` (aa{sv}) read, ``changed`` (b), ``dry_run`` (b), and a verb's plain answer
        (``value``) under its output's name (``exists``, ``bridges``, ``ports``)."""
        out = []
        for (verb, args), result in zip(commands, results, strict=True):
            spec = api.batch_verbs()[verb]
            result = result or {}
            table = result.get("table") or args.get("table")
            known = table in self.schema.tables
            entry = {}
            if result.get("uuid") is not None:
                uuid = str(result["uuid"])
                entry["uuid"] = ("s", uuid)
                path = self.path_of(table, uuid) if known else None
                if path:
                    entry["path"] = ("o", path)
            if "rows" in result and known:
                entry["rows"] = ("aa{sv}", self.rows(table, result["rows"]))
            for flag in ("changed", "dry_run"):
                if flag in result:
                    entry[flag] = ("b", bool(result[flag]))
            if "value" in result and len(spec.outputs) == 1:
                name, signature = spec.outputs[0]
                value = result["value"]
                entry[name] = (signature, list(value) if signature.startswith("a") else value)
            out.append(entry)
        return out
