"""org.openvswitch.ovsdb.Flows end to end: a real ovs-vswitchd (dummy datapath), ovsdb-server, a
private dbus-daemon and ``twistd -n ovsdbus``; every change made on the bus is checked with
``ovs-ofctl dump-flows`` (a separate program reading ovs-vswitchd's tables), and the other way.

The service runs with ``--ovs-rundir`` on the sandbox directory (where the sandbox's
ovs-vswitchd puts its ``<bridge>.mgmt`` sockets), its state directory inside it, a short
``--ofctl-timeout`` and no periodic check (``--flows-check-interval 0``): persisted flows come back
because of what ovs-vswitchd writes to OVSDB when it starts.
"""

import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import zlib

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from ovsdbus.bus.flows import flows_handlers
from ovsdbus.openflow import flows as oftext
from ovsdbus.ovsdb.errors import AccessDenied, InvalidArgs
from ovsdbus.testing import sandbox
from tests import realstack, test_access
from tests.realstack import ERROR, OBJECT_PATH, call, call_error, poll_until

FLOWS = "org.openvswitch.ovsdb.Flows"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
OFCTL_TIMEOUT = 3
PROGRAMS = ("ovs-vswitchd", "ovs-ofctl", "ovs-appctl")


def bridge_path(name):
    return OBJECT_PATH + "/bridge/" + name


class FlowStack:
    """One real stack with ovs-vswitchd for the tests of a class (started on first use)."""

    stack = None
    vswitchd = None

    @classmethod
    def get(cls):
        realstack.require_programs(*PROGRAMS)
        if cls.stack is None or not cls.stack.healthy:
            cls.stop()
            stack = realstack.RealStack()
            state = os.path.join(stack.directory, "state")
            stack.service_args = ("--ovs-rundir", stack.directory, "--state-directory", state,
                                  "--ofctl-timeout", str(OFCTL_TIMEOUT), "--flows-check-interval", "0")
            cls.stack = stack.start()
            cls.vswitchd = sandbox.Vswitchd(stack.directory, stack.ovsdb)
        if not cls.vswitchd.running:
            cls.vswitchd.start()
        return cls.stack

    @classmethod
    def stop(cls):
        if cls.vswitchd is not None:
            cls.vswitchd.stop()
        if cls.stack is not None:
            cls.stack.stop()
        cls.stack = cls.vswitchd = None


atexit.register(FlowStack.stop)


class FlowsTestCase(TestCase):
    """Base: a bridge ``br0`` (OpenFlow10,13,14) on a fresh stack state, and a bus client."""

    protocols = "OpenFlow10,OpenFlow13,OpenFlow14"

    @classmethod
    def tearDownClass(cls):
        FlowStack.stop()

    @defer.inlineCallbacks
    def setUp(self):
        self.stack = FlowStack.get()
        self.vswitchd = FlowStack.vswitchd
        position = self.stack.log_position()
        self.addCleanup(lambda: self.assertEqual(self.stack.tracebacks_since(position), "", self.stack.service_log()))
        self.stack.clear()
        self.stack.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "protocols=" + self.protocols)
        self.client = yield realstack.connect(self, self.stack.bus_address)
        yield self.wait_for_bridge("br0")

    @defer.inlineCallbacks
    def wait_for_bridge(self, name):
        """Until ovs-vswitchd serves ``name``'s management socket and the object shows Flows."""
        mgmt = os.path.join(self.stack.directory, name + ".mgmt")
        yield poll_until(lambda: os.path.exists(mgmt), 20, what="ovs-vswitchd to create %s" % mgmt)

        def introspected():
            d = call(self.client, "Introspect", "", interface="org.freedesktop.DBus.Introspectable",
                     path=bridge_path(name))
            return d.addCallback(lambda xml: FLOWS in xml)
        yield poll_until(introspected, 20, what="the Flows interface on %s" % name)

    def ofctl(self, *args, stdin=None):
        """Run ovs-ofctl against the sandbox's ovs-vswitchd (blocking; it answers at once)."""
        env = dict(os.environ, OVS_RUNDIR=self.stack.directory)
        done = subprocess.run([sandbox.find_binary("ovs-ofctl"), "-O", "OpenFlow14", *args], input=stdin,
                              capture_output=True, text=True, env=env, timeout=20)
        if done.returncode:
            raise AssertionError("ovs-ofctl %s: %s" % (" ".join(args), done.stderr))
        return done.stdout

    def dumped(self, bridge="br0", match=None):
        """``ovs-ofctl --no-stats dump-flows``'s flows as it prints them (cookie and table shown unless 0)."""
        out = self.ofctl("--no-stats", "dump-flows", bridge, *([match] if match else []))
        flows = set()
        for line in out.splitlines():
            if " actions=" in line:
                flows.add(" ".join(line.split()))
        return flows

    def flows_call(self, method, signature, *args, bridge="br0"):
        return call(self.client, method, signature, *args, interface=FLOWS, path=bridge_path(bridge))

    def flows_error(self, method, signature, *args, bridge="br0"):
        return call_error(self.client, method, signature, *args, interface=FLOWS, path=bridge_path(bridge))

    @defer.inlineCallbacks
    def error_message(self, method, signature, *args, bridge="br0"):
        try:
            yield self.flows_call(method, signature, *args, bridge=bridge)
        except Exception as e:
            return getattr(e, "errName", None), str(e)
        raise AssertionError("%s succeeded" % method)


class FlowMethodTests(FlowsTestCase):
    """Each method, cross-checked with ovs-ofctl."""

    @defer.inlineCallbacks
    def test_add_flows_shows_in_ovs_ofctl(self):
        """AddFlows installs the flows; ovs-ofctl dump-flows shows them with the cookie given."""
        yield self.flows_call("AddFlows", "asa{sv}",
                              ["table=0,priority=100,ip,nw_dst=10.0.0.1,actions=drop",
                               "priority=10,in_port=1,actions=output:2"], {"cookie": 5})
        self.assertEqual(self.dumped(match="cookie=5/-1"), {
            "cookie=0x5, priority=100,ip,nw_dst=10.0.0.1 actions=drop",
            "cookie=0x5, priority=10,in_port=1 actions=output:2"})

    @defer.inlineCallbacks
    def test_dump_flows_reads_what_ovs_ofctl_added(self):
        """Flows added with ovs-ofctl come back from DumpFlows, parsed into their fields."""
        self.ofctl("add-flow", "br0", "cookie=0x7,table=2,priority=33,idle_timeout=60,tcp,tp_dst=80,actions=drop")
        flows = yield self.flows_call("DumpFlows", "sa{sv}", "cookie=0x7/-1", {})
        self.assertEqual(len(flows), 1)
        flow = flows[0]
        self.assertEqual((flow["table"], flow["priority"], flow["cookie"], flow["match"], flow["actions"],
                          flow["idle_timeout"], flow["hard_timeout"], flow["n_packets"], flow["n_bytes"]),
                         (2, 33, 7, "tcp,tp_dst=80", "drop", 60, 0, 0, 0))
        self.assertGreaterEqual(flow["duration"], 0)
        everything = yield self.flows_call("DumpFlows", "sa{sv}", "", {})
        self.assertIn(("", "NORMAL"), [(f["match"], f["actions"]) for f in everything])

    @defer.inlineCallbacks
    def test_delete_flows_by_cookie_and_strict(self):
        """DeleteFlows removes what its matches select: strictly one flow, then all of a cookie;
        ovs-ofctl shows the rest untouched."""
        self.ofctl("add-flows", "br0", "-", stdin="cookie=0x1,priority=5,ip,actions=drop\n"
                   "cookie=0x1,priority=6,ip,actions=drop\ncookie=0x2,priority=7,arp,actions=drop\n")
        yield self.flows_call("DeleteFlows", "asa{sv}", ["priority=5,ip"], {"strict": True})
        self.assertEqual(self.dumped(match="cookie=1/-1"), {"cookie=0x1, priority=6,ip actions=drop"})
        yield self.flows_call("DeleteFlows", "asa{sv}", [""], {"cookie": 1})
        self.assertEqual(self.dumped(match="cookie=1/-1"), set())
        self.assertEqual(self.dumped(match="cookie=2/-1"), {"cookie=0x2, priority=7,arp actions=drop"})

    @defer.inlineCallbacks
    def test_replace_flows_touches_only_its_cookie(self):
        """ReplaceFlows under cookie 0x10 adds, modifies and deletes only the difference (counts in
        the summary); flows of cookie 0x20 and the default flow stay exactly as they were."""
        self.ofctl("add-flows", "br0", "-", stdin="cookie=0x10,priority=1,ip,actions=drop\n"
                   "cookie=0x10,priority=2,arp,actions=drop\ncookie=0x10,priority=3,icmp,actions=drop\n"
                   "cookie=0x20,priority=1,ip,nw_src=1.1.1.1,actions=drop\n")
        others = self.dumped(match="cookie=0x20/-1") | self.dumped(match="cookie=0/-1")
        summary = yield self.flows_call("ReplaceFlows", "asa{sv}",
                                        ["priority=1,ip,actions=drop", "priority=2,arp,actions=NORMAL",
                                         "priority=4,ipv6,actions=drop"], {"cookie": 0x10})
        self.assertEqual(summary, {"added": 1, "modified": 1, "deleted": 1, "unchanged": 1})
        self.assertEqual(self.dumped(match="cookie=0x10/-1"), {
            "cookie=0x10, priority=1,ip actions=drop", "cookie=0x10, priority=2,arp actions=NORMAL",
            "cookie=0x10, priority=4,ipv6 actions=drop"})
        self.assertEqual(self.dumped(match="cookie=0x20/-1") | self.dumped(match="cookie=0/-1"), others)
        again = yield self.flows_call("ReplaceFlows", "asa{sv}",
                                      ["priority=1,ip,actions=drop", "priority=2,arp,actions=NORMAL",
                                       "priority=4,ipv6,actions=drop"], {"cookie": 0x10})
        self.assertEqual(again, {"added": 0, "modified": 0, "deleted": 0, "unchanged": 3})

    @defer.inlineCallbacks
    def test_replace_flows_default_cookie_is_zero(self):
        """Without options, ReplaceFlows owns cookie 0, where ovs-vswitchd's own 'priority=0
        actions=NORMAL' lives: that flow is modified in place, and other cookies stay."""
        self.ofctl("add-flow", "br0", "cookie=0x3,priority=9,arp,actions=drop")
        summary = yield self.flows_call("ReplaceFlows", "asa{sv}", ["priority=0,actions=drop"], {})
        self.assertEqual(summary, {"added": 0, "modified": 1, "deleted": 0, "unchanged": 0})
        self.assertEqual(self.dumped(), {"priority=0 actions=drop", "cookie=0x3, priority=9,arp actions=drop"})

    @defer.inlineCallbacks
    def test_replaced_flow_takes_effect_in_trace(self):
        """After ReplaceFlows changes a flow's action, ovs-appctl ofproto/trace shows packets
        taking the new action."""
        self.stack.vsctl("add-port", "br0", "p1", "--", "set", "interface", "p1", "ofport_request=1",
                         "--", "add-port", "br0", "p2", "--", "set", "interface", "p2", "ofport_request=2",
                         "--", "add-port", "br0", "p3", "--", "set", "interface", "p3", "ofport_request=3")
        yield poll_until(lambda: "3(p3)" in self.ofctl("show", "br0"), 20, what="ports p1-p3 in ovs-vswitchd")
        trace = ("ofproto/trace", "br0", "in_port=1,ip,nw_dst=10.0.0.9")
        yield self.flows_call("ReplaceFlows", "asa{sv}", ["priority=200,in_port=1,ip,actions=output:2"],
                              {"cookie": 0x30})
        self.assertIn("Datapath actions: 2", self.vswitchd.appctl(*trace))
        yield self.flows_call("ReplaceFlows", "asa{sv}", ["priority=200,in_port=1,ip,actions=output:3"],
                              {"cookie": 0x30})
        self.assertIn("Datapath actions: 3", self.vswitchd.appctl(*trace))

    @defer.inlineCallbacks
    def test_groups(self):
        """AddGroups, DumpGroups and DeleteGroups, cross-checked with ovs-ofctl dump-groups."""
        yield self.flows_call("AddGroups", "asa{sv}", ["group_id=1,type=all,bucket=output:1,bucket=output:2",
                                                       "group_id=2,type=all,bucket=output:3"], {})
        self.assertIn("group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2",
                      self.ofctl("dump-groups", "br0"))
        groups = yield self.flows_call("DumpGroups", "sa{sv}", "group_id=2", {})
        self.assertEqual([(g["group_id"], g["type"]) for g in groups], [(2, "all")])
        yield self.flows_call("DeleteGroups", "asa{sv}", ["group_id=1"], {})
        self.assertNotIn("group_id=1,", self.ofctl("dump-groups", "br0"))
        self.assertIn("group_id=2,", self.ofctl("dump-groups", "br0"))

    @defer.inlineCallbacks
    def test_flows_changed_signal(self):
        """Each change made through ovsdbus is followed by FlowsChanged(bridge, cookie) from the
        bridge's object, before the call returns."""
        heard = []
        yield self.client.addMatch(lambda m: heard.append((m.path, m.member, m.body)), sender=realstack.BUS_NAME,
                                   interface=FLOWS)
        yield self.flows_call("AddFlows", "asa{sv}", ["priority=9,arp,actions=drop"], {"cookie": 0x44})
        yield poll_until(lambda: heard, 10, what="FlowsChanged")
        self.assertEqual(heard, [(bridge_path("br0"), "FlowsChanged", ["br0", 0x44])])


    @defer.inlineCallbacks
    def test_object_manager_lists_flows_on_bridges(self):
        """GetManagedObjects and InterfacesAdded list org.openvswitch.ovsdb.Flows (no properties) on each
        bridge object, as Introspect does, so an ObjectManager client (GLib's) gets a proxy for it;
        InterfacesRemoved names it when the bridge goes."""
        heard = []
        yield self.client.addMatch(lambda m: heard.append((m.member, m.body)), sender=realstack.BUS_NAME,
                                   interface="org.freedesktop.DBus.ObjectManager")
        objects = yield call(self.client, "GetManagedObjects", "", interface="org.freedesktop.DBus.ObjectManager")
        self.assertEqual(objects[bridge_path("br0")][FLOWS], {})
        self.assertNotIn(FLOWS, objects["/org/openvswitch/ovsdb/port/br0"])
        self.stack.vsctl("add-br", "brx")
        yield poll_until(lambda: any(m == "InterfacesAdded" and b[0] == bridge_path("brx") for m, b in heard), 10,
                         what="InterfacesAdded of brx")
        added = next(b[1] for m, b in heard if m == "InterfacesAdded" and b[0] == bridge_path("brx"))
        self.assertEqual(added[FLOWS], {})
        self.stack.vsctl("del-br", "brx")
        yield poll_until(lambda: any(m == "InterfacesRemoved" and b[0] == bridge_path("brx") for m, b in heard), 10,
                         what="InterfacesRemoved of brx")
        removed = next(b[1] for m, b in heard if m == "InterfacesRemoved" and b[0] == bridge_path("brx"))
        self.assertIn(FLOWS, removed)


class SandboxFlowsTests(TestCase):
    """The sandbox (``./dev sandbox``) gives its ovsdbus the sandbox's run directory and a state
    directory inside the sandbox, so Flows reach the sandbox's ovs-vswitchd, not the system's."""

    @defer.inlineCallbacks
    def test_sandbox_service_reaches_its_switch(self):
        """In a Sandbox with ovs-vswitchd, AddFlows on br0 shows in that switch's dump, and a
        persisted flow is recorded under the sandbox directory."""
        realstack.require_programs(*realstack.STACK_PROGRAMS, *PROGRAMS)
        stack = sandbox.Sandbox(vswitchd=True).start()
        self.addCleanup(stack.stop)
        stack.ovsdb.vsctl("add-br", "br0")
        args = ("call", realstack.BUS_NAME, bridge_path("br0"), FLOWS, "AddFlows", "asa{sv}", "1",
                "priority=7,arp,actions=drop", "2", "cookie", "t", "9", "persist", "b", "true")

        def added():
            return realstack.busctl(stack.dbus.address, *args).addCallback(lambda result: result[0] == 0)
        yield poll_until(added, 20, interval=0.2, what="AddFlows to work on the sandbox's br0")
        out = subprocess.run([sandbox.find_binary("ovs-ofctl"), "-O", "OpenFlow14", "dump-flows",
                              "unix:%s/br0.mgmt" % stack.directory], capture_output=True, text=True, timeout=20).stdout
        self.assertIn("priority=7,arp actions=drop", out)
        with open(os.path.join(stack.directory, "state", "flows.json")) as f:
            self.assertIn("0x9", json.load(f)["bridges"]["br0"])


class FlowErrorTests(FlowsTestCase):
    """Bad input, missing bridges and a stopped ovs-vswitchd give named errors and change nothing."""

    @defer.inlineCallbacks
    def test_one_bad_flow_of_100_adds_none_and_is_named(self):
        """AddFlows with 100 flows of which flows[57] does not parse adds none of them; the error
        is InvalidArgs naming flows[57] (0-based) with ovs-ofctl's message."""
        flows = ["priority=%d,ip,actions=drop" % (1000 + i) for i in range(100)]
        flows[57] = "priority=1057,ip,bogus_field=1,actions=drop"
        name, message = yield self.error_message("AddFlows", "asa{sv}", flows, {"cookie": 0x57})
        self.assertEqual(name, INVALID_ARGS)
        self.assertIn("flows[57] (%r)" % flows[57], message)
        self.assertIn("bogus_field", message)
        self.assertEqual(self.dumped(match="cookie=0x57/-1"), set())

    @defer.inlineCallbacks
    def test_flow_the_switch_refuses_adds_none(self):
        """A flow that parses but ovs-vswitchd refuses (table 254 is read-only) fails the whole
        bundle: InvalidArgs naming flows[1]; the good flow before it is not installed."""
        name, message = yield self.error_message("AddFlows", "asa{sv}",
                                                 ["priority=1,actions=drop", "table=254,actions=drop"],
                                                 {"cookie": 0x58})
        self.assertEqual(name, INVALID_ARGS)
        self.assertIn("flows[1]", message)
        self.assertEqual(self.dumped(match="cookie=0x58/-1"), set())

    @defer.inlineCallbacks
    def test_line_breaks_and_unknown_options_refused(self):
        """A flow holding a line break (it would become two flows) and an unknown option are
        InvalidArgs; nothing is installed."""
        before = self.dumped()
        name = yield self.flows_error("AddFlows", "asa{sv}", ["priority=1,actions=drop\npriority=2,actions=drop"],
                                      {})
        self.assertEqual(name, INVALID_ARGS)
        name = yield self.flows_error("AddFlows", "asa{sv}", ["priority=1,actions=drop"], {"atomic": True})
        self.assertEqual(name, INVALID_ARGS)
        self.assertEqual(self.dumped(), before)

    @defer.inlineCallbacks
    def test_bridge_without_openflow14_refuses_bundles(self):
        """On a bridge whose protocols stop at OpenFlow13, a bundled AddFlows is NotSupported with a
        message saying what to do; bundle false installs the flow (not atomically)."""
        self.stack.vsctl("add-br", "br13", "--", "set", "bridge", "br13", "protocols=OpenFlow10,OpenFlow13")
        yield self.wait_for_bridge("br13")
        name, message = yield self.error_message("AddFlows", "asa{sv}", ["priority=3,actions=drop"], {},
                                                 bridge="br13")
        self.assertEqual(name, ERROR + "NotSupported")
        self.assertIn("OpenFlow14", message)
        yield self.flows_call("AddFlows", "asa{sv}", ["priority=3,actions=drop"], {"bundle": False},
                              bridge="br13")
        out = subprocess.run([sandbox.find_binary("ovs-ofctl"), "-O", "OpenFlow13", "dump-flows",
                              "unix:" + os.path.join(self.stack.directory, "br13.mgmt")],
                             capture_output=True, text=True, timeout=20).stdout
        self.assertIn("priority=3 actions=drop", out)

    @defer.inlineCallbacks
    def test_switch_stopped_is_switch_unavailable_within_timeout(self):
        """With ovs-vswitchd frozen (SIGSTOP), DumpFlows answers SwitchUnavailable within the
        --ofctl-timeout; with it stopped, at once."""
        os.kill(self.vswitchd.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            name = yield self.flows_error("DumpFlows", "sa{sv}", "", {})
            elapsed = time.monotonic() - started
        finally:
            os.kill(self.vswitchd.pid, signal.SIGCONT)
        self.assertEqual(name, ERROR + "SwitchUnavailable")
        self.assertLess(elapsed, OFCTL_TIMEOUT + 3)
        self.vswitchd.stop()
        name = yield self.flows_error("AddFlows", "asa{sv}", ["priority=3,actions=drop"], {})
        self.assertEqual(name, ERROR + "SwitchUnavailable")

    @defer.inlineCallbacks
    def test_bridge_missing_is_not_found(self):
        """A Flows call on the object of a bridge deleted meanwhile, or a bad path, is an error,
        never a crash: the object is gone (UnknownObject)."""
        self.stack.vsctl("add-br", "gone")
        yield self.wait_for_bridge("gone")
        self.stack.vsctl("del-br", "gone")
        yield poll_until(lambda: not os.path.exists(os.path.join(self.stack.directory, "gone.mgmt")), 20,
                         what="gone's socket to go")
        name = yield self.flows_error("DumpFlows", "sa{sv}", "", {}, bridge="gone")
        self.assertIn(name, ("org.freedesktop.DBus.Error.UnknownObject", ERROR + "NotFound"))


class PersistenceTests(FlowsTestCase):
    """Flows kept with persist: true come back after ovs-vswitchd and ovsdbus restart.

    Each test persists flows on a bridge of its own (persisted flows of a bridge come back on any
    bridge of that name) and forgets them at the end."""

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.bridge = "p%08x" % zlib.crc32(self._testMethodName.encode())
        self.stack.vsctl("add-br", self.bridge)
        yield self.wait_for_bridge(self.bridge)

    @defer.inlineCallbacks
    def tearDown(self):
        # Stop persisting what the test persisted: no flows, persist false.  With busctl, which
        # also shows the call as a shell user writes it (txdbus cannot send an empty array).
        for cookie in (0xAB, 0xCD, 0xEF):
            code, out, err = yield realstack.busctl(
                self.stack.bus_address, "call", realstack.BUS_NAME, bridge_path(self.bridge), FLOWS,
                "ReplaceFlows", "asa{sv}", "0", "2", "cookie", "t", str(cookie), "persist", "b", "false")
            self.assertEqual(code, 0, err)

    def flows_call(self, method, signature, *args, bridge=None):
        return super().flows_call(method, signature, *args, bridge=bridge or self.bridge)

    def dumped(self, bridge=None, match=None):
        return super().dumped(bridge or self.bridge, match)

    def state_file(self):
        return os.path.join(self.stack.directory, "state", "flows.json")

    @defer.inlineCallbacks
    def restart_service(self, meanwhile=lambda: None):
        """Stop ovsdbus, call ``meanwhile``, start it again and reconnect."""
        self.stack.service.stop(remove=False)
        meanwhile()
        self.stack.service.start()
        self.client = yield realstack.connect(self, self.stack.bus_address)
        yield self.wait_for_bridge(self.bridge)

    @defer.inlineCallbacks
    def test_persisted_flows_back_after_vswitchd_restart(self):
        """Flows replaced with persist true are recorded in the state file and are installed
        again after ovs-vswitchd is killed and started again; unpersisted ones are not."""
        yield self.flows_call("ReplaceFlows", "asa{sv}",
                              ["priority=50,ip,actions=drop", "priority=51,arp,actions=drop"],
                              {"cookie": 0xAB, "persist": True})
        yield self.flows_call("AddFlows", "asa{sv}", ["priority=52,ipv6,actions=drop"], {"cookie": 0xAC})
        with open(self.state_file()) as f:
            self.assertEqual(sorted(json.load(f)["bridges"][self.bridge]["0xab"]),
                             ["cookie=0xab,priority=50,ip,actions=drop", "cookie=0xab,priority=51,arp,actions=drop"])
        os.kill(self.vswitchd.pid, signal.SIGKILL)
        yield poll_until(lambda: not self.vswitchd.running, 10, what="ovs-vswitchd to die")
        self.vswitchd.start()
        wanted = {"cookie=0xab, priority=50,ip actions=drop", "cookie=0xab, priority=51,arp actions=drop"}
        yield poll_until(lambda: self.dumped(match="cookie=0xab/-1") == wanted, 20,
                         what="the persisted flows to be back")
        self.assertEqual(self.dumped(match="cookie=0xac/-1"), set())

    @defer.inlineCallbacks
    def test_persisted_flows_back_after_ovsdbus_and_vswitchd_restart(self):
        """The record survives ovsdbus restarting: a new ovsdbus process installs the flows after
        ovs-vswitchd restarts; DeleteFlows keeps the record in step."""
        yield self.flows_call("AddFlows", "asa{sv}", ["priority=60,ip,actions=drop", "priority=61,arp,actions=drop"],
                              {"cookie": 0xCD, "persist": True})
        yield self.flows_call("DeleteFlows", "asa{sv}", ["priority=61,arp"],
                              {"cookie": 0xCD, "strict": True})
        yield self.restart_service()
        self.vswitchd.stop()
        self.vswitchd.start()
        wanted = {"cookie=0xcd, priority=60,ip actions=drop"}
        yield poll_until(lambda: self.dumped(match="cookie=0xcd/-1") == wanted, 20,
                         what="the persisted flow to be back")

    @defer.inlineCallbacks
    def test_corrupt_state_file_reported_and_kept(self):
        """An unreadable state file is logged and moved aside as flows.json.corrupt-<time> when
        ovsdbus starts, not replaced silently; the service runs and persists anew."""
        directory = os.path.dirname(self.state_file())
        position = self.stack.log_position()

        def corrupt():
            os.makedirs(directory, exist_ok=True)
            with open(self.state_file(), "w") as f:
                f.write("{not json")
        yield self.restart_service(corrupt)
        aside = [n for n in os.listdir(directory) if n.startswith("flows.json.corrupt-")]
        self.assertEqual(len(aside), 1)
        with open(os.path.join(directory, aside[0])) as f:
            self.assertEqual(f.read(), "{not json")
        with open(os.path.join(self.stack.directory, "service.log")) as f:
            f.seek(position)
            self.assertIn("unreadable", f.read())
        yield self.flows_call("AddFlows", "asa{sv}", ["priority=70,ip,actions=drop"],
                              {"cookie": 0xEF, "persist": True})
        with open(self.state_file()) as f:
            self.assertIn("0xef", json.load(f)["bridges"][self.bridge])


class FlowAccessTests(TestCase):
    """On a bus configured like the system bus with the policy file we ship, a caller running as
    nobody is refused every Flows change (AccessDenied, flows unchanged) and may read flows."""

    stack = None

    @classmethod
    def start_stack(cls):
        test_access.require_root_and_programs()
        realstack.require_programs(*PROGRAMS)
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        os.chmod(directory, 0o755)   # nobody must reach the bus socket
        config = os.path.join(directory, "system.conf")
        with open(config, "w") as f:
            f.write(test_access.SYSTEM_LIKE_CONFIG.format(socket=os.path.join(directory, "bus.sock"),
                                                          policy=test_access.POLICY_FILE))
        started = []
        try:
            ovsdb = sandbox.OvsdbServer(directory).start()
            started.append(ovsdb)
            vswitchd = sandbox.Vswitchd(directory, ovsdb).start()
            started.append(vswitchd)
            bus = sandbox.DbusDaemon(directory, config_file=config).start()
            started.append(bus)
            service = sandbox.ServiceProcess(ovsdb.remote, bus.address, ("--polkit", "no", "--ovs-rundir", directory),
                                             directory=directory).start()
            started.append(service)
        except BaseException:
            for component in reversed(started):
                component.stop()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        cls.stack = (directory, ovsdb, vswitchd, bus, service)
        atexit.register(cls.tearDownClass)

    @classmethod
    def tearDownClass(cls):
        if cls.stack is not None:
            directory, ovsdb, vswitchd, bus, service = cls.stack
            cls.stack = None
            service.stop(remove=False)
            bus.stop()
            vswitchd.stop()
            ovsdb.stop()
            shutil.rmtree(directory, ignore_errors=True)

    def busctl(self, method, signature, *args, user=None):
        argv = ["busctl", "--address=" + self.bus.address, "call", realstack.BUS_NAME, bridge_path("acc0"), FLOWS,
                method, signature, *args]
        if user is not None:
            argv = ["setpriv", "--reuid=" + user, "--regid=nogroup", "--clear-groups", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return done.returncode, (done.stdout + done.stderr).strip()

    def dump(self):
        return subprocess.run([sandbox.find_binary("ovs-ofctl"), "-O", "OpenFlow14", "--no-stats", "dump-flows",
                               "unix:" + os.path.join(self.directory, "acc0.mgmt")],
                              capture_output=True, text=True, timeout=20, check=True).stdout

    @defer.inlineCallbacks
    def test_nobody_cannot_change_flows_but_can_read_them(self):
        """nobody's AddFlows, DeleteFlows, ReplaceFlows, AddGroups and DeleteGroups are AccessDenied
        and leave the flows as they were; nobody's DumpFlows works; root's AddFlows works."""
        if type(self).stack is None:
            type(self).start_stack()
        self.directory, self.ovsdb, self.vswitchd, self.bus, self.service = type(self).stack
        self.ovsdb.vsctl("--may-exist", "add-br", "acc0")
        yield poll_until(lambda: self.busctl("DumpFlows", "sa{sv}", "", "0")[0] == 0, 20,
                         what="acc0's Flows interface")
        before = self.dump()
        for method, signature, args in (("AddFlows", "asa{sv}", ["1", "priority=5,actions=drop", "0"]),
                                        ("DeleteFlows", "asa{sv}", ["1", "", "0"]),
                                        ("ReplaceFlows", "asa{sv}", ["0", "0"]),
                                        ("AddGroups", "asa{sv}", ["1", "group_id=1,type=all", "0"]),
                                        ("DeleteGroups", "asa{sv}", ["1", "", "0"])):
            code, out = self.busctl(method, signature, *args, user="nobody")
            self.assertNotEqual(code, 0, method)
            self.assertIn("Access denied", out, method)
        self.assertEqual(self.dump(), before)
        code, out = self.busctl("DumpFlows", "sa{sv}", "", "0", user="nobody")
        self.assertEqual(code, 0, out)
        self.assertIn("NORMAL", out)
        self.assertEqual(self.busctl("AddFlows", "asa{sv}", "1", "priority=5,actions=drop", "0")[0], 0)
        self.assertIn("priority=5 actions=drop", self.dump())


class FakeFlowService:
    def __init__(self):
        self.calls = []

    def __getattr__(self, verb):
        def record(bridge, entries, options):
            self.calls.append((verb, bridge, entries, options))
            if verb == "dump_flows":
                return [oftext.Flow(3, 100, "ip", "drop", 5, n_packets=2, n_bytes=84, duration=1.5)]
            return {"added": 1, "modified": 0, "deleted": 2, "unchanged": 3} if verb == "replace_flows" else None
        return record


class FlowsAdapterTests(TestCase):
    """ovsdbus.bus.flows in process: the D-Bus side of the Flows methods, without a bus."""

    def setUp(self):
        self.flows = FakeFlowService()
        self.asked = []
        self.allow = True

        def authorize(caller, action):
            self.asked.append((caller, action))
            return defer.succeed(None) if self.allow else defer.fail(AccessDenied("no"))
        self.handlers = flows_handlers(self.flows, lambda: "br0", authorize)

    def handler(self, method):
        return self.handlers[(FLOWS, method)]

    def test_changes_are_authorized_first(self):
        """A refused caller's AddFlows fails with AccessDenied before the flow service is called;
        DumpFlows asks nobody."""
        self.allow = False
        self.failureResultOf(self.handler("AddFlows")(["priority=1,actions=drop"], {}, "caller"), AccessDenied)
        self.assertEqual(self.flows.calls, [])
        self.assertEqual(self.asked, [("caller", "org.openvswitch.ovsdb.modify")])
        self.successResultOf(defer.maybeDeferred(self.handler("DumpFlows"), "", {}, "caller"))
        self.assertEqual(len(self.asked), 1)

    def test_options_checked_against_the_method(self):
        """An option the method does not declare, or of the wrong type, is InvalidArgs, and the
        flow service is not called; good ones reach it as Python values."""
        for options in ({"strict": True}, {"cookie": "5"}, {"bundle": 1}, {"cookie": -1}):
            self.failureResultOf(self.handler("AddFlows")(["a"], options, "c"), InvalidArgs)
        self.assertEqual(self.flows.calls, [])
        self.successResultOf(self.handler("AddFlows")(["a"], {"cookie": 5, "persist": True}, "c"))
        self.assertEqual(self.flows.calls, [("add_flows", "br0", ["a"], {"cookie": 5, "persist": True})])

    def test_results_typed(self):
        """DumpFlows answers each flow as a{sv} with exact signatures; ReplaceFlows its counts as u."""
        [flow] = self.successResultOf(self.handler("DumpFlows")("", {}, "c"))
        self.assertEqual(flow["table"], ("u", 3))
        self.assertEqual(flow["cookie"], ("t", 5))
        self.assertEqual(flow["n_bytes"], ("t", 84))
        self.assertEqual(flow["duration"], ("d", 1.5))
        self.assertEqual(flow["text"], ("s", "cookie=0x5,table=3,priority=100,ip,actions=drop"))
        summary = self.successResultOf(self.handler("ReplaceFlows")([], {}, "c"))
        self.assertEqual(summary, {"added": ("u", 1), "modified": ("u", 0), "deleted": ("u", 2),
                                   "unchanged": ("u", 3)})
