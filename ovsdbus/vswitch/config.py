"""The configuration verbs of Open_vSwitch: VLANs, bonds, tunnels, patches, QoS, mirrors,
controllers, managers and SSL, as planners over a :class:`~ovsdbus.ovsdb.txn.Txn` (see
:mod:`ovsdbus.vswitch.dbverbs` for what a planner is and returns).

Each verb does what takes several chained ovs-vsctl commands, in the one transaction of its
batch.  Options come as a dict of Python values; an unknown key is InvalidArgs naming the keys
the verb takes, and a value the column's type does not allow is InvalidArgs from the Txn naming
the table and column.  What every verb agrees on:

- map options (``other_config``, ``external_ids``, ``options``) are merged key by key, and a key
  given the value ``""`` is deleted;
- ``-1`` unsets an optional integer (``tag``, ``mtu_request``, ``ofport_request``) and ``""`` an
  optional string (``fail_mode``, ``vlan_mode``, ``bond_mode``, ``lacp``);
- a column is written only when its value changes, and ``changed`` says whether anything did;
- ``may_exist`` accepts an existing object only when it matches every setting asked for, and
  says what differs otherwise (AlreadyExists); ``if_exists`` makes deleting something absent a
  success that changed nothing.

The options ``wait`` and ``apply_timeout`` are the batch's (:mod:`ovsdbus.vswitch.applied`);
planners ignore them.
"""

import ipaddress
from collections.abc import Mapping

from ovsdbus.ovsdb.errors import AlreadyExists, ConstraintViolation, InvalidArgs, NotFound
from ovsdbus.ovsdb.sets import SET_TYPES
from ovsdbus.vswitch.dbverbs import (
    Verb,
    find_bridge,
    insert_port,
    require_unused_name,
    root_row,
)
from ovsdbus.vswitch.operations import check_lookup_name

#: Options every verb with an options dict takes, handled by the batch rather than the planner.
BATCH_WIDE_OPTIONS = ("wait", "apply_timeout")

#: How an option is written.  ``value``: as given; ``set``: a set of the given elements;
#: ``map``: merged key by key ('' deletes a key); ``optional``: unset by ``-1`` or ``""``.
_VALUE, _SET, _MAP, _OPTIONAL = "value", "set", "map", "optional"

BRIDGE_OPTIONS = {
    "datapath_type": _VALUE, "fail_mode": _OPTIONAL, "protocols": _SET, "stp_enable": _VALUE,
    "rstp_enable": _VALUE, "mcast_snooping_enable": _VALUE, "other_config": _MAP, "external_ids": _MAP,
}
BOND_OPTIONS = {
    "bond_mode": _OPTIONAL, "lacp": _OPTIONAL, "bond_updelay": _VALUE, "bond_downdelay": _VALUE,
    "other_config": _MAP, "external_ids": _MAP,
}
PORT_OPTIONS = dict({"tag": _OPTIONAL, "trunks": _SET, "vlan_mode": _OPTIONAL}, **BOND_OPTIONS)
INTERFACE_OPTIONS = {
    "type": _VALUE, "options": _MAP, "mtu_request": _OPTIONAL, "ofport_request": _OPTIONAL,
    "other_config": _MAP, "external_ids": _MAP,
}
CONTROLLER_OPTIONS = {"inactivity_probe": _OPTIONAL, "max_backoff": _OPTIONAL, "connection_mode": _OPTIONAL}

#: The VLAN modes of a port (Port.vlan_mode).
VLAN_MODES = ("access", "trunk", "native-tagged", "native-untagged", "dot1q-tunnel")

#: Interface types that are tunnels, and so take a remote_ip.
TUNNEL_TYPES = ("vxlan", "geneve", "gre", "ip6gre", "erspan", "ip6erspan", "stt", "gtpu", "bareudp")

#: AddTunnel options that become keys of Interface.options, and how their value is written.
_TUNNEL_KEYS = {"key": "text", "dst_port": "integer", "local_ip": "address", "ttl": "text", "tos": "text",
                "csum": "boolean", "df_default": "boolean"}
_TUNNEL_ROW_OPTIONS = {"options": _MAP, "ofport_request": _OPTIONAL, "other_config": _MAP, "external_ids": _MAP}

#: The connection methods of controller and manager targets.
_TARGET_METHODS = ("tcp", "ssl", "unix", "ptcp", "pssl", "punix")


# -- options ------------------------------------------------------------------------------------

def _check_options(verb, options, allowed, extra=()):
    """``options`` as a dict without the batch-wide ones; InvalidArgs for any key not in ``allowed``
    or ``extra``."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidArgs("%s: options must be a dict" % verb)
    known = set(allowed) | set(extra) | set(BATCH_WIDE_OPTIONS)
    unknown = sorted(str(k) for k in options if k not in known)
    if unknown:
        raise InvalidArgs("%s takes no option %s (it takes %s)"
                          % (verb, ", ".join(unknown), ", ".join(sorted(known))))
    return {k: v for k, v in options.items() if k not in BATCH_WIDE_OPTIONS}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _column_value(table, column, kind, value, current):
    """The new value of ``column`` for option value ``value`` (``current``: its value now)."""
    where = "%s.%s" % (table, column)
    if kind == _OPTIONAL:
        if value == "" or (_is_int(value) and value == -1):
            return None
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return value
        raise InvalidArgs("%s: expected a value, or -1 / '' to unset it, got %r" % (where, value))
    if kind == _SET:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple) + SET_TYPES):
            raise InvalidArgs("%s: expected an array, got %r" % (where, value))
        elements = frozenset(value)
        if len(elements) != len(value):
            raise InvalidArgs("%s: an array without repeated elements is a set; %r repeats some" % (where, value))
        return elements
    if kind == _MAP:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in value.items()):
            raise InvalidArgs("%s: expected a dict of string to string, got %r" % (where, value))
        new = dict(current)
        for k, v in value.items():
            if v == "":
                new.pop(k, None)
            else:
                new[k] = v
        return new
    return value


def _apply(ctx, table, uuid, options, kinds):
    """Write ``options`` (already checked against ``kinds``) to row ``uuid``: only the columns whose
    value changes, map keys by mutation (another writer's keys stay).  True if anything changed."""
    txn = ctx.txn
    row = txn.row(table, uuid)
    plain = {}
    changed = False
    for option, value in options.items():
        kind = kinds[option]
        current = row[option]
        new = _column_value(table, option, kind, value, current)
        if new == current:
            continue
        if kind == _MAP:
            gone = frozenset(k for k in current if k not in new or new[k] != current[k])
            added = {k: v for k, v in new.items() if current.get(k) != v}
            if gone:
                txn.mutate(table, uuid, option, "delete", gone)
            if added:
                txn.mutate(table, uuid, option, "insert", added)
        else:
            plain[option] = new
        changed = True
    if plain:
        txn.update(table, uuid, plain)
    return changed


def _differences(ctx, table, uuid, options, kinds):
    """What of ``options`` row ``uuid`` does not already have: ``["column: has X, asked Y"]``."""
    row = ctx.txn.row(table, uuid)
    found = []
    for option, value in options.items():
        current = row[option]
        kind = kinds[option]
        if kind == _MAP:
            for k, v in value.items():
                if current.get(k, "") != v:
                    found.append("%s:%s is %r, not %r" % (option, k, current.get(k, ""), v))
            continue
        new = _column_value(table, option, kind, value, current)
        if new != current:
            found.append("%s is %s, not %s" % (option, _show(current), _show(new)))
    return found


def _show(value):
    if value is None:
        return "unset"
    if isinstance(value, SET_TYPES):
        return "[%s]" % ", ".join(str(v) for v in sorted(value, key=str))
    return repr(value)


def _already(what, differences):
    raise AlreadyExists("%s exists with other settings: %s" % (what, "; ".join(differences)))


# -- lookups ------------------------------------------------------------------------------------

def _named(ctx, table, name, what, if_exists=False):
    check_lookup_name(name, what)
    uuid = ctx.txn.find(table, name=name)
    if uuid is None and not if_exists:
        raise NotFound("no %s named %r" % (table.lower(), name))
    return uuid


def _bridge_of_port(ctx, port_uuid):
    for uuid, row in ctx.txn.rows("Bridge").items():
        if port_uuid in row["ports"]:
            return uuid, row
    return None, None


def _port_of_interface(ctx, iface_uuid):
    for uuid, row in ctx.txn.rows("Port").items():
        if iface_uuid in row["interfaces"]:
            return uuid, row
    return None, None


def _port_on_bridge(ctx, bridge_uuid, name, what="port"):
    check_lookup_name(name, what + " name")
    uuid = ctx.txn.find("Port", name=name)
    if uuid is None or uuid not in ctx.txn.row("Bridge", bridge_uuid)["ports"]:
        raise NotFound("bridge %r has no port named %r" % (ctx.txn.row("Bridge", bridge_uuid)["name"], name))
    return uuid


def _existing_port(ctx, bridge_uuid, bridge, port):
    """For ``may_exist``: ``(uuid, row, differences)`` of port ``port`` if it exists (``differences``
    starting with its not being on ``bridge``), else ``(None, None, [])``."""
    check_lookup_name(port, "port name")
    existing = ctx.txn.find("Port", name=port)
    if existing is None:
        return None, None, []
    differences = []
    if existing not in ctx.txn.row("Bridge", bridge_uuid)["ports"]:
        differences.append("it is not on bridge %r" % bridge)
    return existing, ctx.txn.row("Port", existing), differences


def _interface_names(ctx, port_row):
    return sorted(ctx.txn.row("Interface", i)["name"] for i in port_row["interfaces"]
                  if ctx.txn.row("Interface", i) is not None)


# -- bridges, ports, interfaces -----------------------------------------------------------------

def plan_set_bridge_options(ctx, bridge, options):
    """Set settings of ``bridge`` (:data:`BRIDGE_OPTIONS`)."""
    options = _check_options("SetBridgeOptions", options, BRIDGE_OPTIONS)
    uuid = find_bridge(ctx, bridge)
    return {"changed": _apply(ctx, "Bridge", uuid, options, BRIDGE_OPTIONS)}


def plan_set_port_options(ctx, port, options):
    """Set settings of ``port`` (:data:`PORT_OPTIONS`)."""
    options = _check_options("SetPortOptions", options, PORT_OPTIONS)
    uuid = _named(ctx, "Port", port, "port name")
    return {"changed": _apply(ctx, "Port", uuid, options, PORT_OPTIONS)}


def plan_set_interface_options(ctx, interface, options):
    """Set settings of ``interface`` (:data:`INTERFACE_OPTIONS`)."""
    options = _check_options("SetInterfaceOptions", options, INTERFACE_OPTIONS)
    uuid = _named(ctx, "Interface", interface, "interface name")
    return {"changed": _apply(ctx, "Interface", uuid, options, INTERFACE_OPTIONS)}


def vlan_settings(mode, tag, trunks):
    """``{"vlan_mode", "tag", "trunks"}`` options for SetPortVlan's arguments, checked together."""
    if mode not in VLAN_MODES + ("",):
        raise InvalidArgs("VLAN mode %r is none of %s, or '' to unset it" % (mode, ", ".join(VLAN_MODES)))
    if not _is_int(tag) or not -1 <= tag <= 4095:
        raise InvalidArgs("tag must be a VLAN from 0 to 4095, or -1 for none, not %r" % (tag,))
    if isinstance(trunks, (str, bytes)) or not isinstance(trunks, (list, tuple) + SET_TYPES):
        raise InvalidArgs("trunks must be an array of VLANs, not %r" % (trunks,))
    bad = [t for t in trunks if not _is_int(t) or not 0 <= t <= 4095]
    if bad:
        raise InvalidArgs("trunks must be VLANs from 0 to 4095, not %r" % (bad[0],))
    if len(set(trunks)) != len(trunks):
        raise InvalidArgs("trunks repeat a VLAN: %r" % (list(trunks),))
    if mode == "access" and (tag < 0 or trunks):
        raise InvalidArgs("an access port needs a tag and takes no trunks")
    if mode == "trunk" and tag >= 0:
        raise InvalidArgs("a trunk port takes no tag (its trunks, or all VLANs when empty, are carried tagged)")
    if mode in ("native-tagged", "native-untagged") and tag < 0:
        raise InvalidArgs("a %s port needs a tag: its native VLAN" % mode)
    if mode == "dot1q-tunnel":
        if tag < 0:
            raise InvalidArgs("a dot1q-tunnel port needs a tag: its outer VLAN")
        if trunks:
            raise InvalidArgs("a dot1q-tunnel port takes no trunks (its customer VLANs are Port.cvlans)")
    return {"vlan_mode": mode, "tag": tag, "trunks": list(trunks)}


def plan_set_port_vlan(ctx, port, mode, tag, trunks):
    """Set ``port``'s VLAN mode, tag and trunks together."""
    options = vlan_settings(mode, tag, trunks)
    uuid = _named(ctx, "Port", port, "port name")
    return {"changed": _apply(ctx, "Port", uuid, options, PORT_OPTIONS)}


def _interface_list(interfaces, least):
    if isinstance(interfaces, (str, bytes)) or not isinstance(interfaces, (list, tuple)):
        raise InvalidArgs("interfaces must be an array of names, not %r" % (interfaces,))
    if len(interfaces) < least:
        raise InvalidArgs("a bond needs at least %d interfaces, got %d" % (least, len(interfaces)))
    if len(set(interfaces)) != len(interfaces):
        raise InvalidArgs("interface names repeat: %s" % ", ".join(interfaces))
    return list(interfaces)


def plan_add_bond(ctx, bridge, port, interfaces, options=None, may_exist=False):
    """Bond ``port`` on ``bridge`` with a new interface for each of ``interfaces`` (ovs-vsctl add-bond)."""
    options = _check_options("AddBond", options, BOND_OPTIONS, ("interface_type", "may_exist"))
    may_exist = options.pop("may_exist", may_exist)
    iface_type = options.pop("interface_type", "")
    if not isinstance(iface_type, str):
        raise InvalidArgs("interface_type must be a string, not %r" % (iface_type,))
    interfaces = _interface_list(interfaces, 2)
    txn = ctx.txn
    bridge_uuid = find_bridge(ctx, bridge)
    if may_exist:
        existing, row, differences = _existing_port(ctx, bridge_uuid, bridge, port)
        if existing is not None:
            names = _interface_names(ctx, row)
            if names != sorted(interfaces):
                differences.append("its interfaces are %s, not %s" % (", ".join(names), ", ".join(sorted(interfaces))))
            types = {txn.row("Interface", i)["type"] for i in row["interfaces"]}
            if types - {iface_type}:
                differences.append("its interfaces are of type %s, not %r" % (", ".join(sorted(map(repr, types))),
                                                                              iface_type))
            differences += _differences(ctx, "Port", existing, options, BOND_OPTIONS)
            if differences:
                _already("bond %r" % port, differences)
            return {"table": "Port", "uuid": existing, "changed": False}
    require_unused_name(ctx, port, "port name")
    members = []
    for name in interfaces:
        require_unused_name(ctx, name, "interface name")
        row = {"name": name}
        if iface_type:
            row["type"] = iface_type
        members.append(txn.insert("Interface", row))
    port_uuid = txn.insert("Port", {"name": port, "interfaces": frozenset(members)})
    _apply(ctx, "Port", port_uuid, options, BOND_OPTIONS)
    txn.mutate("Bridge", bridge_uuid, "ports", "insert", frozenset([port_uuid]))
    return {"table": "Port", "uuid": port_uuid, "changed": True}


def plan_add_bond_interface(ctx, port, interface, may_exist=False):
    """A new interface ``interface`` in ``port`` (ovs-vsctl add-bond-iface)."""
    txn = ctx.txn
    port_uuid = _named(ctx, "Port", port, "port name")
    if may_exist:
        check_lookup_name(interface, "interface name")
        existing = txn.find("Interface", name=interface)
        if existing is not None:
            if existing not in txn.row("Port", port_uuid)["interfaces"]:
                raise AlreadyExists("interface %r exists, on another port than %r" % (interface, port))
            return {"changed": False}
    require_unused_name(ctx, interface, "interface name")
    iface = txn.insert("Interface", {"name": interface})
    txn.mutate("Port", port_uuid, "interfaces", "insert", frozenset([iface]))
    return {"table": "Interface", "uuid": iface, "changed": True}


def plan_delete_bond_interface(ctx, port, interface, if_exists=False):
    """Remove ``interface`` from ``port`` and delete it; a bond never drops below two interfaces."""
    txn = ctx.txn
    port_uuid = _named(ctx, "Port", port, "port name")
    check_lookup_name(interface, "interface name")
    iface = txn.find("Interface", name=interface)
    members = txn.row("Port", port_uuid)["interfaces"]
    if iface is None or iface not in members:
        if if_exists:
            return {"changed": False}
        raise NotFound("port %r has no interface named %r" % (port, interface))
    if len(members) <= 2:
        raise ConstraintViolation(
            "constraint violation",
            "port %r has %d interfaces and a bond keeps at least two: delete the port (DeletePort) instead, or "
            "add another interface first" % (port, len(members)))
    txn.mutate("Port", port_uuid, "interfaces", "delete", frozenset([iface]))
    txn.delete("Interface", iface)
    return {"changed": True}


# -- tunnels and patches ------------------------------------------------------------------------

def _check_address(value, what, allow_flow=True):
    if not isinstance(value, str) or not value:
        raise InvalidArgs("%s must be an IP address%s, not %r" % (what, " or 'flow'" if allow_flow else "", value))
    if allow_flow and value == "flow":
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise InvalidArgs("%s %r is not an IP address%s" % (what, value, " (nor 'flow')" if allow_flow else "")) \
            from None
    return value


def _tunnel_options(remote_ip, options):
    """``(Interface.options pairs, other interface options)`` of AddTunnel."""
    pairs = {"remote_ip": _check_address(remote_ip, "remote_ip")}
    rest = {}
    for option, value in options.items():
        kind = _TUNNEL_KEYS.get(option)
        if kind is None:
            rest[option] = value
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise InvalidArgs("tunnel option %s must be a boolean, not %r" % (option, value))
            pairs[option] = "true" if value else "false"
        elif kind == "integer":
            if not _is_int(value) or not 0 < value < 65536:
                raise InvalidArgs("tunnel option %s must be a port number from 1 to 65535, not %r" % (option, value))
            pairs[option] = str(value)
        elif kind == "address":
            pairs[option] = _check_address(value, "local_ip")
        else:
            if _is_int(value):
                value = str(value)
            if not isinstance(value, str) or not value:
                raise InvalidArgs("tunnel option %s must be a non-empty string or a number, not %r" % (option, value))
            pairs[option] = value
    extra = rest.pop("options", None) or {}
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise InvalidArgs("tunnel option options must be a dict of string to string")
    for k, v in extra.items():
        if k in pairs:
            raise InvalidArgs("tunnel option %s is given twice (on its own and in options)" % k)
        if v != "":
            pairs[k] = v
    return pairs, rest


def plan_add_tunnel(ctx, bridge, port, type, remote_ip, options=None, may_exist=False):  # noqa: A002 - D-Bus name
    """Tunnel port ``port`` on ``bridge``: one interface of ``type`` to ``remote_ip``."""
    options = _check_options("AddTunnel", options, _TUNNEL_KEYS, tuple(_TUNNEL_ROW_OPTIONS) + ("may_exist",))
    may_exist = options.pop("may_exist", may_exist)
    if type not in TUNNEL_TYPES:
        raise InvalidArgs("tunnel type %r is none of %s" % (type, ", ".join(TUNNEL_TYPES)))
    pairs, rest = _tunnel_options(remote_ip, options)
    txn = ctx.txn
    bridge_uuid = find_bridge(ctx, bridge)
    if may_exist:
        existing, row, differences = _existing_port(ctx, bridge_uuid, bridge, port)
        if existing is not None:
            members = list(row["interfaces"])
            iface = txn.row("Interface", members[0]) if len(members) == 1 else None
            if iface is None or iface["name"] != port:
                differences.append("it is not a port with one interface %r" % port)
            else:
                if iface["type"] != type:
                    differences.append("its type is %r, not %r" % (iface["type"], type))
                for k, v in pairs.items():
                    if iface["options"].get(k, "") != v:
                        differences.append("options:%s is %r, not %r" % (k, iface["options"].get(k, ""), v))
                differences += _differences(ctx, "Interface", members[0], rest, _TUNNEL_ROW_OPTIONS)
            if differences:
                _already("tunnel port %r" % port, differences)
            return {"table": "Port", "uuid": existing, "changed": False}
    require_unused_name(ctx, port, "port name")
    port_uuid = insert_port(txn, port, type)
    iface = next(iter(txn.row("Port", port_uuid)["interfaces"]))
    txn.update("Interface", iface, {"options": pairs})
    _apply(ctx, "Interface", iface, rest, _TUNNEL_ROW_OPTIONS)
    txn.mutate("Bridge", bridge_uuid, "ports", "insert", frozenset([port_uuid]))
    return {"table": "Port", "uuid": port_uuid, "changed": True}


def plan_add_patch(ctx, bridge_a, port_a, bridge_b, port_b, may_exist=False):
    """Patch ports ``port_a`` on ``bridge_a`` and ``port_b`` on ``bridge_b``, each the other's peer."""
    txn = ctx.txn
    bridges = (find_bridge(ctx, bridge_a), find_bridge(ctx, bridge_b))
    if port_a == port_b:
        raise InvalidArgs("the two patch ports need different names, not both %r" % port_a)
    ends = ((bridges[0], port_a, port_b), (bridges[1], port_b, port_a))
    if may_exist:
        found = [txn.find("Port", name=name) for _, name, _ in ends]
        if any(f is not None for f in found):
            differences = []
            for (bridge_uuid, name, peer), uuid in zip(ends, found, strict=True):
                if uuid is None:
                    differences.append("port %r does not exist" % name)
                    continue
                if uuid not in txn.row("Bridge", bridge_uuid)["ports"]:
                    differences.append("port %r is not on bridge %r" % (name, txn.row("Bridge", bridge_uuid)["name"]))
                members = [txn.row("Interface", i) for i in txn.row("Port", uuid)["interfaces"]]
                if len(members) != 1 or members[0]["type"] != "patch" or members[0]["options"].get("peer") != peer:
                    differences.append("port %r is not a patch port whose peer is %r" % (name, peer))
            if differences:
                _already("the patch %r-%r" % (port_a, port_b), differences)
            return {"changed": False}
    for _, name, _ in ends:
        require_unused_name(ctx, name, "port name")
    for bridge_uuid, name, peer in ends:
        port_uuid = insert_port(txn, name, "patch")
        iface = next(iter(txn.row("Port", port_uuid)["interfaces"]))
        txn.update("Interface", iface, {"options": {"peer": peer}})
        txn.mutate("Bridge", bridge_uuid, "ports", "insert", frozenset([port_uuid]))
    return {"changed": True}


# -- QoS ------------------------------------------------------------------------------------------

def _users(ctx, table, column, uuid, skip=None):
    """The rows of ``table`` whose ``column`` refers to ``uuid`` (a set, map value or optional column),
    less ``skip``."""
    found = []
    for ruuid, row in ctx.txn.raw_rows(table):
        if ruuid == skip:
            continue
        value = row[column]
        if value == uuid or (isinstance(value, SET_TYPES) and uuid in value) or \
                (isinstance(value, dict) and uuid in value.values()):
            found.append(ruuid)
    return found


def _string_map(value, what):
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidArgs("%s must be a dict of string to string" % what)
    return {k: v for k, v in value.items() if v != ""}


def _drop_queues(ctx, queues, qos_uuid):
    """Delete the Queue rows among ``queues`` that no QoS but ``qos_uuid`` uses."""
    for queue in queues:
        if ctx.txn.row("Queue", queue) is not None and not _users(ctx, "QoS", "queues", queue, skip=qos_uuid):
            ctx.txn.delete("Queue", queue)


def plan_set_qos(ctx, port, type, other_config, queues):  # noqa: A002 - the D-Bus argument's name
    """Give ``port`` a QoS of ``type`` with ``other_config`` and ``queues`` ({queue id: other_config})."""
    if not isinstance(type, str) or not type:
        raise InvalidArgs("the QoS type must be given (linux-htb, linux-hfsc, egress-policer, ...)")
    other_config = _string_map(other_config, "other_config")
    if not isinstance(queues, Mapping):
        raise InvalidArgs("queues must be a dict of queue number to other_config")
    wanted = {}
    for qid, config in queues.items():
        if not _is_int(qid) or not 0 <= qid <= 4294967295:
            raise InvalidArgs("queue number %r is not from 0 to 4294967295" % (qid,))
        wanted[qid] = _string_map(config, "the other_config of queue %d" % qid)
    txn = ctx.txn
    port_uuid = _named(ctx, "Port", port, "port name")
    current = txn.row("Port", port_uuid)["qos"]
    if current is not None and not _users(ctx, "Port", "qos", current, skip=port_uuid):
        # The port's own QoS: changed in place, queue by queue.
        qos = txn.row("QoS", current)
        changed = False
        if qos["type"] != type or qos["other_config"] != other_config:
            txn.update("QoS", current, {"type": type, "other_config": other_config})
            changed = True
        new_queues = {}
        for qid, config in wanted.items():
            queue = qos["queues"].get(qid)
            if queue is not None and not _users(ctx, "QoS", "queues", queue, skip=current):
                if txn.row("Queue", queue)["other_config"] != config:
                    txn.update("Queue", queue, {"other_config": config})
                    changed = True
                new_queues[qid] = queue
            else:
                new_queues[qid] = txn.insert("Queue", {"other_config": config})
        if new_queues != dict(qos["queues"]):
            old = [q for q in qos["queues"].values() if q not in new_queues.values()]
            txn.update("QoS", current, {"queues": new_queues})
            _drop_queues(ctx, old, current)
            changed = True
        return {"table": "QoS", "changed": changed}
    new_queues = {qid: txn.insert("Queue", {"other_config": config}) for qid, config in wanted.items()}
    qos_uuid = txn.insert("QoS", {"type": type, "other_config": other_config, "queues": new_queues})
    txn.update("Port", port_uuid, {"qos": qos_uuid})
    return {"table": "QoS", "uuid": qos_uuid, "changed": True}


def plan_clear_qos(ctx, port):
    """Remove ``port``'s QoS; delete it and its queues when nothing else uses them."""
    txn = ctx.txn
    port_uuid = _named(ctx, "Port", port, "port name")
    current = txn.row("Port", port_uuid)["qos"]
    if current is None:
        return {"changed": False}
    txn.update("Port", port_uuid, {"qos": None})
    if not _users(ctx, "Port", "qos", current, skip=port_uuid):
        queues = list(txn.row("QoS", current)["queues"].values())
        txn.delete("QoS", current)
        _drop_queues(ctx, queues, current)
    return {"changed": True}


# -- mirrors ----------------------------------------------------------------------------------------

def _mirror_on(ctx, bridge_uuid, name):
    for uuid in ctx.txn.row("Bridge", bridge_uuid)["mirrors"]:
        row = ctx.txn.row("Mirror", uuid)
        if row is not None and row["name"] == name:
            return uuid
    return None


def _mirror_row(ctx, bridge_uuid, options):
    """The Mirror columns of AddMirror's options (ports named on the bridge)."""
    row = {}
    for option, value in options.items():
        if option in ("select_src_port", "select_dst_port"):
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise InvalidArgs("%s must be an array of port names" % option)
            row[option] = frozenset(_port_on_bridge(ctx, bridge_uuid, name) for name in value)
        elif option == "output_port":
            row[option] = _port_on_bridge(ctx, bridge_uuid, value, "output port")
        elif option == "output_vlan":
            if not _is_int(value) or not 1 <= value <= 4095:
                raise InvalidArgs("output_vlan must be a VLAN from 1 to 4095, not %r" % (value,))
            row[option] = value
        elif option == "select_vlan":
            row[option] = _column_value("Mirror", option, _SET, value, None)
        elif option == "external_ids":
            row[option] = _string_map(value, "external_ids")
        elif option == "select_all":
            if not isinstance(value, bool):
                raise InvalidArgs("select_all must be a boolean")
            row[option] = value
    if ("output_port" in row) == ("output_vlan" in row):
        raise InvalidArgs("a mirror needs one output: output_port or output_vlan")
    return row


_MIRROR_OPTIONS = ("select_all", "select_src_port", "select_dst_port", "select_vlan", "output_port", "output_vlan",
                   "external_ids")


def plan_add_mirror(ctx, bridge, name, options=None, may_exist=False):
    """Mirror ``name`` on ``bridge``."""
    options = _check_options("AddMirror", options, _MIRROR_OPTIONS, ("may_exist",))
    may_exist = options.pop("may_exist", may_exist)
    if not isinstance(name, str) or not name:
        raise InvalidArgs("a mirror needs a name")
    txn = ctx.txn
    bridge_uuid = find_bridge(ctx, bridge)
    wanted = _mirror_row(ctx, bridge_uuid, options)
    existing = _mirror_on(ctx, bridge_uuid, name)
    if existing is not None:
        if not may_exist:
            raise AlreadyExists("bridge %r has a mirror named %r already" % (bridge, name))
        row = txn.row("Mirror", existing)
        defaults = {"select_all": False, "select_src_port": frozenset(), "select_dst_port": frozenset(),
                    "select_vlan": frozenset(), "output_port": None, "output_vlan": None, "external_ids": {}}
        differences = ["%s is %s, not %s" % (c, _show(row[c]), _show(wanted.get(c, default)))
                       for c, default in defaults.items() if row[c] != wanted.get(c, default)]
        if differences:
            _already("mirror %r" % name, differences)
        return {"table": "Mirror", "uuid": existing, "changed": False}
    wanted["name"] = name
    mirror = txn.insert("Mirror", wanted)
    txn.mutate("Bridge", bridge_uuid, "mirrors", "insert", frozenset([mirror]))
    return {"table": "Mirror", "uuid": mirror, "changed": True}


def plan_delete_mirror(ctx, bridge, name, if_exists=False):
    """Delete mirror ``name`` of ``bridge``."""
    bridge_uuid = find_bridge(ctx, bridge)
    mirror = _mirror_on(ctx, bridge_uuid, name)
    if mirror is None:
        if if_exists:
            return {"changed": False}
        raise NotFound("bridge %r has no mirror named %r" % (bridge, name))
    ctx.txn.mutate("Bridge", bridge_uuid, "mirrors", "delete", frozenset([mirror]))
    ctx.txn.delete("Mirror", mirror)
    return {"changed": True}


# -- controllers, managers, SSL -------------------------------------------------------------------

def check_target(target, what):
    """Refuse a controller or manager target that is not ``METHOD:REST`` with a known method."""
    if not isinstance(target, str) or ":" not in target:
        raise InvalidArgs("%s %r is not METHOD:ADDRESS (%s)" % (what, target, ", ".join(_TARGET_METHODS)))
    method, rest = target.split(":", 1)
    if method not in _TARGET_METHODS or (not rest and not method.startswith("p")):
        raise InvalidArgs("%s %r: the method is none of %s, or the address is missing"
                          % (what, target, ", ".join(_TARGET_METHODS)))
    return target


def _targets(targets, what):
    if isinstance(targets, (str, bytes)) or not isinstance(targets, (list, tuple)):
        raise InvalidArgs("targets must be an array of strings")
    if len(set(targets)) != len(targets):
        raise InvalidArgs("the %ss repeat" % what)
    return [check_target(t, what) for t in targets]


def _replace_remotes(ctx, table, owner_table, owner, column, targets, settings=None, kinds=None):
    """Make ``owner``'s ``column`` refer to one ``table`` row per target: rows of targets kept stay
    (their ``settings`` applied), the others are deleted, new ones inserted.  True if anything changed."""
    txn = ctx.txn
    current = {txn.row(table, u)["target"]: u for u in txn.row(owner_table, owner)[column]}
    changed = False
    keep = set()
    for target in targets:
        uuid = current.get(target)
        if uuid is None:
            uuid = txn.insert(table, {"target": target})
            txn.mutate(owner_table, owner, column, "insert", frozenset([uuid]))
            changed = True
        if settings:
            changed = _apply(ctx, table, uuid, settings, kinds) or changed
        keep.add(uuid)
    gone = [u for u in current.values() if u not in keep]
    if gone:
        txn.mutate(owner_table, owner, column, "delete", frozenset(gone))
        for uuid in gone:
            txn.delete(table, uuid)
        changed = True
    return changed


def plan_set_controllers(ctx, bridge, targets, options=None):
    """Make ``targets`` the controllers of ``bridge`` (ovs-vsctl set-controller)."""
    options = _check_options("SetControllers", options, CONTROLLER_OPTIONS)
    targets = _targets(targets, "controller")
    bridge_uuid = find_bridge(ctx, bridge)
    return {"changed": _replace_remotes(ctx, "Controller", "Bridge", bridge_uuid, "controller", targets,
                                        options, CONTROLLER_OPTIONS)}


def plan_delete_controllers(ctx, bridge):
    """Remove the controllers of ``bridge``."""
    bridge_uuid = find_bridge(ctx, bridge)
    return {"changed": _replace_remotes(ctx, "Controller", "Bridge", bridge_uuid, "controller", [])}


def plan_set_fail_mode(ctx, bridge, mode):
    """Set ``bridge``'s fail_mode (``""`` unsets it)."""
    if mode not in ("standalone", "secure", ""):
        raise InvalidArgs("fail mode %r is none of standalone, secure, or '' to unset it" % (mode,))
    bridge_uuid = find_bridge(ctx, bridge)
    return {"changed": _apply(ctx, "Bridge", bridge_uuid, {"fail_mode": mode}, BRIDGE_OPTIONS)}


def plan_set_managers(ctx, targets):
    """Make ``targets`` the managers (ovs-vsctl set-manager)."""
    targets = _targets(targets, "manager")
    return {"changed": _replace_remotes(ctx, "Manager", "Open_vSwitch", root_row(ctx), "manager_options", targets)}


def plan_delete_managers(ctx):
    """Remove every manager."""
    return {"changed": _replace_remotes(ctx, "Manager", "Open_vSwitch", root_row(ctx), "manager_options", [])}


def plan_set_ssl(ctx, private_key, certificate, ca_cert, bootstrap):
    """Set the SSL configuration (ovs-vsctl set-ssl)."""
    files = {"private_key": private_key, "certificate": certificate, "ca_cert": ca_cert}
    for what, path in files.items():
        if not isinstance(path, str) or not path:
            raise InvalidArgs("%s must be a file's path" % what)
    if not isinstance(bootstrap, bool):
        raise InvalidArgs("bootstrap must be a boolean")
    files["bootstrap_ca_cert"] = bootstrap
    txn = ctx.txn
    root = root_row(ctx)
    current = txn.row("Open_vSwitch", root)["ssl"]
    if current is not None:
        row = txn.row("SSL", current)
        new = {k: v for k, v in files.items() if row[k] != v}
        if new:
            txn.update("SSL", current, new)
        return {"changed": bool(new)}
    ssl = txn.insert("SSL", files)
    txn.update("Open_vSwitch", root, {"ssl": ssl})
    return {"table": "SSL", "uuid": ssl, "changed": True}


def plan_delete_ssl(ctx):
    """Remove the SSL configuration."""
    txn = ctx.txn
    root = root_row(ctx)
    current = txn.row("Open_vSwitch", root)["ssl"]
    if current is None:
        return {"changed": False}
    txn.update("Open_vSwitch", root, {"ssl": None})
    txn.delete("SSL", current)
    return {"changed": True}


# -- lookups as verbs -------------------------------------------------------------------------------

def plan_port_to_bridge(ctx, port):
    """The name of the bridge ``port`` is on."""
    uuid = _named(ctx, "Port", port, "port name")
    _, bridge = _bridge_of_port(ctx, uuid)
    if bridge is None:
        raise NotFound("port %r is on no bridge" % port)
    return {"value": bridge["name"], "changed": False}


def plan_interface_to_bridge(ctx, interface):
    """The name of the bridge ``interface``'s port is on."""
    uuid = _named(ctx, "Interface", interface, "interface name")
    port_uuid, _ = _port_of_interface(ctx, uuid)
    bridge = _bridge_of_port(ctx, port_uuid)[1] if port_uuid is not None else None
    if bridge is None:
        raise NotFound("interface %r is on no bridge" % interface)
    return {"value": bridge["name"], "changed": False}


def plan_list_interfaces(ctx, bridge):
    """The sorted interface names of ``bridge``'s ports, less its local interface."""
    txn = ctx.txn
    names = []
    for port in txn.row("Bridge", find_bridge(ctx, bridge))["ports"]:
        row = txn.row("Port", port)
        if row is not None:
            names += [n for n in _interface_names(ctx, row) if n != bridge]
    return {"value": sorted(names), "changed": False}


def _verb(name, plan, required, optional=None, writes=True, label=()):
    return Verb(name, plan, tuple(required), dict(optional or {}), writes, tuple(label))


#: The configuration verbs, by name (the D-Bus methods').
VERBS = {v.name: v for v in (
    _verb("SetBridgeOptions", plan_set_bridge_options, ("bridge", "options"), label=("bridge",)),
    _verb("SetPortOptions", plan_set_port_options, ("port", "options"), label=("port",)),
    _verb("SetInterfaceOptions", plan_set_interface_options, ("interface", "options"), label=("interface",)),
    _verb("SetPortVlan", plan_set_port_vlan, ("port", "mode", "tag", "trunks"), label=("port", "mode")),
    _verb("AddBond", plan_add_bond, ("bridge", "port", "interfaces"), {"options": None, "may_exist": False},
          label=("bridge", "port")),
    _verb("AddBondInterface", plan_add_bond_interface, ("port", "interface"), {"may_exist": False},
          label=("port", "interface")),
    _verb("DeleteBondInterface", plan_delete_bond_interface, ("port", "interface"), {"if_exists": False},
          label=("port", "interface")),
    _verb("AddTunnel", plan_add_tunnel, ("bridge", "port", "type", "remote_ip"), {"options": None, "may_exist": False},
          label=("bridge", "port", "type")),
    _verb("AddPatch", plan_add_patch, ("bridge_a", "port_a", "bridge_b", "port_b"), {"may_exist": False},
          label=("bridge_a", "port_a", "bridge_b", "port_b")),
    _verb("SetQoS", plan_set_qos, ("port", "type", "other_config", "queues"), label=("port", "type")),
    _verb("ClearQoS", plan_clear_qos, ("port",), label=("port",)),
    _verb("AddMirror", plan_add_mirror, ("bridge", "name"), {"options": None, "may_exist": False},
          label=("bridge", "name")),
    _verb("DeleteMirror", plan_delete_mirror, ("bridge", "name"), {"if_exists": False}, label=("bridge", "name")),
    _verb("SetControllers", plan_set_controllers, ("bridge", "targets"), {"options": None},
          label=("bridge", "targets")),
    _verb("DeleteControllers", plan_delete_controllers, ("bridge",), label=("bridge",)),
    _verb("SetFailMode", plan_set_fail_mode, ("bridge", "mode"), label=("bridge", "mode")),
    _verb("SetManagers", plan_set_managers, ("targets",), label=("targets",)),
    _verb("DeleteManagers", plan_delete_managers, ()),
    _verb("SetSSL", plan_set_ssl, ("private_key", "certificate", "ca_cert", "bootstrap")),
    _verb("DeleteSSL", plan_delete_ssl, ()),
    _verb("PortToBridge", plan_port_to_bridge, ("port",), writes=False, label=("port",)),
    _verb("InterfaceToBridge", plan_interface_to_bridge, ("interface",), writes=False, label=("interface",)),
    _verb("ListInterfaces", plan_list_interfaces, ("bridge",), writes=False, label=("bridge",)),
)}

#: Configuration verbs whose result is a row they created (they may take ``id: "@name"``).
CREATING_VERBS = frozenset(("AddBond", "AddTunnel", "AddMirror"))


# -- remote control -----------------------------------------------------------------------------------

#: Tables whose rows open the switch to remote control, and the columns that refer to them: writing
#: any of them needs more trust than changing ports and VLANs.
REMOTE_CONTROL_TABLES = frozenset(("Controller", "Manager", "SSL"))
REMOTE_CONTROL_COLUMNS = frozenset((("Bridge", "controller"), ("Open_vSwitch", "manager_options"),
                                    ("Open_vSwitch", "ssl")))

_GENERIC_WRITES = frozenset(("Set", "Add", "Remove", "Clear", "Create", "Destroy"))


def opens_remote_control(verb, args):
    """Whether database verb ``verb`` with ``args`` (by name, as the caller gave them) writes a
    table or column of remote control (:data:`REMOTE_CONTROL_TABLES`, :data:`REMOTE_CONTROL_COLUMNS`).
    The configuration verbs that do (SetControllers, SetManagers, SetSSL, ...) say so in their
    D-Bus description; this covers the generic verbs, which can write anything."""
    if verb not in _GENERIC_WRITES or not isinstance(args, Mapping):
        return False
    table = args.get("table")
    if not isinstance(table, str):
        return False
    if table in REMOTE_CONTROL_TABLES:
        return True
    columns = []
    values = args.get("values")
    if isinstance(values, Mapping) and verb in ("Set", "Create"):
        columns += [k for k in values if isinstance(k, str)]
    if isinstance(args.get("column"), str):
        columns.append(args["column"])
    if isinstance(args.get("columns"), (list, tuple)):
        columns += [c for c in args["columns"] if isinstance(c, str)]
    return any((table, c.split(":", 1)[0]) in REMOTE_CONTROL_COLUMNS for c in columns)
