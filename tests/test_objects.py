"""The generic object tree end to end: every row of every table an object on the bus.

Real stack (:mod:`tests.realstack`): a real ovsdb-server changed with ``ovs-vsctl``, the real
``twistd -n ovsdbus`` on a private dbus-daemon, and a txdbus client reading GetManagedObjects,
properties and introspection and listening to PropertiesChanged.  To know that every signal
of a change has arrived, a test then adds a marker bridge and waits for its InterfacesAdded
(the service emits in commit order).

Without Open vSwitch, dbus-daemon and the D-Bus tools these tests are skipped, and fail
instead when ``CI`` is set.
"""

import json
import xml.etree.ElementTree as ElementTree

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from ovsdbus.projection.view import escape_path_element
from ovsdbus.testing import sandbox
from ovsdbus.vswitch import VSWITCH_SCHEMA_PATH
from tests import realstack
from tests.realstack import BUS_NAME, INTERFACE, OBJECT_PATH, PROPERTIES, call, poll_until

OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
TABLE = INTERFACE + ".Table."
EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"


def named_tables():
    """Tables of the installed schema whose rows have paths by name (a unique index on name)."""
    with open(VSWITCH_SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    return {t for t, d in schema["tables"].items() if ["name"] in d.get("indexes", [])}


def row_path(table, row):
    """The path a row of ``table`` (a dumped row, decoded JSON) must have, computed from the
    documented rule."""
    if table in named_tables():
        return "%s/%s/%s" % (OBJECT_PATH, table.lower(), escape_path_element(row["name"]))
    return "%s/%s/%s" % (OBJECT_PATH, table.lower(), row["_uuid"][1].replace("-", "_"))


class ObjectTreeTests(TestCase):
    """GetManagedObjects, properties and signals of the generated interfaces."""

    @classmethod
    def tearDownClass(cls):
        realstack.stop_shared_stack(cls)

    @defer.inlineCallbacks
    def setUp(self):
        self.stack = realstack.shared_stack(type(self))
        self.stack.clear()
        self.stack.vsctl("--", "--all", "destroy", "QoS", "--", "--all", "destroy", "Queue")
        self.client = yield realstack.connect(self, self.stack.bus_address)
        self.signals = []
        yield self.client.addMatch(lambda m: self.signals.append(m), sender=BUS_NAME)
        yield poll_until(lambda: call(self.client, "ListBridges").addCallback(lambda b: b == []), 10,
                         what="no bridges")

    def managed_objects(self):
        return call(self.client, "GetManagedObjects", interface=OBJECT_MANAGER)

    @defer.inlineCallbacks
    def settle(self, marker):
        """Add bridge ``marker`` and wait for its InterfacesAdded: every signal of the changes
        made before has arrived then.  Returns the signals before it."""
        self.stack.vsctl("add-br", marker)
        path = "%s/bridge/%s" % (OBJECT_PATH, marker)

        def seen():
            return any(m.member == "InterfacesAdded" and m.body[0] == path for m in self.signals)
        yield poll_until(seen, 20, what="InterfacesAdded of " + marker)
        end = next(i for i, m in enumerate(self.signals) if m.member == "InterfacesAdded" and m.body[0] == path)
        return self.signals[:end]

    def properties_changed(self, messages, path, interface):
        return [m.body[1:] for m in messages if m.member == "PropertiesChanged" and m.path == path
                and m.body[0] == interface]

    def qos_setup(self):
        self.stack.vsctl("add-br", "br0", "--", "add-port", "br0", "p1", "--", "set", "port", "p1", "qos=@q",
                         "--", "--id=@q", "create", "qos", "type=linux-htb", "queues:0=@q0",
                         "--", "--id=@q0", "create", "queue", "other_config:max-rate=1000")
        qos = self.stack.vsctl("get", "port", "p1", "qos").strip()
        queue = self.stack.vsctl("get", "qos", qos, "queues:0").strip()
        return (OBJECT_PATH + "/qos/" + qos.replace("-", "_"), OBJECT_PATH + "/queue/" + queue.replace("-", "_"))

    @defer.inlineCallbacks
    def test_every_row_of_every_table_is_an_object(self):
        """After ovs-vsctl creates a bridge, a port with a QoS and a queue, GetManagedObjects has
        exactly one object per row of every table in ``ovsdb-client dump`` (Open_vSwitch, QoS
        and Queue by uuid, bridges, ports and interfaces by name) besides nothing else;
        references are object paths; the port carries both its Port and Table.Port interfaces."""
        qos_path, queue_path = self.qos_setup()
        yield self.settle("zz0")
        objects = yield self.managed_objects()
        dumped = {t: [json.loads(r) for r in rows] for t, rows in self.stack.dump().items()}
        expected = {row_path(t, r) for t, rows in dumped.items() for r in rows}
        self.assertEqual(set(objects), expected)
        self.assertEqual(objects[qos_path][TABLE + "QoS"]["type"], "linux-htb")
        self.assertEqual(objects[qos_path][TABLE + "QoS"]["queues"], {0: queue_path})
        self.assertEqual(objects[queue_path][TABLE + "Queue"]["other_config"], {"max-rate": "1000"})
        port = objects[OBJECT_PATH + "/port/p1"]
        self.assertEqual(sorted(port), [INTERFACE + ".Port", TABLE + "Port"])
        self.assertEqual(port[TABLE + "Port"]["qos"], [qos_path])
        self.assertEqual(port[TABLE + "Port"]["interfaces"], [OBJECT_PATH + "/interface/p1"])
        self.assertEqual(port[INTERFACE + ".Port"]["Bridge"], OBJECT_PATH + "/bridge/br0")
        (root_path,) = [p for p in objects if p.startswith(OBJECT_PATH + "/open_vswitch/")]
        self.assertIn(OBJECT_PATH + "/bridge/br0", objects[root_path][TABLE + "Open_vSwitch"]["bridges"])

    @defer.inlineCallbacks
    def test_ovs_vsctl_changes_are_announced(self):
        """``ovs-vsctl set`` on a port and on a QoS row gives a PropertiesChanged from each object,
        on the generated interface, with the new values typed as documented (an optional tag
        is an array); the port's older interface announces its Tag too."""
        qos_path, _ = self.qos_setup()
        yield self.settle("zz1")
        start = len(self.signals)
        self.stack.vsctl("set", "port", "p1", "tag=5", "--", "set", "qos", qos_path.rsplit("/", 1)[1].replace("_", "-"),
                         "other_config:max-rate=7")
        messages = (yield self.settle("zz2"))[start:]
        port = OBJECT_PATH + "/port/p1"
        self.assertEqual(self.properties_changed(messages, port, TABLE + "Port"), [[{"tag": [5]}, []]])
        self.assertEqual(self.properties_changed(messages, port, INTERFACE + ".Port"), [[{"Tag": 5}, []]])
        self.assertEqual(self.properties_changed(messages, qos_path, TABLE + "QoS"),
                         [[{"other_config": {"max-rate": "7"}}, []]])
        value = yield call(self.client, "Get", "ss", TABLE + "Port", "tag", interface=PROPERTIES, path=port)
        self.assertEqual(value, [5])

    @defer.inlineCallbacks
    def test_statistics_are_never_announced(self):
        """Interface statistics (rewritten by ovs-vswitchd every few seconds) are not announced by
        any PropertiesChanged, yet reading them (Get, GetManagedObjects) gives the value just
        written; introspection says EmitsChangedSignal=false for both interfaces' statistics
        properties."""
        self.stack.vsctl("add-br", "br0", "--", "add-port", "br0", "p1")
        yield self.settle("zz3")
        yield self.managed_objects()  # encoded once here: the change below must not leave it stale
        start = len(self.signals)
        path = OBJECT_PATH + "/interface/p1"
        self.stack.vsctl("set", "interface", "p1", "statistics:rx_bytes=7", "statistics:tx_bytes=9")
        messages = (yield self.settle("zz4"))[start:]
        self.assertEqual([m.body for m in messages if m.member == "PropertiesChanged" and m.path == path], [])
        value = yield call(self.client, "Get", "ss", TABLE + "Interface", "statistics", interface=PROPERTIES, path=path)
        self.assertEqual(value, {"rx_bytes": 7, "tx_bytes": 9})
        value = yield call(self.client, "Get", "ss", INTERFACE + ".Interface", "Statistics", interface=PROPERTIES,
                           path=path)
        self.assertEqual(value, {"rx_bytes": 7, "tx_bytes": 9})
        objects = yield self.managed_objects()
        self.assertEqual(objects[path][TABLE + "Interface"]["statistics"], {"rx_bytes": 7, "tx_bytes": 9})
        self.assertEqual(objects[path][INTERFACE + ".Interface"]["Statistics"], {"rx_bytes": 7, "tx_bytes": 9})
        xml = yield call(self.client, "Introspect", interface="org.freedesktop.DBus.Introspectable", path=path)
        emits = {}
        for iface in ElementTree.fromstring(xml).iter("interface"):
            for prop in iface.iter("property"):
                for a in prop.iter("annotation"):
                    if a.get("name") == EMITS:
                        emits[(iface.get("name"), prop.get("name"))] = a.get("value")
        self.assertEqual(emits[(TABLE + "Interface", "statistics")], "false")
        self.assertEqual(emits[(INTERFACE + ".Interface", "Statistics")], "false")
        self.assertEqual(emits[(TABLE + "Interface", "type")], "true")
        self.assertEqual(emits[(TABLE + "Interface", "name")], "const")  # immutable in the schema

    @defer.inlineCallbacks
    def test_introspection_of_a_generated_interface(self):
        """busctl introspects a QoS object: its interface org.openvswitch.ovsdb.Table.QoS lists one
        property per column with the documented signature (a map of integer to object path for
        queues)."""
        qos_path, _ = self.qos_setup()
        yield self.settle("zz5")
        code, out, err = yield realstack.busctl(self.stack.bus_address, "introspect", BUS_NAME, qos_path)
        self.assertEqual(code, 0, err)
        lines = {line.split()[0]: line.split()[1:3] for line in out.splitlines() if line.startswith(".")}
        self.assertEqual(lines[".queues"], ["property", "a{xo}"])
        self.assertEqual(lines[".type"], ["property", "s"])
        self.assertEqual(lines[".other_config"], ["property", "a{ss}"])
        self.assertIn(TABLE + "QoS", out)
        code, out, err = yield realstack.busctl(self.stack.bus_address, "get-property", "--json=short", BUS_NAME,
                                                qos_path, TABLE + "QoS", "_uuid")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["data"], qos_path.rsplit("/", 1)[1].replace("_", "-"))


class VswitchdStatisticsTests(TestCase):
    """With a real ovs-vswitchd (dummy datapath) rewriting Interface statistics as traffic
    arrives, the counters change on the bus without a PropertiesChanged for them."""

    @classmethod
    def tearDownClass(cls):
        realstack.stop_shared_stack(cls)

    @defer.inlineCallbacks
    def setUp(self):
        realstack.require_programs("ovs-vswitchd", "ovs-appctl")
        self.stack = realstack.shared_stack(type(self))
        self.stack.clear()
        self.vswitchd = sandbox.Vswitchd(self.stack.directory, self.stack.ovsdb).start()
        self.addCleanup(self.vswitchd.stop)
        self.client = yield realstack.connect(self, self.stack.bus_address)
        self.signals = []
        yield self.client.addMatch(lambda m: self.signals.append(m), sender=BUS_NAME)

    def get(self, path, interface, name):
        return call(self.client, "Get", "ss", interface, name, interface=PROPERTIES, path=path)

    @defer.inlineCallbacks
    def test_counters_change_without_signals(self):
        """Packets received on a dummy port make ovs-vswitchd rewrite its statistics; reading
        them shows the packets, while no PropertiesChanged from the interface's object ever
        names statistics (nor Statistics of the older interface)."""
        self.stack.vsctl("add-br", "br0", "--", "add-port", "br0", "p1")
        path = OBJECT_PATH + "/interface/p1"

        def ofport_assigned():
            return self.get(path, TABLE + "Interface", "ofport").addCallback(lambda v: v and v[0] > 0)
        yield poll_until(ofport_assigned, 20, what="ovs-vswitchd to give p1 an OpenFlow port")
        start = len(self.signals)
        packet = ("in_port(1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),"
                  "ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)")
        for _ in range(3):
            self.vswitchd.appctl("netdev-dummy/receive", "p1", packet)

        def received():
            return self.get(path, TABLE + "Interface", "statistics").addCallback(
                lambda stats: stats.get("rx_packets", 0) >= 3)
        yield poll_until(received, 30, interval=0.5, what="ovs-vswitchd to write p1's rx_packets")
        legacy = yield self.get(path, INTERFACE + ".Interface", "Statistics")
        self.assertGreaterEqual(legacy["rx_packets"], 3)
        # Everything emitted up to here has arrived once a later change's signal has.
        self.stack.vsctl("add-br", "zzmarker")
        marker = OBJECT_PATH + "/bridge/zzmarker"
        yield poll_until(lambda: any(m.member == "InterfacesAdded" and m.body[0] == marker for m in self.signals),
                         20, what="the marker bridge")
        mentioned = [m.body for m in self.signals[start:] if m.member == "PropertiesChanged" and m.path == path
                     and ({"statistics", "Statistics"} & (set(m.body[1]) | set(m.body[2])))]
        self.assertEqual(mentioned, [])
