"""End-to-end tests: the real ``twistd -n ovsdbus`` between a real ovsdb-server and a private bus.

Every test talks to the service the way its users do: a txdbus program, ``busctl``, ``gdbus``,
``dbus-send``, and checks the database with ``ovs-vsctl`` and ``ovsdb-client dump`` on the same
server.  The daemons run in a temporary directory (see :mod:`tests.realstack`); the tests of a
class share one stack and start from an empty set of bridges, except :class:`ReconnectTests`,
whose tests stop and start ovsdb-server and so have a stack each.

Without Open vSwitch, dbus-daemon and the D-Bus command-line tools installed these tests are
skipped, and fail instead when ``CI`` is set.
"""

import ast
import json
import os
import re
import signal
import subprocess
import time
import unittest
import xml.etree.ElementTree as ElementTree

from twisted.internet import defer
from twisted.trial.unittest import TestCase
from txdbus.error import RemoteError

from ovsdbus import api, tap
from ovsdbus.testing import sandbox
from tests import realstack
from tests.realstack import (
    BUS_NAME,
    DBUS_ERROR,
    ERROR,
    INTERFACE,
    OBJECT_PATH,
    PROPERTIES,
    call,
    call_error,
    get_property,
    poll_until,
)

#: Debian's interpreter, which has python3-gi (GDBus) for the tests that need a C-library client.
SYSTEM_PYTHON = "/usr/bin/python3"

ALREADY_EXISTS = ERROR + "AlreadyExists"
NOT_FOUND = ERROR + "NotFound"
DISCONNECTED = ERROR + "Disconnected"
TIMEOUT = ERROR + "Timeout"
INVALID_ARGS = DBUS_ERROR + "InvalidArgs"

#: Every error name the API documents (api.ERRORS_DOC) plus the standard ones of D-Bus dispatch.
DOCUMENTED_ERRORS = {ERROR + n for n in ("AlreadyExists", "NotFound", "ConstraintViolation", "ReferentialIntegrity",
                                         "ResourcesExhausted", "NotSupported", "Timeout", "Disconnected",
                                         "TransactionFailed")} | {
    DBUS_ERROR + n for n in ("InvalidArgs", "AccessDenied", "UnknownMethod", "UnknownObject", "UnknownInterface",
                             "UnknownProperty", "PropertyReadOnly")}

#: Names no network device can have, with why.
BAD_NAMES = [
    "",                 # empty
    "x" * 16,           # 16 bytes: one more than IFNAMSIZ allows
    "é" * 8,            # 8 characters but 16 bytes
    "a/b",              # slash
    "a:b",              # colon
    "br%d",             # the kernel's name template
    "a b",              # space
    "tab\there",        # other whitespace
    "new\nline",
    "\x01ctl",          # control characters
    "del\x7f",
    ".",
    "..",
    "x" * 100000,       # far too long, in one 100 kB message
]

#: The standalone signature of every method, for calls with a wrong one.
SIGNATURES = {"CreateBridge": "s", "DeleteBridge": "s", "AddPort": "ss", "DeletePort": "ss", "BridgeExists": "s",
              "ListBridges": "", "ListBridgePorts": "s"}


def gvariant(text):
    """The Python value of gdbus's GVariant text output, e.g. ``(['a', 'b'],)``, ``(@as [],)``,
    ``(<true>,)`` (variants lose their brackets)."""
    text = re.sub(r"@[a-z{}()]+ ", "", text.strip())
    text = re.sub(r"<([^<>']*)>", r"\1", text)
    text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    return ast.literal_eval(text)


def gdbus_error_name(stderr):
    """The D-Bus error name in gdbus's ``Error: GDBus.Error:NAME: message``."""
    match = re.search(r"GDBus\.Error:([A-Za-z0-9_.]+):", stderr)
    return match.group(1) if match else None


def assert_no_tracebacks(testcase, stack, position=0):
    """Fail ``testcase`` (once) if the service logged a traceback or unhandled error after ``position``."""
    found = stack.tracebacks_since(position)
    if found and not getattr(testcase, "_tracebacks_reported", False):
        testcase._tracebacks_reported = True
        testcase.fail("the service logged an error:\n" + found)


def outcome(d):
    """A Deferred firing with ``"ok"`` or the D-Bus error name ``d`` failed with."""
    def failed(failure):
        failure.trap(RemoteError)
        return failure.value.errName
    return d.addCallbacks(lambda _: "ok", failed)


class _StackTests:
    """Tests sharing one stack per class.  Each starts with no bridges, the service agreeing, and a
    txdbus client in ``self.client``; each ends by checking that the service still runs."""

    service_args = ()

    @classmethod
    def tearDownClass(cls):
        # pytest calls this; under trial the next class's stack, or the process exit, stops it.
        realstack.stop_shared_stack(cls)

    @defer.inlineCallbacks
    def setUp(self):
        self.stack = realstack.shared_stack(type(self), self.service_args)
        self.bus = self.stack.bus_address
        self.addCleanup(self.assert_service_alive, self.stack.log_position())
        self.stack.clear()
        self.client = yield realstack.connect(self, self.bus)
        yield self.until_bridges([])

    def assert_service_alive(self, log_position=0):
        """The service still runs and logged no traceback during the test."""
        if not self.stack.service.running:
            self.fail("the service exited:\n" + self.stack.service_log())
        assert_no_tracebacks(self, self.stack, log_position)

    def until_bridges(self, expected, timeout=10):
        """Wait until the service's ListBridges is ``expected``."""
        def check():
            return call(self.client, "ListBridges").addCallback(lambda bridges: bridges == expected)
        return poll_until(check, timeout, what="ListBridges to be %r" % (expected,))

    def vsctl_list(self, *args):
        """ovs-vsctl's answer as a list of words."""
        return self.stack.vsctl(*args).split()

    @defer.inlineCallbacks
    def assert_errors(self, cases, client=None):
        """Each ``(error_name, method, signature, *args)`` fails with exactly that name, and the
        database is the same afterwards, row for row."""
        client = client or self.client
        before = self.stack.dump()
        wrong = []
        for expected, method, signature, *args in cases:
            name = yield call_error(client, method, signature, *args)
            if name != expected:
                wrong.append("%s(%s): %s, expected %s" % (method, ", ".join(repr(a)[:40] for a in args), name,
                                                          expected))
        self.assertEqual(wrong, [])
        self.assertEqual(self.stack.dump(), before, "a failed call changed the database")


class MethodTests(_StackTests, TestCase):
    """Every method works from every kind of client, and agrees with ovs-vsctl both ways."""

    @defer.inlineCallbacks
    def test_signals_come_before_the_reply(self):
        """A client has heard of every change a call made by the time the call returns: the
        InterfacesAdded and BridgeAdded of a CreateBridge arrive before its reply."""
        obj = yield self.client.getRemoteObject(BUS_NAME, OBJECT_PATH)
        heard = []
        yield obj.notifyOnSignal("BridgeAdded", lambda name: heard.append(("BridgeAdded", name)))
        manager = yield self.client.getRemoteObject(BUS_NAME, OBJECT_PATH)
        yield self.client.addMatch(lambda m: heard.append(("InterfacesAdded", m.body[0])),
                                   interface="org.freedesktop.DBus.ObjectManager", member="InterfacesAdded")
        self.assertIsNotNone(manager)
        for name in ("ord0", "ord1", "ord2"):
            yield obj.callRemote("CreateBridge", name)
            heard.append(("reply", name))
        for name in ("ord0", "ord1", "ord2"):
            reply = heard.index(("reply", name))
            self.assertLess(heard.index(("BridgeAdded", name)), reply, heard)
            self.assertLess(heard.index(("InterfacesAdded", OBJECT_PATH + "/bridge/" + name)), reply, heard)
        for name in ("ord0", "ord1", "ord2"):
            yield obj.callRemote("DeleteBridge", name)

    def test_passed_file_descriptors_are_closed(self):
        """A caller attaching a file descriptor to each call cannot use up the service's descriptors:
        after 100 such calls the service holds no more open files than before."""
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "from gi.repository import Gio"], capture_output=True)
        if probe.returncode != 0:
            if os.environ.get("CI"):
                self.fail("python3-gi is not installed for %s (CI must provide it)" % SYSTEM_PYTHON)
            raise unittest.SkipTest("python3-gi is not installed for %s" % SYSTEM_PYTHON)
        pid = self.stack.service.pid
        before = len(os.listdir("/proc/%d/fd" % pid))
        script = (
            "import os, sys\n"
            "from gi.repository import Gio, GLib\n"
            "conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT"
            " | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)\n"
            "fd = os.open('/dev/null', os.O_RDONLY)\n"
            "for i in range(100):\n"
            "    fds = Gio.UnixFDList.new_from_array([os.dup(fd)])\n"
            "    try:\n"
            "        conn.call_with_unix_fd_list_sync(%r, %r, %r, 'BridgeExists', GLib.Variant('(h)', (0,)), None,"
            " Gio.DBusCallFlags.NONE, -1, fds, None)\n"
            "    except GLib.Error:\n"
            "        pass\n"
            "print('done')\n" % (BUS_NAME, OBJECT_PATH, INTERFACE))
        done = subprocess.run([SYSTEM_PYTHON, "-c", script, self.stack.bus_address],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.stdout.strip(), "done", done.stderr)
        self.assertLessEqual(len(os.listdir("/proc/%d/fd" % pid)), before)
        self.assertTrue(self.stack.service.running)

    @defer.inlineCallbacks
    def test_every_method_through_txdbus(self):
        """A Twisted program using txdbus's remote objects manages bridges and ports; ovs-vsctl sees each
        change as soon as the call returns."""
        obj = yield self.client.getRemoteObject(BUS_NAME, OBJECT_PATH)
        self.assertEqual((yield obj.callRemote("ListBridges")), [])
        self.assertIs((yield obj.callRemote("BridgeExists", "br0")), False)
        self.assertIs((yield obj.callRemote("Get", INTERFACE, "Connected")), True)

        self.assertIsNone((yield obj.callRemote("CreateBridge", "br0")))
        self.assertIs((yield obj.callRemote("BridgeExists", "br0")), True)
        self.assertEqual((yield obj.callRemote("ListBridges")), ["br0"])
        self.assertEqual(self.vsctl_list("list-br"), ["br0"])

        yield obj.callRemote("AddPort", "br0", "p1")
        yield obj.callRemote("AddPort", "br0", "p0")
        self.assertEqual((yield obj.callRemote("ListBridgePorts", "br0")), ["p0", "p1"])
        self.assertEqual(self.vsctl_list("list-ports", "br0"), ["p0", "p1"])

        yield obj.callRemote("DeletePort", "br0", "p1")
        self.assertEqual((yield obj.callRemote("ListBridgePorts", "br0")), ["p0"])
        self.assertEqual(self.vsctl_list("list-ports", "br0"), ["p0"])
        self.assertEqual(self.stack.names("Interface"), ["br0", "p0"])

        yield obj.callRemote("DeleteBridge", "br0")
        self.assertEqual((yield obj.callRemote("ListBridges")), [])
        self.assertIs((yield obj.callRemote("BridgeExists", "br0")), False)
        self.assertEqual(self.vsctl_list("list-br"), [])
        self.assertEqual([self.stack.names(t) for t in ("Bridge", "Port", "Interface")], [[], [], []])

    @defer.inlineCallbacks
    def test_every_method_through_busctl(self):
        """An administrator using busctl gets the same answers, one busctl process per call."""
        def busctl(method, signature="", *args):
            d = realstack.busctl(self.bus, "--json=short", "call", BUS_NAME, OBJECT_PATH, INTERFACE, method,
                                 *([signature, *args] if signature else []))

            def parse(result):
                code, out, err = result
                self.assertEqual(code, 0, "busctl %s %r failed: %s" % (method, args, err))
                return json.loads(out)["data"][0] if out.strip() else None
            return d.addCallback(parse)

        self.assertEqual((yield busctl("ListBridges")), [])
        self.assertIsNone((yield busctl("CreateBridge", "s", "br0")))
        self.assertIs((yield busctl("BridgeExists", "s", "br0")), True)
        self.assertIs((yield busctl("BridgeExists", "s", "br9")), False)
        self.assertEqual((yield busctl("ListBridges")), ["br0"])
        self.assertEqual(self.vsctl_list("list-br"), ["br0"])
        yield busctl("AddPort", "ss", "br0", "eth1")
        yield busctl("AddPort", "ss", "br0", "eth0")
        self.assertEqual((yield busctl("ListBridgePorts", "s", "br0")), ["eth0", "eth1"])
        self.assertEqual(self.vsctl_list("list-ports", "br0"), ["eth0", "eth1"])
        yield busctl("DeletePort", "ss", "br0", "eth0")
        self.assertEqual((yield busctl("ListBridgePorts", "s", "br0")), ["eth1"])
        self.assertEqual(self.vsctl_list("list-ports", "br0"), ["eth1"])
        yield busctl("DeleteBridge", "s", "br0")
        self.assertEqual((yield busctl("ListBridges")), [])
        self.assertEqual(self.vsctl_list("list-br"), [])

        code, out, err = yield realstack.busctl(self.bus, "get-property", BUS_NAME, OBJECT_PATH, INTERFACE,
                                                "Connected")
        self.assertEqual((code, out.strip()), (0, "b true"), err)

    @defer.inlineCallbacks
    def test_every_method_through_gdbus(self):
        """A GLib user calling with ``gdbus call`` (which reads the signatures from introspection) gets the
        same answers."""
        def gdbus(method, *args, interface=INTERFACE):
            def parse(result):
                code, out, err = result
                self.assertEqual(code, 0, "gdbus %s %r failed: %s" % (method, args, err))
                return gvariant(out)
            return realstack.gdbus_call(self.bus, method, *args, interface=interface).addCallback(parse)

        self.assertEqual((yield gdbus("ListBridges")), ([],))
        self.assertEqual((yield gdbus("CreateBridge", "br0")), ())
        self.assertEqual((yield gdbus("BridgeExists", "br0")), (True,))
        self.assertEqual((yield gdbus("ListBridges")), (["br0"],))
        self.assertEqual(self.vsctl_list("list-br"), ["br0"])
        self.assertEqual((yield gdbus("AddPort", "br0", "vif1")), ())
        self.assertEqual((yield gdbus("ListBridgePorts", "br0")), (["vif1"],))
        self.assertEqual(self.vsctl_list("list-ports", "br0"), ["vif1"])
        self.assertEqual((yield gdbus("DeletePort", "br0", "vif1")), ())
        self.assertEqual((yield gdbus("ListBridgePorts", "br0")), ([],))
        self.assertEqual((yield gdbus("DeleteBridge", "br0")), ())
        self.assertEqual((yield gdbus("BridgeExists", "br0")), (False,))
        self.assertEqual(self.vsctl_list("list-br"), [])
        self.assertEqual((yield gdbus("Get", INTERFACE, "Connected", interface=PROPERTIES)), (True,))

    @defer.inlineCallbacks
    def test_service_bridge_looks_like_vsctl_bridge(self):
        """A bridge made over D-Bus is what ``ovs-vsctl add-br`` would have made: ovs-vsctl lists it, its
        port and interface of the same name with type internal, and the ports added to it."""
        yield call(self.client, "CreateBridge", "s", "br0")
        yield call(self.client, "AddPort", "ss", "br0", "p1")
        vsctl = self.stack.vsctl
        self.assertEqual(self.vsctl_list("list-br"), ["br0"])
        vsctl("br-exists", "br0")   # raises unless it exits 0
        self.assertEqual(self.vsctl_list("list-ports", "br0"), ["p1"])
        self.assertEqual(self.vsctl_list("list-ifaces", "br0"), ["p1"])
        self.assertEqual(vsctl("get", "interface", "br0", "type").strip(), "internal")
        self.assertEqual(vsctl("get", "interface", "p1", "type").strip(), '""')
        self.assertEqual(vsctl("get", "port", "br0", "interfaces").strip(),
                         "[%s]" % vsctl("get", "interface", "br0", "_uuid").strip())
        self.assertEqual(vsctl("port-to-br", "p1").strip(), "br0")
        self.assertEqual(vsctl("iface-to-br", "p1").strip(), "br0")
        self.assertEqual(sorted(self.stack.names("Port")), ["br0", "p1"])
        self.assertEqual(sorted(self.stack.names("Interface")), ["br0", "p1"])
        self.assertEqual(self.stack.integrity_problems(), [])

    @defer.inlineCallbacks
    def test_vsctl_bridge_seen_by_service(self):
        """Bridges, ports and bonds made or removed with ovs-vsctl show up in the service's answers, and
        the service can delete what ovs-vsctl made (a bond's interfaces go with it)."""
        self.stack.vsctl("add-br", "br1", "--", "add-port", "br1", "p9", "--",
                         "add-bond", "br1", "bond0", "i1", "i2")
        yield self.until_bridges(["br1"])
        self.assertIs((yield call(self.client, "BridgeExists", "s", "br1")), True)
        self.assertIs((yield call(self.client, "BridgeExists", "s", "p9")), False)
        self.assertEqual((yield call(self.client, "ListBridgePorts", "s", "br1")), ["bond0", "p9"])

        self.stack.vsctl("del-port", "br1", "p9")
        yield poll_until(lambda: call(self.client, "ListBridgePorts", "s", "br1").addCallback(
            lambda ports: ports == ["bond0"]), what="p9 to disappear")

        yield call(self.client, "DeletePort", "ss", "br1", "bond0")
        self.assertEqual(self.vsctl_list("list-ports", "br1"), [])
        self.assertEqual(self.stack.names("Interface"), ["br1"])

        self.stack.vsctl("add-br", "br2")
        yield self.until_bridges(["br1", "br2"])
        self.stack.vsctl("del-br", "br1")
        yield self.until_bridges(["br2"])
        yield call(self.client, "DeleteBridge", "s", "br2")
        self.assertEqual(self.vsctl_list("list-br"), [])

    @defer.inlineCallbacks
    def test_reads_reflect_writes_at_once(self):
        """A program that writes and then reads, without waiting, always reads its own write, and so does
        any other client that asks after the write returned."""
        other = yield realstack.connect(self, self.bus)
        yield call(self.client, "CreateBridge", "s", "br0")
        self.assertIs((yield call(self.client, "BridgeExists", "s", "br0")), True)
        self.assertIs((yield call(other, "BridgeExists", "s", "br0")), True)
        expected = []
        for i in range(10):
            port = "p%d" % i
            yield call(self.client, "AddPort", "ss", "br0", port)
            expected.append(port)
            self.assertEqual((yield call(self.client, "ListBridgePorts", "s", "br0")), expected)
            self.assertEqual((yield call(other, "ListBridgePorts", "s", "br0")), expected)
        for port in list(expected):
            yield call(self.client, "DeletePort", "ss", "br0", port)
            expected.remove(port)
            self.assertEqual((yield call(self.client, "ListBridgePorts", "s", "br0")), expected)
        yield call(self.client, "DeleteBridge", "s", "br0")
        self.assertEqual((yield call(self.client, "ListBridges")), [])
        self.assertIs((yield call(other, "BridgeExists", "s", "br0")), False)

    @defer.inlineCallbacks
    def test_longest_names_work(self):
        """Names of exactly 15 bytes, the most a network device can have, are accepted, multibyte
        characters included."""
        bridge, port = "b" * 15, "é" * 7 + "p"
        yield call(self.client, "CreateBridge", "s", bridge)
        yield call(self.client, "AddPort", "ss", bridge, port)
        self.assertEqual((yield call(self.client, "ListBridgePorts", "s", bridge)), [port])
        self.assertEqual(self.vsctl_list("list-br"), [bridge])
        self.assertEqual(self.vsctl_list("list-ports", bridge), [port])

    @defer.inlineCallbacks
    def test_introspection_names_arguments(self):
        """busctl, gdbus and raw Introspect show every method with its argument names (``name``,
        ``bridge``, ``port``, ``exists``, ``bridges``, ``ports``), never ``arg_0``."""
        expected = {
            "CreateBridge": [("name", "s", "in")],
            "DeleteBridge": [("name", "s", "in")],
            "AddPort": [("bridge", "s", "in"), ("port", "s", "in")],
            "DeletePort": [("bridge", "s", "in"), ("port", "s", "in")],
            "BridgeExists": [("name", "s", "in"), ("exists", "b", "out")],
            "ListBridges": [("bridges", "as", "out")],
            "ListBridgePorts": [("bridge", "s", "in"), ("ports", "as", "out")],
        }
        xml = yield call(self.client, "Introspect", interface="org.freedesktop.DBus.Introspectable")
        self.assertNotIn("arg_", xml)
        [iface] = [i for i in ElementTree.fromstring(xml).findall("interface") if i.get("name") == INTERFACE]
        found = {m.get("name"): [(a.get("name"), a.get("type"), a.get("direction")) for a in m.findall("arg")]
                 for m in iface.findall("method")}
        self.assertEqual({name: found[name] for name in expected}, expected)
        # The configuration methods (issue #10), whose argument names and orders are a contract too.
        config = {"SetPortVlan": [("port", "s", "in"), ("mode", "s", "in"), ("tag", "x", "in"), ("trunks", "ax", "in")],
                  "AddBond": [("bridge", "s", "in"), ("port", "s", "in"), ("interfaces", "as", "in"),
                              ("options", "a{sv}", "in")],
                  "AddTunnel": [("bridge", "s", "in"), ("port", "s", "in"), ("type", "s", "in"),
                                ("remote_ip", "s", "in"), ("options", "a{sv}", "in")],
                  "SetQoS": [("port", "s", "in"), ("type", "s", "in"), ("other_config", "a{ss}", "in"),
                             ("queues", "a{ua{ss}}", "in")],
                  "PortToBridge": [("port", "s", "in"), ("bridge", "s", "out")],
                  "ListInterfaces": [("bridge", "s", "in"), ("interfaces", "as", "out")]}
        self.assertEqual({name: found[name] for name in config}, config)
        self.assertEqual(set(found), {m.name for m in api.ROOT_SPEC.methods})
        self.assertEqual([(p.get("name"), p.get("type"), p.get("access")) for p in iface.findall("property")],
                         [("Connected", "b", "read"), ("ClusterMember", "s", "read"), ("Leader", "b", "read")])

        code, out, err = yield realstack.run([sandbox.find_binary("gdbus"), "introspect", "--address", self.bus,
                                              "--dest", BUS_NAME, "--object-path", OBJECT_PATH])
        self.assertEqual(code, 0, err)
        self.assertNotIn("arg_", out)
        for line in ("CreateBridge(in  s name);", "DeleteBridge(in  s name);", "AddPort(in  s bridge,",
                     "DeletePort(in  s bridge,", "in  s port);", "BridgeExists(in  s name,", "out b exists);",
                     "ListBridges(out as bridges);", "ListBridgePorts(in  s bridge,", "out as ports);",
                     "readonly b Connected"):
            self.assertIn(line, out)

        code, out, err = yield realstack.busctl(self.bus, "introspect", BUS_NAME, OBJECT_PATH, INTERFACE)
        self.assertEqual(code, 0, err)
        rows = {tuple(line.split()[:4]) for line in out.splitlines()}
        for method, args in expected.items():
            ins = "".join(t for _, t, d in args if d == "in") or "-"
            outs = "".join(t for _, t, d in args if d == "out") or "-"
            self.assertIn(("." + method, "method", ins, outs), rows)


    @defer.inlineCallbacks
    def test_call_without_interface(self):
        """A caller that leaves out the interface name (D-Bus allows it; some bindings do) is served by
        member name."""
        yield call(self.client, "CreateBridge", "s", "br0", interface=None)
        self.assertEqual((yield call(self.client, "ListBridges", interface=None)), ["br0"])
        self.assertIs((yield call(self.client, "BridgeExists", "s", "br0", interface=None)), True)
        self.assertEqual(self.vsctl_list("list-br"), ["br0"])

    @defer.inlineCallbacks
    def test_fire_and_forget_calls(self):
        """Calls sent without expecting a reply (NO_REPLY_EXPECTED) by a client that stays on the bus
        take effect; bad ones are dropped quietly and the service carries on."""
        def send(name):
            return self.client.callRemote(OBJECT_PATH, "CreateBridge", interface=INTERFACE,
                                          destination=BUS_NAME, signature="s", body=[name], expectReply=False)
        yield send("a/b")
        yield send("br0")
        yield send("br0")
        yield send("br1")
        yield self.until_bridges(["br0", "br1"])
        self.assertEqual(self.vsctl_list("list-br"), ["br0", "br1"])

    @defer.inlineCallbacks
    def test_fire_and_forget_from_exited_caller(self):
        """A write sent with ``busctl --expect-reply=no`` (NO_REPLY_EXPECTED; busctl leaves the bus right
        after sending) by root either takes effect or the service's log says why it did not: a write
        must never vanish without a trace."""
        log_size = os.path.getsize(self.stack.service.log_file)
        names = ["ff%d" % i for i in range(5)]
        for name in names:
            code, _, err = yield realstack.busctl(self.bus, "--expect-reply=no", "call", BUS_NAME, OBJECT_PATH,
                                                  INTERFACE, "CreateBridge", "s", name)
            self.assertEqual(code, 0, err)

        state = {}

        def accounted_for():
            with open(self.stack.service.log_file, encoding="utf-8", errors="replace") as log:
                log.seek(log_size)
                explained = log.read().count("CreateBridge")
            missing = set(names) - set(self.vsctl_list("list-br"))
            state.update(missing=sorted(missing), log_lines_naming_CreateBridge=explained)
            return explained >= len(missing)
        try:
            yield poll_until(accounted_for, 5)
        except AssertionError:
            self.fail("fire-and-forget CreateBridge calls vanished without a trace: %r" % state)

    @defer.inlineCallbacks
    def test_second_service_refuses_to_start(self):
        """Starting a second ovsdbus on a bus where one already runs fails: it exits with status 1 saying
        the name is in use, and the first one keeps serving."""
        second = sandbox.ServiceProcess(self.stack.ovsdb.remote, self.bus)
        second.start(wait=False)
        try:
            sandbox.wait_until(lambda: second.process.poll() is not None, 15, "the second service to exit")
            log = second.log_file.read_text(errors="replace")
        finally:
            status = second.stop()
        self.assertEqual(status, 1, log)
        self.assertIn("org.openvswitch.ovsdb", log)
        self.assertIn("in use", log)
        self.assertNotIn("Traceback", log)
        yield call(self.client, "CreateBridge", "s", "br0")
        self.assertEqual(self.vsctl_list("list-br"), ["br0"])


class ErrorTests(_StackTests, TestCase):
    """Bad requests fail with the documented error name and change nothing.

    Each test starts with bridge br0 (port p1, bond bond0 of interfaces i1 and i2) and an empty
    bridge br1, made with ovs-vsctl.
    """

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.stack.vsctl("add-br", "br0", "--", "add-port", "br0", "p1", "--", "add-bond", "br0", "bond0",
                         "i1", "i2", "--", "add-br", "br1")
        yield self.until_bridges(["br0", "br1"])
        yield poll_until(lambda: call(self.client, "ListBridgePorts", "s", "br0").addCallback(
            lambda ports: ports == ["bond0", "p1"]), what="br0's ports")

    def test_already_exists(self):
        """Creating a bridge or port whose name any bridge, port or interface already has gives
        AlreadyExists, even when the name is only an interface's (a bond member)."""
        return self.assert_errors([
            (ALREADY_EXISTS, "CreateBridge", "s", "br0"),
            (ALREADY_EXISTS, "CreateBridge", "s", "p1"),
            (ALREADY_EXISTS, "CreateBridge", "s", "bond0"),
            (ALREADY_EXISTS, "CreateBridge", "s", "i1"),
            (ALREADY_EXISTS, "AddPort", "ss", "br0", "p1"),
            (ALREADY_EXISTS, "AddPort", "ss", "br1", "p1"),
            (ALREADY_EXISTS, "AddPort", "ss", "br1", "br0"),
            (ALREADY_EXISTS, "AddPort", "ss", "br1", "br1"),
            (ALREADY_EXISTS, "AddPort", "ss", "br1", "i2"),
        ])

    def test_not_found(self):
        """Naming a bridge that does not exist, or a port the bridge does not have, gives NotFound."""
        return self.assert_errors([
            (NOT_FOUND, "DeleteBridge", "s", "nobr"),
            (NOT_FOUND, "DeleteBridge", "s", "p1"),
            (NOT_FOUND, "AddPort", "ss", "nobr", "p5"),
            (NOT_FOUND, "DeletePort", "ss", "nobr", "p1"),
            (NOT_FOUND, "DeletePort", "ss", "br0", "nop"),
            (NOT_FOUND, "DeletePort", "ss", "br1", "p1"),
            (NOT_FOUND, "DeletePort", "ss", "br0", "i1"),
            (NOT_FOUND, "ListBridgePorts", "s", "nobr"),
            (NOT_FOUND, "ListBridgePorts", "s", "p1"),
        ])

    @defer.inlineCallbacks
    def test_invalid_names(self):
        """Creating a bridge or port with a name no network device can have (empty, over 15 bytes, '/',
        ':', '%', whitespace, control characters, '.', '..') gives InvalidArgs.  Looking such a name up
        is no error (other tools may have made it): it is NotFound, or BridgeExists says false; only an
        empty or oversize (over 1 kB) name is InvalidArgs everywhere."""
        cases = []
        for bad in BAD_NAMES:
            lookup = INVALID_ARGS if bad == "" or len(bad.encode()) > 1024 else NOT_FOUND
            cases += [
                (INVALID_ARGS, "CreateBridge", "s", bad),
                (INVALID_ARGS, "AddPort", "ss", "br0", bad),
                (lookup, "DeleteBridge", "s", bad),
                (lookup, "ListBridgePorts", "s", bad),
                (lookup, "AddPort", "ss", bad, "p9"),
                (lookup, "DeletePort", "ss", bad, "p1"),
                (lookup, "DeletePort", "ss", "br0", bad),
            ]
        yield self.assert_errors(cases)
        for bad in BAD_NAMES:
            if bad and len(bad.encode()) <= 1024:
                self.assertIs((yield call(self.client, "BridgeExists", "s", bad)), False)
            else:
                self.assertEqual((yield call_error(self.client, "BridgeExists", "s", bad)), INVALID_ARGS)

    @defer.inlineCallbacks
    def test_bridges_named_by_other_tools(self):
        """A bridge ovs-vsctl made with a name ovsdbus would not create (a colon, 16 bytes) can be
        checked, listed, have its ports listed and be deleted through ovsdbus."""
        self.stack.vsctl("add-br", "br:legacy0", "--", "add-port", "br:legacy0", "lp0")
        self.stack.vsctl("add-br", "verylongbridge16")
        self.assertIs((yield call(self.client, "BridgeExists", "s", "verylongbridge16")), True)
        self.assertEqual((yield call(self.client, "ListBridgePorts", "s", "br:legacy0")), ["lp0"])
        yield call(self.client, "DeletePort", "ss", "br:legacy0", "lp0")
        yield call(self.client, "DeleteBridge", "s", "br:legacy0")
        yield call(self.client, "DeleteBridge", "s", "verylongbridge16")
        self.assertNotIn("verylongbridge16", self.vsctl_list("list-br"))
        self.assertNotIn("br:legacy0", self.vsctl_list("list-br"))

    @defer.inlineCallbacks
    def test_deleting_local_port_is_invalid(self):
        """DeletePort on a bridge's own local port gives InvalidArgs (delete the bridge instead), and the
        bridge keeps working."""
        yield self.assert_errors([(INVALID_ARGS, "DeletePort", "ss", "br0", "br0"),
                                  (INVALID_ARGS, "DeletePort", "ss", "br1", "br1")])
        yield call(self.client, "AddPort", "ss", "br1", "p2")
        self.assertEqual(self.vsctl_list("list-ports", "br1"), ["p2"])

    def test_wrong_signature(self):
        """Calling with arguments of the wrong type or number gives InvalidArgs, never a crash or a
        half-done change."""
        cases = [
            (INVALID_ARGS, "CreateBridge", "i", 3),
            (INVALID_ARGS, "CreateBridge", "ss", "br5", "br6"),
            (INVALID_ARGS, "CreateBridge", ""),
            (INVALID_ARGS, "DeleteBridge", "as", ["br0"]),
            (INVALID_ARGS, "AddPort", "s", "br0"),
            (INVALID_ARGS, "AddPort", "sss", "br0", "p7", "p8"),
            (INVALID_ARGS, "DeletePort", "si", "br0", 1),
            (INVALID_ARGS, "BridgeExists", "b", True),
            (INVALID_ARGS, "ListBridges", "s", "br0"),
            (INVALID_ARGS, "ListBridgePorts", "o", "/br0"),
        ]
        return self.assert_errors(cases)

    def test_properties_errors(self):
        """Setting a property gives PropertyReadOnly, an unknown property UnknownProperty; Connected stays
        readable and true."""
        d = self.assert_errors([
            (DBUS_ERROR + "PropertyReadOnly", "Set", "ssv", INTERFACE, "Connected", False),
            (DBUS_ERROR + "PropertyReadOnly", "Set", "ssv", INTERFACE, "Connected", "yes"),
            (DBUS_ERROR + "UnknownProperty", "Get", "ss", INTERFACE, "Nope"),
            (DBUS_ERROR + "UnknownProperty", "Set", "ssv", INTERFACE, "Nope", True),
            (DBUS_ERROR + "UnknownInterface", "Get", "ss", "org.example.Nothing", "Connected"),
            (INVALID_ARGS, "Get", "s", INTERFACE),
        ], client=_PropertiesClient(self))
        d.addCallback(lambda _: call(self.client, "GetAll", "s", INTERFACE, interface=PROPERTIES))
        d.addCallback(lambda p: self.assertEqual(
            (p["Connected"], p["Leader"], p["ClusterMember"] in self.stack.service.ovsdb_remote.split(","), len(p)),
            (True, True, True, 3)))
        return d

    def test_unknown_members(self):
        """A method, interface or object the service does not have gives the standard D-Bus error."""
        cases = [
            (DBUS_ERROR + "UnknownMethod", "Frobnicate", ""),
            (DBUS_ERROR + "UnknownMethod", "createbridge", "s", "br5"),
        ]
        d = self.assert_errors(cases)
        d.addCallback(lambda _: call_error(self.client, "ListBridges", path="/org/openvswitch/nothing"))
        d.addCallback(self.assertEqual, DBUS_ERROR + "UnknownObject")
        d.addCallback(lambda _: call_error(self.client, "ListBridges", interface="org.example.Nothing"))
        d.addCallback(self.assertEqual, DBUS_ERROR + "UnknownInterface")
        return d

    @defer.inlineCallbacks
    def test_command_line_error_names(self):
        """gdbus and dbus-send users see the documented error names and a readable message; busctl users
        a non-zero exit and the message; the database is unchanged."""
        before = self.stack.dump()
        cases = [
            (ALREADY_EXISTS, "CreateBridge", ("br0",)),
            (NOT_FOUND, "DeleteBridge", ("nobr",)),
            (NOT_FOUND, "AddPort", ("nobr", "p5")),
            (INVALID_ARGS, "CreateBridge", ("a/b",)),
            (INVALID_ARGS, "CreateBridge", ("",)),
            (INVALID_ARGS, "DeletePort", ("br0", "br0")),
            (DBUS_ERROR + "PropertyReadOnly", "org.freedesktop.DBus.Properties.Set",
             (INTERFACE, "Connected", "<false>")),
            (DBUS_ERROR + "UnknownProperty", "org.freedesktop.DBus.Properties.Get", (INTERFACE, "Nope")),
        ]
        for expected, method, args in cases:
            interface, _, member = method.rpartition(".")
            code, out, err = yield realstack.gdbus_call(self.bus, member, *args, interface=interface or INTERFACE)
            self.assertNotEqual(code, 0)
            self.assertEqual(gdbus_error_name(err), expected, "gdbus %s %r: %s" % (method, args, err))

        code, out, err = yield realstack.run([
            sandbox.find_binary("dbus-send"), "--bus=" + self.bus, "--print-reply", "--dest=" + BUS_NAME,
            OBJECT_PATH, INTERFACE + ".CreateBridge", "int32:3"])
        self.assertNotEqual(code, 0)
        self.assertRegex(err, r"^Error %s: " % re.escape(INVALID_ARGS))
        code, out, err = yield realstack.run([
            sandbox.find_binary("dbus-send"), "--bus=" + self.bus, "--print-reply", "--dest=" + BUS_NAME,
            OBJECT_PATH, INTERFACE + ".DeletePort", "string:br0", "string:nop"])
        self.assertRegex(err, r"^Error %s: " % re.escape(NOT_FOUND))

        code, out, err = yield realstack.busctl_call(self.bus, "CreateBridge", "s", "br0")
        self.assertNotEqual(code, 0)
        self.assertIn("br0", err)   # busctl prints the message, not the name
        code, out, err = yield realstack.busctl_call(self.bus, "CreateBridge", "i", "3")
        self.assertNotEqual(code, 0)
        self.assertTrue(err.strip())
        self.assertEqual(self.stack.dump(), before)

    @defer.inlineCallbacks
    def test_no_python_exception_names(self):
        """Whatever a caller sends, errors carry a documented name, none of them
        org.txdbus.PythonException.*; nothing changes and the service keeps running."""
        unused = ["nobr", "ü", "x" * 15, "-", "0", "\U0001F600"]   # valid names nothing has
        values = BAD_NAMES + unused + ["br0", "br1", "p1", "bond0", "i1", "\u2028"]

        def harmless(method, args):
            # Leave out the calls that would succeed in changing the database.
            if method == "CreateBridge":
                return args[0] not in unused
            if method == "AddPort":
                return not (args[0] in ("br0", "br1") and args[1] in unused)
            if method == "DeleteBridge":
                return args[0] not in ("br0", "br1")
            if method == "DeletePort":
                return not (args[0] == "br0" and args[1] in ("p1", "bond0"))
            return True

        before = self.stack.dump()
        names = set()
        for method, signature in SIGNATURES.items():
            n = len(signature)
            for value in values:
                candidates = {(value,) * n}
                if n:
                    candidates.add(("br0",) + (value,) * (n - 1))
                for args in sorted(candidates):
                    if harmless(method, args):
                        try:
                            yield call(self.client, method, signature, *args)
                        except RemoteError as e:
                            names.add(e.errName)
            wrong_bodies = {"i": [7], "ay": [bytearray(b"br0")], "a{ss}": [{"a": "b"}], "sss": ["a", "b", "c"], "": []}
            for wrong, body in wrong_bodies.items():
                if wrong != signature:
                    names.add((yield call_error(self.client, method, wrong, *body)))
        self.assertEqual(sorted(n for n in names if n.startswith("org.txdbus.")), [])
        self.assertEqual(names - DOCUMENTED_ERRORS, set())
        self.assertTrue({ALREADY_EXISTS, NOT_FOUND, INVALID_ARGS} <= names, names)
        self.assertEqual(self.stack.dump(), before)


class _PropertiesClient:
    """Routes :func:`call_error` to org.freedesktop.DBus.Properties (for ``assert_errors``)."""

    def __init__(self, testcase):
        self._testcase = testcase

    def callRemote(self, path, method, **kwargs):
        kwargs["interface"] = PROPERTIES
        return self._testcase.client.callRemote(path, method, **kwargs)


class ConcurrencyTests(_StackTests, TestCase):
    """Writers racing each other, or ovs-vsctl, never both win and never leave rows behind."""

    @defer.inlineCallbacks
    def test_same_bridge_from_two_clients(self):
        """When two programs create the same bridge at the same moment, one succeeds and the other gets
        AlreadyExists; the database has one bridge, one port, one interface of that name."""
        other = yield realstack.connect(self, self.bus)
        names = ["race%d" % i for i in range(5)]
        for name in names:
            results = yield defer.gatherResults([
                outcome(call(self.client, "CreateBridge", "s", name)),
                outcome(call(other, "CreateBridge", "s", name))])
            self.assertEqual(sorted(results), sorted(["ok", ALREADY_EXISTS]), name)
        self.assertEqual(self.vsctl_list("list-br"), names)
        for table in ("Bridge", "Port", "Interface"):
            self.assertEqual(self.stack.names(table), names, table)
        self.assertEqual(self.stack.integrity_problems(), [])

    @defer.inlineCallbacks
    def test_create_bridge_races_vsctl(self):
        """CreateBridge racing ``ovs-vsctl add-br`` of the same name: exactly one of them succeeds and
        the database holds exactly one bridge of that name, complete."""
        names = ["vs%d" % i for i in range(5)]
        for name in names:
            vsctl, dbus = yield defer.gatherResults([
                self.stack.vsctl_async("add-br", name),
                outcome(call(self.client, "CreateBridge", "s", name))])
            code, _, err = vsctl
            if code == 0:
                self.assertEqual(dbus, ALREADY_EXISTS, name)
            else:
                self.assertEqual(dbus, "ok", name)
                self.assertIn("already exists", err)
        self.assertEqual(self.vsctl_list("list-br"), names)
        for table in ("Bridge", "Port", "Interface"):
            self.assertEqual(self.stack.names(table), names, table)
        self.assertEqual(self.stack.integrity_problems(), [])
        yield self.until_bridges(names)

    @defer.inlineCallbacks
    def test_add_port_races_delete_bridge(self):
        """AddPort to a bridge that another client (or ovs-vsctl) deletes at the same moment either
        succeeds before the bridge goes or answers NotFound; no port or interface is left behind."""
        other = yield realstack.connect(self, self.bus)
        for i in range(6):
            bridge, port = "del%d" % i, "q%d" % i
            yield call(self.client, "CreateBridge", "s", bridge)
            if i % 2 == 0:
                deleted = outcome(call(other, "DeleteBridge", "s", bridge))
            else:
                deleted = self.stack.vsctl_async("del-br", bridge).addCallback(lambda r: r[0] == 0 and "ok" or r)
            added = outcome(call(self.client, "AddPort", "ss", bridge, port))
            add_result, delete_result = yield defer.gatherResults([added, deleted])
            self.assertEqual(delete_result, "ok", bridge)
            self.assertIn(add_result, ("ok", NOT_FOUND), bridge)
            self.assertEqual(self.stack.names("Port"), [], bridge)
            self.assertEqual(self.stack.names("Interface"), [], bridge)
            self.assertEqual(self.stack.integrity_problems(), [])
        yield self.until_bridges([])

    @defer.inlineCallbacks
    def test_many_concurrent_add_ports(self):
        """Thirty AddPorts to one bridge sent at once from three programs all succeed, and every port is
        there afterwards."""
        clients = [self.client, (yield realstack.connect(self, self.bus)), (yield realstack.connect(self, self.bus))]
        yield call(self.client, "CreateBridge", "s", "br0")
        ports = ["p%02d" % i for i in range(30)]
        results = yield defer.gatherResults([outcome(call(clients[i % 3], "AddPort", "ss", "br0", port))
                                             for i, port in enumerate(ports)])
        self.assertEqual(results, ["ok"] * len(ports))
        for client in clients:
            self.assertEqual((yield call(client, "ListBridgePorts", "s", "br0")), ports)
        self.assertEqual(self.vsctl_list("list-ports", "br0"), ports)
        self.assertEqual(self.stack.integrity_problems(), [])

    @defer.inlineCallbacks
    def test_same_port_from_two_clients(self):
        """Two programs adding the same port name (to the same or different bridges) at once: one
        succeeds, the other gets AlreadyExists."""
        other = yield realstack.connect(self, self.bus)
        yield call(self.client, "CreateBridge", "s", "br0")
        yield call(self.client, "CreateBridge", "s", "br1")
        for i, bridges in enumerate([("br0", "br0"), ("br0", "br1"), ("br1", "br0")]):
            port = "dup%d" % i
            results = yield defer.gatherResults([outcome(call(self.client, "AddPort", "ss", bridges[0], port)),
                                                 outcome(call(other, "AddPort", "ss", bridges[1], port))])
            self.assertEqual(sorted(results), sorted(["ok", ALREADY_EXISTS]), port)
        self.assertEqual(sorted(self.vsctl_list("list-ports", "br0") + self.vsctl_list("list-ports", "br1")),
                         ["dup0", "dup1", "dup2"])
        self.assertEqual(self.stack.integrity_problems(), [])


class ReconnectTests(TestCase):
    """The service rides out ovsdb-server going away and coming back.  Each test has its own stack."""

    #: What the tests promise a user about time while ovsdb-server is down (seconds).
    NOTICE_WITHIN = 5.0     # Connected turns false (a unix socket closing is seen at once)
    ANSWER_WITHIN = 2.0     # each call answers Disconnected (in practice in milliseconds), not after --timeout
    RECONNECT_WITHIN = 20.0  # backoff starts at 0.5 s and doubles to 8 s

    @defer.inlineCallbacks
    def start(self, ovsdb=True, service_args=(), remote=None):
        self.stack = realstack.RealStack(service_args)
        self.addCleanup(self.stack.stop)
        self.stack.start(ovsdb=ovsdb, remote=remote)
        self.addCleanup(self.assert_service_alive)
        self.client = yield realstack.connect(self, self.stack.bus_address)

    expect_running = True

    def assert_service_alive(self):
        """The service still runs (unless its bus was stopped) and logged no traceback."""
        if self.expect_running and not self.stack.service.running and self.stack.dbus.running:
            self.fail("the service exited:\n" + self.stack.service_log())
        assert_no_tracebacks(self, self.stack)

    def connected(self):
        return get_property(self.client, "Connected")

    def until_connected(self, expected, timeout):
        return poll_until(lambda: self.connected().addCallback(lambda c: c is expected), timeout,
                          what="Connected to be %s" % expected)

    @defer.inlineCallbacks
    def assert_disconnected_answers(self):
        """Every method answers Disconnected within ANSWER_WITHIN seconds."""
        calls = [("CreateBridge", "s", "br5"), ("DeleteBridge", "s", "br0"), ("AddPort", "ss", "br0", "p5"),
                 ("DeletePort", "ss", "br0", "p1"), ("BridgeExists", "s", "br0"), ("ListBridges", ""),
                 ("ListBridgePorts", "s", "br0")]
        for method, signature, *args in calls:
            started = time.monotonic()
            name = yield call_error(self.client, method, signature, *args)
            elapsed = time.monotonic() - started
            self.assertEqual(name, DISCONNECTED, method)
            self.assertLess(elapsed, self.ANSWER_WITHIN, method)

    @defer.inlineCallbacks
    def test_server_restart(self):
        """When ovsdb-server stops, Connected turns false within 5 s and every call answers Disconnected
        at once; when it comes back on the same database, the service reconnects by itself (within 20 s)
        with all data intact, and writes work again."""
        yield self.start()
        yield call(self.client, "CreateBridge", "s", "br0")
        yield call(self.client, "AddPort", "ss", "br0", "p1")
        self.assertIs((yield self.connected()), True)

        self.stack.stop_ovsdb()
        yield self.until_connected(False, self.NOTICE_WITHIN)
        yield self.assert_disconnected_answers()

        self.stack.start_ovsdb()
        yield poll_until(lambda: call(self.client, "ListBridges").addCallback(lambda b: b == ["br0"]),
                         self.RECONNECT_WITHIN, what="the service to reconnect")
        self.assertIs((yield self.connected()), True)
        self.assertEqual((yield call(self.client, "ListBridgePorts", "s", "br0")), ["p1"])
        yield call(self.client, "CreateBridge", "s", "br1")
        yield call(self.client, "DeletePort", "ss", "br0", "p1")
        self.assertEqual(self.stack.vsctl("list-br").split(), ["br0", "br1"])
        self.assertEqual(self.stack.vsctl("list-ports", "br0").split(), [])

    @defer.inlineCallbacks
    def test_changes_while_away_are_seen(self):
        """Bridges added and removed while the service could not see the database (changed offline) are
        reflected once it reconnects: the removed one is gone, the new one is there."""
        yield self.start()
        yield call(self.client, "CreateBridge", "s", "old")
        old_uuid = self.stack.vsctl("get", "bridge", "old", "_uuid").strip()
        self.stack.stop_ovsdb()
        self.stack.ovsdb.tool_transact(["Open_vSwitch",
            {"op": "insert", "table": "Interface", "row": {"name": "new", "type": "internal"}, "uuid-name": "i"},
            {"op": "insert", "table": "Port", "row": {"name": "new", "interfaces": ["named-uuid", "i"]},
             "uuid-name": "p"},
            {"op": "insert", "table": "Bridge", "row": {"name": "new", "ports": ["named-uuid", "p"]},
             "uuid-name": "b"},
            {"op": "mutate", "table": "Open_vSwitch", "where": [],
             "mutations": [["bridges", "insert", ["named-uuid", "b"]],
                           ["bridges", "delete", ["uuid", old_uuid]]]}])
        self.stack.start_ovsdb()
        yield poll_until(lambda: call(self.client, "ListBridges").addCallback(lambda b: b == ["new"]),
                         self.RECONNECT_WITHIN, what="the service to see the offline change")
        self.assertIs((yield call(self.client, "BridgeExists", "s", "old")), False)
        yield call(self.client, "CreateBridge", "s", "old")
        self.assertEqual(self.stack.vsctl("list-br").split(), ["new", "old"])

    @defer.inlineCallbacks
    def test_service_started_before_server(self):
        """A service started while ovsdb-server is down keeps running, says Connected false and answers
        Disconnected, and becomes usable by itself once the server comes up."""
        yield self.start(ovsdb=False)
        self.assertIs((yield self.connected()), False)
        yield self.assert_disconnected_answers()
        self.stack.start_ovsdb()
        yield poll_until(lambda: call(self.client, "ListBridges").addCallback(lambda b: b == []),
                         self.RECONNECT_WITHIN, what="the service to connect")
        self.assertIs((yield self.connected()), True)
        yield call(self.client, "CreateBridge", "s", "br0")
        self.assertEqual(self.stack.vsctl("list-br").split(), ["br0"])

    @defer.inlineCallbacks
    def test_name_appears_once_the_tree_is_filled(self):
        """The real service started on a database that already has a bridge: a client watching the
        bus sees the name appear with Connected already true and the bridge's objects in
        GetManagedObjects, and hears no InterfacesAdded or BridgeAdded for them."""
        yield self.start()
        self.stack.vsctl("add-br", "br0", "--", "add-port", "br0", "p1")
        self.stack.service.stop(remove=False)
        heard, appeared = [], defer.Deferred()

        def received(msg):
            heard.append((msg.member, msg.body))
            if msg.member == "NameOwnerChanged" and msg.body[0] == api.BUS_NAME and msg.body[2] \
                    and not appeared.called:
                reads = defer.gatherResults([self.connected(), self.client.callRemote(
                    api.OBJECT_PATH, "GetManagedObjects", interface="org.freedesktop.DBus.ObjectManager",
                    destination=api.BUS_NAME)], consumeErrors=True)
                reads.chainDeferred(appeared)
        self.client.signalReceived = received
        yield self.client.callRemote("/org/freedesktop/DBus", "AddMatch", interface="org.freedesktop.DBus",
                                     destination="org.freedesktop.DBus", signature="s", body=["type='signal'"])
        self.stack.service.start(wait=False)
        connected, objects = yield appeared
        self.assertIs(connected, True)
        bridge = api.OBJECT_PATH + "/bridge/br0"
        self.assertIn(bridge, objects)
        self.assertIn(api.OBJECT_PATH + "/interface/p1", objects)
        self.stack.vsctl("add-br", "zz")
        yield poll_until(lambda: ("BridgeAdded", ["zz"]) in heard, what="BridgeAdded of zz")
        added = [body[0] for member, body in heard if member == "InterfacesAdded"]
        self.assertIn(api.OBJECT_PATH + "/bridge/zz", added)
        self.assertNotIn(bridge, added)
        self.assertEqual([body for member, body in heard if member == "BridgeAdded"], [["zz"]])

    @defer.inlineCallbacks
    def test_frozen_server_times_out(self):
        """With ``--timeout 1``, a write to an ovsdb-server that stopped answering (but keeps its socket
        open) fails with Timeout after about a second, and by then ovsdbus has given the connection up:
        Connected is false and reads answer Disconnected rather than from a replica that no longer
        moves.  Once the server runs again, the service agrees with it and writes work.  A Timeout does
        not say whether the write happened: the resync shows whether the server committed it."""
        yield self.start(service_args=("--timeout", "1"))
        yield call(self.client, "CreateBridge", "s", "br0")
        pid = self.stack.ovsdb.pid
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(_continue, pid)
        started = time.monotonic()
        name = yield call_error(self.client, "CreateBridge", "s", "br1")
        elapsed = time.monotonic() - started
        self.assertEqual(name, TIMEOUT)
        self.assertTrue(0.9 <= elapsed < 5, elapsed)
        self.assertIs((yield self.connected()), False)
        self.assertEqual((yield call_error(self.client, "ListBridges")), DISCONNECTED)

        _continue(pid)

        def agree():
            return call(self.client, "ListBridges").addCallback(
                lambda bridges: bridges == self.stack.vsctl("list-br").split() and bridges)
        seen = yield poll_until(agree, self.RECONNECT_WITHIN, what="the service to agree with ovsdb-server")
        self.assertIn(seen, (["br0"], ["br0", "br1"]))
        yield call(self.client, "CreateBridge", "s", "br2")
        self.assertEqual(self.stack.vsctl("list-br").split(), seen + ["br2"])

    @defer.inlineCallbacks
    def test_call_in_flight_when_server_dies(self):
        """A write waiting for a server that then dies answers Disconnected at once (not after --timeout),
        and the service comes back when the server does."""
        yield self.start()
        yield call(self.client, "CreateBridge", "s", "br0")
        pid = self.stack.ovsdb.pid
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(_continue, pid)
        pending = outcome(call(self.client, "CreateBridge", "s", "br1"))
        # Calls on one connection are handled in order: once this answers, br1's transaction was sent.
        self.assertEqual((yield call(self.client, "ListBridges")), ["br0"])
        self.assertFalse(pending.called)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.assertEqual((yield pending), DISCONNECTED)
        self.assertLess(time.monotonic() - killed, self.ANSWER_WITHIN)
        self.stack.stop_ovsdb()
        self.stack.start_ovsdb()
        yield poll_until(lambda: call(self.client, "ListBridges").addCallback(lambda b: b == ["br0"]),
                         self.RECONNECT_WITHIN, what="the service to reconnect")
        yield call(self.client, "CreateBridge", "s", "br1")
        self.assertEqual(self.stack.vsctl("list-br").split(), ["br0", "br1"])

    @defer.inlineCallbacks
    def test_probe_detects_frozen_tcp_server(self):
        """Over tcp with ``--probe-interval 0.5``, a server that stops answering is noticed within two
        intervals (Connected false, calls answer Disconnected); while it stays frozen the service keeps
        trying (each new connection is dropped by the probe too) without logging errors; it reconnects
        once the server answers again."""
        yield self.start(service_args=("--probe-interval", "0.5"), remote=lambda stack: stack.add_tcp_remote())
        port = int(self.stack.service.ovsdb_remote.rsplit(":", 1)[1])
        yield self.until_connected(True, self.RECONNECT_WITHIN)
        yield call(self.client, "CreateBridge", "s", "br0")
        pid = self.stack.ovsdb.pid
        first = realstack.tcp_client_ports(port)
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(_continue, pid)
        frozen = time.monotonic()
        yield self.until_connected(False, 4.0)
        self.assertGreater(time.monotonic() - frozen, 0.4)
        yield self.assert_disconnected_answers()

        # A new connection attempt reaches the frozen server (the kernel accepts it), and is given up.
        attempt = yield poll_until(lambda: realstack.tcp_client_ports(port) - first, self.RECONNECT_WITHIN,
                                   what="a reconnection attempt")
        yield poll_until(lambda: not attempt & realstack.tcp_client_ports(port), 5,
                         what="the attempt on the frozen server to be dropped")
        self.assertIs((yield self.connected()), False)

        _continue(pid)
        yield poll_until(lambda: call(self.client, "ListBridges").addCallback(lambda b: b == ["br0"]),
                         self.RECONNECT_WITHIN, what="the service to reconnect")
        yield call(self.client, "CreateBridge", "s", "br1")
        self.assertEqual(self.stack.vsctl("list-br").split(), ["br0", "br1"])

    @defer.inlineCallbacks
    def test_stop_while_connecting_is_clean(self):
        """Stopping the service (SIGTERM) while it is still connecting to a server that does not answer
        ends it promptly and without a traceback in its log."""
        yield self.start()
        # Start the service afresh against a frozen server: its connection is made (the kernel accepts
        # it) but never prepared.
        self.stack.service.stop(remove=False)
        pid = self.stack.ovsdb.pid
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(_continue, pid)
        self.stack.service.start()
        self.assertIs((yield self.connected()), False)
        status = self.stack.service.stop(remove=False)
        self.expect_running = False
        self.assertIn(status, (0, -signal.SIGTERM))
        assert_no_tracebacks(self, self.stack)

    @defer.inlineCallbacks
    def test_remote_list_skips_dead_remote(self):
        """With ``--ovsdb`` listing a dead remote before the live one, the service tries the next and
        works."""
        yield self.start(remote=lambda stack: "unix:%s/nothing.sock,%s" % (stack.directory, stack.ovsdb.remote))
        yield poll_until(lambda: call(self.client, "ListBridges").addCallback(lambda b: b == []),
                         self.RECONNECT_WITHIN, what="the service to connect")
        yield call(self.client, "CreateBridge", "s", "br0")
        self.assertEqual(self.stack.vsctl("list-br").split(), ["br0"])

    @defer.inlineCallbacks
    def test_bus_loss_exits(self):
        """When the bus goes away the service exits with status 1 (txdbus cannot reconnect; systemd's
        Restart=on-failure starts a fresh one) instead of running on unreachable."""
        yield self.start()
        service = self.stack.service
        self.stack.dbus.stop()
        yield poll_until(lambda: service.process.poll() is not None, 10, what="the service to exit")
        self.assertEqual(service.process.returncode, 1, self.stack.service_log())
        self.assertIn("D-Bus", self.stack.service_log())

def _continue(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


class PluginTests(TestCase):
    """``twistd ovsdbus`` on the command line."""

    def twistd(self, *args):
        return realstack.run(realstack.twistd_argv(*args), env=realstack.checkout_env())

    @defer.inlineCallbacks
    def test_help_lists_every_option(self):
        """``twistd ovsdbus --help`` documents every option (--ovsdb, --bus, --timeout, --probe-interval and
        all the others the plugin defines), and ``twistd --help`` lists the plugin."""
        code, out, err = yield self.twistd("ovsdbus", "--help")
        self.assertEqual(code, 0, err)
        options = {"ovsdb", "bus", "timeout", "probe-interval"}
        options |= {p[0] for p in getattr(tap.Options, "optParameters", [])}
        options |= {f[0] for f in getattr(tap.Options, "optFlags", [])}
        for option in sorted(options):
            self.assertRegex(out, r"--%s\b" % re.escape(option))
        self.assertIn("unix:/var/run/openvswitch/db.sock", out)
        code, out, err = yield self.twistd("--help")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"\bovsdbus\b.*OVSDB")

    @defer.inlineCallbacks
    def test_bad_options_are_usage_errors(self):
        """A bad --ovsdb (or --timeout, --probe-interval) value stops twistd at once with a message naming
        the option, before anything connects, and with a non-zero status wherever twistd gives one for
        its own usage errors (Twisted 22.4, Debian bookworm's, exits 0 after any usage error)."""
        cases = [
            (["--ovsdb", "nonsense"], "--ovsdb: 'nonsense' is not a remote"),
            (["--ovsdb", "unix:"], "--ovsdb:"),
            (["--ovsdb", ""], "--ovsdb: no remote given"),
            (["--ovsdb", "tcp:127.0.0.1:notaport"], "--ovsdb:"),
            (["--ovsdb", "ssl:127.0.0.1:6640"], "--ovsdb: ssl remotes need --private-key"),
            (["--timeout", "0"], "must be > 0"),
            (["--probe-interval", "-1"], "--probe-interval"),
            (["--no-such-option"], "--no-such-option"),
        ]
        twistd_usage_status, _, _ = yield self.twistd("--no-such-twistd-option")
        results = yield defer.gatherResults([
            self.twistd("-n", "--pidfile=", "ovsdbus", "--bus", "unix:path=/nonexistent", *args)
            for args, _ in cases])
        for (args, message), (code, out, err) in zip(cases, results, strict=True):
            self.assertNotEqual(code, 124, "%r did not stop" % (args,))
            if twistd_usage_status != 0:
                self.assertNotEqual(code, 0, "%r exited with 0" % (args,))
            self.assertIn(message, out + err, args)
            self.assertNotIn("Traceback", out + err, args)

    @defer.inlineCallbacks
    def test_no_bus_exits(self):
        """A service whose bus cannot be reached says so and exits with status 1 (so systemd restarts it)
        rather than running without a bus."""
        code, out, err = yield self.twistd("-n", "--pidfile=", "ovsdbus", "--ovsdb", "unix:/nonexistent/db.sock",
                                           "--bus", "unix:path=/nonexistent/bus.sock")
        self.assertEqual(code, 1, out + err)
        self.assertIn("D-Bus", out + err)
