"""The D-Bus API of ovsdbus, described as data.

Names, signatures, argument names and documentation of every interface live
here, once.  The D-Bus adapter (:mod:`ovsdbus.dbus`) builds its exported
interfaces from these descriptions, and :func:`introspection_xml` renders them as
introspection XML (with argument names and ``org.gtk.GDBus.DocString``
annotations) for the running service and for the files shipped in
``/usr/share/dbus-1/interfaces``.
"""

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
    """A method: its inputs, outputs and what it does."""

    name: str
    inputs: tuple
    outputs: tuple
    doc: str

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
    """A read-only property."""

    name: str
    signature: str
    doc: str


class InterfaceSpec(NamedTuple):
    """An interface: methods, signals, properties."""

    name: str
    doc: str
    methods: tuple = ()
    signals: tuple = ()
    properties: tuple = ()


def _m(name, inputs, outputs, doc):
    return MethodSpec(name, tuple(Arg(*a) for a in inputs), tuple(Arg(*a) for a in outputs), doc)


ERRORS_DOC = (
    "Errors: org.openvswitch.ovsdb.Error.{AlreadyExists, NotFound, ConstraintViolation, ReferentialIntegrity, "
    "ResourcesExhausted, NotSupported, Timeout, Disconnected, TransactionFailed}, "
    "org.freedesktop.DBus.Error.InvalidArgs, org.freedesktop.DBus.Error.AccessDenied."
)

ROOT = InterfaceSpec(
    INTERFACE,
    "Open vSwitch's database (OVSDB) on D-Bus. Reads are answered from a live replica of the database; "
    "writes are single atomic OVSDB transactions that fail, changing nothing, if another writer changed "
    "what they relied on. " + ERRORS_DOC,
    methods=(
        _m("CreateBridge", [("name", "s")], [],
           "Create bridge NAME with its local port and internal interface of the same name, like "
           "'ovs-vsctl add-br'. AlreadyExists if any bridge, port or interface is called NAME."),
        _m("DeleteBridge", [("name", "s")], [],
           "Delete bridge NAME with all its ports and interfaces, like 'ovs-vsctl del-br'. "
           "NotFound if there is no such bridge."),
        _m("AddPort", [("bridge", "s"), ("port", "s")], [],
           "Add port PORT, with an interface of the same name, to BRIDGE, like 'ovs-vsctl add-port'. "
           "NotFound if BRIDGE does not exist; AlreadyExists if any bridge, port or interface is called PORT."),
        _m("DeletePort", [("bridge", "s"), ("port", "s")], [],
           "Remove PORT and its interfaces from BRIDGE, like 'ovs-vsctl del-port'. "
           "NotFound if BRIDGE does not exist or has no port PORT."),
        _m("BridgeExists", [("name", "s")], [("exists", "b")],
           "Whether bridge NAME exists, like 'ovs-vsctl br-exists'."),
        _m("ListBridges", [], [("bridges", "as")],
           "The names of all bridges, sorted, like 'ovs-vsctl list-br'."),
        _m("ListBridgePorts", [("bridge", "s")], [("ports", "as")],
           "The names of BRIDGE's ports, sorted, without the bridge's local port, like "
           "'ovs-vsctl list-ports'. NotFound if BRIDGE does not exist."),
    ),
)


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
        lines.append(_doc(p.doc, i3))
        lines.append("%s</property>" % i2)
    lines.append("%s</interface>" % i1)
    return "\n".join(lines)


def introspection_xml(specs):
    """A standalone introspection document of ``specs`` (for /usr/share/dbus-1/interfaces)."""
    return "\n".join(['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"',
                      ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
                      "<node>"] + [interface_xml(s) for s in specs] + ["</node>", ""])
