"""Tests for ovsdbus.vswitch.config (the configuration verbs) and ovsdbus.vswitch.applied (waiting for
ovs-vswitchd), through the batch facade, against the fake OVSDB and a real ovsdb-server.  The effect
on a real ovs-vswitchd is tested end to end in tests/test_config_verbs.py."""


from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.errors import AlreadyExists, ConstraintViolation, InvalidArgs, NotFound, ResourcesExhausted
from ovsdbus.vswitch.batch import MAX_WAITING
from ovsdbus.vswitch.errors import ApplyFailed, NotApplied
from tests.realstack import poll_until
from tests.vswitch import test_batch


class _ConfigBase:
    """The verbs on a database holding bridge br0 with port p1 (set up as test_batch's tests are,
    without running those tests again)."""

    setUp = test_batch._Base.setUp
    connect = test_batch._Base.connect

    def do(self, verb, txn_options=None, **args):
        d = self.database.transact([(verb, args)], txn_options)
        d.addCallback(lambda results: results[0])
        return d

    def row(self, table, record, *columns):
        return self.database.get(table, record, list(columns))

    def names(self, table):
        return sorted(r["name"] for r in self.database.list(table, ["name"]))

    @defer.inlineCallbacks
    def test_bridge_options_are_typed_and_maps_merge(self):
        """SetBridgeOptions writes each setting to its column, merges other_config key by key, deletes a key
        given '' and reports whether anything changed."""
        yield self.database.set("Bridge", "br0", {}, {"other_config": {"keep": "1", "drop": "2"}})
        result = yield self.do("SetBridgeOptions", bridge="br0", options={
            "fail_mode": "secure", "protocols": ["OpenFlow13", "OpenFlow14"], "stp_enable": True,
            "datapath_type": "netdev", "other_config": {"drop": "", "new": "3"}})
        self.assertTrue(result["changed"])
        row = self.row("Bridge", "br0", "fail_mode", "protocols", "stp_enable", "datapath_type", "other_config")
        self.assertEqual(row["fail_mode"], "secure")
        self.assertEqual(row["protocols"], frozenset(["OpenFlow13", "OpenFlow14"]))
        self.assertIs(row["stp_enable"], True)
        self.assertEqual(row["datapath_type"], "netdev")
        self.assertEqual(row["other_config"], {"keep": "1", "new": "3"})
        again = yield self.do("SetBridgeOptions", bridge="br0", options={"fail_mode": "secure"})
        self.assertFalse(again["changed"])
        yield self.do("SetBridgeOptions", bridge="br0", options={"fail_mode": ""})
        self.assertIsNone(self.row("Bridge", "br0", "fail_mode")["fail_mode"])

    @defer.inlineCallbacks
    def test_bad_options_change_nothing(self):
        """An unknown option, a value out of the column's range or of the wrong type, or a port that does
        not exist is refused with a named error and the database is unchanged."""
        before = self.snapshot()
        bad = [("SetPortOptions", {"port": "p1", "options": {"colour": "red"}}, InvalidArgs),
               ("SetPortOptions", {"port": "p1", "options": {"tag": 5000}}, InvalidArgs),
               ("SetPortOptions", {"port": "p1", "options": {"vlan_mode": "sideways"}}, InvalidArgs),
               ("SetPortOptions", {"port": "p1", "options": {"trunks": "10"}}, InvalidArgs),
               ("SetPortOptions", {"port": "nope", "options": {"tag": 1}}, NotFound),
               ("SetInterfaceOptions", {"interface": "p1", "options": {"ofport_request": 70000}}, InvalidArgs),
               ("SetBridgeOptions", {"bridge": "br0", "options": {"protocols": ["OpenFlow99"]}}, InvalidArgs),
               ("SetBridgeOptions", {"bridge": "br0", "options": {"wait": "forever"}}, InvalidArgs)]
        for verb, args, error in bad:
            options = args["options"]
            wait = {"wait": options["wait"]} if "wait" in options else None
            e = yield self.assertFailure(self.database.transact([(verb, args)], wait), error)
            self.assertTrue(str(e), verb)
        self.assertEqual(self.snapshot(), before)

    @defer.inlineCallbacks
    def test_port_vlan_modes(self):
        """SetPortVlan sets mode, tag and trunks together; -1 and '' unset; combinations that mean
        nothing are InvalidArgs."""
        yield self.do("SetPortVlan", port="p1", mode="access", tag=10, trunks=[])
        row = self.row("Port", "p1", "vlan_mode", "tag", "trunks")
        self.assertEqual((row["vlan_mode"], row["tag"], row["trunks"]), ("access", 10, frozenset()))
        yield self.do("SetPortVlan", port="p1", mode="trunk", tag=-1, trunks=[20, 30])
        row = self.row("Port", "p1", "vlan_mode", "tag", "trunks")
        self.assertEqual((row["vlan_mode"], row["tag"], row["trunks"]), ("trunk", None, frozenset([20, 30])))
        yield self.do("SetPortVlan", port="p1", mode="native-untagged", tag=5, trunks=[6])
        yield self.do("SetPortVlan", port="p1", mode="", tag=-1, trunks=[])
        row = self.row("Port", "p1", "vlan_mode", "tag", "trunks")
        self.assertEqual((row["vlan_mode"], row["tag"], row["trunks"]), (None, None, frozenset()))
        for mode, tag, trunks in [("access", -1, []), ("access", 10, [20]), ("trunk", 10, []),
                                  ("native-tagged", -1, [1]), ("dot1q-tunnel", -1, []), ("dot1q-tunnel", 5, [1]),
                                  ("up", 1, []), ("access", 4096, []), ("trunk", -1, [5000])]:
            yield self.assertFailure(self.do("SetPortVlan", port="p1", mode=mode, tag=tag, trunks=trunks),
                                     InvalidArgs)

    @defer.inlineCallbacks
    def test_bond_lifecycle(self):
        """AddBond makes a port with an interface per name and its settings; may_exist accepts the same bond
        and names what differs otherwise; a bond keeps two interfaces at least."""
        options = {"bond_mode": "balance-tcp", "lacp": "active", "other_config": {"lacp-time": "fast"},
                   "interface_type": "dummy"}
        result = yield self.do("AddBond", bridge="br0", port="bond0", interfaces=["e1", "e2"], options=options)
        self.assertTrue(result["changed"])
        row = self.row("Port", "bond0", "bond_mode", "lacp", "other_config", "interfaces")
        self.assertEqual((row["bond_mode"], row["lacp"], row["other_config"]), ("balance-tcp", "active",
                                                                                 {"lacp-time": "fast"}))
        self.assertEqual(self.row("Interface", "e1", "type")["type"], "dummy")
        self.assertIn("bond0", self.names("Port"))
        same = yield self.do("AddBond", bridge="br0", port="bond0", interfaces=["e2", "e1"],
                              options=dict(options, may_exist=True))
        self.assertFalse(same["changed"])
        e = yield self.assertFailure(self.do("AddBond", bridge="br0", port="bond0", interfaces=["e1", "e3"],
                                              options={"bond_mode": "active-backup", "may_exist": True,
                                                       "interface_type": "dummy"}), AlreadyExists)
        self.assertIn("interfaces", str(e))
        self.assertIn("bond_mode", str(e))
        yield self.assertFailure(self.do("AddBond", bridge="br0", port="bond1", interfaces=["e9"]), InvalidArgs)
        yield self.do("AddBondInterface", port="bond0", interface="e3")
        yield self.do("DeleteBondInterface", port="bond0", interface="e1")
        self.assertNotIn("e1", self.names("Interface"))
        e = yield self.assertFailure(self.do("DeleteBondInterface", port="bond0", interface="e2"),
                                     ConstraintViolation)
        self.assertIn("at least two", str(e))
        gone = yield self.database.transact([("DeleteBondInterface", {"port": "bond0", "interface": "e1",
                                                                     "if_exists": True})])
        self.assertFalse(gone[0]["changed"])

    @defer.inlineCallbacks
    def test_tunnel_and_patch(self):
        """AddTunnel writes its type and options (numbers and booleans as OVS spells them); AddPatch
        makes both ends, each the other's peer; may_exist compares the settings."""
        yield self.database.transact([("CreateBridge", {"name": "br1"})])
        yield self.do("AddTunnel", bridge="br0", port="vx0", type="vxlan", remote_ip="192.0.2.7",
                       options={"key": 42, "dst_port": 4790, "csum": True, "options": {"tos": ""}})
        iface = self.row("Interface", "vx0", "type", "options")
        self.assertEqual(iface["type"], "vxlan")
        self.assertEqual(iface["options"], {"remote_ip": "192.0.2.7", "key": "42", "dst_port": "4790",
                                            "csum": "true"})
        same = yield self.do("AddTunnel", bridge="br0", port="vx0", type="vxlan", remote_ip="192.0.2.7",
                              options={"key": "42", "may_exist": True})
        self.assertFalse(same["changed"])
        e = yield self.assertFailure(self.do("AddTunnel", bridge="br0", port="vx0", type="geneve",
                                              remote_ip="192.0.2.8", options={"may_exist": True}), AlreadyExists)
        self.assertIn("type", str(e))
        self.assertIn("remote_ip", str(e))
        for bad in [dict(type="vxlan", remote_ip="not-an-ip"), dict(type="bogus", remote_ip="192.0.2.1"),
                    dict(type="gre", remote_ip="192.0.2.1", options={"dst_port": 0})]:
            yield self.assertFailure(self.do("AddTunnel", bridge="br0", port="t9", **bad), InvalidArgs)
        yield self.do("AddPatch", bridge_a="br0", port_a="pa", bridge_b="br1", port_b="pb")
        self.assertEqual(self.row("Interface", "pa", "type", "options")["options"], {"peer": "pb"})
        self.assertEqual(self.row("Interface", "pb", "type", "options")["options"], {"peer": "pa"})
        result = yield self.database.transact([("AddPatch", {"bridge_a": "br0", "port_a": "pa", "bridge_b": "br1",
                                                             "port_b": "pb", "may_exist": True})])
        self.assertFalse(result[0]["changed"])
        bridge = yield self.do("PortToBridge", port="pb")
        self.assertEqual(bridge["value"], "br1")
        bridge = yield self.do("InterfaceToBridge", interface="vx0")
        self.assertEqual(bridge["value"], "br0")
        listed = yield self.do("ListInterfaces", bridge="br0")
        self.assertEqual(listed["value"], ["p1", "pa", "vx0"])

    @defer.inlineCallbacks
    def test_qos_replaced_and_cleared_without_leftovers(self):
        """SetQoS makes QoS and Queue rows; setting it again changes them in place; ClearQoS deletes the
        rows nothing else uses (ovs-vsctl leaves them behind)."""
        yield self.do("SetQoS", port="p1", type="linux-htb", other_config={"max-rate": "1000000"},
                       queues={0: {"min-rate": "1000"}, 1: {"max-rate": "5000"}})
        qos = self.database.list("QoS")
        self.assertEqual(len(qos), 1)
        self.assertEqual(sorted(qos[0]["queues"]), [0, 1])
        self.assertEqual(len(self.database.list("Queue")), 2)
        again = yield self.do("SetQoS", port="p1", type="linux-htb", other_config={"max-rate": "1000000"},
                               queues={0: {"min-rate": "1000"}, 1: {"max-rate": "5000"}})
        self.assertFalse(again["changed"])
        yield self.do("SetQoS", port="p1", type="linux-htb", other_config={"max-rate": "2000000"},
                       queues={0: {"min-rate": "2000"}})
        self.assertEqual([q["_uuid"] for q in self.database.list("QoS")], [qos[0]["_uuid"]])
        self.assertEqual(len(self.database.list("Queue")), 1)
        yield self.do("ClearQoS", port="p1")
        self.assertEqual(self.database.list("QoS"), [])
        self.assertEqual(self.database.list("Queue"), [])
        cleared = yield self.do("ClearQoS", port="p1")
        self.assertFalse(cleared["changed"])

    @defer.inlineCallbacks
    def test_mirror(self):
        """AddMirror names ports of the bridge; one output is required; DeleteMirror removes it."""
        yield self.database.transact([("AddPort", {"bridge": "br0", "port": "mon"})])
        yield self.do("AddMirror", bridge="br0", name="m0", options={"select_all": True, "output_port": "mon"})
        mirror = self.database.list("Mirror")[0]
        self.assertEqual(mirror["name"], "m0")
        self.assertIs(mirror["select_all"], True)
        self.assertEqual(mirror["output_port"], self.row("Port", "mon")["_uuid"])
        yield self.assertFailure(self.do("AddMirror", bridge="br0", name="m0",
                                          options={"select_all": True, "output_port": "mon"}), AlreadyExists)
        yield self.assertFailure(self.do("AddMirror", bridge="br0", name="m1", options={"select_all": True}),
                                 InvalidArgs)
        yield self.assertFailure(self.do("AddMirror", bridge="br0", name="m1",
                                          options={"select_src_port": ["nope"], "output_vlan": 5}), NotFound)
        yield self.do("DeleteMirror", bridge="br0", name="m0")
        self.assertEqual(self.database.list("Mirror"), [])

    @defer.inlineCallbacks
    def test_controllers_managers_ssl(self):
        """SetControllers keeps the rows of targets it keeps and drops the others; managers and SSL likewise."""
        yield self.do("SetControllers", bridge="br0", targets=["tcp:127.0.0.1:6653", "punix:/x/br0.ctl"],
                       options={"inactivity_probe": 5000, "connection_mode": "out-of-band"})
        first = {c["target"]: c["_uuid"] for c in self.database.list("Controller")}
        self.assertEqual(len(first), 2)
        yield self.do("SetControllers", bridge="br0", targets=["tcp:127.0.0.1:6653"])
        now = {c["target"]: c["_uuid"] for c in self.database.list("Controller")}
        self.assertEqual(now, {"tcp:127.0.0.1:6653": first["tcp:127.0.0.1:6653"]})
        yield self.assertFailure(self.do("SetControllers", bridge="br0", targets=["http://x"]), InvalidArgs)
        yield self.do("SetFailMode", bridge="br0", mode="secure")
        yield self.do("DeleteControllers", bridge="br0")
        self.assertEqual(self.database.list("Controller"), [])
        yield self.do("SetManagers", targets=["ptcp:6640:127.0.0.1"])
        self.assertEqual([m["target"] for m in self.database.list("Manager")], ["ptcp:6640:127.0.0.1"])
        yield self.do("DeleteManagers")
        self.assertEqual(self.database.list("Manager"), [])
        yield self.do("SetSSL", private_key="/k", certificate="/c", ca_cert="/ca", bootstrap=True)
        self.assertEqual(self.database.list("SSL", ["private_key", "bootstrap_ca_cert"])[0]["bootstrap_ca_cert"],
                         True)
        yield self.do("DeleteSSL")
        self.assertEqual(self.database.list("SSL"), [])

    @defer.inlineCallbacks
    def test_mixed_batch_rolls_back_when_last_fails(self):
        """Several configuration verbs in one batch: when the last fails, none of them is applied."""
        before = self.snapshot()
        commands = [("AddBond", {"bridge": "br0", "port": "b0", "interfaces": ["x1", "x2"]}),
                    ("SetPortVlan", {"port": "p1", "mode": "access", "tag": 3, "trunks": []}),
                    ("AddTunnel", {"bridge": "br0", "port": "t0", "type": "vxlan", "remote_ip": "192.0.2.1"}),
                    ("AddMirror", {"bridge": "br0", "name": "m", "options": {"output_port": "nope"}})]
        e = yield self.assertFailure(self.database.transact(commands), NotFound)
        self.assertTrue(str(e).startswith("command 4 (AddMirror br0 m)"), str(e))
        self.assertEqual(self.snapshot(), before)


class FakeServerConfigTests(_ConfigBase, TestCase):
    """The configuration verbs against the fake OVSDB, which also plays ovs-vswitchd for ``wait``."""

    start_server = test_batch.FakeServerTests.start_server
    snapshot = test_batch.FakeServerTests.snapshot

    def _next_cfg(self):
        return self.database.list("Open_vSwitch", ["next_cfg"])[0]["next_cfg"]

    def _act_as_vswitchd(self, target, interfaces=None):
        """Do what ovs-vswitchd does once it has applied configuration ``target``."""
        operations = [{"op": "update", "table": "Open_vSwitch", "where": [], "row": {"cur_cfg": target}}]
        for name, values in (interfaces or {}).items():
            operations.append({"op": "update", "table": "Interface", "where": [["name", "==", name]], "row": values})
        self.factory.db.transact(operations)

    @defer.inlineCallbacks
    def test_wait_applied_returns_once_cur_cfg_caught_up(self):
        """wait=applied adds one to next_cfg in the same transaction and returns only once cur_cfg reaches
        it with the interfaces set up."""
        start = self._next_cfg()
        d = self.do("SetInterfaceOptions", {"wait": "applied", "apply_timeout": 10}, interface="p1",
                     options={"mtu_request": 1400})
        yield poll_until(lambda: self._next_cfg() == start + 1, what="next_cfg to be bumped")
        self.assertFalse(d.called)
        self._act_as_vswitchd(start + 1, {"p1": {"ofport": ["set", [3]]}})
        result = yield d
        self.assertTrue(result["changed"])

    @defer.inlineCallbacks
    def test_wait_applied_reports_interfaces_that_failed(self):
        """An interface ovs-vswitchd could not set up (error written, ofport -1) makes the call fail with
        ApplyFailed naming it and its error; the change stays committed."""
        start = self._next_cfg()
        d = self.do("AddTunnel", {"wait": "applied"}, bridge="br0", port="bad0", type="vxlan",
                     remote_ip="192.0.2.1")
        yield poll_until(lambda: self._next_cfg() == start + 1, what="next_cfg to be bumped")
        self._act_as_vswitchd(start + 1, {"bad0": {"ofport": ["set", [-1]],
                                                   "error": ["set", ["could not add network device bad0"]]}})
        e = yield self.assertFailure(d, ApplyFailed)
        self.assertIn("bad0: could not add network device bad0", str(e))
        self.assertEqual(e.failures, [("bad0", "could not add network device bad0")])
        self.assertIn("bad0", self.names("Port"))

    @defer.inlineCallbacks
    def test_waits_for_ovs_vswitchd_are_bounded(self):
        """At most MAX_WAITING calls wait for ovs-vswitchd at once; one more is refused with
        ResourcesExhausted before anything is sent (nothing committed), and is taken again once one
        of them has returned."""
        start = self._next_cfg()
        # Writes that change nothing: each transaction is then only the next_cfg bump.
        waiting = [self.do("SetPortOptions", {"wait": "applied"}, port="p1", options={}) for _ in range(MAX_WAITING)]
        yield self.assertFailure(self.do("AddPort", {"wait": "applied"}, bridge="br0", port="late"),
                                 ResourcesExhausted)
        yield poll_until(lambda: self._next_cfg() == start + MAX_WAITING, what="every waiting write committed")
        self.assertNotIn("late", self.names("Port"))
        self._act_as_vswitchd(start + MAX_WAITING)
        yield defer.gatherResults(waiting)
        yield self.do("AddPort", {"wait": "commit"}, bridge="br0", port="late")
        self.assertIn("late", self.names("Port"))

    @defer.inlineCallbacks
    def test_wait_applied_gives_up_with_not_applied(self):
        """With no ovs-vswitchd, wait=applied fails with NotApplied after apply_timeout, change committed."""
        started = reactor.seconds()
        e = yield self.assertFailure(self.do("AddPort", {"wait": "applied", "apply_timeout": 0.3},
                                              bridge="br0", port="p9"), NotApplied)
        self.assertGreaterEqual(reactor.seconds() - started, 0.3)
        self.assertIn("committed", str(e))
        self.assertIn("p9", self.names("Port"))


class RealServerConfigTests(_ConfigBase, TestCase):
    """The configuration verbs against a real ovsdb-server (its checks are the last word)."""

    start_server = test_batch.RealServerTests.start_server
    snapshot = test_batch.RealServerTests.snapshot
