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
from txdbus.objects import IDBusObject
from zope.interface import implementer

from ovsdbus import api
from ovsdbus.errors import ERROR_PREFIX, OvsdbusError

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

    def emit_signal(self, interface_name, signal_name, *args):
        """Emit a signal from this object (nothing if it is not exported)."""
        if self.object_handler is None:
            return
        from txdbus import message
        spec = next(s for s in self._all_signals(interface_name) if s.name == signal_name)
        self.object_handler.conn.sendMessage(message.SignalMessage(
            self.path, signal_name, interface_name, signature=spec.signature, body=list(args)))

    def _all_signals(self, interface_name):
        if interface_name == PROPERTIES.name:
            return PROPERTIES.signals
        return self._specs[interface_name].signals


class RootObject(ExportedObject):
    """``/org/openvswitch/ovsdb``: the ``org.openvswitch.ovsdb`` interface over :class:`Operations`."""

    def __init__(self, operations):
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
        })


class BusService(Service):
    """Connects to the bus, exports the objects and owns ``org.openvswitch.ovsdb``.

    :param reactor: the reactor (txdbus needs one to connect).
    :param bus: ``system``, ``session`` or a D-Bus address.
    :param operations: the :class:`~ovsdbus.operations.Operations` to serve.
    :param on_bus_lost: called (with a reason) when the bus connection fails or is
        lost, or the name cannot be owned; the plugin stops the process then.
    """

    def __init__(self, reactor, bus, operations, on_bus_lost):
        self.reactor = reactor
        self.bus = bus
        self.operations = operations
        self.on_bus_lost = on_bus_lost
        self.connection = None
        self.root = RootObject(operations)
        self._stopping = False

    def startService(self):
        super().startService()
        self._stopping = False
        d = txdbus_client.connect(self.reactor, self.bus)
        d.addCallback(self._connected)
        d.addErrback(self._failed)
        return d

    @defer.inlineCallbacks
    def _connected(self, connection):
        self.connection = connection
        connection.notifyOnDisconnect(self._disconnected)
        connection.exportObject(self.root)
        yield connection.requestBusName(api.BUS_NAME)
        log.info("serving {name} on the {bus} bus", name=api.BUS_NAME, bus=self.bus)

    def _failed(self, failure):
        log.error("D-Bus: {error}", error=failure.getErrorMessage())
        self.on_bus_lost(failure.getErrorMessage())

    def _disconnected(self, connection, reason):
        if not self._stopping:
            log.error("lost the D-Bus connection: {reason}", reason=reason)
            self.on_bus_lost(reason)

    def stopService(self):
        super().stopService()
        self._stopping = True
        if self.connection is not None:
            self.connection.disconnect()
            self.connection = None
