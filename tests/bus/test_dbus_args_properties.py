"""Property tests of D-Bus argument handling (hypothesis): any call gets an answer with a name.

Method calls of every method of the API (and of the standard interfaces, unknown members,
interfaces and objects), with arguments of the right signature and random values or of any
other signature, are encoded as a bus daemon would deliver them, parsed by txdbus, and
dispatched by the service's own dispatch layer (:class:`ovsdbus.bus.service.ObjectHandler` and
:class:`ovsdbus.bus.service.RootObject`) to :class:`ovsdbus.vswitch.operations.Operations` over a real
:class:`ovsdbus.ovsdb.connection.OvsdbConnection` to the fake OVSDB, all in memory on a Clock.

Every call must be answered (unless the caller asked for no reply), with a result of the
method's output signature or with an error whose name is in README.md's table of errors,
never ``org.openvswitch.ovsdb.Error.Failed`` (a bug) nor ``org.txdbus.PythonException.*``,
and nothing may be logged as an unexpected error.
"""

import os
import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer, task
from twisted.internet.address import UNIXAddress
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.logger import LogLevel, globalLogPublisher
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from txdbus import message as txdbus_message
from zope.interface import implementer

from ovsdbus import api
from ovsdbus.bus import wire as dbuswire
from ovsdbus.bus.authorization import Authorizer, BusQueries, Credentials, Policy
from ovsdbus.bus.service import ALLOW_INTERACTIVE_AUTHORIZATION, PROPERTIES, ObjectHandler, RootObject
from ovsdbus.bus.wire import NO_REPLY_EXPECTED
from ovsdbus.ovsdb.connection import ALL, OvsdbConnection
from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory, add_bridge_operations
from ovsdbus.vswitch.batch import Database
from ovsdbus.vswitch.operations import Operations

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "README.md")

DBUS_ERROR = "org.freedesktop.DBus.Error."
FAILED = "org.openvswitch.ovsdb.Error.Failed"

#: Callers: the bus names the fake bus daemon knows, and their uids.  uid 0 may change the switch.
ROOT_CALLER, USER_CALLER = ":1.10", ":1.11"
UIDS = {ROOT_CALLER: 0, USER_CALLER: 4242}

METHOD_CALL, METHOD_RETURN, ERROR = 1, 2, 3


def documented_errors():
    """The error names of README.md's table of errors, less ``Error.Failed`` (a bug in ovsdbus).

    The table's last row names some standard errors by their short names after the first one."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("### Errors", 1)[1].split("\n#", 1)[0]
    names = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        tokens = re.findall(r"`([A-Za-z0-9_.]+)`", cell)
        prefix = tokens[0].rsplit(".", 1)[0] + "."
        names.update(t if "." in t else prefix + t for t in tokens)
    names.discard(FAILED)
    return names


# -- the service's dispatch layer, in memory ---------------------------------------------------

@implementer(IStreamClientEndpoint)
class _MemoryEndpoint:
    """Connects a client to the fake OVSDB with an in-memory transport pair (``iosim``)."""

    def __init__(self, server_factory):
        self.server_factory = server_factory
        self.pumps = []

    def connect(self, factory):
        server = self.server_factory.buildProtocol(None)
        client = factory.buildProtocol(UNIXAddress("db.sock"))
        self.pumps.append(iosim.connect(server, iosim.FakeTransport(server, isServer=True),
                                        client, iosim.FakeTransport(client, isServer=False,
                                                                    peerAddress=UNIXAddress("db.sock")),
                                        greet=False))
        return defer.succeed(client)


class _BusQueries(BusQueries):
    """The bus daemon's answers about callers; there is no polkit."""

    def credentials(self, bus_name):
        return defer.succeed(Credentials(UIDS[bus_name], [UIDS[bus_name]]))

    def polkit_present(self):
        return defer.succeed(False)

    def polkit_allows(self, bus_name, action, interactive):
        return defer.succeed(False)


class _BusTransport:
    """Where the dispatch layer writes its replies."""

    def __init__(self):
        self.written = []

    def write(self, data):
        self.written.append(bytes(data))


class _BusConnection:
    """What ObjectHandler needs of a txdbus connection: a transport."""

    def __init__(self):
        self.transport = _BusTransport()


class Stack:
    """The dispatch layer over Operations over a connection to the fake OVSDB, on a Clock.

    ``online``: whether the connection to the fake is up (otherwise every OVSDB method answers
    Disconnected)."""

    def __init__(self, online=True):
        self.clock = task.Clock()
        self.db = FakeOvsdb.open_vswitch()
        self.db.transact(add_bridge_operations("br0"))
        self.factory = FakeOvsdbFactory(self.db, clock=self.clock)
        self.endpoint = _MemoryEndpoint(self.factory)
        self.connection = OvsdbConnection(self.endpoint, ALL, self.clock, "Open_vSwitch",
                                          request_timeout=30, retry_policy=lambda attempt: 3600)
        self.operations = Operations(self.connection)
        authorizer = Authorizer(Policy(allowed_uids={0}, polkit="no"), _BusQueries())
        self.root = RootObject(self.operations, self.connection,
                               lambda caller, action: authorizer.authorize(caller.name, action,
                                                                           interactive=caller.interactive),
                               Database(self.connection))
        self.bus = _BusConnection()
        self.handler = ObjectHandler(self.bus, api.OBJECT_PATH, lambda: dbuswire.array_of_entries([]))
        self.handler.exportObject(self.root)
        self.serial = 0
        if online:
            self.connection.startService()
            self.flush()
            if not self.connection.synced:
                raise AssertionError("the connection to the fake OVSDB did not sync")

    def flush(self):
        """Move bytes between ovsdbus and the fake, and run due timers, until nothing moves."""
        for _ in range(10000):
            self.clock.advance(0)
            if not any([pump.pump() for pump in self.endpoint.pumps]):
                return
        raise AssertionError("the connection to the fake OVSDB never went quiet")

    def call(self, path, interface, member, signature, body, sender=ROOT_CALLER, flags=0):
        """Deliver one method call, as txdbus parses it from the bus; return the messages written
        in answer, parsed, and the serial of the call."""
        self.serial += 1
        raw = dbuswire.encode_message(METHOD_CALL, self.serial, {
            dbuswire.PATH: path, dbuswire.INTERFACE: interface, dbuswire.MEMBER: member,
            dbuswire.DESTINATION: api.BUS_NAME, dbuswire.SENDER: sender}, signature, body, flags)
        msg = txdbus_message.parseMessage(raw, [])
        del self.bus.transport.written[:]
        self.handler.handleMethodCallMessage(msg)
        self.flush()
        return [txdbus_message.parseMessage(m, []) for m in self.bus.transport.written], self.serial

    def stop(self):
        """Stop the connection service."""
        if self.connection.running:
            self.connection.stopService()
            self.flush()


# -- D-Bus types and values --------------------------------------------------------------------

_RANGES = {"y": (0, 255), "n": (-2 ** 15, 2 ** 15 - 1), "q": (0, 2 ** 16 - 1), "i": (-2 ** 31, 2 ** 31 - 1),
           "u": (0, 2 ** 32 - 1), "x": (-2 ** 63, 2 ** 63 - 1), "t": (0, 2 ** 64 - 1)}

#: Basic types ('h', a file descriptor, comes with the message's out-of-band fds: left out).
BASIC_TYPES = "ybnqiuxtdsog"

#: Names worth trying: existing, missing, invalid for a new device, at and past the limits.
NAME_POOL = ["br0", "br1", "p1", "eth0", "", "t\u00e0", "t\u2020", "a/b", "a:b", "br%d", ".", "..", "x" * 15,
             "x" * 16, "\u00e9" * 8, "a b", "tab\t", "new\nline", "\x01", "\x7f", "\u2028", "\U0001f600",
             "x" * 1025, "\ufffd"]

#: Any text a D-Bus string can carry (no NUL; no surrogates).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
NAMES = st.one_of(st.sampled_from(NAME_POOL), TEXT)

_PATH_ELEMENT = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=8)
OBJECT_PATHS = st.one_of(st.just("/"), st.lists(_PATH_ELEMENT, min_size=1, max_size=4).map(lambda e: "/" + "/".join(e)))


def _container_types(inner):
    return st.one_of(
        inner.map(lambda t: "a" + t),
        st.tuples(st.sampled_from(BASIC_TYPES), inner).map(lambda kv: "a{%s%s}" % kv),
        st.lists(inner, min_size=1, max_size=3).map(lambda ts: "(" + "".join(ts) + ")"),
    )


#: Any single complete D-Bus type.
TYPES = st.recursive(st.sampled_from(BASIC_TYPES + "v"), _container_types, max_leaves=5)

#: Any signature of up to 4 complete types (the empty one included).
SIGNATURES = st.lists(TYPES, max_size=4).map("".join).filter(lambda s: len(s) <= 255)


def values_of(sig, depth=0):
    """A strategy of Python values of complete type ``sig`` as :mod:`ovsdbus.bus.wire` encodes them
    (a variant is ``(signature, value)``)."""
    c = sig[0]
    if c in _RANGES:
        low, high = _RANGES[c]
        return st.integers(low, high)
    if c == "b":
        return st.booleans()
    if c == "d":
        return st.floats(allow_nan=False)
    if c == "s":
        return NAMES
    if c == "o":
        return OBJECT_PATHS
    if c == "g":
        return SIGNATURES.filter(lambda s: len(s) <= 40)
    if c == "v":
        if depth > 2:
            return st.tuples(st.just("s"), NAMES)
        return TYPES.flatmap(lambda t: st.tuples(st.just(t), values_of(t, depth + 1)))
    if c == "(":
        members = dbuswire.split_signature(sig[1:-1])
        return st.tuples(*[values_of(m, depth + 1) for m in members])
    if sig.startswith("a{"):
        key, value = dbuswire.split_signature(sig[2:-1])
        return st.dictionaries(values_of(key, depth + 1), values_of(value, depth + 1), max_size=3)
    return st.lists(values_of(sig[1:], depth + 1), max_size=3)


def bodies(signature):
    """Strategy of ``(signature, body)`` for a message body of ``signature``."""
    types = dbuswire.split_signature(signature)
    return st.tuples(st.just(signature), st.tuples(*[values_of(t) for t in types]).map(list))


ROOT_METHODS = {m.name: m for m in api.ROOT_SPEC.methods}
PROPERTY_METHODS = {m.name: m for m in PROPERTIES.methods}
STANDARD = {("org.freedesktop.DBus.Peer", "Ping"), ("org.freedesktop.DBus.Peer", "GetMachineId"),
            ("org.freedesktop.DBus.Introspectable", "Introspect"),
            ("org.freedesktop.DBus.ObjectManager", "GetManagedObjects")}
INTERFACES = [api.INTERFACE, PROPERTIES.name, None] + sorted({i for i, _ in STANDARD}) + ["org.example.Nothing"]


@st.composite
def calls(draw):
    """``(path, interface, member, signature, body, spec)``: a call of any kind, ``spec`` the
    MethodSpec the service has for it (None for the standard and unknown methods)."""
    kind = draw(st.sampled_from(["root", "root", "root-wrong", "properties", "standard", "unknown"]))
    path = api.OBJECT_PATH
    if kind in ("root", "root-wrong"):
        spec = ROOT_METHODS[draw(st.sampled_from(sorted(ROOT_METHODS)))]
        interface = draw(st.sampled_from([api.INTERFACE, None]))
        signature = spec.in_signature if kind == "root" else draw(SIGNATURES)
    elif kind == "properties":
        spec = PROPERTY_METHODS[draw(st.sampled_from(sorted(PROPERTY_METHODS)))]
        interface = PROPERTIES.name
        signature = draw(st.sampled_from([spec.in_signature, spec.in_signature, None]))
        if signature is None:
            signature = draw(SIGNATURES)
    elif kind == "standard":
        spec = None
        interface, member = draw(st.sampled_from(sorted(STANDARD)))
        interface = draw(st.sampled_from([interface, None]))
        signature = draw(st.sampled_from(["", "", None]))
        if signature is None:
            signature = draw(SIGNATURES)
        path = draw(st.sampled_from([api.OBJECT_PATH, api.OBJECT_PATH, None]))
        if path is None:
            path = draw(OBJECT_PATHS)
        return path, interface, member, signature, draw(bodies(signature))[1], spec
    else:
        spec = None
        interface = draw(st.sampled_from(INTERFACES))
        member = draw(st.one_of(st.sampled_from(sorted(ROOT_METHODS) + ["Get", "Frobnicate", "createbridge"]),
                                st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z")))
        path = draw(st.one_of(st.just(api.OBJECT_PATH), OBJECT_PATHS))
        signature = draw(SIGNATURES)
        return path, interface, member, signature, draw(bodies(signature))[1], spec
    if kind == "properties" and signature == spec.in_signature and draw(st.booleans()):
        # Mostly about the service's own interface and its property.
        body = [api.INTERFACE, draw(st.sampled_from(["Connected", "Nope", ""]))][:len(spec.inputs)]
        if spec.name == "Set":
            body.append(draw(TYPES.flatmap(lambda t: st.tuples(st.just(t), values_of(t)))))
        return path, interface, spec.name, signature, body, spec
    return path, interface, spec.name, signature, draw(bodies(signature))[1], spec


class DispatchPropertyTests(SynchronousTestCase):
    """Any call through the dispatch layer gets a result or a documented, named error."""

    def setUp(self):
        if not os.path.exists(DEFAULT_SCHEMA_PATH):
            self.skipTest("%s is not installed" % DEFAULT_SCHEMA_PATH)
        self.documented = documented_errors()
        self.online = Stack(online=True)
        self.offline = Stack(online=False)
        self.addCleanup(self.online.stop)
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def test_readme_table_is_read(self):
        """The README's error table lists the names this test accepts (a sanity check of the parser)."""
        self.assertIn("org.openvswitch.ovsdb.Error.NotFound", self.documented)
        self.assertIn(DBUS_ERROR + "InvalidArgs", self.documented)
        self.assertIn(DBUS_ERROR + "UnknownObject", self.documented)
        self.assertIn(DBUS_ERROR + "PropertyReadOnly", self.documented)
        self.assertNotIn(FAILED, self.documented)

    def check_answer(self, stack, call, sender, flags):
        path, interface, member, signature, body, spec = call
        start = len(self.events)
        replies, serial = stack.call(path, interface, member, signature, body, sender, flags)
        described = "%s %s.%s(%s) %s" % (path, interface, member, signature, ascii(body)[:200])
        errors = [e for e in self.events[start:]
                  if e.get("log_failure") is not None or e.get("log_level") in (LogLevel.error, LogLevel.critical)]
        self.assertEqual(errors, [], described)
        if flags & NO_REPLY_EXPECTED:
            self.assertEqual(replies, [], described)
            return None
        self.assertEqual(len(replies), 1, "%s: %d answers" % (described, len(replies)))
        (reply,) = replies
        self.assertEqual(reply.reply_serial, serial, described)
        self.assertEqual(reply.destination, sender, described)
        if reply._messageType == ERROR:
            self.assertIn(reply.error_name, self.documented, "%s: %s %s" % (described, reply.error_name, reply.body))
            self.assertTrue(reply.body and reply.body[0], described)
            if spec is not None and signature != spec.in_signature:
                self.assertEqual(reply.error_name, DBUS_ERROR + "InvalidArgs", described)
            return reply.error_name
        self.assertEqual(reply._messageType, METHOD_RETURN, described)
        if spec is not None:
            self.assertEqual(signature, spec.in_signature, described)
            self.assertEqual(reply.signature or "", spec.out_signature, described)
        return "ok"

    @settings(max_examples=150, deadline=None, database=None)
    @given(calls(), st.sampled_from([ROOT_CALLER, ROOT_CALLER, USER_CALLER]),
           st.sampled_from([0, 0, 0, NO_REPLY_EXPECTED, ALLOW_INTERACTIVE_AUTHORIZATION]), st.booleans())
    def test_any_call_gets_a_named_answer(self, call, sender, flags, online):
        """Any method (the API's, Properties', the standard ones, unknown ones) on any object with
        arguments of its signature and random values, or of any other signature, from an allowed or
        a refused caller, connected to OVSDB or not: the caller gets exactly one answer, a result of
        the method's output signature or an error named in the README (InvalidArgs for a wrong
        signature), and nothing is logged as an unexpected error."""
        stack = self.online if online else self.offline
        self.check_answer(stack, call, sender, flags)

    @settings(max_examples=150, deadline=None, database=None)
    @given(st.sampled_from(sorted(ROOT_METHODS)).flatmap(
        lambda name: st.tuples(st.just(ROOT_METHODS[name]), bodies(ROOT_METHODS[name].in_signature))))
    def test_right_signature_any_values(self, method_and_body):
        """Each method of the API called with its own signature and any values (names that exist, that
        do not, that no device may have, empty, huge, any text) by a caller allowed to change the
        switch: a result or one of the errors a user can act on."""
        spec, (signature, body) = method_and_body
        outcome = self.check_answer(self.online, (api.OBJECT_PATH, api.INTERFACE, spec.name, signature, body, spec),
                                    ROOT_CALLER, 0)
        # ConstraintViolation: DeleteBondInterface refusing to leave a port fewer than two interfaces.
        self.assertIn(outcome, {"ok", "org.openvswitch.ovsdb.Error.AlreadyExists",
                                "org.openvswitch.ovsdb.Error.NotFound", DBUS_ERROR + "InvalidArgs",
                                "org.openvswitch.ovsdb.Error.ConstraintViolation"})
