"""The D-Bus API of ovsdbus, described as data.

Names, signatures, argument names and documentation of every interface live
here, once.  The D-Bus adapter (:mod:`ovsdbus.bus.service`) builds its exported
interfaces from these descriptions, and :func:`introspection_xml` renders them as
introspection XML (with argument names and ``org.gtk.GDBus.DocString``
annotations) for the running service and for the files shipped in
``/usr/share/dbus-1/interfaces``.
"""

import argparse
import functools
import os
from typing import NamedTuple
from xml.sax.saxutils import quoteattr

BUS_NAME = "org.openvswitch.ovsdb"
OBJECT_PATH = "/org/openvswitch/ovsdb"
INTERFACE = "org.openvswitch.ovsdb"

DOC_ANNOTATION = "org.gtk.GDBus.DocString"


class Arg(NamedTuple):
    """A named argument: ``name`` in lowercase_with_underscores, D-Bus ``signature``."""

    name: str
    signature: str


class MethodSpec(NamedTuple):
    """A method: its inputs, outputs and what it does.

    ``mutating`` methods change the switch and are authorized first (see
    :mod:`ovsdbus.bus.authorization`); ``batch_options`` are the per-command options it
    takes inside ``Transact`` besides its arguments (``id``, ``if_exists``, ``may_exist``);
    ``batchable`` is false for the methods ``Transact`` does not take as a command;
    ``options`` are the keys (:class:`Arg`) its ``a{sv} options`` argument takes; ``action`` is
    the polkit action a mutating method needs.
    """

    name: str
    inputs: tuple
    outputs: tuple
    doc: str
    mutating: bool = False
    batch_options: tuple = ()
    batchable: bool = True
    options: tuple = ()
    action: str = ""

    @property
    def in_signature(self):
        """The D-Bus signature of all inputs together."""
        return "".join(a.signature for a in self.inputs)

    @property
    def out_signature(self):
        """The D-Bus signature of all outputs together."""
        return "".join(a.signature for a in self.outputs)


class SignalSpec(NamedTuple):
    """A signal and its arguments."""

    name: str
    args: tuple
    doc: str

    @property
    def signature(self):
        """The D-Bus signature of the signal's body."""
        return "".join(a.signature for a in self.args)


class PropertySpec(NamedTuple):
    """A read-only property; ``emits_changed`` is ``true`` (PropertiesChanged carries the new
    value) or ``invalidates`` (PropertiesChanged names it; read it to get the value)."""

    name: str
    signature: str
    doc: str
    emits_changed: str = "true"


class InterfaceSpec(NamedTuple):
    """An interface: methods, signals, properties."""

    name: str
    doc: str
    methods: tuple = ()
    signals: tuple = ()
    properties: tuple = ()


#: The polkit action of the mutating methods.
MODIFY_ACTION = "org.openvswitch.ovsdb.modify"

#: The polkit action of the methods that open the switch to remote control (controllers, managers, SSL).
MODIFY_REMOTE_ACTION = "org.openvswitch.ovsdb.modify-remote"


def method(name, inputs, outputs, doc, mutating=False, batch_options=(), batchable=True, options=(), action=None):
    """A :class:`MethodSpec` from ``(name, signature)`` pairs (``options`` too)."""
    if action is None:
        action = MODIFY_ACTION if mutating else ""
    return MethodSpec(name, tuple(Arg(*a) for a in inputs), tuple(Arg(*a) for a in outputs), doc,
                      mutating, tuple(batch_options), batchable, tuple(Arg(*a) for a in options), action)


def signal(name, args, doc):
    """A :class:`SignalSpec` from ``(name, signature)`` pairs."""
    return SignalSpec(name, tuple(Arg(*a) for a in args), doc)


ERRORS_DOC = (
    "Errors: org.openvswitch.ovsdb.Error.{AlreadyExists, NotFound, Ambiguous, ConstraintViolation, "
    "ReferentialIntegrity, ResourcesExhausted, NotSupported, Timeout, Disconnected, TransactionFailed, ProtocolError, "
    "ApplyFailed, NotApplied, SwitchUnavailable, Failed}, "
    "org.freedesktop.DBus.Error.InvalidArgs, org.freedesktop.DBus.Error.AccessDenied."
)

# -- the configuration verbs (typed shortcuts over Transact) ------------------------------------

#: Options every configuration verb's OPTIONS takes: how long to wait, for what.
WAIT_OPTIONS = (("wait", "s"), ("apply_timeout", "d"))

_OPTIONS_DOC = (
    "OPTIONS is a dict of typed values; an unknown key or a value of the wrong type is InvalidArgs and changes "
    "nothing. Map options (other_config, external_ids, options) are merged key by key; a key given the value '' "
    "is deleted. Every OPTIONS also takes 'wait' (s): 'commit' (the default: return once committed) or "
    "'applied' (also wait until ovs-vswitchd has applied it, then check each interface the call created or "
    "changed: ApplyFailed lists those that got an error or no OpenFlow port, the change staying committed; "
    "NotApplied if ovs-vswitchd did not take it within 'apply_timeout' (d, seconds, default 10), the change "
    "staying committed too)."
)
_MAY_EXIST_DOC = (
    "With 'may_exist' (b) in OPTIONS, an existing object is accepted when it matches every setting asked for "
    "(AlreadyExists saying what differs otherwise)."
)
_ATOMIC = "One OVSDB transaction: all of it or nothing."
_BRIDGE_OPTIONS = (("datapath_type", "s"), ("fail_mode", "s"), ("protocols", "as"), ("stp_enable", "b"),
                   ("rstp_enable", "b"), ("mcast_snooping_enable", "b"), ("other_config", "a{ss}"),
                   ("external_ids", "a{ss}"))
_BOND_OPTIONS = (("bond_mode", "s"), ("lacp", "s"), ("bond_updelay", "x"), ("bond_downdelay", "x"),
                 ("other_config", "a{ss}"), ("external_ids", "a{ss}"))
_PORT_OPTIONS = (("tag", "x"), ("trunks", "ax"), ("vlan_mode", "s")) + _BOND_OPTIONS
_INTERFACE_OPTIONS = (("type", "s"), ("options", "a{ss}"), ("mtu_request", "x"), ("ofport_request", "x"),
                      ("other_config", "a{ss}"), ("external_ids", "a{ss}"))
_TUNNEL_OPTIONS = (("key", "v"), ("dst_port", "x"), ("local_ip", "s"), ("ttl", "v"), ("tos", "v"), ("csum", "b"),
                   ("df_default", "b"), ("options", "a{ss}"), ("ofport_request", "x"), ("other_config", "a{ss}"),
                   ("external_ids", "a{ss}"), ("may_exist", "b"))
_MIRROR_OPTIONS = (("select_all", "b"), ("select_src_port", "as"), ("select_dst_port", "as"),
                   ("select_vlan", "ax"), ("output_port", "s"), ("output_vlan", "x"), ("external_ids", "a{ss}"),
                   ("may_exist", "b"))
_CONTROLLER_OPTIONS = (("inactivity_probe", "x"), ("max_backoff", "x"), ("connection_mode", "s"))
_REMOTE = ("It opens the switch to remote control, so it needs the polkit action "
           "org.openvswitch.ovsdb.modify-remote.")

CONFIG_METHODS = (
    method("SetBridgeOptions", [("bridge", "s"), ("options", "a{sv}")], [],
           "Set settings of BRIDGE: datapath_type (s), fail_mode (s: standalone, secure, '' to unset), protocols "
           "(as: OpenFlow10 ... OpenFlow15), stp_enable, rstp_enable, mcast_snooping_enable (b), other_config, "
           "external_ids (a{ss}). " + _OPTIONS_DOC + " " + _ATOMIC,
           mutating=True, options=_BRIDGE_OPTIONS + WAIT_OPTIONS),
    method("SetPortOptions", [("port", "s"), ("options", "a{sv}")], [],
           "Set settings of PORT: tag (x: 0-4095, -1 to unset), trunks (ax), vlan_mode (s, '' to unset), "
           "bond_mode (s: active-backup, balance-slb, balance-tcp), lacp (s: active, passive, off), "
           "bond_updelay, bond_downdelay (x, ms), other_config, external_ids (a{ss}). " + _OPTIONS_DOC + " "
           + _ATOMIC,
           mutating=True, options=_PORT_OPTIONS + WAIT_OPTIONS),
    method("SetInterfaceOptions", [("interface", "s"), ("options", "a{sv}")], [],
           "Set settings of INTERFACE: type (s), options (a{ss}), mtu_request (x, -1 to unset), ofport_request "
           "(x: 1-65279, -1 to unset), other_config, external_ids (a{ss}). " + _OPTIONS_DOC + " " + _ATOMIC,
           mutating=True, options=_INTERFACE_OPTIONS + WAIT_OPTIONS),
    method("SetPortVlan", [("port", "s"), ("mode", "s"), ("tag", "x"), ("trunks", "ax")], [],
           "Set PORT's VLAN settings at once: MODE access (TAG required, no TRUNKS), trunk (no TAG; TRUNKS empty "
           "means all VLANs), native-tagged or native-untagged (TAG is the native VLAN), dot1q-tunnel (TAG is the "
           "outer VLAN), or '' (unset: access when TAG is set, else trunk); TAG 0-4095 or -1 for none. "
           "InvalidArgs for a combination that means nothing. " + _ATOMIC,
           mutating=True),
    method("AddBond", [("bridge", "s"), ("port", "s"), ("interfaces", "as"), ("options", "a{sv}")], [],
           "Add bond PORT to BRIDGE with an interface for each of INTERFACES (at least two), like 'ovs-vsctl "
           "add-bond'. OPTIONS: bond_mode (s), lacp (s: active, passive, off), bond_updelay, bond_downdelay (x, "
           "ms), other_config (a{ss}: e.g. lacp-time fast, bond-rebalance-interval), external_ids, "
           "interface_type (s: the type of the new interfaces, e.g. 'dummy'; default a system device). "
           + _MAY_EXIST_DOC + " " + _OPTIONS_DOC + " " + _ATOMIC,
           mutating=True, batch_options=("may_exist", "id"),
           options=_BOND_OPTIONS + (("interface_type", "s"), ("may_exist", "b")) + WAIT_OPTIONS),
    method("AddBondInterface", [("port", "s"), ("interface", "s")], [],
           "Add a new interface INTERFACE to bond (or port) PORT, like 'ovs-vsctl add-bond-iface'. " + _ATOMIC,
           mutating=True, batch_options=("may_exist",)),
    method("DeleteBondInterface", [("port", "s"), ("interface", "s")], [],
           "Remove INTERFACE from bond PORT and delete it, like 'ovs-vsctl del-bond-iface'. A bond keeps at least "
           "two interfaces: leaving it one is ConstraintViolation (delete the port with DeletePort instead, or add "
           "an interface first). " + _ATOMIC,
           mutating=True, batch_options=("if_exists",)),
    method("AddTunnel", [("bridge", "s"), ("port", "s"), ("type", "s"), ("remote_ip", "s"), ("options", "a{sv}")],
           [],
           "Add tunnel port PORT to BRIDGE: an interface of TYPE (vxlan, geneve, gre, ip6gre, erspan, ip6erspan, "
           "stt, gtpu, bareudp) to REMOTE_IP (an address, or 'flow'). OPTIONS: key (x, or s: 'flow'), "
           "dst_port (x), local_ip (s), ttl, tos (x, or s: 'inherit'), csum, df_default (b), options (a{ss}: "
           "any other tunnel option), "
           "ofport_request (x), other_config, external_ids (a{ss}). " + _MAY_EXIST_DOC + " " + _OPTIONS_DOC + " "
           + _ATOMIC,
           mutating=True, batch_options=("may_exist", "id"), options=_TUNNEL_OPTIONS + WAIT_OPTIONS),
    method("AddPatch", [("bridge_a", "s"), ("port_a", "s"), ("bridge_b", "s"), ("port_b", "s")], [],
           "Connect BRIDGE_A and BRIDGE_B with a pair of patch ports, PORT_A on BRIDGE_A and PORT_B on BRIDGE_B, "
           "each the other's peer. " + _ATOMIC,
           mutating=True, batch_options=("may_exist",)),
    method("SetQoS", [("port", "s"), ("type", "s"), ("other_config", "a{ss}"), ("queues", "a{ua{ss}}")], [],
           "Give PORT a QoS of TYPE (linux-htb, linux-hfsc, egress-policer, ...) with OTHER_CONFIG (e.g. "
           "max-rate) and QUEUES (queue number -> the queue's other_config, e.g. min-rate, max-rate), replacing "
           "the port's QoS; rows it no longer uses and nothing else uses are deleted. " + _ATOMIC,
           mutating=True),
    method("ClearQoS", [("port", "s")], [],
           "Remove PORT's QoS, and delete the QoS and Queue rows nothing else uses (ovs-vsctl leaves them "
           "behind). " + _ATOMIC,
           mutating=True),
    method("AddMirror", [("bridge", "s"), ("name", "s"), ("options", "a{sv}")], [],
           "Add mirror NAME to BRIDGE: select_all (b), select_src_port, select_dst_port (as: port names), "
           "select_vlan (ax), and one output: output_port (s: a port name) or output_vlan (x). "
           + _MAY_EXIST_DOC + " " + _OPTIONS_DOC + " " + _ATOMIC,
           mutating=True, batch_options=("may_exist", "id"), options=_MIRROR_OPTIONS + WAIT_OPTIONS),
    method("DeleteMirror", [("bridge", "s"), ("name", "s")], [],
           "Delete mirror NAME of BRIDGE. " + _ATOMIC, mutating=True, batch_options=("if_exists",)),
    method("SetControllers", [("bridge", "s"), ("targets", "as"), ("options", "a{sv}")], [],
           "Make TARGETS (tcp:IP:PORT, ssl:IP:PORT, unix:PATH, ptcp:..., punix:...) BRIDGE's OpenFlow controllers, "
           "like 'ovs-vsctl set-controller', with inactivity_probe, max_backoff (x, ms) and connection_mode (s: "
           "in-band, out-of-band) for each. " + _REMOTE + " " + _OPTIONS_DOC + " " + _ATOMIC,
           mutating=True, options=_CONTROLLER_OPTIONS + WAIT_OPTIONS, action=MODIFY_REMOTE_ACTION),
    method("DeleteControllers", [("bridge", "s")], [],
           "Remove BRIDGE's controllers, like 'ovs-vsctl del-controller'. " + _REMOTE + " " + _ATOMIC,
           mutating=True, action=MODIFY_REMOTE_ACTION),
    method("SetFailMode", [("bridge", "s"), ("mode", "s")], [],
           "Set BRIDGE's fail mode: standalone, secure, or '' to unset, like 'ovs-vsctl set-fail-mode'. " + _ATOMIC,
           mutating=True),
    method("SetManagers", [("targets", "as")], [],
           "Make TARGETS the OVSDB managers (ovsdb-server's remotes in the database), like 'ovs-vsctl "
           "set-manager'. " + _REMOTE + " " + _ATOMIC,
           mutating=True, action=MODIFY_REMOTE_ACTION),
    method("DeleteManagers", [], [],
           "Remove every manager, like 'ovs-vsctl del-manager'. " + _REMOTE + " " + _ATOMIC,
           mutating=True, action=MODIFY_REMOTE_ACTION),
    method("SetSSL", [("private_key", "s"), ("certificate", "s"), ("ca_cert", "s"), ("bootstrap", "b")], [],
           "Set the SSL files ovs-vswitchd uses for ssl: controllers and managers (paths), like 'ovs-vsctl "
           "set-ssl' (BOOTSTRAP: take the CA certificate from the peer on first contact). " + _REMOTE + " "
           + _ATOMIC,
           mutating=True, action=MODIFY_REMOTE_ACTION),
    method("DeleteSSL", [], [],
           "Remove the SSL configuration, like 'ovs-vsctl del-ssl'. " + _REMOTE + " " + _ATOMIC,
           mutating=True, action=MODIFY_REMOTE_ACTION),
    method("PortToBridge", [("port", "s")], [("bridge", "s")],
           "The bridge PORT belongs to, like 'ovs-vsctl port-to-br'. NotFound if there is no such port."),
    method("InterfaceToBridge", [("interface", "s")], [("bridge", "s")],
           "The bridge INTERFACE belongs to, like 'ovs-vsctl iface-to-br'. NotFound if there is no such "
           "interface."),
    method("ListInterfaces", [("bridge", "s")], [("interfaces", "as")],
           "The names of the interfaces of BRIDGE's ports, sorted, without the bridge's local interface, like "
           "'ovs-vsctl list-ifaces'. NotFound if BRIDGE does not exist."),
)

ROOT_SPEC = InterfaceSpec(
    INTERFACE,
    "Open vSwitch's database (OVSDB) on D-Bus. Reads are answered from a live replica of the database; "
    "writes are single atomic OVSDB transactions that fail, changing nothing, if another writer changed "
    "what they relied on. " + ERRORS_DOC,
    methods=(
        method("CreateBridge", [("name", "s")], [],
           "Create bridge NAME with its local port and internal interface of the same name, like "
           "'ovs-vsctl add-br'. AlreadyExists if any bridge, port or interface is called NAME.",
           mutating=True, batch_options=("may_exist", "id")),
        method("DeleteBridge", [("name", "s")], [],
           "Delete bridge NAME with all its ports and interfaces, like 'ovs-vsctl del-br'. "
           "NotFound if there is no such bridge.",
           mutating=True, batch_options=("if_exists",)),
        method("AddPort", [("bridge", "s"), ("port", "s")], [],
           "Add port PORT, with an interface of the same name, to BRIDGE, like 'ovs-vsctl add-port'. "
           "NotFound if BRIDGE does not exist; AlreadyExists if any bridge, port or interface is called PORT.",
           mutating=True, batch_options=("may_exist", "id")),
        method("DeletePort", [("bridge", "s"), ("port", "s")], [],
           "Remove PORT and its interfaces from BRIDGE, like 'ovs-vsctl del-port'. "
           "NotFound if BRIDGE does not exist or has no port PORT.",
           mutating=True, batch_options=("if_exists",)),
        method("BridgeExists", [("name", "s")], [("exists", "b")],
           "Whether bridge NAME exists, like 'ovs-vsctl br-exists'."),
        method("ListBridges", [], [("bridges", "as")],
           "The names of all bridges, sorted, like 'ovs-vsctl list-br'."),
        method("ListBridgePorts", [("bridge", "s")], [("ports", "as")],
           "The names of BRIDGE's ports, sorted, without the bridge's local port, like "
           "'ovs-vsctl list-ports'. NotFound if BRIDGE does not exist."),
        *CONFIG_METHODS,
    ),
    signals=(
        signal("BridgeAdded", [("name", "s")], "Bridge NAME was created (by anyone)."),
        signal("BridgeRemoved", [("name", "s")], "Bridge NAME was deleted (by anyone)."),
        signal("PortAdded", [("bridge", "s"), ("port", "s")],
           "PORT became a port of BRIDGE (a new bridge's local port included)."),
        signal("PortRemoved", [("bridge", "s"), ("port", "s")], "PORT stopped being a port of BRIDGE."),
        signal("InterfaceAdded", [("port", "s"), ("interface", "s")], "INTERFACE became an interface of PORT."),
        signal("InterfaceRemoved", [("port", "s"), ("interface", "s")],
           "INTERFACE stopped being an interface of PORT."),
    ),
    properties=(
        PropertySpec("Connected", "b",
                     "Whether ovsdbus is connected to ovsdb-server with its replica in step; while false, "
                     "every method of this interface answers Disconnected and the objects show the last "
                     "state known."),
        PropertySpec("ClusterMember", "s",
                     "The remote (as given to --ovsdb) of the ovsdb-server ovsdbus is synced with, or '' while "
                     "Connected is false. With a cluster, it changes when ovsdbus moves to another member."),
        PropertySpec("Leader", "b",
                     "Whether that server commits writes itself: the leader of a clustered database, or a "
                     "standalone server (false while Connected is false, and while on a follower with "
                     "--leader-only no)."),
    ),
)

DATABASE_INTERFACE = "org.openvswitch.ovsdb.Database"

_RECORD = ("RECORD names a row the way ovs-vsctl does: by the table's 'name' column where it has one, by "
           "ovs-vsctl's other record ids (Controller, NetFlow, sFlow, IPFIX by bridge; QoS by port; Manager by "
           "target; Flow_Sample_Collector_Set by id; the single row of a one-row table by '.'), by its uuid "
           "(or a unique prefix of 4 or more of its characters), or by its object path; NotFound if none "
           "matches, Ambiguous if several do.")
_COLUMNS = "COLUMNS are column names, or 'column:key' for one key of a map column; empty means every column."
_TYPES = ("Values are typed by the column: integer x, real d, boolean b, string s, a reference to a row o "
          "(its object path; a uuid string or '@name' is accepted too), other uuids s; a set a<T>; a map a{KV}; "
          "an optional value an array of 0 or 1 elements. Any integer type is accepted and range-checked; a "
          "value of the wrong type or outside the column's constraints is InvalidArgs naming the table, "
          "column and expected signature, and nothing is sent to ovsdb-server.")
_CONDITIONS = ("CONDITIONS are (column, operator, value) with ovs-vsctl find's operators = != < > <= >= "
               "{=} {!=} {<} {>} {<=} {>=}; column may be 'column:key'.")
_WRITE = ("One OVSDB transaction, conditional on what it read and retried on conflict; nothing changes "
          "when it fails.")
_ROWS = "Each row also has '_uuid' (s) and, where the row is an object, '_path' (o)."

DATABASE_SPEC = InterfaceSpec(
    DATABASE_INTERFACE,
    "Every table of the database, typed by its schema, in the manner of ovs-vsctl's database commands "
    "(get, set, add, remove, clear, list, find, create, destroy, wait-until), plus Transact for several "
    "commands in one atomic transaction. " + _TYPES + " " + ERRORS_DOC,
    methods=(
        method("Get", [("table", "s"), ("record", "s"), ("columns", "as")], [("values", "a{sv}")],
               "The COLUMNS of RECORD in TABLE, from the replica, like 'ovs-vsctl get'. " + _RECORD + " "
               + _COLUMNS + " A 'column:key' whose key is absent is NotFound. " + _ROWS,
               batch_options=("if_exists",)),
        method("List", [("table", "s"), ("columns", "as")], [("rows", "aa{sv}")],
               "Every row of TABLE, from the replica, like 'ovs-vsctl list'. " + _COLUMNS + " " + _ROWS),
        method("Find", [("table", "s"), ("conditions", "a(ssv)"), ("columns", "as")], [("rows", "aa{sv}")],
               "The rows of TABLE that match all CONDITIONS, from the replica, like 'ovs-vsctl find'. "
               + _CONDITIONS + " " + _COLUMNS + " " + _ROWS),
        method("Set", [("table", "s"), ("record", "s"), ("values", "a{sv}")], [],
               "Replace columns of RECORD in TABLE, like 'ovs-vsctl set'. VALUES maps column names to their "
               "new values; 'column:key' sets one key of a map (a mutation: other keys are left alone, even "
               "those another writer just added). " + _WRITE,
               mutating=True, batch_options=("if_exists",)),
        method("Add", [("table", "s"), ("record", "s"), ("column", "s"), ("values", "v")], [],
               "Insert VALUES (a set's elements, or a map's key-value pairs) into COLUMN of RECORD, like "
               "'ovs-vsctl add'; a map key already present keeps its value. " + _WRITE,
               mutating=True, batch_options=("if_exists",)),
        method("Remove", [("table", "s"), ("record", "s"), ("column", "s"), ("values", "v")], [],
               "Delete VALUES from COLUMN of RECORD, like 'ovs-vsctl remove': a set's elements; from a map, "
               "keys (an array) or key-value pairs (a dict, removed only where the value matches). " + _WRITE,
               mutating=True, batch_options=("if_exists",)),
        method("Clear", [("table", "s"), ("record", "s"), ("columns", "as")], [],
               "Empty the set and map COLUMNS of RECORD, like 'ovs-vsctl clear'. " + _WRITE,
               mutating=True, batch_options=("if_exists",)),
        method("Create", [("table", "s"), ("values", "a{sv}")], [("uuid", "s")],
               "Insert a row into TABLE with VALUES (other columns take their defaults), like 'ovs-vsctl "
               "create'; returns its uuid. Only for root tables: a row of another table is collected by OVSDB "
               "unless something refers to it, so create those inside Transact with an id and refer to it. "
               + _WRITE,
               mutating=True, batch_options=("id",)),
        method("Destroy", [("table", "s"), ("records", "as")], [],
               "Delete the RECORDS of TABLE, like 'ovs-vsctl destroy', removing the references to them that "
               "ovs-vsctl removes, or failing with ReferentialIntegrity naming the row that still refers to "
               "one. " + _WRITE,
               mutating=True, batch_options=("if_exists",)),
        method("WaitUntil", [("table", "s"), ("record", "s"), ("conditions", "a(ssv)"), ("timeout", "d")], [],
               "Return once the replica shows RECORD of TABLE existing and matching all CONDITIONS, like "
               "'ovs-vsctl wait-until'; Timeout after TIMEOUT seconds (a number above 0). Other calls are "
               "served meanwhile. " + _CONDITIONS),
        method("Transact", [("commands", "a(sa{sv})"), ("options", "a{sv}")], [("results", "aa{sv}")],
               "Run COMMANDS in one OVSDB transaction, all or nothing, like ovs-vsctl commands chained with "
               "'--' (at most 10000 commands). A command is (verb, args): verb is a method of this interface or of "
               "org.openvswitch.ovsdb (not Transact, GetSchema); args holds its arguments by their names "
               "here (table, record, columns, values, column, conditions, records, name, bridge, port, ...), "
               "plus 'id' ('@name') on Create, CreateBridge, AddPort, AddBond, AddTunnel and AddMirror to name "
               "the row they create, 'if_exists' (b) on Get, Set, Add, Remove, Clear, Destroy, DeleteBridge, "
               "DeletePort, DeleteBondInterface and DeleteMirror, and 'may_exist' (b) on CreateBridge, AddPort, "
               "AddBond, AddBondInterface, AddTunnel, AddPatch and AddMirror. Any uuid value of a later command, "
               "and any record, may be '@name'. Later commands see what earlier "
               "ones did. OPTIONS: 'dry_run' (b: check everything, change nothing), 'comment' (s: logged by "
               "ovsdb-server), 'timeout' (d: seconds), 'wait' (s: 'commit' or 'applied', as in the "
               "configuration methods' OPTIONS; a command's own OPTIONS may say it too) and 'apply_timeout' (d). "
               "RESULTS has one dict per command: 'uuid' (s) and "
               "'path' (o) of what it created, 'rows' (aa{sv}) of what it read, 'changed' (b), and the "
               "method's own output by name. On failure nothing changes, and the error (named as its cause) "
               "says which command: 'command 3 (Set Port p1): constraint violation: ...'.",
               mutating=True, batchable=False),
        method("GetSchema", [], [("schema", "s")],
               "The database schema as ovsdb-server serves it (JSON).", batchable=False),
    ),
)

#: Most commands one ``Transact`` may hold.
MAX_TRANSACT_COMMANDS = 10000

#: Options of ``Transact`` itself: name -> D-Bus signature.
TRANSACT_OPTIONS = {"dry_run": "b", "comment": "s", "timeout": "d", "wait": "s", "apply_timeout": "d"}

#: Per-command options inside ``Transact``: name -> D-Bus signature.
BATCH_OPTION_SIGNATURES = {"id": "s", "if_exists": "b", "may_exist": "b"}


@functools.cache
def batch_verbs():
    """``{verb: MethodSpec}`` of every method ``Transact`` takes as a command (one dict, made once:
    do not change it)."""
    return {m.name: m for spec in (DATABASE_SPEC, ROOT_SPEC) for m in spec.methods if m.batchable}


_STRMAP = "Empty when the column is empty."

BRIDGE_SPEC = InterfaceSpec(
    "org.openvswitch.ovsdb.Bridge",
    "One row of the Bridge table, at /org/openvswitch/ovsdb/bridge/<escaped name>.",
    properties=(
        PropertySpec("Name", "s", "Bridge name."),
        PropertySpec("Ports", "ao", "Objects of its ports (its local port included), sorted by name. "
                     "PropertiesChanged lists it as invalidated rather than sending thousands of paths.",
                     "invalidates"),
        PropertySpec("FailMode", "s", "fail_mode: 'standalone', 'secure', or '' when unset."),
        PropertySpec("DatapathType", "s", "datapath_type ('' is the default datapath, 'netdev' userspace)."),
        PropertySpec("Controllers", "as", "Targets of its controllers, sorted."),
        PropertySpec("Protocols", "as", "OpenFlow versions it allows (protocols), sorted; empty means ovs-vswitchd's "
                     "default (OpenFlow10 to OpenFlow15 in recent releases)."),
        PropertySpec("Mirrors", "as", "Names of its mirrors, sorted."),
        PropertySpec("ExternalIds", "a{ss}", "external_ids. " + _STRMAP),
        PropertySpec("OtherConfig", "a{ss}", "other_config. " + _STRMAP),
    ),
)

PORT_SPEC = InterfaceSpec(
    "org.openvswitch.ovsdb.Port",
    "One row of the Port table, at /org/openvswitch/ovsdb/port/<escaped name>.",
    properties=(
        PropertySpec("Name", "s", "Port name."),
        PropertySpec("Bridge", "o", "Object of the bridge it belongs to, or '/' if none."),
        PropertySpec("Interfaces", "ao", "Objects of its interfaces, sorted by name."),
        PropertySpec("Tag", "x", "VLAN tag 0-4095, or -1 when unset."),
        PropertySpec("Trunks", "ax", "Trunked VLANs, sorted; empty means all."),
        PropertySpec("VlanMode", "s", "vlan_mode, or '' when unset."),
        PropertySpec("BondMode", "s", "bond_mode, or '' when unset."),
        PropertySpec("Lacp", "s", "lacp ('active', 'passive', 'off'), or '' when unset."),
        PropertySpec("ExternalIds", "a{ss}", "external_ids. " + _STRMAP),
    ),
)

INTERFACE_SPEC = InterfaceSpec(
    "org.openvswitch.ovsdb.Interface",
    "One row of the Interface table, at /org/openvswitch/ovsdb/interface/<escaped name>.",
    properties=(
        PropertySpec("Name", "s", "Interface name."),
        PropertySpec("Port", "o", "Object of the port it belongs to, or '/' if none."),
        PropertySpec("Type", "s", "Interface type ('' is a system interface, 'internal', 'patch', ...)."),
        PropertySpec("Options", "a{ss}", "options. " + _STRMAP),
        PropertySpec("OfPort", "x", "OpenFlow port number; 0 while not yet assigned, -1 if it could not be "
                                     "created."),
        PropertySpec("OfPortRequest", "x", "The OpenFlow port number asked for (ofport_request), or -1 when none."),
        PropertySpec("MTU", "x", "Current MTU, or 0 when unknown."),
        PropertySpec("MTURequest", "x", "The MTU asked for (mtu_request), or -1 when none."),
        PropertySpec("MacInUse", "s", "MAC address in use, or '' when unknown."),
        PropertySpec("AdminState", "s", "'up', 'down', or '' when unknown."),
        PropertySpec("LinkState", "s", "'up', 'down', or '' when unknown."),
        PropertySpec("Error", "s", "Why the interface could not be set up, or '' when it could."),
        PropertySpec("Statistics", "a{sx}", "Counters as ovs-vswitchd last wrote them. Never announced in "
                     "PropertiesChanged (ovs-vswitchd rewrites them every few seconds): read it when needed.",
                     "false"),
        PropertySpec("ExternalIds", "a{ss}", "external_ids. " + _STRMAP),
    ),
)

#: Every interface ovsdbus defines, for the installed introspection files.
from ovsdbus.api.flows import FLOWS_SPEC  # noqa: E402 (it is built from the classes above)

ALL = (ROOT_SPEC, DATABASE_SPEC, BRIDGE_SPEC, PORT_SPEC, INTERFACE_SPEC, FLOWS_SPEC)


def _doc(doc, indent):
    return '%s<annotation name="%s" value=%s/>' % (indent, DOC_ANNOTATION, quoteattr(doc))


def interface_xml(spec, indent="  "):
    """The ``<interface>`` element of ``spec``, with argument names and doc annotations."""
    i1, i2, i3 = indent, indent * 2, indent * 3
    lines = ["%s<interface name=%s>" % (i1, quoteattr(spec.name)), _doc(spec.doc, i2)]
    for m in spec.methods:
        lines.append("%s<method name=%s>" % (i2, quoteattr(m.name)))
        for direction, args in (("in", m.inputs), ("out", m.outputs)):
            for a in args:
                lines.append('%s<arg name=%s type=%s direction="%s"/>'
                             % (i3, quoteattr(a.name), quoteattr(a.signature), direction))
        lines.append(_doc(m.doc, i3))
        lines.append("%s</method>" % i2)
    for s in spec.signals:
        lines.append("%s<signal name=%s>" % (i2, quoteattr(s.name)))
        for a in s.args:
            lines.append("%s<arg name=%s type=%s/>" % (i3, quoteattr(a.name), quoteattr(a.signature)))
        lines.append(_doc(s.doc, i3))
        lines.append("%s</signal>" % i2)
    for p in spec.properties:
        lines.append('%s<property name=%s type=%s access="read">'
                     % (i2, quoteattr(p.name), quoteattr(p.signature)))
        lines.append('%s<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="%s"/>'
                     % (i3, p.emits_changed))
        lines.append(_doc(p.doc, i3))
        lines.append("%s</property>" % i2)
    lines.append("%s</interface>" % i1)
    return "\n".join(lines)


def introspection_xml(specs):
    """A standalone introspection document of ``specs`` (for /usr/share/dbus-1/interfaces)."""
    return "\n".join(['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"',
                      ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
                      "<node>"] + [interface_xml(s) for s in specs] + ["</node>", ""])


def write_interfaces(directory, specs=ALL):
    """Write ``<interface name>.xml`` into ``directory`` for each of ``specs`` (the files
    installed in /usr/share/dbus-1/interfaces); return their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for spec in specs:
        path = os.path.join(directory, spec.name + ".xml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(introspection_xml([spec]))
        paths.append(path)
    return paths


def main(argv=None):
    """``python3 -m ovsdbus.api --write-interfaces DIR``, run by debian/rules at build time."""
    parser = argparse.ArgumentParser(prog="python3 -m ovsdbus.api",
                                     description="Write the introspection XML of every ovsdbus interface.")
    parser.add_argument("--write-interfaces", metavar="DIR", required=True,
                        help="directory to write one INTERFACE.xml per interface into")
    write_interfaces(parser.parse_args(argv).write_interfaces)


if __name__ == "__main__":
    main()
