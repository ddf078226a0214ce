"""The generic object tree: every row of every monitored table an object on D-Bus.

Pure data, driven by the schema alone (this module knows no table of any particular
database).  :class:`ObjectTree` follows the replica's row changes and says, for each
batch, which objects appear, disappear and change; :class:`Objects` merges it with
other projections of the same rows (the Open_vSwitch ``Bridge``/``Port``/``Interface``
interfaces of :mod:`ovsdbus.projection.view`) into one tree of objects, each carrying
every interface shown at its path.

Shape of the tree (documented for users in the README, "Objects"):

- Each table gets one interface, ``org.openvswitch.ovsdb.Table.<Table>``, generated from
  the schema: one read-only property per column, named as the column, typed by
  :func:`ovsdbus.projection.types.column_signature`, plus ``_uuid`` (``s``).  A reference
  is the object path of the row it names (see :func:`ovsdbus.projection.types.to_dbus`: a
  reference to a row without an object is ``/``, or left out of an array or dict).
- Paths: ``/org/openvswitch/ovsdb/<table>/<row>``, where ``<table>`` is the table's name
  in lowercase (the name itself if two tables differ only in case) and ``<row>`` is the
  escaped ``name`` (see :func:`ovsdbus.projection.view.escape_path_element`) for a table
  whose ``name`` column is a string with a unique index on it alone (Bridge, Port and
  Interface in Open_vSwitch, so those objects are the ones of the older interfaces
  too), and otherwise the row's uuid with ``-`` written ``_``.  Renaming a row moves its
  object: InterfacesRemoved at the old path, InterfacesAdded at the new one, and every
  reference to it changes.  A row whose name D-Bus cannot carry has no object (see
  :mod:`ovsdbus.projection.view`) and references to it read ``/``.
- When a property changes is said by its ``EmitsChangedSignal`` annotation:

  * ``true``: PropertiesChanged carries the new value;
  * ``invalidates``: sets and maps of references with no upper bound (a bridge's
    thousands of ports): PropertiesChanged names the property, a reader reads it;
  * ``false``: the *quiet* columns, counters that a database's writer rewrites every
    few seconds (given as data by whoever knows the database: for Open_vSwitch,
    :data:`ovsdbus.vswitch.operations.QUIET_COLUMNS`): never announced, so they cannot
    flood the bus; Get, GetAll and GetManagedObjects always give the current value;
  * ``const``: ``_uuid`` and immutable columns.

Work per update is proportional to the rows and columns it changed: only changed columns
are converted, and values that are announced as invalidated or not at all are converted
when read.  Renaming a row (rare) costs a scan of the tables that can refer to it.
"""

from collections.abc import Mapping
from typing import NamedTuple

from twisted.logger import Logger

from ovsdbus import api
from ovsdbus.ovsdb.replica import INSERT, RowChange
from ovsdbus.ovsdb.schema import BOOLEAN, INTEGER, STRING, UUID
from ovsdbus.projection import types
from ovsdbus.projection.text import can_carry
from ovsdbus.projection.view import NO_OBJECT, PATH_CACHE, ViewDelta, element_path, escape_path_element

#: The interface of the rows of table T is TABLE_INTERFACE_PREFIX + T.
TABLE_INTERFACE_PREFIX = api.INTERFACE + ".Table."

#: EmitsChangedSignal values (D-Bus specification, "Property" annotations).
EMITS_TRUE, EMITS_INVALIDATES, EMITS_FALSE, EMITS_CONST = "true", "invalidates", "false", "const"

_ELEMENT_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class Column(NamedTuple):
    """A column as shown: D-Bus ``signature``, when changes are announced (``emits``), the
    tables its values refer to (``refs``), and ``default``, the column's default value, with
    ``shown_default``, the ``(signature, value)`` shown for it (None when what it shows can
    depend on more than the value: a scalar reference, a real's sign)."""

    name: str
    ctype: object
    signature: str
    emits: str
    refs: frozenset
    default: object = None
    shown_default: tuple = None


def _shown_default(ctype, signature):
    # Most columns of most rows hold their default: its D-Bus value is computed once per column.
    if ctype.is_scalar and ctype.key.type not in (INTEGER, BOOLEAN, STRING):
        return None
    if not ctype.is_scalar and ctype.min:
        return None
    return signature, types.to_dbus(ctype, ctype.default(), lambda table, uuid: None)


class TableShape(NamedTuple):
    """How a table's rows are shown: path ``element``, whether rows are ``named`` (paths by
    name), the ``interface`` and its :class:`~ovsdbus.api.InterfaceSpec`, the shown columns."""

    name: str
    element: str
    named: bool
    interface: str
    spec: object
    columns: tuple


def table_elements(table_names):
    """``{table: path element}``: the lowercase name, unless two tables share it (then each
    keeps its own name, which is a valid element: OVSDB names are ``[A-Za-z_][A-Za-z0-9_]*``)."""
    lowered = {}
    for t in table_names:
        lowered.setdefault(t.lower(), []).append(t)
    elements = {}
    for t in table_names:
        element = t.lower() if len(lowered[t.lower()]) == 1 else t
        if not element or not set(element) <= _ELEMENT_SAFE:
            element = escape_path_element(t)
        elements[t] = element
    return elements


def _refs(ctype):
    return frozenset(b.ref_table for b in (ctype.key, ctype.value)
                     if b is not None and b.type == UUID and b.ref_table)


def _emits(column_schema, ctype, refs, quiet):
    if column_schema.name in quiet:
        return EMITS_FALSE
    if not column_schema.mutable:
        return EMITS_CONST
    if refs and not (ctype.is_scalar or ctype.is_optional) and ctype.max is None:
        return EMITS_INVALIDATES
    return EMITS_TRUE


_LAZY = (EMITS_INVALIDATES, EMITS_FALSE)

_EMITS_DOC = {
    EMITS_TRUE: "",
    EMITS_INVALIDATES: " Announced as invalidated (it can hold thousands of paths): read it.",
    EMITS_FALSE: " A counter rewritten every few seconds: never announced, read it when needed.",
    EMITS_CONST: " Never changes.",
}


def table_shapes(schema, table_columns, quiet=None):
    """``{table: TableShape}`` for the tables and columns of ``table_columns`` (``{table:
    [column, ...]}``, as a replica holds them) in ``schema``; ``quiet``: ``{table: columns}``
    never announced (see the module's documentation)."""
    quiet = quiet or {}
    elements = table_elements(sorted(schema.tables))
    shapes = {}
    for table, column_names in table_columns.items():
        tschema = schema.tables[table]
        name_col = tschema.columns.get("name")
        named = ("name" in column_names and name_col is not None and name_col.type.is_scalar
                 and name_col.type.key.type == STRING and ("name",) in tschema.indexes)
        quiet_here = frozenset(quiet.get(table, ()))
        columns = []
        for c in sorted(column_names):
            cschema = tschema.columns[c]
            ctype = cschema.type
            refs = _refs(ctype)
            signature = types.column_signature(ctype)
            columns.append(Column(c, ctype, signature, _emits(cschema, ctype, refs, quiet_here), refs,
                                  ctype.default(), _shown_default(ctype, signature)))
        element = elements[table]
        interface = TABLE_INTERFACE_PREFIX + table
        row_doc = "<escaped name>" if named else "<uuid with '-' as '_'>"
        properties = [api.PropertySpec("_uuid", "s", "The row's uuid.", EMITS_CONST)]
        for col in columns:
            refs = (" References to %s as object paths." % ", ".join(sorted(col.refs))
                    if col.refs else "")
            properties.append(api.PropertySpec(col.name, col.signature, "Column %s.%s.%s%s" % (
                table, col.name, refs, _EMITS_DOC[col.emits]), col.emits))
        spec = api.InterfaceSpec(interface, "One row of the %s table, at %s/%s/%s. One property per column "
                                 "(sets and optional values are arrays)." % (table, api.OBJECT_PATH, element, row_doc),
                                 properties=tuple(properties))
        shapes[table] = TableShape(table, element, named, interface, spec, tuple(columns))
    return shapes


class LazyColumn:
    """A property value computed from the replica when read (for columns announced as
    invalidated or not at all); see :func:`ovsdbus.bus.service.resolved`."""

    __slots__ = ("_tree", "_table", "_uuid", "_column")

    def __init__(self, tree, table, uuid, column):
        self._tree = tree
        self._table = table
        self._uuid = uuid
        self._column = column

    def resolve(self):
        """The value as the replica holds it now."""
        return self._tree.column_value(self._table, self._uuid, self._column)

    def __repr__(self):
        return "LazyColumn(%s, %s, %s)" % (self._table, self._uuid, self._column.name)


class RowProperties(Mapping):
    """The properties of a row's object, ``{name: (signature, value)}``, computed from the
    replica when read: an object holds no copy of its row (a switch of thousands of interfaces
    of dozens of columns would hold every value twice), and reading one property converts one
    column.  Read-only; values are those of the replica now (every change is followed as it is
    applied, so that is what the bus has announced)."""

    __slots__ = ("_tree", "_shape", "_uuid")

    def __init__(self, tree, shape, uuid):
        self._tree = tree
        self._shape = shape
        self._uuid = uuid

    def __getitem__(self, name):
        if name == "_uuid":
            return "s", self._uuid
        column = self._tree.column_of(self._shape.name, name)
        if column is None:
            raise KeyError(name)
        row = self._tree._replica.row(self._shape.name, self._uuid)
        value = column.default if row is None else row[name]
        return self._tree._value(self._shape, self._uuid, column, value)

    def __iter__(self):
        yield "_uuid"
        for column in self._shape.columns:
            yield column.name

    def __len__(self):
        return 1 + len(self._shape.columns)

    def __contains__(self, name):
        return name == "_uuid" or self._tree.column_of(self._shape.name, name) is not None

    def items(self):
        """``[(name, (signature, value))]`` of every property, the row read once."""
        tree, shape, uuid = self._tree, self._shape, self._uuid
        row = tree._replica.row(shape.name, uuid)
        if row is None:
            row = {c.name: c.default for c in shape.columns}
        return list(tree.properties(shape, uuid, row).items())

    def __repr__(self):
        return "RowProperties(%s, %s)" % (self._shape.name, self._uuid)


class ObjectTree:
    """The generic objects of a replica, kept in step by :meth:`update`.

    :param quiet: ``{table: [column, ...]}`` of counters never announced.
    """

    log = Logger()

    def __init__(self, quiet=None):
        self.quiet = {t: frozenset(c) for t, c in (quiet or {}).items()}
        #: ``{table: TableShape}`` of the schema in use.
        self.shapes = {}
        #: ``{(table, uuid): (path, properties)}`` of every shown object (the properties are a
        #: :class:`RowProperties`, computed when read).
        self.objects = {}
        self._columns = {}        # table -> {column name: Column}
        self._keys = {}           # path -> (table, uuid)
        self._specs = {}          # interface -> InterfaceSpec
        self._referrers = {}      # table -> [(referring table, Column)]
        self._hidden = set()      # (table, uuid) of rows not shown for their name
        self._replica = None
        self._schema = None
        self._table_columns = None

    # -- reading -------------------------------------------------------------

    @property
    def specs(self):
        """``{interface: InterfaceSpec}`` of the generated interfaces."""
        return self._specs

    def key_at(self, path):
        """``(table, uuid)`` of the row shown at ``path``, or None."""
        return self._keys.get(path)

    def uuid_of_path(self, path):
        """The uuid of the row shown at ``path``, or None."""
        key = self._keys.get(path)
        return None if key is None else key[1]

    def path_of(self, table, uuid):
        """The object path of row ``uuid`` of ``table`` as the replica holds it now, or ``/``
        when there is no such row or it has no object."""
        return self._ref_path(table, uuid) or NO_OBJECT

    def _ref_path(self, table, uuid):
        # The path_of of types.to_dbus: None for a row without an object.
        shape = self.shapes.get(table)
        row = self._replica.row(table, uuid) if shape is not None and self._replica is not None else None
        return None if row is None else self._path(shape, uuid, row)

    def column_of(self, table, name):
        """The :class:`Column` ``name`` of ``table`` as shown, or None."""
        columns = self._columns.get(table)
        return None if columns is None else columns.get(name)

    def column_value(self, table, uuid, column):
        """The D-Bus value of ``column`` (a :class:`Column`) of a row, as the replica holds it now."""
        row = self._replica.row(table, uuid)
        value = column.ctype.default() if row is None else row[column.name]
        return types.to_dbus(column.ctype, value, self._ref_path)

    def shown(self):
        """``(path, interface, properties)`` of every object."""
        shapes = self.shapes
        return [(path, shapes[table].interface, props) for (table, _), (path, props) in self.objects.items()]

    # -- paths ---------------------------------------------------------------

    def _path(self, shape, uuid, row):
        """The path of a row, or None if its name cannot be carried."""
        if not shape.named:
            return "%s/%s/%s" % (api.OBJECT_PATH, shape.element, uuid.replace("-", "_"))
        name = row["name"]
        key = (shape.element, name)
        path = PATH_CACHE.young.get(key) or PATH_CACHE.old.get(key)
        if path is None:
            if not can_carry(name):
                return None
            path = element_path(shape.element, name)
        return path

    def _shown_path(self, shape, uuid, row):
        """:meth:`_path`, warning once for a row not shown for its name."""
        path = self._path(shape, uuid, row)
        key = (shape.name, uuid)
        if path is not None:
            self._hidden.discard(key)
        elif key not in self._hidden:
            self._hidden.add(key)
            self.log.warn("{table} {uuid} is not shown on D-Bus: its name {name} holds what D-Bus cannot "
                          "carry (NUL or a lone surrogate)", table=shape.name, uuid=uuid,
                          name=ascii(row["name"][:256]))
        return path

    # -- properties ------------------------------------------------------------

    def _value(self, shape, uuid, column, value):
        if column.emits in _LAZY:
            return column.signature, LazyColumn(self, shape.name, uuid, column)
        if column.shown_default is not None and value == column.default:
            return column.shown_default
        return column.signature, types.to_dbus(column.ctype, value, self._ref_path)

    def properties(self, shape, uuid, row):
        """``{name: (signature, value)}`` of the object for ``row``."""
        props = {"_uuid": ("s", uuid)}
        to_dbus, ref_path = types.to_dbus, self._ref_path
        for column in shape.columns:
            name = column.name
            value = row[name]
            if column.emits in _LAZY:
                props[name] = column.signature, LazyColumn(self, shape.name, uuid, column)
            elif column.shown_default is not None and value == column.default:
                props[name] = column.shown_default   # shared: values shown are never modified
            else:
                props[name] = column.signature, to_dbus(column.ctype, value, ref_path)
        return props

    # -- following changes ---------------------------------------------------------

    def _use_schema(self, replica):
        """Take the replica's schema and columns; drop every object, returning what was removed."""
        removed = [(path, self.shapes[table].interface) for (table, _), (path, _props) in self.objects.items()]
        removed.reverse()
        self.objects, self._keys = {}, {}
        self._schema, self._table_columns = replica.schema, replica.table_columns
        self.shapes = table_shapes(replica.schema, replica.table_columns, self.quiet)
        self._columns = {t: {c.name: c for c in shape.columns} for t, shape in self.shapes.items()}
        self._specs = {s.interface: s.spec for s in self.shapes.values()}
        referrers = {}
        for shape in self.shapes.values():
            for column in shape.columns:
                for target in column.refs:
                    referrers.setdefault(target, []).append((shape.name, column))
        self._referrers = referrers
        return removed

    def update(self, replica, changes, announce=True):
        """Follow one batch of :class:`~ovsdbus.ovsdb.replica.RowChange` already applied to
        ``replica``; return a :class:`~ovsdbus.projection.view.ViewDelta` (without root signals).

        ``changed`` diffs hold every changed property, lazily computed ones (see
        :class:`LazyColumn`) included; :class:`Objects` decides from each property's
        ``EmitsChangedSignal`` what PropertiesChanged says of it.  Without ``announce`` (nobody
        follows the tree yet) no diff is made: ``changed`` is empty.
        """
        self._replica = replica
        removed = []
        if replica.schema is not self._schema or replica.table_columns is not self._table_columns:
            if self._schema is not None and replica.schema.json is not None \
                    and replica.schema.json == self._schema.json \
                    and replica.table_columns == self._table_columns:
                # The same schema read again after a reconnection.
                self._schema, self._table_columns = replica.schema, replica.table_columns
            else:
                removed = self._use_schema(replica)
                # Every object is shown anew, with the new schema's columns.
                changes = [RowChange(INSERT, table, uuid, None, row)
                           for table in self.shapes for uuid, row in replica.rows(table).items()]
        added = []
        diffs = {}      # key -> {name: (signature, value)}
        moved = {}      # table -> set of uuids whose path changed
        shapes, objects = self.shapes, self.objects
        for c in changes:
            shape = shapes.get(c.table)
            if shape is None:
                continue
            key = (c.table, c.uuid)
            old, new = c.old, c.new
            if shape.named and old is not None and new is not None and old["name"] != new["name"]:
                moved.setdefault(c.table, set()).add(c.uuid)
            before = objects.get(key)
            path = self._shown_path(shape, c.uuid, new) if new is not None else None
            if new is None:
                self._hidden.discard(key)
            if before is not None and before[0] != path:
                del objects[key]
                if self._keys.get(before[0]) == key:
                    del self._keys[before[0]]
                removed.append((before[0], shape.interface))
                diffs.pop(key, None)
                before = None
            if path is None:
                continue
            if before is None:
                props = RowProperties(self, shape, c.uuid)
                objects[key] = (path, props)
                self._keys[path] = key
                added.append((path, shape.interface, props))
                continue
            if old is None or not announce:
                continue
            diff = diffs.get(key)
            for column in shape.columns:
                name = column.name
                o, n = old[name], new[name]
                if o is n or o == n:
                    continue
                value = self._value(shape, c.uuid, column, n)
                if diff is None:
                    diff = diffs[key] = {}
                diff[name] = value
        if moved:
            self._follow_moves(replica, moved, diffs)
        changed = []
        for key, diff in diffs.items():
            entry = objects.get(key)
            if entry is not None:
                changed.append((entry[0], shapes[key[0]].interface, diff))
        removed.reverse()
        return ViewDelta(added, removed, changed, [])

    def _follow_moves(self, replica, moved, diffs):
        """Recompute the references to rows whose path changed (renamed, hidden or shown)."""
        objects = self.objects
        for target, uuids in moved.items():
            for table, column in self._referrers.get(target, ()):
                shape = self.shapes[table]
                ctype = column.ctype
                for uuid, row in replica.rows(table).items():
                    value = row[column.name]
                    if ctype.is_map:
                        atoms = []
                        if ctype.key.type == UUID and ctype.key.ref_table == target:
                            atoms.extend(value)
                        if ctype.value.type == UUID and ctype.value.ref_table == target:
                            atoms.extend(value.values())
                        hit = not uuids.isdisjoint(atoms)
                    elif ctype.is_scalar or ctype.is_optional:
                        hit = value in uuids
                    else:
                        hit = not uuids.isdisjoint(value)
                    key = (table, uuid)
                    if not hit or key not in objects:
                        continue
                    # The value names a row whose path changed: what it shows changed (unless
                    # the row has no object before and after, a rename between two names
                    # D-Bus cannot carry, which is announced all the same).
                    diffs.setdefault(key, {})[column.name] = self._value(shape, uuid, column, value)

    def managed_objects(self):
        """``{path: {interface: properties}}`` of every object."""
        return {path: {interface: props} for path, interface, props in self.shown()}


class Change(NamedTuple):
    """One PropertiesChanged to send, or (both empty) an object whose unannounced properties changed."""

    path: str
    interface: str
    changed: dict
    invalidated: list


class ObjectsDelta(NamedTuple):
    """What one batch of row changes means for the merged tree, in the order to send it.

    ``removed``: ``[(path, [interface])]`` (InterfacesRemoved); ``added``: ``[(path, {interface:
    properties})]`` (InterfacesAdded); ``changed``: ``[Change]`` (PropertiesChanged, unless
    both are empty: then only cached encodings of the object are stale); ``signals``: root
    signals of the projections, in order.
    """

    removed: list
    added: list
    changed: list
    signals: list


class Objects:
    """Several projections of the same replica merged into one tree: at each path, every
    interface any of them shows there.

    :param projections: ``[(projection, {interface: InterfaceSpec})]``: each projection has
        ``update(replica, changes) -> ViewDelta``, ``at(path)`` or ``objects``, ``shown()``;
        the specs name the interfaces it shows (an :class:`ObjectTree` is given with ``None``:
        it generates its own).
    """

    def __init__(self, projections):
        self.projections = list(projections)
        # path -> (interface, properties, interface, properties, ...): a flat tuple, not a dict per
        # object (a switch has tens of thousands of objects; a dict of two takes two and a half times
        # the memory)
        self._interfaces = {}
        self._emits_of = {}     # interface -> (spec, {property: EmitsChangedSignal})

    def spec(self, interface):
        """The :class:`~ovsdbus.api.InterfaceSpec` of an interface shown somewhere."""
        for projection, specs in self.projections:
            specs = projection.specs if specs is None else specs
            if interface in specs:
                return specs[interface]
        raise KeyError(interface)

    @property
    def tree(self):
        """The :class:`ObjectTree` among the projections."""
        return next(p for p, _ in self.projections if isinstance(p, ObjectTree))

    def path_of(self, table, uuid):
        """The object path of a row, ``/`` if it has none (see :meth:`ObjectTree.path_of`)."""
        return self.tree.path_of(table, uuid)

    def uuid_of_path(self, path):
        """The uuid of the row shown at ``path``, or None."""
        key = self.tree.key_at(path)
        return None if key is None else key[1]

    def key_at(self, path):
        """``(table, uuid)`` of the row shown at ``path``, or None."""
        return self.tree.key_at(path)

    def interfaces_at(self, path):
        """``{interface: properties}`` of the object at ``path`` (empty if there is none)."""
        pairs = self._interfaces.get(path)
        return {} if pairs is None else dict(zip(pairs[::2], pairs[1::2], strict=True))

    def paths(self):
        """The paths of every object (a live view: do not change the tree while iterating)."""
        return self._interfaces.keys()

    def shown(self):
        """``(path, interface, properties)`` for each interface of every object, those of one
        object next to each other."""
        return [(path, pairs[i], pairs[i + 1]) for path, pairs in self._interfaces.items()
                for i in range(0, len(pairs), 2)]

    def managed_objects(self):
        """``{path: {interface: properties}}`` (for GetManagedObjects)."""
        return {path: self.interfaces_at(path) for path in self._interfaces}

    def _emits(self, interface):
        spec = self.spec(interface)
        cached = self._emits_of.get(interface)
        if cached is None or cached[0] is not spec:
            cached = self._emits_of[interface] = (spec, {p.name: p.emits_changed for p in spec.properties})
        return cached[1]

    def update(self, replica, changes, announce=True):
        """Follow one batch of row changes; return the :class:`ObjectsDelta` to show.

        Without ``announce`` (nobody can follow the tree yet: the first sync, before the bus name
        is owned) the tree is brought up to date but nothing is said: the delta is empty, and
        the projections make no diffs or signals (they are given ``announce=False``).
        """
        removed, added, changed, signals = {}, {}, [], []
        interfaces = self._interfaces
        for projection, _ in self.projections:
            delta = projection.update(replica, changes, announce=announce)
            for path, interface in delta.removed:
                if announce:
                    removed.setdefault(path, []).append(interface)
                shown = interfaces.get(path)
                if shown is not None:
                    shown = _without(shown, interface)
                    if shown:
                        interfaces[path] = shown
                    else:
                        del interfaces[path]
            for path, interface, props in delta.added:
                if announce:
                    added.setdefault(path, {})[interface] = props
                interfaces[path] = _with(interfaces.get(path), interface, props)
            if not announce:
                for path, interface, _ in delta.changed:
                    props = self._props_of(projection, path, interface)
                    interfaces[path] = _with(interfaces.get(path), interface, props)
                continue
            for path, interface, diff in delta.changed:
                emits = self._emits(interface)
                now, invalidated = {}, []
                for name, value in diff.items():
                    mode = emits.get(name, EMITS_TRUE)
                    if mode == EMITS_FALSE:
                        continue
                    if mode == EMITS_INVALIDATES or hasattr(value[1], "resolve"):
                        invalidated.append(name)
                    else:
                        now[name] = value
                interfaces[path] = _with(interfaces.get(path), interface, self._props_of(projection, path, interface))
                changed.append(Change(path, interface, now, sorted(invalidated)))
            signals.extend(delta.signals)
        return ObjectsDelta([(path, sorted(names)) for path, names in removed.items()], list(added.items()),
                            changed, signals)

    @staticmethod
    def _props_of(projection, path, interface):
        if isinstance(projection, ObjectTree):
            return projection.objects[projection.key_at(path)][1]
        return projection.at(path)[1]


def _with(pairs, interface, props):
    """The flat ``(interface, properties, ...)`` tuple ``pairs`` (or None) with ``interface`` showing
    ``props``: in its place if it is there, else last."""
    if pairs is None:
        return (interface, props)
    for i in range(0, len(pairs), 2):
        if pairs[i] == interface:
            return pairs[:i + 1] + (props,) + pairs[i + 2:]
    return pairs + (interface, props)


def _without(pairs, interface):
    """The flat ``(interface, properties, ...)`` tuple ``pairs`` without ``interface``."""
    for i in range(0, len(pairs), 2):
        if pairs[i] == interface:
            return pairs[:i] + pairs[i + 2:]
    return pairs
