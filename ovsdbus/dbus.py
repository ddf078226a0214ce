"""The D-Bus adapter: the only module that imports txdbus.

It exports the API described in :mod:`ovsdbus.api` and translates at the border:
D-Bus arguments to calls on :class:`~ovsdbus.operations.Operations`, results to
D-Bus values with explicit signatures, and every error to a named D-Bus error
(:class:`~ovsdbus.errors.OvsdbusError` carries its name; anything unexpected is
logged and answered as ``org.openvswitch.ovsdb.Error.Failed``), so no caller
ever sees ``org.txdbus.PythonException.*``.

txdbus gaps handled here (see shared/TXDBUS-NOTES.md): introspection without
argument names (we render our own XML), variant type guessing (values carry
explicit signatures), property errors (we serve org.freedesktop.DBus.Properties
ourselves), and a lost bus connection that is never re-established (the service
stops the reactor so that systemd restarts it).
"""

from twisted.application.service import Service
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from txdbus import client as txdbus_client
from txdbus import interface as txdbus_interface
from txdbus import message as txdbus_message
from txdbus import objects as txdbus_objects
from txdbus.objects import IDBusObject
from zope.interface import implementer

from ovsdbus import api
from ovsdbus.errors import ERROR_PREFIX, OvsdbusError
from ovsdbus.view import TreeView

log = Logger()

PROPERTIES = api.InterfaceSpec(
    "org.freedesktop.DBus.Properties",
    "Standard properties interface; every ovsdbus property is read-only.",
    methods=(
        api._m("Get", [("interface_name", "s"), ("property_name", "s")], [("value", "v")], "Read a property."),
        api._m("GetAll", [("interface_name", "s")], [("properties", "a{sv}")], "Read all properties."),
        api._m("Set", [("interface_name", "s"), ("property_name", "s"), ("value", "v")], [],
               "Always fails: ovsdbus properties are read-only (PropertyReadOnly)."),
    ),
    signals=(
        api.SignalSpec("PropertiesChanged", (api.Arg("interface_name", "s"), api.Arg("changed_properties", "a{sv}"),
                                             api.Arg("invalidated_properties", "as")),
                       "Properties that changed in one OVSDB update, together."),
    ),
)


class DBusErrorReply(Exception):
    """An error reply with an explicit D-Bus error name (what txdbus sends for ``dbusErrorName``)."""

    def __init__(self, name, message):
        super().__init__(message)
        self.dbusErrorName = name


def to_dbus_error(failure):
    """Translate a Failure into a :class:`DBusErrorReply` (logging unexpected ones)."""
    e = failure.value
    if isinstance(e, DBusErrorReply):
        return e
    if isinstance(e, OvsdbusError):
        return DBusErrorReply(e.dbus_name, str(e))
    log.failure("unexpected error in D-Bus call", failure)
    return DBusErrorReply(ERROR_PREFIX + "Failed", "internal error in ovsdbus: %s" % e.__class__.__name__)


_typed_classes = {}


def typed(signature, value):
    """``value`` marked with its D-Bus signature, so a variant carries exactly that type.

    txdbus guesses variant types (int -> int32, empty list -> IndexError); values
    wrapped here are marshalled by their given signature instead.
    """
    base = {"a": dict if signature.startswith("a{") else list, "s": str, "o": str, "g": str, "b": int,
            "d": float}.get(signature[0], int)
    if signature == "b":
        value = int(bool(value))
    key = (base, signature)
    cls = _typed_classes.get(key)
    if cls is None:
        cls = type("Typed_" + signature, (base,), {"dbusSignature": signature})
        _typed_classes[key] = cls
    return cls(value)


class TxdbusInterface(txdbus_interface.DBusInterface):
    """A txdbus interface built from an :class:`~ovsdbus.api.InterfaceSpec`, whose
    introspection XML names every argument and carries the documentation."""

    def __init__(self, spec):
        members = [txdbus_interface.Method(m.name, m.in_signature, m.out_signature) for m in spec.methods]
        members += [txdbus_interface.Signal(s.name, s.signature) for s in spec.signals]
        super().__init__(spec.name, *members, noRegister=True)
        self.spec = spec

    @property
    def introspectionXml(self):
        return api.interface_xml(self.spec)


_PROPERTIES_INTERFACE = TxdbusInterface(PROPERTIES)


@implementer(IDBusObject)
class ExportedObject:
    """An object on the bus.

    :param path: object path.
    :param specs: the :class:`~ovsdbus.api.InterfaceSpec` it implements
        (org.freedesktop.DBus.Properties is added).
    :param handlers: ``{(interface, method): callable}``; a callable receives the
        D-Bus arguments and, last, the caller's unique bus name, and may return a
        Deferred.
    :param properties: ``interface -> {name: typed value}`` (see :func:`typed`).
    """

    def __init__(self, path, specs, handlers, properties=None):
        self.path = path
        self._interfaces = [TxdbusInterface(s) for s in specs] + [_PROPERTIES_INTERFACE]
        self._specs = {s.name: s for s in specs}
        self._handlers = dict(handlers)
        self._properties = properties or (lambda interface: {})
        self._handlers[(PROPERTIES.name, "Get")] = self._get_property
        self._handlers[(PROPERTIES.name, "GetAll")] = self._get_all_properties
        self._handlers[(PROPERTIES.name, "Set")] = self._set_property
        self.object_handler = None

    # IDBusObject
    def getInterfaces(self):
        return self._interfaces

    def getObjectPath(self):
        return self.path

    def setObjectHandler(self, objectHandler):
        self.object_handler = objectHandler

    def getAllProperties(self, interfaceName):
        if interfaceName not in self._specs:
            return {}
        return self._properties(interfaceName)

    def executeMethod(self, interfaceObj, methodName, methodArguments, sender):
        handler = self._handlers.get((interfaceObj.name, methodName))
        if handler is None:
            return defer.fail(DBusErrorReply("org.freedesktop.DBus.Error.UnknownMethod",
                                             "no method %s.%s" % (interfaceObj.name, methodName)))
        d = defer.maybeDeferred(handler, *(list(methodArguments or ()) + [sender]))
        d.addErrback(lambda f: Failure(to_dbus_error(f)))
        return d

    # org.freedesktop.DBus.Properties
    def _check_interface(self, interface_name):
        if interface_name not in self._specs:
            raise DBusErrorReply("org.freedesktop.DBus.Error.UnknownInterface",
                                 "%s has no interface %s" % (self.path, interface_name))

    def _get_property(self, interface_name, property_name, sender):
        self._check_interface(interface_name)
        values = self._properties(interface_name)
        if property_name not in values:
            raise DBusErrorReply("org.freedesktop.DBus.Error.UnknownProperty",
                                 "%s has no property %s" % (interface_name, property_name))
        return values[property_name]

    def _get_all_properties(self, interface_name, sender):
        self._check_interface(interface_name)
        return self._properties(interface_name)

    def _set_property(self, interface_name, property_name, value, sender):
        self._check_interface(interface_name)
        if property_name not in self._properties(interface_name):
            raise DBusErrorReply("org.freedesktop.DBus.Error.UnknownProperty",
                                 "%s has no property %s" % (interface_name, property_name))
        raise DBusErrorReply("org.freedesktop.DBus.Error.PropertyReadOnly",
                             "%s.%s is read-only" % (interface_name, property_name))


def typed_properties(properties):
    """``{name: (signature, value)}`` (see :mod:`ovsdbus.view`) as typed D-Bus values."""
    return {name: typed(sig, value) for name, (sig, value) in properties.items()}


INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"

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


class ObjectHandler(txdbus_objects.DBusObjectHandler):
    """txdbus's object handler, corrected where D-Bus clients need it:

    - Introspect names every argument and advertises ObjectManager only on the manager;
    - GetManagedObjects is answered only on the manager's path, with the tree from
      ``managed_objects()`` (a plain prefix match would also list ``/a/bc`` under ``/a/b``);
    - exporting and unexporting send no signals: the service sends InterfacesAdded and
      InterfacesRemoved from the manager's path, where GLib's object manager client listens.
    """

    def __init__(self, connection, manager_path, managed_objects):
        super().__init__(connection)
        self.manager_path = manager_path
        self.managed_objects = managed_objects

    def exportObject(self, dbusObject):
        self.exports[dbusObject.getObjectPath()] = dbusObject
        dbusObject.setObjectHandler(self)

    def unexportObject(self, objectPath):
        obj = self.exports.pop(objectPath, None)
        if obj is not None:
            obj.setObjectHandler(None)

    def handleMethodCallMessage(self, msg):
        if msg.interface == INTROSPECTABLE and msg.member == "Introspect":
            xml = self.introspect(msg.path)
            if xml is None:
                self._send_err(msg, "org.freedesktop.DBus.Error.UnknownObject", "no object at %s" % msg.path)
            else:
                self.conn.sendMessage(txdbus_message.MethodReturnMessage(
                    msg.serial, body=[xml], destination=msg.sender, signature="s"))
            return
        if msg.interface == OBJECT_MANAGER:
            if msg.path != self.manager_path or msg.member != "GetManagedObjects":
                self._send_err(msg, "org.freedesktop.DBus.Error.UnknownMethod",
                               "%s has no %s.%s" % (msg.path, OBJECT_MANAGER, msg.member))
                return
            self.conn.sendMessage(txdbus_message.MethodReturnMessage(
                msg.serial, body=[self.managed_objects()], destination=msg.sender,
                signature="a{oa{sa{sv}}}"))
            return
        super().handleMethodCallMessage(msg)

    def introspect(self, path):
        """Introspection XML of ``path``: its interfaces and its direct children; None if nothing is there."""
        obj = self.exports.get(path)
        prefix = path if path.endswith("/") else path + "/"
        children = sorted({p[len(prefix):].partition("/")[0] for p in self.exports if p.startswith(prefix)})
        if obj is None and not children:
            return None
        lines = ['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"',
                 ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
                 '<node name="%s">' % path]
        if obj is not None:
            lines += [i.introspectionXml for i in obj.getInterfaces()]
            lines.append(_STANDARD_XML)
            if path == self.manager_path:
                lines.append(_OBJECT_MANAGER_XML)
        lines += ['  <node name="%s"/>' % c for c in children]
        lines.append("</node>")
        return "\n".join(lines)


class RootObject(ExportedObject):
    """``/org/openvswitch/ovsdb``: the ``org.openvswitch.ovsdb`` interface over :class:`Operations`."""

    def __init__(self, operations, connection):
        self.operations = operations
        I = api.INTERFACE
        super().__init__(api.OBJECT_PATH, [api.ROOT], {
            (I, "CreateBridge"): lambda name, sender: operations.create_bridge(name),
            (I, "DeleteBridge"): lambda name, sender: operations.delete_bridge(name),
            (I, "AddPort"): lambda bridge, port, sender: operations.add_port(bridge, port),
            (I, "DeletePort"): lambda bridge, port, sender: operations.delete_port(bridge, port),
            (I, "BridgeExists"): lambda name, sender: operations.bridge_exists(name),
            (I, "ListBridges"): lambda sender: operations.list_bridges(),
            (I, "ListBridgePorts"): lambda bridge, sender: operations.list_bridge_ports(bridge),
        }, properties=lambda interface: {"Connected": typed("b", connection.synced)})


_SPEC_OF_INTERFACE = {api.BRIDGE.name: api.BRIDGE, api.PORT.name: api.PORT, api.INTERFACE_.name: api.INTERFACE_}


class BusService(Service):
    """Connects to the bus, exports the objects, owns ``org.openvswitch.ovsdb`` and
    turns every replica change into signals.

    :param reactor: the reactor (txdbus needs one to connect).
    :param bus: ``system``, ``session`` or a D-Bus address.
    :param connection: the :class:`~ovsdbus.connection.OvsdbConnection` to follow.
    :param operations: the :class:`~ovsdbus.operations.Operations` to serve.
    :param on_bus_lost: called (with a reason) when the bus connection fails or is
        lost, or the name cannot be owned; the plugin stops the process then.
    """

    def __init__(self, reactor, bus, connection, operations, on_bus_lost):
        self.reactor = reactor
        self.bus = bus
        self.connection = connection
        self.operations = operations
        self.on_bus_lost = on_bus_lost
        self.bus_connection = None
        self.root = RootObject(operations, connection)
        self.view = TreeView()
        self._children = {}       # path -> ExportedObject
        self._properties = {}     # path -> (interface, {name: (signature, value)})
        self._stopping = False
        connection.add_observer(self._replica_changed)
        connection.add_state_observer(self._state_changed)

    # -- following the replica ----------------------------------------------------

    def _replica_changed(self, changes):
        delta = self.view.update(self.connection.replica, changes)
        for path, interface in delta.removed:
            self._properties.pop(path, None)
            obj = self._children.pop(path, None)
            if self.bus_connection is not None and obj is not None:
                self.bus_connection.unexportObject(path)
                self._send(api.OBJECT_PATH, OBJECT_MANAGER, "InterfacesRemoved", "oas", [path, [interface]])
        for path, interface, props in delta.added:
            self._properties[path] = (interface, props)
            obj = self._child(path, interface)
            if self.bus_connection is not None:
                self.bus_connection.exportObject(obj)
                self._send(api.OBJECT_PATH, OBJECT_MANAGER, "InterfacesAdded", "oa{sa{sv}}",
                           [path, {interface: typed_properties(props)}])
        for path, interface, diff in delta.changed:
            self._properties[path][1].update(diff)
            self._send(path, PROPERTIES.name, "PropertiesChanged", "sa{sv}as",
                       [interface, typed_properties(diff), []])
        for signal in delta.signals:
            spec = next(s for s in api.ROOT.signals if s.name == signal.name)
            self._send(api.OBJECT_PATH, api.INTERFACE, signal.name, spec.signature, list(signal.args))

    def _state_changed(self, synced):
        self._send(api.OBJECT_PATH, PROPERTIES.name, "PropertiesChanged", "sa{sv}as",
                   [api.INTERFACE, {"Connected": typed("b", synced)}, []])

    def _child(self, path, interface):
        obj = self._children.get(path)
        if obj is None:
            obj = ExportedObject(path, [_SPEC_OF_INTERFACE[interface]], {},
                                 properties=lambda iface, path=path: typed_properties(self._properties[path][1]))
            self._children[path] = obj
        return obj

    def managed_objects(self):
        """``GetManagedObjects`` of the root: every bridge, port and interface object."""
        return {path: {interface: typed_properties(props)} for path, (interface, props) in self._properties.items()}

    def _send(self, path, interface, member, signature, body):
        if self.bus_connection is not None:
            self.bus_connection.sendMessage(txdbus_message.SignalMessage(
                path, member, interface, signature=signature, body=body))

    # -- the bus connection ------------------------------------------------------

    def startService(self):
        super().startService()
        self._stopping = False
        d = txdbus_client.connect(self.reactor, self.bus)
        d.addCallback(self._connected)
        d.addErrback(self._failed)
        return d

    @defer.inlineCallbacks
    def _connected(self, bus_connection):
        bus_connection.objHandler = ObjectHandler(bus_connection, api.OBJECT_PATH, self.managed_objects)
        bus_connection.notifyOnDisconnect(self._disconnected)
        bus_connection.exportObject(self.root)
        for obj in self._children.values():
            bus_connection.exportObject(obj)
        self.bus_connection = bus_connection
        yield bus_connection.requestBusName(api.BUS_NAME)
        log.info("serving {name} on the {bus} bus", name=api.BUS_NAME, bus=self.bus)

    def _failed(self, failure):
        log.error("D-Bus: {error}", error=failure.getErrorMessage())
        self.on_bus_lost(failure.getErrorMessage())

    def _disconnected(self, bus_connection, reason):
        self.bus_connection = None
        if not self._stopping:
            log.error("lost the D-Bus connection: {reason}", reason=reason)
            self.on_bus_lost(reason)

    def stopService(self):
        super().stopService()
        self._stopping = True
        bus_connection, self.bus_connection = self.bus_connection, None
        if bus_connection is not None:
            bus_connection.disconnect()
