"""The older Bridge, Port and Interface interfaces as data: which column each property shows.

The published contract of those interfaces is in two parts: :data:`~ovsdbus.api.BRIDGE_SPEC`,
:data:`~ovsdbus.api.PORT_SPEC` and :data:`~ovsdbus.api.INTERFACE_SPEC` say what a caller sees
(names, signatures, documentation); this module says where each value comes from in the
Open_vSwitch database (:data:`LEGACY`) and which root signals (BridgeAdded, PortAdded, ...) a
change of membership gives (:data:`MEMBERSHIP_SIGNALS`).  Nothing here runs: the generic
:class:`ovsdbus.projection.view.TreeView` interprets these declarations, and the wiring
(:mod:`ovsdbus.app`) hands them to it only for the Open_vSwitch database.

Each property is one derivation from the rows:

==============================  =====================================================================
``NAME``                        the row's name
``TEXT (column, unset)``        a string column, ``unset`` for an empty optional one; shown carriable
``INTEGER (column, unset)``     an integer column, ``unset`` for an empty optional one
``SORTED (column,)``            a set, as a sorted array
``TEXT_MAP (column,)``          a string map, keys and values shown carriable
``COUNTER_MAP (column,)``       a string -> integer map, keys shown carriable
``PATHS (column, table, lazy)`` a set of references, as the paths of the rows sorted by name
                                (``lazy``: computed when read and announced as invalidated)
``OWNER (table, column)``       the path of the row of ``table`` whose ``column`` holds this row
``JOINED (column, table, c)``   the ``c`` of each row the references in ``column`` name, sorted
==============================  =====================================================================
"""

from typing import NamedTuple

from ovsdbus.api import BRIDGE_SPEC, INTERFACE_SPEC, PORT_SPEC

NAME, TEXT, INTEGER, SORTED, TEXT_MAP, COUNTER_MAP, PATHS, OWNER, JOINED = (
    "name", "text", "integer", "sorted", "text_map", "counter_map", "paths", "owner", "joined")

#: Every derivation kind (see the module's documentation).
DERIVATIONS = frozenset((NAME, TEXT, INTEGER, SORTED, TEXT_MAP, COUNTER_MAP, PATHS, OWNER, JOINED))

BRIDGE_INTERFACE = BRIDGE_SPEC.name
PORT_INTERFACE = PORT_SPEC.name
INTERFACE_INTERFACE = INTERFACE_SPEC.name


class Derived(NamedTuple):
    """A property of an older interface: its name, signature and derivation (see above)."""

    name: str
    signature: str
    kind: str
    args: tuple = ()


class Kind(NamedTuple):
    """The objects of one table: the path element, the interface and its properties."""

    element: str
    interface: str
    properties: tuple


#: Table -> :class:`Kind`, in the order objects of a batch are added.
LEGACY = {
    "Bridge": Kind("bridge", BRIDGE_INTERFACE, (
        Derived("Name", "s", NAME),
        Derived("Ports", "ao", PATHS, ("ports", "Port", True)),
        Derived("FailMode", "s", TEXT, ("fail_mode", "")),
        Derived("DatapathType", "s", TEXT, ("datapath_type", "")),
        Derived("Controllers", "as", JOINED, ("controller", "Controller", "target")),
        Derived("Protocols", "as", SORTED, ("protocols",)),
        Derived("Mirrors", "as", JOINED, ("mirrors", "Mirror", "name")),
        Derived("ExternalIds", "a{ss}", TEXT_MAP, ("external_ids",)),
        Derived("OtherConfig", "a{ss}", TEXT_MAP, ("other_config",)),
    )),
    "Port": Kind("port", PORT_INTERFACE, (
        Derived("Name", "s", NAME),
        Derived("Bridge", "o", OWNER, ("Bridge", "ports")),
        Derived("Interfaces", "ao", PATHS, ("interfaces", "Interface", False)),
        Derived("Tag", "x", INTEGER, ("tag", -1)),
        Derived("Trunks", "ax", SORTED, ("trunks",)),
        Derived("VlanMode", "s", TEXT, ("vlan_mode", "")),
        Derived("BondMode", "s", TEXT, ("bond_mode", "")),
        Derived("Lacp", "s", TEXT, ("lacp", "")),
        Derived("ExternalIds", "a{ss}", TEXT_MAP, ("external_ids",)),
    )),
    "Interface": Kind("interface", INTERFACE_INTERFACE, (
        Derived("Name", "s", NAME),
        Derived("Port", "o", OWNER, ("Port", "interfaces")),
        Derived("Type", "s", TEXT, ("type", "")),
        Derived("Options", "a{ss}", TEXT_MAP, ("options",)),
        Derived("OfPort", "x", INTEGER, ("ofport", 0)),
        Derived("OfPortRequest", "x", INTEGER, ("ofport_request", -1)),
        Derived("MTU", "x", INTEGER, ("mtu", 0)),
        Derived("MTURequest", "x", INTEGER, ("mtu_request", -1)),
        Derived("MacInUse", "s", TEXT, ("mac_in_use", "")),
        Derived("AdminState", "s", TEXT, ("admin_state", "")),
        Derived("LinkState", "s", TEXT, ("link_state", "")),
        Derived("Error", "s", TEXT, ("error", "")),
        Derived("Statistics", "a{sx}", COUNTER_MAP, ("statistics",)),
        Derived("ExternalIds", "a{ss}", TEXT_MAP, ("external_ids",)),
    )),
}

#: The root signals: ``(table, column, added, removed)``: a row inserted into or deleted from
#: ``table`` (``column`` None, signal argument its name), or a row put into or taken out of the
#: set of references ``column`` (arguments: the owner's name, the member's name).  Removals are
#: sent innermost first, additions outermost first, each sorted.
MEMBERSHIP_SIGNALS = (
    ("Bridge", None, "BridgeAdded", "BridgeRemoved"),
    ("Bridge", "ports", "PortAdded", "PortRemoved"),
    ("Port", "interfaces", "InterfaceAdded", "InterfaceRemoved"),
)

#: The interfaces :data:`LEGACY` declares, ``{interface name: InterfaceSpec}``, as
#: :class:`ovsdbus.projection.tree.Objects` wants them.
SPECS = {BRIDGE_INTERFACE: BRIDGE_SPEC, PORT_INTERFACE: PORT_SPEC, INTERFACE_INTERFACE: INTERFACE_SPEC}

#: Object kinds: table name -> (path element, D-Bus interface).
KINDS = {table: (kind.element, kind.interface) for table, kind in LEGACY.items()}
