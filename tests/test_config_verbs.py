"""Issue #10's configuration verbs end to end, applied by a real ovs-vswitchd.

Real stack (:mod:`tests.realstack`): ovsdb-server, a private dbus-daemon, ``twistd -n ovsdbus``
and, for :class:`ConfigVerbsTests`, an ovs-vswitchd with the dummy datapath (bridges of
``datapath_type=netdev``, interfaces of type ``dummy``: nothing appears on the machine).  Each
verb is called as a user would (txdbus, ``busctl`` or ``gdbus``), and what it did is read back
with ``ovs-vsctl`` on the same ovsdb-server and, where ovs-vswitchd shows the effect, from
ovs-vswitchd itself: ``bond/show`` and ``lacp/show`` (two bonds of dummies wired to each other
negotiate LACP), ``ovs-ofctl show`` (ports, ``ofport_request``, OpenFlow versions),
``ofproto/trace`` (VLAN tagging, a patch pair, a mirror), a TCP listener that ovs-vswitchd
connects to as its controller, ovsdb-server listening for a manager.  The dummy datapath
implements no QoS (``ovs-appctl qos/show-types`` lists none), so QoS is checked in the database
only.

:class:`UnchangedOnErrorTests` runs without ovs-vswitchd, so that nothing else writes to the
database and a dump before and after a refused call must be identical: bad options, bad VLAN
settings, a ``Transact`` whose last command fails, ``may_exist`` with different settings.
:class:`RemoteControlAccessTests` runs the service on a bus configured like the system bus and
calls it as ``nobody``: the verbs that open the switch to remote control need more than the right
to change it.

Without Open vSwitch, dbus-daemon and the D-Bus tools these tests are skipped, and fail instead
when ``CI`` is set.
"""

import atexit
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from twisted.internet import defer, protocol, reactor
from twisted.trial.unittest import TestCase
from txdbus.error import RemoteError

from ovsdbus.api import DATABASE_INTERFACE
from ovsdbus.testing import sandbox
from tests import realstack
from tests.realstack import DBUS_ERROR, ERROR, call, poll_until

INVALID_ARGS = DBUS_ERROR + "InvalidArgs"
ACCESS_DENIED = DBUS_ERROR + "AccessDenied"
NOT_FOUND = ERROR + "NotFound"
ALREADY_EXISTS = ERROR + "AlreadyExists"
CONSTRAINT_VIOLATION = ERROR + "ConstraintViolation"
APPLY_FAILED = ERROR + "ApplyFailed"
NOT_APPLIED = ERROR + "NotApplied"

#: Seconds a wait=applied call may take beyond its apply_timeout before NotApplied comes.
APPLY_SLACK = 3.0

#: A broadcast frame, as ofproto/trace takes it after ``in_port=...,``.
BROADCAST = "dl_src=50:54:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff"


# -- D-Bus values ------------------------------------------------------------------------------

def typed(signature, value):
    """``value``, sent inside a variant as ``signature`` (txdbus would guess ``i`` for an int,
    ``a{ss}`` for a dict of strings, and cannot send an empty list or dict at all)."""
    base = int if isinstance(value, bool) else type(value)
    return type("Typed", (base,), {"dbusSignature": signature})(value)


def x(number):
    """An ``x`` (int64) inside a variant."""
    return typed("x", number)


def ax(numbers):
    """An ``ax`` inside a variant."""
    return typed("ax", list(numbers))


def a_ss(mapping):
    """An ``a{ss}`` inside a variant (also when empty)."""
    return typed("a{ss}", dict(mapping))


def options(**values):
    """An ``a{sv}`` options dict inside a variant (as a Transact argument)."""
    return typed("a{sv}", values)


def ovsdb_value(value):
    """A column value of OVSDB's JSON notation as plain Python: sets as lists, maps as dicts,
    uuids as strings (a one-element set may come as the bare atom, as OVSDB sends it)."""
    if isinstance(value, list) and len(value) == 2 and value[0] in ("set", "map", "uuid", "named-uuid"):
        kind, body = value
        if kind == "set":
            return [ovsdb_value(v) for v in body]
        if kind == "map":
            return {ovsdb_value(k): ovsdb_value(v) for k, v in body}
        return body
    return value


@defer.inlineCallbacks
def call_failure(conn, method, signature="", *args, **kwargs):
    """``(D-Bus error name, message)`` of a call that must fail; AssertionError if it succeeds."""
    try:
        result = yield call(conn, method, signature, *args, **kwargs)
    except RemoteError as e:
        return e.errName, e.message or ""
    raise AssertionError("%s%r succeeded (%r) but should have failed" % (method, args, result))


def transact(conn, commands, transact_options=None):
    """``org.openvswitch.ovsdb.Database.Transact`` of ``[(verb, {arg: value})]``; Deferred of its results."""
    return call(conn, "Transact", "a(sa{sv})a{sv}", [(verb, args) for verb, args in commands],
                transact_options or {}, interface=DATABASE_INTERFACE)


def split_actions(text):
    """ovs-vswitchd's ``Datapath actions:`` split at the commas outside parentheses."""
    actions, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            actions.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    if current.strip():
        actions.append(current.strip())
    return actions


class _Common:
    """Helpers for the tests of a stack (``self.stack``) and a txdbus connection (``self.client``)."""

    def call(self, method, signature="", *args, **kwargs):
        return call(self.client, method, signature, *args, **kwargs)

    def failure(self, method, signature="", *args, **kwargs):
        return call_failure(self.client, method, signature, *args, **kwargs)

    def vsctl(self, *args):
        return self.stack.vsctl(*args)

    def values(self, table, record, *columns):
        """The ``columns`` of one record, read with ``ovs-vsctl list`` (plain Python values)."""
        out = self.vsctl("--format=json", "--columns=" + ",".join(columns), "list", table, record)
        table_json = json.loads(out)
        [row] = table_json["data"]
        return {name: ovsdb_value(v) for name, v in zip(table_json["headings"], row, strict=True)}

    def value(self, table, record, column):
        return self.values(table, record, column)[column]

    def record_uuids(self, table):
        """The uuids of every row of ``table`` (``ovs-vsctl list``)."""
        out = self.vsctl("--format=json", "--columns=_uuid", "list", table)
        return sorted(ovsdb_value(row[0]) for row in json.loads(out)["data"])

    def delete_bridge_then(self, bridge, *args):
        """Delete ``bridge``, then run ``ovs-vsctl ARGS`` (rows its ports referred to can go only then)."""
        self.vsctl("--if-exists", "del-br", bridge)
        self.vsctl(*args)

    def bridge(self, name, *dummies, datapath_type="netdev"):
        """Make bridge ``name`` (with ``ovs-vsctl``) and a port with a dummy interface for each of
        ``dummies``; deleted at cleanup."""
        args = ["--", "--may-exist", "add-br", name, "--", "set", "Bridge", name, "datapath_type=" + datapath_type]
        for port in dummies:
            args += ["--", "add-port", name, port, "--", "set", "Interface", port, "type=dummy"]
        self.vsctl(*args)
        self.addCleanup(self.vsctl, "--if-exists", "del-br", name)


# ==============================================================================================
# The verbs against a real ovs-vswitchd.
# ==============================================================================================

def readme_busctl_examples():
    """The README's busctl example of each configuration verb, in order: ``[(method, argv after the
    method)]`` (``$B`` stands for ``busctl call`` of the service)."""
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index("From the shell (`B='busctl call")
    block = text[start:text.index("\n\n", text.index("    $B", start))]
    examples = []
    for command in block.replace("\\\n", " ").splitlines():
        command = command.strip()
        if command.startswith("$B "):
            method, *args = shlex.split(command[3:], comments=True)
            examples.append((method, args))
    return examples


class ConfigVerbsTests(_Common, TestCase):
    """Each verb through D-Bus, checked with ovs-vsctl and with ovs-vswitchd."""

    @classmethod
    def tearDownClass(cls):
        realstack.stop_shared_stack(cls)

    @defer.inlineCallbacks
    def setUp(self):
        realstack.require_programs("gdbus")
        self.stack = realstack.shared_vswitchd_stack(type(self))
        self.client = yield realstack.connect(self, self.stack.bus_address)

    # -- ovs-vswitchd's view -------------------------------------------------------------------

    def appctl(self, *args):
        return self.stack.appctl(*args)

    def datapath_ports(self):
        """``{interface name: datapath port number}`` from ``ovs-appctl dpif/show``."""
        ports = {}
        for line in self.appctl("dpif/show").splitlines():
            match = re.match(r"\s+(\S+) \d+/(\d+):", line)
            if match:
                ports[match.group(1)] = int(match.group(2))
        return ports

    def trace(self, bridge, in_port, flow=BROADCAST):
        """Where ovs-vswitchd sends a packet coming in on ``in_port`` of ``bridge``:
        ``{interface name: VLAN it leaves with (None: untagged)}``, from ``ofproto/trace``'s
        datapath actions; also the whole trace text."""
        text = self.appctl("ofproto/trace", bridge, "in_port=%s,%s" % (in_port, flow))
        [actions] = [line.split(":", 1)[1] for line in text.splitlines() if line.startswith("Datapath actions:")]
        names = {number: name for name, number in self.datapath_ports().items()}
        vlan = re.search(r"dl_vlan=(\d+)", flow)
        vlan = int(vlan.group(1)) if vlan else None
        outputs = {}
        for action in split_actions(actions):
            pushed = re.match(r"push_vlan\(vid=(\d+)", action)
            if pushed:
                vlan = int(pushed.group(1))
            elif action == "pop_vlan":
                vlan = None
            elif action.isdigit():
                outputs[names.get(int(action), action)] = vlan
        return outputs, text

    def ofctl_ports(self, bridge):
        """``{port name: OpenFlow port number}`` from ``ovs-ofctl show BRIDGE``."""
        out = self.stack.ofctl("show", self.stack.mgmt(bridge))
        return {m.group(2): m.group(1) for m in re.finditer(r"^ (\w+)\((\S+)\):", out, re.M)}

    def speaks(self, bridge, version):
        """Whether ``bridge`` answers ``ovs-ofctl -O VERSION show`` (False when version negotiation fails)."""
        try:
            self.stack.ofctl("-O", version, "show", self.stack.mgmt(bridge))
        except sandbox.SandboxError as e:
            if "version negotiation failed" in str(e):
                return False
            raise
        return True

    def busctl(self, method, signature="", *args):
        return realstack.busctl_call(self.stack.bus_address, method, signature, *[str(a) for a in args])

    def gdbus(self, method, *args):
        return realstack.gdbus_call(self.stack.bus_address, method, *args)

    def until(self, predicate, what, timeout=20):
        """Poll ``predicate`` (blocking is fine: the service and ovs-vswitchd are other processes)."""
        return poll_until(predicate, timeout, interval=0.1, what=what)

    # -- bridges -----------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_bridge_options(self):
        """SetBridgeOptions (busctl, then txdbus with wait=applied) sets each setting; ovs-vswitchd
        speaks only the OpenFlow versions asked for and runs STP and multicast snooping once enabled;
        maps are merged key by key, '' deletes a key, and fail_mode '' unsets it."""
        yield self.call("CreateBridge", "s", "cfbr0")
        self.addCleanup(self.vsctl, "--if-exists", "del-br", "cfbr0")
        code, out, err = yield self.busctl(
            "SetBridgeOptions", "sa{sv}", "cfbr0", 4, "datapath_type", "s", "netdev", "fail_mode", "s", "secure",
            "protocols", "as", 1, "OpenFlow10", "other_config", "a{ss}", 2, "a", "1", "b", "2")
        self.assertEqual((code, err), (0, ""), out)
        self.assertEqual(self.values("Bridge", "cfbr0", "datapath_type", "fail_mode", "protocols", "other_config"),
                         {"datapath_type": "netdev", "fail_mode": "secure", "protocols": "OpenFlow10",
                          "other_config": {"a": "1", "b": "2"}})
        yield self.until(lambda: "netdev@ovs-netdev" in self.appctl("dpif/show")
                         and "cfbr0 65534/" in self.appctl("dpif/show"), "cfbr0 in the netdev datapath")
        yield self.until(lambda: self.ofctl_ports("cfbr0"), "cfbr0's OpenFlow socket")
        yield self.until(lambda: not self.speaks("cfbr0", "OpenFlow13"), "cfbr0 to refuse OpenFlow 1.3")
        self.assertTrue(self.speaks("cfbr0", "OpenFlow10"))

        yield self.call("SetBridgeOptions", "sa{sv}", "cfbr0", {
            "protocols": ["OpenFlow10", "OpenFlow13"], "stp_enable": True, "mcast_snooping_enable": True,
            "other_config": a_ss({"a": "", "c": "3"}), "external_ids": a_ss({"owner": "tests"}),
            "fail_mode": "", "wait": "applied"})
        self.assertEqual(self.values("Bridge", "cfbr0", "fail_mode", "protocols", "stp_enable",
                                     "mcast_snooping_enable", "other_config", "external_ids"),
                         {"fail_mode": [], "protocols": ["OpenFlow10", "OpenFlow13"], "stp_enable": True,
                          "mcast_snooping_enable": True, "other_config": {"b": "2", "c": "3"},
                          "external_ids": {"owner": "tests"}})
        # Applied at return: no polling.
        self.assertTrue(self.speaks("cfbr0", "OpenFlow13"))
        self.assertIn("stp-priority", self.appctl("stp/show", "cfbr0"))
        self.assertIn("GROUP", self.appctl("mdb/show", "cfbr0"))
        self.assertEqual(self.vsctl("get-fail-mode", "cfbr0").strip(), "")

    @defer.inlineCallbacks
    def test_fail_mode(self):
        """SetFailMode sets and unsets a bridge's fail mode, as ``ovs-vsctl get-fail-mode`` reads it;
        another mode is InvalidArgs."""
        self.bridge("cffm0")
        yield self.call("SetFailMode", "ss", "cffm0", "secure")
        self.assertEqual(self.vsctl("get-fail-mode", "cffm0").strip(), "secure")
        yield self.call("SetFailMode", "ss", "cffm0", "standalone")
        self.assertEqual(self.vsctl("get-fail-mode", "cffm0").strip(), "standalone")
        name, _ = yield self.failure("SetFailMode", "ss", "cffm0", "open")
        self.assertEqual(name, INVALID_ARGS)
        self.assertEqual(self.vsctl("get-fail-mode", "cffm0").strip(), "standalone")
        yield self.call("SetFailMode", "ss", "cffm0", "")
        self.assertEqual(self.vsctl("get-fail-mode", "cffm0").strip(), "")

    # -- ports and interfaces ----------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_port_and_interface_options(self):
        """SetPortOptions and SetInterfaceOptions set each setting; ovs-vswitchd gives the interface
        the OpenFlow port asked for (ovs-ofctl show); -1 unsets tag, mtu_request and ofport_request,
        and '' deletes a key of a map."""
        self.bridge("cfpi0")
        yield self.call("AddPort", "ss", "cfpi0", "cfpi0p")
        yield self.call("SetPortOptions", "sa{sv}", "cfpi0p", {
            "tag": x(42), "other_config": a_ss({"priority-tags": "true"}), "external_ids": a_ss({"k": "v"})})
        yield self.call("SetInterfaceOptions", "sa{sv}", "cfpi0p", {
            "type": "dummy", "mtu_request": x(9000), "ofport_request": x(47),
            "options": a_ss({"ifindex": "1234"}), "other_config": a_ss({"o": "1"}),
            "external_ids": a_ss({"attached-mac": "50:54:00:00:00:09"})})
        self.assertEqual(self.values("Port", "cfpi0p", "tag", "other_config", "external_ids"),
                         {"tag": 42, "other_config": {"priority-tags": "true"}, "external_ids": {"k": "v"}})
        self.assertEqual(self.values("Interface", "cfpi0p", "type", "mtu_request", "ofport_request", "options",
                                     "other_config", "external_ids"),
                         {"type": "dummy", "mtu_request": 9000, "ofport_request": 47,
                          "options": {"ifindex": "1234"}, "other_config": {"o": "1"},
                          "external_ids": {"attached-mac": "50:54:00:00:00:09"}})
        yield self.until(lambda: self.ofctl_ports("cfpi0").get("cfpi0p") == "47", "cfpi0p at OpenFlow port 47")
        yield self.until(lambda: self.value("Interface", "cfpi0p", "mtu") == 9000, "ovs-vswitchd to set MTU 9000")

        yield self.call("SetPortOptions", "sa{sv}", "cfpi0p",
                        {"tag": x(-1), "other_config": a_ss({"priority-tags": ""})})
        yield self.call("SetInterfaceOptions", "sa{sv}", "cfpi0p", {
            "mtu_request": x(-1), "ofport_request": x(-1), "options": a_ss({"ifindex": ""}),
            "external_ids": a_ss({"iface-id": "x1"})})
        self.assertEqual(self.values("Port", "cfpi0p", "tag", "other_config", "external_ids"),
                         {"tag": [], "other_config": {}, "external_ids": {"k": "v"}})
        self.assertEqual(self.values("Interface", "cfpi0p", "mtu_request", "ofport_request", "options", "external_ids"),
                         {"mtu_request": [], "ofport_request": [], "options": {},
                          "external_ids": {"attached-mac": "50:54:00:00:00:09", "iface-id": "x1"}})

    @defer.inlineCallbacks
    def test_vlan_tagging(self):
        """SetPortVlan makes an access port on VLAN 10 (busctl), a trunk of VLANs 10 and 20 (gdbus)
        and an access port on VLAN 20; ofproto/trace shows a packet coming in on the VLAN 10 port
        leaving on the trunk tagged 10 and not on the VLAN 20 port, and a packet tagged 20 on the
        trunk leaving untagged on the VLAN 20 port only."""
        self.bridge("cfvl0", "cfvlacc", "cfvltrk", "cfvl20")
        code, out, err = yield self.busctl("SetPortVlan", "ssxax", "cfvlacc", "access", 10, 0)
        self.assertEqual((code, err), (0, ""), out)
        code, out, err = yield self.gdbus("SetPortVlan", "cfvltrk", "trunk", "int64 -1", "@ax [10, 20]")
        self.assertEqual((code, err), (0, ""), out)
        yield self.call("SetPortVlan", "ssxax", "cfvl20", "access", 20, [])
        self.assertEqual(self.values("Port", "cfvlacc", "vlan_mode", "tag", "trunks"),
                         {"vlan_mode": "access", "tag": 10, "trunks": []})
        self.assertEqual(self.values("Port", "cfvltrk", "vlan_mode", "tag", "trunks"),
                         {"vlan_mode": "trunk", "tag": [], "trunks": [10, 20]})

        def traced():
            outputs, _ = self.trace("cfvl0", "cfvlacc")
            return outputs.get("cfvltrk") == 10 and "cfvl20" not in outputs
        yield self.until(traced, "a packet from the VLAN 10 access port to leave the trunk tagged 10")
        outputs, text = self.trace("cfvl0", "cfvltrk", "dl_vlan=20," + BROADCAST)
        self.assertEqual(outputs.get("cfvl20", "absent"), None, text)
        self.assertNotIn("cfvlacc", outputs, text)

    @defer.inlineCallbacks
    def test_vlan_modes(self):
        """SetPortVlan takes the native and dot1q-tunnel modes with their tag, and mode '' with tag -1
        and no trunks unsets all three columns."""
        self.bridge("cfvm0", "cfvmp")
        for mode, tag, trunks in (("native-untagged", 10, [20, 30]), ("native-tagged", 11, []),
                                  ("dot1q-tunnel", 100, [])):
            yield self.call("SetPortVlan", "ssxax", "cfvmp", mode, tag, trunks)
            self.assertEqual(self.values("Port", "cfvmp", "vlan_mode", "tag", "trunks"),
                             {"vlan_mode": mode, "tag": tag, "trunks": trunks}, mode)
        yield self.call("SetPortVlan", "ssxax", "cfvmp", "", -1, [])
        self.assertEqual(self.values("Port", "cfvmp", "vlan_mode", "tag", "trunks"),
                         {"vlan_mode": [], "tag": [], "trunks": []})

    # -- bonds -------------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_lacp_bond(self):
        """Two bonds made with AddBond (LACP active, balance-tcp, lacp-time fast, dummy interfaces),
        their interfaces wired to each other with SetInterfaceOptions, negotiate LACP: bond/show
        lists both members enabled in balance-tcp with lacp_status negotiated, lacp/show reports
        fast timing and current members."""
        self.bridge("cflb1")
        self.bridge("cflb2")
        directory = self.stack.directory
        bond_options = {"bond_mode": "balance-tcp", "lacp": "active",
                        "other_config": a_ss({"lacp-time": "fast"}), "interface_type": "dummy"}
        yield self.call("AddBond", "ssasa{sv}", "cflb1", "cflbond1", ["cflb1a", "cflb1b"], bond_options)
        # The other side in one Transact: the bond and its wiring.
        results = yield transact(self.client, [
            ("AddBond", {"bridge": "cflb2", "port": "cflbond2", "interfaces": ["cflb2a", "cflb2b"],
                         "options": options(**bond_options)}),
            ("SetInterfaceOptions", {"interface": "cflb2a",
                                     "options": options(options=a_ss({"stream": "unix:%s/cflb-a.sock" % directory}))}),
            ("SetInterfaceOptions", {"interface": "cflb2b",
                                     "options": options(options=a_ss({"stream": "unix:%s/cflb-b.sock" % directory}))}),
        ])
        self.assertEqual([r["changed"] for r in results], [True, True, True])
        for interface, socket in (("cflb1a", "cflb-a.sock"), ("cflb1b", "cflb-b.sock")):
            yield self.call("SetInterfaceOptions", "sa{sv}", interface,
                            {"options": a_ss({"pstream": "punix:%s/%s" % (directory, socket)})})
        self.assertEqual(self.values("Port", "cflbond1", "bond_mode", "lacp", "other_config"),
                         {"bond_mode": "balance-tcp", "lacp": "active", "other_config": {"lacp-time": "fast"}})
        self.assertEqual(self.vsctl("list-ifaces", "cflb1").split(), ["cflb1a", "cflb1b"])
        self.assertEqual(self.value("Interface", "cflb2a", "type"), "dummy")

        def negotiated():
            shown = self.appctl("bond/show", "cflbond1")
            return ("lacp_status: negotiated" in shown and "member cflb1a: enabled" in shown
                    and "member cflb1b: enabled" in shown and shown)
        shown = yield self.until(negotiated, "the two bonds to negotiate LACP", timeout=30)
        self.assertIn("bond_mode: balance-tcp", shown)
        lacp = self.appctl("lacp/show", "cflbond1")
        self.assertIn("status: active negotiated", lacp)
        self.assertIn("lacp_time: fast", lacp)
        self.assertIn("member: cflb1a: current attached", lacp)
        self.assertIn("member: cflb1b: current attached", lacp)

        # The lookups, as ovs-vsctl answers them.
        self.assertEqual((yield self.call("ListInterfaces", "s", "cflb1")), ["cflb1a", "cflb1b"])
        self.assertEqual((yield self.call("PortToBridge", "s", "cflbond2")), "cflb2")
        self.assertEqual((yield self.call("InterfaceToBridge", "s", "cflb2b")), "cflb2")
        self.assertEqual(self.vsctl("iface-to-br", "cflb2b").strip(), "cflb2")

    @defer.inlineCallbacks
    def test_bond_members(self):
        """AddBondInterface adds a third member that bond/show lists; DeleteBondInterface removes it
        again, and refuses to leave the bond one member (ConstraintViolation saying so), changing
        nothing."""
        self.bridge("cfbm0")
        yield self.call("AddBond", "ssasa{sv}", "cfbm0", "cfbmb", ["cfbm1", "cfbm2"],
                        {"bond_mode": "active-backup", "interface_type": "dummy", "bond_updelay": x(100),
                         "bond_downdelay": x(200)})
        self.assertEqual(self.values("Port", "cfbmb", "bond_mode", "bond_updelay", "bond_downdelay"),
                         {"bond_mode": "active-backup", "bond_updelay": 100, "bond_downdelay": 200})
        yield self.call("AddBondInterface", "ss", "cfbmb", "cfbm3")
        self.assertEqual(self.vsctl("list-ifaces", "cfbm0").split(), ["cfbm1", "cfbm2", "cfbm3"])
        yield self.call("SetInterfaceOptions", "sa{sv}", "cfbm3", {"type": "dummy"})
        yield self.until(lambda: "member cfbm3:" in self.appctl("bond/show", "cfbmb"), "bond/show to list cfbm3")
        shown = self.appctl("bond/show", "cfbmb")
        self.assertIn("bond_mode: active-backup", shown)
        self.assertIn("updelay: 100 ms", shown)
        self.assertIn("downdelay: 200 ms", shown)

        yield self.call("DeleteBondInterface", "ss", "cfbmb", "cfbm3")
        self.assertEqual(self.vsctl("list-ifaces", "cfbm0").split(), ["cfbm1", "cfbm2"])
        self.assertNotIn("cfbm3", self.vsctl("--columns=name", "list", "Interface"))
        yield self.until(lambda: "cfbm3" not in self.appctl("bond/show", "cfbmb"), "bond/show to drop cfbm3")
        name, message = yield self.failure("DeleteBondInterface", "ss", "cfbmb", "cfbm2")
        self.assertEqual(name, CONSTRAINT_VIOLATION, message)
        self.assertRegex(message, r"two|2")
        self.assertEqual(self.vsctl("list-ifaces", "cfbm0").split(), ["cfbm1", "cfbm2"])

    # -- tunnels and patches -----------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_tunnels(self):
        """AddTunnel makes vxlan (busctl), geneve and gre ports whose options carry the remote and
        the settings given; ovs-vswitchd gives each an OpenFlow port (the one asked for where given)
        and no error."""
        self.bridge("cftu0")
        code, out, err = yield self.busctl(
            "AddTunnel", "ssssa{sv}", "cftu0", "cftvx", "vxlan", "192.0.2.10", 4, "key", "s", "5000",
            "dst_port", "x", 4790, "local_ip", "s", "192.0.2.1", "ofport_request", "x", 61)
        self.assertEqual((code, err), (0, ""), out)
        yield self.call("AddTunnel", "ssssa{sv}", "cftu0", "cftgn", "geneve", "192.0.2.11",
                        {"key": "77", "ttl": "64", "csum": True, "external_ids": a_ss({"site": "b"})})
        yield self.call("AddTunnel", "ssssa{sv}", "cftu0", "cftgr", "gre", "192.0.2.12",
                        {"options": a_ss({"packet_type": "legacy_l2"})})
        self.assertEqual(self.values("Interface", "cftvx", "type", "options", "ofport_request"),
                         {"type": "vxlan", "ofport_request": 61,
                          "options": {"remote_ip": "192.0.2.10", "key": "5000", "dst_port": "4790",
                                      "local_ip": "192.0.2.1"}})
        self.assertEqual(self.values("Interface", "cftgn", "type", "options"),
                         {"type": "geneve",
                          "options": {"remote_ip": "192.0.2.11", "key": "77", "ttl": "64", "csum": "true"}})
        self.assertEqual(self.value("Interface", "cftgn", "external_ids"), {"site": "b"})
        self.assertEqual(self.values("Interface", "cftgr", "type", "options"),
                         {"type": "gre", "options": {"remote_ip": "192.0.2.12", "packet_type": "legacy_l2"}})

        def all_up():
            ports = self.ofctl_ports("cftu0")
            return ports.get("cftvx") == "61" and "cftgn" in ports and "cftgr" in ports
        yield self.until(all_up, "the three tunnels to get OpenFlow ports")
        for name in ("cftvx", "cftgn", "cftgr"):
            self.assertEqual(self.value("Interface", name, "error"), [], name)

    @defer.inlineCallbacks
    def test_patch(self):
        """AddPatch (gdbus) connects two bridges with two patch ports, each the other's peer; a packet
        from one bridge's local port floods through the patch into the other bridge and out of its
        port (ofproto/trace)."""
        self.bridge("cfpa1")
        self.bridge("cfpa2", "cfpa2p")
        code, out, err = yield self.gdbus("AddPatch", "cfpa1", "cfpaA", "cfpa2", "cfpaB")
        self.assertEqual((code, err), (0, ""), out)
        self.assertEqual(self.values("Interface", "cfpaA", "type", "options"),
                         {"type": "patch", "options": {"peer": "cfpaB"}})
        self.assertEqual(self.values("Interface", "cfpaB", "type", "options"),
                         {"type": "patch", "options": {"peer": "cfpaA"}})
        self.assertEqual(self.vsctl("port-to-br", "cfpaB").strip(), "cfpa2")

        def through():
            outputs, text = self.trace("cfpa1", "LOCAL")
            return 'bridge("cfpa2")' in text and "cfpa2p" in outputs
        yield self.until(through, "a packet from cfpa1 to reach cfpa2p through the patch")

    # -- QoS and mirrors ---------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_qos(self):
        """SetQoS (busctl) gives a port a QoS with two queues (ovs-vsctl list QoS / Queue); a second
        SetQoS replaces it, leaving no unused row behind; ClearQoS removes it and deletes the QoS and Queue
        rows nothing else uses, while a QoS another port still uses survives ClearQoS of one of its
        ports.  ovs-vswitchd's dummy devices implement no QoS: qos/show says none is configured."""
        self.bridge("cfqo0", "cfqo1", "cfqo2", "cfqo3")
        qos_before, queues_before = self.record_uuids("QoS"), self.record_uuids("Queue")
        code, out, err = yield self.busctl(
            "SetQoS", "ssa{ss}a{ua{ss}}", "cfqo1", "linux-htb", 1, "max-rate", "1000000",
            2, 0, 1, "max-rate", "500000", 1, 1, "min-rate", "100000")
        self.assertEqual((code, err), (0, ""), out)
        qos = self.value("Port", "cfqo1", "qos")
        self.assertEqual(self.values("QoS", qos, "type", "other_config"),
                         {"type": "linux-htb", "other_config": {"max-rate": "1000000"}})
        queues = self.value("QoS", qos, "queues")
        self.assertEqual(sorted(queues), [0, 1])
        self.assertEqual(self.value("Queue", queues[0], "other_config"), {"max-rate": "500000"})
        self.assertEqual(self.value("Queue", queues[1], "other_config"), {"min-rate": "100000"})
        # What ovs-vswitchd makes of it: dummy devices implement no QoS type, so qos/show reports
        # none configured (the database is all there is to check here).
        self.assertIn("No QoS types supported", self.appctl("qos/show-types", "cfqo1"))
        self.assertIn("QoS not configured on cfqo1", self.appctl("qos/show", "cfqo1"))

        # Another SetQoS replaces the port's QoS; what it no longer uses, and nothing else uses, goes.
        yield self.call("SetQoS", "ssa{ss}a{ua{ss}}", "cfqo1", "linux-hfsc", {"max-rate": "2000000"},
                        {7: {"min-rate": "300000"}})
        replaced = self.value("Port", "cfqo1", "qos")
        self.assertEqual(self.record_uuids("QoS"), sorted(qos_before + [replaced]))
        self.assertEqual(self.values("QoS", replaced, "type", "other_config"),
                         {"type": "linux-hfsc", "other_config": {"max-rate": "2000000"}})
        [(number, queue)] = self.value("QoS", replaced, "queues").items()
        self.assertEqual((number, self.value("Queue", queue, "other_config")), (7, {"min-rate": "300000"}))
        self.assertEqual(self.record_uuids("Queue"), sorted(queues_before + [queue]))

        yield self.call("ClearQoS", "s", "cfqo1")
        self.assertEqual(self.value("Port", "cfqo1", "qos"), [])
        self.assertEqual(self.record_uuids("QoS"), qos_before)
        self.assertEqual(self.record_uuids("Queue"), queues_before)

        # A QoS two ports share (made with ovs-vsctl) stays while the other port uses it.
        shared = self.vsctl("--", "set", "Port", "cfqo2", "qos=@q", "--", "set", "Port", "cfqo3", "qos=@q",
                            "--", "--id=@q", "create", "QoS", "type=linux-htb").split()[0]
        self.addCleanup(self.delete_bridge_then, "cfqo0", "--if-exists", "destroy", "QoS", shared)
        yield self.call("ClearQoS", "s", "cfqo2")
        self.assertEqual(self.value("Port", "cfqo2", "qos"), [])
        self.assertEqual(self.value("Port", "cfqo3", "qos"), shared)
        self.assertIn(shared, self.record_uuids("QoS"))

    @defer.inlineCallbacks
    def test_mirror(self):
        """AddMirror of everything on a bridge to a port makes ovs-vswitchd copy a VLAN 10 packet to
        that port, which would not get it otherwise (ofproto/trace); DeleteMirror stops that and
        removes the Mirror row; a mirror of one port's traffic to an output VLAN is stored as asked."""
        self.bridge("cfmi0", "cfmiin", "cfmiout", "cfmisrc")
        self.vsctl("set", "Port", "cfmiin", "tag=10", "--", "set", "Port", "cfmiout", "tag=20")
        outputs, text = self.trace("cfmi0", "cfmiin")
        self.assertNotIn("cfmiout", outputs, text)
        yield self.call("AddMirror", "ssa{sv}", "cfmi0", "cfmiall", {"select_all": True, "output_port": "cfmiout"})
        mirror = self.values("Mirror", "cfmiall", "select_all", "output_port", "_uuid")
        self.assertEqual(mirror["select_all"], True)
        self.assertEqual(mirror["output_port"], self.value("Port", "cfmiout", "_uuid"))
        self.assertEqual(self.value("Bridge", "cfmi0", "mirrors"), mirror["_uuid"])
        yield self.until(lambda: "cfmiout" in self.trace("cfmi0", "cfmiin")[0], "the mirror to copy to cfmiout")

        yield self.call("DeleteMirror", "ss", "cfmi0", "cfmiall")
        self.assertEqual(self.value("Bridge", "cfmi0", "mirrors"), [])
        self.assertNotIn(mirror["_uuid"], self.record_uuids("Mirror"))
        yield self.until(lambda: "cfmiout" not in self.trace("cfmi0", "cfmiin")[0], "the mirror to stop")

        yield self.call("AddMirror", "ssa{sv}", "cfmi0", "cfmivlan", {
            "select_src_port": ["cfmisrc"], "select_dst_port": ["cfmisrc", "cfmiin"], "select_vlan": ax([10]),
            "output_vlan": x(999)})
        self.addCleanup(self.vsctl, "--if-exists", "--", "clear", "Bridge", "cfmi0", "mirrors")
        mirror = self.values("Mirror", "cfmivlan", "select_src_port", "select_dst_port", "select_vlan",
                             "output_vlan", "output_port")
        port = {name: self.value("Port", name, "_uuid") for name in ("cfmisrc", "cfmiin")}
        self.assertEqual(mirror["select_src_port"], port["cfmisrc"])
        self.assertEqual(sorted(mirror["select_dst_port"]), sorted(port.values()))
        self.assertEqual((mirror["select_vlan"], mirror["output_vlan"], mirror["output_port"]), (10, 999, []))

    # -- remote control ----------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_controllers(self):
        """SetControllers makes ovs-vswitchd connect to the controller given (a TCP listener of the
        test) with the settings asked for; DeleteControllers makes it hang up and removes the rows."""
        self.bridge("cfct0")
        connected, lost = defer.Deferred(), defer.Deferred()

        class Controller(protocol.Protocol):
            def connectionMade(self):
                connected.called or connected.callback(self)

            def connectionLost(self, reason):
                lost.called or lost.callback(None)

        listener = reactor.listenTCP(0, protocol.Factory.forProtocol(Controller), interface="127.0.0.1")
        self.addCleanup(listener.stopListening)
        target = "tcp:127.0.0.1:%d" % listener.getHost().port
        yield self.call("SetControllers", "sasa{sv}", "cfct0", [target, "ptcp:0:127.0.0.1"], {
            "inactivity_probe": x(30000), "max_backoff": x(2000), "connection_mode": "out-of-band"})
        self.assertEqual(sorted(self.vsctl("get-controller", "cfct0").split()), sorted([target, "ptcp:0:127.0.0.1"]))
        for uuid in self.value("Bridge", "cfct0", "controller"):
            self.assertEqual(self.values("Controller", uuid, "inactivity_probe", "max_backoff", "connection_mode"),
                             {"inactivity_probe": 30000, "max_backoff": 2000, "connection_mode": "out-of-band"})
        connection = yield self.until(lambda: connected.called and connected.result, "ovs-vswitchd to connect")
        self.addCleanup(connection.transport.loseConnection)

        yield self.call("DeleteControllers", "s", "cfct0")
        self.assertEqual(self.vsctl("get-controller", "cfct0").strip(), "")
        self.assertEqual(self.record_uuids("Controller"), [])
        yield self.until(lambda: lost.called, "ovs-vswitchd to hang up on the controller")

    @defer.inlineCallbacks
    def test_managers(self):
        """SetManagers sets the managers (ovs-vsctl get-manager), and ovsdb-server (reading them as
        its remotes) listens on the passive one; DeleteManagers removes them and it stops."""
        sandbox._run([sandbox.find_binary("ovs-appctl"), "-t", str(self.stack.ovsdb.ctl_path),
                      "ovsdb-server/add-remote", "db:Open_vSwitch,Open_vSwitch,manager_options"],
                     env=self.stack.ovsdb._ovs_env())
        port = sandbox.free_tcp_port()
        targets = ["ptcp:%d:127.0.0.1" % port, "tcp:127.0.0.1:1"]
        yield self.call("SetManagers", "as", targets)
        self.addCleanup(self.vsctl, "del-manager")
        self.assertEqual(sorted(self.vsctl("get-manager").split()), sorted(targets))
        yield self.until(lambda: sandbox.accepts(port), "ovsdb-server to listen on the manager's port")
        yield self.call("DeleteManagers")
        self.assertEqual(self.vsctl("get-manager").strip(), "")
        self.assertEqual(self.record_uuids("Manager"), [])
        yield self.until(lambda: not sandbox.accepts(port), "ovsdb-server to stop listening")

    @defer.inlineCallbacks
    def test_ssl(self):
        """SetSSL sets the SSL files and bootstrap as ``ovs-vsctl get-ssl`` shows them; DeleteSSL removes them."""
        files = [os.path.join(self.stack.directory, name) for name in ("key.pem", "cert.pem", "ca.pem")]
        yield self.call("SetSSL", "sssb", *files, True)
        self.addCleanup(self.vsctl, "del-ssl")
        shown = self.vsctl("get-ssl")
        for label, path in zip(("Private key", "Certificate", "CA Certificate"), files, strict=True):
            self.assertIn("%s: %s" % (label, path), shown)
        self.assertIn("Bootstrap: true", shown)
        yield self.call("DeleteSSL")
        self.assertEqual(self.vsctl("get-ssl").strip(), "")
        self.assertEqual(self.record_uuids("SSL"), [])

    # -- lookups -----------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_lookups_agree_with_vsctl(self):
        """PortToBridge, InterfaceToBridge and ListInterfaces answer as ovs-vsctl port-to-br,
        iface-to-br and list-ifaces (sorted, without the bridge's local interface); an unknown name
        is NotFound."""
        self.bridge("cflk0", "cflkz", "cflka")
        self.vsctl("add-bond", "cflk0", "cflkb", "cflkb2", "cflkb1")
        self.assertEqual((yield self.call("ListInterfaces", "s", "cflk0")),
                         self.vsctl("list-ifaces", "cflk0").split())
        self.assertEqual((yield self.call("ListInterfaces", "s", "cflk0")), ["cflka", "cflkb1", "cflkb2", "cflkz"])
        self.assertEqual((yield self.call("PortToBridge", "s", "cflkb")), "cflk0")
        self.assertEqual((yield self.call("PortToBridge", "s", "cflk0")), "cflk0")
        self.assertEqual((yield self.call("InterfaceToBridge", "s", "cflkb2")), "cflk0")
        for method, arg in (("PortToBridge", "cflkb1"), ("InterfaceToBridge", "cflkb"), ("ListInterfaces", "nobr"),
                            ("PortToBridge", "nosuch")):
            name, message = yield self.failure(method, "s", arg)
            self.assertEqual(name, NOT_FOUND, (method, arg, message))

    # -- wait=applied ------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_applied_port(self):
        """With wait=applied, AddTunnel and a Transact of AddPort + SetInterfaceOptions return once
        ovs-vswitchd has taken the change: cur_cfg has caught up with next_cfg and the interfaces have
        their OpenFlow ports at return, with no polling."""
        self.bridge("cfap0")
        next_cfg = self.value("Open_vSwitch", ".", "next_cfg")
        yield self.call("AddTunnel", "ssssa{sv}", "cfap0", "cfapvx", "vxlan", "192.0.2.30",
                        {"ofport_request": x(71), "wait": "applied", "apply_timeout": 5.0})
        state = self.values("Open_vSwitch", ".", "next_cfg", "cur_cfg")
        self.assertGreater(state["next_cfg"], next_cfg)
        self.assertEqual(state["cur_cfg"], state["next_cfg"])
        self.assertEqual(self.values("Interface", "cfapvx", "ofport", "error"), {"ofport": 71, "error": []})

        results = yield transact(self.client, [
            ("AddPort", {"bridge": "cfap0", "port": "cfapp"}),
            ("SetInterfaceOptions", {"interface": "cfapp", "options": options(type="dummy")}),
        ], {"wait": "applied"})
        self.assertEqual([r["changed"] for r in results], [True, True])
        state = self.values("Interface", "cfapp", "ofport", "error")
        self.assertGreater(state["ofport"], 0)
        self.assertEqual(state["error"], [])
        self.assertIn("cfapp", self.ofctl_ports("cfap0"))

    @defer.inlineCallbacks
    def test_apply_failed(self):
        """An interface of a type ovs-vswitchd cannot open, written with wait=applied, is ApplyFailed
        naming that interface and ovs-vswitchd's error, and the change stays committed; in a Transact,
        each failed interface is listed and a good one is not."""
        self.bridge("cfaf0", "cfafp")
        name, message = yield self.failure("SetInterfaceOptions", "sa{sv}", "cfafp",
                                           {"type": "no-such-type", "wait": "applied"})
        self.assertEqual(name, APPLY_FAILED, message)
        self.assertIn("cfafp", message)
        error = self.value("Interface", "cfafp", "error")
        self.assertTrue(error, "ovs-vswitchd wrote no error for cfafp")
        self.assertIn(error, message)
        self.assertEqual(self.values("Interface", "cfafp", "type", "ofport"), {"type": "no-such-type", "ofport": -1})

        name, message = yield call_failure(
            self.client, "Transact", "a(sa{sv})a{sv}",
            [("AddPort", {"bridge": "cfaf0", "port": "cfafgood"}),
             ("AddPort", {"bridge": "cfaf0", "port": "cfafbad1"}),
             ("SetInterfaceOptions", {"interface": "cfafbad1", "options": options(type="no-such-type")}),
             ("AddPort", {"bridge": "cfaf0", "port": "cfafbad2"}),
             ("SetInterfaceOptions", {"interface": "cfafbad2", "options": options(type="no-such-type")})],
            {"wait": "applied"}, interface=DATABASE_INTERFACE)
        self.assertEqual(name, APPLY_FAILED, message)
        self.assertIn("cfafbad1", message)
        self.assertIn("cfafbad2", message)
        self.assertNotIn("cfafgood", message)
        self.assertEqual(self.vsctl("list-ports", "cfaf0").split(), ["cfafbad1", "cfafbad2", "cfafgood", "cfafp"])
        self.assertGreater(self.value("Interface", "cfafgood", "ofport"), 0)

    @defer.inlineCallbacks
    def test_not_applied_without_vswitchd(self):
        """With ovs-vswitchd stopped, a wait=applied write is NotApplied within its apply_timeout (and
        a little slack), not a hang; the change stays committed and ovs-vswitchd applies it once it
        runs again."""
        self.bridge("cfna0", "cfnap")
        self.stack.vswitchd.stop()
        self.addCleanup(lambda: self.stack.vswitchd.running or self.stack.vswitchd.start())
        start = time.monotonic()
        name, message = yield self.failure("SetPortOptions", "sa{sv}", "cfnap",
                                           {"tag": x(7), "wait": "applied", "apply_timeout": 1.5})
        elapsed = time.monotonic() - start
        self.assertEqual(name, NOT_APPLIED, message)
        self.assertGreaterEqual(elapsed, 1.4)
        self.assertLess(elapsed, 1.5 + APPLY_SLACK)
        self.assertEqual(self.value("Port", "cfnap", "tag"), 7)

        start = time.monotonic()
        name, message = yield call_failure(
            self.client, "Transact", "a(sa{sv})a{sv}", [("SetPortVlan", {
                "port": "cfnap", "mode": "access", "tag": x(8), "trunks": ax([])})]
            , {"wait": "applied", "apply_timeout": 1.0}, interface=DATABASE_INTERFACE)
        self.assertEqual(name, NOT_APPLIED, message)
        self.assertLess(time.monotonic() - start, 1.0 + APPLY_SLACK)
        self.assertEqual(self.value("Port", "cfnap", "tag"), 8)

        self.stack.vswitchd.start()
        yield self.until(lambda: self.trace("cfna0", "cfnap")[0].get("cfna0") == 8,
                         "the restarted ovs-vswitchd to tag cfnap's packets with VLAN 8")

    # -- may_exist, changed ------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_changed_and_may_exist(self):
        """Transact's results say whether each command changed anything: setting a port's tag to
        what it is, or AddBond, AddTunnel, AddMirror with may_exist on an identical object, is
        changed=false and adds no row."""
        self.bridge("cfme0", "cfmep")
        bond = {"bridge": "cfme0", "port": "cfmeb", "interfaces": ["cfme1", "cfme2"],
                "options": options(bond_mode="balance-slb", lacp="off", interface_type="dummy")}
        tunnel = {"bridge": "cfme0", "port": "cfmet", "type": "vxlan", "remote_ip": "192.0.2.40",
                  "options": options(key="9")}
        mirror = {"bridge": "cfme0", "name": "cfmem", "options": options(select_all=True, output_port="cfmep")}
        results = yield transact(self.client, [("AddBond", bond), ("AddTunnel", tunnel), ("AddMirror", mirror),
                                               ("SetPortOptions", {"port": "cfmep", "options": options(tag=x(5))})])
        self.assertEqual([r["changed"] for r in results], [True, True, True, True])
        counts = {table: len(self.record_uuids(table)) for table in ("Port", "Interface", "Mirror")}
        results = yield transact(self.client, [
            ("AddBond", dict(bond, may_exist=True)), ("AddTunnel", dict(tunnel, may_exist=True)),
            ("AddMirror", dict(mirror, may_exist=True)),
            ("SetPortOptions", {"port": "cfmep", "options": options(tag=x(5))})])
        self.assertEqual([r["changed"] for r in results], [False, False, False, False])
        self.assertEqual({table: len(self.record_uuids(table)) for table in counts}, counts)
        # The methods take may_exist in their options.
        yield self.call("AddTunnel", "ssssa{sv}", "cfme0", "cfmet", "vxlan", "192.0.2.40",
                        {"key": "9", "may_exist": True})
        yield self.call("AddBond", "ssasa{sv}", "cfme0", "cfmeb", ["cfme1", "cfme2"],
                        {"bond_mode": "balance-slb", "lacp": "off", "interface_type": "dummy", "may_exist": True})
        self.addCleanup(self.vsctl, "--if-exists", "--", "clear", "Bridge", "cfme0", "mirrors")


# ==============================================================================================
# Refused calls change nothing (no ovs-vswitchd: nothing else writes).
# ==============================================================================================

    @defer.inlineCallbacks
    def test_every_verb_as_the_readme_shows_it(self):
        """Run each README busctl example of the configuration verbs in turn; after each, ovs-vsctl shows
        its effect (the lookups answer what ovs-vsctl's port-to-br, iface-to-br, list-ifaces do)."""
        for bridge in ("br0", "br-ext"):
            self.vsctl("--if-exists", "del-br", bridge)
            self.addCleanup(self.vsctl, "--if-exists", "del-br", bridge)
        self.vsctl("add-br", "br0", "--", "add-br", "br-ext", "--", "add-port", "br0", "p1", "--",
                   "add-port", "br0", "p2", "--", "add-port", "br0", "mon0")
        self.addCleanup(self.vsctl, "del-manager")
        self.addCleanup(self.vsctl, "del-ssl")
        get = self.value
        qos_rows = []
        checks = {
            "SetBridgeOptions": lambda: (get("Bridge", "br0", "datapath_type"), get("Bridge", "br0", "protocols"))
            == ("netdev", ["OpenFlow13", "OpenFlow14"]),
            "SetPortOptions": lambda: (get("Port", "p1", "tag"), get("Port", "p1", "other_config"))
            == (10, {"priority-tags": "true"}),
            # With wait applied: ovs-vswitchd has given p1 the OpenFlow port asked for.
            "SetInterfaceOptions": lambda: get("Interface", "p1", "ofport_request") == 7
            and get("Interface", "p1", "ofport") == 7,
            "SetPortVlan": lambda: (get("Port", "p1", "vlan_mode"), get("Port", "p1", "tag")) == ("access", 10)
            and (get("Port", "p2", "vlan_mode"), get("Port", "p2", "trunks")) in (([], []), ("trunk", [10, 20, 30])),
            "AddBond": lambda: self.vsctl("list-ifaces", "br0").split().count("eth1") == 1
            and (get("Port", "bond0", "bond_mode"), get("Port", "bond0", "lacp"), get("Port", "bond0", "other_config"))
            == ("balance-tcp", "active", {"lacp-time": "fast"}),
            "AddBondInterface": lambda: "eth3" in self.vsctl("list-ifaces", "br0").split(),
            "DeleteBondInterface": lambda: "eth3" not in self.vsctl("list-ifaces", "br0").split(),
            "AddTunnel": lambda: (get("Interface", "vx0", "type"), get("Interface", "vx0", "options"))
            == ("vxlan", {"remote_ip": "192.0.2.10", "key": "42", "dst_port": "4789"}),
            "AddPatch": lambda: (get("Interface", "patch-ext", "options"), get("Interface", "patch-int", "options"))
            == ({"peer": "patch-int"}, {"peer": "patch-ext"}) and self.vsctl("port-to-br", "patch-int").strip()
            == "br-ext",
            "SetQoS": lambda: qos_rows.append(get("Port", "p1", "qos")) is None
            and get("QoS", qos_rows[-1], "type") == "linux-htb"
            and sorted(get("QoS", qos_rows[-1], "queues")) == [0, 1],
            "ClearQoS": lambda: get("Port", "p1", "qos") == [] and qos_rows[-1] not in self.record_uuids("QoS"),
            "AddMirror": lambda: get("Mirror", "m0", "select_all") is True
            and get("Mirror", "m0", "output_port") == get("Port", "mon0", "_uuid"),
            "DeleteMirror": lambda: get("Bridge", "br0", "mirrors") == [],
            "SetControllers": lambda: self.vsctl("get-controller", "br0").split() == ["tcp:127.0.0.1:6653"]
            and get("Controller", "br0", "inactivity_probe") == 30000,
            "SetFailMode": lambda: self.vsctl("get-fail-mode", "br0").strip() == "secure",
            "DeleteControllers": lambda: self.vsctl("get-controller", "br0").strip() == "",
            "SetManagers": lambda: self.vsctl("get-manager").split() == ["ptcp:6640:127.0.0.1"],
            "DeleteManagers": lambda: self.vsctl("get-manager").strip() == "",
            "SetSSL": lambda: "Private key: /etc/openvswitch/key.pem" in self.vsctl("get-ssl")
            and "Bootstrap: false" in self.vsctl("get-ssl"),
            "DeleteSSL": lambda: self.vsctl("get-ssl").strip() == "",
        }
        answers = {"PortToBridge": lambda: 's "%s"' % self.vsctl("port-to-br", "p1").strip(),
                   "InterfaceToBridge": lambda: 's "%s"' % self.vsctl("iface-to-br", "eth1").strip(),
                   "ListInterfaces": lambda: "as %d %s" % (
                       len(self.vsctl("list-ifaces", "br0").split()),
                       " ".join('"%s"' % n for n in self.vsctl("list-ifaces", "br0").split()))}
        examples = readme_busctl_examples()
        self.assertEqual({m for m, _ in examples}, set(checks) | set(answers),
                         "the README shows a busctl example of every configuration verb")
        for method, args in examples:
            code, out, err = yield realstack.busctl_call(self.stack.bus_address, method, *args)
            self.assertEqual(code, 0, "%s %s: %s" % (method, " ".join(args), err))
            if method in answers:
                self.assertEqual(out.strip(), answers[method](), method)
            else:
                self.assertTrue(checks[method](), "%s %s: ovs-vsctl does not show it" % (method, " ".join(args)))


class UnchangedOnErrorTests(_Common, TestCase):
    """Bad inputs, a failing last command, may_exist with different settings: a named error and an
    identical database dump."""

    @classmethod
    def tearDownClass(cls):
        realstack.stop_shared_stack(cls)

    @defer.inlineCallbacks
    def setUp(self):
        self.stack = realstack.shared_stack(type(self))
        self.client = yield realstack.connect(self, self.stack.bus_address)

    @defer.inlineCallbacks
    def assert_refused(self, cases):
        """Each ``(expected error, method, signature, args)`` fails with that error and leaves the
        dump as it was; all mismatches reported at once."""
        before = self.stack.dump()
        wrong = []
        for expected, method, signature, args in cases:
            try:
                yield call(self.client, method, signature, *args)
            except RemoteError as e:
                if e.errName != expected:
                    wrong.append("%s%r: %s (%s), expected %s" % (method, args, e.errName, e.message, expected))
            else:
                wrong.append("%s%r succeeded, expected %s" % (method, args, expected))
            if self.stack.dump() != before:
                wrong.append("%s%r changed the database" % (method, args))
                before = self.stack.dump()
        self.assertEqual(wrong, [])

    @defer.inlineCallbacks
    def test_bad_options(self):
        """An unknown option key or a wrongly typed or out-of-range option value is InvalidArgs, for
        every verb that takes options, and changes nothing."""
        self.bridge("ueo0", "ueop")
        self.vsctl("add-bond", "ueo0", "ueob", "ueob1", "ueob2")
        sig = "sa{sv}"
        bond_args = ("ueo0", "ueonew", ["uen1", "uen2"])
        tunnel_args = ("ueo0", "ueotun", "vxlan", "192.0.2.1")
        yield self.assert_refused([
            (INVALID_ARGS, "SetBridgeOptions", sig, ["ueo0", {"no_such_option": "x"}]),
            (INVALID_ARGS, "SetBridgeOptions", sig, ["ueo0", {"stp_enable": "yes"}]),
            (INVALID_ARGS, "SetBridgeOptions", sig, ["ueo0", {"other_config": ["a=b"]}]),
            (INVALID_ARGS, "SetBridgeOptions", sig, ["ueo0", {"fail_mode": "open"}]),
            (INVALID_ARGS, "SetBridgeOptions", sig, ["ueo0", {"protocols": ["OpenFlow99"]}]),
            (INVALID_ARGS, "SetBridgeOptions", sig, ["ueo0", {"wait": "later"}]),
            (INVALID_ARGS, "SetBridgeOptions", sig, ["ueo0", {"apply_timeout": "ten"}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueop", {"tag": x(4096)}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueop", {"tag": x(-2)}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueop", {"tag": "10"}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueop", {"trunks": ax([10, 5000])}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueop", {"trunks": ax([10, 10])}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueop", {"vlan_mode": "bogus"}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueob", {"bond_mode": "fastest"}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueob", {"lacp": "maybe"}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueob", {"bond_updelay": "100"}]),
            (INVALID_ARGS, "SetPortOptions", sig, ["ueop", {"vlan": x(10)}]),
            (INVALID_ARGS, "SetInterfaceOptions", sig, ["ueop", {"tpye": "dummy"}]),
            (INVALID_ARGS, "SetInterfaceOptions", sig, ["ueop", {"mtu_request": "9000"}]),
            (INVALID_ARGS, "SetInterfaceOptions", sig, ["ueop", {"ofport_request": x(0)}]),
            (INVALID_ARGS, "SetInterfaceOptions", sig, ["ueop", {"options": ["remote_ip"]}]),
            (INVALID_ARGS, "AddBond", "ssasa{sv}", [*bond_args, {"bond_mode": True}]),
            (INVALID_ARGS, "AddBond", "ssasa{sv}", [*bond_args, {"lacp_mode": "active"}]),
            (INVALID_ARGS, "AddBond", "ssasa{sv}", [*bond_args, {"interface_type": x(1)}]),
            (INVALID_ARGS, "AddTunnel", "ssssa{sv}", [*tunnel_args, {"no_such_option": "1"}]),
            (INVALID_ARGS, "AddTunnel", "ssssa{sv}", [*tunnel_args, {"key": ["1"]}]),
            (INVALID_ARGS, "AddTunnel", "ssssa{sv}", [*tunnel_args, {"ofport_request": "5"}]),
            (INVALID_ARGS, "AddMirror", "ssa{sv}", ["ueo0", "ueom", {"select_all": "yes"}]),
            (INVALID_ARGS, "AddMirror", "ssa{sv}", ["ueo0", "ueom", {"output_port": x(5)}]),
            (INVALID_ARGS, "AddMirror", "ssa{sv}", ["ueo0", "ueom", {"select_vlan": ax([4096])}]),
            (INVALID_ARGS, "AddMirror", "ssa{sv}", ["ueo0", "ueom", {"mirror_all": True}]),
            (INVALID_ARGS, "SetControllers", "sasa{sv}", ["ueo0", ["tcp:127.0.0.1:6653"], {"inactivity_probe": "5"}]),
            (INVALID_ARGS, "SetControllers", "sasa{sv}", ["ueo0", ["tcp:127.0.0.1:6653"], {"probe": x(5)}]),
            (INVALID_ARGS, "SetControllers", "sasa{sv}", ["ueo0", ["tcp:127.0.0.1:6653"],
                                                         {"connection_mode": "sideways"}]),
            (INVALID_ARGS, "SetFailMode", "ss", ["ueo0", "open"]),
        ])

    @defer.inlineCallbacks
    def test_bad_vlan_settings(self):
        """SetPortVlan refuses, with InvalidArgs and no change, an unknown mode, access without a tag
        or with trunks, trunk with a tag, native modes and dot1q-tunnel without a tag, and tags or
        trunks outside 0-4095."""
        self.bridge("uevl0", "uevlp")
        self.vsctl("set", "Port", "uevlp", "tag=5")
        sig = "ssxax"
        yield self.assert_refused([
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "bogus", 10, []]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "access", -1, []]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "access", 10, [20]]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "trunk", 10, [20]]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "native-tagged", -1, [10]]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "native-untagged", -1, [10]]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "dot1q-tunnel", -1, []]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "access", 4096, []]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "access", -2, []]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "trunk", -1, [10, 4096]]),
            (INVALID_ARGS, "SetPortVlan", sig, ["uevlp", "trunk", -1, [10, 10]]),
            (NOT_FOUND, "SetPortVlan", sig, ["uevlnone", "access", 10, []]),
        ])
        self.assertEqual(self.value("Port", "uevlp", "tag"), 5)

    @defer.inlineCallbacks
    def test_bond_needs_two_interfaces(self):
        """AddBond with fewer than two interfaces is InvalidArgs; DeleteBondInterface that would leave
        a bond one interface is ConstraintViolation; neither changes anything."""
        self.bridge("uebn0")
        self.vsctl("add-bond", "uebn0", "uebnb", "uebn1", "uebn2")
        yield self.assert_refused([
            (INVALID_ARGS, "AddBond", "ssasa{sv}", ["uebn0", "uebnc", ["uebn3"], {}]),
            (INVALID_ARGS, "AddBond", "ssasa{sv}", ["uebn0", "uebnc", [], {}]),
            (CONSTRAINT_VIOLATION, "DeleteBondInterface", "ss", ["uebnb", "uebn1"]),
            (NOT_FOUND, "DeleteBondInterface", "ss", ["uebnb", "uebn9"]),
            (ALREADY_EXISTS, "AddBondInterface", "ss", ["uebnb", "uebn2"]),
        ])

    @defer.inlineCallbacks
    def test_transact_rolls_back_as_a_whole(self):
        """A Transact mixing many verbs (bridge, options, bond, tunnel, VLAN, mirror, QoS, patch)
        whose last command fails changes nothing at all; without that command the same batch
        applies every part."""
        self.bridge("uerb1")
        batch = [
            ("CreateBridge", {"name": "uerb0"}),
            ("SetBridgeOptions", {"bridge": "uerb0", "options": options(datapath_type="netdev",
                                                                        external_ids=a_ss({"role": "uplink"}))}),
            ("AddBond", {"bridge": "uerb0", "port": "uerbond", "interfaces": ["uerb_a", "uerb_b"],
                         "options": options(lacp="active", bond_mode="balance-tcp", interface_type="dummy")}),
            ("AddTunnel", {"bridge": "uerb0", "port": "uerbvx", "type": "vxlan", "remote_ip": "192.0.2.50",
                           "options": options(key="50")}),
            ("AddPort", {"bridge": "uerb0", "port": "uerbacc"}),
            ("SetPortVlan", {"port": "uerbacc", "mode": "access", "tag": x(10), "trunks": ax([])}),
            ("AddMirror", {"bridge": "uerb0", "name": "uerbmir", "options": options(select_all=True,
                                                                                   output_port="uerbacc")}),
            ("SetQoS", {"port": "uerbacc", "type": "linux-htb", "other_config": a_ss({"max-rate": "1000"}),
                        "queues": typed("a{ua{ss}}", {})}),
            ("AddPatch", {"bridge_a": "uerb0", "port_a": "uerbpa", "bridge_b": "uerb1", "port_b": "uerbpb"}),
        ]
        before = self.stack.dump()
        for last, expected in ((("SetPortVlan", {"port": "uerbnone", "mode": "access", "tag": x(10),
                                                 "trunks": ax([])}), NOT_FOUND),
                               (("AddBond", {"bridge": "uerb0", "port": "uerbond2", "interfaces": ["uerb_c"],
                                             "options": options()}), INVALID_ARGS),
                               (("SetPortOptions", {"port": "uerbacc", "options": options(tag=x(5000))}),
                                INVALID_ARGS),
                               (("AddBondInterface", {"port": "uerbond", "interface": "uerb_a"}), ALREADY_EXISTS)):
            name, message = yield call_failure(self.client, "Transact", "a(sa{sv})a{sv}", batch + [last], {},
                                               interface=DATABASE_INTERFACE)
            self.assertEqual(name, expected, (last, message))
            self.assertIn("command %d" % (len(batch) + 1), message)
            self.assertEqual(self.stack.dump(), before, last)

        self.addCleanup(self.delete_bridge_then, "uerb0", "--all", "destroy", "QoS")
        results = yield transact(self.client, batch)
        self.assertEqual(len(results), len(batch))
        self.assertTrue(all(r["changed"] for r in results), results)
        self.assertEqual(self.vsctl("list-ports", "uerb0").split(), ["uerbacc", "uerbond", "uerbpa", "uerbvx"])
        self.assertEqual(self.value("Port", "uerbacc", "tag"), 10)
        self.assertEqual(self.value("Interface", "uerbpb", "options"), {"peer": "uerbpa"})
        self.assertEqual(self.value("Mirror", "uerbmir", "select_all"), True)
        self.assertEqual(self.value("Bridge", "uerb0", "datapath_type"), "netdev")

    @defer.inlineCallbacks
    def test_may_exist_with_other_settings(self):
        """may_exist on an existing bond, tunnel or mirror whose settings differ from those asked for
        is AlreadyExists naming what differs, and changes nothing; so is AddPort may_exist of a port
        on another bridge; without may_exist, adding an existing one is AlreadyExists.  CreateBridge
        and AddPort with may_exist on what exists as asked, and DeleteMirror and DeleteBondInterface
        with if_exists on what does not exist, succeed with changed=false and change nothing."""
        self.bridge("uemx0", "uemxp", "uemxq")
        self.bridge("uemx1")
        self.vsctl("add-bond", "uemx0", "uemxb", "uemx1a", "uemx1b", "bond_mode=balance-slb",
                   "--", "add-port", "uemx0", "uemxt", "--", "set", "Interface", "uemxt", "type=vxlan",
                   "options:remote_ip=192.0.2.60", "options:key=6",
                   "--", "--id=@p", "get", "Port", "uemxp",
                   "--", "--id=@m", "create", "Mirror", "name=uemxm", "select_all=true", "output_port=@p",
                   "--", "add", "Bridge", "uemx0", "mirrors", "@m")
        cases = [
            ("AddBond", ["uemx0", "uemxb", ["uemx1a", "uemx1b"], {"bond_mode": "active-backup", "may_exist": True}],
             "bond_mode"),
            ("AddBond", ["uemx0", "uemxb", ["uemx1a", "uemx1c"], {"bond_mode": "balance-slb", "may_exist": True}],
             "uemx1c"),
            ("AddTunnel", ["uemx0", "uemxt", "vxlan", "192.0.2.61", {"key": "6", "may_exist": True}], "remote_ip"),
            ("AddTunnel", ["uemx0", "uemxt", "geneve", "192.0.2.60", {"key": "6", "may_exist": True}], "type"),
            ("AddMirror", ["uemx0", "uemxm", {"select_all": True, "output_port": "uemxq", "may_exist": True}],
             "output_port"),
        ]
        signatures = {"AddBond": "ssasa{sv}", "AddTunnel": "ssssa{sv}", "AddMirror": "ssa{sv}"}
        before = self.stack.dump()
        for method, args, differing in cases:
            name, message = yield self.failure(method, signatures[method], *args)
            self.assertEqual(name, ALREADY_EXISTS, (method, args, message))
            self.assertIn(differing, message, (method, args))
        for method, args, _ in cases[:1] + cases[2:3] + cases[4:]:
            options_without = {k: v for k, v in args[-1].items() if k != "may_exist"}
            name, message = yield self.failure(method, signatures[method], *args[:-1], options_without)
            self.assertEqual(name, ALREADY_EXISTS, (method, args, message))
        name, message = yield call_failure(self.client, "Transact", "a(sa{sv})a{sv}",
                                           [("AddPort", {"bridge": "uemx1", "port": "uemxq", "may_exist": True})],
                                           {}, interface=DATABASE_INTERFACE)
        self.assertEqual(name, ALREADY_EXISTS, message)
        self.assertEqual(self.stack.dump(), before)

        results = yield transact(self.client, [("CreateBridge", {"name": "uemx0", "may_exist": True}),
                                               ("AddPort", {"bridge": "uemx0", "port": "uemxq", "may_exist": True}),
                                               ("DeleteMirror", {"bridge": "uemx0", "name": "uemxnone",
                                                                 "if_exists": True}),
                                               ("DeleteBondInterface", {"port": "uemxb", "interface": "uemxnone",
                                                                        "if_exists": True})])
        self.assertEqual([r["changed"] for r in results], [False, False, False, False])
        self.assertEqual(self.stack.dump(), before)


# ==============================================================================================
# Who may open the switch to remote control.
# ==============================================================================================

class RemoteControlAccessTests(TestCase):
    """The service on a bus configured like the system bus, with our policy file, polkit off,
    ``--allow-group users`` and ``--allow-remote-group staff``; callers run as nobody (``setpriv``).

    A member of ``users`` only may change the switch but not set controllers, managers or SSL;
    a member of ``staff`` may do both.
    """

    service_args = ("--polkit", "no", "--allow-group", "users", "--allow-remote-group", "staff")
    stack = None

    @classmethod
    def start_stack(cls):
        from tests.test_access import POLICY_FILE, SYSTEM_LIKE_CONFIG, require_root_and_programs
        require_root_and_programs()
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        os.chmod(directory, 0o755)   # nobody must reach the bus socket
        config = Path(directory, "system.conf")
        config.write_text(SYSTEM_LIKE_CONFIG.format(socket=Path(directory, "bus.sock"), policy=POLICY_FILE))
        started = []
        try:
            started.append(sandbox.OvsdbServer(directory).start())
            started.append(sandbox.DbusDaemon(directory, config_file=config).start())
            started.append(sandbox.ServiceProcess(started[0].remote, started[1].address, cls.service_args,
                                                  directory=directory))
            started[-1].start()
        except BaseException:
            for component in reversed(started):
                component.stop()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        cls.stack = (directory, *started)
        atexit.register(cls.tearDownClass)   # trial has no tearDownClass

    @classmethod
    def tearDownClass(cls):
        if cls.stack is not None:
            directory, ovsdb, bus, service = cls.stack
            cls.stack = None
            service.stop(remove=False)
            bus.stop()
            ovsdb.stop()
            shutil.rmtree(directory, ignore_errors=True)

    def setUp(self):
        if type(self).stack is None:
            type(self).start_stack()
        self.directory, self.ovsdb, self.bus, self.service = type(self).stack

    def busctl(self, group, method, signature="", *args):
        """busctl call as nobody with ``group`` as its only supplementary group: (status, output)."""
        gid = subprocess.run(["getent", "group", group], capture_output=True, text=True,
                             check=True).stdout.split(":")[2]
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=" + gid,
                "busctl", "--address=" + self.bus.address, "call", realstack.BUS_NAME, realstack.OBJECT_PATH,
                DATABASE_INTERFACE if method == "Transact" else realstack.INTERFACE, method]
        if signature:
            argv += [signature, *[str(a) for a in args]]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return done.returncode, (done.stdout + done.stderr).strip()

    def dump(self):
        return subprocess.run(["ovsdb-client", "dump", self.ovsdb.remote, "Open_vSwitch"],
                              capture_output=True, text=True, check=True).stdout

    def test_modify_right_is_not_enough_for_remote_control(self):
        """A caller with only the right to change the switch (--allow-group) can add a port and set
        a port's options, but SetControllers, DeleteControllers, SetManagers, DeleteManagers, SetSSL,
        DeleteSSL, and a Transact holding SetManagers, are AccessDenied and change nothing."""
        self.ovsdb.vsctl("--may-exist", "add-br", "rcbr0", "--", "set-controller", "rcbr0", "tcp:127.0.0.1:6653",
                         "--", "set-manager", "tcp:127.0.0.1:6640", "--", "set-ssl", "k.pem", "c.pem", "ca.pem")
        self.addCleanup(self.ovsdb.vsctl, "--if-exists", "del-br", "rcbr0", "--", "del-manager", "--", "del-ssl")
        code, out = self.busctl("users", "AddPort", "ss", "rcbr0", "rcp0")
        self.assertEqual(code, 0, out)
        code, out = self.busctl("users", "SetPortOptions", "sa{sv}", "rcp0", 1, "tag", "x", 10)
        self.assertEqual(code, 0, out)
        self.assertEqual(self.ovsdb.vsctl("get", "Port", "rcp0", "tag").strip(), "10")
        before = self.dump()
        refused = []
        for method, signature, args in (
                ("SetControllers", "sasa{sv}", ["rcbr0", 1, "tcp:127.0.0.1:1", 0]),
                ("DeleteControllers", "s", ["rcbr0"]),
                ("SetManagers", "as", [1, "ptcp:6641:127.0.0.1"]),
                ("DeleteManagers", "", []),
                ("SetSSL", "sssb", ["x.pem", "y.pem", "z.pem", "false"]),
                ("DeleteSSL", "", [])):
            code, out = self.busctl("users", method, signature, *args)
            if code == 0 or "Access denied" not in out:
                refused.append((method, code, out))
        code, out = self.busctl("users", "Transact", "a(sa{sv})a{sv}", 2,
                                "AddPort", 2, "bridge", "s", "rcbr0", "port", "s", "rcp1",
                                "SetManagers", 1, "targets", "as", 1, "ptcp:6642:127.0.0.1", 0)
        if code == 0 or "Access denied" not in out:
            refused.append(("Transact", code, out))
        self.assertEqual(refused, [])
        self.assertEqual(self.dump(), before)

    def test_remote_group_may_set_remote_control(self):
        """A member of the --allow-remote-group group may set and delete managers and controllers,
        and change the switch too."""
        self.ovsdb.vsctl("--may-exist", "add-br", "rcbr1")
        self.addCleanup(self.ovsdb.vsctl, "--if-exists", "del-br", "rcbr1", "--", "del-manager")
        code, out = self.busctl("staff", "SetManagers", "as", 1, "tcp:127.0.0.1:6640")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.ovsdb.vsctl("get-manager").split(), ["tcp:127.0.0.1:6640"])
        code, out = self.busctl("staff", "SetControllers", "sasa{sv}", "rcbr1", 1, "tcp:127.0.0.1:6653", 0)
        self.assertEqual(code, 0, out)
        self.assertEqual(self.ovsdb.vsctl("get-controller", "rcbr1").split(), ["tcp:127.0.0.1:6653"])
        code, out = self.busctl("staff", "AddPort", "ss", "rcbr1", "rcp2")
        self.assertEqual(code, 0, out)
        code, out = self.busctl("staff", "DeleteManagers")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.ovsdb.vsctl("get-manager").strip(), "")
