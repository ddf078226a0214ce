"""The D-Bus adapter: the only module that imports txdbus.

It exports the API described in :mod:`ovsdbus.api` and translates at the border:
D-Bus arguments to calls on :class:`~ovsdbus.vswitch.operations.Operations`, results and
properties to D-Bus values with exact signatures, and every error to a named
D-Bus error (:class:`~ovsdbus.ovsdb.errors.OvsdbusError` by the table of
:mod:`ovsdbus.api.errors`; anything unexpected is logged and answered as
``org.openvswitch.ovsdb.Error.Failed``), so no caller ever sees ``org.txdbus.PythonException.*``.

txdbus connects, authenticates and parses incoming messages.  Everything
ovsdbus sends (replies, errors, signals) is encoded by :mod:`ovsdbus.bus.wire`
from signatures, and method calls are dispatched by :class:`ObjectHandler`,
which works around txdbus's gaps (see shared/TXDBUS-NOTES.md): introspection
names every argument and carries documentation; ObjectManager lives on the root
only and InterfacesAdded/Removed are sent from there; Properties errors are the
standard ones; NO_REPLY_EXPECTED is honoured; a lost bus connection (txdbus
never reconnects) makes the service exit so that its supervisor restarts it.
"""

import collections
import contextlib
import gc
import itertools
import json
import os
from typing import NamedTuple

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.error import ConnectError
from twisted.logger import Logger
from twisted.python.failure import Failure
from txdbus import client as txdbus_client
from txdbus import endpoints as txdbus_endpoints
from txdbus import error as txdbus_error
from txdbus import message as txdbus_message
from txdbus import objects as txdbus_objects

from ovsdbus import api
from ovsdbus.api.errors import FAILED, dbus_error_name
from ovsdbus.bus import signatures
from ovsdbus.bus import wire as dbuswire
from ovsdbus.bus.authorization import MODIFY_ACTION, Authorizer, BusQueries, Credentials, Policy
from ovsdbus.bus.flows import FLOWS_INTERFACE, FLOWS_SPEC, flows_handlers
from ovsdbus.bus.wire import NO_REPLY_EXPECTED
from ovsdbus.ovsdb.errors import AccessDenied, Disconnected, NotFound, NotSupported, OvsdbusError
from ovsdbus.projection.args import DatabaseArgs
from ovsdbus.projection.tree import Objects, ObjectTree
from ovsdbus.projection.view import TreeView, shown_names
from ovsdbus.vswitch.config import opens_remote_control

log = Logger()
# Incoming messages are decoded by txdbus; keep its splits of their signatures.
signatures.install()

PROPERTIES = api.InterfaceSpec(
    "org.freedesktop.DBus.Properties",
    "Standard properties interface; every ovsdbus property is read-only.",
    methods=(
        api.method("Get", [("interface_name", "s"), ("property_name", "s")], [("value", "v")], "Read a property."),
        api.method("GetAll", [("interface_name", "s")], [("properties", "a{sv}")], "Read all properties."),
        api.method("Set", [("interface_name", "s"), ("property_name", "s"), ("value", "v")], [],
                   "Always fails: ovsdbus properties are read-only (PropertyReadOnly)."),
    ),
    signals=(
        api.signal("PropertiesChanged", [("interface_name", "s"), ("changed_properties", "a{sv}"),
                                         ("invalidated_properties", "as")],
                   "The properties that one OVSDB update changed, together."),
    ),
)
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PEER = "org.freedesktop.DBus.Peer"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
DBUS_ERROR = "org.freedesktop.DBus.Error."

_STANDARD_XML = """  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect">
      <arg name="xml_data" type="s" direction="out"/>
    </method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
  </interface>"""

_OBJECT_MANAGER_XML = """  <interface name="org.freedesktop.DBus.ObjectManager">
    <method name="GetManagedObjects">
      <arg name="objects" type="a{oa{sa{sv}}}" direction="out"/>
    </method>
    <signal name="InterfacesAdded">
      <arg name="object" type="o"/>
      <arg name="interfaces" type="a{sa{sv}}"/>
    </signal>
    <signal name="InterfacesRemoved">
      <arg name="object" type="o"/>
      <arg name="interfaces" type="as"/>
    </signal>
  </interface>"""


#: Header flag (the third byte of a message); txdbus does not parse flags.
ALLOW_INTERACTIVE_AUTHORIZATION = 0x4


class Caller(NamedTuple):
    """Who called: the unique bus name, and whether it allows interactive authorization."""

    name: str
    interactive: bool = False


#: Methods answered for every object: (interface, member) or member -> (interface, in signature).
_STANDARD_METHODS = {
    (PEER, "Ping"): (PEER, ""),
    (PEER, "GetMachineId"): (PEER, ""),
    (INTROSPECTABLE, "Introspect"): (INTROSPECTABLE, ""),
    (OBJECT_MANAGER, "GetManagedObjects"): (OBJECT_MANAGER, ""),
}
_STANDARD_METHODS.update({member: value for (_, member), value in list(_STANDARD_METHODS.items())})


class DBusErrorReply(Exception):
    """An error to answer with D-Bus error ``name``."""

    def __init__(self, name, message):
        super().__init__(message)
        self.name = name


def to_dbus_error(failure):
    """``(name, text)`` of the D-Bus error for a Failure (unexpected ones are logged)."""
    e = failure.value
    if isinstance(e, DBusErrorReply):
        return e.name, str(e)
    if isinstance(e, OvsdbusError):
        return dbus_error_name(e), str(e)
    log.failure("unexpected error in a D-Bus call", failure)
    return FAILED, "internal error in ovsdbus (%s); see its log" % e.__class__.__name__


class ExportedObject:
    """An object on the bus.

    :param path: object path.
    :param specs: the :class:`~ovsdbus.api.InterfaceSpec` it implements
        (org.freedesktop.DBus.Properties comes with every object).
    :param handlers: ``{(interface, method): callable}``; a callable receives the
        D-Bus arguments and, last, the :class:`Caller`, and returns the result (or a
        Deferred of it): ``None`` for no output, the value for one.
    :param properties: ``interface -> {name: (signature, value)}``.
    """

    def __init__(self, path, specs, handlers=None, properties=None):
        self.path = path
        self.specs = {s.name: s for s in specs}
        self.specs[PROPERTIES.name] = PROPERTIES
        self.handlers = dict(handlers or {})
        self.properties = properties or (lambda interface: {})
        self.handlers[(PROPERTIES.name, "Get")] = self._get_property
        self.handlers[(PROPERTIES.name, "GetAll")] = self._get_all_properties
        self.handlers[(PROPERTIES.name, "Set")] = self._set_property

    # txdbus asks exported objects for these
    def getObjectPath(self):
        return self.path

    def setObjectHandler(self, handler):
        pass

    def find_method(self, interface, member, signature=None):
        """``(interface, MethodSpec)`` for a call, or None.  Without an interface: the first
        interface whose method of that name takes ``signature``, else the first that has one
        (``Get`` is both Properties.Get and Database.Get on the root)."""
        names = [interface] if interface else list(self.specs)
        found = []
        for name in names:
            spec = self.specs.get(name)
            if spec is not None:
                found += [(name, m) for m in spec.methods if m.name == member]
        for name, m in found:
            if m.in_signature == signature:
                return name, m
        return found[0] if found else None

    def introspection_xml(self):
        """The ``<interface>`` elements of this object."""
        return "\n".join(api.interface_xml(s) for s in self.specs.values())

    def _own_properties(self, interface_name):
        if interface_name not in self.specs or interface_name == PROPERTIES.name:
            raise DBusErrorReply(DBUS_ERROR + "UnknownInterface",
                                 "%s has no interface %s" % (self.path, interface_name))
        return self.properties(interface_name)

    def _get_property(self, interface_name, property_name, sender):
        values = self._own_properties(interface_name)
        if property_name not in values:
            raise DBusErrorReply(DBUS_ERROR + "UnknownProperty",
                                 "%s has no property %s" % (interface_name, property_name))
        sig, value = values[property_name]
        return sig, value.resolve() if hasattr(value, "resolve") else value

    def _get_all_properties(self, interface_name, sender):
        return resolved(self._own_properties(interface_name))

    def _set_property(self, interface_name, property_name, value, sender):
        self._get_property(interface_name, property_name, sender)
        raise DBusErrorReply(DBUS_ERROR + "PropertyReadOnly", "%s.%s is read-only" % (interface_name, property_name))


def resolved(properties):
    """``properties`` with every lazily computed value (see :class:`~ovsdbus.projection.view.LazyPaths`) computed."""
    return {name: (sig, value.resolve() if hasattr(value, "resolve") else value)
            for name, (sig, value) in properties.items()}


def _close_passed_fds(bus_connection):
    """Close the file descriptors callers pass along with messages.

    txdbus keeps every passed fd and never closes it, and ovsdbus takes none: without
    this, any caller could use up the service's descriptors by attaching one to each call.
    The fds a message declares are at the head of the list when it is parsed.
    """
    parse = bus_connection.rawDBusMessageReceived

    def parse_and_close(raw):
        held = list(bus_connection._receivedFDs)
        try:
            parse(raw)
        finally:
            remaining = len(bus_connection._receivedFDs)
            for fd in held[:len(held) - remaining]:
                try:
                    os.close(fd)
                except OSError:
                    pass

    bus_connection.rawDBusMessageReceived = parse_and_close


def _next_serial():
    # One counter with txdbus's own messages, so serials never repeat on the connection.
    serial = txdbus_message.DBusMessage._nextSerial
    txdbus_message.DBusMessage._nextSerial = serial + 1
    return serial


class ObjectHandler(txdbus_objects.DBusObjectHandler):
    """Dispatches incoming method calls to :class:`ExportedObject` and encodes the answers.

    - Introspect names every argument and advertises ObjectManager only on the manager;
    - GetManagedObjects is answered only on the manager's path, with the body that
      ``managed_objects_body()`` encodes;
    - exporting and unexporting send nothing: the service sends InterfacesAdded/Removed
      from the manager's path, where GLib's object manager client listens.
    """

    def __init__(self, connection, manager_path, managed_objects_body, before_reply=lambda: None, objects=None):
        super().__init__(connection)
        self.manager_path = manager_path
        self.managed_objects_body = managed_objects_body
        #: The objects made when a call reaches them rather than exported one by one: anything with
        #: ``at(path) -> ExportedObject or None`` and ``paths()`` (the service's tree of rows, where
        #: tens of thousands of objects held as ExportedObjects would cost megabytes for nothing).
        self.objects = objects
        #: Called before each reply is sent: the service sends the signals it still holds, so a
        #: caller has heard of every change made before the answer it gets.
        self.before_reply = before_reply

    def exportObject(self, dbusObject):
        self.exports[dbusObject.getObjectPath()] = dbusObject

    def unexportObject(self, objectPath):
        self.exports.pop(objectPath, None)

    def object_at(self, path):
        """The object at ``path``: an exported one, or one of :attr:`objects`; None if there is none."""
        obj = self.exports.get(path)
        if obj is None and self.objects is not None:
            obj = self.objects.at(path)
        return obj

    def send(self, raw):
        """Write one encoded message to the bus."""
        transport = self.conn.transport
        if transport is not None:
            transport.write(raw)

    def send_signal(self, path, interface, member, signature, body, raw_body=None):
        """Emit a signal (``raw_body``: its body already encoded)."""
        self.send(dbuswire.signal(_next_serial(), path, interface, member, signature, body, raw_body))

    @staticmethod
    def _flags(msg):
        return msg.rawHeader[2] if msg.rawHeader else 0

    def _reply(self, msg, signature="", body=(), raw_body=None):
        if not self._flags(msg) & NO_REPLY_EXPECTED:
            self.before_reply()
            self.send(dbuswire.method_return(_next_serial(), msg.serial, msg.sender, signature, body, raw_body))

    def _error(self, msg, name, text):
        if not self._flags(msg) & NO_REPLY_EXPECTED:
            self.before_reply()
            self.send(dbuswire.error(_next_serial(), msg.serial, msg.sender, name, text))

    def handleMethodCallMessage(self, msg):
        try:
            self._dispatch(msg)
        except Exception as e:
            # Nothing may escape into txdbus: it would drop the bus connection.
            self._method_failed(Failure(e), msg)

    def _dispatch(self, msg):
        interface, member, path = msg.interface, msg.member, msg.path
        signature = msg.signature or ""
        standard = _STANDARD_METHODS.get((interface, member))
        if standard is None and interface is None:
            standard = _STANDARD_METHODS.get(member)
        if standard is not None:
            interface, in_signature = standard
            if signature != in_signature:
                return self._error(msg, DBUS_ERROR + "InvalidArgs", "%s takes (%s), not (%s)"
                                   % (member, in_signature, signature))
            if member == "Ping":
                return self._reply(msg)
            if member == "GetMachineId":
                return self._reply(msg, "s", [self.machine_id()])
            if member == "Introspect":
                xml = self.introspect(path)
                if xml is None:
                    return self._error(msg, DBUS_ERROR + "UnknownObject", "no object at %s" % path)
                return self._reply(msg, "s", [xml])
            if path != self.manager_path:
                return self._error(msg, DBUS_ERROR + "UnknownInterface", "%s is not an object manager" % path)
            return self._reply(msg, "a{oa{sa{sv}}}", raw_body=self.managed_objects_body())
        obj = self.object_at(path)
        if obj is None:
            return self._error(msg, DBUS_ERROR + "UnknownObject", "no object at %s" % path)
        if interface is not None and interface not in obj.specs:
            return self._error(msg, DBUS_ERROR + "UnknownInterface", "%s has no interface %s" % (path, interface))
        found = obj.find_method(interface, member, signature)
        if found is None:
            return self._error(msg, DBUS_ERROR + "UnknownMethod", "%s has no method %s.%s"
                               % (path, interface or "(any interface)", member))
        interface, method = found
        if signature != method.in_signature:
            return self._error(msg, DBUS_ERROR + "InvalidArgs", "%s takes (%s), not (%s)"
                               % (member, method.in_signature, signature))
        handler = obj.handlers[(interface, member)]
        caller = Caller(msg.sender, bool(self._flags(msg) & ALLOW_INTERACTIVE_AUTHORIZATION))
        d = defer.maybeDeferred(handler, *(list(msg.body or ()) + [caller]))
        d.addCallbacks(self._method_returned, self._method_failed, (msg, method), None, (msg,), None)

    def _method_returned(self, result, msg, method):
        signature = method.out_signature
        try:
            self._reply(msg, signature, [result] if signature else [])
        except Exception as e:
            self._method_failed(Failure(e), msg)

    def _method_failed(self, failure, msg):
        name, text = to_dbus_error(failure)
        if self._flags(msg) & NO_REPLY_EXPECTED:
            # Nobody hears this error, so say it here.  (A caller that leaves right after
            # sending cannot even be identified: its write is refused as AccessDenied.)
            log.warn("{member} from {sender} (no reply expected) failed: {name}: {text}",
                     member=msg.member, sender=msg.sender, name=name, text=text)
        self._error(msg, name, text)

    @staticmethod
    def machine_id():
        """This machine's D-Bus machine id (for Peer.GetMachineId)."""
        for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
            try:
                with open(path) as f:
                    return f.read().strip()
            except OSError:
                continue
        raise DBusErrorReply(DBUS_ERROR + "FileNotFound", "this machine has no machine id")

    def introspect(self, path):
        """Introspection XML of ``path``: its interfaces and direct children; None if nothing is there."""
        obj = self.object_at(path)
        prefix = path if path.endswith("/") else path + "/"
        paths = itertools.chain(self.exports, self.objects.paths() if self.objects is not None else ())
        children = sorted({p[len(prefix):].partition("/")[0] for p in paths if p.startswith(prefix)})
        if obj is None and not children:
            return None
        lines = ['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"',
                 ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
                 '<node name="%s">' % path]
        if obj is not None:
            lines.append(obj.introspection_xml())
            lines.append(_STANDARD_XML)
            if path == self.manager_path:
                lines.append(_OBJECT_MANAGER_XML)
        lines += ['  <node name="%s"/>' % c for c in children]
        lines.append("</node>")
        return "\n".join(lines)


class RootObject(ExportedObject):
    """``/org/openvswitch/ovsdb``: the ``org.openvswitch.ovsdb`` interface over :class:`Operations`
    and, given a ``database`` (the vswitch ``Database`` facade), ``org.openvswitch.ovsdb.Database``.

    Mutating methods (``mutating`` in their :class:`~ovsdbus.api.MethodSpec`) first ask
    ``authorize(caller)`` (a Deferred that fails with AccessDenied), so a refused call never
    reaches OVSDB.  ``paths()`` gives the object tree, whose ``path_of(table, uuid)`` and
    ``uuid_of_path(path)`` show references as object paths and resolve them.
    """

    def __init__(self, operations, connection, authorize, database=None, paths=lambda: None):
        self.operations = operations
        self.connection = connection
        self.database = database
        self.paths = paths

        def bind(spec, handler):
            if not spec.mutating:
                return handler
            names = [a.name for a in spec.inputs]

            def call(*args):
                *args, caller = args
                d = authorize(caller, action_of(spec, dict(zip(names, args, strict=False))))
                d.addCallback(lambda _: handler(*args, caller))
                return d
            return call

        i = api.INTERFACE
        root = {
            "CreateBridge": lambda name, caller: operations.create_bridge(name),
            "DeleteBridge": lambda name, caller: operations.delete_bridge(name),
            "AddPort": lambda bridge, port, caller: operations.add_port(bridge, port),
            "DeletePort": lambda bridge, port, caller: operations.delete_port(bridge, port),
            "BridgeExists": lambda name, caller: operations.bridge_exists(name),
            # Names D-Bus cannot carry are left out, as from the object tree (see ovsdbus.projection.view).
            "ListBridges": lambda caller: shown_names(operations.list_bridges()),
            "ListBridgePorts": lambda bridge, caller: shown_names(operations.list_bridge_ports(bridge)),
        }
        for m in api.CONFIG_METHODS:
            root[m.name] = self._config_call(m)
        handlers = {(i, m.name): bind(m, root[m.name]) for m in api.ROOT_SPEC.methods}
        if database is not None:
            for m in api.DATABASE_SPEC.methods:
                handlers[(api.DATABASE_INTERFACE, m.name)] = bind(m, self._database_call(m))
        super().__init__(api.OBJECT_PATH, [api.ROOT_SPEC], handlers,
                         properties=lambda interface: {"Connected": ("b", connection.synced),
                                                       "ClusterMember": ("s", connection.member),
                                                       "Leader": ("b", connection.leader)}
                         if interface == api.INTERFACE else {})
        if database is not None:
            # After org.freedesktop.DBus.Properties: a client proxy that picks a method by name alone
            # (txdbus's callRemote("Get", ...)) keeps finding Properties.Get and Properties.Set.
            self.specs[api.DATABASE_INTERFACE] = api.DATABASE_SPEC

    # -- org.openvswitch.ovsdb.Database ----------------------------------------------------

    def _converter(self):
        replica = self.connection.replica
        if not self.connection.synced or replica is None:
            raise Disconnected("not connected to ovsdb-server")
        paths = self.paths()

        def path_of(table, uuid):
            path = paths.path_of(table, uuid) if paths is not None else None
            return None if path in (None, "/") else path

        def uuid_of_path(path):
            # (table, uuid): the type mapping checks the row is of the column's table.
            finder = getattr(paths, "key_at", None)
            key = finder(path) if finder is not None else None
            if key is None:
                raise NotFound("no object at %s" % path)
            return key

        return DatabaseArgs(replica.schema, path_of, uuid_of_path)

    def _database_call(self, method):
        names = [a.name for a in method.inputs]
        run = getattr(self, "_db_" + method.name)

        def call(*args):
            *args, _caller = args
            return defer.maybeDeferred(run, dict(zip(names, args, strict=True)))
        return call

    def _config_call(self, method):
        """The handler of configuration method ``method``: one command of a Transact."""
        names = [a.name for a in method.inputs]
        output = method.outputs[0].signature if method.outputs else None

        def run(args):
            if self.database is None:
                raise NotSupported("not supported", "%s needs the database verbs, which this service has not"
                                   % method.name)
            command, options = self._converter().method_call(method.name, args)
            d = defer.maybeDeferred(self.database.transact, [(method.name, command)], options)
            if output is None:
                return d.addCallback(lambda results: None)
            return d.addCallback(lambda results: results[0]["value"])

        def call(*args):
            *args, _caller = args
            return defer.maybeDeferred(run, dict(zip(names, args, strict=True)))
        return call

    # Reads are answered from the replica at once (the Database facade's reads return values),
    # without Deferreds: the shortest path, for the most frequent calls.

    def _db_Get(self, args):
        conv = self._converter()
        a = conv.call_args("Get", args)
        return _then(self.database.get(a["table"], a["record"], a["columns"]), lambda v: conv.row(a["table"], v))

    def _db_List(self, args):
        conv = self._converter()
        a = conv.call_args("List", args)
        return _then(self.database.list(a["table"], a["columns"]), lambda rows: conv.rows(a["table"], rows))

    def _db_Find(self, args):
        conv = self._converter()
        a = conv.call_args("Find", args)
        return _then(self.database.find(a["table"], a["conditions"], a["columns"]),
                     lambda rows: conv.rows(a["table"], rows))

    def _db_Set(self, args):
        a = self._converter().call_args("Set", args)
        return _no_result(self.database.set(a["table"], a["record"], a["values"], a["key_values"]))

    def _db_Add(self, args):
        a = self._converter().call_args("Add", args)
        return _no_result(self.database.add(a["table"], a["record"], a["column"], a["values"]))

    def _db_Remove(self, args):
        a = self._converter().call_args("Remove", args)
        return _no_result(self.database.remove(a["table"], a["record"], a["column"], a["values"]))

    def _db_Clear(self, args):
        a = self._converter().call_args("Clear", args)
        return _no_result(self.database.clear(a["table"], a["record"], a["columns"]))

    def _db_Create(self, args):
        a = self._converter().call_args("Create", args)
        return defer.maybeDeferred(self.database.create, a["table"], a["values"]).addCallback(str)

    def _db_Destroy(self, args):
        a = self._converter().call_args("Destroy", args)
        return _no_result(self.database.destroy(a["table"], a["records"]))

    def _db_WaitUntil(self, args):
        a = self._converter().call_args("WaitUntil", args)
        return _no_result(self.database.wait_until(a["table"], a["record"], a["conditions"], a["timeout"]))

    def _db_Transact(self, args):
        conv = self._converter()
        commands, options = conv.transact(args["commands"], args["options"])
        d = defer.maybeDeferred(self.database.transact, commands, options)
        return d.addCallback(lambda results: conv.results(commands, results))

    def _db_GetSchema(self, args):
        self._converter()
        schema = self.database.schema_json()
        return schema if isinstance(schema, str) else json.dumps(schema, sort_keys=True)


def action_of(spec, args):
    """The polkit action a call of mutating method ``spec`` with ``args`` (by name, as received)
    needs: the method's own, or, for a generic write (or a Transact holding one, or holding a
    method that needs it) that touches remote control, :data:`api.MODIFY_REMOTE_ACTION`."""
    if spec.action == api.MODIFY_REMOTE_ACTION:
        return spec.action
    if spec.name == "Transact":
        verbs = api.batch_verbs()
        commands = args.get("commands")
        for command in commands if isinstance(commands, (list, tuple)) else ():
            if not (isinstance(command, (list, tuple)) and len(command) == 2):
                continue
            verb, command_args = command
            sub = verbs.get(verb) if isinstance(verb, str) else None
            if (sub is not None and sub.action == api.MODIFY_REMOTE_ACTION) or \
                    opens_remote_control(verb, command_args):
                return api.MODIFY_REMOTE_ACTION
        return spec.action or MODIFY_ACTION
    if opens_remote_control(spec.name, args):
        return api.MODIFY_REMOTE_ACTION
    return spec.action or MODIFY_ACTION


@contextlib.contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector for a burst of allocations that free almost nothing.

    Following a large update allocates hundreds of thousands of objects that stay (the
    properties of thousands of new objects): the collector, which runs every few hundred
    allocations, would walk the growing heap over and over (more than half the time of building
    20 000 objects).  It collects as usual once the burst is over.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _then(result, f):
    """``f(result)``, or, when ``result`` is a Deferred, a Deferred of it."""
    if isinstance(result, defer.Deferred):
        return result.addCallback(f)
    return f(result)


def _no_result(result):
    """``None`` once ``result`` (a value or a Deferred) is there: methods without output."""
    return defer.maybeDeferred(lambda: result).addCallback(lambda _: None)


DBUS_DAEMON = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
POLKIT = ("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
          "org.freedesktop.PolicyKit1.Authority")


class UncheckableCall(Exception):
    """A call whose reply could not be told from a forgery (sent to a well-known name directly)."""


def _answers_for_itself(name):
    # The bus daemon and unique names (":1.42") are the senders of their own replies; a
    # well-known name is not: the reply comes from whichever unique name owns it.
    return name == DBUS_DAEMON[0] or name.startswith(":")


class CheckedReplyConnection(txdbus_client.DBusClientConnection):
    """A txdbus client connection that takes a reply only from the peer the call went to.

    txdbus pairs a method return or error with its call by reply serial alone.  Serials are
    sequential and visible in every message the service sends, and a bus whose policy forwards
    unrequested replies (a session-style bus with ``<allow send_destination="*"/>``) delivers
    any peer's "reply" to the service: a caller could answer ``GetConnectionCredentials`` about
    itself with "uid 0" before the bus daemon does.  The bus daemon sets the sender of every
    message it routes, so the sender cannot be forged, and here it must match:

    - a reply to the bus daemon's methods must come from ``org.freedesktop.DBus``;
    - a reply to a unique name must come from that name (an error may also come from the bus
      daemon, which answers for a peer that has gone or did not answer in time);
    - a call to a well-known name (polkit's) is sent to its owner's unique name, asked first
      with ``GetNameOwner`` (itself checked; a bus-activatable name is started first).

    Anything else is dropped, logged once per call, and the genuine reply still completes the
    call.  Calls built by hand for a well-known name (``callRemoteMessage``) fail with
    :class:`UncheckableCall`.
    """

    def connectionAuthenticated(self):
        self._repliers = {}      # serial of a call awaiting its reply -> the only sender to take it from
        self._forgeries = set()  # serials of calls whose forged replies have been logged
        super().connectionAuthenticated()  # sends Hello, through callRemoteMessage

    def callRemote(self, objectPath, methodName, interface=None, destination=None, **kwargs):
        """txdbus's ``callRemote``; a well-known ``destination`` is resolved to its owner first."""
        call = super().callRemote
        if destination is None or _answers_for_itself(destination):
            return call(objectPath, methodName, interface=interface, destination=destination, **kwargs)
        d = self._owner_of(destination, kwargs.get("autoStart", True), kwargs.get("timeout"))
        d.addCallback(lambda owner: call(objectPath, methodName, interface=interface, destination=owner, **kwargs))
        return d

    def _bus_call(self, member, signature, body, return_signature, timeout):
        destination, path, interface = DBUS_DAEMON
        return super().callRemote(path, member, interface=interface, destination=destination,
                                  signature=signature, body=body, timeout=timeout,
                                  returnSignature=return_signature)

    @defer.inlineCallbacks
    def _owner_of(self, name, auto_start, timeout):
        try:
            owner = yield self._bus_call("GetNameOwner", "s", [name], "s", timeout)
        except txdbus_error.RemoteError as e:
            if not auto_start or e.errName != "org.freedesktop.DBus.Error.NameHasNoOwner":
                raise
            yield self._bus_call("StartServiceByName", "su", [name, 0], "u", timeout)
            owner = yield self._bus_call("GetNameOwner", "s", [name], "s", timeout)
        return owner

    def callRemoteMessage(self, mcall, timeout=None):
        """txdbus's ``callRemoteMessage``, noting whose reply to take."""
        if mcall.expectReply:
            if mcall.destination is not None and not _answers_for_itself(mcall.destination):
                return defer.fail(UncheckableCall("a reply from the owner of %s cannot be told from a forgery; "
                                                  "call its unique name" % mcall.destination))
            self._repliers[mcall.serial] = mcall.destination
        return super().callRemoteMessage(mcall, timeout)

    def _onMethodTimeout(self, serial, d):
        self._settled(serial)
        super()._onMethodTimeout(serial, d)

    def connectionLost(self, reason):
        self._repliers, self._forgeries = {}, set()
        super().connectionLost(reason)

    def _settled(self, serial):
        self._repliers.pop(serial, None)
        self._forgeries.discard(serial)

    def _genuine(self, reply, kind):
        serial = reply.reply_serial
        if serial not in self._pendingCalls:
            return False  # nobody waits for it (txdbus drops it too)
        expected = self._repliers.get(serial)
        if reply.sender is not None and (reply.sender == expected or
                                         (kind == "error" and reply.sender == DBUS_DAEMON[0])):
            self._settled(serial)
            return True
        if serial not in self._forgeries:
            self._forgeries.add(serial)
            log.warn("dropped a forged {kind} to call {serial} (for {expected}) from {sender}",
                     kind=kind, serial=serial, expected=expected, sender=reply.sender)
        return False

    def methodReturnReceived(self, mret):
        if self._genuine(mret, "method return"):
            super().methodReturnReceived(mret)

    def errorReceived(self, merr):
        if self._genuine(merr, "error"):
            super().errorReceived(merr)


class _CheckedClientFactory(txdbus_client.DBusClientFactory):
    protocol = CheckedReplyConnection


def connect(reactor, bus_address):
    """Deferred :class:`CheckedReplyConnection` to ``bus_address`` (``system``, ``session`` or a
    D-Bus address), once the bus has said Hello: ``txdbus.client.connect`` with the checked
    connection, trying each address of a list in turn."""
    factory = _CheckedClientFactory()
    try:
        endpoints = list(txdbus_endpoints.getDBusEndpoints(reactor, bus_address))
    except Exception:
        return defer.fail()
    if not endpoints:
        return defer.fail(ConnectError(string="no usable D-Bus address in %r" % (bus_address,)))

    def try_next(failure):
        if not endpoints:
            raise ConnectError(string="cannot connect to the bus: %s" % failure.getErrorMessage())
        return endpoints.pop(0).connect(factory).addErrback(try_next)

    d = try_next(None)
    d.addCallback(lambda _protocol: factory.getConnection())
    return d


class TxdbusBusQueries(BusQueries):
    """:class:`~ovsdbus.bus.authorization.BusQueries` over a txdbus connection.

    The connection must be a :class:`CheckedReplyConnection` (as :func:`connect` makes), so
    that every answer comes from the bus daemon or polkit and not from a caller; answers of
    the wrong shape refuse (AccessDenied, or False for polkit), never allow.
    """

    def __init__(self, bus_connection):
        self.bus_connection = bus_connection

    def _call(self, target, member, signature="", body=(), returns=None):
        destination, path, interface = target
        kwargs = {} if returns is None else {"returnSignature": returns}
        return self.bus_connection.callRemote(path, member, interface=interface, destination=destination,
                                              signature=signature or None, body=list(body) or None, **kwargs)

    @defer.inlineCallbacks
    def credentials(self, bus_name):
        try:
            info = yield self._call(DBUS_DAEMON, "GetConnectionCredentials", "s", [bus_name], returns="a{sv}")
        except Exception as e:
            raise AccessDenied("cannot identify the caller %s: %s" % (bus_name, e)) from None
        uid = info.get("UnixUserID") if isinstance(info, dict) else None
        if uid is None:
            raise AccessDenied("the bus does not tell the uid of %s" % bus_name)
        gids = info.get("UnixGroupIDs", [])
        if not isinstance(gids, list) or not all(isinstance(g, int) for g in gids):
            raise AccessDenied("the bus tells the groups of %s as %r, not as a list of ids" % (bus_name, gids))
        return Credentials(uid, gids)

    @defer.inlineCallbacks
    def polkit_present(self):
        try:
            present = yield self._call(DBUS_DAEMON, "NameHasOwner", "s", [POLKIT[0]], returns="b")
        except Exception:
            return False
        if present is True:
            return True
        # polkit may be bus-activatable without running yet.
        try:
            activatable = yield self._call(DBUS_DAEMON, "ListActivatableNames", returns="as")
        except Exception:
            return False
        return isinstance(activatable, list) and POLKIT[0] in activatable

    @defer.inlineCallbacks
    def polkit_allows(self, bus_name, action, interactive):
        subject = ("system-bus-name", {"name": bus_name})
        flags = 1 if interactive else 0
        try:
            # Sent to polkit's unique name, asked of the bus daemon first (CheckedReplyConnection).
            result = yield self._call(POLKIT, "CheckAuthorization", "(sa{sv})sa{ss}us",
                                      [subject, action, {}, flags, ""], returns="(bba{ss})")
            # The reply is one struct (bba{ss}); txdbus hands back the whole body for a
            # reply whose only value is a struct: [[is_authorized, is_challenge, details]].
            [(authorized, _challenge, _details)] = result
        except Exception as e:
            log.warn("polkit CheckAuthorization failed: {error}", error=e)
            return False
        return authorized is True


def object_tree(quiet=None, legacy=None, membership=None):
    """The objects the service shows: every row of every monitored table with its generated
    interface (:class:`~ovsdbus.projection.tree.ObjectTree`; ``quiet``: ``{table: columns}`` never
    announced), and, given ``legacy`` declarations (``{table: Kind}``, as
    :data:`ovsdbus.api.legacy.LEGACY`), on the same objects the interfaces they declare, shown by a
    :class:`~ovsdbus.projection.view.TreeView` that also gives the root signals ``membership``
    declares (as :data:`ovsdbus.api.legacy.MEMBERSHIP_SIGNALS`).  Those interfaces must be among
    :data:`ovsdbus.api.ALL`.  Without ``legacy``, the generic tree alone (any database)."""
    projections = [(ObjectTree(quiet), None)]
    if legacy:
        published = {spec.name: spec for spec in api.ALL}
        unknown = sorted({kind.interface for kind in legacy.values()} - published.keys())
        if unknown:
            raise ValueError("no published interface %s" % ", ".join(unknown))
        specs = {kind.interface: published[kind.interface] for kind in legacy.values()}
        projections.append((TreeView(legacy, membership or (), warn=False), specs))
    elif membership:
        raise ValueError("membership signals need the legacy declarations they follow")
    return Objects(projections)


class BusService(Service):
    """Connects to the bus, exports the objects, owns ``org.openvswitch.ovsdb`` and
    turns every replica change into signals.

    The name is asked for only once the connection has settled (see
    :meth:`~ovsdbus.ovsdb.connection.OvsdbConnection.when_settled`): after the first sync, whose
    objects are then all there when the name appears (with ``Connected`` true) and are never
    announced, or after the first attempt to reach ovsdb-server failed (``Connected`` false; a
    later sync announces its objects as usual).  Until then no client can follow the tree (object
    managers and name watchers only listen to the name's owner), so nothing is announced.

    :param reactor: the reactor (txdbus needs one to connect).
    :param bus: ``system``, ``session`` or a D-Bus address.
    :param connection: the :class:`~ovsdbus.ovsdb.connection.OvsdbConnection` to follow.
    :param operations: the :class:`~ovsdbus.vswitch.operations.Operations` to serve.
    :param on_bus_lost: called with a text saying what happened when the bus connection
        fails or is lost, or the name cannot be owned; it logs that text (not as an error
        when the process is being stopped anyway, as at system shutdown) and the plugin
        stops the process then.
    :param policy: the :class:`~ovsdbus.bus.authorization.Policy` for mutating calls.
    :param database: the :class:`~ovsdbus.vswitch.batch.Database` facade behind
        ``org.openvswitch.ovsdb.Database`` (without it, that interface is not exported).
    :param objects: the :class:`~ovsdbus.projection.tree.Objects` to show (default:
        :func:`object_tree` with no quiet columns).
    """

    def __init__(self, reactor, bus, connection, operations, on_bus_lost, policy=None, database=None,
                 objects=None, flows=None):
        self.reactor = reactor
        #: The :class:`~ovsdbus.openflow.keeper.FlowService` behind org.openvswitch.ovsdb.Flows on each
        #: bridge object (None: that interface is not exported).
        self.flows = flows
        self.bus = bus
        self.connection = connection
        self.operations = operations
        self.on_bus_lost = on_bus_lost
        self.policy = policy or Policy()
        self.authorizer = None
        self.handler = None
        self.root = RootObject(operations, connection, self.authorize, database, paths=lambda: self.view)
        self.view = objects if objects is not None else object_tree()
        self._encoded = {}   # path -> its encoded GetManagedObjects entry, until it changes
        self._bus_connection = None
        self._stopping = False
        self._outbox = collections.deque()
        self._flush_call = None
        #: True from the moment the bus name is asked for: from then on every change is announced
        #: (before, nobody can follow the tree, see the class's documentation).
        self.announcing = False
        connection.add_observer(self._replica_changed)
        self._announced_member = ("", False)   # ClusterMember and Leader as clients last heard them
        connection.add_state_observer(self._state_changed)
        connection.add_member_observer(self._member_changed)
        if flows is not None:
            def flows_changed(bridge, cookie):
                replica = self.connection.replica
                uuid = replica.find("Bridge", name=bridge) if replica is not None else None
                path = self.view.path_of("Bridge", uuid) if uuid is not None else None
                if path and path != "/":
                    self._send(path, FLOWS_INTERFACE, "FlowsChanged", "st", [bridge, cookie])
            flows.add_listener(flows_changed)

    # -- following the replica ----------------------------------------------------

    def _replica_changed(self, changes):
        with _collector_paused():
            self._follow(changes)

    def _follow(self, changes):
        announcing = self.announcing and self.handler is not None
        if not announcing:
            # Nobody can follow the tree yet (the bus name is not owned): it is brought up to date
            # and nothing is said or kept (an entry encoded for a call by unique name may be stale).
            self.view.update(self.connection.replica, changes, announce=False)
            self._encoded.clear()
            return
        delta = self.view.update(self.connection.replica, changes)
        for path, interfaces in delta.removed:
            self._encoded.pop(path, None)
            if announcing:
                if self.flows is not None and api.BRIDGE_SPEC.name in interfaces:
                    interfaces = sorted(interfaces + [FLOWS_INTERFACE])
                self._send(api.OBJECT_PATH, OBJECT_MANAGER, "InterfacesRemoved", "oas", [path, interfaces])
        for path, interfaces in delta.added:
            self._encoded.pop(path, None)
            if announcing:
                interfaces = self._with_flows(interfaces)
                # The body of InterfacesAdded is, byte for byte, the object's GetManagedObjects
                # entry: encoded once, here (the values as they are now), and kept for both.
                entry = self._encode_object(path, interfaces)
                if entry is not None:
                    if interfaces.keys() == self._interfaces_at(path).keys():
                        self._encoded[path] = entry
                    self._send(api.OBJECT_PATH, OBJECT_MANAGER, "InterfacesAdded", "oa{sa{sv}}", None, entry)
        for change in delta.changed:
            self._encoded.pop(change.path, None)
            if change.changed or change.invalidated:
                self._send(change.path, PROPERTIES.name, "PropertiesChanged", "sa{sv}as",
                           [change.interface, change.changed, change.invalidated])
        for signal in delta.signals:
            self._send(api.OBJECT_PATH, api.INTERFACE, signal.name, "s" * len(signal.args), list(signal.args))
        self._flush()

    def _with_flows(self, interfaces):
        """``interfaces`` (``{interface: properties}`` of an object), with org.openvswitch.ovsdb.Flows
        (no properties) next to org.openvswitch.ovsdb.Bridge when the Flows interface is served."""
        if self.flows is not None and api.BRIDGE_SPEC.name in interfaces:
            return dict(interfaces, **{FLOWS_INTERFACE: {}})
        return interfaces

    def _interfaces_at(self, path):
        """Every interface of the object at ``path`` with its properties, as ObjectManager lists them."""
        return self._with_flows(self.view.interfaces_at(path))

    def paths(self):
        """The paths of the objects of the tree (for Introspect's child nodes)."""
        return self.view.paths()

    def at(self, path):
        """The object at ``path`` with the interfaces it shows now, made for one call (None if there is
        none): the tree's objects are not kept as ExportedObjects (see :class:`ObjectHandler`)."""
        interfaces = self.view.interfaces_at(path)
        if not interfaces:
            return None
        specs = [self.view.spec(i) for i in sorted(interfaces)]
        handlers = {}
        if self.flows is not None and api.BRIDGE_SPEC.name in interfaces:
            # org.openvswitch.ovsdb.Flows next to org.openvswitch.ovsdb.Bridge, for the bridge shown there.
            def bridge_name(path=path):
                shown = self.view.interfaces_at(path).get(api.BRIDGE_SPEC.name)
                if not shown or "Name" not in shown:
                    raise NotFound("no bridge at %s" % path)
                return shown["Name"][1]
            specs.append(FLOWS_SPEC)
            handlers = flows_handlers(self.flows, bridge_name, self.authorize)
        return ExportedObject(path, specs, handlers,
                              properties=lambda iface, path=path: self.view.interfaces_at(path).get(iface, {}))

    def _state_changed(self, synced):
        # One PropertiesChanged for Connected and, when they changed with it, where ovsdbus is.
        changed = {"Connected": ("b", synced)}
        changed.update(self._member_properties(self.connection.member, self.connection.leader))
        self._send(api.OBJECT_PATH, PROPERTIES.name, "PropertiesChanged", "sa{sv}as",
                   [api.INTERFACE, changed, []])

    def _member_changed(self, member, leader):
        changed = self._member_properties(member, leader)
        if changed:
            self._send(api.OBJECT_PATH, PROPERTIES.name, "PropertiesChanged", "sa{sv}as",
                       [api.INTERFACE, changed, []])

    def _member_properties(self, member, leader):
        """The root properties ClusterMember and Leader that differ from those last announced."""
        changed = {}
        if member != self._announced_member[0]:
            changed["ClusterMember"] = ("s", member)
        if leader != self._announced_member[1]:
            changed["Leader"] = ("b", leader)
        self._announced_member = (member, leader)
        return changed

    def managed_objects_body(self):
        """The encoded body of the root's ``GetManagedObjects`` reply: every object (every row of
        every monitored table, see :mod:`ovsdbus.projection.tree`).

        The entry of an object announced with InterfacesAdded is the bytes that signal carried,
        kept until the object changes (a client that reads the tree after hearing of new objects
        costs little more than copying bytes); the others are encoded for each call and not kept:
        every entry of a large tree kept would cost tens of megabytes for good (26 MB at 10 000
        ports), more than the rest of the service holds for those objects.  The whole body is not
        kept either.

        A tree too large for one D-Bus message (every column of every row: from about 12 000
        ports on) is refused with ``org.freedesktop.DBus.Error.LimitsExceeded`` before the body
        is made.
        """
        encoded = self._encoded
        # shown() gives (path, interface, properties), an object's interfaces next to each other.
        objects = itertools.groupby(self.view.shown(), key=lambda entry: entry[0])
        seen = [0]

        def entries():
            for path, shown in objects:
                seen[0] += 1
                entry = encoded.get(path)
                if entry is None:
                    entry = self._encode_object(path, self._with_flows({interface: props
                                                                        for _, interface, props in shown}))
                    if entry is None:
                        continue  # one object is left out, the others are still answered
                yield entry
        try:
            # The header takes a few hundred bytes.
            return dbuswire.array_of_entries(entries(), max_length=dbuswire.MAX_MESSAGE_SIZE - 4096)
        except dbuswire.BodyTooLarge:
            count = seen[0] + sum(1 for _ in objects)
            raise DBusErrorReply(DBUS_ERROR + "LimitsExceeded",
                                 "the %d objects take more than the %d bytes one D-Bus message may hold: read "
                                 "them with org.openvswitch.ovsdb.Database, or each with Properties.GetAll"
                                 % (count, dbuswire.MAX_MESSAGE_SIZE)) from None

    @staticmethod
    def _encode_object(path, interfaces):
        """The encoded ``oa{sa{sv}}`` of an object (its GetManagedObjects entry, and the body of
        its InterfacesAdded), lazily computed values computed now (by the encoder); None, logged,
        if a value cannot be encoded (one the view should have made sendable)."""
        try:
            return dbuswire.encode_entry("oa{sa{sv}}", path, interfaces)
        except (ValueError, TypeError, UnicodeError, OverflowError) as e:
            log.error("cannot encode object {path}: {error}", path=path, error=e)
            return None

    #: Seconds to connect to the bus, authenticate and be greeted.
    BUS_CONNECT_TIMEOUT = 30

    #: Signals encoded and written per reactor turn, so a large burst never holds up the service.
    SIGNALS_PER_TURN = 256

    def _send(self, path, interface, member, signature, body, raw_body=None):
        """Queue a signal (``raw_body``: its body already encoded, see :func:`~ovsdbus.bus.wire.signal`).
        The queue is written in order: up to SIGNALS_PER_TURN at once when
        an update has been followed, the rest from the next reactor turns on, and all of it
        before any method reply.

        So a caller always hears of a change before the reply to the call that made it (a
        client's proxies are up to date when its call returns), and a burst of thousands of
        signals is spread over several turns, with other callers served in between.
        """
        if self.handler is None or not self.announcing:
            return
        self._outbox.append((path, interface, member, signature, body, raw_body))
        if self._flush_call is None:
            self._flush_call = self.reactor.callLater(0, self._flush)

    def _flush_before_reply(self):
        if self._outbox:
            self._flush(len(self._outbox))

    def _flush(self, limit=SIGNALS_PER_TURN):
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        handler, outbox = self.handler, self._outbox
        for _ in range(min(len(outbox), limit)):
            signal = outbox.popleft()
            if handler is not None:
                try:
                    handler.send_signal(*signal)
                except (ValueError, TypeError, UnicodeError, OverflowError) as e:
                    log.error("cannot encode signal {member} of {path}: {error}",
                              member=signal[2], path=signal[0], error=e)
        if outbox:
            self._flush_call = self.reactor.callLater(0, self._flush)

    def authorize(self, caller, action=MODIFY_ACTION):
        """Fire if ``caller`` may perform ``action``; fail with AccessDenied if not."""
        if self.authorizer is None:
            return defer.fail(AccessDenied("not connected to the bus"))
        return self.authorizer.authorize(caller.name, action, caller.interactive)

    # -- the bus connection ------------------------------------------------------

    def startService(self):
        super().startService()
        self._stopping = False
        d = connect(self.reactor, self.bus)
        # txdbus never fires this Deferred if the bus hangs up before Hello is answered.
        d.addTimeout(self.BUS_CONNECT_TIMEOUT, self.reactor)
        d.addCallback(self._connected)
        d.addErrback(self._failed)
        settled = self.connection.when_settled()
        settled.addCallback(lambda _: self._own_name())
        settled.addErrback(self._failed)
        return d

    def _connected(self, bus_connection):
        _close_passed_fds(bus_connection)
        handler = ObjectHandler(bus_connection, api.OBJECT_PATH, self.managed_objects_body,
                                before_reply=self._flush_before_reply, objects=self)
        bus_connection.objHandler = handler
        bus_connection.notifyOnDisconnect(self._disconnected)
        handler.exportObject(self.root)
        self._bus_connection = bus_connection
        self.authorizer = Authorizer(self.policy, TxdbusBusQueries(bus_connection))
        self.handler = handler
        self._own_name()

    def _own_name(self):
        """Ask for the bus name once both the bus is connected and the OVSDB connection has settled."""
        if self.announcing or self._stopping or self._bus_connection is None or not self.connection.settled:
            return
        # Every signal queued from here on reaches the bus after the request, so after the name
        # is owned: clients hear of every change made after they could read the tree.
        self.announcing = True
        d = self._bus_connection.requestBusName(api.BUS_NAME)
        d.addTimeout(self.BUS_CONNECT_TIMEOUT, self.reactor)
        d.addCallback(lambda _: log.info("serving {name} on the {bus} bus", name=api.BUS_NAME, bus=self.bus))
        d.addErrback(self._failed)

    def _failed(self, failure):
        self.on_bus_lost("D-Bus: %s" % failure.getErrorMessage())

    def _disconnected(self, bus_connection, reason):
        self.handler = None
        self.authorizer = None
        self._bus_connection = None
        if not self._stopping:
            text = reason.getErrorMessage() if isinstance(reason, Failure) else str(reason)
            self.on_bus_lost("lost the D-Bus connection: %s" % text)

    def stopService(self):
        super().stopService()
        self._stopping = True
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        self._outbox.clear()
        bus_connection, self._bus_connection = self._bus_connection, None
        self.handler = None
        if bus_connection is not None:
            bus_connection.disconnect()
