"""ovsdbus.openflow.flows: ovs-ofctl's text parsed, flow lists compared, its errors named.

The texts are what ovs-ofctl 3.1 printed against a real ovs-vswitchd (recorded by hand with the
flows in :data:`FLOWS`), and its error messages as it wrote them.
"""

import unittest

from ovsdbus.openflow import flows as oftext
from ovsdbus.ovsdb.errors import InvalidArgs, NotFound
from ovsdbus.vswitch.errors import CommandFailed, SwitchUnavailable

FLOWS = [
    "cookie=0x5,priority=100,ip,nw_dst=10.0.0.1,actions=drop",
    "cookie=0x9,table=3,idle_timeout=30,hard_timeout=60,importance=3,actions=drop",
    "cookie=0x9,table=3,priority=5,send_flow_rem,tcp,tp_dst=80,actions=resubmit(,4)",
    "cookie=0xfffffffffffffff0,ip,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=mod_nw_dst:1.2.3.4,NORMAL",
    "priority=0,actions=NORMAL",
]

DUMP_OF14 = """\
OFPST_FLOW reply (OF1.4) (xid=0x2):
 cookie=0xfffffffffffffff0, duration=0.004s, table=0, n_packets=0, n_bytes=0, \
ip,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=set_field:1.2.3.4->ip_dst,NORMAL
 cookie=0x5, duration=0.004s, table=0, n_packets=7, n_bytes=588, priority=100,ip,nw_dst=10.0.0.1 actions=drop
 cookie=0x0, duration=12.25s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL
 cookie=0x9, duration=0.004s, table=3, n_packets=0, n_bytes=0, idle_timeout=30, hard_timeout=60, importance=3, \
actions=drop
 cookie=0x9, duration=0.004s, table=3, n_packets=0, n_bytes=0, send_flow_rem priority=5,tcp,tp_dst=80 \
actions=resubmit(,4)
"""

DUMP_NO_STATS = """\
 cookie=0xfffffffffffffff0, ip,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=set_field:1.2.3.4->ip_dst,NORMAL
 cookie=0x5, priority=100,ip,nw_dst=10.0.0.1 actions=drop
 priority=0 actions=NORMAL
 cookie=0x9, table=3, idle_timeout=30, hard_timeout=60, importance=3, actions=drop
 cookie=0x9, table=3, send_flow_rem priority=5,tcp,tp_dst=80 actions=resubmit(,4)
"""

DUMP_OF10 = """\
NXST_FLOW reply (xid=0x4):
 cookie=0x5, duration=0.015s, table=0, n_packets=0, n_bytes=0, idle_age=0, priority=100,ip,nw_dst=10.0.0.1 \
actions=drop
 cookie=0x9, duration=0.015s, table=3, n_packets=0, n_bytes=0, idle_timeout=30, hard_timeout=60, idle_age=0, \
actions=drop
"""

PARSE_FLOWS = """\
usable protocols: OXM,NXM+table_id,OpenFlow11
chosen protocol: OXM-OpenFlow14
OFPT_FLOW_MOD (OF1.4) (xid=0x1): ADD priority=100,ip,nw_dst=10.0.0.1 cookie:0x5 actions=drop
OFPT_FLOW_MOD (OF1.4) (xid=0x2): ADD table:3 cookie:0x9 idle:30 hard:60 importance:3 actions=drop
OFPT_FLOW_MOD (OF1.4) (xid=0x3): ADD table:3 priority=5,tcp,tp_dst=80 cookie:0x9 send_flow_rem actions=resubmit(,4)
OFPT_FLOW_MOD (OF1.4) (xid=0x4): ADD ip,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 cookie:0xfffffffffffffff0 \
actions=set_field:1.2.3.4->ip_dst,NORMAL
OFPT_FLOW_MOD (OF1.4) (xid=0x5): ADD priority=0 actions=NORMAL
"""

DUMP_GROUPS = """\
OFPST_GROUP_DESC reply (OF1.4) (xid=0x2):
 group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2
 group_id=2,type=select,bucket=weight:10,actions=output:1
 group_id=3,type=ff,bucket=watch_port:1,actions=output:1
"""


class DumpParsingTests(unittest.TestCase):
    def test_dump_flows_fields(self):
        """Each dumped flow gives table, priority (32768 when not shown), cookie, match without the
        priority, actions, counters, duration, timeouts, importance and flags."""
        flows = oftext.parse_dump_flows(DUMP_OF14)
        self.assertEqual(len(flows), 5)
        first, second, normal, timed, flagged = flows
        self.assertEqual((first.table, first.priority, first.cookie, first.match, first.actions),
                         (0, 32768, 0xfffffffffffffff0, "ip,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
                          "set_field:1.2.3.4->ip_dst,NORMAL"))
        self.assertEqual((second.priority, second.match, second.n_packets, second.n_bytes, second.duration),
                         (100, "ip,nw_dst=10.0.0.1", 7, 588, 0.004))
        self.assertEqual((normal.priority, normal.match, normal.actions, normal.duration), (0, "", "NORMAL", 12.25))
        self.assertEqual((timed.table, timed.idle_timeout, timed.hard_timeout, timed.importance, timed.match),
                         (3, 30, 60, 3, ""))
        self.assertEqual((flagged.flags, flagged.priority, flagged.match, flagged.actions),
                         (("send_flow_rem",), 5, "tcp,tp_dst=80", "resubmit(,4)"))

    def test_no_stats_dump_leaves_out_zero_cookie_and_table(self):
        """--no-stats leaves out cookie 0 and table 0: such flows are still read, as cookie 0, table 0,
        and the same flows as the full dump, without counters."""
        plain = oftext.parse_dump_flows(DUMP_NO_STATS)
        full = oftext.parse_dump_flows(DUMP_OF14)
        self.assertEqual([(f.key, f.setting) for f in plain], [(f.key, f.setting) for f in full])
        self.assertEqual(plain[2].cookie, 0)
        self.assertIsNone(plain[0].n_packets)

    def test_openflow10_dump(self):
        """The NXST (OpenFlow 1.0) dump with idle_age reads the same fields."""
        flows = oftext.parse_dump_flows(DUMP_OF10)
        self.assertEqual([(f.table, f.priority, f.match, f.idle_timeout) for f in flows],
                         [(0, 100, "ip,nw_dst=10.0.0.1", 0), (3, 32768, "", 30)])

    def test_flow_mods_equal_dumped_flows(self):
        """parse-flows of the flows as written and dump-flows of the switch holding them give equal
        keys and settings, however the flow was spelled (mod_nw_dst shown as set_field)."""
        mods = oftext.parse_flow_mods(PARSE_FLOWS)
        self.assertEqual(len(mods), len(FLOWS))
        dumped = {f.key: f.setting for f in oftext.parse_dump_flows(DUMP_OF14)}
        self.assertEqual({m.key: m.setting for m in mods}, dumped)

    def test_text_round_trip(self):
        """A dumped flow's text is ovs-ofctl flow syntax with everything a flow_mod sets; with a
        cookie mask it is a strict match for delete_strict."""
        flagged = oftext.parse_dump_flows(DUMP_OF14)[4]
        self.assertEqual(flagged.text(), "cookie=0x9,table=3,priority=5,send_flow_rem,tcp,tp_dst=80,"
                                         "actions=resubmit(,4)")
        self.assertEqual(flagged.text(cookie_mask=oftext.ALL_BITS),
                         "cookie=0x9/0xffffffffffffffff,table=3,priority=5,tcp,tp_dst=80")

    def test_cookie_dump_shows_the_internal_table(self):
        """A dump selecting a cookie also shows ovs-vswitchd's read-only table 254 (recorded with
        'cookie=0/-1'); those flows are read like any other, in table INTERNAL_TABLE, and a
        refused delete_strict's 'cookie:0/0xff..' reads as cookie 0."""
        text = (" table=254, priority=0,reg0=0x1 actions=controller(reason=)\n"
                " priority=0 actions=drop\n"
                " table=254, priority=2,recirc_id=0 actions=drop\n")
        flows = oftext.parse_dump_flows(text)
        self.assertEqual([f.table for f in flows], [oftext.INTERNAL_TABLE, 0, oftext.INTERNAL_TABLE])
        refused = oftext.parse_flow_mod("DELETE_STRICT table:254 priority=0,reg0=0x1 cookie:0/0xffffffffffffffff "
                                        "actions=drop")
        self.assertEqual((refused.cookie, refused.priority, refused.match), (0, 0, "reg0=0x1"))

    def test_groups(self):
        """dump-groups gives each group's id, type and whole text."""
        groups = oftext.parse_dump_groups(DUMP_GROUPS)
        self.assertEqual([(g.group_id, g.type) for g in groups], [(1, "all"), (2, "select"), (3, "ff")])
        self.assertEqual(groups[0].text, "group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2")


class DifferenceTests(unittest.TestCase):
    def flow(self, priority, match, actions, cookie=5):
        return oftext.Flow(0, priority, match, actions, cookie)

    def test_only_the_difference_is_sent(self):
        """Missing flows are added, changed ones added over the old (counted as modified), extra
        ones deleted strictly by their own cookie (deletions first), equal ones left alone."""
        current = [self.flow(1, "ip", "drop"), self.flow(2, "arp", "drop"), self.flow(3, "icmp", "drop")]
        desired = [self.flow(1, "ip", "drop"), self.flow(2, "arp", "NORMAL"), self.flow(4, "ipv6", "drop")]
        texts = ["T1", "T2", "T4"]
        change = oftext.difference(current, desired, texts)
        self.assertEqual((change.added, change.modified, change.deleted, change.unchanged), (1, 1, 1, 1))
        self.assertEqual(change.lines, ("delete_strict cookie=0x5/0xffffffffffffffff,table=0,priority=3,icmp",
                                        "add T2", "add T4"))

    def test_same_key_twice_is_refused(self):
        """Two desired flows with one table, priority and match: InvalidArgs naming both indexes."""
        with self.assertRaisesRegex(InvalidArgs, r"flows\[0\] and flows\[2\]"):
            oftext.difference([], [self.flow(1, "ip", "drop"), self.flow(2, "ip", "drop"),
                                   self.flow(1, "ip", "NORMAL")], ["a", "b", "c"])

    def test_nothing_to_do(self):
        """Equal tables give no lines at all."""
        flows = [self.flow(1, "ip", "drop")]
        self.assertEqual(oftext.difference(flows, flows, ["x"]).lines, ())


class InputTests(unittest.TestCase):
    def test_lines_that_would_be_read_wrongly_are_refused(self):
        """A line break (two flows), a NUL, an empty flow and a '#' comment are InvalidArgs naming
        the entry; an empty match is allowed (it selects every flow)."""
        for bad in ("a\nb", "a\rb", "a\0b", "", "  ", "# comment"):
            with self.assertRaisesRegex(InvalidArgs, r"flows\[1\]"):
                oftext.check_lines(["priority=1,actions=drop", bad], "flows")
        oftext.check_lines([""], "matches")
        with self.assertRaises(InvalidArgs):
            oftext.check_lines("priority=1,actions=drop", "flows")

    def test_cookie_given_once(self):
        """with_cookie puts the cookie in front of a flow that names none and leaves others alone."""
        self.assertEqual(oftext.with_cookie("priority=1,actions=drop", 0x10), "cookie=0x10,priority=1,actions=drop")
        self.assertEqual(oftext.with_cookie("cookie=0x3,actions=drop", 0x10), "cookie=0x3,actions=drop")
        self.assertFalse(oftext.has_cookie("priority=1,actions=set_field:1->reg0"))


class ErrorTests(unittest.TestCase):
    def test_unparsable_line_names_the_flow(self):
        """'-:58: unknown keyword' is InvalidArgs naming flows[57] (0-based) with its text and the message."""
        lines = ["priority=%d,actions=drop" % i for i in range(100)]
        error = oftext.error_for("ovs-ofctl: -:58: unknown keyword bogus_field\n", lines, "flows", "br0")
        self.assertIsInstance(error, InvalidArgs)
        self.assertIn("flows[57]", str(error))
        self.assertIn("priority=57,actions=drop", str(error))
        self.assertIn("unknown keyword bogus_field", str(error))

    def test_refused_by_the_switch(self):
        """An OpenFlow error from ovs-vswitchd is InvalidArgs with the error name and the flow_mod."""
        stderr = ("Error OFPBRC_EPERM for: OFPT_FLOW_MOD (OF1.4) (xid=0x7): ADD table:254 cookie:0x7 actions=drop\n"
                  "ovs-ofctl: talking to unix:/run/br0.mgmt (Protocol error)\n")
        self.assertEqual(oftext.switch_error(stderr), ("OFPBRC_EPERM", "ADD table:254 cookie:0x7 actions=drop"))
        error = oftext.error_for(stderr, [], "flows", "br0")
        self.assertIsInstance(error, InvalidArgs)
        self.assertIn("OFPBRC_EPERM", str(error))
        refused = oftext.parse_flow_mod("ADD table:254 cookie:0x7 actions=drop")
        self.assertEqual((refused.table, refused.cookie, refused.actions), (254, 7, "drop"))

    def test_switch_not_there(self):
        """No socket, a refused connection or a broken pipe are SwitchUnavailable."""
        for stderr in ("ovs-ofctl: unix:/run/br0.mgmt: failed to connect to socket (No such file or directory)\n",
                       "ovs-ofctl: unix:/run/br0.mgmt: failed to connect to socket (Connection refused)\n",
                       "ovs-ofctl: talking to unix:/run/br0.mgmt (Broken pipe)\n"):
            self.assertIsInstance(oftext.error_for(stderr, [], "flows", "br0"), SwitchUnavailable, stderr)

    def test_other_errors(self):
        """Not a bridge is NotFound, a failed version negotiation InvalidArgs, anything else
        CommandFailed with ovs-ofctl's message."""
        self.assertIsInstance(oftext.error_for("ovs-ofctl: nobr is not a bridge or a socket\n", (), "flows", "nobr"),
                              NotFound)
        stderr = ("2026-11-30T12:32:12Z|00001|vconn|WARN|unix:/run/br2.mgmt: version negotiation failed (we support "
                  "version 0x05, peer supports versions 0x01, 0x04)\n")
        self.assertIsInstance(oftext.error_for(stderr, (), "flows", "br2"), InvalidArgs)
        error = oftext.error_for("ovs-ofctl: something new\n", (), "flows", "br0")
        self.assertIsInstance(error, CommandFailed)
        self.assertIn("something new", str(error))
