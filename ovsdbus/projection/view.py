"""The D-Bus view of the replica, as pure data: object paths, properties and change signals.

:class:`TreeView` follows the replica's row changes and says, for each batch,
what the bus must show: objects added and removed, properties changed (all of an
object's changes in one batch together) and the root interface's signals, in a
fixed order.  It knows nothing of txdbus; the D-Bus adapter carries its
:class:`ViewDelta` out.

Objects: one per Bridge, Port and Interface row, at
``/org/openvswitch/ovsdb/{bridge,port,interface}/<escaped name>``.

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

from typing import NamedTuple

from twisted.logger import Logger

from ovsdbus.api import OBJECT_PATH
from ovsdbus.ovsdb.replica import DELETE, INSERT
from ovsdbus.projection.text import BoundedCache, can_carry, carriable

BRIDGE_INTERFACE = "org.openvswitch.ovsdb.Bridge"
PORT_INTERFACE = "org.openvswitch.ovsdb.Port"
INTERFACE_INTERFACE = "org.openvswitch.ovsdb.Interface"

#: Object kinds: table name -> (path element, D-Bus interface).
KINDS = {
    "Bridge": ("bridge", BRIDGE_INTERFACE),
    "Port": ("port", PORT_INTERFACE),
    "Interface": ("interface", INTERFACE_INTERFACE),
}

NO_OBJECT = "/"

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def escape_path_element(name):
    """Escape ``name`` into a valid object path element, reversibly (as systemd does):
    every byte of its UTF-8 form outside ``[A-Za-z0-9]`` becomes ``_`` and two lowercase
    hex digits; the empty name becomes ``_``."""
    if not name:
        return "_"
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


# Paths of the names seen lately: escaping costs ten times as much as finding the path, and
# a bridge's Ports are thousands of paths.  Bounded in bytes (the paths of a bridge of 10 000
# ports fit); a long name's path is not kept.
_paths = BoundedCache(max_bytes=8 << 20, max_item_bytes=1024)


def object_path(table, name):
    """The object path of the row of ``table`` called ``name``."""
    key = (table, name)
    path = _paths.young.get(key) or _paths.old.get(key)
    if path is None:
        path = "%s/%s/%s" % (OBJECT_PATH, KINDS[table][0], escape_path_element(name))
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


_TABLE_ORDER = {"Bridge": 0, "Port": 1, "Interface": 2}


def _kind_order(key):
    return _TABLE_ORDER[key[0]], key[1]


class TreeView:
    """The objects the bus shows for a replica, kept in step by :meth:`update`."""

    log = Logger()

    def __init__(self):
        self._hidden = set()         # (table, uuid) of rows not shown for their name
        #: ``{(table, uuid): (path, properties)}`` of every shown object.
        self.objects = {}
        self._keys = {}              # path -> (table, uuid)
        self._port_bridge = {}       # port uuid -> bridge uuid
        self._interface_port = {}    # interface uuid -> port uuid
        #: Counts port renames, which change the paths a bridge's Ports lists.
        self.renames = 0

    def at(self, path):
        """``(interface, properties)`` of the object shown at ``path``."""
        table, uuid = key = self._keys[path]
        return KINDS[table][1], self.objects[key][1]

    def shown(self):
        """``(path, interface, properties)`` of every shown object."""
        return [(path, KINDS[table][1], props) for (table, _), (path, props) in self.objects.items()]

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
        young = _paths.young  # the fast path of object_path, for thousands of ports
        return [young.get((table, n)) or object_path(table, n) for n in shown_names(names)]

    @staticmethod
    def _path_to(table, row):
        """The path a reference to ``row`` shows: ``/`` for no row or one that is not shown."""
        if row is None or not can_carry(row["name"]):
            return NO_OBJECT
        return object_path(table, row["name"])

    def _shows(self, table, uuid, row):
        """True if ``row`` is shown; warn once for a row not shown for its name."""
        name = row["name"]
        if can_carry(name):
            self._hidden.discard((table, uuid))
            return True
        if (table, uuid) not in self._hidden:
            self._hidden.add((table, uuid))
            self.log.warn("{table} {uuid} is not shown on D-Bus: its name {name} holds what D-Bus cannot "
                          "carry (NUL or a lone surrogate)", table=table, uuid=uuid, name=ascii(name[:256]))
        return False

    def properties(self, replica, table, uuid):
        """``{name: (signature, value)}`` of the object for row ``uuid`` of ``table``."""
        row = replica.row(table, uuid)
        if table == "Bridge":
            controllers = replica.rows("Controller") if "Controller" in replica.tables else {}
            return {
                "Name": ("s", row["name"]),
                "Ports": ("ao", LazyPaths(self, replica, "Port", row["ports"])),
                "FailMode": ("s", carriable(_optional(row["fail_mode"], ""))),
                "DatapathType": ("s", carriable(row["datapath_type"])),
                "Controllers": ("as", _texts(sorted(controllers[c]["target"] for c in row["controller"]
                                                    if c in controllers))),
                "ExternalIds": ("a{ss}", _text_map(row["external_ids"])),
                "OtherConfig": ("a{ss}", _text_map(row["other_config"])),
            }
        if table == "Port":
            bridge = self._port_bridge.get(uuid)
            bridge_row = replica.row("Bridge", bridge) if bridge else None
            return {
                "Name": ("s", row["name"]),
                "Bridge": ("o", self._path_to("Bridge", bridge_row)),
                "Interfaces": ("ao", self._paths(replica, "Interface", row["interfaces"])),
                "Tag": ("x", _optional(row["tag"], -1)),
                "Trunks": ("ax", sorted(row["trunks"])),
                "VlanMode": ("s", carriable(_optional(row["vlan_mode"], ""))),
                "BondMode": ("s", carriable(_optional(row["bond_mode"], ""))),
                "ExternalIds": ("a{ss}", _text_map(row["external_ids"])),
            }
        port = self._interface_port.get(uuid)
        port_row = replica.row("Port", port) if port else None
        return {
            "Name": ("s", row["name"]),
            "Port": ("o", self._path_to("Port", port_row)),
            "Type": ("s", carriable(row["type"])),
            "Options": ("a{ss}", _text_map(row["options"])),
            "OfPort": ("x", _optional(row["ofport"], 0)),
            "MTU": ("x", _optional(row["mtu"], 0)),
            "MacInUse": ("s", carriable(_optional(row["mac_in_use"], ""))),
            "AdminState": ("s", carriable(_optional(row["admin_state"], ""))),
            "LinkState": ("s", carriable(_optional(row["link_state"], ""))),
            "Error": ("s", carriable(_optional(row["error"], ""))),
            "Statistics": ("a{sx}", _text_map(row["statistics"], values_are_text=False)),
            "ExternalIds": ("a{ss}", _text_map(row["external_ids"])),
        }

    # -- following changes -------------------------------------------------------

    def update(self, replica, changes):
        """Follow one batch of :class:`~ovsdbus.ovsdb.replica.RowChange` already applied to
        ``replica``; return the :class:`ViewDelta` to show."""
        dirty = set()
        names = {}               # (table, uuid) -> name, including rows deleted in this batch
        added_ports, removed_ports = [], []     # (bridge name, port uuid)
        added_ifaces, removed_ifaces = [], []   # (port uuid, interface uuid)
        bridges_added, bridges_removed = [], []
        for c in changes:
            if c.table not in KINDS and c.table != "Controller":
                continue
            for row in (c.old, c.new):
                if row is not None and "name" in row:
                    names[(c.table, c.uuid)] = row["name"]
            dirty.add((c.table, c.uuid))
            if c.table == "Bridge":
                old_ports = c.old["ports"] if c.old else frozenset()
                new_ports = c.new["ports"] if c.new else frozenset()
                if c.kind == INSERT:
                    bridges_added.append(c.new["name"])
                elif c.kind == DELETE:
                    bridges_removed.append(c.old["name"])
                bridge_name = (c.new or c.old)["name"]
                for p in new_ports - old_ports:
                    self._port_bridge[p] = c.uuid
                    added_ports.append((bridge_name, p))
                for p in old_ports - new_ports:
                    if self._port_bridge.get(p) == c.uuid:
                        del self._port_bridge[p]
                    removed_ports.append((bridge_name, p))
                dirty.update(("Port", p) for p in old_ports ^ new_ports)
            elif c.table == "Port":
                old_ifaces = c.old["interfaces"] if c.old else frozenset()
                new_ifaces = c.new["interfaces"] if c.new else frozenset()
                for i in new_ifaces - old_ifaces:
                    self._interface_port[i] = c.uuid
                    added_ifaces.append((c.uuid, i))
                for i in old_ifaces - new_ifaces:
                    if self._interface_port.get(i) == c.uuid:
                        del self._interface_port[i]
                    removed_ifaces.append((c.uuid, i))
                dirty.update(("Interface", i) for i in old_ifaces ^ new_ifaces)
                if c.old is not None and c.new is not None and c.old["name"] != c.new["name"]:
                    # Paths of this port changed: so do the references to it.
                    self.renames += 1
                    dirty.update(("Interface", i) for i in new_ifaces)
                    bridge = self._port_bridge.get(c.uuid)
                    if bridge:
                        dirty.add(("Bridge", bridge))
            elif c.table == "Controller":
                dirty.update(("Bridge", b) for b, row in replica.rows("Bridge").items()
                             if c.uuid in row["controller"])
            if c.table == "Interface" and c.old is not None and c.new is not None \
                    and c.old["name"] != c.new["name"]:
                port = self._interface_port.get(c.uuid)
                if port:
                    dirty.add(("Port", port))
            if c.table == "Bridge" and c.old is not None and c.new is not None \
                    and c.old["name"] != c.new["name"]:
                dirty.update(("Port", p) for p in c.new["ports"])

        added, removed, changed = [], [], []
        for key in sorted((k for k in dirty if k[0] in KINDS), key=_kind_order):
            table, uuid = key
            interface = KINDS[table][1]
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
            path = object_path(table, row["name"])
            props = self.properties(replica, table, uuid)
            if before is None or before[0] != path:
                if before is not None:
                    self._forget_path(before[0], key)
                    removed.append((before[0], interface))
                added.append((path, interface, props))
            else:
                diff = {k: v for k, v in props.items() if before[1].get(k) != v}
                if diff:
                    changed.append((path, interface, diff))
            self.objects[key] = (path, props)
            self._keys[path] = key

        def name(table, uuid):
            return names.get((table, uuid)) or (replica.row(table, uuid) or {}).get("name", "")

        # Removals first: a name both removed and added in one update (del-br X -- add-br X)
        # was removed, then added again, and a follower must end up believing it exists.
        signals = sorted(Signal("InterfaceRemoved", (name("Port", p), name("Interface", i)))
                         for p, i in removed_ifaces)
        signals += sorted(Signal("PortRemoved", (b, name("Port", p))) for b, p in removed_ports)
        signals += [Signal("BridgeRemoved", (n,)) for n in sorted(bridges_removed)]
        signals += [Signal("BridgeAdded", (n,)) for n in sorted(bridges_added)]
        signals += sorted(Signal("PortAdded", (b, name("Port", p))) for b, p in added_ports)
        signals += sorted(Signal("InterfaceAdded", (name("Port", p), name("Interface", i)))
                          for p, i in added_ifaces)
        # A signal names rows by name: none for a row whose name D-Bus cannot carry.
        signals = [s for s in signals if can_carry("".join(s.args))]
        removed.reverse()  # interfaces first, bridges last
        return ViewDelta(added, removed, changed, signals)

    def managed_objects(self):
        """``{path: {interface: properties}}`` of every object (for GetManagedObjects)."""
        return {path: {interface: props} for path, interface, props in self.shown()}
