"""ovsdbus.openflow.keeper: the Flows verbs over a scripted ovs-ofctl, and the checks that put
persisted flows back (driven by OVSDB changes and a Clock)."""

import shutil
import tempfile

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from ovsdbus.openflow import keeper
from ovsdbus.openflow.keeper import FlowService, check_options, choose_version
from ovsdbus.openflow.ofctl import Result
from ovsdbus.openflow.store import FlowStore
from ovsdbus.ovsdb.errors import Disconnected, InvalidArgs, NotFound, NotSupported
from ovsdbus.ovsdb.replica import RowChange


class FakeReplica:
    def __init__(self, bridges):
        self.bridges = bridges   # name -> protocols

    def find(self, table, name):
        return name if table == "Bridge" and name in self.bridges else None

    def row(self, table, uuid):
        return {"name": uuid, "protocols": set(self.bridges[uuid])}


class FakeConnection:
    def __init__(self, bridges):
        self.replica = FakeReplica(bridges)
        self.synced = True
        self.observers = []
        self.state_observers = []

    def add_observer(self, observer):
        self.observers.append(observer)

    def add_state_observer(self, observer):
        self.state_observers.append(observer)


class ScriptedOfctl:
    """Answers each run from ``respond(command, args, stdin)`` -> (status, stdout, stderr); records the runs."""

    def __init__(self, respond):
        self.respond = respond
        self.runs = []

    def run(self, args, stdin=""):
        command = args[args.index("--") + 1]
        self.runs.append((command, args, stdin))
        return defer.succeed(Result(*self.respond(command, args, stdin)))


def flow_mods(stdin):
    """What ovs-ofctl parse-flows prints for simple flows 'cookie=C,priority=P,MATCH,actions=A'."""
    lines = []
    for n, line in enumerate(stdin.splitlines(), 1):
        fields = dict(part.split("=", 1) for part in line.split(",") if "=" in part and not part.startswith("act"))
        match = [part for part in line.split(",") if "=" not in part]
        actions = line.split("actions=", 1)[1]
        lines.append("OFPT_FLOW_MOD (OF1.4) (xid=0x%x): ADD priority=%s,%s cookie:%s actions=%s"
                     % (n, fields["priority"], ",".join(match), fields["cookie"], actions))
    return "\n".join(lines) + "\n"


class Switch:
    """A flow table answering parse-flows, dump-flows and add-flows (add/delete_strict lines)."""

    def __init__(self, flows=()):
        self.flows = dict(flows)   # (priority, match) -> (cookie, actions)

    def __call__(self, command, args, stdin):
        if command == "parse-flows":
            return 0, flow_mods(stdin), ""
        if command == "dump-flows":
            wanted = None
            if args[-1].startswith("cookie="):
                wanted = int(args[-1][len("cookie="):].split("/")[0], 16)
            out = ["OFPST_FLOW reply (OF1.4) (xid=0x2):"]
            for (priority, match), (cookie, actions) in sorted(self.flows.items()):
                if wanted is None or cookie == wanted:
                    out.append(" cookie=%#x, priority=%d,%s actions=%s" % (cookie, priority, match, actions))
            return 0, "\n".join(out) + "\n", ""
        if command == "add-flows":
            for line in stdin.splitlines():
                verb, flow = ("add", line)
                if line.startswith(("add ", "delete_strict ")):
                    verb, _, flow = line.partition(" ")
                parts = flow.split(",")
                fields = dict(p.split("=", 1) for p in parts if "=" in p and not p.startswith("act"))
                match = ",".join(p for p in parts if "=" not in p)
                key = (int(fields["priority"]), match)
                if verb == "delete_strict":
                    self.flows.pop(key, None)
                else:
                    self.flows[key] = (int(fields["cookie"].split("/")[0], 16), flow.split("actions=", 1)[1])
            return 0, "", ""
        return 0, "", ""


class OptionTests(TestCase):
    def test_options_checked(self):
        """Unknown options, wrong types, cookies out of range and unknown versions are InvalidArgs."""
        self.assertEqual(check_options("add_flows", {"cookie": 5, "bundle": False}), {"cookie": 5, "bundle": False})
        for verb, options in (("add_flows", {"strict": True}), ("add_flows", {"bundle": 1}),
                              ("delete_flows", {"cookie": -1}), ("delete_flows", {"cookie": 1 << 64}),
                              ("dump_flows", {"protocols": "OpenFlow99"}), ("dump_flows", {"protocols": ""}),
                              ("replace_flows", {"cookie": True})):
            with self.assertRaises(InvalidArgs, msg=(verb, options)):
                check_options(verb, options)
        self.assertEqual(check_options("dump_flows", {"protocols": "OpenFlow13, OpenFlow14"}),
                         {"protocols": ["OpenFlow13", "OpenFlow14"]})

    def test_bundles_need_openflow14(self):
        """A bundle on a bridge allowing only OpenFlow10 and 13 is NotSupported, saying how to
        allow OpenFlow14 or to pass bundle false; without a bundle its newest version is used;
        an empty protocols column (OVS's default) allows bundles."""
        with self.assertRaisesRegex(NotSupported, "OpenFlow14.*bundle: false"):
            choose_version("br0", ["OpenFlow10", "OpenFlow13"], None, True)
        self.assertEqual(choose_version("br0", ["OpenFlow10", "OpenFlow13"], None, False), "OpenFlow13")
        self.assertEqual(choose_version("br0", [], None, True), "OpenFlow14")
        self.assertEqual(choose_version("br0", ["OpenFlow15"], None, True), "OpenFlow15")
        with self.assertRaises(NotSupported):
            choose_version("br0", [], ["OpenFlow13"], True)


class VerbTests(TestCase):
    def setUp(self):
        self.clock = Clock()
        self.directory = tempfile.mkdtemp(prefix="keeper-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.switch = Switch({(0, ""): (0, "NORMAL")})
        self.ofctl = ScriptedOfctl(self.switch)
        self.connection = FakeConnection({"br0": [], "old": ["OpenFlow10"]})
        self.store = FlowStore(self.directory, self.clock)
        self.service = FlowService(self.clock, self.connection, "/run/ovs", self.ofctl, self.store,
                                   check_interval=30)
        self.changed = []
        self.service.add_listener(lambda bridge, cookie: self.changed.append((bridge, cookie)))
        for observer in self.connection.state_observers:   # OVSDB synced: the state file is read
            observer(True)
        self.addCleanup(self.service.stop)

    def test_add_flows_one_bundle_on_stdin(self):
        """AddFlows runs one 'ovs-ofctl -O OpenFlow14 --bundle -- add-flows unix:RUNDIR/br0.mgmt -'
        with the flows (cookie given to each) on stdin, and tells the listeners."""
        self.successResultOf(self.service.add_flows("br0", ["priority=1,ip,actions=drop"], {"cookie": 7}))
        [(command, args, stdin)] = self.ofctl.runs
        self.assertEqual(args, ["-O", "OpenFlow14", "--bundle", "--", "add-flows", "unix:/run/ovs/br0.mgmt", "-"])
        self.assertEqual(stdin, "cookie=0x7,priority=1,ip,actions=drop\n")
        self.assertEqual(self.changed, [("br0", 7)])

    def test_refusals_before_ovs_ofctl(self):
        """A missing bridge is NotFound, a disconnected OVSDB Disconnected, a bundle on an
        OpenFlow10 bridge NotSupported, persist without cookie InvalidArgs: ovs-ofctl never runs."""
        self.failureResultOf(self.service.add_flows("nope", ["priority=1,actions=drop"]), NotFound)
        self.failureResultOf(self.service.add_flows("old", ["priority=1,actions=drop"]), NotSupported)
        self.failureResultOf(self.service.add_flows("br0", ["priority=1,actions=drop"], {"persist": True}),
                             InvalidArgs)
        self.failureResultOf(self.service.add_flows("br0", ["cookie=1,actions=drop"], {"cookie": 2}), InvalidArgs)
        self.failureResultOf(self.service.dump_flows("br0", "--help"), InvalidArgs)
        self.connection.synced = False
        self.failureResultOf(self.service.dump_flows("br0"), Disconnected)
        self.assertEqual(self.ofctl.runs, [])
        self.assertEqual(self.changed, [])

    def test_replace_sends_only_the_difference_and_records(self):
        """ReplaceFlows dumps its cookie, sends deletions and additions in one bundle, leaves other
        cookies alone, answers the counts and, with persist, records the flows."""
        self.switch.flows.update({(1, "ip"): (5, "drop"), (2, "arp"): (5, "drop"), (3, "icmp"): (5, "drop"),
                                  (1, "ipv6"): (6, "drop")})
        summary = self.successResultOf(self.service.replace_flows(
            "br0", ["priority=1,ip,actions=drop", "priority=2,arp,actions=NORMAL", "priority=4,tcp,actions=drop"],
            {"cookie": 5, "persist": True}))
        self.assertEqual(summary, {"added": 1, "modified": 1, "deleted": 1, "unchanged": 1})
        self.assertEqual(self.switch.flows, {(0, ""): (0, "NORMAL"), (1, "ip"): (5, "drop"),
                                             (2, "arp"): (5, "NORMAL"), (4, "tcp"): (5, "drop"),
                                             (1, "ipv6"): (6, "drop")})
        self.assertEqual([r[0] for r in self.ofctl.runs], ["parse-flows", "dump-flows", "add-flows"])
        self.assertIn("--bundle", self.ofctl.runs[-1][1])
        self.assertEqual(self.store.cookies("br0"), {5: ["cookie=0x5,priority=1,ip,actions=drop",
                                                         "cookie=0x5,priority=2,arp,actions=NORMAL",
                                                         "cookie=0x5,priority=4,tcp,actions=drop"]})
        self.assertEqual(self.changed, [("br0", 5)])

    def test_persisted_flows_come_back_when_ovsdb_shows_a_restart(self):
        """After ovs-vswitchd restarts (here: its flow table emptied and an Interface's mac_in_use
        rewritten in OVSDB), the persisted flows are installed again in one bundle, once the short
        CHECK_DELAY has passed; a periodic check that finds them in place runs one dump-flows only."""
        self.successResultOf(self.service.replace_flows("br0", ["priority=1,ip,actions=drop"],
                                                        {"cookie": 9, "persist": True}))
        self.switch.flows.clear()
        self.ofctl.runs.clear()
        change = RowChange("modify", "Interface", "u1", {"mac_in_use": "aa"}, {"mac_in_use": "bb", "ofport": 1})
        for observer in self.connection.observers:
            observer([change])
        self.assertEqual(self.ofctl.runs, [])
        self.clock.advance(keeper.CHECK_DELAY)
        self.assertEqual(self.switch.flows, {(1, "ip"): (9, "drop")})
        self.assertEqual(sum(1 for r in self.ofctl.runs if r[0] == "add-flows"), 1)
        self.ofctl.runs.clear()
        self.clock.advance(30)   # the periodic check: all in place, nothing sent (the record's parse is kept)
        self.clock.advance(keeper.CHECK_DELAY)
        self.assertEqual([r[0] for r in self.ofctl.runs], ["dump-flows"])

    def test_unrelated_changes_check_nothing(self):
        """Changes to other columns (statistics) schedule no check."""
        self.successResultOf(self.service.replace_flows("br0", ["priority=1,ip,actions=drop"],
                                                        {"cookie": 9, "persist": True}))
        self.ofctl.runs.clear()
        change = RowChange("modify", "Interface", "u1", {"statistics": {}}, {"statistics": {"rx": 1}})
        for observer in self.connection.observers:
            observer([change])
        self.assertEqual(self.clock.getDelayedCalls()[0].getTime(), 30)   # only the periodic one
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_disconnected_leaves_no_calls(self):
        """Losing OVSDB cancels the periodic check (it is armed only while flows are persisted)."""
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.successResultOf(self.service.replace_flows("br0", ["priority=1,ip,actions=drop"],
                                                        {"cookie": 9, "persist": True}))
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        for observer in self.connection.state_observers:
            observer(False)
        self.assertEqual(self.clock.getDelayedCalls(), [])
