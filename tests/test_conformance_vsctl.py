"""The generic verbs against ovs-vsctl: the same change gives the same database.

Two ovsdb-servers start from the same database, built with the same ovs-vsctl commands: the
service follows server A; server B is only ever changed by ovs-vsctl.  Each test makes one
change through ovsdbus on A and the matching ovs-vsctl command on B, then compares ``ovsdb-client
dump`` of the two.  Row uuids differ between the servers, so a dump is compared with every uuid
replaced by a label computed from the row's contents and, recursively, from the rows it refers
to (iterated colour refinement, as in graph isomorphism tests): two dumps compare equal exactly
when the databases hold the same rows linked the same way.

Reads go the other way: ovs-vsctl changes server A, and Get/List/Find and the object tree show
it; Find answers what ``ovs-vsctl find`` answers for each of its operators.
"""

import atexit
import hashlib
import json
import shutil
import tempfile

from twisted.internet import defer
from twisted.trial.unittest import TestCase
from txdbus.error import RemoteError

from ovsdbus.ovsdb.schema import is_uuid
from ovsdbus.testing import sandbox
from tests import realstack
from tests.realstack import OBJECT_PATH, call, poll_until
from tests.test_generic_schema import DATABASE, SIGNATURES, TABLE_INTERFACE, typed

#: ovs-vsctl commands that bring either server to the same starting point (QoS and queues only after
#: the ports that use them are gone: OVSDB checks explicit deletions before it collects garbage).
RESET_QOS = ("--all", "destroy", "QoS", "--", "--all", "destroy", "Queue")
SEED = ("add-br", "br0", "--", "add-port", "br0", "p1", "--", "add-port", "br0", "p2")

#: Rounds of label refinement; more than the longest chain of references in vswitch.ovsschema.
REFINEMENT_ROUNDS = 6


def dump_tables(server):
    """``{table: [row dict]}`` of the Open_vSwitch database of ``server`` (``ovsdb-client dump``)."""
    argv = [sandbox.find_binary("ovsdb-client"), "dump", "--format=json", server.remote, "Open_vSwitch"]
    out = sandbox._run(argv, env=server._ovs_env())
    tables = {}
    for line in out.splitlines():
        if line.strip():
            table = json.loads(line)
            name = table["caption"].rsplit(" table", 1)[0]
            tables[name] = [dict(zip(table["headings"], row, strict=True)) for row in table["data"]]
    return tables


def _relabel(value, labels):
    """An OVSDB JSON value with each uuid replaced by its row's label, sets and maps sorted."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "uuid":
        return ["ref", labels.get(value[1], "missing")]
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return ["set", sorted((_relabel(v, labels) for v in value[1]), key=json.dumps)]
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return ["map", sorted(([_relabel(k, labels), _relabel(v, labels)] for k, v in value[1]), key=json.dumps)]
    return value


def normalized(tables):
    """``{table: sorted [row text]}`` with uuids replaced by content labels (``_version`` dropped)."""
    rows = [(table, row) for table, table_rows in tables.items() for row in table_rows]
    labels = {}
    texts = []
    for _ in range(REFINEMENT_ROUNDS):
        texts = []
        new = {}
        for table, row in rows:
            content = {c: _relabel(v, labels) for c, v in row.items() if c not in ("_uuid", "_version")}
            text = json.dumps([table, content], sort_keys=True)
            new[row["_uuid"][1]] = hashlib.sha1(text.encode()).hexdigest()[:16]
            texts.append((table, text))
        labels = new
    result = {}
    for table, text in texts:
        result.setdefault(table, []).append(text)
    return {table: sorted(t) for table, t in result.items()}


_other = {"server": None}


def other_server():
    """Server B: an ovsdb-server of its own, changed only by ovs-vsctl (started on first use)."""
    server = _other["server"]
    if server is None or not server.running:
        server = sandbox.OvsdbServer(tempfile.mkdtemp(prefix="ovsdbus-")).start()
        _other["server"] = server
    return server


def stop_other_server():
    """Stop server B and remove its directory."""
    server, _other["server"] = _other["server"], None
    if server is not None:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


atexit.register(stop_other_server)


def reset(server):
    """Bring ``server`` to the seed state: no bridges, QoS, queues or collector sets, then br0 with p1, p2."""
    args = ["--all", "destroy", "Flow_Sample_Collector_Set"]
    for bridge in server.vsctl("list-br").split():
        args += ["--", "del-br", bridge]
    server.vsctl(*args)
    server.vsctl(*RESET_QOS)
    server.vsctl(*SEED)


class VsctlConformanceTests(TestCase):
    """Each generic verb on server A gives the database the matching ovs-vsctl command gives on B."""

    @classmethod
    def tearDownClass(cls):
        realstack.stop_shared_stack(cls)
        stop_other_server()

    @defer.inlineCallbacks
    def setUp(self):
        self.stack = realstack.shared_stack(type(self))
        self.addCleanup(self.assert_service_alive, self.stack.log_position())
        self.other = other_server()
        reset(self.stack.ovsdb)
        reset(self.other)
        self.client = yield realstack.connect(self, self.stack.bus_address)
        yield self.until_seen("Port", "p2")
        self.assertEqual(self.dump_a(), self.dump_b(), "the two servers do not start alike")

    def assert_service_alive(self, log_position=0):
        """The service still runs and logged no traceback during the test."""
        if not self.stack.service.running:
            self.fail("the service exited:\n" + self.stack.service_log())
        found = self.stack.tracebacks_since(log_position)
        if found:
            self.fail("the service logged an error:\n" + found)

    def dump_a(self):
        return normalized(dump_tables(self.stack.ovsdb))

    def dump_b(self):
        return normalized(dump_tables(self.other))

    def db(self, method, *args):
        """Call ``method`` of org.openvswitch.ovsdb.Database."""
        return call(self.client, method, SIGNATURES[method], *args, interface=DATABASE)

    def until_seen(self, table, record, column=None, value=None):
        """Wait until the service's Get of ``record`` works (and shows ``value`` in ``column``)."""
        def check():
            d = self.db("Get", table, record, [column] if column else [])
            return d.addCallback(lambda row: column is None or row.get(column) == value)
        return poll_until(check, what="%s %s in the service" % (table, record))

    def both(self, *vsctl_args):
        """Run the same ovs-vsctl command on both servers (to set up a case)."""
        self.stack.vsctl(*vsctl_args)
        self.other.vsctl(*vsctl_args)

    @defer.inlineCallbacks
    def assert_same(self, call_ovsdbus, *vsctl_args):
        """``call_ovsdbus()`` on A and ``ovs-vsctl ARGS`` on B leave the two databases alike (and
        changed)."""
        before = self.dump_b()
        yield call_ovsdbus()
        self.other.vsctl(*vsctl_args)
        after = self.dump_b()
        self.assertNotEqual(after, before, "ovs-vsctl %s changed nothing" % " ".join(vsctl_args))
        self.assertEqual(self.dump_a(), after)

    # -- writes ------------------------------------------------------------------------

    def test_set_map_key(self):
        """Set Bridge br0 other_config:x=y."""
        return self.assert_same(lambda: self.db("Set", "Bridge", "br0", {"other_config:x": typed("s", "y")}),
                                "set", "Bridge", "br0", "other_config:x=y")

    def test_set_optional_integer(self):
        """Set Port p1 tag=10."""
        return self.assert_same(lambda: self.db("Set", "Port", "p1", {"tag": typed("ax", [10])}),
                                "set", "Port", "p1", "tag=10")

    @defer.inlineCallbacks
    def test_add_and_remove(self):
        """Add Bridge br0 protocols OpenFlow13 OpenFlow14, then remove OpenFlow13; add and remove
        map pairs of external_ids."""
        yield self.assert_same(
            lambda: self.db("Add", "Bridge", "br0", "protocols", typed("as", ["OpenFlow13", "OpenFlow14"])),
            "add", "Bridge", "br0", "protocols", "OpenFlow13", "OpenFlow14")
        yield self.until_seen("Bridge", "br0", "protocols", ["OpenFlow13", "OpenFlow14"])
        yield self.assert_same(lambda: self.db("Remove", "Bridge", "br0", "protocols", typed("as", ["OpenFlow13"])),
                               "remove", "Bridge", "br0", "protocols", "OpenFlow13")
        yield self.assert_same(
            lambda: self.db("Add", "Port", "p1", "external_ids", typed("a{ss}", {"a": "1", "b": "2"})),
            "add", "Port", "p1", "external_ids", "a=1", "b=2")
        yield self.until_seen("Port", "p1", "external_ids", {"a": "1", "b": "2"})
        yield self.assert_same(lambda: self.db("Remove", "Port", "p1", "external_ids", typed("as", ["a"])),
                               "remove", "Port", "p1", "external_ids", "a")
        yield self.until_seen("Port", "p1", "external_ids", {"b": "2"})
        yield self.assert_same(lambda: self.db("Remove", "Port", "p1", "external_ids", typed("a{ss}", {"b": "2"})),
                               "remove", "Port", "p1", "external_ids", "b=2")

    @defer.inlineCallbacks
    def test_clear(self):
        """Clear Port p1 trunks and external_ids."""
        self.both("set", "Port", "p1", "trunks=1,2,3", "external_ids:k=v")
        yield self.until_seen("Port", "p1", "trunks", [1, 2, 3])
        yield self.assert_same(lambda: self.db("Clear", "Port", "p1", ["trunks", "external_ids"]),
                               "clear", "Port", "p1", "trunks", "external_ids")

    def test_create_and_reference(self):
        """``-- --id=@q create QoS type=linux-htb other_config:max-rate=1000000 -- set Port p1 qos=@q``
        as one Transact with a named reference."""
        def transact():
            return self.db("Transact", [
                ("Create", {"table": typed("s", "QoS"), "id": typed("s", "@q"),
                            "values": typed("a{sv}", {"type": typed("s", "linux-htb"),
                                                      "other_config": typed("a{ss}", {"max-rate": "1000000"})})}),
                ("Set", {"table": typed("s", "Port"), "record": typed("s", "p1"),
                         "values": typed("a{sv}", {"qos": typed("as", ["@q"])})}),
            ], {})
        return self.assert_same(transact, "--", "--id=@q", "create", "QoS", "type=linux-htb",
                                "other_config:max-rate=1000000", "--", "set", "Port", "p1", "qos=@q")

    @defer.inlineCallbacks
    def test_create_root_row_with_a_reference_by_path(self):
        """Create a Flow_Sample_Collector_Set whose bridge is given as an object path, like
        ``-- --id=@b get Bridge br0 -- create Flow_Sample_Collector_Set id=5 bridge=@b``."""
        [br0] = [r for r in (yield self.db("List", "Bridge", ["name"])) if r["name"] == "br0"]
        created = []

        @defer.inlineCallbacks
        def create():
            uuid = yield self.db("Create", "Flow_Sample_Collector_Set",
                                 {"id": typed("x", 5), "bridge": typed("o", br0["_path"])})
            created.append(uuid)
        yield self.assert_same(create, "--", "--id=@b", "get", "Bridge", "br0", "--",
                               "create", "Flow_Sample_Collector_Set", "id=5", "bridge=@b")
        self.assertTrue(is_uuid(created[0]), created)

    @defer.inlineCallbacks
    def test_destroy(self):
        """Destroy QoS p1 (the QoS of port p1, named as ovs-vsctl names it) unlinks it from the
        port, as ``destroy QoS p1 -- clear Port p1 qos`` does."""
        self.both("--", "--id=@q", "create", "QoS", "type=linux-htb", "--", "set", "Port", "p1", "qos=@q")
        yield self.until_seen("QoS", "p1")
        yield self.assert_same(lambda: self.db("Destroy", "QoS", ["p1"]),
                               "--", "destroy", "QoS", "p1", "--", "clear", "Port", "p1", "qos")

    @defer.inlineCallbacks
    def test_failed_batch_matches_failed_vsctl(self):
        """A batch whose last command fails leaves A as a failing ovs-vsctl chain leaves B: unchanged."""
        before = self.dump_a()
        try:
            yield self.db("Transact", [
                ("Set", {"table": typed("s", "Port"), "record": typed("s", "p1"),
                         "values": typed("a{sv}", {"tag": typed("ax", [7])})}),
                ("Set", {"table": typed("s", "Port"), "record": typed("s", "nonesuch"),
                         "values": typed("a{sv}", {"tag": typed("ax", [8])})}),
            ], {})
        except RemoteError as e:
            self.assertEqual(e.errName, realstack.ERROR + "NotFound")
            self.assertTrue(e.message.startswith("command 2 (Set Port nonesuch)"), e.message)
        else:
            self.fail("a batch with a missing port succeeded")
        with self.assertRaises(sandbox.SandboxError):
            self.other.vsctl("set", "Port", "p1", "tag=7", "--", "set", "Port", "nonesuch", "tag=8")
        self.assertEqual(self.dump_a(), before)
        self.assertEqual(self.dump_b(), before)

    # -- reads -------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_vsctl_changes_show_up(self):
        """What ovs-vsctl writes to A shows up in Get, List, Find and the object tree."""
        self.stack.vsctl("set", "Port", "p1", "tag=7", "external_ids:owner=me", "--",
                         "set", "Interface", "p2", "type=internal")
        yield self.until_seen("Port", "p1", "tag", [7])
        row = yield self.db("Get", "Port", "p1", ["tag", "external_ids", "external_ids:owner"])
        self.assertEqual((row["tag"], row["external_ids"], row["external_ids:owner"]), ([7], {"owner": "me"}, "me"))
        rows = yield self.db("List", "Interface", ["name", "type"])
        self.assertEqual(sorted((r["name"], r["type"]) for r in rows),
                         [("br0", "internal"), ("p1", ""), ("p2", "internal")])
        rows = yield self.db("Find", "Port", [("external_ids:owner", "=", typed("s", "me"))], ["name"])
        self.assertEqual([r["name"] for r in rows], ["p1"])
        port = [r for r in (yield self.db("List", "Port", ["name"])) if r["name"] == "p1"][0]
        props = yield call(self.client, "GetAll", "s", TABLE_INTERFACE + "Port",
                           interface="org.freedesktop.DBus.Properties", path=port["_path"])
        self.assertEqual((props["name"], props["tag"]), ("p1", [7]))
        self.assertTrue(port["_path"].startswith(OBJECT_PATH + "/"))

    @defer.inlineCallbacks
    def test_find_matches_vsctl_find(self):
        """For each operator, Find answers the rows ``ovs-vsctl find`` answers on the same server."""
        self.stack.vsctl("set", "Port", "p1", "tag=10", "trunks=1,2", "external_ids:k=v", "--",
                         "set", "Port", "p2", "tag=20", "trunks=1", "--",
                         "set", "Port", "br0", "external_ids:k=w")
        yield self.until_seen("Port", "br0", "external_ids", {"k": "w"})
        x, ax, s_ = (lambda v: typed("x", v)), (lambda v: typed("ax", v)), (lambda v: typed("s", v))
        cases = [
            ("tag", "=", ax([10]), "tag=10"),
            ("tag", "!=", ax([10]), "tag!=10"),
            ("tag", ">", x(5), "tag>5"),
            ("tag", ">=", x(20), "tag>=20"),
            ("tag", "<", x(20), "tag<20"),
            ("tag", "<=", x(20), "tag<=20"),
            ("tag", "=", ax([]), "tag=[]"),
            ("trunks", "=", ax([1, 2]), "trunks=1,2"),
            ("trunks", "{=}", ax([1]), "trunks{=}1"),
            ("trunks", "{!=}", ax([1]), "trunks{!=}1"),
            ("trunks", "{>=}", ax([1]), "trunks{>=}1"),
            ("trunks", "{>}", ax([1]), "trunks{>}1"),
            ("trunks", "{<=}", ax([1, 2]), "trunks{<=}1,2"),
            ("trunks", "{<}", ax([1, 2]), "trunks{<}1,2"),
            ("external_ids:k", "=", s_("v"), "external_ids:k=v"),
            ("external_ids:k", "!=", s_("v"), "external_ids:k!=v"),
            ("external_ids:k", ">", s_("v"), "external_ids:k>v"),
            ("name", ">=", s_("p1"), "name>=p1"),
        ]
        for column, op, value, text in cases:
            code, out, err = yield self.stack.vsctl_async("--bare", "--columns=name", "find", "Port", text)
            self.assertEqual(code, 0, err)
            expected = sorted(out.split())
            rows = yield self.db("Find", "Port", [(column, op, value)], ["name"])
            self.assertEqual(sorted(r["name"] for r in rows), expected, text)
