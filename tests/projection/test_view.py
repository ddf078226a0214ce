"""Tests for ovsdbus.projection.view: what the bus shows for the replica, as pure data.

A :class:`~ovsdbus.ovsdb.replica.Replica` of the installed Open_vSwitch schema
(``/usr/share/openvswitch/vswitch.ovsschema``, read at run time) is fed
hand-made ``update2`` notifications shaped like ovsdb-server's, and the
:class:`~ovsdbus.projection.view.TreeView` must say which objects appear, disappear and
change, and which root signals go out, in which order.
"""

import json
import os
import unittest
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.logger import Logger, LogLevel
from twisted.trial.unittest import TestCase

from ovsdbus.api import OBJECT_PATH
from ovsdbus.api.legacy import (
    BRIDGE_INTERFACE,
    INTERFACE_INTERFACE,
    LEGACY,
    MEMBERSHIP_SIGNALS,
    NAME,
    PORT_INTERFACE,
    TEXT,
    Derived,
    Kind,
)
from ovsdbus.bus import wire as dbuswire
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema
from ovsdbus.projection import view
from ovsdbus.projection.text import can_carry
from ovsdbus.projection.view import (
    NO_OBJECT,
    Signal,
    TreeView,
    element_path,
    escape_path_element,
    shown_names,
    unescape_path_element,
)
from ovsdbus.vswitch.operations import MONITORED_COLUMNS

SCHEMA_PATH = "/usr/share/openvswitch/vswitch.ovsschema"

_NAMESPACE = uuid.UUID("5e1f0000-0000-4000-8000-00000000d0b5")


def load_schema():
    """The installed Open_vSwitch schema; skip (or, under CI, fail) when it is missing."""
    if not os.path.exists(SCHEMA_PATH):
        message = "%s is not installed (Debian: openvswitch-common)" % SCHEMA_PATH
        if os.environ.get("CI"):
            raise AssertionError(message + "; CI must provide it")
        raise unittest.SkipTest(message)
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return DatabaseSchema.from_json(json.load(f))


def U(table, name):
    """A stable uuid for the row of ``table`` called ``name`` (readable tests, fixed order)."""
    key = "%s/%s" % (table, name)
    if not can_carry(key):   # a lone surrogate has no UTF-8 form for uuid5 to hash
        key = ascii(key)
    return str(uuid.uuid5(_NAMESPACE, key))


ROOT = U("Open_vSwitch", "")


def uuids(*values):
    """An OVSDB set of uuids on the wire (a one-element set as a set, which is also valid)."""
    return ["set", [["uuid", u] for u in values]]


def ovs_map(pairs):
    return ["map", [[k, v] for k, v in sorted(pairs.items())]]


def insert(**columns):
    return {"insert": columns}


def modify(**columns):
    return {"modify": columns}


DELETE = {"delete": None}


def path(kind, name):
    return "%s/%s/%s" % (OBJECT_PATH, kind, escape_path_element(name))


def bridge_rows(name, ports=(), internal=True, **columns):
    """update2 rows that ``ovs-vsctl add-br NAME`` inserts (without the Open_vSwitch change):
    the Bridge, its local Port and its internal Interface, all called NAME, plus ``ports``."""
    port_uuids = [U("Port", name)] + [U("Port", p) for p in ports]
    rows = {
        "Bridge": {U("Bridge", name): insert(name=name, ports=uuids(*port_uuids), **columns)},
        "Port": {U("Port", name): insert(name=name, interfaces=uuids(U("Interface", name)))},
        "Interface": {U("Interface", name): insert(name=name, type="internal" if internal else "")},
    }
    for p in ports:
        rows["Port"][U("Port", p)] = insert(name=p, interfaces=uuids(U("Interface", p)))
        rows["Interface"][U("Interface", p)] = insert(name=p)
    return rows


def merge(*updates):
    """One update2 ``table-updates`` object from several (rows of the same table together)."""
    result = {}
    for update in updates:
        for table, rows in update.items():
            result.setdefault(table, {}).update(rows)
    return result


def plain(properties):
    """``{name: (signature, value)}`` with lazily computed values (Bridge Ports) computed, as a
    client reading them gets them."""
    return {k: (sig, v.resolve() if hasattr(v, "resolve") else v) for k, (sig, v) in properties.items()}


def names_of(signals):
    return [(s.name,) + tuple(s.args) for s in signals]


def resolved_delta(delta):
    return delta._replace(added=[(p, i, plain(props)) for p, i, props in delta.added],
                          changed=[(p, i, plain(diff)) for p, i, diff in delta.changed])


class _ViewTestCase(TestCase):
    """A replica of the real schema's monitored columns and a view following it."""

    def setUp(self):
        self.replica = Replica(load_schema(), MONITORED_COLUMNS)
        self.view = TreeView(LEGACY, MEMBERSHIP_SIGNALS)

    def apply(self, updates):
        """Apply one update2 notification; return the view's delta for it, with lazily
        computed values computed (as a client reading them right after the update gets them)."""
        changes = self.replica.apply_update(updates, 2)
        return resolved_delta(self.view.update(self.replica, changes))

    def start(self, *bridges):
        """Initial contents: the Open_vSwitch row and ``bridges`` (update2 rows from bridge_rows)."""
        bridge_uuids = [u for b in bridges for u in b["Bridge"]]
        root = {"Open_vSwitch": {ROOT: {"initial": {"bridges": uuids(*bridge_uuids), "cur_cfg": 1}}}}
        initial = merge(*bridges)
        for rows in initial.values():
            for u, row in rows.items():
                rows[u] = {"initial": row["insert"]}
        return self.apply(merge(root, initial))

    def props(self, table, name):
        """The properties the view shows for row ``name`` of ``table``, as plain values."""
        entry = self.view.objects.get((table, U(table, name)))
        self.assertIsNotNone(entry, "no object for %s %s" % (table, name))
        return {k: v for k, (_, v) in plain(entry[1]).items()}


class InitialContentsTests(_ViewTestCase):
    """The first snapshot shows every bridge, port and interface."""

    def test_objects_and_signals_of_a_new_bridge(self):
        """A bridge made like ``ovs-vsctl add-br br0`` appears as three objects (bridge, its
        local port, its internal interface), bridges first, and a subscriber hears BridgeAdded,
        then PortAdded, then InterfaceAdded."""
        delta = self.start(bridge_rows("br0"))
        self.assertEqual([(p, i) for p, i, _ in delta.added], [
            (path("bridge", "br0"), BRIDGE_INTERFACE),
            (path("port", "br0"), PORT_INTERFACE),
            (path("interface", "br0"), INTERFACE_INTERFACE),
        ])
        self.assertEqual(delta.removed, [])
        self.assertEqual(delta.changed, [])
        self.assertEqual(names_of(delta.signals), [
            ("BridgeAdded", "br0"), ("PortAdded", "br0", "br0"), ("InterfaceAdded", "br0", "br0")])

    def test_properties_read_like_a_dict_in_declared_order(self):
        """An object's properties read like a dict: by name, in the order the interface declares
        them, with a KeyError for a name it does not have."""
        self.start(bridge_rows("br0"))
        _, props = self.view.objects[("Port", U("Port", "br0"))]
        self.assertEqual(list(props), [p.name for p in LEGACY["Port"].properties])
        self.assertEqual(len(props), len(LEGACY["Port"].properties))
        self.assertEqual(props["Tag"], ("x", -1))
        self.assertEqual(props.get("Name"), ("s", "br0"))
        self.assertIn("Bridge", props)
        self.assertNotIn("Nope", props)
        self.assertRaises(KeyError, lambda: props["Nope"])
        self.assertEqual(dict(props.items()), {k: props[k] for k in props})

    def test_unset_values_have_documented_placeholders(self):
        """Columns that are unset show the documented placeholders: '' for optional strings,
        Tag -1, OfPort 0, MTU 0, empty arrays and dictionaries; references are object paths."""
        delta = self.start(bridge_rows("br0"))
        added = {p: props for p, _, props in delta.added}
        self.assertEqual(added[path("bridge", "br0")], {
            "Name": ("s", "br0"),
            "Ports": ("ao", [path("port", "br0")]),
            "FailMode": ("s", ""),
            "DatapathType": ("s", ""),
            "Controllers": ("as", []),
            "Protocols": ("as", []),
            "Mirrors": ("as", []),
            "ExternalIds": ("a{ss}", {}),
            "OtherConfig": ("a{ss}", {}),
        })
        self.assertEqual(added[path("port", "br0")], {
            "Name": ("s", "br0"),
            "Bridge": ("o", path("bridge", "br0")),
            "Interfaces": ("ao", [path("interface", "br0")]),
            "Tag": ("x", -1),
            "Trunks": ("ax", []),
            "VlanMode": ("s", ""),
            "BondMode": ("s", ""),
            "Lacp": ("s", ""),
            "ExternalIds": ("a{ss}", {}),
        })
        self.assertEqual(added[path("interface", "br0")], {
            "Name": ("s", "br0"),
            "Port": ("o", path("port", "br0")),
            "Type": ("s", "internal"),
            "Options": ("a{ss}", {}),
            "OfPort": ("x", 0),
            "OfPortRequest": ("x", -1),
            "MTU": ("x", 0),
            "MTURequest": ("x", -1),
            "MacInUse": ("s", ""),
            "AdminState": ("s", ""),
            "LinkState": ("s", ""),
            "Error": ("s", ""),
            "Statistics": ("a{sx}", {}),
            "ExternalIds": ("a{ss}", {}),
        })

    def test_set_values_are_shown(self):
        """Values that are set show as themselves: a tag, sorted trunks, maps, a fail mode,
        64-bit counters beyond 2**31, OpenFlow port -1 (could not be created), sorted protocols,
        LACP, the OpenFlow port and MTU asked for."""
        br = bridge_rows("br0", ["p1"], fail_mode="secure", datapath_type="netdev",
                         external_ids=ovs_map({"k": "v"}), other_config=ovs_map({"hwaddr": "x"}),
                         protocols=["set", ["OpenFlow14", "OpenFlow13"]])
        br["Port"][U("Port", "p1")]["insert"].update(
            tag=10, trunks=["set", [30, 20, 10]], vlan_mode="trunk", bond_mode="balance-slb", lacp="active")
        br["Interface"][U("Interface", "p1")]["insert"].update(
            type="patch", options=ovs_map({"peer": "x"}), ofport=-1, mtu=1500,
            mac_in_use="aa:bb:cc:dd:ee:ff", admin_state="up", link_state="down",
            error="could not open network device p1 (No such device)",
            statistics=ovs_map({"rx_bytes": 2 ** 40, "tx_packets": 2 ** 31}), ofport_request=7, mtu_request=9000)
        self.start(br)
        self.assertEqual(self.props("Bridge", "br0"), {
            "Name": "br0", "Ports": [path("port", "br0"), path("port", "p1")], "FailMode": "secure",
            "DatapathType": "netdev", "Controllers": [], "Protocols": ["OpenFlow13", "OpenFlow14"], "Mirrors": [],
            "ExternalIds": {"k": "v"}, "OtherConfig": {"hwaddr": "x"}})
        port = self.props("Port", "p1")
        self.assertEqual((port["Tag"], port["Trunks"], port["VlanMode"], port["BondMode"], port["Lacp"]),
                         (10, [10, 20, 30], "trunk", "balance-slb", "active"))
        self.assertEqual(self.props("Interface", "p1"), {
            "Name": "p1", "Port": path("port", "p1"), "Type": "patch", "Options": {"peer": "x"},
            "OfPort": -1, "OfPortRequest": 7, "MTU": 1500, "MTURequest": 9000, "MacInUse": "aa:bb:cc:dd:ee:ff",
            "AdminState": "up",
            "LinkState": "down", "Error": "could not open network device p1 (No such device)",
            "Statistics": {"rx_bytes": 2 ** 40, "tx_packets": 2 ** 31}, "ExternalIds": {}})

    def test_ports_and_interfaces_are_sorted_by_name(self):
        """Array properties of object paths are sorted by the names of the objects."""
        br = bridge_rows("br0", ["zz", "aa", "mm"])
        self.start(br)
        self.assertEqual(self.props("Bridge", "br0")["Ports"],
                         [path("port", n) for n in ("aa", "br0", "mm", "zz")])

    def test_controllers(self):
        """A bridge's Controllers are the targets of its Controller rows, sorted."""
        c1, c2 = U("Controller", "1"), U("Controller", "2")
        br = bridge_rows("br0", controller=uuids(c1, c2))
        self.start(merge(br, {"Controller": {c1: insert(target="tcp:1.2.3.4:6653"),
                                             c2: insert(target="punix:/x")}}))
        self.assertEqual(self.props("Bridge", "br0")["Controllers"], ["punix:/x", "tcp:1.2.3.4:6653"])

    def test_managed_objects(self):
        """GetManagedObjects' answer has one entry per object with its interface and properties."""
        self.start(bridge_rows("br0", ["p1"]))
        objects = self.view.managed_objects()
        self.assertEqual(sorted(objects), sorted([
            path("bridge", "br0"), path("port", "br0"), path("port", "p1"),
            path("interface", "br0"), path("interface", "p1")]))
        self.assertEqual(list(objects[path("port", "p1")]), [PORT_INTERFACE])
        self.assertEqual(objects[path("port", "p1")][PORT_INTERFACE]["Bridge"], ("o", path("bridge", "br0")))
        self.assertEqual(plain(objects[path("bridge", "br0")][BRIDGE_INTERFACE])["Ports"],
                         ("ao", [path("port", "br0"), path("port", "p1")]))
        self.assertEqual(self.view.path_of("Port", U("Port", "p1")), path("port", "p1"))
        self.assertEqual(self.view.path_of("Port", U("Port", "nope")), NO_OBJECT)

    def test_names_with_escapes_in_the_tree(self):
        """A bridge and port named with '-' and '.' are shown at escaped paths, and the
        references between them use those paths."""
        self.start(bridge_rows("br-0.x", ["veth.1-a"]))
        self.assertEqual(self.props("Bridge", "br-0.x")["Ports"],
                         [OBJECT_PATH + "/port/br_2d0_2ex", OBJECT_PATH + "/port/veth_2e1_2da"])
        self.assertEqual(self.props("Port", "veth.1-a")["Bridge"], OBJECT_PATH + "/bridge/br_2d0_2ex")
        self.assertEqual(self.view.path_of("Interface", U("Interface", "veth.1-a")),
                         OBJECT_PATH + "/interface/veth_2e1_2da")

    def test_unreferenced_rows(self):
        """A port no bridge lists and an interface no port lists still appear, with '/' as
        their Bridge and Port."""
        self.start()
        delta = self.apply({"Port": {U("Port", "lone"): insert(name="lone", interfaces=uuids())},
                            "Interface": {U("Interface", "lone"): insert(name="lone")}})
        self.assertEqual(sorted(p for p, _, _ in delta.added), [path("interface", "lone"), path("port", "lone")])
        self.assertEqual(self.props("Port", "lone")["Bridge"], NO_OBJECT)
        self.assertEqual(self.props("Interface", "lone")["Port"], NO_OBJECT)
        self.assertEqual(delta.signals, [])


class ChangeTests(_ViewTestCase):
    """Changes after the first snapshot."""

    def setUp(self):
        super().setUp()
        self.start(bridge_rows("br0", ["p1"]))

    def test_add_port(self):
        """``ovs-vsctl add-port br0 p2``: port and interface objects appear, the bridge's Ports
        change, and PortAdded then InterfaceAdded are heard."""
        delta = self.apply({
            "Bridge": {U("Bridge", "br0"): modify(ports=uuids(U("Port", "p2")))},
            "Port": {U("Port", "p2"): insert(name="p2", interfaces=uuids(U("Interface", "p2")))},
            "Interface": {U("Interface", "p2"): insert(name="p2")},
        })
        self.assertEqual([p for p, _, _ in delta.added], [path("port", "p2"), path("interface", "p2")])
        self.assertEqual(delta.changed, [(path("bridge", "br0"), BRIDGE_INTERFACE, {
            "Ports": ("ao", [path("port", n) for n in ("br0", "p1", "p2")])})])
        self.assertEqual(names_of(delta.signals), [("PortAdded", "br0", "p2"), ("InterfaceAdded", "p2", "p2")])
        self.assertEqual(self.props("Port", "p2")["Bridge"], path("bridge", "br0"))
        self.assertEqual(self.props("Interface", "p2")["Port"], path("port", "p2"))

    def test_delete_port(self):
        """``ovs-vsctl del-port br0 p1``: interface then port objects go, the bridge's Ports
        change, and InterfaceRemoved then PortRemoved name the deleted rows."""
        delta = self.apply({
            "Bridge": {U("Bridge", "br0"): modify(ports=uuids(U("Port", "p1")))},
            "Port": {U("Port", "p1"): DELETE},
            "Interface": {U("Interface", "p1"): DELETE},
        })
        self.assertEqual(delta.added, [])
        self.assertEqual(delta.removed, [(path("interface", "p1"), INTERFACE_INTERFACE),
                                         (path("port", "p1"), PORT_INTERFACE)])
        self.assertEqual(delta.changed, [(path("bridge", "br0"), BRIDGE_INTERFACE,
                                          {"Ports": ("ao", [path("port", "br0")])})])
        self.assertEqual(names_of(delta.signals),
                         [("InterfaceRemoved", "p1", "p1"), ("PortRemoved", "br0", "p1")])

    def test_delete_bridge(self):
        """``ovs-vsctl del-br br0``: every object of the bridge goes, interfaces first and the
        bridge last, and the signals go from interfaces up to BridgeRemoved."""
        delta = self.apply({
            "Open_vSwitch": {ROOT: modify(bridges=uuids(U("Bridge", "br0")))},
            "Bridge": {U("Bridge", "br0"): DELETE},
            "Port": {U("Port", "br0"): DELETE, U("Port", "p1"): DELETE},
            "Interface": {U("Interface", "br0"): DELETE, U("Interface", "p1"): DELETE},
        })
        self.assertEqual(delta.added, [])
        self.assertEqual(delta.changed, [])
        kinds = [p.split("/")[4] for p, _ in delta.removed]
        self.assertEqual(kinds, ["interface", "interface", "port", "port", "bridge"])
        self.assertEqual(sorted(p for p, _ in delta.removed), sorted(
            [path("bridge", "br0"), path("port", "br0"), path("port", "p1"),
             path("interface", "br0"), path("interface", "p1")]))
        self.assertEqual(names_of(delta.signals), [
            ("InterfaceRemoved", "br0", "br0"), ("InterfaceRemoved", "p1", "p1"),
            ("PortRemoved", "br0", "br0"), ("PortRemoved", "br0", "p1"), ("BridgeRemoved", "br0")])
        self.assertEqual(self.view.objects, {})

    def test_two_properties_in_one_update_change_together(self):
        """``ovs-vsctl set port p1 tag=5 -- set port p1 vlan_mode=access`` is one update: the port
        changes once, with Tag and VlanMode together and nothing else; no root signal."""
        delta = self.apply({"Port": {U("Port", "p1"): modify(tag=5, vlan_mode="access")}})
        self.assertEqual(delta.changed, [(path("port", "p1"), PORT_INTERFACE,
                                          {"Tag": ("x", 5), "VlanMode": ("s", "access")})])
        self.assertEqual((delta.added, delta.removed, delta.signals), ([], [], []))

    def test_clearing_an_optional_value(self):
        """``ovs-vsctl clear port p1 tag`` (update2 sends the empty set) shows Tag -1 again."""
        self.apply({"Port": {U("Port", "p1"): modify(tag=5)}})
        delta = self.apply({"Port": {U("Port", "p1"): modify(tag=["set", []])}})
        self.assertEqual(delta.changed, [(path("port", "p1"), PORT_INTERFACE, {"Tag": ("x", -1)})])

    def test_map_and_set_diffs(self):
        """update2 diffs of maps (add, change, remove a key) and sets (symmetric difference)
        show as the whole new dictionary and array."""
        self.apply({"Port": {U("Port", "p1"): modify(external_ids=ovs_map({"a": "1", "b": "2"}),
                                                     trunks=["set", [1, 2]])}})
        delta = self.apply({"Port": {U("Port", "p1"): modify(
            external_ids=ovs_map({"a": "1", "b": "3", "c": "4"}), trunks=["set", [2, 3]])}})
        self.assertEqual(delta.changed, [(path("port", "p1"), PORT_INTERFACE, {
            "ExternalIds": ("a{ss}", {"b": "3", "c": "4"}), "Trunks": ("ax", [1, 3])})])

    def test_rewriting_the_same_value_changes_nothing(self):
        """An update that leaves every shown value as it was (an unmonitored-by-the-view table,
        or a column set to its current value) produces nothing at all."""
        delta = self.apply({"Open_vSwitch": {ROOT: modify(cur_cfg=2, next_cfg=2)}})
        self.assertEqual(delta, ([], [], [], []))
        delta = self.apply({"Interface": {U("Interface", "p1"): modify(type="")}})
        self.assertEqual(delta, ([], [], [], []))

    def test_interface_state_from_vswitchd(self):
        """ovs-vswitchd filling in an interface (ofport, mtu, state, counters) is one
        PropertiesChanged of the interface with exactly those properties."""
        delta = self.apply({"Interface": {U("Interface", "p1"): modify(
            ofport=1, mtu=1500, admin_state="up", link_state="up",
            statistics=ovs_map({"rx_bytes": 5 * 2 ** 32}))}})
        self.assertEqual(delta.changed, [(path("interface", "p1"), INTERFACE_INTERFACE, {
            "OfPort": ("x", 1), "MTU": ("x", 1500), "AdminState": ("s", "up"), "LinkState": ("s", "up"),
            "Statistics": ("a{sx}", {"rx_bytes": 5 * 2 ** 32})})])

    def test_controller_target_change(self):
        """Changing a controller's target changes the Controllers of the bridge using it."""
        c = U("Controller", "c")
        self.apply({"Bridge": {U("Bridge", "br0"): modify(controller=uuids(c))},
                    "Controller": {c: insert(target="tcp:1.1.1.1:6653")}})
        delta = self.apply({"Controller": {c: modify(target="tcp:2.2.2.2:6653")}})
        self.assertEqual(delta.changed, [(path("bridge", "br0"), BRIDGE_INTERFACE,
                                          {"Controllers": ("as", ["tcp:2.2.2.2:6653"])})])

    def test_move_port_between_bridges(self):
        """A port moved from br0 to br1 in one transaction keeps its object; PortRemoved(br0)
        and PortAdded(br1) are heard, its Bridge and both bridges' Ports change."""
        self.apply(merge({"Open_vSwitch": {ROOT: modify(bridges=uuids(U("Bridge", "br1")))}},
                         bridge_rows("br1")))
        delta = self.apply({"Bridge": {U("Bridge", "br0"): modify(ports=uuids(U("Port", "p1"))),
                                       U("Bridge", "br1"): modify(ports=uuids(U("Port", "p1")))}})
        self.assertEqual((delta.added, delta.removed), ([], []))
        changed = {p: diff for p, _, diff in delta.changed}
        self.assertEqual(changed, {
            path("bridge", "br0"): {"Ports": ("ao", [path("port", "br0")])},
            path("bridge", "br1"): {"Ports": ("ao", [path("port", "br1"), path("port", "p1")])},
            path("port", "p1"): {"Bridge": ("o", path("bridge", "br1"))},
        })
        self.assertEqual(sorted(names_of(delta.signals)),
                         [("PortAdded", "br1", "p1"), ("PortRemoved", "br0", "p1")])

    def test_interface_removed_from_port_with_another(self):
        """Swapping a port's interface (a bond member replaced) removes the old interface
        object, adds the new one and changes the port's Interfaces."""
        delta = self.apply({
            "Port": {U("Port", "p1"): modify(interfaces=uuids(U("Interface", "p1"), U("Interface", "e1")))},
            "Interface": {U("Interface", "p1"): DELETE, U("Interface", "e1"): insert(name="e1")},
        })
        self.assertEqual([p for p, _, _ in delta.added], [path("interface", "e1")])
        self.assertEqual(delta.removed, [(path("interface", "p1"), INTERFACE_INTERFACE)])
        self.assertEqual(delta.changed, [(path("port", "p1"), PORT_INTERFACE,
                                          {"Interfaces": ("ao", [path("interface", "e1")])})])
        self.assertEqual(sorted(names_of(delta.signals)), [("InterfaceAdded", "p1", "e1"),
                                                           ("InterfaceRemoved", "p1", "p1")])

    def test_every_change_of_a_batch_is_applied_before_properties_are_read(self):
        """A new bridge whose ports come in the same update (tables in any order) shows each
        port's Bridge and each interface's Port already filled in."""
        rows = bridge_rows("br2", ["q1"])
        update = {"Interface": rows["Interface"], "Port": rows["Port"], "Bridge": rows["Bridge"],
                  "Open_vSwitch": {ROOT: modify(bridges=uuids(U("Bridge", "br2")))}}
        delta = self.apply(update)
        added = {p: props for p, _, props in delta.added}
        self.assertEqual(added[path("port", "q1")]["Bridge"], ("o", path("bridge", "br2")))
        self.assertEqual(added[path("interface", "q1")]["Port"], ("o", path("port", "q1")))
        self.assertEqual(names_of(delta.signals)[0], ("BridgeAdded", "br2"))

    def test_recreated_bridge_ends_added(self):
        """``ovs-vsctl del-br br0 -- add-br br0`` (one update: the old rows deleted, new ones
        with the same names inserted) leaves br0 existing, so a subscriber that follows the
        signals must end up believing br0, its local port and interface exist: for each name,
        the last signal heard is an Added one."""
        update = merge(
            {"Open_vSwitch": {ROOT: modify(bridges=uuids(U("Bridge", "br0"), U("Bridge", "new-br0")))},
             "Bridge": {U("Bridge", "br0"): DELETE},
             "Port": {U("Port", "br0"): DELETE, U("Port", "p1"): DELETE},
             "Interface": {U("Interface", "br0"): DELETE, U("Interface", "p1"): DELETE}},
            {"Bridge": {U("Bridge", "new-br0"): insert(name="br0", ports=uuids(U("Port", "new-br0")))},
             "Port": {U("Port", "new-br0"): insert(name="br0", interfaces=uuids(U("Interface", "new-br0")))},
             "Interface": {U("Interface", "new-br0"): insert(name="br0", type="internal")}})
        delta = self.apply(update)
        believed = {}
        for s in delta.signals:
            believed[(s.name.replace("Added", "").replace("Removed", ""), s.args)] = "Added" in s.name
        self.assertEqual(believed, {
            ("Bridge", ("br0",)): True,
            ("Port", ("br0", "br0")): True,
            ("Interface", ("br0", "br0")): True,
            ("Port", ("br0", "p1")): False,
            ("Interface", ("p1", "p1")): False,
        }, "signals in order: %s" % names_of(delta.signals))
        # The object for br0 is replaced: removed before it is added again.
        self.assertIn((path("bridge", "br0"), BRIDGE_INTERFACE), delta.removed)
        self.assertIn(path("bridge", "br0"), [p for p, _, _ in delta.added])

    def test_recreated_port_ends_added(self):
        """``ovs-vsctl del-port br0 p1 -- add-port br0 p1 -- set interface p1 type=internal``
        (recreating a port to change it) must leave a signal follower believing p1 is a port
        of br0: PortAdded(br0, p1) must come after PortRemoved(br0, p1)."""
        delta = self.apply({
            "Bridge": {U("Bridge", "br0"): modify(ports=uuids(U("Port", "p1"), U("Port", "new-p1")))},
            "Port": {U("Port", "p1"): DELETE,
                     U("Port", "new-p1"): insert(name="p1", interfaces=uuids(U("Interface", "new-p1")))},
            "Interface": {U("Interface", "p1"): DELETE,
                          U("Interface", "new-p1"): insert(name="p1", type="internal")},
        })
        signals = names_of(delta.signals)
        self.assertLess(signals.index(("PortRemoved", "br0", "p1")), signals.index(("PortAdded", "br0", "p1")),
                        "signals in order: %s" % signals)
        self.assertLess(signals.index(("InterfaceRemoved", "p1", "p1")),
                        signals.index(("InterfaceAdded", "p1", "p1")), "signals in order: %s" % signals)
        self.assertEqual(self.props("Interface", "new-p1")["Type"], "internal")


class ResyncTests(_ViewTestCase):
    """After a reconnect the replica gets a full snapshot; only the differences show."""

    def setUp(self):
        super().setUp()
        self.br0 = bridge_rows("br0", ["p1"])
        self.br1 = bridge_rows("br1")
        self.start(self.br0, self.br1)

    def snapshot(self, *bridges, root=None):
        bridge_uuids = [u for b in bridges for u in b["Bridge"]]
        update = merge({"Open_vSwitch": {ROOT: insert(bridges=uuids(*bridge_uuids), cur_cfg=1)}}, *bridges)
        for rows in update.values():
            for u, row in rows.items():
                rows[u] = {"initial": row["insert"]}
        changes = self.replica.resync(update, 2)
        return resolved_delta(self.view.update(self.replica, changes))

    def test_same_snapshot_shows_nothing(self):
        """Reconnecting to an unchanged database emits no signal and changes no object."""
        self.assertEqual(self.snapshot(self.br0, self.br1), ([], [], [], []))

    def test_only_offline_changes_show(self):
        """Changes made while disconnected (br1 deleted, p2 added to br0, p1's tag set) show as
        exactly those: br1's objects removed, p2's added, p1 and br0 changed, and the signals
        for them only."""
        br0 = bridge_rows("br0", ["p1", "p2"])
        br0["Port"][U("Port", "p1")]["insert"]["tag"] = 7
        delta = self.snapshot(br0)
        self.assertEqual(sorted(p for p, _, _ in delta.added), [path("interface", "p2"), path("port", "p2")])
        self.assertEqual(sorted(p for p, _ in delta.removed),
                         sorted([path("bridge", "br1"), path("port", "br1"), path("interface", "br1")]))
        self.assertEqual(sorted((p, diff) for p, _, diff in delta.changed), [
            (path("bridge", "br0"), {"Ports": ("ao", [path("port", n) for n in ("br0", "p1", "p2")])}),
            (path("port", "p1"), {"Tag": ("x", 7)}),
        ])
        self.assertEqual(sorted(names_of(delta.signals)), sorted([
            ("PortAdded", "br0", "p2"), ("InterfaceAdded", "p2", "p2"),
            ("InterfaceRemoved", "br1", "br1"), ("PortRemoved", "br1", "br1"), ("BridgeRemoved", "br1")]))


class DeclarationTests(TestCase):
    """TreeView shows what the declarations it is given say, and refuses declarations it cannot follow."""

    def test_declarations_name_the_tables(self):
        """A view given declarations for other tables shows those tables' rows at their own path
        element, with the declared properties and root signals; tables it was not given are not shown."""
        schema = DatabaseSchema.from_json({"name": "Lab", "version": "1.0.0", "tables": {
            "Rack": {"isRoot": True, "columns": {"name": {"type": "string"}, "note": {
                "type": {"key": "string", "min": 0, "max": 1}}}},
            "Bridge": {"isRoot": True, "columns": {"name": {"type": "string"}}}}})
        replica = Replica(schema, {"Rack": None, "Bridge": None})
        legacy = {"Rack": Kind("rack", "org.example.Rack", (Derived("Name", "s", NAME),
                                                           Derived("Note", "s", TEXT, ("note", "none"))))}
        lab = TreeView(legacy, [("Rack", None, "RackAdded", "RackRemoved")])
        delta = lab.update(replica, replica.apply_update(
            {"Rack": {U("Rack", "r1"): insert(name="r1")}, "Bridge": {U("Bridge", "b"): insert(name="b")}}, 2))
        self.assertEqual(delta.added, [(OBJECT_PATH + "/rack/r1", "org.example.Rack",
                                        {"Name": ("s", "r1"), "Note": ("s", "none")})])
        self.assertEqual(names_of(delta.signals), [("RackAdded", "r1")])

    def test_declarations_it_cannot_follow_are_refused(self):
        """An unknown derivation, or a membership signal on a table without objects or on a column no
        property follows, is a ValueError naming it when the view is made, not a failure at an update."""
        bad_kind = {"Rack": Kind("rack", "org.example.Rack", (Derived("Name", "s", "shouting"),))}
        self.assertIn("shouting", str(self.assertRaises(ValueError, TreeView, bad_kind)))
        rack = {"Rack": Kind("rack", "org.example.Rack", (Derived("Name", "s", NAME),))}
        e = self.assertRaises(ValueError, TreeView, rack, [("Shelf", None, "ShelfAdded", "ShelfRemoved")])
        self.assertIn("Shelf", str(e))
        e = self.assertRaises(ValueError, TreeView, rack, [("Rack", "shelves", "ShelfAdded", "ShelfRemoved")])
        self.assertIn("Rack.shelves", str(e))


class PathTests(TestCase):
    """Object paths of rows: names are escaped so that any name gives a valid, distinct path."""

    def test_examples(self):
        """'-' and '.' (common in interface names) become _2d and _2e; '_' itself is escaped,
        so escaped and unescaped names never collide; the empty name is '_'."""
        cases = [
            ("br0", "br0"),
            ("br-int", "br_2dint"),
            ("eth0.100", "eth0_2e100"),
            ("a_b", "a_5fb"),
            ("_2d", "_5f2d"),
            ("", "_"),
            ("é", "_c3_a9"),
            ("a b/c:d", "a_20b_2fc_3ad"),
        ]
        for name, element in cases:
            self.assertEqual(escape_path_element(name), element, name)
            self.assertEqual(unescape_path_element(element), name, element)
        legacy = TreeView(LEGACY, MEMBERSHIP_SIGNALS)
        self.assertEqual(legacy.object_path("Interface", "eth0.100"), OBJECT_PATH + "/interface/eth0_2e100")
        self.assertEqual(legacy.object_path("Bridge", "br-int"), OBJECT_PATH + "/bridge/br_2dint")

    def test_paths_are_valid_and_distinct(self):
        """Every escaped element uses only [A-Za-z0-9_], and different names never share one."""
        names = ["x", "x-", "x_2d", "x.", "x_", "_", "", "-", "a-b", "a_2db", "\u2603", "\U0001f600"]
        elements = [escape_path_element(n) for n in names]
        self.assertEqual(len(set(elements)), len(names))
        for e in elements:
            self.assertRegex(e, r"^[A-Za-z0-9_]+$")
            self.assertEqual(unescape_path_element(e), names[elements.index(e)])

    def test_unescape_rejects_what_escape_cannot_produce(self):
        """Unescaping accepts only elements that escaping produces (its docstring promises
        ValueError otherwise), so a path maps back to at most one name."""
        accepted = {}
        for bad in ["_2", "_zz", "a_", "_+1", "_ 1", "_0A", "_41", "a-b", "\u00e9", "a\u00e9"]:
            try:
                accepted[bad] = unescape_path_element(bad)
            except ValueError:
                pass
        self.assertEqual(accepted, {}, "elements escape_path_element never produces were accepted")

    def test_signal_fields(self):
        """A signal has a name and a tuple of string arguments, as the root interface declares."""
        s = Signal("PortAdded", ("br0", "p1"))
        self.assertEqual((s.name, s.args), ("PortAdded", ("br0", "p1")))


# -- names and strings D-Bus cannot carry ------------------------------------------------------

#: Names an OVSDB peer may send that D-Bus cannot carry: dbus-daemon drops a connection that
#: sends a NUL, and a lone surrogate has no UTF-8 form.
UNCARRIABLE_NAMES = ["ev\0il", "\ud800x", "a\udfff", "\0"]
#: Names that look odd but D-Bus carries (checked against dbus-daemon 1.14 and GLib 2.74):
#: noncharacters, control characters, astral characters.
ODD_BUT_CARRIABLE_NAMES = ["nc\ufdd0", "\ufffe", "tab\there", "\x01", "max\U0010ffff", "\U0001f600"]


def encodes(delta):
    """Encode everything a delta makes the service send or answer, as ovsdbus.bus.service does; raise
    what the encoder raises."""
    for p, _, props in delta.added:
        dbuswire.signal(1, OBJECT_PATH, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", "oa{sv}",
                        [p, plain(props)])
    for p, _, diff in delta.changed:
        dbuswire.signal(1, p, "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
                        ["i.x", plain(diff), []])
    for p, _ in delta.removed:
        dbuswire.signal(1, OBJECT_PATH, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", "oas",
                        [p, ["i.x"]])
    for s in delta.signals:
        dbuswire.signal(1, OBJECT_PATH, "org.openvswitch.ovsdb", s.name, "s" * len(s.args), list(s.args))


class NamesDBusCannotCarryTests(_ViewTestCase):
    """A row whose name D-Bus cannot carry is kept out of the tree and the signals, with one
    warning; other strings D-Bus cannot carry are shown with U+FFFD in their place."""

    def setUp(self):
        super().setUp()
        self.warnings = []
        self.view.log = Logger(observer=self.warnings.append)

    def warned_rows(self):
        return sorted((e["table"], e["uuid"]) for e in self.warnings if e["log_level"] == LogLevel.warn)

    def test_bridge_with_nul_in_its_name_is_not_shown(self):
        """A bridge called "ev\\0il" (its local port and interface too) gives no object and no
        signal, while bridge br0 of the same update shows as usual; each hidden row is logged
        once, also when it changes later, and its deletion is silent too."""
        delta = self.start(bridge_rows("br0"), bridge_rows("ev\0il"))
        self.assertEqual([p for p, _, _ in delta.added],
                         [path("bridge", "br0"), path("port", "br0"), path("interface", "br0")])
        self.assertEqual(names_of(delta.signals), [
            ("BridgeAdded", "br0"), ("PortAdded", "br0", "br0"), ("InterfaceAdded", "br0", "br0")])
        self.assertEqual(self.warned_rows(), sorted([("Bridge", U("Bridge", "ev\0il")),
                                                     ("Port", U("Port", "ev\0il")),
                                                     ("Interface", U("Interface", "ev\0il"))]))
        encodes(delta)

        delta = self.apply({"Bridge": {U("Bridge", "ev\0il"): modify(external_ids=ovs_map({"k": "v"}))}})
        self.assertEqual(delta, ([], [], [], []))
        self.assertEqual(len(self.warned_rows()), 3, "a hidden row is logged once, not on every change")

        delta = self.apply({"Open_vSwitch": {ROOT: modify(bridges=uuids(U("Bridge", "ev\0il")))},
                            "Bridge": {U("Bridge", "ev\0il"): DELETE}, "Port": {U("Port", "ev\0il"): DELETE},
                            "Interface": {U("Interface", "ev\0il"): DELETE}})
        self.assertEqual(delta, ([], [], [], []))
        self.assertEqual(sorted(p for p, _ in self.view.managed_objects().items()),
                         sorted([path("bridge", "br0"), path("port", "br0"), path("interface", "br0")]))

    def test_port_with_a_lone_surrogate_in_its_name_is_not_shown(self):
        """A port called "\\ud800x" on br0 has no object and no PortAdded; br0's Ports leave it
        out; an interface with a good name on it shows with Port '/'; removing the port from the
        bridge gives no PortRemoved."""
        br = bridge_rows("br0", ["p1"])
        br["Port"][U("Port", "\ud800x")] = insert(name="\ud800x", interfaces=uuids(U("Interface", "i1")))
        br["Interface"][U("Interface", "i1")] = insert(name="i1")
        br["Bridge"][U("Bridge", "br0")]["insert"]["ports"] = uuids(U("Port", "br0"), U("Port", "p1"),
                                                                    U("Port", "\ud800x"))
        delta = self.start(br)
        self.assertNotIn(path("port", "\ud800x"), [p for p, _, _ in delta.added])
        self.assertEqual(self.props("Bridge", "br0")["Ports"], [path("port", "br0"), path("port", "p1")])
        self.assertEqual(self.props("Interface", "i1")["Port"], NO_OBJECT)
        self.assertEqual(sorted(names_of(delta.signals)), sorted([
            ("BridgeAdded", "br0"), ("PortAdded", "br0", "br0"), ("PortAdded", "br0", "p1"),
            ("InterfaceAdded", "br0", "br0"), ("InterfaceAdded", "p1", "p1")]))
        encodes(delta)

        delta = self.apply({"Bridge": {U("Bridge", "br0"): modify(ports=uuids(U("Port", "\ud800x")))},
                            "Port": {U("Port", "\ud800x"): DELETE}, "Interface": {U("Interface", "i1"): DELETE}})
        self.assertEqual(delta.signals, [])
        self.assertEqual(delta.removed, [(path("interface", "i1"), INTERFACE_INTERFACE)])
        encodes(delta)

    def test_names_dbus_carries_are_shown_as_they_are(self):
        """Noncharacters, control characters and astral characters are valid in D-Bus strings:
        of bridges so named and bridges named with NUL or lone surrogates, exactly the former
        show, by those very names."""
        delta = self.start(*[bridge_rows(n) for n in ODD_BUT_CARRIABLE_NAMES + UNCARRIABLE_NAMES])
        self.assertEqual(sorted(s.args[0] for s in delta.signals if s.name == "BridgeAdded"),
                         sorted(ODD_BUT_CARRIABLE_NAMES))
        for name in ODD_BUT_CARRIABLE_NAMES:
            self.assertEqual(self.props("Bridge", name)["Name"], name)
        self.assertEqual(len(self.warned_rows()), 3 * len(UNCARRIABLE_NAMES))
        encodes(delta)

    def test_other_strings_dbus_cannot_carry_are_replaced(self):
        """A NUL or lone surrogate in any other string (map keys and values, the interface's
        Error, a controller's target) shows as U+FFFD, and the object stays readable."""
        c1 = U("Controller", "1")
        br = bridge_rows("br0", ["p1"], external_ids=ovs_map({"k\0": "v\ud800"}), controller=uuids(c1))
        br["Interface"][U("Interface", "p1")]["insert"].update(
            error="bad\0thing", options=ovs_map({"peer": "x\udc80"}), statistics=ovs_map({"rx\0": 5}))
        br["Port"][U("Port", "p1")]["insert"].update(vlan_mode="trunk", external_ids=ovs_map({"\0": "\0"}))
        delta = self.start(merge(br, {"Controller": {c1: insert(target="tcp:\0")}}))
        encodes(delta)
        bridge = self.props("Bridge", "br0")
        self.assertEqual((bridge["ExternalIds"], bridge["Controllers"]), ({"k\ufffd": "v\ufffd"}, ["tcp:\ufffd"]))
        interface = self.props("Interface", "p1")
        self.assertEqual((interface["Error"], interface["Options"], interface["Statistics"]),
                         ("bad\ufffdthing", {"peer": "x\ufffd"}, {"rx\ufffd": 5}))
        self.assertEqual(self.props("Port", "p1")["ExternalIds"], {"\ufffd": "\ufffd"})
        self.assertEqual(self.warnings, [])

        delta = self.apply({"Interface": {U("Interface", "p1"): modify(error="worse\ud800")}})
        self.assertEqual(plain(delta.changed[0][2]), {"Error": ("s", "worse\ufffd")})

    def test_shown_names(self):
        """ListBridges and ListBridgePorts leave out the names D-Bus cannot carry (the same list
        comes back when there is none, at no cost)."""
        names = ["a", "br0"] + ODD_BUT_CARRIABLE_NAMES
        self.assertIs(shown_names(names), names)
        self.assertEqual(shown_names(sorted(names + UNCARRIABLE_NAMES)), sorted(names))
        self.assertEqual(shown_names([]), [])


@st.composite
def name_trees(draw):
    """Bridges with ports, named from an alphabet of characters D-Bus carries and ones it cannot."""
    name = st.text(st.sampled_from(["a", "-", "\0", "\ud800", "\udfff", "\ufdd0", "\xe9", "\U0010ffff"]),
                   min_size=1, max_size=4)
    bridges = draw(st.lists(name, min_size=1, max_size=3, unique=True))
    ports = draw(st.lists(name, max_size=4, unique=True))
    strings = draw(st.lists(name, min_size=2, max_size=2))
    return bridges, [p for p in ports if p not in bridges], strings


class AnyNameTests(_ViewTestCase):
    """Whatever names and strings OVSDB holds, everything the view says can be sent on D-Bus."""

    @settings(max_examples=60, deadline=None, database=None)
    @given(name_trees())
    def test_every_delta_encodes(self, tree):
        """Bridges and ports of any names, with any strings in a map and the interface Error,
        added and then deleted: every object, property change and signal encodes, and every
        shown name is the row's own name."""
        self.setUp()
        bridges, ports, (key, value) = tree
        rows = [bridge_rows(b, ports if i == 0 else (), external_ids=ovs_map({key: value}))
                for i, b in enumerate(bridges)]
        for b in rows:
            for r in b["Interface"].values():
                r["insert"]["error"] = value
        delta = self.start(*rows)
        encodes(delta)
        shown = {props["Name"][1] for _, _, props in delta.added}
        self.assertEqual(shown, {n for n in bridges + ports if can_carry(n)})
        root = {"Open_vSwitch": {ROOT: modify(bridges=uuids(*[U("Bridge", b) for b in bridges]))}}
        gone = {t: {U(t, n): DELETE for n in bridges + ports} for t in ("Port", "Interface")}
        gone["Bridge"] = {U("Bridge", b): DELETE for b in bridges}
        delta = self.apply(merge(root, gone))
        encodes(delta)
        self.assertEqual(self.view.objects, {})


class CacheBoundTests(TestCase):
    """The cache of object paths is bounded in bytes, whatever names come and go."""

    def test_many_fresh_names_stay_within_the_bound(self):
        """Paths of 200 000 fresh names (the ports of a busy host over time) keep the cache
        within its byte bound, and a path it dropped is computed again, the same."""
        first = element_path("port", "fresh-%07d" % 0)
        for i in range(200000):
            element_path("port", "fresh-%07d" % i)
            self.assertLessEqual(view._paths.size, view._paths.max_bytes)
        self.assertLess(len(view._paths), 200000)
        self.assertEqual(element_path("port", "fresh-%07d" % 0), first)

    def test_long_name_is_not_kept(self):
        """The path of a 2 MB name is not kept once it is made."""
        name = "x" * (2 << 20)
        p = element_path("port", name)
        self.assertEqual(p, OBJECT_PATH + "/port/" + "x" * (2 << 20))
        self.assertIsNone(view.PATH_CACHE.get(("port", name)))
        self.assertEqual(len([k for k in view.PATH_CACHE.young if k[1] is name]), 0)
