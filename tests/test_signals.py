"""Signals end to end: changes to the database, as the service's subscribers see them.

Real stack (:class:`SignalTests`, :class:`GLibClientTests`, :class:`ResyncTests`): a real
ovsdb-server changed with ``ovs-vsctl`` (or, while it is stopped, ``ovsdb-tool transact``), the
real ``twistd -n ovsdbus`` on a private dbus-daemon (:mod:`tests.realstack`), and subscribers
that are separate processes: a txdbus program (:data:`SUBSCRIBER`) printing every signal of the
service as a JSON line, ``dbus-monitor``, and a GLib program using ``Gio.DBusObjectManagerClient``
(:data:`GLIB_CLIENT`, run by Debian's ``/usr/bin/python3``, which has python3-gi).  Each
subscriber says when it is subscribed (after AddMatch, BecomeMonitor or the object manager's
initial GetManagedObjects) before the test changes anything, and every wait polls with a deadline.

To know that nothing more will come for a change, a test makes one more change afterwards (a
marker bridge) and waits for its signal: the service emits in commit order, so everything before
the marker's BridgeAdded is everything the earlier changes produced.

In process against the fake OVSDB (:class:`FakeOvsdbSignalTests`): the service's own
:class:`~ovsdbus.ovsdb.connection.OvsdbConnection` and :class:`~ovsdbus.bus.service.BusService` in this
reactor, fed by :class:`ovsdbus.testing.FakeOvsdbFactory` on a unix socket, with a private
dbus-daemon and a txdbus subscriber; the same scenarios plus faults only the fake can inject
(a connection cut in the middle of an update notification, garbage on the wire).

Missing programs skip these tests on a developer machine and fail them when ``CI`` is set.
"""

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ElementTree

from twisted.internet import defer, reactor
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.trial.unittest import TestCase

from ovsdbus.testing import sandbox
from tests import realstack

BUS_NAME = "org.openvswitch.ovsdb"
ROOT = "/org/openvswitch/ovsdb"
INTERFACE = "org.openvswitch.ovsdb"
PROPERTIES = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
BRIDGE_IFACE, PORT_IFACE, INTERFACE_IFACE = INTERFACE + ".Bridge", INTERFACE + ".Port", INTERFACE + ".Interface"
ROOT_SIGNALS = ("BridgeAdded", "BridgeRemoved", "PortAdded", "PortRemoved", "InterfaceAdded", "InterfaceRemoved")
SYSTEM_PYTHON = "/usr/bin/python3"
SCHEMA_PATH = "/usr/share/openvswitch/vswitch.ovsschema"

#: The generated per-table interfaces (every row of every table is an object, see
#: tests/test_objects.py); these tests follow the older Bridge/Port/Interface interfaces only.
TABLE_IFACE_PREFIX = INTERFACE + ".Table."


def is_older_path(path):
    """True for the root and for bridge, port and interface objects."""
    return path == ROOT or path.startswith((ROOT + "/bridge/", ROOT + "/port/", ROOT + "/interface/"))


def older_interfaces(message):
    """``message`` (a dict with path, member, body) as it concerns the older interfaces only, or
    None: the generated Table.* interfaces are left out of InterfacesAdded/Removed and their
    PropertiesChanged dropped, as are objects of other tables."""
    member, body = message["member"], message["body"]
    if member == "PropertiesChanged":
        return None if body[0].startswith(TABLE_IFACE_PREFIX) else message
    if member in ("InterfacesAdded", "InterfacesRemoved"):
        if not is_older_path(body[0]):
            return None
        if member == "InterfacesAdded":
            kept = {i: props for i, props in body[1].items() if not i.startswith(TABLE_IFACE_PREFIX)}
        else:
            kept = [i for i in body[1] if not i.startswith(TABLE_IFACE_PREFIX)]
        return dict(message, body=[body[0], kept]) if kept else None
    return message


#: Seconds a test waits for anything a subscriber should see.
DEADLINE = 20.0


def bridge_path(name):
    return "%s/bridge/%s" % (ROOT, escape(name))


def port_path(name):
    return "%s/port/%s" % (ROOT, escape(name))


def interface_path(name):
    return "%s/interface/%s" % (ROOT, escape(name))


def escape(name):
    """Object path element of ``name``, written out independently of ovsdbus.projection.view."""
    return "".join(c if c.isascii() and c.isalnum() else "".join("_%02x" % b for b in c.encode())
                   for c in name) or "_"


def require(*programs):
    """Skip when a program is missing; fail instead under CI."""
    missing = sandbox.missing_binaries(*programs)
    if missing:
        _missing("not installed: %s" % ", ".join(missing))


def _missing(message):
    if os.environ.get("CI"):
        raise AssertionError(message + " (CI is set: these tests must run, not skip)")
    raise unittest.SkipTest(message)


def require_system_gi():
    """Skip (or fail under CI) unless /usr/bin/python3 has GLib's Gio (Debian's python3-gi)."""
    if not os.path.exists(SYSTEM_PYTHON):
        _missing("%s is not installed" % SYSTEM_PYTHON)
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('Gio', '2.0'); "
                            "from gi.repository import Gio"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        _missing("python3-gi is not installed for %s" % SYSTEM_PYTHON)


# -- subscriber programs -----------------------------------------------------------------

#: A txdbus program: subscribes with the match rule in argv[2] on the bus in argv[1], prints
#: ``{"ready": unique name}`` once AddMatch has been answered, then one JSON line per signal.
SUBSCRIBER = r'''
import json, sys
from twisted.internet import reactor, defer
from txdbus import client

def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def received(msg):
    if msg.sender == "org.freedesktop.DBus":
        return
    out({"serial": msg.serial, "sender": msg.sender, "path": msg.path, "interface": msg.interface,
         "member": msg.member, "signature": msg.signature, "body": msg.body})

@defer.inlineCallbacks
def main():
    try:
        conn = yield client.connect(reactor, sys.argv[1])
        conn.signalReceived = received
        conn.notifyOnDisconnect(lambda *a: reactor.stop())
        yield conn.callRemote("/org/freedesktop/DBus", "AddMatch", interface="org.freedesktop.DBus",
                              destination="org.freedesktop.DBus", signature="s", body=[sys.argv[2]])
        out({"ready": conn.busName})
    except Exception as e:
        out({"error": repr(e)})
        reactor.stop()

reactor.callWhenRunning(main)
reactor.run()
'''

#: A GLib program (python3-gi): a Gio.DBusObjectManagerClient for the service on the bus in
#: argv[1]; prints the objects it has once constructed, then every object added or removed and
#: every PropertiesChanged it hands to its proxies; quits after argv[2] seconds or on stdin EOF.
GLIB_CLIENT = r'''
import json, sys
import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib

def out(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()

def interfaces(obj):
    result = {}
    for proxy in obj.get_interfaces():
        names = proxy.get_cached_property_names() or []
        result[proxy.get_interface_name()] = {n: proxy.get_cached_property(n).unpack() for n in names}
    return result

conn = Gio.DBusConnection.new_for_address_sync(
    sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)
manager = Gio.DBusObjectManagerClient.new_sync(
    conn, Gio.DBusObjectManagerClientFlags.NONE, "org.openvswitch.ovsdb", "/org/openvswitch/ovsdb",
    None, None, None)
manager.connect("object-added", lambda m, o: out(
    {"event": "added", "path": o.get_object_path(), "interfaces": interfaces(o)}))
manager.connect("object-removed", lambda m, o: out({"event": "removed", "path": o.get_object_path()}))
manager.connect("interface-proxy-properties-changed", lambda m, o, p, changed, invalidated: out(
    {"event": "changed", "path": o.get_object_path(), "interface": p.get_interface_name(),
     "changed": changed.unpack(), "invalidated": list(invalidated)}))
out({"event": "ready", "owner": manager.get_name_owner(),
     "objects": {o.get_object_path(): interfaces(o) for o in manager.get_objects()}})
loop = GLib.MainLoop()
GLib.timeout_add(int(float(sys.argv[2]) * 1000), loop.quit)
GLib.io_add_watch(GLib.IOChannel.unix_new(0), GLib.PRIORITY_DEFAULT,
                  GLib.IOCondition.IN | GLib.IOCondition.HUP, lambda *a: loop.quit())
loop.run()
'''


class _Child:
    """A child process whose standard output is read line by line, without blocking, with
    deadlines; stopped by its pid."""

    def __init__(self, testcase, name, argv, directory, env=None):
        self.name = name
        self.stderr_path = os.path.join(directory, "%s.%d.stderr" % (name, id(self)))
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                            env=env)
        os.set_blocking(self.process.stdout.fileno(), False)
        self._partial = b""
        self.lines = []
        self._eof = False
        testcase.addCleanup(self.stop)

    def _read(self, timeout):
        if self._eof:
            time.sleep(min(timeout, 0.05))
            return
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return
        while True:
            try:
                data = os.read(self.process.stdout.fileno(), 1 << 16)
            except BlockingIOError:
                break
            if not data:
                self._eof = True
                break
            self._partial += data
        *complete, self._partial = self._partial.split(b"\n")
        for line in complete:
            self.line_received(line.decode("utf-8", "replace"))

    def line_received(self, line):
        self.lines.append(line)

    def wait_for(self, predicate, what, timeout=DEADLINE):
        """Read output until ``predicate()`` is true; return its value.  Fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("%s: timed out after %s s waiting for %s%s" % (
                    self.name, timeout, what, self.diagnostics()))
            self._read(min(remaining, 0.1))

    def diagnostics(self):
        status = self.process.poll()
        with open(self.stderr_path, "rb") as f:
            err = f.read()[-2000:].decode("utf-8", "replace")
        return "\n(exit status %s; last output: %s; stderr: %s)" % (status, self.lines[-5:], err)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class Subscriber(_Child):
    """The txdbus subscriber process: ``messages`` are the signals it received, in order."""

    def __init__(self, testcase, bus_address, directory, rule="type='signal',sender='%s'" % BUS_NAME):
        script = os.path.join(directory, "subscriber.py")
        with open(script, "w") as f:
            f.write(SUBSCRIBER)
        super().__init__(testcase, "txdbus subscriber", [sys.executable, script, bus_address, rule], directory)
        self.messages = []
        self.ready = None
        self.wait_for(lambda: self.ready, "its ready line (AddMatch answered)")

    def line_received(self, line):
        super().line_received(line)
        value = json.loads(line)
        if "error" in value:
            raise AssertionError("subscriber failed: %s" % value["error"])
        if "ready" in value:
            self.ready = value["ready"]
        elif older_interfaces(value) is not None:
            self.messages.append(older_interfaces(value))

    def root_signals(self, messages=None):
        """``(member, *args)`` of the org.openvswitch.ovsdb signals among ``messages``."""
        return [(m["member"], *m["body"]) for m in (self.messages if messages is None else messages)
                if m["interface"] == INTERFACE and m["member"] in ROOT_SIGNALS]

    def index_of(self, member, *args, start=0):
        for i, m in enumerate(self.messages[start:], start):
            if m["member"] == member and tuple(m["body"] or ())[:len(args)] == args:
                return i
        return None

    def wait_signal(self, member, *args, start=0, timeout=DEADLINE):
        """Wait for the first signal ``member`` whose body starts with ``args``; return its index."""
        def found():
            index = self.index_of(member, *args, start=start)
            return None if index is None else (index,)
        return self.wait_for(found, "%s%r" % (member, args), timeout)[0]

    def connected_changes(self, messages=None):
        """Indexes and values of the root's Connected property changes."""
        return [(i, m["body"][1]["Connected"]) for i, m in enumerate(self.messages if messages is None else messages)
                if m["member"] == "PropertiesChanged" and m["path"] == ROOT and "Connected" in m["body"][1]]


class DbusMonitor(_Child):
    """``dbus-monitor --address`` with a match rule; ``signals`` are ``(member, path, [string args])``."""

    def __init__(self, testcase, bus_address, directory, rule):
        super().__init__(testcase, "dbus-monitor", [sandbox.find_binary("dbus-monitor"), "--address", bus_address,
                                                    rule], directory)
        self.signals = []
        self.ready = False
        # Becoming a monitor makes the bus take the monitor's names away: NameLost is the proof.
        self.wait_for(lambda: self.ready, "NameLost (BecomeMonitor done)")

    def line_received(self, line):
        super().line_received(line)
        header = re.match(r"^signal .* path=([^;]*); interface=([^;]*); member=(\S+)", line)
        if header:
            path, interface, member = header.groups()
            if member == "NameLost" and interface == "org.freedesktop.DBus":
                self.ready = True
            elif interface != "org.freedesktop.DBus":
                self.signals.append((member, path, []))
            return
        argument = re.match(r'^   string "(.*)"$', line)
        if argument and self.signals:
            self.signals[-1][2].append(argument.group(1))

    def root_signals(self):
        return [(member, *args) for member, path, args in self.signals if member in ROOT_SIGNALS]


class GLibClient(_Child):
    """The GLib object manager client; ``events`` after the ``ready`` one, which has ``objects``."""

    def __init__(self, testcase, bus_address, directory):
        script = os.path.join(directory, "glib_client.py")
        with open(script, "w") as f:
            f.write(GLIB_CLIENT)
        super().__init__(testcase, "GLib client", [SYSTEM_PYTHON, script, bus_address, str(DEADLINE * 3)], directory)
        self.events = []
        self.objects = None
        self.wait_for(lambda: self.objects is not None, "GetManagedObjects to be loaded")

    def line_received(self, line):
        super().line_received(line)
        event = json.loads(line)
        if event["event"] == "ready":
            self.objects = {path: {i: props for i, props in interfaces.items() if not i.startswith(TABLE_IFACE_PREFIX)}
                            for path, interfaces in event["objects"].items() if is_older_path(path)}
        elif event["path"] == ROOT or is_older_path(event["path"]):
            if event["event"] == "changed" and event["interface"].startswith(TABLE_IFACE_PREFIX):
                return
            if event["event"] == "added":
                event = dict(event, interfaces={i: props for i, props in event["interfaces"].items()
                                                if not i.startswith(TABLE_IFACE_PREFIX)})
            self.events.append(event)


# -- the real stack --------------------------------------------------------------------------

class _RealStackTestCase(TestCase):
    """A fresh ovsdb-server, bus and service per test (signals of one test never reach another)."""

    def setUp(self):
        require(*realstack.STACK_PROGRAMS)
        self.stack = realstack.RealStack().start()
        self.addCleanup(self.stack.stop)
        self.addCleanup(self.assert_service_alive)
        self.directory = self.stack.directory

    def assert_service_alive(self):
        if not self.stack.service.running:
            self.fail("the service exited:\n" + self.stack.service_log())

    def vsctl(self, *args):
        return self.stack.vsctl(*args)

    def subscribe(self, **kwargs):
        return Subscriber(self, self.stack.bus_address, self.directory, **kwargs)

    def monitor(self, rule="type='signal',sender='%s'" % BUS_NAME):
        require("dbus-monitor")
        return DbusMonitor(self, self.stack.bus_address, self.directory, rule)

    def marker(self, subscriber, name="zzmarker"):
        """Add bridge ``name``, wait for its BridgeAdded and return the index of the marker's first
        signal.  Everything before it was emitted for earlier changes (signals go out in commit
        order)."""
        self.vsctl("add-br", name)
        # InterfaceAdded is the last signal of a new bridge; its objects came first, in the same batch.
        subscriber.wait_signal("InterfaceAdded", name, name)
        return subscriber.index_of("InterfacesAdded", bridge_path(name))

    def settle(self, subscriber, name="zzstart"):
        """Make sure everything emitted so far has reached ``subscriber``; return the index where
        what follows starts."""
        self.marker(subscriber, name)
        return len(subscriber.messages)

    def busctl_json(self, *args):
        out = sandbox._run([sandbox.find_binary("busctl"), "--address=" + self.stack.bus_address, "--json=short",
                            *args])
        return json.loads(out)

    def managed_objects(self):
        """GetManagedObjects through busctl: ``{path: {interface: {name: (signature, value)}}}``."""
        reply = self.busctl_json("call", BUS_NAME, ROOT, OBJECT_MANAGER, "GetManagedObjects")
        self.assertEqual(reply["type"], "a{oa{sa{sv}}}")
        (objects,) = reply["data"]
        return {path: {iface: {name: (v["type"], v["data"]) for name, v in props.items()}
                       for iface, props in ifaces.items() if not iface.startswith(TABLE_IFACE_PREFIX)}
                for path, ifaces in objects.items() if is_older_path(path)}

    def gdbus(self, *args):
        """``gdbus ARGS --address BUS``: ``(exit status, stdout, stderr)``."""
        require("gdbus")
        done = subprocess.run([sandbox.find_binary("gdbus"), args[0], "--address", self.stack.bus_address,
                               *args[1:]], capture_output=True, text=True, timeout=30)
        return done.returncode, done.stdout, done.stderr


class SignalTests(_RealStackTestCase):
    """ovs-vsctl changes produce the right signals, once each, in commit order."""

    def test_vsctl_changes_in_commit_order(self):
        """Each ovs-vsctl command is heard as its root signals, once, in the order the commands
        committed, by a txdbus subscriber and by dbus-monitor alike; and nothing else."""
        subscriber = self.subscribe()
        monitor = self.monitor()
        steps = [
            (["add-br", "br0"], [("BridgeAdded", "br0"), ("PortAdded", "br0", "br0"),
                                 ("InterfaceAdded", "br0", "br0")]),
            (["add-port", "br0", "p1"], [("PortAdded", "br0", "p1"), ("InterfaceAdded", "p1", "p1")]),
            (["add-br", "br1"], [("BridgeAdded", "br1"), ("PortAdded", "br1", "br1"),
                                 ("InterfaceAdded", "br1", "br1")]),
            (["add-bond", "br1", "bond0", "e1", "e2"], [("PortAdded", "br1", "bond0"),
                                                        ("InterfaceAdded", "bond0", "e1"),
                                                        ("InterfaceAdded", "bond0", "e2")]),
            (["del-port", "br0", "p1"], [("InterfaceRemoved", "p1", "p1"), ("PortRemoved", "br0", "p1")]),
            (["set", "port", "bond0", "tag=9"], []),
            (["del-br", "br0"], [("InterfaceRemoved", "br0", "br0"), ("PortRemoved", "br0", "br0"),
                                 ("BridgeRemoved", "br0")]),
            (["add-port", "br1", "p1"], [("PortAdded", "br1", "p1"), ("InterfaceAdded", "p1", "p1")]),
        ]
        expected = []
        for command, signals in steps:
            self.vsctl(*command)
            expected += signals
        end = self.marker(subscriber)
        self.assertEqual(subscriber.root_signals(subscriber.messages[:end]), expected)
        monitor.wait_for(lambda: ("BridgeAdded", "zzmarker") in monitor.root_signals(), "the marker")
        seen = monitor.root_signals()
        self.assertEqual(seen[:seen.index(("BridgeAdded", "zzmarker"))], expected)

    def test_object_manager_signals_come_from_the_root(self):
        """InterfacesAdded and InterfacesRemoved come from /org/openvswitch/ovsdb and name the
        child object, once per object (GLib's object manager client listens only there); the
        only signal ever sent from a child path is PropertiesChanged."""
        subscriber = self.subscribe()
        self.vsctl("add-br", "br0", "--", "add-port", "br0", "p1")
        self.vsctl("del-port", "br0", "p1")
        end = self.marker(subscriber)
        messages = subscriber.messages[:end]
        added = [m["body"][0] for m in messages if m["member"] == "InterfacesAdded"]
        removed = [m["body"][0] for m in messages if m["member"] == "InterfacesRemoved"]
        self.assertEqual(sorted(added), sorted([bridge_path("br0"), port_path("br0"), interface_path("br0"),
                                                port_path("p1"), interface_path("p1")]))
        self.assertEqual(sorted(removed), sorted([port_path("p1"), interface_path("p1")]))
        for m in messages:
            if m["member"] in ("InterfacesAdded", "InterfacesRemoved"):
                self.assertEqual((m["path"], m["interface"]), (ROOT, OBJECT_MANAGER), m)
            elif m["path"] != ROOT:
                self.assertEqual((m["interface"], m["member"]), (PROPERTIES, "PropertiesChanged"), m)
        removal = next(m for m in messages if m["member"] == "InterfacesRemoved" and m["body"][0] == port_path("p1"))
        self.assertEqual(removal["body"][1], [PORT_IFACE])

    def test_signals_describe_the_whole_update(self):
        """One ovs-vsctl transaction that adds a bridge, a tagged port and an internal interface is
        announced as its final state: the objects appear with every property already set (the
        bridge lists the new port, the port has its tag), each object is exported before its
        root signal, and no PropertiesChanged follows for objects that just appeared."""
        subscriber = self.subscribe()
        start = self.settle(subscriber)
        self.vsctl("add-br", "br0", "--", "add-port", "br0", "p1", "--", "set", "port", "p1", "tag=5",
                   "--", "set", "interface", "p1", "type=internal", "--", "br-set-external-id", "br0", "k", "v")
        end = self.marker(subscriber)
        messages = subscriber.messages[start:end]
        added = {m["body"][0]: (i, m["body"][1]) for i, m in enumerate(messages) if m["member"] == "InterfacesAdded"}
        self.assertEqual(added[bridge_path("br0")][1][BRIDGE_IFACE]["Ports"], [port_path("br0"), port_path("p1")])
        self.assertEqual(added[bridge_path("br0")][1][BRIDGE_IFACE]["ExternalIds"], {"k": "v"})
        port = added[port_path("p1")][1][PORT_IFACE]
        self.assertEqual((port["Tag"], port["Bridge"], port["Interfaces"]),
                         (5, bridge_path("br0"), [interface_path("p1")]))
        self.assertEqual(added[interface_path("p1")][1][INTERFACE_IFACE]["Type"], "internal")
        self.assertEqual([m for m in messages if m["member"] == "PropertiesChanged"], [])
        bridge_added = subscriber.index_of("BridgeAdded", "br0") - start
        port_added = subscriber.index_of("PortAdded", "br0", "p1") - start
        self.assertLess(added[bridge_path("br0")][0], bridge_added)
        self.assertLess(added[port_path("p1")][0], port_added)
        self.assertLess(bridge_added, port_added)

    def test_burst_of_1000_ports(self):
        """A bridge with 1000 ports made by one ovs-vsctl command is announced completely:
        BridgeAdded first, then exactly one PortAdded for each of the 1000 ports (and the local
        port), each port's and interface's object announced once, and dbus-monitor agrees."""
        subscriber = self.subscribe()
        monitor = self.monitor("type='signal',sender='%s',interface='%s'" % (BUS_NAME, INTERFACE))
        names = ["p%d" % i for i in range(1000)]
        args = ["add-br", "br0"]
        for name in names:
            args += ["--", "add-port", "br0", name]
        started = time.monotonic()
        self.vsctl(*args)
        end = self.marker(subscriber)
        elapsed = time.monotonic() - started
        signals = subscriber.root_signals(subscriber.messages[:end])
        port_added = [s for s in signals if s[0] == "PortAdded"]
        self.assertEqual(sorted(port_added), sorted([("PortAdded", "br0", n) for n in names + ["br0"]]))
        self.assertEqual(len(set(port_added)), 1001)
        self.assertEqual(signals[0], ("BridgeAdded", "br0"))
        self.assertEqual([s for s in signals if s[0] == "BridgeAdded"], [("BridgeAdded", "br0")])
        self.assertEqual(sorted(s for s in signals if s[0] == "InterfaceAdded"),
                         sorted(("InterfaceAdded", n, n) for n in names + ["br0"]))
        added = [m["body"][0] for m in subscriber.messages[:end] if m["member"] == "InterfacesAdded"]
        self.assertEqual(len(added), 2003)
        self.assertEqual(len(set(added)), 2003)
        monitor.wait_for(lambda: ("BridgeAdded", "zzmarker") in monitor.root_signals(), "the marker")
        seen = monitor.root_signals()
        self.assertEqual(seen[:seen.index(("BridgeAdded", "zzmarker"))], signals)
        self.assertLess(elapsed, 30, "1000 ports took %.1f s to be announced" % elapsed)

    def test_frozen_subscriber_does_not_stall_the_service(self):
        """A subscriber that stops reading (frozen with SIGSTOP) holds nobody up: a burst of 1000
        ports is still announced completely to another subscriber, and calls are answered at once."""
        frozen = self.subscribe()
        live = self.subscribe()
        os.kill(frozen.process.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, frozen.process.pid, signal.SIGCONT)
        names = ["f%d" % i for i in range(1000)]
        args = ["add-br", "br0"]
        for name in names:
            args += ["--", "add-port", "br0", name]
        self.vsctl(*args)
        end = self.marker(live)
        port_added = [s for s in live.root_signals(live.messages[:end]) if s[0] == "PortAdded"]
        self.assertEqual(len(set(port_added)), 1001)
        started = time.monotonic()
        reply = self.busctl_json("call", BUS_NAME, ROOT, INTERFACE, "ListBridgePorts", "s", "br0")
        self.assertEqual(sorted(reply["data"][0]), sorted(names))
        self.assertLess(time.monotonic() - started, 5)

    def test_properties_changed_once_per_update(self):
        """``ovs-vsctl set port p1 tag=5 -- set port p1 vlan_mode=access`` gives exactly one
        PropertiesChanged, from the port's object, with Tag and VlanMode together, and no
        other signal."""
        self.vsctl("add-br", "br0", "--", "add-port", "br0", "p1")
        subscriber = self.subscribe()
        start = self.settle(subscriber)
        self.vsctl("set", "port", "p1", "tag=5", "--", "set", "port", "p1", "vlan_mode=access")
        end = self.marker(subscriber)
        self.assertEqual([(m["path"], m["interface"], m["member"], m["signature"], m["body"])
                          for m in subscriber.messages[start:end]],
                         [(port_path("p1"), PROPERTIES, "PropertiesChanged", "sa{sv}as",
                           [PORT_IFACE, {"Tag": 5, "VlanMode": "access"}, []])])
        # A later, separate update is a separate PropertiesChanged with only what it changed.
        start = len(subscriber.messages)
        self.vsctl("clear", "port", "p1", "tag")
        index = subscriber.wait_signal("PropertiesChanged", PORT_IFACE, start=start)
        self.assertEqual(subscriber.messages[index]["body"], [PORT_IFACE, {"Tag": -1}, []])

    def test_get_managed_objects(self):
        """GetManagedObjects returns the whole tree with typed properties: the local port's
        internal interface, Tag -1 while unset and 5 after ``ovs-vsctl set port p1 tag=5``,
        references between bridge, ports and interfaces as object paths."""
        self.vsctl("add-br", "br0", "--", "add-port", "br0", "p1", "--", "add-br", "br1")
        subscriber = self.subscribe()
        self.marker(subscriber, "br2")
        objects = self.managed_objects()
        self.assertEqual(sorted(objects), sorted(
            [f(n) for n in ("br0", "br1", "br2") for f in (bridge_path, port_path, interface_path)]
            + [port_path("p1"), interface_path("p1")]))
        self.assertEqual(objects[bridge_path("br0")], {BRIDGE_IFACE: {
            "Name": ("s", "br0"), "Ports": ("ao", [port_path("br0"), port_path("p1")]), "FailMode": ("s", ""),
            "DatapathType": ("s", ""), "Controllers": ("as", []), "Protocols": ("as", []), "Mirrors": ("as", []),
            "ExternalIds": ("a{ss}", {}), "OtherConfig": ("a{ss}", {})},
            # No properties: its methods run ovs-ofctl (see test_flows); listed so that ObjectManager
            # clients make a proxy for it.
            "org.openvswitch.ovsdb.Flows": {}})
        self.assertEqual(objects[port_path("p1")], {PORT_IFACE: {
            "Name": ("s", "p1"), "Bridge": ("o", bridge_path("br0")), "Interfaces": ("ao", [interface_path("p1")]),
            "Tag": ("x", -1), "Trunks": ("ax", []), "VlanMode": ("s", ""), "BondMode": ("s", ""), "Lacp": ("s", ""),
            "ExternalIds": ("a{ss}", {})}})
        local = objects[interface_path("br0")][INTERFACE_IFACE]
        self.assertEqual((local["Type"], local["Port"], local["Name"]),
                         (("s", "internal"), ("o", port_path("br0")), ("s", "br0")))
        self.assertEqual(objects[interface_path("p1")][INTERFACE_IFACE]["Type"], ("s", ""))

        start = len(subscriber.messages)
        self.vsctl("set", "port", "p1", "tag=5")
        subscriber.wait_signal("PropertiesChanged", PORT_IFACE, start=start)
        self.assertEqual(self.managed_objects()[port_path("p1")][PORT_IFACE]["Tag"], ("x", 5))
        reply = self.busctl_json("get-property", BUS_NAME, port_path("p1"), PORT_IFACE, "Tag")
        self.assertEqual(reply, {"type": "x", "data": 5})

    def test_escaped_names(self):
        """Names with '-' and '.' appear at escaped paths (_2d, _2e) in signals and in
        GetManagedObjects, while the root signals carry the names themselves."""
        subscriber = self.subscribe()
        self.vsctl("add-br", "br-0.x", "--", "add-port", "br-0.x", "eth0.100-a")
        end = self.marker(subscriber)
        self.assertEqual(bridge_path("br-0.x"), ROOT + "/bridge/br_2d0_2ex")
        added = sorted(m["body"][0] for m in subscriber.messages[:end] if m["member"] == "InterfacesAdded")
        self.assertEqual(added, sorted([
            ROOT + "/bridge/br_2d0_2ex", ROOT + "/port/br_2d0_2ex", ROOT + "/interface/br_2d0_2ex",
            ROOT + "/port/eth0_2e100_2da", ROOT + "/interface/eth0_2e100_2da"]))
        self.assertIn(("PortAdded", "br-0.x", "eth0.100-a"), subscriber.root_signals())
        objects = self.managed_objects()
        self.assertEqual(objects[ROOT + "/port/eth0_2e100_2da"][PORT_IFACE]["Bridge"],
                         ("o", ROOT + "/bridge/br_2d0_2ex"))
        reply = self.busctl_json("get-property", BUS_NAME, ROOT + "/port/eth0_2e100_2da", PORT_IFACE, "Name")
        self.assertEqual(reply["data"], "eth0.100-a")

    def test_property_errors(self):
        """Properties.Get of a property that does not exist answers UnknownProperty; Set of any
        property answers PropertyReadOnly (and changes nothing)."""
        self.vsctl("add-br", "br0")
        subscriber = self.subscribe()
        self.marker(subscriber, "br1")
        path = port_path("br0")
        status, _, err = self.gdbus("call", "--dest", BUS_NAME, "--object-path", path, "--method",
                                    PROPERTIES + ".Get", PORT_IFACE, "NoSuchProperty")
        self.assertNotEqual(status, 0)
        self.assertIn("org.freedesktop.DBus.Error.UnknownProperty", err)
        status, _, err = self.gdbus("call", "--dest", BUS_NAME, "--object-path", path, "--method",
                                    PROPERTIES + ".Set", PORT_IFACE, "Tag", "<int64 5>")
        self.assertNotEqual(status, 0)
        self.assertIn("org.freedesktop.DBus.Error.PropertyReadOnly", err)
        self.assertEqual(self.vsctl("get", "port", "br0", "tag").strip(), "[]")

    def test_introspection_object_manager_only_on_root(self):
        """Introspecting a child object shows its own interface and no ObjectManager; the root
        shows ObjectManager and lists the kinds of children."""
        subscriber = self.subscribe()
        self.vsctl("add-br", "br0")
        self.marker(subscriber)

        def interfaces(path):
            status, out, err = self.gdbus("introspect", "--dest", BUS_NAME, "--object-path", path, "--xml")
            self.assertEqual(status, 0, err)
            node = ElementTree.fromstring(out)
            return {i.get("name") for i in node.findall("interface")}, {n.get("name") for n in node.findall("node")}

        root_ifaces, root_children = interfaces(ROOT)
        self.assertIn(OBJECT_MANAGER, root_ifaces)
        self.assertIn(INTERFACE, root_ifaces)
        self.assertLessEqual({"bridge", "port", "interface", "open_vswitch"}, root_children)
        for path, iface in [(bridge_path("br0"), BRIDGE_IFACE), (port_path("br0"), PORT_IFACE),
                            (interface_path("br0"), INTERFACE_IFACE)]:
            ifaces, _ = interfaces(path)
            self.assertIn(iface, ifaces, path)
            self.assertIn(PROPERTIES, ifaces, path)
            self.assertNotIn(OBJECT_MANAGER, ifaces, path)

    def test_recreated_bridge_is_announced_last_as_added(self):
        """``ovs-vsctl del-br br0 -- add-br br0`` (one transaction) leaves br0 existing; a
        subscriber that follows the root signals must end up believing so: the last signal
        about br0 is BridgeAdded, and about its local port PortAdded."""
        self.vsctl("add-br", "br0", "--", "add-port", "br0", "p1")
        subscriber = self.subscribe()
        start = self.settle(subscriber)
        self.vsctl("del-br", "br0", "--", "add-br", "br0")
        end = self.marker(subscriber)
        signals = subscriber.root_signals(subscriber.messages[start:end])
        last = {}
        for s in signals:
            kind = s[0].replace("Added", "").replace("Removed", "")
            last[(kind,) + s[1:]] = s[0]
        self.assertEqual(last, {
            ("Bridge", "br0"): "BridgeAdded",
            ("Port", "br0", "br0"): "PortAdded",
            ("Interface", "br0", "br0"): "InterfaceAdded",
            ("Port", "br0", "p1"): "PortRemoved",
            ("Interface", "p1", "p1"): "InterfaceRemoved",
        }, "signals in order: %s" % signals)


class GLibClientTests(_RealStackTestCase):
    """A real GLib client (Gio.DBusObjectManagerClient) follows the tree."""

    def setUp(self):
        super().setUp()
        require_system_gi()

    def test_object_manager_client(self):
        """GLib's object manager client loads the existing objects, sees new ones appear with
        their properties, sees property changes (and Bridge Ports invalidated, as its
        introspection announces), and sees objects disappear."""
        self.vsctl("add-br", "br0")
        subscriber = self.subscribe()
        self.marker(subscriber, "br1")
        client = GLibClient(self, self.stack.bus_address, self.directory)
        self.assertEqual(sorted(client.objects), sorted(
            f(n) for n in ("br0", "br1") for f in (bridge_path, port_path, interface_path)))
        self.assertEqual(client.objects[interface_path("br0")][INTERFACE_IFACE]["Type"], "internal")
        self.assertEqual(client.objects[port_path("br0")][PORT_IFACE]["Tag"], -1)

        self.vsctl("add-port", "br0", "p1")
        client.wait_for(lambda: {e["path"] for e in client.events if e["event"] == "added"}
                        >= {port_path("p1"), interface_path("p1")}, "p1's objects to be added")
        added = {e["path"]: e["interfaces"] for e in client.events if e["event"] == "added"}
        self.assertEqual(added[port_path("p1")][PORT_IFACE]["Bridge"], bridge_path("br0"))
        self.assertEqual(added[interface_path("p1")][INTERFACE_IFACE]["Port"], port_path("p1"))
        client.wait_for(lambda: any(e["event"] == "changed" and e["path"] == bridge_path("br0")
                                    for e in client.events), "br0's Ports to change")
        bridge_change = next(e for e in client.events if e["event"] == "changed" and e["path"] == bridge_path("br0"))
        self.assertEqual((bridge_change["changed"], bridge_change["invalidated"]), ({}, ["Ports"]))

        self.vsctl("set", "port", "p1", "tag=5", "--", "set", "port", "p1", "vlan_mode=access")
        client.wait_for(lambda: any(e["event"] == "changed" and e["path"] == port_path("p1") for e in client.events),
                        "p1's properties to change")
        changes = [e for e in client.events if e["event"] == "changed" and e["path"] == port_path("p1")]
        self.assertEqual([(e["interface"], e["changed"], e["invalidated"]) for e in changes],
                         [(PORT_IFACE, {"Tag": 5, "VlanMode": "access"}, [])])

        self.vsctl("del-br", "br0")
        gone = {bridge_path("br0"), port_path("br0"), interface_path("br0"), port_path("p1"), interface_path("p1")}
        client.wait_for(lambda: {e["path"] for e in client.events if e["event"] == "removed"} >= gone,
                        "br0's objects to be removed")
        self.marker(subscriber, "br2")
        client.wait_for(lambda: bridge_path("br2") in {e["path"] for e in client.events if e["event"] == "added"},
                        "br2 to be added")
        self.assertEqual(sorted(e["path"] for e in client.events if e["event"] == "removed"), sorted(gone))


# -- changes while the service could not see them ---------------------------------------------

def add_port_ops(bridge, port, **columns):
    """Raw OVSDB operations adding ``port`` (with an interface of its name) to ``bridge``."""
    return [
        {"op": "insert", "table": "Interface", "row": {"name": port}, "uuid-name": "iface_new"},
        {"op": "insert", "table": "Port", "row": dict(name=port, interfaces=["named-uuid", "iface_new"], **columns),
         "uuid-name": "port_new"},
        {"op": "mutate", "table": "Bridge", "where": [["name", "==", bridge]],
         "mutations": [["ports", "insert", ["set", [["named-uuid", "port_new"]]]]]},
    ]


def add_bridge_ops(name):
    """Raw OVSDB operations adding bridge ``name`` like ``ovs-vsctl add-br``."""
    return [
        {"op": "insert", "table": "Interface", "row": {"name": name, "type": "internal"}, "uuid-name": "bi"},
        {"op": "insert", "table": "Port", "row": {"name": name, "interfaces": ["named-uuid", "bi"]},
         "uuid-name": "bp"},
        {"op": "insert", "table": "Bridge", "row": {"name": name, "ports": ["named-uuid", "bp"]}, "uuid-name": "bb"},
        {"op": "mutate", "table": "Open_vSwitch", "where": [],
         "mutations": [["bridges", "insert", ["named-uuid", "bb"]]]},
    ]


def delete_bridge_ops(bridge_uuid):
    """Raw OVSDB operations deleting a bridge (garbage collection takes its ports and interfaces)."""
    return [{"op": "mutate", "table": "Open_vSwitch", "where": [],
             "mutations": [["bridges", "delete", ["set", [["uuid", bridge_uuid]]]]]}]


def set_port_ops(port, **row):
    return [{"op": "update", "table": "Port", "where": [["name", "==", port]], "row": row}]


#: What a subscriber must see for the offline changes of the resync scenarios, beyond
#: Connected: br1 deleted, p3 added to br0, p1's tag changed from none to 7.
OFFLINE_ROOT_SIGNALS = sorted([
    ("InterfaceRemoved", "br1", "br1"), ("PortRemoved", "br1", "br1"), ("BridgeRemoved", "br1"),
    ("PortAdded", "br0", "p3"), ("InterfaceAdded", "p3", "p3"),
])
OFFLINE_REMOVED = sorted([bridge_path("br1"), port_path("br1"), interface_path("br1")])
OFFLINE_ADDED = sorted([port_path("p3"), interface_path("p3")])


def offline_property_changes(messages):
    return sorted((m["path"], json.dumps(m["body"], sort_keys=True)) for m in messages
                  if m["member"] == "PropertiesChanged" and m["path"] != ROOT)


EXPECTED_OFFLINE_PROPERTY_CHANGES = sorted([
    (port_path("p1"), json.dumps([PORT_IFACE, {"Tag": 7}, []], sort_keys=True)),
    (bridge_path("br0"), json.dumps([BRIDGE_IFACE, {}, ["Ports"]], sort_keys=True)),
])


class ResyncTests(_RealStackTestCase):
    """ovsdb-server stops, its database changes offline, it starts again: the service stays up
    and its subscribers hear exactly what changed meanwhile."""

    def offline_changes(self):
        """Build br0 (p1, p2), br1, br2; subscribe; stop ovsdb-server; delete br1, add p3 to br0
        and tag p1 with ``ovsdb-tool transact``; start it again.  Returns the subscriber and the
        index of its Connected=false signal, once Connected is true again."""
        self.vsctl("add-br", "br0", "--", "add-port", "br0", "p1", "--", "add-port", "br0", "p2",
                   "--", "add-br", "br1", "--", "add-br", "br2", "--", "add-port", "br2", "q1")
        br1 = self.vsctl("get", "bridge", "br1", "_uuid").strip()
        subscriber = self.subscribe()
        start = self.settle(subscriber)

        self.stack.stop_ovsdb()
        subscriber.wait_for(lambda: [c for i, c in subscriber.connected_changes() if i >= start] == [False],
                            "Connected to become false")
        self.assertTrue(self.stack.service.running, "the service must stay up without ovsdb-server")
        self.stack.ovsdb.tool_transact(["Open_vSwitch"] + delete_bridge_ops(br1) + add_port_ops("br0", "p3")
                                       + set_port_ops("p1", tag=7))
        self.stack.start_ovsdb()
        subscriber.wait_for(lambda: [c for i, c in subscriber.connected_changes() if i >= start] == [False, True],
                            "Connected to become true again")
        return subscriber, start

    def test_exactly_the_offline_changes(self):
        """After the restart the subscriber hears exactly the offline changes: br1's objects
        removed with InterfaceRemoved/PortRemoved/BridgeRemoved, p3's objects added with
        PortAdded/InterfaceAdded, one PropertiesChanged for p1 (Tag 7) and one for br0 (Ports);
        nothing at all for br2, q1, p2 or any other unchanged row; Connected false then true."""
        subscriber, start = self.offline_changes()
        end = self.marker(subscriber, "zzend")
        messages = subscriber.messages[start:end]
        self.assertEqual(sorted(subscriber.root_signals(messages)), OFFLINE_ROOT_SIGNALS)
        self.assertEqual(sorted(m["body"][0] for m in messages if m["member"] == "InterfacesRemoved"),
                         OFFLINE_REMOVED)
        self.assertEqual(sorted(m["body"][0] for m in messages if m["member"] == "InterfacesAdded"), OFFLINE_ADDED)
        self.assertEqual(offline_property_changes(messages), EXPECTED_OFFLINE_PROPERTY_CHANGES)
        self.assertEqual([c for _, c in subscriber.connected_changes(messages)], [False, True])
        accounted = {"InterfacesAdded", "InterfacesRemoved", "PropertiesChanged"} | set(ROOT_SIGNALS)
        self.assertEqual([m for m in messages if m["member"] not in accounted], [])
        objects = self.managed_objects()
        self.assertEqual(objects[port_path("p1")][PORT_IFACE]["Tag"], ("x", 7))
        self.assertNotIn(bridge_path("br1"), objects)
        self.assertEqual(objects[port_path("p3")][PORT_IFACE]["Bridge"], ("o", bridge_path("br0")))

    def test_offline_changes_are_heard_before_connected(self):
        """A subscriber that waits for Connected to turn true has, by then, heard every offline
        change: Connected means the service is in step with the database again, so the
        signals that bring a follower in step come before it, not after."""
        subscriber, start = self.offline_changes()
        end = self.marker(subscriber, "zzend")
        messages = subscriber.messages[start:end]
        (connected_at,) = [i for i, c in subscriber.connected_changes(messages) if c]
        late = [(m["member"], m["body"][0]) for m in messages[connected_at + 1:]]
        self.assertEqual(late, [], "signals for offline changes after Connected turned true")


# -- in process, against the fake OVSDB -------------------------------------------------------

class FakeOvsdbSignalTests(TestCase):
    """The service's connection and D-Bus adapter in this process, on the fake OVSDB
    (ovsdbus.testing) and a private dbus-daemon, with an in-process txdbus subscriber."""

    def setUp(self):
        require("dbus-daemon")
        if not os.path.exists(SCHEMA_PATH):
            _missing("%s is not installed" % SCHEMA_PATH)
        from ovsdbus.api.legacy import LEGACY, MEMBERSHIP_SIGNALS
        from ovsdbus.bus.service import BusService, object_tree
        from ovsdbus.ovsdb.connection import OvsdbConnection
        from ovsdbus.testing import FakeOvsdb, FakeOvsdbFactory
        from ovsdbus.vswitch.operations import MONITORED_COLUMNS, Operations

        self.directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)
        self.bus = sandbox.DbusDaemon(self.directory).start()
        self.addCleanup(self.bus.stop)

        self.db = FakeOvsdb.open_vswitch(SCHEMA_PATH)
        self.factory = FakeOvsdbFactory(self.db)
        self.socket_path = os.path.join(self.directory, "db.sock")
        self.factory.listen_unix(self.socket_path)
        self.addCleanup(self.factory.shutdown)

        self.connection = OvsdbConnection(UNIXClientEndpoint(reactor, self.socket_path), MONITORED_COLUMNS, reactor,
                                          "Open_vSwitch",
                                          request_timeout=10, retry_policy=lambda attempt: 0.05)
        self.bus_lost = []
        self.service = BusService(reactor, self.bus.address, self.connection, Operations(self.connection),
                                  self.bus_lost.append,
                                  objects=object_tree(legacy=LEGACY, membership=MEMBERSHIP_SIGNALS))
        self.connection.startService()
        self.addCleanup(self.connection.stopService)
        d = self.service.startService()
        d.addCallback(lambda _: self.addCleanup(self._stop_bus_service))
        d.addCallback(lambda _: realstack.poll_until(lambda: self.connection.synced, DEADLINE,
                                                      what="the connection to the fake to sync"))
        d.addCallback(lambda _: self._subscribe())
        return d

    def _stop_bus_service(self):
        conn = self.service._bus_connection
        done = defer.Deferred()
        if conn is not None and conn.transport is not None and conn.transport.connected:
            conn.notifyOnDisconnect(lambda *a: done.called or done.callback(None))
        else:
            done.callback(None)
        self.service.stopService()
        self.assertEqual(self.bus_lost, [])
        return done

    @defer.inlineCallbacks
    def _subscribe(self):
        self.messages = []
        conn = yield realstack.connect(self, self.bus.address)

        def received(msg):
            if msg.sender != "org.freedesktop.DBus":
                message = older_interfaces({"path": msg.path, "interface": msg.interface, "member": msg.member,
                                            "signature": msg.signature, "body": msg.body})
                if message is not None:
                    self.messages.append(message)
        conn.signalReceived = received
        yield conn.callRemote("/org/freedesktop/DBus", "AddMatch", interface="org.freedesktop.DBus",
                              destination="org.freedesktop.DBus", signature="s",
                              body=["type='signal',sender='%s'" % BUS_NAME])
        self.client = conn

    # -- helpers ---------------------------------------------------------------------

    def transact(self, *ops):
        """Commit on the fake (as another OVSDB client would); fail on any error."""
        result = self.db.transact(list(ops))
        self.assertFalse([r for r in result if isinstance(r, dict) and "error" in r], result)
        return result

    def root_signals(self, messages):
        return [(m["member"], *m["body"]) for m in messages if m["interface"] == INTERFACE
                and m["member"] in ROOT_SIGNALS]

    def index_of(self, member, *args, start=0):
        for i, m in enumerate(self.messages[start:], start):
            if m["member"] == member and tuple(m["body"] or ())[:len(args)] == args:
                return i + 1
        return None

    @defer.inlineCallbacks
    def wait_signal(self, member, *args, start=0):
        index = yield realstack.poll_until(lambda: self.index_of(member, *args, start=start), DEADLINE,
                                           interval=0.01, what="%s%r" % (member, args))
        return index - 1

    @defer.inlineCallbacks
    def marker(self, name="zzmarker"):
        """Add bridge ``name`` on the fake; Deferred of the index of the marker's first signal."""
        self.transact(*add_bridge_ops(name))
        yield self.wait_signal("InterfaceAdded", name, name)
        return self.index_of("InterfacesAdded", bridge_path(name)) - 1

    def connected_changes(self, messages):
        return [m["body"][1]["Connected"] for m in messages
                if m["member"] == "PropertiesChanged" and m["path"] == ROOT and "Connected" in m["body"][1]]

    def bridge_uuid(self, name):
        return self.db.find("Bridge", name=name)[0]["_uuid"]

    @defer.inlineCallbacks
    def setup_offline_scenario(self):
        """br0 (p1, p2), br1, br2 (q1) on the fake, announced; returns the index after them."""
        self.transact(*add_bridge_ops("br0"))
        self.transact(*add_port_ops("br0", "p1"))
        self.transact(*add_port_ops("br0", "p2"))
        self.transact(*add_bridge_ops("br1"))
        self.transact(*add_bridge_ops("br2"))
        self.transact(*add_port_ops("br2", "q1"))
        yield self.marker("zzstart")
        return len(self.messages)

    def offline_ops(self):
        return delete_bridge_ops(self.bridge_uuid("br1")) + add_port_ops("br0", "p3") + set_port_ops("p1", tag=7)

    def assert_exactly_offline_changes(self, messages):
        self.assertEqual(sorted(self.root_signals(messages)), OFFLINE_ROOT_SIGNALS)
        self.assertEqual(sorted(m["body"][0] for m in messages if m["member"] == "InterfacesRemoved"),
                         OFFLINE_REMOVED)
        self.assertEqual(sorted(m["body"][0] for m in messages if m["member"] == "InterfacesAdded"), OFFLINE_ADDED)
        self.assertEqual(offline_property_changes(messages), EXPECTED_OFFLINE_PROPERTY_CHANGES)
        accounted = {"InterfacesAdded", "InterfacesRemoved", "PropertiesChanged"} | set(ROOT_SIGNALS)
        self.assertEqual([m for m in messages if m["member"] not in accounted], [])

    @defer.inlineCallbacks
    def go_offline(self):
        """Refuse connections and drop the current one; wait until the service says so."""
        self.factory.reject_connections = True
        self.factory.drop_all_connections()
        yield realstack.poll_until(lambda: not self.connection.synced, DEADLINE, interval=0.01,
                                   what="the connection to drop")

    @defer.inlineCallbacks
    def come_back(self, start):
        self.factory.reject_connections = False
        yield realstack.poll_until(lambda: self.connected_changes(self.messages[start:])[-1:] == [True],
                                   DEADLINE, interval=0.01, what="Connected to become true")

    # -- scenarios ---------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_changes_in_commit_order(self):
        """Commits on the fake are heard as root signals once each, in commit order, with the
        object manager signals from the root path."""
        self.transact(*add_bridge_ops("br0"))
        self.transact(*add_port_ops("br0", "p1"))
        self.transact(*add_bridge_ops("br1"))
        self.transact(*delete_bridge_ops(self.bridge_uuid("br0")))
        end = yield self.marker()
        self.assertEqual(self.root_signals(self.messages[:end]), [
            ("BridgeAdded", "br0"), ("PortAdded", "br0", "br0"), ("InterfaceAdded", "br0", "br0"),
            ("PortAdded", "br0", "p1"), ("InterfaceAdded", "p1", "p1"),
            ("BridgeAdded", "br1"), ("PortAdded", "br1", "br1"), ("InterfaceAdded", "br1", "br1"),
            ("InterfaceRemoved", "br0", "br0"), ("InterfaceRemoved", "p1", "p1"),
            ("PortRemoved", "br0", "br0"), ("PortRemoved", "br0", "p1"), ("BridgeRemoved", "br0"),
        ])
        for m in self.messages[:end]:
            if m["member"].startswith("Interfaces"):
                self.assertEqual(m["path"], ROOT)

    @defer.inlineCallbacks
    def test_properties_changed_once_per_update(self):
        """One transaction updating two columns of a port is one PropertiesChanged with both."""
        self.transact(*add_bridge_ops("br0"), *add_port_ops("br0", "p1"))
        yield self.marker("zz0")
        start = len(self.messages)
        self.transact(*set_port_ops("p1", tag=5, vlan_mode="access"))
        end = yield self.marker("zz1")
        self.assertEqual([(m["path"], m["member"], m["body"]) for m in self.messages[start:end]],
                         [(port_path("p1"), "PropertiesChanged", [PORT_IFACE, {"Tag": 5, "VlanMode": "access"}, []])])

    @defer.inlineCallbacks
    def test_burst_of_1000_ports(self):
        """A bridge and 1000 ports in one transaction: BridgeAdded first, then exactly 1000
        PortAdded (plus the local port's), once each."""
        ops = add_bridge_ops("br0")
        for i in range(1000):
            ops += _renamed(add_port_ops("br0", "p%d" % i), i)
        self.transact(*ops)
        end = yield self.marker()
        signals = self.root_signals(self.messages[:end])
        self.assertEqual(signals[0], ("BridgeAdded", "br0"))
        port_added = [s for s in signals if s[0] == "PortAdded"]
        self.assertEqual(sorted(port_added), sorted([("PortAdded", "br0", "p%d" % i) for i in range(1000)]
                                                    + [("PortAdded", "br0", "br0")]))

    @defer.inlineCallbacks
    def test_resync_exactly_the_offline_changes(self):
        """While the fake refuses connections its database changes; after reconnecting the
        subscriber hears exactly those changes and nothing for unchanged rows."""
        start = yield self.setup_offline_scenario()
        yield self.go_offline()
        self.transact(*self.offline_ops())
        yield self.come_back(start)
        end = yield self.marker("zzend")
        messages = self.messages[start:end]
        self.assert_exactly_offline_changes(messages)
        self.assertEqual(self.connected_changes(messages), [False, True])

    @defer.inlineCallbacks
    def test_resync_without_changes_is_silent(self):
        """Reconnecting to an unchanged database produces nothing but Connected false and true."""
        start = yield self.setup_offline_scenario()
        yield self.go_offline()
        yield self.come_back(start)
        end = yield self.marker("zzend")
        self.assertEqual([(m["path"], m["member"]) for m in self.messages[start:end]],
                         [(ROOT, "PropertiesChanged")] * 2)
        self.assertEqual(self.connected_changes(self.messages[start:end]), [False, True])

    @defer.inlineCallbacks
    def test_offline_changes_are_heard_before_connected(self):
        """By the time Connected turns true again, every offline change has been signalled."""
        start = yield self.setup_offline_scenario()
        yield self.go_offline()
        self.transact(*self.offline_ops())
        yield self.come_back(start)
        end = yield self.marker("zzend")
        messages = self.messages[start:end]
        connected_at = max(i for i, m in enumerate(messages) if m["member"] == "PropertiesChanged"
                           and m["path"] == ROOT and m["body"][1].get("Connected") is True)
        self.assertEqual([(m["member"], m["body"][0]) for m in messages[connected_at + 1:]], [],
                         "signals for offline changes after Connected turned true")

    @defer.inlineCallbacks
    def test_disconnect_in_the_middle_of_an_update(self):
        """The connection breaks halfway through the update notification of a transaction (the
        service got half a JSON message); after reconnecting, the subscriber hears that
        transaction's changes exactly once, and later changes as usual."""
        start = yield self.setup_offline_scenario()
        self.cut_next_update(fraction=0.5)
        self.factory.reject_connections = True
        self.transact(*self.offline_ops())
        yield realstack.poll_until(lambda: not self.connection.synced, DEADLINE, interval=0.01,
                                   what="the connection to drop")
        self.assertEqual(self.root_signals(self.messages[start:]), [], "half an update must not be applied")
        yield self.come_back(start)
        end = yield self.marker("zzend")
        messages = self.messages[start:end]
        self.assert_exactly_offline_changes(messages)

    @defer.inlineCallbacks
    def test_update_lost_with_the_connection(self):
        """The connection breaks just before the update notification is written (the service
        never saw it); after reconnecting, the subscriber hears that transaction's changes
        exactly once."""
        start = yield self.setup_offline_scenario()
        self.cut_next_update(fraction=0)
        self.factory.reject_connections = True
        self.transact(*self.offline_ops())
        yield realstack.poll_until(lambda: not self.connection.synced, DEADLINE, interval=0.01,
                                   what="the connection to drop")
        yield self.come_back(start)
        end = yield self.marker("zzend")
        self.assert_exactly_offline_changes(self.messages[start:end])

    @defer.inlineCallbacks
    def test_garbage_from_the_server(self):
        """Bytes that are not JSON make the service drop the connection and reconnect; no
        object signal is emitted for it, and changes afterwards are heard as usual."""
        start = yield self.setup_offline_scenario()
        self.factory.send_garbage()
        yield realstack.poll_until(lambda: self.connected_changes(self.messages[start:]) == [False, True],
                                   DEADLINE, interval=0.01, what="Connected false then true")
        self.transact(*set_port_ops("p2", tag=3))
        end = yield self.marker("zzend")
        messages = self.messages[start:end]
        self.assertEqual([(m["path"], m["body"]) for m in messages if m["path"] != ROOT],
                         [(port_path("p2"), [PORT_IFACE, {"Tag": 3}, []])])
        self.assertEqual(self.root_signals(messages), [])

    def cut_next_update(self, fraction):
        """Make the server write only ``fraction`` of its next update notification, then abort
        the connection."""
        (protocol,) = self.factory.connections
        transport = protocol.transport
        write = transport.write

        def cut(data):
            if b'"update' in data[:64]:
                transport.write = write
                write(data[:int(len(data) * fraction)])
                transport.abortConnection()
            else:
                write(data)
        transport.write = cut


def _renamed(ops, i):
    """``ops`` with their named-uuid references made unique by suffix ``i``."""
    text = json.dumps(ops)
    text = text.replace('"iface_new"', '"iface_new%d"' % i).replace('"port_new"', '"port_new%d"' % i)
    return json.loads(text)
