"""The D-Bus view of the replica, as pure data: object paths, properties and change signals.

:class:`TreeView` follows the replica's row changes and says, for each batch,
what the bus must show: objects added and removed, properties changed (all of an
object's changes in one batch together) and the root interface's signals, in a
fixed order.  It knows nothing of txdbus; the D-Bus adapter carries its
:class:`ViewDelta` out.

Objects: one per row of each table the declarations name, at
``/org/openvswitch/ovsdb/<element>/<escaped name>`` (for Open_vSwitch: each Bridge, Port and
Interface row at ``.../{bridge,port,interface}/<escaped name>``, the same objects as the
generic tree's, :mod:`ovsdbus.projection.tree`, which adds its own interface to each).  What
each property shows, and which root signals membership changes give, is declared as data and
given to :class:`TreeView` (for Open_vSwitch :data:`ovsdbus.api.legacy.LEGACY` and
:data:`ovsdbus.api.legacy.MEMBERSHIP_SIGNALS`, passed by :mod:`ovsdbus.app`); this module only
interprets it and names no table or column but the naming column ``name``.

How OVSDB values appear as properties (documented for users in the README):
an unset optional string is ``""``; Port ``Tag`` unset is ``-1``; Interface
``OfPort`` not yet assigned is ``0`` (``-1`` is OVS's own "could not be
created"); Interface ``MTU`` unset is ``0``; an object reference to nothing (a
port on no bridge) is ``/``; sets and maps are arrays and dictionaries, empty
when empty.

Names and strings D-Bus cannot carry (a NUL, a lone surrogate: see
:func:`ovsdbus.projection.text.can_carry`) never reach the bus, whatever an OVSDB peer sends.  This
module is the one place that decides how they are shown:

- a Bridge, Port or Interface whose *name* D-Bus cannot carry is not shown at all: no object,
  no signal naming it, not in ListBridges or ListBridgePorts (:func:`shown_names`), and a
  reference to it reads as ``/`` (and is left out of Ports and Interfaces).  One warning per
  row is logged.  Shown any other way (escaped, or with a replacement character) it would be
  a name that finds nothing when a caller passes it back; and no caller can name it anyway,
  since D-Bus cannot carry it in an argument either.
- any other string value (ExternalIds, Options, Error, ...) is shown with each NUL and lone
  surrogate replaced by U+FFFD (:func:`ovsdbus.projection.text.carriable`): it is only read, never
  looked up, and the rest of the object stays readable.
"""

from collections.abc import Mapping
from typing import NamedTuple

from twisted.logger import Logger

from ovsdbus.api import OBJECT_PATH
from ovsdbus.api.legacy import (
    COUNTER_MAP,
    DERIVATIONS,
    INTEGER,
    JOINED,
    NAME,
    OWNER,
    PATHS,
    SORTED,
    TEXT,
    TEXT_MAP,
)
from ovsdbus.ovsdb.replica import DELETE, INSERT
from ovsdbus.projection.text import BoundedCache, can_carry, carriable

NO_OBJECT = "/"
_NO_ENTRIES = {}   # shared by every empty map shown (values shown are never modified)

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def escape_path_element(name):
    """Escape ``name`` into a valid object path element, reversibly (as systemd does):
    every byte of its UTF-8 form outside ``[A-Za-z0-9]`` becomes ``_`` and two lowercase
    hex digits; the empty name becomes ``_``."""
    if not name:
        return "_"
    if name.isascii() and name.isalnum():
        return name   # nothing to escape (the usual port and bridge name)
    return "".join(chr(b) if b in _SAFE else "_%02x" % b for b in name.encode("utf-8", "surrogatepass"))


def unescape_path_element(element):
    """Invert :func:`escape_path_element`; raise ValueError for an element it cannot produce."""
    if element == "_":
        return ""
    out = bytearray()
    i = 0
    while i < len(element):
        ch = element[i]
        if ch == "_":
            out.append(int(element[i + 1:i + 3], 16))
            if len(element[i + 1:i + 3]) != 2:
                raise ValueError("truncated escape in %r" % element)
            i += 3
        else:
            out += ch.encode("ascii")
            i += 1
    name = out.decode("utf-8", "surrogatepass")
    if escape_path_element(name) != element:
        raise ValueError("%r is not an escaped name" % element)
    return name


#: Paths of the names seen lately, ``{(path element, name): path}``, shared with the generic
#: tree (:mod:`ovsdbus.projection.tree`), which shows the same rows at the same paths: escaping
#: costs ten times as much as finding the path, and a bridge's Ports are thousands of paths.
#: Bounded in bytes (the paths of a bridge of 10 000 ports fit); a long name's path is not kept.
PATH_CACHE = BoundedCache(max_bytes=8 << 20, max_item_bytes=1024)
_paths = PATH_CACHE


def element_path(element, name):
    """The object path ``/org/openvswitch/ovsdb/<element>/<escaped name>``."""
    key = (element, name)
    path = _paths.young.get(key) or _paths.old.get(key)
    if path is None:
        path = "%s/%s/%s" % (OBJECT_PATH, element, escape_path_element(name))
        # The name takes at most as many bytes as its escape in the path; 180 is what the key
        # tuple, the str objects and the dict slot take besides.
        _paths.put(key, path, 2 * len(path) + 180)
    return path


def shown_names(names):
    """``names`` (a list) without those D-Bus cannot carry: what ListBridges and ListBridgePorts
    answer.  The same list when every name can be carried."""
    if can_carry("".join(names)):
        return names
    return [n for n in names if can_carry(n)]


def _texts(values):
    """A list of strings as shown: see :func:`carriable`."""
    values = list(values)
    return values if can_carry("".join(values)) else [carriable(v) for v in values]


def _text_map(mapping, values_are_text=True):
    """A dict of a string-keyed OVSDB map as shown (two keys that differ only in what D-Bus cannot
    carry become one)."""
    if can_carry("".join(mapping)) and (not values_are_text or can_carry("".join(mapping.values()))):
        return dict(mapping)
    if values_are_text:
        return {carriable(k): carriable(v) for k, v in sorted(mapping.items())}
    return {carriable(k): v for k, v in sorted(mapping.items())}


class LazyPaths:
    """A property value that is a sorted list of object paths, computed only when read.

    Bridge ``Ports`` can hold thousands of paths; sending them all again in
    PropertiesChanged for every port added would cost every subscriber O(ports) per
    change.  Such a property is announced as invalidated instead (its introspection
    says ``EmitsChangedSignal=invalidates``) and computed from the replica on read.
    Two values are equal when they name the same rows under the same names.
    """

    __slots__ = ("_view", "_replica", "_table", "uuids", "_names")

    def __init__(self, view, replica, table, uuids):
        self._view = view
        self._replica = replica
        self._table = table
        self.uuids = uuids
        self._names = view.renames

    def __eq__(self, other):
        return isinstance(other, LazyPaths) and self.uuids == other.uuids and self._names == other._names

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def resolve(self):
        """The sorted paths, from the replica as it is now."""
        return self._view._paths(self._replica, self._table, self.uuids)


class _Layout:
    """The properties of one table's objects: their names and signatures, and each name's place."""

    __slots__ = ("names", "signatures", "index")

    def __init__(self, names, signatures):
        self.names = tuple(names)
        self.signatures = tuple(signatures)
        self.index = {name: i for i, name in enumerate(self.names)}


class DerivedProperties(Mapping):
    """An object's properties, ``{name: (signature, value)}``, held as a tuple of values next to
    its table's :class:`_Layout` (a dict of pairs per object would take several times the
    memory, and a switch has tens of thousands of objects).  Read-only."""

    __slots__ = ("_layout", "values")

    def __init__(self, layout, values):
        self._layout = layout
        #: The values, in the layout's order.
        self.values = values

    def __getitem__(self, name):
        i = self._layout.index[name]
        return self._layout.signatures[i], self.values[i]

    def __iter__(self):
        return iter(self._layout.names)

    def __len__(self):
        return len(self.values)

    def __contains__(self, name):
        return name in self._layout.index

    def items(self):
        """``[(name, (signature, value))]`` in the declared order."""
        return list(zip(self._layout.names, zip(self._layout.signatures, self.values, strict=True), strict=True))

    def changed_since(self, before):
        """``{name: (signature, value)}`` of the properties whose value differs in ``before``
        (another DerivedProperties of the same table)."""
        layout = self._layout
        return {layout.names[i]: (layout.signatures[i], new)
                for i, (old, new) in enumerate(zip(before.values, self.values, strict=True)) if old != new}

    def __repr__(self):
        return "DerivedProperties(%r)" % dict(self.items())


class Signal(NamedTuple):
    """A root-interface signal to emit: name and string arguments."""

    name: str
    args: tuple


class ViewDelta(NamedTuple):
    """What one batch of row changes means on the bus, in the order to send it.

    ``added``: ``[(path, interface, properties)]``; ``removed``: ``[(path, interface)]``;
    ``changed``: ``[(path, interface, changed_properties)]``; ``signals``: ``[Signal]``.
    Properties are ``{name: (signature, value)}``.
    """

    added: list
    removed: list
    changed: list
    signals: list


def _optional(value, unset):
    return unset if value is None else value


def _dependencies(legacy, membership):
    """What the declarations make each table's changes affect (see :class:`TreeView`)."""
    indexes = {}      # owner table -> [(column, member table)]: owner-of-member indexes to keep
    listed_in = {}    # member table -> [(owner table, column)]
    joined_from = {}  # joined table -> [(table, column)]
    for table, kind in legacy.items():
        for prop in kind.properties:
            if prop.kind not in DERIVATIONS:
                raise ValueError("unknown derivation %r of %s property %s" % (prop.kind, table, prop.name))
            if prop.kind == PATHS:
                column, member, _ = prop.args
                pairs = [(table, column, member)]
            elif prop.kind == OWNER:
                owner, column = prop.args
                pairs = [(owner, column, table)]
            else:
                pairs = []
                if prop.kind == JOINED:
                    column, target, _ = prop.args
                    joined_from.setdefault(target, []).append((table, column))
            for owner, column, member in pairs:
                if (column, member) not in indexes.setdefault(owner, []):
                    indexes[owner].append((column, member))
                    listed_in.setdefault(member, []).append((owner, column))
    for table, column, _, _ in membership:
        if table not in legacy:
            raise ValueError("membership signal on table %s, which has no objects" % (table,))
        if column is not None and not any(c == column for c, _ in indexes.get(table, ())):
            raise ValueError("membership signal on %s.%s, which no property follows" % (table, column))
    return indexes, listed_in, joined_from


class TreeView:
    """The objects the bus shows for a replica, kept in step by :meth:`update`.

    Driven by the declarations ``legacy`` (``{table: Kind}``, in the order objects of a batch are
    added; see :mod:`ovsdbus.api.legacy`) and ``membership`` (the root signals, as
    :data:`ovsdbus.api.legacy.MEMBERSHIP_SIGNALS`): an update makes
    an object dirty when its own row changed, when it entered or left the set of references an
    OWNER or PATHS property follows (or that set's owner was renamed), when a row its PATHS
    property lists was renamed, or when a row its JOINED property reads changed.  Dirty objects
    are derived again and compared with what was shown.
    """

    log = Logger()

    def __init__(self, legacy, membership=(), warn=True):
        #: Whether to log a warning for a row not shown for its name (not when the generic
        #: tree, which shows the same rows at the same paths, already does).
        self.warn = warn
        self.legacy = dict(legacy)
        self.membership = tuple(membership)
        #: ``{table: (path element, interface)}``.
        self.kinds = {table: (kind.element, kind.interface) for table, kind in self.legacy.items()}
        self._order = {table: i for i, table in enumerate(self.legacy)}
        self._indexes, self._listed_in, self._joined_from = _dependencies(self.legacy, self.membership)
        self._hidden = set()         # (table, uuid) of rows not shown for their name
        #: ``{(table, uuid): (path, properties)}`` of every shown object.
        self.objects = {}
        self._keys = {}              # path -> (table, uuid)
        #: ``{(owner table, column): {member uuid: owner uuid}}``: who holds each row.
        self._owners = {(owner, column): {} for owner, pairs in self._indexes.items() for column, _ in pairs}
        #: Counts renames of rows that PATHS properties list, which change the paths they show.
        self.renames = 0
        self._compiled = {}          # table -> (_Layout, [derive(replica, uuid, row)])

    def at(self, path):
        """``(interface, properties)`` of the object shown at ``path``."""
        table, uuid = key = self._keys[path]
        return self.kinds[table][1], self.objects[key][1]

    def shown(self):
        """``(path, interface, properties)`` of every shown object."""
        kinds = self.kinds
        return [(path, kinds[table][1], props) for (table, _), (path, props) in self.objects.items()]

    def object_path(self, table, name):
        """The object path of the row of ``table`` called ``name``."""
        return element_path(self.kinds[table][0], name)

    def _forget_path(self, path, key):
        if self._keys.get(path) == key:
            del self._keys[path]

    def path_of(self, table, uuid):
        """The path shown for a row, or ``/`` if there is none."""
        entry = self.objects.get((table, uuid))
        return entry[0] if entry else NO_OBJECT

    # -- properties ----------------------------------------------------------

    def _paths(self, replica, table, uuids):
        rows = replica.rows(table)
        names = sorted(rows[u]["name"] for u in uuids if u in rows)
        young = _paths.young  # the fast path of element_path, for thousands of ports
        element = self.kinds[table][0]
        return [young.get((element, n)) or element_path(element, n) for n in shown_names(names)]

    def _path_to(self, table, row):
        """The path a reference to ``row`` shows: ``/`` for no row or one that is not shown."""
        if row is None or not can_carry(row["name"]):
            return NO_OBJECT
        return self.object_path(table, row["name"])

    def _shows(self, table, uuid, row):
        """True if ``row`` is shown; warn once for a row not shown for its name."""
        name = row["name"]
        if can_carry(name):
            self._hidden.discard((table, uuid))
            return True
        if (table, uuid) not in self._hidden:
            self._hidden.add((table, uuid))
            if self.warn:
                self.log.warn("{table} {uuid} is not shown on D-Bus: its name {name} holds what D-Bus cannot "
                              "carry (NUL or a lone surrogate)", table=table, uuid=uuid, name=ascii(name[:256]))
        return False

    def _derive(self, replica, uuid, row, prop):
        kind, args = prop.kind, prop.args
        if kind == NAME:
            return row["name"]
        if kind == TEXT:
            return carriable(_optional(row[args[0]], args[1]))
        if kind == INTEGER:
            return _optional(row[args[0]], args[1])
        if kind == SORTED:
            return sorted(row[args[0]])
        if kind == TEXT_MAP:
            return _text_map(row[args[0]])
        if kind == COUNTER_MAP:
            return _text_map(row[args[0]], values_are_text=False)
        if kind == PATHS:
            column, table, lazy = args
            if lazy:
                return LazyPaths(self, replica, table, row[column])
            return self._paths(replica, table, row[column])
        if kind == OWNER:
            owner, column = args
            held_by = self._owners[(owner, column)].get(uuid)
            return self._path_to(owner, replica.row(owner, held_by) if held_by else None)
        if kind == JOINED:
            column, table, target = args
            rows = replica.rows(table) if table in replica.tables else {}
            return _texts(sorted(rows[r][target] for r in row[column] if r in rows))
        raise ValueError("unknown derivation %r" % (kind,))

    def _compile(self, prop):
        """A function ``(replica, uuid, row) -> value`` doing what :meth:`_derive` does for ``prop``
        (the declarations interpreted once, not at every object)."""
        kind, args = prop.kind, prop.args
        if kind == NAME:
            return lambda replica, uuid, row: row["name"]
        if kind == TEXT:
            column, unset = args

            def text(replica, uuid, row):
                value = row[column]
                if value is None:
                    return unset
                return value if value.isascii() and "\0" not in value else carriable(value)
            return text
        if kind == INTEGER:
            column, unset = args

            def integer(replica, uuid, row):
                value = row[column]
                return unset if value is None else value
            return integer
        if kind in (TEXT_MAP, COUNTER_MAP):
            column = args[0]
            values_are_text = kind == TEXT_MAP

            def text_map(replica, uuid, row):
                value = row[column]
                return _NO_ENTRIES if not value else _text_map(value, values_are_text)
            return text_map
        if kind == OWNER:
            owner, column = args
            owners = self._owners[(owner, column)]   # kept up to date in place
            path_to = self._path_to

            def owner_path(replica, uuid, row):
                held_by = owners.get(uuid)
                return path_to(owner, replica.row(owner, held_by) if held_by else None)
            return owner_path
        if kind == PATHS and not args[2]:
            column, table, _ = args
            paths = self._paths

            def member_paths(replica, uuid, row):
                return paths(replica, table, row[column])
            return member_paths
        return lambda replica, uuid, row: self._derive(replica, uuid, row, prop)

    def properties(self, replica, table, uuid):
        """``{name: (signature, value)}`` of the object for row ``uuid`` of ``table`` (a
        :class:`DerivedProperties`)."""
        row = replica.row(table, uuid)
        compiled = self._compiled.get(table)
        if compiled is None:
            declared = self.legacy[table].properties
            compiled = self._compiled[table] = (_Layout([p.name for p in declared], [p.signature for p in declared]),
                                                [self._compile(p) for p in declared])
        layout, derivations = compiled
        return DerivedProperties(layout, tuple([derive(replica, uuid, row) for derive in derivations]))

    # -- following changes -------------------------------------------------------

    def update(self, replica, changes, announce=True):
        """Follow one batch of :class:`~ovsdbus.ovsdb.replica.RowChange` already applied to
        ``replica``; return the :class:`ViewDelta` to show.  Without ``announce`` (nobody follows
        the tree yet) no root signal is made and ``changed`` lists the objects whose properties
        changed with no diff (``{}``)."""
        dirty = set()
        names = {}               # (table, uuid) -> name, including rows deleted in this batch
        members_added, members_removed = {}, {}   # (table, column) -> [(owner uuid, member uuid)]
        rows_added, rows_removed = {}, {}         # table -> [name]
        signal_columns = {(t, c) for t, c, _, _ in self.membership} if announce else set()
        legacy, indexes, listed_in, joined_from = self.legacy, self._indexes, self._listed_in, self._joined_from
        for c in changes:
            table, old, new = c.table, c.old, c.new
            if table not in legacy and table not in joined_from:
                continue
            if announce:
                for row in (old, new):
                    if row is not None and "name" in row:
                        names[(table, c.uuid)] = row["name"]
            for owner_table, column in joined_from.get(table, ()):
                dirty.update((owner_table, u) for u, row in replica.rows(owner_table).items()
                             if c.uuid in row[column])
            if table not in legacy:
                continue
            dirty.add((table, c.uuid))
            if (table, None) in signal_columns:
                if c.kind == INSERT:
                    rows_added.setdefault(table, []).append(new["name"])
                elif c.kind == DELETE:
                    rows_removed.setdefault(table, []).append(old["name"])
            renamed = old is not None and new is not None and old["name"] != new["name"]
            for column, member in indexes.get(table, ()):
                new_members = new[column] if new is not None else frozenset()
                owners = self._owners[(table, column)]
                # What the update's diff said (not a walk of the whole set: a bridge has thousands).
                lost, gained = replica.element_changes(c, column)
                for m in gained:
                    owners[m] = c.uuid
                for m in lost:
                    if owners.get(m) == c.uuid:
                        del owners[m]
                if (table, column) in signal_columns:
                    members_added.setdefault((table, column), []).extend((c.uuid, m) for m in gained)
                    members_removed.setdefault((table, column), []).extend((c.uuid, m) for m in lost)
                dirty.update((member, m) for m in gained)
                dirty.update((member, m) for m in lost)
                if renamed:
                    # Each member's OWNER property shows this row's path, which changed.
                    dirty.update((member, m) for m in new_members)
            if renamed:
                for owner_table, column in listed_in.get(table, ()):
                    # The owner lists this row's path, which changed.
                    self.renames += 1
                    owner = self._owners[(owner_table, column)].get(c.uuid)
                    if owner:
                        dirty.add((owner_table, owner))

        added, removed, changed = [], [], []
        kinds, order = self.kinds, self._order
        for key in sorted((k for k in dirty if k[0] in kinds), key=lambda k: (order[k[0]], k[1])):
            table, uuid = key
            interface = kinds[table][1]
            before = self.objects.get(key)
            row = replica.row(table, uuid)
            if row is None or not self._shows(table, uuid, row):
                if row is None:
                    self._hidden.discard(key)
                if before is not None:
                    del self.objects[key]
                    self._forget_path(before[0], key)
                    removed.append((before[0], interface))
                continue
            path = self.object_path(table, row["name"])
            props = self.properties(replica, table, uuid)
            if before is None or before[0] != path:
                if before is not None:
                    self._forget_path(before[0], key)
                    removed.append((before[0], interface))
                added.append((path, interface, props))
            elif not announce:
                changed.append((path, interface, {}))
            else:
                diff = props.changed_since(before[1])
                if diff:
                    changed.append((path, interface, diff))
            self.objects[key] = (path, props)
            self._keys[path] = key
        if not announce:
            removed.reverse()
            return ViewDelta(added, removed, changed, [])

        def name(table, uuid):
            return names.get((table, uuid)) or (replica.row(table, uuid) or {}).get("name", "")

        def member_signals(table, column, signal, pairs):
            member = next(m for c, m in self._indexes[table] if c == column)
            return sorted(Signal(signal, (name(table, o), name(member, m))) for o, m in pairs)

        # Removals first: a name both removed and added in one update (del-br X -- add-br X)
        # was removed, then added again, and a follower must end up believing it exists.
        signals = []
        for table, column, _, signal in reversed(self.membership):
            if column is None:
                signals += [Signal(signal, (n,)) for n in sorted(rows_removed.get(table, ()))]
            else:
                signals += member_signals(table, column, signal, members_removed.get((table, column), ()))
        for table, column, signal, _ in self.membership:
            if column is None:
                signals += [Signal(signal, (n,)) for n in sorted(rows_added.get(table, ()))]
            else:
                signals += member_signals(table, column, signal, members_added.get((table, column), ()))
        # A signal names rows by name: none for a row whose name D-Bus cannot carry.
        signals = [s for s in signals if can_carry("".join(s.args))]
        removed.reverse()  # interfaces first, bridges last
        return ViewDelta(added, removed, changed, signals)

    def managed_objects(self):
        """``{path: {interface: properties}}`` of every object (for GetManagedObjects)."""
        return {path: {interface: props} for path, interface, props in self.shown()}
