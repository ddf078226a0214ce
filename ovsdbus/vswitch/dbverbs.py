"""The database verbs as planners over a :class:`~ovsdbus.ovsdb.txn.Txn`: ovs-vsctl's
``get/list/find/set/add/remove/clear/create/destroy/wait-until``, and the bridge and port
verbs of :mod:`ovsdbus.vswitch.operations`, all batchable.

Each verb is a :class:`Verb`: its argument names (those of the D-Bus method), whether it
writes, and a planner ``plan(ctx, **args) -> result`` that reads through ``ctx.txn`` (which
shows what earlier commands of the same batch did) and writes to it.  Planners raise
NotFound, AlreadyExists, InvalidArgs, Ambiguous, ReferentialIntegrity... before anything is
sent.  A result is a dict with any of:

``table``   the table of ``uuid`` and ``rows``;
``uuid``    the row the command created (a :class:`~ovsdbus.ovsdb.schema.NamedUuid` until the
            batch resolves it), or the row it found for ``may_exist``;
``rows``    rows read, each ``{column or "column:key": Python value, "_uuid": uuid}``;
``changed`` whether the command changed anything;
``value``   the answer of a verb that returns a plain value (BridgeExists, ListBridges, ...).

Nothing here knows about Open_vSwitch's tables but the bridge and port verbs at the end;
the generic verbs work on any schema.  Values are Python values of the schema's
representation; ``@name`` references have been turned into uuid-names by the batch.
"""

from collections.abc import Mapping
from typing import Callable, NamedTuple

from ovsdbus.ovsdb import conditions as _conditions
from ovsdbus.ovsdb.errors import AlreadyExists, InvalidArgs, NotFound, ReferentialIntegrity
from ovsdbus.ovsdb.schema import NamedUuid
from ovsdbus.ovsdb.txn import references
from ovsdbus.vswitch import records as _records
from ovsdbus.vswitch.operations import NAMED_TABLES, check_lookup_name, check_name


class NotYet(Exception):
    """A WaitUntil command whose conditions do not hold yet; the batch waits for a change
    (at most ``timeout`` seconds) and plans again."""

    def __init__(self, timeout):
        super().__init__("conditions do not hold yet")
        self.timeout = timeout


class Context:
    """What a planner works with: ``txn`` (a Txn, or the replica itself for a read outside any
    transaction) and ``uuid_of_path`` (object path -> uuid, NotFound for an unknown path)."""

    def __init__(self, txn, uuid_of_path=None):
        self.txn = txn
        self.schema = txn.schema
        self.uuid_of_path = uuid_of_path

    def table(self, table):
        """The TableSchema of ``table``; InvalidArgs if the database has no such table."""
        if not isinstance(table, str) or table not in self.schema.tables:
            raise InvalidArgs("database %s has no table %r" % (self.schema.name, table))
        replica = getattr(self.txn, "replica", self.txn)
        if table not in getattr(replica, "tables", (table,)):
            raise InvalidArgs("table %s is not mirrored by this service" % table)
        return self.schema.tables[table]

    def lookup(self, table, record, if_exists=False):
        """The uuid of ``record`` of ``table`` (see :func:`find_record`); ``None`` for a missing
        record with ``if_exists``."""
        try:
            return find_record(self, table, record)
        except NotFound:
            if if_exists:
                return None
            raise


def find_record(ctx, table, record):
    """The uuid of the row of ``table`` that ``record`` names: a uuid-name of a row created
    earlier in this batch, or anything :func:`ovsdbus.vswitch.records.find_record` understands
    (uuids, names and ovs-vsctl's other record ids, ``.``, object paths)."""
    ctx.table(table)
    if isinstance(record, NamedUuid):
        if ctx.txn.row(table, record) is None:
            raise InvalidArgs("the reference names a row of another table than %s" % table)
        return record
    return _records.find_record(ctx.txn, ctx.schema, table, record, ctx.uuid_of_path)


# -- column specs and values -----------------------------------------------------------

def parse_column_spec(ctx, table, spec):
    """``(column, key atom or None)`` for ``"column"`` or ``"column:key"`` of ``table`` (see
    :func:`ovsdbus.ovsdb.conditions.parse_column_spec`); ``_uuid`` is a column too."""
    tschema = ctx.table(table)
    if spec == "_uuid":
        return spec, None
    column, key_text = _conditions.parse_column_spec(tschema, spec)
    if key_text is None:
        return column, None
    return column, _conditions.key_from_text(table, column, tschema.columns[column].type, key_text)


def _project(ctx, table, uuid, row, specs):
    """``{spec: value}`` of ``row`` for ``specs`` (all columns when empty), with ``_uuid``."""
    result = {"_uuid": uuid}
    if not specs:
        for column in ctx.schema.tables[table].columns:
            result[column] = row[column]
        return result
    for spec in specs:
        column, key = parse_column_spec(ctx, table, spec)
        if column == "_uuid":
            continue
        value = row[column]
        if key is None:
            result[spec] = value
        elif key in value:
            result[spec] = value[key]
        else:
            raise NotFound("%s %s has no key %r in column %s" % (table, _label(row, uuid), key, column))
    return result


def _label(row, uuid):
    name = row.get("name") if "name" in row else None
    return repr(name) if isinstance(name, str) else str(uuid)


def _split_values(ctx, table, values, key_values=None):
    """``({column: value}, {column: {key: value}})`` from ``values`` whose keys are ``column`` or
    ``column:key``, plus ``key_values``."""
    if not isinstance(values, Mapping):
        raise InvalidArgs("values must be a dict of column to value")
    plain, keyed = {}, {}
    for spec, value in values.items():
        column, key = parse_column_spec(ctx, table, spec)
        if column == "_uuid":
            raise InvalidArgs("%s._uuid cannot be set" % table)
        if key is None:
            plain[column] = value
        else:
            keyed.setdefault(column, {})[key] = value
    for column, pairs in (key_values or {}).items():
        parse_column_spec(ctx, table, column)
        keyed.setdefault(column, {}).update(pairs)
    for column in keyed:
        if column in plain:
            raise InvalidArgs("%s.%s is given both whole and by key" % (table, column))
    return plain, keyed


# -- the generic verbs -------------------------------------------------------------------

def plan_get(ctx, table, record, columns=(), if_exists=False):
    """Read ``columns`` (``column`` or ``column:key``; all when empty) of one record."""
    uuid = ctx.lookup(table, record, if_exists)
    if uuid is None:
        return {"table": table, "rows": [], "changed": False}
    return {"table": table, "rows": [_project(ctx, table, uuid, ctx.txn.row(table, uuid), columns)],
            "changed": False}


def _sorted_rows(rows):
    return sorted(rows.items(), key=lambda item: str(item[0]))


def plan_list(ctx, table, columns=()):
    """Read ``columns`` of every row of ``table``."""
    ctx.table(table)
    return {"table": table, "changed": False,
            "rows": [_project(ctx, table, u, row, columns) for u, row in _sorted_rows(ctx.txn.rows(table))]}


def _matcher(ctx, table, conditions):
    tschema = ctx.table(table)
    parsed = []
    for condition in conditions or ():
        if not (isinstance(condition, (list, tuple)) and len(condition) == 3):
            raise InvalidArgs("a condition is (column, operator, value)")
        parsed.append(_conditions.parse_condition(tschema, *condition))
    return lambda row: all(c.matches(row) for c in parsed)


def plan_find(ctx, table, conditions=(), columns=()):
    """Read ``columns`` of the rows of ``table`` that match all ``conditions``."""
    matches = _matcher(ctx, table, conditions)
    return {"table": table, "changed": False,
            "rows": [_project(ctx, table, u, row, columns) for u, row in _sorted_rows(ctx.txn.rows(table))
                     if matches(row)]}


def plan_set(ctx, table, record, values, key_values=None, if_exists=False):
    """Replace columns; ``column:key`` sets one key of a map (a mutation: other keys stay)."""
    plain, keyed = _split_values(ctx, table, values, key_values)
    uuid = ctx.lookup(table, record, if_exists)
    if uuid is None:
        return {"changed": False}
    txn = ctx.txn
    if plain:
        txn.update(table, uuid, plain)
    for column, pairs in keyed.items():
        txn.mutate(table, uuid, column, "delete", frozenset(pairs))
        txn.mutate(table, uuid, column, "insert", pairs)
    return {"changed": bool(plain or keyed)}


def _collection(ctx, table, column):
    column, key = parse_column_spec(ctx, table, column)
    if key is not None or column == "_uuid":
        raise InvalidArgs("%s: name a whole set or map column, not %r" % (table, column))
    ctype = ctx.schema.tables[table].columns[column].type
    if ctype.is_scalar:
        raise InvalidArgs("%s.%s holds exactly one value, not a set or map" % (table, column))
    return column, ctype


def _as_mutation_value(ctype, values):
    if ctype.is_map:
        return values
    if isinstance(values, (str, int, float)):
        return frozenset([values])
    if isinstance(values, Mapping):
        raise InvalidArgs("a set takes values, not key-value pairs")
    return frozenset(values)


def plan_add(ctx, table, record, column, values, if_exists=False):
    """Insert ``values`` into a set, or key-value pairs into a map (keys present stay as they are)."""
    column, ctype = _collection(ctx, table, column)
    if ctype.is_map and not isinstance(values, Mapping):
        raise InvalidArgs("%s.%s is a map: add takes key-value pairs" % (table, column))
    uuid = ctx.lookup(table, record, if_exists)
    if uuid is None:
        return {"changed": False}
    ctx.txn.mutate(table, uuid, column, "insert", _as_mutation_value(ctype, values))
    return {"changed": True}


def plan_remove(ctx, table, record, column, values, if_exists=False):
    """Delete ``values`` from a set; from a map, delete the given keys (a set or list of keys) or
    the given key-value pairs (a dict: only pairs whose value matches)."""
    column, ctype = _collection(ctx, table, column)
    uuid = ctx.lookup(table, record, if_exists)
    if uuid is None:
        return {"changed": False}
    if ctype.is_map and not isinstance(values, Mapping):
        values = frozenset([values]) if isinstance(values, (str, int, float)) else frozenset(values)
    ctx.txn.mutate(table, uuid, column, "delete", _as_mutation_value(ctype, values))
    return {"changed": True}


def plan_clear(ctx, table, record, columns, if_exists=False):
    """Empty sets, maps and optional columns."""
    if isinstance(columns, str):
        columns = [columns]
    new = {}
    for spec in columns or ():
        column, ctype = _collection(ctx, table, spec)
        if ctype.min > 0:
            raise InvalidArgs("%s.%s must hold at least %d value(s); it cannot be cleared" % (table, column, ctype.min))
        new[column] = ctype.default()
    uuid = ctx.lookup(table, record, if_exists)
    if uuid is None or not new:
        return {"changed": False}
    ctx.txn.update(table, uuid, new)
    return {"changed": True}


def plan_create(ctx, table, values, key_values=None):
    """Insert a row (an unreferenced row of a non-root table is refused by the batch)."""
    plain, keyed = _split_values(ctx, table, values or {}, key_values)
    for column, pairs in keyed.items():
        plain[column] = dict(pairs)
    uuid = ctx.txn.insert(table, plain)
    return {"table": table, "uuid": uuid, "changed": True}


def plan_destroy(ctx, table, records, if_exists=False):
    """Delete rows; strong references to them that can be dropped are removed first (a port leaves
    its bridge's ``ports``), and a reference that cannot (a column that would fall below its
    minimum) is ReferentialIntegrity naming the referrer."""
    if isinstance(records, str):
        records = [records]
    txn = ctx.txn
    changed = False
    for record in records:
        uuid = ctx.lookup(table, record, if_exists)
        if uuid is None:
            continue
        _unlink(ctx, table, uuid)
        txn.delete(table, uuid)
        changed = True
    return {"changed": changed}


def _unlink(ctx, table, uuid):
    txn = ctx.txn
    for rtable, column, part, ref_type in references(ctx.schema, table):
        if ref_type != "strong":
            continue   # the server drops weak references itself
        ctype = ctx.schema.tables[rtable].columns[column].type
        for ruuid, rrow in txn.raw_rows(rtable):
            if rtable == table and ruuid == uuid:
                continue
            value = rrow[column]
            if ctype.is_map:
                hits = {k: v for k, v in value.items() if (k if part == "key" else v) == uuid}
                remaining = len(value) - len(hits)
            elif ctype.is_scalar or ctype.is_optional:
                hits = value == uuid
                remaining = 0 if hits else 1
            else:
                hits = uuid in value
                remaining = len(value) - 1
            if not hits:
                continue
            if ctype.is_scalar or remaining < ctype.min:
                raise ReferentialIntegrity(
                    "referential integrity violation",
                    "cannot delete %s row %s: %s row %s (%s) refers to it in column %s, which cannot do without it"
                    % (table, uuid, rtable, ruuid, _label(rrow, ruuid), column))
            if ctype.is_map:
                txn.mutate(rtable, ruuid, column, "delete", hits)
            else:
                txn.mutate(rtable, ruuid, column, "delete", frozenset([uuid]))


def plan_wait_until(ctx, table, record, conditions=(), timeout=None):
    """Hold until ``record`` exists and matches ``conditions`` (raises :class:`NotYet` until then).

    ``timeout`` is in seconds; ``None`` waits as long as it takes, 0 only looks at the replica as it is.
    """
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 <= timeout <= 86400):
        raise InvalidArgs("timeout must be a number of seconds from 0 to 86400 (a day), not %r" % (timeout,))
    matches = _matcher(ctx, table, conditions)
    try:
        uuid = find_record(ctx, table, record)
    except NotFound:
        raise NotYet(timeout) from None
    if not matches(ctx.txn.row(table, uuid)):
        raise NotYet(timeout)
    return {"changed": False}


# -- the bridge and port verbs ------------------------------------------------------------

def root_row(ctx):
    """The uuid of the Open_vSwitch table's one row (NotFound if the database was never initialised)."""
    rows = ctx.txn.rows("Open_vSwitch")
    if not rows:
        raise NotFound("the database has no Open_vSwitch row; initialise it (ovs-vsctl init)")
    return next(iter(rows))


def find_bridge(ctx, name, if_exists=False):
    """The uuid of bridge ``name``; NotFound (None with ``if_exists``) if there is none."""
    check_lookup_name(name, "bridge name")
    uuid = ctx.txn.find("Bridge", name=name)
    if uuid is None and not if_exists:
        raise NotFound("no bridge named %r" % name)
    return uuid


def require_unused_name(ctx, name, what):
    """Refuse ``name`` for a new bridge, port or interface: not a valid device name (InvalidArgs), or
    the name of a bridge, port or interface already (AlreadyExists)."""
    check_name(name, what)
    for table in NAMED_TABLES:
        if ctx.txn.find(table, name=name) is not None:
            raise AlreadyExists("%s %r: a %s of that name already exists" % (what, name, table.lower()))


def insert_port(txn, name, interface_type=""):
    """Insert port ``name`` with one interface of the same name (of ``interface_type``); its uuid."""
    iface = {"name": name}
    if interface_type:
        iface["type"] = interface_type
    iface_uuid = txn.insert("Interface", iface)
    return txn.insert("Port", {"name": name, "interfaces": frozenset([iface_uuid])})


def plan_create_bridge(ctx, name, may_exist=False):
    """Bridge ``name`` with its local port and internal interface (``ovs-vsctl add-br``)."""
    if may_exist:
        check_lookup_name(name, "bridge name")
        existing = ctx.txn.find("Bridge", name=name)
        if existing is not None:
            return {"table": "Bridge", "uuid": existing, "changed": False}
    require_unused_name(ctx, name, "bridge name")
    root = root_row(ctx)
    txn = ctx.txn
    port = insert_port(txn, name, "internal")
    bridge = txn.insert("Bridge", {"name": name, "ports": frozenset([port])})
    txn.mutate("Open_vSwitch", root, "bridges", "insert", frozenset([bridge]))
    return {"table": "Bridge", "uuid": bridge, "changed": True}


def delete_port_rows(txn, port_uuid):
    """Delete a port's row and its interfaces' rows (the caller unlinks it from its bridge)."""
    port = txn.row("Port", port_uuid)
    interfaces = port["interfaces"]
    txn.delete("Port", port_uuid)
    for iface in interfaces:
        if txn.row("Interface", iface) is not None:
            txn.delete("Interface", iface)


def plan_delete_bridge(ctx, name, if_exists=False):
    """Delete bridge ``name`` with its ports and interfaces (``ovs-vsctl del-br``)."""
    uuid = find_bridge(ctx, name, if_exists)
    if uuid is None:
        return {"changed": False}
    txn = ctx.txn
    root = root_row(ctx)
    ports = txn.row("Bridge", uuid)["ports"]
    txn.mutate("Open_vSwitch", root, "bridges", "delete", frozenset([uuid]))
    txn.delete("Bridge", uuid)
    for port in ports:
        if txn.row("Port", port) is not None:
            delete_port_rows(txn, port)
    return {"changed": True}


def plan_add_port(ctx, bridge, port, may_exist=False):
    """Port ``port`` with an interface of the same name on ``bridge`` (``ovs-vsctl add-port``)."""
    bridge_uuid = find_bridge(ctx, bridge)
    txn = ctx.txn
    if may_exist:
        check_lookup_name(port, "port name")
        existing = txn.find("Port", name=port)
        if existing is not None:
            if existing not in txn.row("Bridge", bridge_uuid)["ports"]:
                raise AlreadyExists("port %r exists on another bridge than %r" % (port, bridge))
            return {"table": "Port", "uuid": existing, "changed": False}
    require_unused_name(ctx, port, "port name")
    port_uuid = insert_port(txn, port)
    txn.mutate("Bridge", bridge_uuid, "ports", "insert", frozenset([port_uuid]))
    return {"table": "Port", "uuid": port_uuid, "changed": True}


def plan_delete_port(ctx, bridge, port, if_exists=False):
    """Remove ``port`` from ``bridge`` and delete it with its interfaces (``ovs-vsctl del-port``)."""
    bridge_uuid = find_bridge(ctx, bridge)
    check_lookup_name(port, "port name")
    txn = ctx.txn
    port_uuid = txn.find("Port", name=port)
    if port_uuid is None or port_uuid not in txn.row("Bridge", bridge_uuid)["ports"]:
        if if_exists:
            return {"changed": False}
        raise NotFound("bridge %r has no port named %r" % (bridge, port))
    if port == bridge:
        raise InvalidArgs("port %r is the local port of bridge %r; delete the bridge instead" % (port, bridge))
    txn.mutate("Bridge", bridge_uuid, "ports", "delete", frozenset([port_uuid]))
    delete_port_rows(txn, port_uuid)
    return {"changed": True}


def plan_bridge_exists(ctx, name):
    """Whether bridge ``name`` exists."""
    check_lookup_name(name, "bridge name")
    return {"value": ctx.txn.find("Bridge", name=name) is not None, "changed": False}


def plan_list_bridges(ctx):
    """The sorted names of all bridges."""
    return {"value": sorted(row["name"] for row in ctx.txn.rows("Bridge").values()), "changed": False}


def plan_list_bridge_ports(ctx, bridge):
    """The sorted port names of ``bridge`` less its local port."""
    uuid = find_bridge(ctx, bridge)
    txn = ctx.txn
    names = []
    for port in txn.row("Bridge", uuid)["ports"]:
        row = txn.row("Port", port)
        if row is not None and row["name"] != bridge:
            names.append(row["name"])
    return {"value": sorted(names), "changed": False}


# -- the verb table ---------------------------------------------------------------------------

class Verb(NamedTuple):
    """A batchable verb: its name (the D-Bus method's), its planner, its arguments (required
    first, then optional ones with their defaults), whether it writes, and which arguments
    name it in an error message."""

    name: str
    plan: Callable
    required: tuple
    optional: dict
    writes: bool
    label: tuple

    def arguments(self, args, where=""):
        """``args`` checked: every required one present, none unknown (InvalidArgs naming them)."""
        if not isinstance(args, Mapping):
            raise InvalidArgs("%sarguments must be a dict" % where)
        missing = [a for a in self.required if a not in args]
        if missing:
            raise InvalidArgs("%s%s needs argument(s) %s" % (where, self.name, ", ".join(missing)))
        unknown = sorted(a for a in args if a not in self.required and a not in self.optional and a != "id")
        if unknown:
            raise InvalidArgs("%s%s takes no argument(s) %s (it takes %s)"
                              % (where, self.name, ", ".join(unknown),
                                 ", ".join(self.required + tuple(self.optional))))
        return {a: v for a, v in args.items() if a != "id"}

    def describe(self, args):
        """The command as a message names it: ``Set Port p1``."""
        words = [self.name]
        for a in self.label:
            value = args.get(a) if isinstance(args, Mapping) else None
            if isinstance(value, str):
                words.append(value if len(value) <= 64 else value[:64] + "...")
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
                words.append(" ".join(value)[:64])
        return " ".join(words)


def _verb(name, plan, required, optional=None, writes=True, label=("table", "record")):
    return Verb(name, plan, tuple(required), dict(optional or {}), writes, tuple(label))


VERBS = {v.name: v for v in (
    _verb("Get", plan_get, ("table", "record"), {"columns": (), "if_exists": False}, writes=False),
    _verb("List", plan_list, ("table",), {"columns": ()}, writes=False, label=("table",)),
    _verb("Find", plan_find, ("table",), {"conditions": (), "columns": ()}, writes=False, label=("table",)),
    _verb("Set", plan_set, ("table", "record", "values"), {"key_values": None, "if_exists": False}),
    _verb("Add", plan_add, ("table", "record", "column", "values"), {"if_exists": False},
          label=("table", "record", "column")),
    _verb("Remove", plan_remove, ("table", "record", "column", "values"), {"if_exists": False},
          label=("table", "record", "column")),
    _verb("Clear", plan_clear, ("table", "record", "columns"), {"if_exists": False}),
    _verb("Create", plan_create, ("table",), {"values": None, "key_values": None}, label=("table",)),
    _verb("Destroy", plan_destroy, ("table", "records"), {"if_exists": False}, label=("table", "records")),
    _verb("WaitUntil", plan_wait_until, ("table", "record"), {"conditions": (), "timeout": None}, writes=False),
    _verb("CreateBridge", plan_create_bridge, ("name",), {"may_exist": False}, label=("name",)),
    _verb("DeleteBridge", plan_delete_bridge, ("name",), {"if_exists": False}, label=("name",)),
    _verb("AddPort", plan_add_port, ("bridge", "port"), {"may_exist": False}, label=("bridge", "port")),
    _verb("DeletePort", plan_delete_port, ("bridge", "port"), {"if_exists": False}, label=("bridge", "port")),
    _verb("BridgeExists", plan_bridge_exists, ("name",), writes=False, label=("name",)),
    _verb("ListBridges", plan_list_bridges, (), writes=False, label=()),
    _verb("ListBridgePorts", plan_list_bridge_ports, ("bridge",), writes=False, label=("bridge",)),
)}

#: The verbs whose result is a row they created, and so may take ``id: "@name"``.
CREATING_VERBS = frozenset(("Create", "CreateBridge", "AddPort"))
