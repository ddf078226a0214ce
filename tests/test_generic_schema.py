"""The generic layer against a second schema: ovsdbus knows no table of the database it serves.

``tests/data/zoo.ovsschema`` was written for these tests (it shares nothing with
vswitch.ovsschema).  Its database ``Zoo`` has:

- ``Park``: a root table with at most one row (named ``.``), a string, an integer with a
  minimum and a string map;
- ``Enclosure``: a root table with a unique index on ``name``; a strong set of references to
  ``Animal`` rows, an integer with minimum and maximum (``capacity``), an optional enum
  (``climate``), an optional string with length bounds (``code``), a bounded set of bounded
  integers (``feeding_hours``) and a string map (``labels``);
- ``Animal``: a non-root table (rows live only while an enclosure refers to them), with an
  optional enum, an optional real, a boolean and a map with integer keys (``tags``);
- ``Ticket``: a root table with a ``name`` that is not unique (two tickets may share a name:
  ``Ambiguous``) and a strong reference to one enclosure that it cannot do without;
- ``Keeper``: a root table without a name column (named by uuid or object path), an integer
  whose default breaks its minimum (``badge``), a strong set of enclosures and a weak set of
  animals.

:class:`ZooServedByFake` and :class:`ZooServedByOvsdbServer` check that the fake OVSDB and a
real ovsdb-server serve this schema alike.  The D-Bus tests run ``twistd -n ovsdbus --database
Zoo`` against ovsdb-server (:class:`GenericVerbsOnOvsdbServer`) and against the fake run as a
program (:class:`GenericVerbsOnFakeOvsdb`), and call the methods of
``org.openvswitch.ovsdb.Database`` and read the object tree as a user would, checking the
database itself with a raw OVSDB client.
"""

import atexit
import json
import os
import shutil
import tempfile

from twisted.internet import defer, reactor
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from twisted.python import usage
from twisted.trial.unittest import TestCase
from txdbus.error import RemoteError

from ovsdbus import tap
from ovsdbus.ovsdb.client import OvsdbClientProtocol
from ovsdbus.ovsdb.schema import is_uuid
from ovsdbus.testing import sandbox
from tests import realstack
from tests.realstack import DBUS_ERROR, ERROR, OBJECT_PATH, call, get_property, poll_until

ZOO_SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "zoo.ovsschema")
ZOO = "Zoo"
ROOT_TABLES = ("Park", "Enclosure", "Ticket", "Keeper")
ALL_TABLES = ("Park", "Enclosure", "Animal", "Ticket", "Keeper")

DATABASE = "org.openvswitch.ovsdb.Database"
TABLE_INTERFACE = "org.openvswitch.ovsdb.Table."
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"

INVALID_ARGS = DBUS_ERROR + "InvalidArgs"
NOT_FOUND = ERROR + "NotFound"
AMBIGUOUS = ERROR + "Ambiguous"
ALREADY_EXISTS = ERROR + "AlreadyExists"
CONSTRAINT_VIOLATION = ERROR + "ConstraintViolation"
REFERENTIAL_INTEGRITY = ERROR + "ReferentialIntegrity"
NOT_SUPPORTED = ERROR + "NotSupported"
TIMEOUT = ERROR + "Timeout"

#: The D-Bus signatures of the methods of org.openvswitch.ovsdb.Database (issue 7's contract).
SIGNATURES = {"Get": "ssas", "List": "sas", "Find": "sa(ssv)as", "Set": "ssa{sv}", "Add": "sssv", "Remove": "sssv",
              "Clear": "ssas", "Create": "sa{sv}", "Destroy": "sas", "WaitUntil": "ssa(ssv)d",
              "Transact": "a(sa{sv})a{sv}", "GetSchema": ""}


def typed(signature, value):
    """``value``, marked to cross D-Bus inside a variant as ``signature``.

    txdbus guesses a variant's type from the Python value (an int becomes ``i``, an empty list
    cannot be sent at all); a ``dbusSignature`` attribute overrides the guess.
    """
    base = int if isinstance(value, bool) else type(value)
    return type("Typed", (base,), {"dbusSignature": signature})(value)


def columns_of(row):
    """A row dict from Get/List/Find without the ``_uuid``/``_path`` members."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


# -- raw OVSDB ---------------------------------------------------------------------------------

@defer.inlineCallbacks
def connect_ovsdb(testcase, socket_path):
    """A raw RFC 7047 client on ``socket_path``, disconnected at cleanup."""
    client = OvsdbClientProtocol(reactor, request_timeout=10)
    yield connectProtocol(UNIXClientEndpoint(reactor, str(socket_path)), client)

    def disconnect():
        d = client.on_disconnect
        client.disconnect()
        return d if d is not None else defer.succeed(None)
    testcase.addCleanup(disconnect)
    return client


def canonical(value):
    """An OVSDB JSON value in one spelling: a one-element set as a set, sets and maps sorted."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return ["set", sorted((canonical(v) for v in value[1]), key=json.dumps)]
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return ["map", sorted(([canonical(k), canonical(v)] for k, v in value[1]), key=json.dumps)]
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value
    if isinstance(value, (list, dict)):
        raise ValueError("not an OVSDB value: %r" % (value,))
    return ["set", [value]]


class _RawOvsdb:
    """Raw OVSDB access for a test that has ``self.ovsdb`` (a connected :class:`OvsdbClientProtocol`)."""

    def raw_results(self, *ops):
        """The result list of a Zoo transaction, errors included."""
        return self.ovsdb.request("transact", [ZOO] + list(ops))

    @defer.inlineCallbacks
    def raw(self, *ops):
        """Run a Zoo transaction that must succeed; its result list."""
        results = yield self.raw_results(*ops)
        errors = [r for r in results if isinstance(r, dict) and "error" in r]
        self.assertEqual(errors, [], "transaction %r failed: %r" % (ops, results))
        return results

    @defer.inlineCallbacks
    def select(self, table, where=()):
        """The rows of ``table`` (matching ``where``), as raw JSON dicts."""
        [result] = yield self.raw({"op": "select", "table": table, "where": list(where)})
        return result["rows"]

    @defer.inlineCallbacks
    def snapshot(self):
        """The whole database, uuids and versions included, in one spelling: two snapshots are
        equal exactly when nothing changed in between."""
        results = yield self.raw(*[{"op": "select", "table": t, "where": []} for t in ALL_TABLES])
        return {table: sorted((json.dumps({c: canonical(v) for c, v in row.items()}, sort_keys=True)
                               for row in result["rows"]))
                for table, result in zip(ALL_TABLES, results, strict=True)}


# -- the schema served alike by the fake and by ovsdb-server --------------------------------------

class _ZooServedAlike(_RawOvsdb):
    """What a client sees of the zoo database; ``server_class`` says which server."""

    server_class = None

    @defer.inlineCallbacks
    def setUp(self):
        if self.server_class is sandbox.OvsdbServer:
            realstack.require_programs("ovsdb-tool", "ovsdb-server")
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, directory, True)
        server = self.server_class(directory, schema=ZOO_SCHEMA).start()
        self.addCleanup(server.stop)
        self.ovsdb = yield connect_ovsdb(self, server.socket_path)

    @defer.inlineCallbacks
    def error_of(self, *ops):
        """``(error, details)`` of the first failing operation of a transaction that must fail."""
        results = yield self.raw_results(*ops)
        failed = [r for r in results if isinstance(r, dict) and "error" in r]
        self.assertTrue(failed, "transaction %r succeeded: %r" % (ops, results))
        return failed[0]["error"], failed[0].get("details")

    @defer.inlineCallbacks
    def test_schema(self):
        """get_schema gives the zoo schema: its name, tables and columns."""
        schema = yield self.ovsdb.get_schema(ZOO)
        with open(ZOO_SCHEMA, encoding="utf-8") as f:
            written = json.load(f)
        self.assertEqual(schema["name"], ZOO)
        self.assertEqual({t: sorted(s["columns"]) for t, s in schema["tables"].items()},
                         {t: sorted(s["columns"]) for t, s in written["tables"].items()})

    @defer.inlineCallbacks
    def test_default_that_breaks_a_constraint_is_refused(self):
        """A Keeper inserted without a badge gets the default 0, below the minimum of 1: the insert
        fails with the server's words, and nothing is inserted."""
        error = yield self.error_of({"op": "insert", "table": "Keeper", "row": {"on_duty": True}})
        self.assertEqual(error, ("constraint violation", "0 is less than minimum allowed value 1"))
        self.assertEqual((yield self.select("Keeper")), [])
        yield self.raw({"op": "insert", "table": "Keeper", "row": {"badge": 1}})
        self.assertEqual([r["badge"] for r in (yield self.select("Keeper"))], [1])

    @defer.inlineCallbacks
    def test_bounds(self):
        """Integer range, enum, string length, set size and the Park's one row are enforced."""
        cases = [
            ({"name": "a", "capacity": 51},
             ("constraint violation", "51 is not in the valid range 0 to 50 (inclusive)")),
            ({"name": "a", "climate": "humid"}, "constraint violation"),
            ({"name": "a", "code": "ab"}, "constraint violation"),
            ({"name": "a", "feeding_hours": ["set", [1, 2, 3, 4, 5]]}, "syntax error"),
            ({"name": "a", "feeding_hours": 24}, "constraint violation"),
        ]
        for row, expected in cases:
            error = yield self.error_of({"op": "insert", "table": "Enclosure", "row": row})
            self.assertEqual(error if isinstance(expected, tuple) else error[0], expected, row)
        error = yield self.error_of({"op": "insert", "table": "Park", "row": {}},
                                    {"op": "insert", "table": "Park", "row": {}})
        self.assertEqual(error[0], "constraint violation")
        self.assertIn("Park", error[1])
        self.assertEqual((yield self.snapshot()), {t: [] for t in ALL_TABLES})

    @defer.inlineCallbacks
    def test_unique_name_and_required_reference(self):
        """Two enclosures cannot share a name; a ticket cannot be without an enclosure."""
        yield self.raw({"op": "insert", "table": "Enclosure", "row": {"name": "pen"}})
        error = yield self.error_of({"op": "insert", "table": "Enclosure", "row": {"name": "pen"}})
        self.assertEqual(error[0], "constraint violation")
        error = yield self.error_of({"op": "insert", "table": "Ticket", "row": {"name": "t"}})
        self.assertEqual(error[0], "referential integrity violation")

    @defer.inlineCallbacks
    def test_collection_and_weak_references(self):
        """An animal no enclosure holds is collected, and a keeper's weak reference to it goes too."""
        yield self.raw({"op": "insert", "table": "Animal", "row": {"name": "stray"}})
        self.assertEqual((yield self.select("Animal")), [])
        yield self.raw(
            {"op": "insert", "table": "Animal", "row": {"name": "leo", "tags": ["map", [[1, "lion"]]]},
             "uuid-name": "leo"},
            {"op": "insert", "table": "Enclosure", "row": {"name": "pen", "animals": ["named-uuid", "leo"]}},
            {"op": "insert", "table": "Keeper", "row": {"badge": 7, "favourites": ["named-uuid", "leo"]}})
        [animal] = yield self.select("Animal")
        self.assertEqual((animal["name"], animal["tags"]), ("leo", ["map", [[1, "lion"]]]))
        [keeper] = yield self.select("Keeper")
        self.assertEqual(keeper["favourites"], animal["_uuid"])
        yield self.raw({"op": "mutate", "table": "Enclosure", "where": [["name", "==", "pen"]],
                        "mutations": [["animals", "delete", ["set", [animal["_uuid"]]]]]})
        self.assertEqual((yield self.select("Animal")), [])
        [keeper] = yield self.select("Keeper")
        self.assertEqual(keeper["favourites"], ["set", []])


    @defer.inlineCallbacks
    def test_weak_reference_left_dangling(self):
        """ovsdb-server 3.1 removes weak references to deleted rows table by table, in the order
        the transaction first touched the tables (those of garbage-collected rows last): a
        keeper the transaction changed before it touched the animals keeps its weak reference to
        a deleted animal, dangling, and monitors send it so.  Otherwise the reference goes."""
        keeper_on_duty = {"op": "update", "table": "Keeper", "where": [], "row": {"on_duty": True}}
        empty_pen = {"op": "update", "table": "Enclosure", "where": [], "row": {"animals": ["set", []]}}
        delete_animals = {"op": "delete", "table": "Animal", "where": []}
        cases = [
            ([keeper_on_duty, empty_pen], True),                   # collected after the keeper changed
            ([empty_pen, keeper_on_duty], True),                   # collected: its table comes last
            ([keeper_on_duty, empty_pen, delete_animals], True),   # deleted after the keeper changed
            ([empty_pen, delete_animals, keeper_on_duty], False),  # deleted before the keeper changed
            ([empty_pen], False),                                  # the keeper did not change
        ]
        for ops, dangles in cases:
            yield self.raw(*[{"op": "delete", "table": t, "where": []} for t in ROOT_TABLES])
            yield self.raw(
                {"op": "insert", "table": "Animal", "row": {"name": "leo"}, "uuid-name": "leo"},
                {"op": "insert", "table": "Enclosure", "row": {"name": "pen", "animals": ["named-uuid", "leo"]}},
                {"op": "insert", "table": "Keeper", "row": {"badge": 7, "favourites": ["named-uuid", "leo"]}})
            [leo] = yield self.select("Animal")
            yield self.raw(*ops)
            self.assertEqual((yield self.select("Animal")), [])
            [keeper] = yield self.select("Keeper")
            self.assertEqual(keeper["favourites"], leo["_uuid"] if dangles else ["set", []], ops)


class ZooServedByFake(_ZooServedAlike, TestCase):
    """The zoo schema served by the fake OVSDB, run as a program (``python -m ovsdbus.testing``)."""

    server_class = sandbox.FakeOvsdbServer


class ZooServedByOvsdbServer(_ZooServedAlike, TestCase):
    """The zoo schema served by a real ovsdb-server."""

    server_class = sandbox.OvsdbServer


# -- the --database option -------------------------------------------------------------------------

class DatabaseOptionTests(TestCase):
    """``twistd ovsdbus --database NAME``."""

    def options(self, *argv):
        options = tap.Options()
        options.parseOptions(list(argv))
        return options

    def test_default_is_open_vswitch(self):
        """Without --database the service serves Open_vSwitch."""
        self.assertEqual(self.options()["database"], "Open_vSwitch")

    def test_other_database(self):
        """--database names any other database."""
        self.assertEqual(self.options("--database", ZOO)["database"], ZOO)

    def test_bad_names_are_refused(self):
        """A name OVSDB cannot have is a usage error naming the option."""
        for name in ("", "9lives", "Open vSwitch", "a-b"):
            with self.assertRaises(usage.UsageError) as caught:
                self.options("--database", name)
            self.assertIn("--database", str(caught.exception))


# -- the service on the zoo database -------------------------------------------------------------

class ZooStack(realstack.RealStack):
    """ovsdb-server (or, with ``fake``, the fake OVSDB as a program) serving the zoo database, a
    private bus, and ``twistd -n ovsdbus --database Zoo``."""

    def __init__(self, fake):
        super().__init__(service_args=("--database", ZOO))
        server_class = sandbox.FakeOvsdbServer if fake else sandbox.OvsdbServer
        self.ovsdb = server_class(self.directory, schema=ZOO_SCHEMA)


_zoo = {"owner": None, "stack": None}


def zoo_stack(owner, fake):
    """The zoo stack shared by the tests of class ``owner`` (any other stack is stopped first)."""
    stack = _zoo["stack"]
    if stack is not None and (_zoo["owner"] is not owner or not stack.healthy):
        stop_zoo_stack()
        stack = None
    if stack is None:
        realstack.stop_shared_stack()   # one stack at a time: the machine is shared
        stack = ZooStack(fake).start()
        _zoo["owner"], _zoo["stack"] = owner, stack
    return stack


def stop_zoo_stack(owner=None):
    """Stop the zoo stack (only if it belongs to ``owner``, when given)."""
    stack = _zoo["stack"]
    if stack is not None and (owner is None or _zoo["owner"] is owner):
        _zoo["owner"], _zoo["stack"] = None, None
        stack.stop()


atexit.register(stop_zoo_stack)


class _GenericVerbs(_RawOvsdb):
    """The generic methods and the object tree on the zoo database.  Each test starts from an
    empty database that the service agrees is empty."""

    fake = False

    @classmethod
    def tearDownClass(cls):
        stop_zoo_stack(cls)

    @defer.inlineCallbacks
    def setUp(self):
        self.stack = zoo_stack(type(self), self.fake)
        self.addCleanup(self.assert_service_alive, self.stack.log_position())
        self.client = yield realstack.connect(self, self.stack.bus_address)
        self.ovsdb = yield connect_ovsdb(self, self.stack.ovsdb.socket_path)
        # Emptied first: whatever an earlier test left cannot keep the service from syncing.
        yield self.raw(*[{"op": "delete", "table": t, "where": []} for t in ROOT_TABLES])
        yield poll_until(lambda: get_property(self.client, "Connected"), what="the service to connect to OVSDB")
        yield poll_until(self.no_row_objects, what="the service to see the empty database")

    def assert_service_alive(self, log_position=0):
        """The service still runs and logged no traceback during the test."""
        if not self.stack.service.running:
            self.fail("the service exited:\n" + self.stack.service_log())
        found = self.stack.tracebacks_since(log_position)
        if found:
            self.fail("the service logged an error:\n" + found)

    # -- helpers -----------------------------------------------------------------------

    def db(self, method, *args):
        """Call ``method`` of org.openvswitch.ovsdb.Database with the contract's signature."""
        return call(self.client, method, SIGNATURES[method], *args, interface=DATABASE)

    @defer.inlineCallbacks
    def db_error(self, method, *args):
        """``(error name, message)`` of a call that must fail."""
        try:
            result = yield self.db(method, *args)
        except RemoteError as e:
            return e.errName, e.message
        self.fail("%s%r succeeded (%r) but should have failed" % (method, args, result))

    @defer.inlineCallbacks
    def assert_refused(self, expected_error, method, *args, text=()):
        """``method`` fails with ``expected_error`` (a name or a tuple of names), its message
        contains every string of ``text``, and the database is unchanged.  Returns the message."""
        before = yield self.snapshot()
        name, message = yield self.db_error(method, *args)
        expected = expected_error if isinstance(expected_error, tuple) else (expected_error,)
        self.assertIn(name, expected, message)
        for word in text:
            self.assertIn(word, message)
        self.assertEqual((yield self.snapshot()), before, "%s changed the database" % method)
        return message

    @defer.inlineCallbacks
    def managed_objects(self):
        """GetManagedObjects of the root: ``{path: {interface: properties}}``."""
        objects = yield call(self.client, "GetManagedObjects", interface=OBJECT_MANAGER)
        return objects

    @defer.inlineCallbacks
    def no_row_objects(self):
        """True when no object shows a row of any table."""
        objects = yield self.managed_objects()
        return not [p for p, interfaces in objects.items() if any(i.startswith(TABLE_INTERFACE) for i in interfaces)]

    @defer.inlineCallbacks
    def seen(self, table, record, column=None, value=None):
        """Wait until Get of ``record`` works (and shows ``value`` in ``column``); return the row."""
        def check():
            d = self.db("Get", table, record, [column] if column else [])
            return d.addCallback(lambda row: row if column is None or row.get(column) == value else None)
        row = yield poll_until(check, what="%s %s in the service's replica" % (table, record))
        return row

    @defer.inlineCallbacks
    def seed(self):
        """Three enclosures, an animal and a keeper, written with raw OVSDB; wait for the service."""
        yield self.raw(
            {"op": "insert", "table": "Animal", "uuid-name": "leo",
             "row": {"name": "leo", "age": 4, "diet": "carnivore", "weight": 190.5, "vaccinated": True,
                     "tags": ["map", [[1, "lion"], [2, "male"]]]}},
            {"op": "insert", "table": "Enclosure", "uuid-name": "a",
             "row": {"name": "a", "capacity": 5, "climate": "arid", "feeding_hours": 8,
                     "labels": ["map", [["zone", "north"]]], "animals": ["named-uuid", "leo"]}},
            {"op": "insert", "table": "Enclosure",
             "row": {"name": "b", "capacity": 20, "feeding_hours": ["set", [8, 12]],
                     "labels": ["map", [["zone", "south"], ["shade", "yes"]]]}},
            {"op": "insert", "table": "Enclosure", "row": {"name": "c", "capacity": 30, "climate": "polar"}},
            {"op": "insert", "table": "Keeper",
             "row": {"badge": 7, "assigned": ["named-uuid", "a"], "favourites": ["named-uuid", "leo"]}})
        yield self.seen("Enclosure", "c")
        yield self.seen("Animal", "leo")

    @defer.inlineCallbacks
    def uuid_of(self, table, where):
        """The uuid of the one row of ``table`` matching the OVSDB ``where``."""
        rows = yield self.select(table, where)
        self.assertEqual(len(rows), 1, rows)
        return rows[0]["_uuid"][1]

    @defer.inlineCallbacks
    def path_of(self, table, record):
        """The object path of a row, as List reports it."""
        uuid = record if is_uuid(record) else None
        rows = yield self.db("List", table, ["name"] if table not in ("Keeper", "Park") else [])
        for row in rows:
            if row["_uuid"] == uuid or row.get("name") == record:
                return row["_path"]
        self.fail("no %s %s in %r" % (table, record, rows))

    # -- reading ------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_get_schema(self):
        """GetSchema gives the zoo database's schema as JSON text."""
        text = yield self.db("GetSchema")
        schema = json.loads(text)
        self.assertEqual(schema["name"], ZOO)
        self.assertEqual(sorted(schema["tables"]), sorted(ALL_TABLES))
        self.assertEqual(sorted(schema["tables"]["Enclosure"]["columns"]),
                         ["animals", "capacity", "climate", "code", "feeding_hours", "labels", "name"])

    @defer.inlineCallbacks
    def test_get_gives_every_column_typed(self):
        """Get with no columns gives every column, typed by the schema: integers, reals, booleans,
        optional values as arrays of 0 or 1 element, sets as sorted arrays, maps as dicts
        (integer keys included), references as object paths."""
        yield self.seed()
        enclosure = yield self.db("Get", "Enclosure", "a", [])
        animal_path = yield self.path_of("Animal", "leo")
        self.assertEqual(columns_of(enclosure), {
            "name": "a", "animals": [animal_path], "capacity": 5, "climate": ["arid"], "code": [],
            "feeding_hours": [8], "labels": {"zone": "north"}})
        b = yield self.db("Get", "Enclosure", "b", [])
        self.assertEqual((b["climate"], b["feeding_hours"], b["labels"]),
                         ([], [8, 12], {"zone": "south", "shade": "yes"}))
        animal = yield self.db("Get", "Animal", "leo", [])
        self.assertEqual(columns_of(animal), {"name": "leo", "age": 4, "diet": ["carnivore"], "weight": [190.5],
                                              "vaccinated": True, "tags": {1: "lion", 2: "male"}})
        self.assertTrue(animal_path.startswith(OBJECT_PATH + "/"), animal_path)

    @defer.inlineCallbacks
    def test_get_columns_and_map_keys(self):
        """Get reads just the columns asked for, and ``column:key`` reads one key of a map (an
        integer key too); a key that is not there is NotFound, a column that is not there InvalidArgs."""
        yield self.seed()
        row = yield self.db("Get", "Enclosure", "b", ["capacity", "labels:shade"])
        self.assertEqual(columns_of(row), {"capacity": 20, "labels:shade": "yes"})
        row = yield self.db("Get", "Animal", "leo", ["tags:2"])
        self.assertEqual(columns_of(row), {"tags:2": "male"})
        yield self.assert_refused(NOT_FOUND, "Get", "Enclosure", "a", ["labels:shade"])
        yield self.assert_refused(INVALID_ARGS, "Get", "Enclosure", "a", ["colour"], text=["colour"])
        yield self.assert_refused(INVALID_ARGS, "Get", "Animal", "leo", ["tags:one"])
        yield self.assert_refused(INVALID_ARGS, "Get", "Aquarium", "a", [])

    @defer.inlineCallbacks
    def test_record_names(self):
        """Rows are named by a unique name, by uuid, by object path, and the Park's only row by
        ``.``; a table without a name column by uuid or path only; a name two rows share is
        Ambiguous and a name no row has NotFound."""
        yield self.seed()
        yield self.raw({"op": "insert", "table": "Park", "row": {"motto": "wild", "visitors": 3}})
        park = yield self.seen("Park", ".")
        self.assertEqual((park["motto"], park["visitors"]), ("wild", 3))
        keeper_uuid = yield self.uuid_of("Keeper", [["badge", "==", 7]])
        keeper_path = yield self.path_of("Keeper", keeper_uuid)
        for record in (keeper_uuid, keeper_uuid.upper(), keeper_path):
            row = yield self.db("Get", "Keeper", record, ["badge"])
            self.assertEqual(columns_of(row), {"badge": 7}, record)
        a_uuid = yield self.uuid_of("Enclosure", [["name", "==", "a"]])
        for record in ("a", a_uuid, (yield self.path_of("Enclosure", "a"))):
            row = yield self.db("Get", "Enclosure", record, ["capacity"])
            self.assertEqual(columns_of(row), {"capacity": 5}, record)
        yield self.assert_refused(NOT_FOUND, "Get", "Enclosure", "nowhere", [], text=["nowhere"])
        yield self.assert_refused(NOT_FOUND, "Get", "Keeper", "7", [])
        a = ["uuid", a_uuid]
        yield self.raw({"op": "insert", "table": "Ticket", "row": {"name": "day", "price": 10.0, "enclosure": a}},
                       {"op": "insert", "table": "Ticket", "row": {"name": "day", "price": 12.5, "enclosure": a}},
                       {"op": "insert", "table": "Ticket", "row": {"name": "night", "price": 20.0, "enclosure": a}})
        yield self.seen("Ticket", "night")
        yield self.assert_refused(AMBIGUOUS, "Get", "Ticket", "day", [], text=["day"])

    @defer.inlineCallbacks
    def test_list(self):
        """List gives every row with its ``_uuid`` and the ``_path`` of its object."""
        yield self.seed()
        rows = yield self.db("List", "Enclosure", ["name", "capacity"])
        self.assertEqual(sorted((r["name"], r["capacity"]) for r in rows), [("a", 5), ("b", 20), ("c", 30)])
        raw = yield self.select("Enclosure")
        self.assertEqual(sorted(r["_uuid"] for r in rows), sorted(r["_uuid"][1] for r in raw))
        objects = yield self.managed_objects()
        for row in rows:
            self.assertIn(TABLE_INTERFACE + "Enclosure", objects[row["_path"]])
        self.assertEqual(len({r["_path"] for r in rows}), 3)
        self.assertEqual((yield self.db("List", "Ticket", [])), [])

    @defer.inlineCallbacks
    def test_find_operators(self):
        """Find matches ovs-vsctl find's operators on scalars, optional values, sets and map keys,
        all conditions together."""
        yield self.seed()
        x, ax, s_, as_ = (lambda v: typed("x", v)), (lambda v: typed("ax", v)), (lambda v: typed("s", v)), \
            (lambda v: typed("as", v))
        cases = [
            ([("capacity", ">", x(10))], ["b", "c"]),
            ([("capacity", "<=", x(20))], ["a", "b"]),
            ([("capacity", "!=", x(20))], ["a", "c"]),
            ([("capacity", ">=", x(5)), ("capacity", "<", x(30))], ["a", "b"]),
            ([("name", "=", s_("b"))], ["b"]),
            ([("climate", "=", as_(["arid"]))], ["a"]),
            ([("climate", "=", as_([]))], ["b"]),
            ([("feeding_hours", "=", ax([8, 12]))], ["b"]),
            ([("feeding_hours", "{=}", ax([8]))], ["a"]),
            ([("feeding_hours", "{!=}", ax([8]))], ["b", "c"]),
            ([("feeding_hours", "{>=}", ax([8]))], ["a", "b"]),
            ([("feeding_hours", "{>}", ax([8]))], ["b"]),
            ([("feeding_hours", "{<=}", ax([8]))], ["a", "c"]),
            ([("feeding_hours", "{<}", ax([8, 12]))], ["a", "c"]),
            ([("labels:zone", "=", s_("north"))], ["a"]),
            ([("labels:zone", "!=", s_("north"))], ["b"]),   # as ovs-vsctl: no key, no match
            ([("labels", "{>=}", typed("a{ss}", {"shade": "yes"}))], ["b"]),
            ([], ["a", "b", "c"]),
        ]
        for conditions, expected in cases:
            rows = yield self.db("Find", "Enclosure", conditions, ["name"])
            self.assertEqual(sorted(r["name"] for r in rows), expected, conditions)
        rows = yield self.db("Find", "Animal", [("tags:1", "=", s_("lion"))], ["name", "age"])
        self.assertEqual([columns_of(r) for r in rows], [{"name": "leo", "age": 4}])
        yield self.assert_refused(INVALID_ARGS, "Find", "Enclosure", [("capacity", "~", x(1))], [])
        yield self.assert_refused(INVALID_ARGS, "Find", "Enclosure", [("capacity", ">", s_("ten"))], [],
                                  text=["Enclosure.capacity"])

    # -- writing ------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_set(self):
        """Set replaces columns and ``column:key`` sets one key, leaving the others (including
        one another writer added) as they are."""
        yield self.seed()
        yield self.raw({"op": "mutate", "table": "Enclosure", "where": [["name", "==", "a"]],
                        "mutations": [["labels", "insert", ["map", [["vet", "friday"]]]]]})
        yield self.db("Set", "Enclosure", "a", {"capacity": typed("x", 7), "climate": typed("as", ["tropical"]),
                                                "labels:feed": typed("s", "hay"), "code": typed("as", ["A-01"])})
        [row] = yield self.select("Enclosure", [["name", "==", "a"]])
        self.assertEqual((row["capacity"], row["climate"], row["code"]), (7, "tropical", "A-01"))
        self.assertEqual(canonical(row["labels"]),
                         canonical(["map", [["zone", "north"], ["vet", "friday"], ["feed", "hay"]]]))
        yield self.db("Set", "Animal", "leo", {"weight": typed("ad", []), "tags:3": typed("s", "old"),
                                               "vaccinated": typed("b", False)})
        [leo] = yield self.select("Animal")
        self.assertEqual((leo["weight"], leo["vaccinated"]), (["set", []], False))
        self.assertEqual(canonical(leo["tags"]), canonical(["map", [[1, "lion"], [2, "male"], [3, "old"]]]))
        row = yield self.seen("Enclosure", "a", "capacity", 7)
        self.assertEqual(row["capacity"], 7)

    @defer.inlineCallbacks
    def test_any_integer_type_is_accepted(self):
        """An integer column takes every D-Bus integer type; what is out of the column's range, or
        of 64 bits, is InvalidArgs."""
        yield self.seed()
        for signature, value in (("y", 1), ("n", 2), ("q", 3), ("i", 4), ("u", 5), ("x", 6), ("t", 7)):
            yield self.db("Set", "Enclosure", "c", {"capacity": typed(signature, value)})
            [row] = yield self.select("Enclosure", [["name", "==", "c"]])
            self.assertEqual(row["capacity"], value, signature)
        yield self.assert_refused(INVALID_ARGS, "Set", "Enclosure", "c", {"capacity": typed("t", 2 ** 64 - 1)},
                                  text=["Enclosure.capacity"])

    @defer.inlineCallbacks
    def test_invalid_values_are_refused_before_anything_is_sent(self):
        """A value of the wrong type, outside an enum, or out of the column's bounds is InvalidArgs
        naming table, column and expected signature, and nothing changes."""
        yield self.seed()
        cases = [
            ("capacity", typed("x", 51), "x"),
            ("capacity", typed("x", -1), "x"),
            ("capacity", typed("s", "ten"), "x"),
            ("capacity", typed("b", True), "x"),
            ("climate", typed("as", ["humid"]), "as"),
            ("climate", typed("as", ["arid", "polar"]), "as"),
            ("code", typed("as", ["ab"]), "as"),
            ("code", typed("as", ["abcdefghi"]), "as"),
            ("feeding_hours", typed("ax", [1, 2, 3, 4, 5]), "ax"),
            ("feeding_hours", typed("ax", [24]), "ax"),
            ("labels", typed("a{sx}", {"zone": 1}), "a{ss}"),
            ("animals", typed("as", ["not-a-uuid"]), "ao"),
        ]
        for column, value, signature in cases:
            message = yield self.assert_refused(INVALID_ARGS, "Set", "Enclosure", "b", {column: value},
                                                text=["Enclosure." + column])
            self.assertIn(signature, message)
        yield self.assert_refused(INVALID_ARGS, "Set", "Enclosure", "b", {"colour": typed("s", "red")},
                                  text=["colour"])
        yield self.assert_refused(INVALID_ARGS, "Set", "Animal", "leo", {"tags:12": typed("s", "x")})
        yield self.assert_refused(INVALID_ARGS, "Set", "Animal", "leo", {"weight": typed("ad", [-1.0])},
                                  text=["Animal.weight"])

    @defer.inlineCallbacks
    def test_add_and_remove(self):
        """Add inserts into sets and maps (a key already there keeps its value); Remove deletes
        from a set, and from a map by keys or by key-value pairs (a pair whose value differs stays)."""
        yield self.seed()
        yield self.db("Add", "Enclosure", "b", "feeding_hours", typed("ax", [6, 12]))
        yield self.db("Remove", "Enclosure", "b", "feeding_hours", typed("ax", [8]))
        yield self.db("Add", "Enclosure", "b", "labels", typed("a{ss}", {"zone": "east", "food": "hay"}))
        [row] = yield self.select("Enclosure", [["name", "==", "b"]])
        self.assertEqual(canonical(row["feeding_hours"]), canonical(["set", [6, 12]]))
        self.assertEqual(canonical(row["labels"]),
                         canonical(["map", [["zone", "south"], ["shade", "yes"], ["food", "hay"]]]))
        yield self.db("Remove", "Enclosure", "b", "labels", typed("as", ["shade"]))
        yield self.db("Remove", "Enclosure", "b", "labels", typed("a{ss}", {"zone": "north", "food": "hay"}))
        [row] = yield self.select("Enclosure", [["name", "==", "b"]])
        self.assertEqual(canonical(row["labels"]), canonical(["map", [["zone", "south"]]]))
        yield self.db("Add", "Animal", "leo", "tags", typed("a{xs}", {5: "fed"}))
        [leo] = yield self.select("Animal")
        self.assertEqual(canonical(leo["tags"]), canonical(["map", [[1, "lion"], [2, "male"], [5, "fed"]]]))
        # Each value is valid; the set they would make is too large: what ovsdb-server would say.
        yield self.assert_refused((CONSTRAINT_VIOLATION, INVALID_ARGS), "Add", "Enclosure", "b", "feeding_hours",
                                  typed("ax", [1, 2, 3]), text=["Enclosure.feeding_hours"])
        yield self.assert_refused(INVALID_ARGS, "Add", "Enclosure", "b", "capacity", typed("ax", [1]))

    @defer.inlineCallbacks
    def test_clear(self):
        """Clear empties sets, maps and optional values; a column that must hold a value cannot be cleared."""
        yield self.seed()
        yield self.db("Clear", "Enclosure", "a", ["feeding_hours", "labels", "climate"])
        [row] = yield self.select("Enclosure", [["name", "==", "a"]])
        self.assertEqual((row["feeding_hours"], row["labels"], row["climate"]), (["set", []], ["map", []], ["set", []]))
        yield self.assert_refused(INVALID_ARGS, "Clear", "Enclosure", "a", ["capacity"], text=["capacity"])

    @defer.inlineCallbacks
    def test_create(self):
        """Create inserts a row of a root table and answers its uuid; a duplicate unique name is
        refused; a row of a non-root table outside Transact is refused (nothing would keep it)."""
        uuid = yield self.db("Create", "Enclosure", {"name": typed("s", "new"), "capacity": typed("x", 9),
                                                      "labels": typed("a{ss}", {"k": "v"})})
        self.assertTrue(is_uuid(uuid), uuid)
        [row] = yield self.select("Enclosure")
        self.assertEqual((row["_uuid"][1], row["name"], row["capacity"], row["labels"]),
                         (uuid, "new", 9, ["map", [["k", "v"]]]))
        yield self.assert_refused((ALREADY_EXISTS, CONSTRAINT_VIOLATION), "Create", "Enclosure",
                                  {"name": typed("s", "new")})
        yield self.assert_refused((INVALID_ARGS, NOT_SUPPORTED), "Create", "Animal", {"name": typed("s", "stray")},
                                  text=["Animal"])
        keeper = yield self.db("Create", "Keeper", {"badge": typed("x", 3), "assigned": typed("ao", [])})
        self.assertEqual([r["_uuid"][1] for r in (yield self.select("Keeper"))], [keeper])

    @defer.inlineCallbacks
    def test_destroy(self):
        """Destroy deletes rows: what only they held goes (the animal), weak references to that
        go, strong references that can be dropped are dropped (the keeper's assignment), and one
        that cannot (a ticket's enclosure) is ReferentialIntegrity naming the referrer."""
        yield self.seed()
        a_uuid = yield self.uuid_of("Enclosure", [["name", "==", "a"]])
        yield self.raw({"op": "insert", "table": "Ticket",
                        "row": {"name": "day", "price": 1.0, "enclosure": ["uuid", a_uuid]}})
        yield self.seen("Ticket", "day")
        yield self.assert_refused(REFERENTIAL_INTEGRITY, "Destroy", "Enclosure", ["a"], text=["Ticket"])
        yield self.db("Destroy", "Ticket", ["day"])
        yield self.seen("Enclosure", "a")
        yield self.db("Destroy", "Enclosure", ["a", "c"])
        self.assertEqual([r["name"] for r in (yield self.select("Enclosure"))], ["b"])
        self.assertEqual((yield self.select("Animal")), [])
        [keeper] = yield self.select("Keeper")
        self.assertEqual(keeper["assigned"], ["set", []])
        # The weak reference to the animal may stay in the database, dangling (ovsdb-server 3.1
        # leaves it when the same transaction changed the keeper); the service shows no animal.
        row = yield self.db("Get", "Keeper", keeper["_uuid"][1], ["assigned", "favourites"])
        self.assertEqual(columns_of(row), {"assigned": [], "favourites": []})
        yield self.assert_refused(NOT_FOUND, "Destroy", "Enclosure", ["a"])

    @defer.inlineCallbacks
    def test_wait_until(self):
        """WaitUntil returns once the replica shows the conditions true, and answers Timeout when
        they do not come true in time; meanwhile the service answers other calls."""
        yield self.seed()
        waiting = self.db("WaitUntil", "Enclosure", "c", [("capacity", "=", typed("x", 44))], 10.0)
        done = []
        waiting.addBoth(done.append)
        row = yield self.db("Get", "Enclosure", "c", ["capacity"])
        self.assertEqual((row["capacity"], done), (30, []))
        yield self.raw({"op": "update", "table": "Enclosure", "where": [["name", "==", "c"]], "row": {"capacity": 44}})
        yield poll_until(lambda: done, what="WaitUntil to return")
        self.assertEqual(done, [None])
        name, _ = yield self.db_error("WaitUntil", "Enclosure", "c", [("capacity", "=", typed("x", 45))], 0.2)
        self.assertEqual(name, TIMEOUT)
        yield self.db("WaitUntil", "Enclosure", "c", [("climate", "=", typed("as", ["polar"]))], 1.0)

    # -- Transact -----------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_transact_named_references(self):
        """Transact creates an animal, puts it in an enclosure and makes it a keeper's favourite
        through ``@name`` references, in one transaction; each command has its result."""
        yield self.seed()
        results = yield self.db("Transact", [
            ("Create", {"table": typed("s", "Animal"), "id": typed("s", "@kia"),
                        "values": typed("a{sv}", {"name": typed("s", "kia"), "age": typed("x", 2)})}),
            ("Add", {"table": typed("s", "Enclosure"), "record": typed("s", "c"), "column": typed("s", "animals"),
                     "values": typed("as", ["@kia"])}),
            ("Create", {"table": typed("s", "Keeper"),
                        "values": typed("a{sv}", {"badge": typed("x", 8), "favourites": typed("as", ["@kia"])})}),
            ("Get", {"table": typed("s", "Enclosure"), "record": typed("s", "c"),
                     "columns": typed("as", ["capacity"])}),
        ], {})
        self.assertEqual(len(results), 4)
        kia = yield self.uuid_of("Animal", [["name", "==", "kia"]])
        keeper = yield self.uuid_of("Keeper", [["badge", "==", 8]])
        self.assertEqual((results[0]["uuid"], results[2]["uuid"]), (kia, keeper))
        self.assertEqual(results[3]["rows"][0]["capacity"], 30)
        [c] = yield self.select("Enclosure", [["name", "==", "c"]])
        self.assertEqual(c["animals"], ["uuid", kia])
        [k] = yield self.select("Keeper", [["badge", "==", 8]])
        self.assertEqual(k["favourites"], ["uuid", kia])
        row = yield self.seen("Enclosure", "c")
        self.assertEqual(row["animals"], [results[0]["path"]])

    @defer.inlineCallbacks
    def test_transact_later_commands_see_earlier_ones(self):
        """A command sees the rows earlier commands of the batch created; creating the same name
        twice in one batch is refused, and nothing of the batch is done."""
        results = yield self.db("Transact", [
            ("Create", {"table": typed("s", "Enclosure"), "values": typed("a{sv}", {"name": typed("s", "z")})}),
            ("Set", {"table": typed("s", "Enclosure"), "record": typed("s", "z"),
                     "values": typed("a{sv}", {"capacity": typed("x", 3)})}),
        ], {})
        [z] = yield self.select("Enclosure")
        self.assertEqual((z["name"], z["capacity"], results[0]["uuid"]), ("z", 3, z["_uuid"][1]))
        create_y = ("Create", {"table": typed("s", "Enclosure"), "values": typed("a{sv}", {"name": typed("s", "y")})})
        yield self.assert_refused((ALREADY_EXISTS, CONSTRAINT_VIOLATION), "Transact", [create_y, create_y], {},
                                  text=["command 2 (Create Enclosure"])

    @defer.inlineCallbacks
    def test_transact_failure_in_the_last_command_changes_nothing(self):
        """When command N of N fails, the first N-1 are not done either, and the error names
        command N; an error found by ovsdb-server itself counts the same way."""
        yield self.seed()
        commands = [
            ("Set", {"table": typed("s", "Enclosure"), "record": typed("s", "a"),
                     "values": typed("a{sv}", {"capacity": typed("x", 1)})}),
            ("Destroy", {"table": typed("s", "Enclosure"), "records": typed("as", ["c"])}),
            ("Set", {"table": typed("s", "Enclosure"), "record": typed("s", "b"),
                     "values": typed("a{sv}", {"capacity": typed("x", 99)})}),
        ]
        message = yield self.assert_refused(INVALID_ARGS, "Transact", commands, {}, text=["Enclosure.capacity"])
        self.assertTrue(message.startswith("command 3 (Set Enclosure b)"), message)
        commands[2] = ("Create", {"table": typed("s", "Keeper"),
                                  "values": typed("a{sv}", {"on_duty": typed("b", True)})})
        message = yield self.assert_refused((CONSTRAINT_VIOLATION, INVALID_ARGS), "Transact", commands, {})
        self.assertTrue(message.startswith("command 3 (Create Keeper)"), message)

    @defer.inlineCallbacks
    def test_transact_unknown_and_unused_references(self):
        """A reference to a name no earlier command created, and a created non-root row nothing
        refers to, are InvalidArgs."""
        yield self.seed()
        yield self.assert_refused(INVALID_ARGS, "Transact", [
            ("Add", {"table": typed("s", "Enclosure"), "record": typed("s", "a"), "column": typed("s", "animals"),
                     "values": typed("as", ["@ghost"])})], {}, text=["@ghost"])
        yield self.assert_refused(INVALID_ARGS, "Transact", [
            ("Create", {"table": typed("s", "Animal"), "id": typed("s", "@lost"),
                        "values": typed("a{sv}", {"name": typed("s", "lost")})})], {}, text=["@lost"])

    @defer.inlineCallbacks
    def test_transact_dry_run(self):
        """``dry_run`` checks everything with ovsdb-server and changes nothing; a batch that would
        fail reports the error a real run gives."""
        yield self.seed()
        create = ("Create", {"table": typed("s", "Enclosure"), "values": typed("a{sv}", {"name": typed("s", "d")})})
        before = yield self.snapshot()
        results = yield self.db("Transact", [create], {"dry_run": typed("b", True), "comment": typed("s", "try")})
        self.assertEqual(len(results), 1)
        self.assertEqual((yield self.snapshot()), before)
        bad = ("Create", {"table": typed("s", "Keeper"), "values": typed("a{sv}", {"on_duty": typed("b", True)})})
        dry = yield self.assert_refused((CONSTRAINT_VIOLATION, INVALID_ARGS), "Transact", [create, bad],
                                        {"dry_run": typed("b", True)})
        real = yield self.assert_refused((CONSTRAINT_VIOLATION, INVALID_ARGS), "Transact", [create, bad], {})
        self.assertEqual(dry, real)

    # -- objects --------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_object_tree(self):
        """Every row is an object with its table's interface: InterfacesAdded from the root when a
        row appears, PropertiesChanged when a column changes, InterfacesRemoved when it goes;
        references are object paths."""
        heard = []
        yield self.client.addMatch(lambda m: heard.append((m.member, m.path, m.body)), mtype="signal",
                                   path_namespace=OBJECT_PATH)
        yield self.seed()
        objects = yield self.managed_objects()
        enclosure = TABLE_INTERFACE + "Enclosure"
        paths = {props["name"]: path for path, interfaces in objects.items()
                 for iface, props in interfaces.items() if iface == enclosure}
        self.assertEqual(sorted(paths), ["a", "b", "c"])
        animal_path = yield self.path_of("Animal", "leo")
        leo = objects[animal_path][TABLE_INTERFACE + "Animal"]
        self.assertEqual((leo["age"], leo["diet"], leo["tags"]), (4, ["carnivore"], {1: "lion", 2: "male"}))
        keeper = [i[TABLE_INTERFACE + "Keeper"] for i in objects.values() if TABLE_INTERFACE + "Keeper" in i]
        self.assertEqual(len(keeper), 1)
        added = yield poll_until(lambda: [b for m, p, b in heard if m == "InterfacesAdded" and b[0] == paths["c"]],
                                 what="InterfacesAdded for enclosure c")
        self.assertEqual(added[0][1][enclosure]["capacity"], 30)
        self.assertTrue(all(p == OBJECT_PATH for m, p, b in heard if m.startswith("Interfaces")))
        props = yield call(self.client, "GetAll", "s", enclosure, interface=PROPERTIES, path=paths["a"])
        self.assertEqual((props["capacity"], props["climate"]), (5, ["arid"]))

        yield self.db("Set", "Enclosure", "c", {"capacity": typed("x", 31)})
        changed = yield poll_until(
            lambda: [b for m, p, b in heard if m == "PropertiesChanged" and p == paths["c"]
                     and "capacity" in b[1]], what="PropertiesChanged of enclosure c")
        self.assertEqual((changed[0][0], changed[0][1]["capacity"]), (enclosure, 31))
        yield self.db("Destroy", "Enclosure", ["a"])
        removed = yield poll_until(lambda: [b for m, p, b in heard if m == "InterfacesRemoved"],
                                   what="InterfacesRemoved")
        self.assertEqual(sorted(b[0] for b in removed), sorted([paths["a"], animal_path]))

    @defer.inlineCallbacks
    def test_open_vswitch_verbs_are_not_supported(self):
        """On another database the Open_vSwitch verbs answer NotSupported, naming the database."""
        name, message = yield self.db_error_root("ListBridges", "")
        self.assertEqual(name, NOT_SUPPORTED)
        self.assertIn(ZOO, message)
        name, _ = yield self.db_error_root("CreateBridge", "s", "br0")
        self.assertEqual(name, NOT_SUPPORTED)

    @defer.inlineCallbacks
    def db_error_root(self, method, signature, *args):
        """``(error name, message)`` of a call of the root interface that must fail."""
        try:
            result = yield call(self.client, method, signature, *args)
        except RemoteError as e:
            return e.errName, e.message
        self.fail("%s succeeded (%r) but should have failed" % (method, result))

    @defer.inlineCallbacks
    def test_busctl(self):
        """The generic methods work from busctl, with its own spelling of variants."""
        yield self.seed()
        code, out, err = yield realstack.busctl(
            self.stack.bus_address, "call", realstack.BUS_NAME, OBJECT_PATH, DATABASE, "Set", "ssa{sv}",
            "Enclosure", "b", "2", "capacity", "x", "12", "climate", "as", "1", "polar")
        self.assertEqual(code, 0, err)
        code, out, err = yield realstack.busctl(
            self.stack.bus_address, "call", realstack.BUS_NAME, OBJECT_PATH, DATABASE, "Get", "ssas",
            "Enclosure", "b", "2", "capacity", "climate")
        self.assertEqual(code, 0, err)
        self.assertIn('"capacity" x 12', out)
        self.assertIn('"climate" as 1 "polar"', out)


class GenericVerbsOnOvsdbServer(_GenericVerbs, TestCase):
    """The service on the zoo database of a real ovsdb-server."""


class GenericVerbsOnFakeOvsdb(_GenericVerbs, TestCase):
    """The service on the zoo database of the fake OVSDB."""

    fake = True
