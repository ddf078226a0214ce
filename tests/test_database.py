"""End-to-end tests of ``org.openvswitch.ovsdb.Database``: the real ``twistd -n ovsdbus`` between a
real ovsdb-server and a private bus, called with ``busctl`` and ``gdbus`` the way users call it,
and checked with ``ovs-vsctl`` and ``ovsdb-client dump`` on the same server.

Without Open vSwitch, dbus-daemon and the D-Bus command-line tools installed these tests are
skipped, and fail instead when ``CI`` is set (see :mod:`tests.realstack`).
"""

import json
import re
import subprocess
import xml.etree.ElementTree as ElementTree

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from ovsdbus import api
from ovsdbus.testing import sandbox
from tests import realstack, test_access
from tests.realstack import BUS_NAME, DBUS_ERROR, ERROR, OBJECT_PATH, call, poll_until
from tests.test_service import _StackTests, gdbus_error_name

DATABASE = api.DATABASE_INTERFACE
INVALID_ARGS = DBUS_ERROR + "InvalidArgs"
NOT_FOUND = ERROR + "NotFound"
ALREADY_EXISTS = ERROR + "AlreadyExists"
TIMEOUT = ERROR + "Timeout"
ACCESS_DENIED = DBUS_ERROR + "AccessDenied"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def unwrap(value):
    """busctl's ``--json=short`` value with every variant ``{"type": T, "data": D}`` replaced by D."""
    if isinstance(value, dict):
        if set(value) == {"type", "data"}:
            return unwrap(value["data"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class DatabaseTests(_StackTests, TestCase):
    """Every Database method works from busctl and gdbus and agrees with ovs-vsctl both ways."""

    @defer.inlineCallbacks
    def setUp(self):
        yield super().setUp()
        self.stack.vsctl("add-br", "br0", "--", "add-port", "br0", "p0")
        self.addCleanup(self._drop_qos)
        yield self.until_bridges(["br0"])

    def _drop_qos(self):
        # Rows the tests made that deleting the bridges would not delete.
        self.stack.vsctl("--", "--if-exists", "clear", "Port", "p0", "qos", "--", "--if-exists", "clear", "Bridge",
                         "br0", "mirrors", "--", "--all", "destroy", "QoS", "--", "--all", "destroy", "Queue")

    @defer.inlineCallbacks
    def busctl(self, method, signature="", *args):
        """``busctl --json=short call`` a Database method: its unwrapped result (None for none);
        AssertionError with busctl's message if it fails."""
        extra = [signature, *[str(a) for a in args]] if signature else []
        code, out, err = yield realstack.busctl(self.bus, "--json=short", "call", BUS_NAME, OBJECT_PATH, DATABASE,
                                                method, *extra)
        self.assertEqual(code, 0, "busctl %s %s failed: %s" % (method, args, err))
        if not out.strip():
            return None
        data = unwrap(json.loads(out)["data"])
        return data[0] if len(data) == 1 else data

    @defer.inlineCallbacks
    def gdbus(self, method, *args):
        """``gdbus call`` a Database method with GVariant text arguments: ``(code, stdout, stderr)``."""
        result = yield realstack.gdbus_call(self.bus, method, *args, interface=DATABASE)
        return result

    @defer.inlineCallbacks
    def gdbus_fails(self, expected, method, *args, message=None):
        """gdbus's call fails with D-Bus error ``expected`` (and ``message`` in the text)."""
        code, out, err = yield self.gdbus(method, *args)
        self.assertNotEqual(code, 0, "%s%s succeeded: %s" % (method, args, out))
        self.assertEqual(gdbus_error_name(err), expected, err)
        if message is not None:
            self.assertIn(message, err)
        return err

    # -- every method, from busctl -------------------------------------------------------------

    @defer.inlineCallbacks
    def test_every_method_by_busctl(self):
        """Get, List, Find, Set, Add, Remove, Clear, Create, Destroy, WaitUntil, Transact and GetSchema
        called with busctl do what the matching ovs-vsctl command does, as ovs-vsctl sees it."""
        got = yield self.busctl("Get", "ssas", "Bridge", "br0", 2, "name", "fail_mode")
        self.assertEqual(got, {"name": "br0", "fail_mode": [], "_uuid": self.stack.vsctl("get", "Bridge", "br0",
                                                                                        "_uuid").strip(),
                               "_path": OBJECT_PATH + "/bridge/br0"})
        yield self.busctl("Set", "ssa{sv}", "Bridge", "br0", 2, "fail_mode", "as", 1, "secure",
                          "other_config:hwaddr", "s", "02:00:00:00:00:01")
        self.assertEqual(self.stack.vsctl("get", "Bridge", "br0", "fail_mode").strip(), "secure")
        self.assertEqual(self.stack.vsctl("get", "Bridge", "br0", "other_config:hwaddr").strip(),
                         '"02:00:00:00:00:01"')
        yield self.busctl("Add", "sssv", "Bridge", "br0", "external_ids", "a{ss}", 2, "a", "1", "b", "2")
        self.assertEqual(self.stack.vsctl("get", "Bridge", "br0", "external_ids").strip(), '{a="1", b="2"}')
        yield self.busctl("Remove", "sssv", "Bridge", "br0", "external_ids", "as", 1, "a")
        self.assertEqual(self.stack.vsctl("get", "Bridge", "br0", "external_ids").strip(), '{b="2"}')
        yield self.busctl("Clear", "ssas", "Bridge", "br0", 1, "external_ids")
        self.assertEqual(self.stack.vsctl("get", "Bridge", "br0", "external_ids").strip(), "{}")
        # A record may be named by its object path, or by its uuid.
        self.assertEqual((yield self.busctl("Get", "ssas", "Bridge", OBJECT_PATH + "/bridge/br0", 1,
                                            "fail_mode"))["fail_mode"], ["secure"])
        self.assertEqual((yield self.busctl("Get", "ssas", "Bridge", got["_uuid"], 1, "name"))["name"], "br0")
        rows = yield self.busctl("List", "sas", "Port", 1, "name")
        self.assertEqual(sorted(r["name"] for r in rows), ["br0", "p0"])
        self.assertTrue(all(UUID_RE.match(r["_uuid"]) and r["_path"].startswith(OBJECT_PATH + "/") for r in rows))
        rows = yield self.busctl("Find", "sa(ssv)as", "Bridge", 1, "fail_mode", "=", "s", "secure", 1, "name")
        self.assertEqual([r["name"] for r in rows], ["br0"])
        uuid = yield self.busctl("Create", "sa{sv}", "QoS", 1, "type", "s", "linux-htb")
        self.assertRegex(uuid, UUID_RE)
        self.assertEqual(self.stack.vsctl("get", "QoS", uuid, "type").strip(), "linux-htb")
        yield self.busctl("WaitUntil", "ssa(ssv)d", "QoS", uuid, 1, "type", "=", "s", "linux-htb", 5)
        yield self.busctl("Destroy", "sas", "QoS", 1, uuid)
        self.assertEqual(self.stack.vsctl("--columns=_uuid", "list", "QoS").strip(), "")
        results = yield self.busctl("Transact", "a(sa{sv})a{sv}", 2,
                                    "CreateBridge", 1, "name", "s", "br1",
                                    "AddPort", 2, "bridge", "s", "br1", "port", "s", "p1", 0)
        self.assertEqual([r["changed"] for r in results], [True, True])
        self.assertEqual(self.stack.vsctl("list-ports", "br1").split(), ["p1"])
        schema = json.loads((yield self.busctl("GetSchema")))
        self.assertEqual(schema["name"], "Open_vSwitch")
        self.assertIn("Bridge", schema["tables"])

    # -- every method, from gdbus --------------------------------------------------------------

    @defer.inlineCallbacks
    def test_every_method_by_gdbus(self):
        """The same through gdbus (GLib's client, which types the arguments by introspection)."""
        ok = []

        @defer.inlineCallbacks
        def run(method, *args):
            code, out, err = yield self.gdbus(method, *args)
            self.assertEqual(code, 0, "gdbus %s %s: %s" % (method, args, err))
            ok.append(method)
            return out

        out = yield run("Get", "Bridge", "br0", "['name', 'datapath_type']")
        self.assertIn("'name': <'br0'>", out)
        yield run("Set", "Port", "p0", "{'tag': <[int64 10]>, 'external_ids:k': <'v'>}")
        self.assertEqual(self.stack.vsctl("get", "Port", "p0", "tag").strip(), "10")
        self.assertEqual(self.stack.vsctl("get", "Port", "p0", "external_ids:k").strip(), "v")
        yield run("Add", "Port", "p0", "trunks", "<[int64 1, 2, 3]>")
        yield run("Remove", "Port", "p0", "trunks", "<[int64 2]>")
        self.assertEqual(self.stack.vsctl("get", "Port", "p0", "trunks").strip(), "[1, 3]")
        yield run("Clear", "Port", "p0", "['trunks', 'tag']")
        self.assertEqual(self.stack.vsctl("get", "Port", "p0", "trunks").strip(), "[]")
        out = yield run("List", "Interface", "['name', 'type']")
        self.assertIn("'p0'", out)
        out = yield run("Find", "Interface", "[('type', '=', <'internal'>)]", "['name']")
        self.assertIn("'br0'", out)
        self.assertNotIn("'p0'", out)
        out = yield run("Create", "Queue", "{'other_config': <{'max-rate': '1000'}>}")
        uuid = re.search(r"'([0-9a-f-]{36})'", out).group(1)
        yield run("WaitUntil", "Queue", uuid, "[('other_config:max-rate', '=', <'1000'>)]", "5.0")
        yield run("Destroy", "Queue", "['%s']" % uuid)
        out = yield run("Transact", "[('Set', {'table': <'Port'>, 'record': <'p0'>, "
                                    "'values': <{'tag': <[int64 7]>}>})]", "{'comment': <'from gdbus'>}")
        self.assertIn("'changed': <true>", out)
        self.assertEqual(self.stack.vsctl("get", "Port", "p0", "tag").strip(), "7")
        out = yield run("GetSchema")
        self.assertIn("Open_vSwitch", out)
        self.assertEqual(sorted(ok), sorted(m.name for m in api.DATABASE_SPEC.methods))

    # -- what ovs-vsctl does shows up -----------------------------------------------------------

    @defer.inlineCallbacks
    def test_vsctl_changes_show_up(self):
        """A change made with ovs-vsctl shows up in Get, List and Find (once the replica has it)."""
        self.stack.vsctl("set", "Bridge", "br0", "other_config:seen=yes", "--", "set", "Port", "p0", "tag=42")

        @defer.inlineCallbacks
        def seen():
            got = yield self.busctl("Get", "ssas", "Bridge", "br0", 1, "other_config:seen")
            return got.get("other_config:seen") == "yes"
        yield poll_until(seen, what="other_config:seen in Get")
        rows = yield self.busctl("Find", "sa(ssv)as", "Port", 1, "tag", "=", "ax", 1, 42, 1, "name")
        self.assertEqual([r["name"] for r in rows], ["p0"])
        rows = yield self.busctl("List", "sas", "Port", 1, "tag")
        self.assertEqual(sorted(r["tag"] for r in rows), [[], [42]])

    # -- batches ---------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_named_references(self):
        """A row created in a batch under ``id: "@name"`` can be referred to by later commands: a
        Mirror (not a root table) created and added to a bridge in one Transact, and a QoS set on a
        port; the results give the new rows' uuids and paths."""
        results = yield self.busctl(
            "Transact", "a(sa{sv})a{sv}", 4,
            "Create", 3, "table", "s", "Mirror", "values", "a{sv}", 1, "name", "s", "m0", "id", "s", "@m",
            "Add", 4, "table", "s", "Bridge", "record", "s", "br0", "column", "s", "mirrors", "values", "as", 1, "@m",
            "Create", 3, "table", "s", "QoS", "values", "a{sv}", 1, "type", "s", "linux-htb", "id", "s", "@q",
            "Set", 3, "table", "s", "Port", "record", "s", "p0", "values", "a{sv}", 1, "qos", "as", 1, "@q", 0)
        mirror, qos = results[0]["uuid"], results[2]["uuid"]
        self.assertRegex(mirror, UUID_RE)
        self.assertTrue(results[0]["path"].startswith(OBJECT_PATH + "/"))
        self.assertEqual(self.stack.vsctl("get", "Bridge", "br0", "mirrors").strip(), "[%s]" % mirror)
        self.assertEqual(self.stack.vsctl("get", "Port", "p0", "qos").strip(), qos)
        self.stack.vsctl("clear", "Bridge", "br0", "mirrors", "--", "clear", "Port", "p0", "qos")

    @defer.inlineCallbacks
    def test_readme_examples(self):
        """The README's busctl and gdbus examples do what it says (on port p0 of a private bus)."""
        yield self.busctl("Set", "ssa{sv}", "Port", "p0", 2, "tag", "ax", 1, 10, "external_ids:owner", "s", "me")
        self.assertEqual(self.stack.vsctl("get", "Port", "p0", "tag", "external_ids:owner").split(), ["10", "me"])
        code, out, err = yield self.gdbus(
            "Transact", "[('Create', {'table': <'QoS'>, 'values': <{'type': <'linux-htb'>}>, 'id': <'@q'>}),\n"
                        "  ('Set', {'table': <'Port'>, 'record': <'p0'>, 'values': <{'qos': <['@q']>}>})]",
            "@a{sv} {}")
        self.assertEqual(code, 0, err)
        qos = re.search(r"'uuid': <'([0-9a-f-]{36})'>", out).group(1)
        self.assertEqual(self.stack.vsctl("get", "Port", "p0", "qos").strip(), qos)

    @defer.inlineCallbacks
    def test_failed_batch_changes_nothing(self):
        """When the last of several commands fails, nothing of the batch is done: the error names the
        command and has the cause's name, and ovsdb-client dump is unchanged."""
        before = self.stack.dump()
        err = yield self.gdbus_fails(
            ALREADY_EXISTS, "Transact",
            "[('CreateBridge', {'name': <'br9'>}), ('AddPort', {'bridge': <'br9'>, 'port': <'p9'>}), "
            "('AddPort', {'bridge': <'br0'>, 'port': <'p0'>})]", "@a{sv} {}")
        self.assertIn("command 3 (AddPort br0 p0)", err)
        self.assertEqual(self.stack.dump(), before)
        # Later commands see earlier ones: the same port twice in one batch is AlreadyExists too.
        err = yield self.gdbus_fails(
            ALREADY_EXISTS, "Transact",
            "[('AddPort', {'bridge': <'br0'>, 'port': <'p8'>}), ('AddPort', {'bridge': <'br0'>, 'port': <'p8'>})]",
            "@a{sv} {}")
        self.assertIn("command 2 (AddPort br0 p8)", err)
        self.assertEqual(self.stack.dump(), before)

    @defer.inlineCallbacks
    def test_concurrent_batches_exactly_once(self):
        """Two clients sending the same batch at once: exactly one succeeds, the other gets AlreadyExists,
        and the port exists once."""
        batch = "[('AddPort', {'bridge': <'br0'>, 'port': <'race0'>}), ('Set', {'table': <'Port'>, " \
                "'record': <'race0'>, 'values': <{'tag': <[int64 5]>}>})]"
        results = yield defer.gatherResults([self.gdbus("Transact", batch, "@a{sv} {}") for _ in range(2)])
        codes = sorted(code for code, _out, _err in results)
        self.assertEqual(codes[0], 0, results)
        self.assertNotEqual(codes[1], 0, results)
        [failed] = [err for code, _out, err in results if code != 0]
        self.assertEqual(gdbus_error_name(failed), ALREADY_EXISTS, failed)
        self.assertEqual(self.stack.vsctl("list-ports", "br0").split(), ["p0", "race0"])
        self.assertEqual(self.stack.vsctl("get", "Port", "race0", "tag").strip(), "5")

    @defer.inlineCallbacks
    def test_dry_run_changes_nothing(self):
        """dry_run checks everything and changes nothing: a good batch succeeds without effect, a bad
        one reports the error a real run would."""
        before = self.stack.dump()
        code, out, err = yield self.gdbus("Transact", "[('CreateBridge', {'name': <'dry0'>})]",
                                          "{'dry_run': <true>}")
        self.assertEqual(code, 0, err)
        self.assertIn("'dry_run': <true>", out)
        yield self.gdbus_fails(ALREADY_EXISTS, "Transact", "[('CreateBridge', {'name': <'br0'>})]",
                               "{'dry_run': <true>}")
        self.assertEqual(self.stack.dump(), before)

    # -- errors ------------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_bad_input_named_errors_nothing_changed(self):
        """Bad input gets a clear, named error (InvalidArgs naming table, column and signature;
        NotFound; Timeout), the database is unchanged and the service keeps running."""
        before = self.stack.dump()
        cases = [
            (INVALID_ARGS, "Nope", ("Get", "Nope", "x", "@as []")),
            (NOT_FOUND, "nosuch", ("Get", "Bridge", "nosuch", "@as []")),
            (INVALID_ARGS, "Bridge.fail_mode: expected as", ("Set", "Bridge", "br0", "{'fail_mode': <['bogus']>}")),
            (INVALID_ARGS, "Port.tag: expected ax", ("Set", "Port", "p0", "{'tag': <[int64 5000]>}")),
            (INVALID_ARGS, "Port.tag: expected ax", ("Set", "Port", "p0", "{'tag': <['ten']>}")),
            (INVALID_ARGS, "colour", ("Set", "Bridge", "br0", "{'colour': <'red'>}")),
            (INVALID_ARGS, "Bridge.name", ("Add", "Bridge", "br0", "name", "<['x']>")),
            (INVALID_ARGS, "operator", ("Find", "Bridge", "[('name', '~', <'x'>)]", "@as []")),
            (INVALID_ARGS, "timeout", ("WaitUntil", "Bridge", "br0", "@a(ssv) []", "0.0")),
            (TIMEOUT, None, ("WaitUntil", "Bridge", "br0", "[('fail_mode', '=', <'secure'>)]", "0.3")),
            (INVALID_ARGS, "command 2 (Set Port p9): Port.tag",
             ("Transact", "[('AddPort', {'bridge': <'br0'>, 'port': <'p9'>}), "
                          "('Set', {'table': <'Port'>, 'record': <'p9'>, 'values': <{'tag': <[int64 5000]>}>})]",
              "@a{sv} {}")),
            (INVALID_ARGS, "unknown verb", ("Transact", "[('Frobnicate', @a{sv} {})]", "@a{sv} {}")),
            (INVALID_ARGS, "@nowhere", ("Transact", "[('Set', {'table': <'Port'>, 'record': <'p0'>, "
                                                    "'values': <{'qos': <['@nowhere']>}>})]", "@a{sv} {}")),
            (INVALID_ARGS, "dryrun", ("Transact", "[('ListBridges', @a{sv} {})]", "{'dryrun': <true>}")),
        ]
        for expected, message, (method, *args) in cases:
            yield self.gdbus_fails(expected, method, *args, message=message)
        self.assertEqual(self.stack.dump(), before)

    # -- introspection -----------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_introspection_names_arguments_and_docs(self):
        """Introspection of the root shows the Database interface with every method's argument names
        and a doc annotation; gdbus introspect shows them too."""
        xml = yield call(self.client, "Introspect", interface="org.freedesktop.DBus.Introspectable")
        [iface] = [i for i in ElementTree.fromstring(xml).findall("interface") if i.get("name") == DATABASE]
        found = {m.get("name"): [(a.get("name"), a.get("type"), a.get("direction")) for a in m.findall("arg")]
                 for m in iface.findall("method")}
        self.assertEqual(found["Get"], [("table", "s", "in"), ("record", "s", "in"), ("columns", "as", "in"),
                                        ("values", "a{sv}", "out")])
        self.assertEqual(found["Transact"], [("commands", "a(sa{sv})", "in"), ("options", "a{sv}", "in"),
                                             ("results", "aa{sv}", "out")])
        self.assertEqual(set(found), {m.name for m in api.DATABASE_SPEC.methods})
        for m in iface.findall("method"):
            docs = [a.get("value") for a in m.findall("annotation") if a.get("name") == api.DOC_ANNOTATION]
            self.assertTrue(docs and docs[0], m.get("name"))
        code, out, err = yield realstack.run([sandbox.find_binary("gdbus"), "introspect", "--address", self.bus,
                                              "--dest", BUS_NAME, "--object-path", OBJECT_PATH])
        self.assertEqual(code, 0, err)
        for line in ("interface org.openvswitch.ovsdb.Database", "Get(in  s table,", "in  as columns,",
                     "out a{sv} values);", "WaitUntil(in  s table,", "in  d timeout);"):
            self.assertIn(line, out)


class DatabaseAccessTests(TestCase):
    """On a bus configured like the system bus, with the policy file we ship (see tests/test_access.py):
    every mutating Database method is refused to nobody, reads are open to everyone."""

    service_args = test_access.AccessTests.service_args
    stack = None
    start_stack = test_access.AccessTests.__dict__["start_stack"]
    tearDownClass = test_access.AccessTests.__dict__["tearDownClass"]
    setUp = test_access.AccessTests.setUp
    dump = test_access.AccessTests.dump

    def busctl(self, method, signature="", *args, user=None):
        """busctl call a Database method as root or as ``user``: ``(returncode, output)``."""
        argv = ["busctl", "--address=" + self.bus.address, "call", BUS_NAME, OBJECT_PATH, DATABASE, method]
        if signature:
            argv += [signature, *[str(a) for a in args]]
        if user is not None:
            argv = ["setpriv", "--reuid=" + user, "--regid=nogroup", "--clear-groups"] + argv
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return done.returncode, (done.stdout + done.stderr).strip()

    def test_nobody_cannot_write_but_can_read(self):
        """nobody gets AccessDenied from Set, Add, Remove, Clear, Create, Destroy and Transact, with the
        database unchanged; nobody's Get, List, Find, WaitUntil and GetSchema work; root's writes work."""
        self.ovsdb.vsctl("--may-exist", "add-br", "acc0")
        before = self.dump()
        writes = [("Set", "ssa{sv}", ["Bridge", "acc0", 1, "fail_mode", "as", 1, "secure"]),
                  ("Add", "sssv", ["Bridge", "acc0", "external_ids", "a{ss}", 1, "k", "v"]),
                  ("Remove", "sssv", ["Bridge", "acc0", "external_ids", "as", 1, "k"]),
                  ("Clear", "ssas", ["Bridge", "acc0", 1, "external_ids"]),
                  ("Create", "sa{sv}", ["QoS", 1, "type", "s", "linux-htb"]),
                  ("Destroy", "sas", ["Bridge", 1, "acc0"]),
                  ("Transact", "a(sa{sv})a{sv}", [1, "CreateBridge", 1, "name", "s", "evil0", 0])]
        self.assertEqual({w[0] for w in writes}, {m.name for m in api.DATABASE_SPEC.methods if m.mutating})
        for method, sig, args in writes:
            code, out = self.busctl(method, sig, *args, user="nobody")
            self.assertNotEqual(code, 0, method)
            self.assertIn("Access denied", out, method)
        self.assertEqual(self.dump(), before)
        reads = [("Get", "ssas", ["Bridge", "acc0", 1, "name"]), ("List", "sas", ["Bridge", 0]),
                 ("Find", "sa(ssv)as", ["Bridge", 1, "name", "=", "s", "acc0", 0]),
                 ("WaitUntil", "ssa(ssv)d", ["Bridge", "acc0", 0, 5]), ("GetSchema", "", [])]
        for method, sig, args in reads:
            code, out = self.busctl(method, sig, *args, user="nobody")
            self.assertEqual(code, 0, "%s: %s" % (method, out))
        code, out = self.busctl("Set", "ssa{sv}", "Bridge", "acc0", 1, "fail_mode", "as", 1, "secure")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.ovsdb.vsctl("get", "Bridge", "acc0", "fail_mode").strip(), "secure")
        self.ovsdb.vsctl("del-br", "acc0")
