"""Open_vSwitch semantics: what ovsdbus reads from the replica and the transactions it writes.

Reads (:func:`bridge_exists`, :func:`list_bridges`, :func:`list_bridge_ports`) are
answered from the replica with no OVSDB request.  Each write verb has a planner, a
pure function ``plan_<verb>(replica, ...) -> [operation, ...]`` that checks the
caller's request against the replica (raising NotFound, AlreadyExists or
InvalidArgs) and builds one atomic transaction that starts with ``wait``
operations (timeout 0) asserting exactly what the plan assumed (a new name's
absence from a table the transaction inserts it into is asserted by that table's
unique index instead: ovsdb-server evaluates a ``wait`` by scanning the table).
If another writer changed any of it meanwhile, the transaction fails without
changing anything, and :class:`Operations` plans again from the updated replica — so two
concurrent CreateBridge("br0") give one success and one AlreadyExists, and a port
added to a bridge another client just deleted gives NotFound, never a dangling row.
"""

from twisted.internet import defer
from twisted.python.failure import Failure

from ovsdbus.ovsdb.errors import (
    AlreadyExists,
    Disconnected,
    InvalidArgs,
    NotFound,
    TransactionError,
    WaitTimedOut,
)
from ovsdbus.ovsdb.txn import is_index_conflict

#: The tables and columns ovsdbus mirrors.
MONITORED_COLUMNS = {
    "Open_vSwitch": ["bridges"],
    "Bridge": ["name", "ports", "controller", "fail_mode", "datapath_type", "protocols", "mirrors", "external_ids",
               "other_config"],
    "Port": ["name", "interfaces", "tag", "trunks", "vlan_mode", "bond_mode", "lacp", "external_ids"],
    "Interface": ["name", "type", "options", "ofport", "ofport_request", "mtu", "mtu_request", "mac_in_use",
                  "admin_state", "link_state", "error", "statistics", "external_ids"],
    "Controller": ["target"],
    "Mirror": ["name"],
}

#: Columns ovs-vswitchd (and ovsdb-server, for Manager) rewrite every few seconds: counters and
#: status maps with "seconds since" in them.  They are shown on D-Bus but never announced in
#: PropertiesChanged (``EmitsChangedSignal=false``), so that 10 000 interfaces do not flood the
#: bus every five seconds; read them when needed (see :mod:`ovsdbus.projection.tree`).
QUIET_COLUMNS = {
    "Interface": ["statistics"],
    "Port": ["statistics", "rstp_statistics"],
    "Mirror": ["statistics"],
    "Open_vSwitch": ["statistics"],
    "Controller": ["status"],
    "Manager": ["status"],
}

#: Linux's IFNAMSIZ less the terminating NUL: the longest network device name.
MAX_NAME_BYTES = 15

#: The tables whose ``name`` a new bridge or port must not take.
NAMED_TABLES = ("Bridge", "Port", "Interface")


#: The longest name a lookup accepts; anything longer is a caller's mistake, not a name.
MAX_LOOKUP_BYTES = 1024


def check_lookup_name(name, what="name"):
    """Raise InvalidArgs for a name no row can have: empty, or absurdly long.

    Names to look up are not held to the rule for new names (:func:`check_name`): bridges
    and ports made by other tools may have names ovsdbus would not create, and they must
    still be found, listed and deleted.
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgs("%s must not be empty" % what)
    if len(name.encode("utf-8", "surrogatepass")) > MAX_LOOKUP_BYTES:
        raise InvalidArgs("%s is longer than %d bytes" % (what, MAX_LOOKUP_BYTES))


#: The bytes Linux's isspace() is true for (lib/ctype.c ``_ctype``: ``_S``): tab, newline, vertical
#: tab, form feed, carriage return, space, and 0xA0, Latin-1's no-break space.  The kernel tests
#: each byte of a name on its own, so 0xA0 inside a multibyte UTF-8 character counts too
#: (``à`` is c3 a0, ``†`` e2 80 a0).
KERNEL_SPACE_BYTES = frozenset(b"\t\n\v\f\r \xa0")


def _byte_refused(byte):
    """Why a byte may not be in a new name, or None."""
    if byte in b"/:":
        return "Linux forbids it"
    if byte in KERNEL_SPACE_BYTES:
        return "Linux takes it as whitespace"
    if byte == 0x25:  # %
        return "Linux takes the name as a template (br%d) for a name of its own choosing"
    if byte < 0x20 or byte == 0x7F:
        return "it is a control character"
    return None


def check_name(name, what="name"):
    """Raise InvalidArgs unless ``name`` is a name Linux accepts for a network device.

    Bridges and ports become network devices (a bridge's local port is an internal
    interface of its name), so their names follow the kernel's rule (``dev_valid_name()``
    in net/core/dev.c), applied as the kernel applies it, byte by byte to the UTF-8
    encoding: 1 to 15 bytes, not ``.`` or ``..``, and no byte that is ``/``, ``:`` or
    kernel whitespace (:data:`KERNEL_SPACE_BYTES`, which includes 0xA0: ``tà`` and ``t†``
    are refused).  Beyond the kernel's rule, ovsdbus also refuses:

    - ``%``: the kernel takes a name with ``%`` as a template (``__dev_alloc_name``): for one
      ``%d`` it makes up a name of its own, so the device would not be called ``name``, and any
      other ``%`` is refused (EINVAL) when the device is created;
    - ASCII control characters (0x00-0x1F, 0x7F): the kernel refuses only some of them, and
      a NUL would silently cut the device name short of the name in the database;
    - any other Unicode whitespace (U+0085, U+2028, U+3000, ...): the kernel lets it through
      but such a name looks like a different one in every log and in ovs-vsctl's output;
    - text that is not valid Unicode (lone surrogates), which has no UTF-8 encoding.
    """
    if not isinstance(name, str) or not name:
        raise InvalidArgs("%s must not be empty" % what)
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgs("%s %r is not valid Unicode text" % (what, name[:64])) from None
    if len(encoded) > MAX_NAME_BYTES:
        raise InvalidArgs("%s %r is %d bytes long; network device names have at most %d"
                          % (what, name[:64], len(encoded), MAX_NAME_BYTES))
    if name in (".", ".."):
        raise InvalidArgs("%s must not be %r" % (what, name))
    for byte in encoded:
        why = _byte_refused(byte)
        if why is not None:
            ch = next(c for c in name if byte in c.encode("utf-8"))
            where = "" if ord(ch) < 0x80 else " (in %r, UTF-8 %s)" % (ch, ch.encode("utf-8").hex(" "))
            raise InvalidArgs("%s %r contains byte 0x%02x%s, which network device names may not: %s"
                              % (what, name, byte, where, why))
    for ch in name:
        if ch.isspace():
            raise InvalidArgs("%s %r contains the whitespace character U+%04X, which would make the name "
                              "look like another" % (what, name, ord(ch)))


# -- reads ---------------------------------------------------------------------

def find_bridge(replica, name):
    """The uuid of bridge ``name``, or None."""
    return replica.find("Bridge", name=name)


def bridge_exists(replica, name):
    """True if a bridge called ``name`` exists."""
    return find_bridge(replica, name) is not None


def list_bridges(replica):
    """The sorted names of all bridges."""
    return sorted(row["name"] for row in replica.rows("Bridge").values())


def list_bridge_ports(replica, bridge):
    """The sorted names of ``bridge``'s ports, less its local port (as ``ovs-vsctl list-ports``)."""
    uuid = _require_bridge(replica, bridge)
    ports = replica.rows("Port")
    names = []
    for port_uuid in replica.row("Bridge", uuid)["ports"]:
        port = ports.get(port_uuid)
        if port is not None and port["name"] != bridge:
            names.append(port["name"])
    names.sort()
    return names


def _require_bridge(replica, name):
    check_lookup_name(name, "bridge name")
    uuid = find_bridge(replica, name)
    if uuid is None:
        raise NotFound("no bridge named %r" % name)
    return uuid


def _require_unused(replica, name, what):
    check_name(name, what)
    for table in NAMED_TABLES:
        if replica.find(table, name=name) is not None:
            raise AlreadyExists("%s %r: a %s of that name already exists" % (what, name, table.lower()))


def _root_uuid(replica):
    rows = replica.rows("Open_vSwitch")
    if not rows:
        raise NotFound("the database has no Open_vSwitch row; initialise it (ovs-vsctl init)")
    return next(iter(rows))


# -- building blocks of transactions ------------------------------------------------

def _uuid(uuid):
    return ["uuid", uuid]


def _named(name):
    return ["named-uuid", name]


def _uuid_set(*atoms):
    return ["set", list(atoms)]


def wait_absent(table, name):
    """A wait that holds only if no row of ``table`` is called ``name``."""
    return {"op": "wait", "table": table, "where": [["name", "==", name]], "columns": ["name"],
            "until": "==", "rows": [], "timeout": 0}


def wait_present(table, uuid, where=()):
    """A wait that holds only if row ``uuid`` of ``table`` exists (and matches ``where``)."""
    return {"op": "wait", "table": table, "where": [["_uuid", "==", _uuid(uuid)]] + list(where),
            "columns": ["_uuid"], "until": "==", "rows": [{"_uuid": _uuid(uuid)}], "timeout": 0}


def _insert_port(port, interface_type=""):
    """Insert an Interface and a Port of name ``port`` (uuid-names ``new_iface``, ``new_port``)."""
    iface = {"name": port}
    if interface_type:
        iface["type"] = interface_type
    return [
        {"op": "insert", "table": "Interface", "row": iface, "uuid-name": "new_iface"},
        {"op": "insert", "table": "Port", "row": {"name": port, "interfaces": _named("new_iface")},
         "uuid-name": "new_port"},
    ]


# -- planners ------------------------------------------------------------------------

def plan_create_bridge(replica, name):
    """Bridge ``name`` with its local Port and ``internal`` Interface, linked from Open_vSwitch."""
    _require_unused(replica, name, "bridge name")
    root = _root_uuid(replica)
    # No wait for the name's absence: the transaction inserts a Bridge, a Port and an Interface of
    # that name, and each table's unique index on name makes the server refuse it if another
    # writer took the name meanwhile (then :class:`Operations` plans again and finds the name
    # used).  A wait would cost the server a scan of each table (it has no index for waits).
    return [wait_present("Open_vSwitch", root)] + _insert_port(name, "internal") + [
            {"op": "insert", "table": "Bridge", "row": {"name": name, "ports": _named("new_port")},
             "uuid-name": "new_bridge"},
            {"op": "mutate", "table": "Open_vSwitch", "where": [["_uuid", "==", _uuid(root)]],
             "mutations": [["bridges", "insert", _uuid_set(_named("new_bridge"))]]},
            {"op": "comment", "comment": "ovsdbus: CreateBridge %s" % name},
    ]


def plan_delete_bridge(replica, name):
    """Unlink bridge ``name`` from Open_vSwitch; its ports and interfaces are collected with it."""
    uuid = _require_bridge(replica, name)
    root = _root_uuid(replica)
    return [
        wait_present("Bridge", uuid),
        {"op": "mutate", "table": "Open_vSwitch", "where": [["_uuid", "==", _uuid(root)]],
         "mutations": [["bridges", "delete", _uuid_set(_uuid(uuid))]]},
        {"op": "comment", "comment": "ovsdbus: DeleteBridge %s" % name},
    ]


def plan_add_port(replica, bridge, port):
    """Port ``port`` with an Interface of the same name on ``bridge``."""
    uuid = _require_bridge(replica, bridge)
    _require_unused(replica, port, "port name")
    # The Port and Interface inserted hold the name in their tables' unique indexes; only the Bridge
    # table needs a wait for its absence (see plan_create_bridge).
    return [wait_present("Bridge", uuid), wait_absent("Bridge", port)] + _insert_port(port) + [
            {"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", _uuid(uuid)]],
             "mutations": [["ports", "insert", _uuid_set(_named("new_port"))]]},
            {"op": "comment", "comment": "ovsdbus: AddPort %s %s" % (bridge, port)},
    ]


def plan_delete_port(replica, bridge, port):
    """Remove ``port`` from ``bridge``; the Port and its Interfaces are collected."""
    bridge_uuid = _require_bridge(replica, bridge)
    check_lookup_name(port, "port name")
    port_uuid = replica.find("Port", name=port)
    if port_uuid is None or port_uuid not in replica.row("Bridge", bridge_uuid)["ports"]:
        raise NotFound("bridge %r has no port named %r" % (bridge, port))
    if port == bridge:
        raise InvalidArgs("port %r is the local port of bridge %r; delete the bridge instead" % (port, bridge))
    return [
        wait_present("Bridge", bridge_uuid, [["ports", "includes", _uuid_set(_uuid(port_uuid))]]),
        {"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", _uuid(bridge_uuid)]],
         "mutations": [["ports", "delete", _uuid_set(_uuid(port_uuid))]]},
        {"op": "comment", "comment": "ovsdbus: DeletePort %s %s" % (bridge, port)},
    ]


# -- running them -------------------------------------------------------------------

class Operations:
    """The Open_vSwitch verbs on an :class:`~ovsdbus.ovsdb.connection.OvsdbConnection`.

    Write verbs return Deferreds that fire once the change is committed (and visible
    in the replica); they are retried from a fresh plan when another writer changed
    what the plan assumed, up to ``max_attempts`` times.

    Writes share transactions under load (group commit): a verb is planned and sent at once
    while fewer than ``max_in_flight`` of this object's transactions await their reply;
    otherwise it waits, and all that waited (up to :data:`MAX_GROUP`) are planned together,
    from the replica as it is then, and sent as one transaction when a reply comes.  Each
    call's plan is checked on its own (a bad name or a missing bridge fails that call only);
    if the shared transaction fails at all, nothing of it was committed and each of its calls
    runs again alone, so every caller gets the answer its own transaction would have had.
    ovsdb-server's cost of a write grows with the sets it changes (a bridge's ports), so one
    transaction for many ports costs it about what one port costs.
    """

    #: The most calls one shared transaction holds.
    MAX_GROUP = 256

    def __init__(self, connection, max_attempts=5, conflict_wait=2.0, max_in_flight=2):
        self.connection = connection
        self.max_attempts = max_attempts
        self.conflict_wait = conflict_wait
        self.max_in_flight = max_in_flight
        self._last_ports = None
        self._waiting = []     # [(planner, args, Deferred)] of calls waiting for a transaction
        self._in_flight = 0    # this object's transactions awaiting their reply (retries of one call aside)

    @property
    def replica(self):
        """The synced replica; raises Disconnected when there is none."""
        if not self.connection.synced:
            raise Disconnected("not connected to ovsdb-server")
        return self.connection.replica

    # reads
    def bridge_exists(self, name):
        """True if bridge ``name`` exists (InvalidArgs for an empty or oversize name)."""
        check_lookup_name(name, "bridge name")
        return bridge_exists(self.replica, name)

    def list_bridges(self):
        """Sorted bridge names."""
        return list_bridges(self.replica)

    def list_bridge_ports(self, bridge):
        """Sorted port names of ``bridge`` without its local port (do not modify the list).

        The last answer is kept until the replica changes: repeated reads of a large bridge
        cost a lookup."""
        replica = self.replica
        key = (bridge, replica.generation)
        if self._last_ports is not None and self._last_ports[0] == key:
            return self._last_ports[1]
        names = list_bridge_ports(replica, bridge)
        self._last_ports = (key, names)
        return names

    # writes
    def create_bridge(self, name):
        """Create bridge ``name`` (see :func:`plan_create_bridge`)."""
        return self._run(plan_create_bridge, name)

    def delete_bridge(self, name):
        """Delete bridge ``name`` (see :func:`plan_delete_bridge`)."""
        return self._run(plan_delete_bridge, name)

    def add_port(self, bridge, port):
        """Add port ``port`` to ``bridge`` (see :func:`plan_add_port`)."""
        return self._run(plan_add_port, bridge, port)

    def delete_port(self, bridge, port):
        """Delete port ``port`` from ``bridge`` (see :func:`plan_delete_port`)."""
        return self._run(plan_delete_port, bridge, port)

    def _run(self, planner, *args):
        d = defer.Deferred()
        self._waiting.append((planner, args, d))
        if self._in_flight < self.max_in_flight:
            self._send_waiting()
        return d

    def _send_waiting(self):
        """Plan the waiting calls and send them: alone, or together in one transaction."""
        while self._waiting and self._in_flight < self.max_in_flight:
            calls, self._waiting = self._waiting[:self.MAX_GROUP], self._waiting[self.MAX_GROUP:]
            try:
                replica = self.replica
            except Disconnected:
                failure = Failure()
                for _, _, d in calls:
                    d.errback(failure)
                continue
            generation = replica.generation
            planned = []
            for planner, args, d in calls:
                try:
                    planned.append((planner, args, d, planner(replica, *args)))
                except Exception:
                    d.errback(Failure())
            if not planned:
                continue
            self._in_flight += 1
            if len(planned) == 1:
                planner, args, d, operations = planned[0]
                sent = self._attempts(planner, args, (operations, replica, generation))
                sent.chainDeferred(d)
            else:
                sent = self._group(planned)
            sent.addBoth(self._transaction_done)

    def _transaction_done(self, result):
        self._in_flight -= 1
        self._send_waiting()
        return None     # the calls' own Deferreds carry their results

    @defer.inlineCallbacks
    def _group(self, planned):
        """One transaction for several planned calls; alone again if it fails."""
        operations = []
        for n, (_, _, _, ops) in enumerate(planned):
            operations.extend(_renamed(ops, "_%d" % n))
        try:
            yield self.connection.transact(operations)
        except TransactionError:
            # Nothing of it was committed: each call on its own, with its own plan and answer.
            for planner, args, d, _ in planned:
                self._attempts(planner, args).chainDeferred(d)
            return
        except Exception:
            failure = Failure()
            for _, _, d, _ in planned:
                d.errback(failure)
            return
        for _, _, d, _ in planned:
            d.callback(None)

    @defer.inlineCallbacks
    def _attempts(self, planner, args, first=None):
        """Plan the call and send it; plan again and resend on a conflict, up to ``max_attempts``
        transactions in all.  ``first``: ``(operations, replica, generation)`` already planned."""
        for attempt in range(1, self.max_attempts + 1):
            if first is not None:
                (operations, replica, generation), first = first, None
            else:
                replica = self.replica
                generation = replica.generation
                operations = planner(replica, *args)
            try:
                yield self.connection.transact(operations)
            except TransactionError as e:
                if not (isinstance(e, WaitTimedOut) or is_index_conflict(e)):
                    raise
                # Someone changed what we assumed: plan again once the replica shows it.
                if attempt < self.max_attempts:
                    yield self.connection.caught_up(replica, generation, self.conflict_wait)
                continue
            return None
        raise TransactionError("conflict", "the database kept changing under %d attempts" % self.max_attempts)


def _renamed(operations, suffix):
    """``operations`` (made by the planners above) with every uuid-name given ``suffix``, so that
    the plans of several calls can share one transaction.  Named uuids appear where these
    planners put them: an insert's ``uuid-name``, its row's values and mutations' values.  A plan
    that names nothing (a delete) refers to no name either, and is shared as it is."""
    if not any("uuid-name" in op for op in operations):
        return operations
    result = []
    for op in operations:
        if "uuid-name" in op or "row" in op or "mutations" in op:
            op = dict(op)
            if "uuid-name" in op:
                op["uuid-name"] += suffix
            if "row" in op:
                op["row"] = {column: _renamed_value(value, suffix) for column, value in op["row"].items()}
            if "mutations" in op:
                op["mutations"] = [[column, mutator, _renamed_value(value, suffix)]
                                   for column, mutator, value in op["mutations"]]
        result.append(op)
    return result


def _renamed_value(value, suffix):
    if isinstance(value, list) and len(value) == 2:
        kind = value[0]
        if kind == "named-uuid":
            return ["named-uuid", value[1] + suffix]
        if kind == "set":
            return ["set", [_renamed_value(atom, suffix) for atom in value[1]]]
        if kind == "map":
            return ["map", [[_renamed_value(k, suffix), _renamed_value(v, suffix)] for k, v in value[1]]]
    return value
